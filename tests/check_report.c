/* check_report.c: exact report lines, JSON lines, statistics, progress. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

/* Formats r into a static buffer through a memory stream. */
static const char *
line(const struct engine_report *r, bool nano)
{
	static char buf[1024];
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	ck_assert_ptr_nonnull(fp);
	report_line(fp, r, nano);
	fclose(fp);
	return buf;
}

static const uint8_t v4a[16] = { 10, 0, 0, 1 };
static const uint8_t v4b[16] = { 192, 168, 1, 20 };
static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0xfe, 0x80, [14] = 0xab, [15] = 0xcd };

/* 2004-10-20T23:09:55.123456789Z */
#define TS 1098313795123456789ULL

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_tcp_match_line)
{
	struct match_hit hit = { .pattern = 0, .dir = 0, .offset = 17,
	    .len = 5, .excerpt = "GET /", .excerpt_len = 5 };
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 6,
	    .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .client_port = 34567, .server_port = 80, .matched = true,
	    .hit = &hit, .pattern = "GET /" };

	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z tcp "
	    "10.0.0.1:34567 -> 192.168.1.20:80 client /GET \\// @17 \"GET /\"\n");
	ck_assert_str_eq(line(&r, true), "2004-10-20T23:09:55.123456789Z tcp "
	    "10.0.0.1:34567 -> 192.168.1.20:80 client /GET \\// @17 \"GET /\"\n");
}
END_TEST

START_TEST(test_ipv6_vlan_server_escapes)
{
	struct match_hit hit = { .pattern = 1, .dir = 1, .offset = 0,
	    .len = 6, .excerpt = "a\"b\\\n\x01", .excerpt_len = 6 };
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 6,
	    .ipver = 6, .client_addr = v6a, .server_addr = v6b,
	    .client_port = 5555, .server_port = 443, .vlan = { 10, 20 },
	    .vlan_count = 2, .matched = true, .hit = &hit,
	    .pattern = "a\"b\\\\\\n/\x01" };

	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z tcp "
	    "vlan 10,20 [2001:db8::1]:5555 -> [fe80::abcd]:443 server "
	    "/a\"b\\\\\\n\\/\\x01/ @0 \"a\\\"b\\\\\\n\\x01\"\n");
}
END_TEST

START_TEST(test_no_match_and_other_protocols)
{
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 1,
	    .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .vlan = { 42 }, .vlan_count = 1 };
	struct engine_report pkt = { .ts_ns = TS };
	struct engine_report bad = { .ts_ns = TS, .proto = 6, .ipver = 4,
	    .client_addr = v4a, .server_addr = v4b };

	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z icmp "
	    "vlan 42 10.0.0.1 -> 192.168.1.20 no-match\n");
	r.context = true;
	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z icmp "
	    "vlan 42 10.0.0.1 -> 192.168.1.20 no-match context\n");
	r.context = false;
	r.proto = 200;
	r.vlan_count = 0;
	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z "
	    "ip-proto-200 10.0.0.1 -> 192.168.1.20 no-match\n");
	ck_assert_str_eq(line(&pkt, false),
	    "2004-10-20T23:09:55.123456Z packet no-match\n");
	/* A damaged TCP packet alone: its addresses, no ports. */
	ck_assert_str_eq(line(&bad, false), "2004-10-20T23:09:55.123456Z "
	    "packet tcp 10.0.0.1 -> 192.168.1.20 no-match\n");
}
END_TEST

START_TEST(test_stats_lines)
{
	static char buf[4096];
	struct stats st = { .packets_read = 655, .packets_written = 120,
	    .flows_tcp = 49, .flows_matched = 3, .flows_selected = 3,
	    .tcp_gaps = 2, .overlap_conflicts = 1, .bad_transport = 7 };
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	report_stats(fp, &st, false);
	fclose(fp);
	ck_assert_str_eq(buf,
	    "flowgrep: 655 packets read, 120 written\n"
	    "flowgrep: 49 flows (49 tcp, 0 udp, 0 other), 3 matched, "
	    "3 selected\n"
	    "flowgrep: skipped: 7 bad TCP/UDP header\n"
	    "flowgrep: tcp: 2 gaps, 1 overlap conflicts\n");
}
END_TEST


/* Formats r as JSON into a static buffer through a memory stream. */
static const char *
json(const struct engine_report *r, bool nano, const char *const *logged,
    int nlogged)
{
	static char buf[4096];
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	ck_assert_ptr_nonnull(fp);
	report_json(fp, r, nano, logged, nlogged);
	fclose(fp);
	return buf;
}

/*
 * Every line is printable ASCII ending in its only newline: what the
 * escaping promises whatever the packets hold.
 */
static void
assert_one_ascii_line(const char *s)
{
	size_t i, n = strlen(s);

	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(s[n - 1], '\n');
	for (i = 0; i + 1 < n; i++)
		ck_assert_msg(s[i] >= 0x20 && s[i] < 0x7f,
		    "byte 0x%02x at %zu of %s", (uint8_t)s[i], i, s);
}

START_TEST(test_json_tcp_match)
{
	struct match_hit hit = { .pattern = 0, .dir = 0, .offset = 17,
	    .len = 5, .excerpt = "GET /", .excerpt_len = 5 };
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 6,
	    .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .client_port = 34567, .server_port = 80, .matched = true,
	    .hit = &hit, .pattern = "GET /", .packets = 12, .bytes = 3456 };

	ck_assert_str_eq(json(&r, false, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"TCP\","
	    "\"src_ip\":\"10.0.0.1\",\"src_port\":34567,"
	    "\"dest_ip\":\"192.168.1.20\",\"dest_port\":80,\"flow\":true,"
	    "\"direction\":\"to_server\",\"pattern\":\"GET /\","
	    "\"pattern_index\":0,\"offset\":17,\"length\":5,"
	    "\"excerpt\":\"GET /\",\"context\":false,\"packets\":12,"
	    "\"bytes\":3456,\"logged\":[],\"killed\":false,\"match\":true}\n");
	ck_assert_str_eq(json(&r, true, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456789Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"TCP\","
	    "\"src_ip\":\"10.0.0.1\",\"src_port\":34567,"
	    "\"dest_ip\":\"192.168.1.20\",\"dest_port\":80,\"flow\":true,"
	    "\"direction\":\"to_server\",\"pattern\":\"GET /\","
	    "\"pattern_index\":0,\"offset\":17,\"length\":5,"
	    "\"excerpt\":\"GET /\",\"context\":false,\"packets\":12,"
	    "\"bytes\":3456,\"logged\":[],\"killed\":false,\"match\":true}\n");
}
END_TEST

START_TEST(test_json_ipv6_vlan_server_logged_killed)
{
	struct match_hit hit = { .pattern = 3, .dir = 1,
	    .offset = 4294967306ULL, .len = 200, .excerpt = "HTTP/1.1 200",
	    .excerpt_len = 12 };
	struct engine_report r = { .ts_ns = 0, .is_flow = true, .proto = 6,
	    .ipver = 6, .client_addr = v6a, .server_addr = v6b,
	    .client_port = 5555, .server_port = 443, .vlan = { 10, 20 },
	    .vlan_count = 2, .matched = true, .hit = &hit,
	    .pattern = "HTTP/1\\.[01] 200", .packets = 7, .bytes = 900,
	    .killed = true };
	const char *const logged[] = {
		"logs/1098320995-2001:db8::1-5555-fe80::abcd-443-tcp",
		"logs/1098320995-fe80::abcd-443-2001:db8::1-5555-tcp",
	};

	ck_assert_str_eq(json(&r, false, logged, 2),
	    "{\"timestamp\":\"1970-01-01T00:00:00.000000Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"TCP\","
	    "\"src_ip\":\"2001:db8::1\",\"src_port\":5555,"
	    "\"dest_ip\":\"fe80::abcd\",\"dest_port\":443,"
	    "\"vlan\":[10,20],\"flow\":true,\"direction\":\"to_client\","
	    "\"pattern\":\"HTTP/1\\\\.[01] 200\",\"pattern_index\":3,"
	    "\"offset\":4294967306,\"length\":200,"
	    "\"excerpt\":\"HTTP/1.1 200\",\"context\":false,\"packets\":7,"
	    "\"bytes\":900,\"logged\":["
	    "\"logs/1098320995-2001:db8::1-5555-fe80::abcd-443-tcp\","
	    "\"logs/1098320995-fe80::abcd-443-2001:db8::1-5555-tcp\"],"
	    "\"killed\":true,\"match\":true}\n");
	/* One name; a NULL list writes none, whatever the count says. */
	ck_assert_ptr_nonnull(strstr(json(&r, false, logged, 1),
	    "\"logged\":[\"logs/1098320995-2001:db8::1-5555-fe80::abcd-443-"
	    "tcp\"],\"killed\""));
	ck_assert_ptr_nonnull(strstr(json(&r, false, NULL, 2),
	    "\"logged\":[],\"killed\""));
}
END_TEST

START_TEST(test_json_no_match_context_and_others)
{
	struct engine_report udp = { .ts_ns = TS, .is_flow = true,
	    .proto = 17, .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .client_port = 53000, .server_port = 53, .packets = 2,
	    .bytes = 180 };
	struct engine_report icmp = { .ts_ns = TS, .is_flow = true,
	    .proto = 1, .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .vlan = { 42 }, .vlan_count = 1, .packets = 4, .bytes = 392,
	    .context = true };
	struct engine_report other = { .ts_ns = TS, .is_flow = true,
	    .proto = 200, .ipver = 6, .client_addr = v6a,
	    .server_addr = v6b, .packets = 1, .bytes = 60 };
	struct engine_report icmp6 = { .ts_ns = TS, .is_flow = true,
	    .proto = 58, .ipver = 6, .client_addr = v6a,
	    .server_addr = v6b, .packets = 1, .bytes = 60, .context = true };

	/* -v: a flow that did not match, with ports. */
	ck_assert_str_eq(json(&udp, false, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"UDP\","
	    "\"src_ip\":\"10.0.0.1\",\"src_port\":53000,"
	    "\"dest_ip\":\"192.168.1.20\",\"dest_port\":53,\"flow\":true,"
	    "\"context\":false,\"packets\":2,\"bytes\":180,\"logged\":[],"
	    "\"killed\":false,\"match\":false}\n");
	/* A context flow: ICMP, so no ports; one VLAN. */
	ck_assert_str_eq(json(&icmp, false, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"ICMP\","
	    "\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"192.168.1.20\","
	    "\"vlan\":[42],\"flow\":true,\"context\":true,\"packets\":4,"
	    "\"bytes\":392,\"logged\":[],\"killed\":false,"
	    "\"match\":false}\n");
	/* A protocol without a name is its number, as in eve.json. */
	ck_assert_str_eq(json(&other, false, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"200\","
	    "\"src_ip\":\"2001:db8::1\",\"dest_ip\":\"fe80::abcd\","
	    "\"flow\":true,\"context\":false,\"packets\":1,\"bytes\":60,"
	    "\"logged\":[],\"killed\":false,\"match\":false}\n");
	ck_assert_ptr_nonnull(strstr(json(&icmp6, false, NULL, 0),
	    "\"proto\":\"IPv6-ICMP\",\"src_ip\":\"2001:db8::1\","
	    "\"dest_ip\":\"fe80::abcd\",\"flow\":true,\"context\":true,"));
}
END_TEST

START_TEST(test_json_single_packets)
{
	struct match_hit empty = { .pattern = 2, .dir = 0 };
	struct engine_report arp = { .ts_ns = TS, .packets = 1,
	    .vlan = { 7 }, .vlan_count = 1 };
	struct engine_report bad = { .ts_ns = TS, .proto = 6, .ipver = 4,
	    .client_addr = v4a, .server_addr = v4b, .client_port = 1,
	    .server_port = 2, .matched = true, .hit = &empty, .pattern = "",
	    .packets = 1 };

	/* Not IP: no protocol and no addresses. */
	ck_assert_str_eq(json(&arp, false, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456Z\","
	    "\"event_type\":\"flowgrep\",\"vlan\":[7],\"flow\":false,"
	    "\"context\":false,\"packets\":1,\"bytes\":0,\"logged\":[],"
	    "\"killed\":false,\"match\":false}\n");
	/*
	 * A damaged TCP packet alone, selected by a pattern matching the empty
	 * string: addresses without ports, and no direction.
	 */
	ck_assert_str_eq(json(&bad, false, NULL, 0),
	    "{\"timestamp\":\"2004-10-20T23:09:55.123456Z\","
	    "\"event_type\":\"flowgrep\",\"proto\":\"TCP\","
	    "\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"192.168.1.20\","
	    "\"flow\":false,\"pattern\":\"\",\"pattern_index\":2,"
	    "\"offset\":0,\"length\":0,\"excerpt\":\"\",\"context\":false,"
	    "\"packets\":1,\"bytes\":0,\"logged\":[],\"killed\":false,"
	    "\"match\":true}\n");
	/* matched without a hit is not a match. */
	bad.hit = NULL;
	ck_assert_ptr_nonnull(strstr(json(&bad, false, NULL, 0),
	    "\"flow\":false,\"context\":false,"));
	ck_assert_ptr_nonnull(strstr(json(&bad, false, NULL, 0),
	    "\"match\":false}\n"));
}
END_TEST

/* Hostile excerpts: bytes in, the JSON string out (Latin-1 view). */
static const struct {
	uint8_t bytes[16];
	uint32_t len;
	const char *json;
} hostile[] = {
	{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
	{ "\"\"\\\\", 4, "\"\\\"\\\"\\\\\\\\\"" },
	{ "a\0b\0", 4, "\"a\\u0000b\\u0000\"" },
	{ "\x01\x1f\b\f\n\r\t\v\x1b", 9,
	    "\"\\u0001\\u001f\\b\\f\\n\\r\\t\\u000b\\u001b\"" },
	{ "~\x7f ", 3, "\"~\\u007f \"" },
	{ "\xff", 1, "\"\\u00ff\"" },
	{ "\xc3", 1, "\"\\u00c3\"" },
	{ "\xc3" "A", 2, "\"\\u00c3A\"" },
	{ "\x80\xbf\xfe", 3, "\"\\u0080\\u00bf\\u00fe\"" },
	{ "\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"" },
	/* Valid UTF-8 too is shown byte by byte. */
	{ "caf\xc3\xa9", 5, "\"caf\\u00c3\\u00a9\"" },
	{ "</script>/'", 11, "\"</script>/'\"" },
	{ "", 0, "\"\"" },
};

/* Hostile patterns (C strings: a pattern's text ends at NUL). */
static const struct {
	const char *pattern;
	const char *json;
} hostile_pat[] = {
	{ "\\x00\"\\\\", "\"\\\\x00\\\"\\\\\\\\\"" },
	{ "\x01\xff\xc3", "\"\\u0001\\u00ff\\u00c3\"" },
	{ "a\nb\x7f", "\"a\\nb\\u007f\"" },
	{ "caf\xc3\xa9|/x/", "\"caf\\u00c3\\u00a9|/x/\"" },
};

static struct engine_report
hostile_report(struct match_hit *hit, const uint8_t *bytes, uint32_t len,
    const char *pattern)
{
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 6,
	    .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .client_port = 1024, .server_port = 25, .matched = true,
	    .hit = hit, .pattern = pattern, .packets = 3, .bytes = 99 };

	memset(hit, 0, sizeof(*hit));
	hit->len = len;
	hit->excerpt_len = len;
	memcpy(hit->excerpt, bytes, len);
	return r;
}

START_TEST(test_json_hostile_excerpts)
{
	char want[256];
	struct match_hit hit;
	struct engine_report r = hostile_report(&hit, hostile[_i].bytes,
	    hostile[_i].len, "x");
	const char *s = json(&r, false, NULL, 0);

	assert_one_ascii_line(s);
	snprintf(want, sizeof(want), ",\"excerpt\":%s,\"context\":false,",
	    hostile[_i].json);
	ck_assert_msg(strstr(s, want) != NULL, "case %d: want %s in %s", _i,
	    want, s);
}
END_TEST

START_TEST(test_json_hostile_patterns)
{
	char want[256];
	struct match_hit hit;
	struct engine_report r = hostile_report(&hit, (const uint8_t *)"x", 1,
	    hostile_pat[_i].pattern);
	const char *s = json(&r, false, NULL, 0);

	assert_one_ascii_line(s);
	snprintf(want, sizeof(want), ",\"pattern\":%s,\"pattern_index\":0,",
	    hostile_pat[_i].json);
	ck_assert_msg(strstr(s, want) != NULL, "case %d: want %s in %s", _i,
	    want, s);
}
END_TEST

START_TEST(test_json_excerpt_cap)
{
	struct match_hit hit;
	uint8_t all[MATCH_EXCERPT_MAX];
	struct engine_report r;
	const char *s;

	memset(all, 'z', sizeof(all));
	r = hostile_report(&hit, all, sizeof(all), "z+");
	/* A length past the excerpt's size writes only what is there. */
	hit.excerpt_len = MATCH_EXCERPT_MAX + 100;
	hit.len = 5000;
	s = json(&r, false, NULL, 0);
	ck_assert_ptr_nonnull(strstr(s, "\"length\":5000,\"excerpt\":\""
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "\",\"context\""));
}
END_TEST

/* Whether a program is on PATH. */
static bool
have_tool(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/*
 * Runs "cmd < file-holding-text" and returns its exit status, its standard
 * output in out (NUL-terminated, truncated to len). cmd must not name the
 * file itself: it is appended.
 */
static int
run_filter(const char *cmd, const char *text, char *out, size_t len)
{
	char path[] = "/tmp/check_report.XXXXXX";
	char line[512];
	size_t n = 0, tl = strlen(text);
	int fd = mkstemp(path);
	FILE *p;
	int status;
	char *full;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, tl), (ssize_t)tl);
	close(fd);
	ck_assert_int_ge(asprintf(&full, "%s < %s", cmd, path), 0);
	p = popen(full, "r");
	ck_assert_ptr_nonnull(p);
	out[0] = '\0';
	while (fgets(line, sizeof(line), p) != NULL) {
		size_t l = strlen(line);

		if (n + l < len) {
			memcpy(out + n, line, l + 1);
			n += l;
		}
	}
	status = pclose(p);
	unlink(path);
	free(full);
	return status;
}

static void
hex(char *dst, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(dst + 2 * i, "%02x", p[i]);
	dst[2 * n] = '\0';
}

/*
 * Every hostile excerpt, pattern and log name, and all 256 byte values, read
 * back by real JSON parsers: Python's strict json module must accept every
 * line and give back exactly the bytes under the Latin-1 view; jq must read
 * every line as one object. Each is skipped when not installed.
 */
START_TEST(test_json_parsers_round_trip)
{
	static const char script[] =
	    "import json, sys\n"
	    "for l in sys.stdin:\n"
	    "    o = json.loads(l)\n"
	    "    b = lambda s: s.encode(\"latin-1\").hex()\n"
	    "    print(b(o[\"excerpt\"]), b(o[\"pattern\"]),\n"
	    "        \",\".join(b(s) for s in o[\"logged\"]))\n";
	char *text = NULL, *cmd = NULL;
	size_t textlen = 0, wantcap = 64 * 1024;
	char *want = calloc(1, wantcap), *got = calloc(1, wantcap);
	char eh[2 * MATCH_EXCERPT_MAX + 1], ph[256], lh[256];
	FILE *fp = open_memstream(&text, &textlen);
	struct match_hit hit;
	struct engine_report r;
	uint8_t all[256];
	size_t i, nlines = 0;
	const char *logged[2];
	char jqout[32];

	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	/* The excerpts, each with a hostile pattern and log name beside it. */
	for (i = 0; i < NELEMS(hostile); i++) {
		const char *pat = hostile_pat[i % NELEMS(hostile_pat)].pattern;

		r = hostile_report(&hit, hostile[i].bytes, hostile[i].len, pat);
		logged[0] = pat;
		logged[1] = "d/ok";
		report_json(fp, &r, i % 2 == 1, logged, 2);
		hex(eh, hostile[i].bytes, hostile[i].len);
		hex(ph, (const uint8_t *)pat, strlen(pat));
		hex(lh, (const uint8_t *)pat, strlen(pat));
		snprintf(want + strlen(want), wantcap - strlen(want),
		    "%s %s %s,%s\n", eh, ph, lh, "642f6f6b");
		nlines++;
	}
	/* Every byte value, in excerpts of the largest size. */
	for (i = 0; i < sizeof(all); i += MATCH_EXCERPT_MAX) {
		r = hostile_report(&hit, all + i, MATCH_EXCERPT_MAX, "p");
		report_json(fp, &r, false, NULL, 0);
		hex(eh, all + i, MATCH_EXCERPT_MAX);
		snprintf(want + strlen(want), wantcap - strlen(want),
		    "%s 70 \n", eh);
		nlines++;
	}
	fclose(fp);
	for (i = 0; text[i] != '\0'; i++)
		ck_assert(text[i] == '\n' ||
		    (text[i] >= 0x20 && text[i] < 0x7f));

	if (have_tool("python3")) {
		ck_assert_int_ge(asprintf(&cmd, "python3 -c '%s'", script), 0);
		ck_assert_int_eq(run_filter(cmd, text, got, wantcap), 0);
		ck_assert_str_eq(got, want);
		free(cmd);
	} else
		fprintf(stderr, "check_report: python3 absent, skipped\n");

	if (have_tool("jq")) {
		ck_assert_int_eq(run_filter("jq -e -s 'map(objects) | length'",
		    text, jqout, sizeof(jqout)), 0);
		ck_assert_uint_eq(strtoul(jqout, NULL, 10), nlines);
	} else
		fprintf(stderr, "check_report: jq absent, skipped\n");
	free(text);
	free(want);
	free(got);
}
END_TEST

#define NSTATS (sizeof(struct stats) / sizeof(uint64_t))

/*
 * Counters numbered 1, 2, ... in the order of the struct: the line must
 * hold them all, once each and in that order, under their field names.
 */
START_TEST(test_stats_json)
{
	static const char script[] =
	    "import json, sys\n"
	    "l = sys.stdin.readlines()\n"
	    "assert len(l) == 1\n"
	    "d = json.loads(l[0])\n"
	    "print(len(d), d[\"packets_read\"], d[\"flows_tcp\"],"
	    " list(d.values())[-1], sorted(d.values()) =="
	    " list(range(1, len(d) + 1)))\n";
	uint64_t v[NSTATS];
	struct stats st;
	char *text = NULL, *cmd = NULL, *p, name[64], got[128], want[128];
	size_t len = 0, i;
	unsigned long long val;
	int used;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	for (i = 0; i < NSTATS; i++)
		v[i] = i + 1;
	memcpy(&st, v, sizeof(st));
	report_stats_json(fp, &st);
	fclose(fp);

	ck_assert_str_eq(strchr(text, '\n'), "\n");
	ck_assert_int_eq(strncmp(text, "{\"packets_read\":1,"
	    "\"packets_filtered\":2,\"packets_written\":3,\"bytes_read\":4,",
	    strlen("{\"packets_read\":1,\"packets_filtered\":2,"
	    "\"packets_written\":3,\"bytes_read\":4,")), 0);
	ck_assert_ptr_nonnull(strstr(text, ",\"flows_tcp\":26,"));
	ck_assert_ptr_nonnull(strstr(text, ",\"flows_context\":37,"));
	ck_assert_ptr_nonnull(strstr(text, ",\"log_errors\":42,"));
	/* Every counter, in order: "name":i for i = 1.. NSTATS. */
	p = text + 1;
	for (i = 0; i < NSTATS; i++) {
		ck_assert_int_eq(sscanf(p, "\"%63[a-z_0-9]\":%llu%n", name,
		    &val, &used), 2);
		ck_assert_uint_eq(val, i + 1);
		p += used;
		ck_assert_int_eq(*p, i + 1 < NSTATS ? ',' : '}');
		p++;
	}
	ck_assert_str_eq(p, "\n");

	if (have_tool("python3")) {
		ck_assert_int_ge(asprintf(&cmd, "python3 -c '%s'", script), 0);
		ck_assert_int_eq(run_filter(cmd, text, got, sizeof(got)), 0);
		snprintf(want, sizeof(want), "%zu 1 26 %zu True\n", NSTATS,
		    NSTATS);
		ck_assert_str_eq(got, want);
		free(cmd);
	} else
		fprintf(stderr, "check_report: python3 absent, skipped\n");
	free(text);
}
END_TEST

/* Progress lines: bytes, total, seconds, flows, matched, the exact text. */
static const struct {
	uint64_t bytes, total;
	double seconds;
	uint64_t flows_tcp, flows_udp, flows_other, matched;
	const char *text;
} progress[] = {
	{ 327680000, 1073741824, 0.5, 1000, 200, 34, 5,
	    "\rflowgrep: 312.5 MiB of 1.0 GiB (30%), 625.0 MiB/s, "
	    "1234 flows, 5 matched\033[K" },
	/* No total (standard input), no time yet. */
	{ 512, 0, 0, 0, 0, 0, 0,
	    "\rflowgrep: 512 B, 0 flows, 0 matched\033[K" },
	{ 0, 4096, 0, 0, 0, 0, 0,
	    "\rflowgrep: 0 B of 4.0 KiB (0%), 0 flows, 0 matched\033[K" },
	{ 1023, 1023, 3, 1, 0, 0, 1,
	    "\rflowgrep: 1023 B of 1023 B (100%), 341 B/s, 1 flows, "
	    "1 matched\033[K" },
	/* Rounding never shows 1024.0 of a unit. */
	{ 1048575, 2097152, 1, 0, 7, 0, 0,
	    "\rflowgrep: 1.0 MiB of 2.0 MiB (49%), 1.0 MiB/s, 7 flows, "
	    "0 matched\033[K" },
	{ 1048524, 0, 0, 0, 0, 0, 0,
	    "\rflowgrep: 1023.9 KiB, 0 flows, 0 matched\033[K" },
	/* A file that grew while read stops at 100%. */
	{ 3000, 2000, 2, 0, 0, 3, 0,
	    "\rflowgrep: 2.9 KiB of 2.0 KiB (100%), 1.5 KiB/s, 3 flows, "
	    "0 matched\033[K" },
	/* The largest sizes: no overflow in the share, units stop at EiB. */
	{ UINT64_MAX / 2, UINT64_MAX, 0, 0, 0, 0, 0,
	    "\rflowgrep: 8.0 EiB of 16.0 EiB (50%), 0 flows, 0 matched\033[K" },
	{ 1649267441664ULL, 3298534883328ULL, 4096, 9, 9, 9, 9,
	    "\rflowgrep: 1.5 TiB of 3.0 TiB (50%), 384.0 MiB/s, 27 flows, "
	    "9 matched\033[K" },
};

START_TEST(test_progress)
{
	static char buf[512];
	struct stats st = { .flows_tcp = progress[_i].flows_tcp,
	    .flows_udp = progress[_i].flows_udp,
	    .flows_other = progress[_i].flows_other,
	    .flows_matched = progress[_i].matched };
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	ck_assert_ptr_nonnull(fp);
	report_progress(fp, progress[_i].bytes, progress[_i].total,
	    progress[_i].seconds, &st);
	fclose(fp);
	ck_assert_str_eq(buf, progress[_i].text);
}
END_TEST

START_TEST(test_progress_end)
{
	static char buf[64];
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	ck_assert_ptr_nonnull(fp);
	report_progress_end(fp);
	fclose(fp);
	ck_assert_str_eq(buf, "\r\033[K");
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_tcp_match_line);
	tcase_add_test(tc, test_ipv6_vlan_server_escapes);
	tcase_add_test(tc, test_no_match_and_other_protocols);
	tcase_add_test(tc, test_stats_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_tcp_match);
	tcase_add_test(tc, test_json_ipv6_vlan_server_logged_killed);
	tcase_add_test(tc, test_json_no_match_context_and_others);
	tcase_add_test(tc, test_json_single_packets);
	tcase_add_loop_test(tc, test_json_hostile_excerpts, 0,
	    (int)NELEMS(hostile));
	tcase_add_loop_test(tc, test_json_hostile_patterns, 0,
	    (int)NELEMS(hostile_pat));
	tcase_add_test(tc, test_json_excerpt_cap);
	tcase_add_test(tc, test_json_parsers_round_trip);
	tcase_add_test(tc, test_stats_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("progress");
	tcase_add_loop_test(tc, test_progress, 0, (int)NELEMS(progress));
	tcase_add_test(tc, test_progress_end);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
