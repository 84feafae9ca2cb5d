/* report.c: per-flow text and JSON lines, statistics, progress. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "report.h"

/*
 * Protocol names: the short lower-case one of the text line, and the one
 * Suricata's eve.json writes (its IANA-derived known_proto table), which
 * --json follows so that eve.json tooling reads both alike. Other numbers
 * are written as numbers, as Suricata does.
 */
static const struct proto_name {
	uint8_t num;
	const char *text;
	const char *eve;
} proto_names[] = {
	{ 1, "icmp", "ICMP" },
	{ 2, "igmp", "IGMP" },
	{ 4, "ipip", "IP-in-IP" },
	{ 6, "tcp", "TCP" },
	{ 17, "udp", "UDP" },
	{ 41, "ipv6", "IPv6" },
	{ 47, "gre", "GRE" },
	{ 50, "esp", "ESP" },
	{ 51, "ah", "AH" },
	{ 58, "icmp6", "IPv6-ICMP" },
	{ 59, "ipv6-nonxt", "IPv6-NoNxt" },
	{ 89, "ospf", "OSPF" },
	{ 103, "pim", "PIM" },
	{ 112, "vrrp", "VRRP" },
	{ 132, "sctp", "SCTP" },
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct proto_name *
proto_lookup(uint8_t proto)
{
	size_t i;

	for (i = 0; i < NELEMS(proto_names); i++)
		if (proto_names[i].num == proto)
			return &proto_names[i];
	return NULL;
}

static const char *
proto_name(uint8_t proto, char *buf, size_t len)
{
	const struct proto_name *pn = proto_lookup(proto);

	if (pn != NULL)
		return pn->text;
	snprintf(buf, len, "ip-proto-%u", proto);
	return buf;
}

void
report_addr(char *buf, size_t len, int ipver, const uint8_t *addr)
{
	if (inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, addr, buf,
	    (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* An endpoint: a.b.c.d:port, [v6]:port, or the bare address without ports. */
static void
endpoint(FILE *out, int ipver, const uint8_t *addr, uint16_t port,
    bool ports)
{
	char a[INET6_ADDRSTRLEN];

	report_addr(a, sizeof(a), ipver, addr);
	if (!ports)
		fputs(a, out);
	else if (ipver == 6)
		fprintf(out, "[%s]:%u", a, port);
	else
		fprintf(out, "%s:%u", a, port);
}

/* Bytes as a quoted string with C escapes: safe on any terminal. */
static void
escaped(FILE *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c > 0x7e)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

/*
 * A pattern between slashes: as given, so it can be pasted back, except
 * that '/' becomes "\/" and unprintable bytes \xHH (both mean the same in
 * PCRE2).
 */
static void
pattern_text(FILE *out, const char *p)
{
	for (; *p != '\0'; p++) {
		uint8_t c = (uint8_t)*p;

		if (c == '/')
			fputs("\\/", out);
		else if (c < 0x20 || c > 0x7e)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void
timestamp(FILE *out, uint64_t ts_ns, bool nano)
{
	time_t sec = (time_t)(ts_ns / 1000000000ULL);
	struct tm tm;
	char buf[32];

	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (nano)
		fprintf(out, "%s.%09" PRIu64 "Z", buf, (uint64_t)(ts_ns % 1000000000ULL));
	else
		fprintf(out, "%s.%06" PRIu64 "Z", buf,
		    (uint64_t)(ts_ns % 1000000000ULL / 1000));
}

void
report_line(FILE *out, const struct engine_report *r, bool nano)
{
	char pbuf[16];
	bool ports = r->is_flow && (r->proto == 6 || r->proto == 17);

	timestamp(out, r->ts_ns, nano);
	if (!r->is_flow)
		fputs(" packet", out);
	if (r->ipver != 0) {
		fprintf(out, " %s", proto_name(r->proto, pbuf, sizeof(pbuf)));
		if (r->vlan_count == 1)
			fprintf(out, " vlan %u", r->vlan[0]);
		else if (r->vlan_count > 1)
			fprintf(out, " vlan %u,%u", r->vlan[0], r->vlan[1]);
		fputc(' ', out);
		endpoint(out, r->ipver, r->client_addr, r->client_port, ports);
		fputs(" -> ", out);
		endpoint(out, r->ipver, r->server_addr, r->server_port, ports);
	}
	if (r->matched && r->hit != NULL) {
		/* A unit that is not a flow has no direction. */
		if (r->is_flow)
			fprintf(out, " %s", r->hit->dir == 0 ? "client" :
			    "server");
		fputs(" /", out);
		pattern_text(out, r->pattern);
		fprintf(out, "/ @%" PRIu64 " \"", r->hit->offset);
		escaped(out, r->hit->excerpt, r->hit->excerpt_len);
		fputc('"', out);
	} else
		fputs(" no-match", out);
	/* Selected for being near a selected flow (-A/-B/-C). */
	fputs(r->context ? " context\n" : "\n", out);
}

/*
 * Bytes as a JSON string (RFC 8259, section 7), valid whatever they are.
 * Packet bytes are not text in any known encoding, so each byte is taken as
 * the code point of the same value (the Latin-1 view): '"' and '\\' are
 * escaped, as are control characters (\n \r \t \b \f or \u00XX), DEL and
 * every byte >= 0x80 (\u0080 .. \u00ff). Raw invalid UTF-8 therefore never
 * reaches the output, the line is printable ASCII, and a reader gets the
 * bytes back exactly by encoding the string as Latin-1 (in Python,
 * s.encode("latin-1"); in jq, explode). The price: valid UTF-8 text such as
 * "é" shows as its two bytes "\u00c3\u00a9", not as one character.
 */
static void
json_string(FILE *out, const uint8_t *p, size_t n)
{
	size_t i;

	fputc('"', out);
	for (i = 0; i < n; i++) {
		uint8_t c = p[i];

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

static void
json_cstring(FILE *out, const char *s)
{
	json_string(out, (const uint8_t *)s, strlen(s));
}

/* ,"key":"address" */
static void
json_addr(FILE *out, const char *key, int ipver, const uint8_t *addr)
{
	char a[INET6_ADDRSTRLEN];

	report_addr(a, sizeof(a), ipver, addr);
	fprintf(out, ",\"%s\":\"%s\"", key, a);
}

/*
 * Keys appear in a fixed order; those that do not apply are left out rather
 * than written as null, as eve.json does: proto and addresses when the unit
 * is not IP, ports unless it is a TCP or UDP flow, vlan when untagged, and
 * direction, pattern, pattern_index, offset, length and excerpt unless it
 * matched. A unit that is not a flow (a packet of its own) has no direction,
 * as in the text line. "match" says whether the unit matched a pattern: false
 * for flows selected by -v, and for context flows unless (with -v) the
 * context flow is one that matched. Strings are escaped as json_string says.
 */
void
report_json(FILE *out, const struct engine_report *r, bool nano,
    const char *const *logged, int nlogged)
{
	bool ports = r->is_flow && (r->proto == 6 || r->proto == 17);
	bool matched = r->matched && r->hit != NULL;
	const struct proto_name *pn;
	int i;

	fputs("{\"timestamp\":\"", out);
	timestamp(out, r->ts_ns, nano);
	fputs("\",\"event_type\":\"flowgrep\"", out);
	if (r->ipver != 0) {
		pn = proto_lookup(r->proto);
		if (pn != NULL)
			fprintf(out, ",\"proto\":\"%s\"", pn->eve);
		else
			fprintf(out, ",\"proto\":\"%u\"", r->proto);
		json_addr(out, "src_ip", r->ipver, r->client_addr);
		if (ports)
			fprintf(out, ",\"src_port\":%u", r->client_port);
		json_addr(out, "dest_ip", r->ipver, r->server_addr);
		if (ports)
			fprintf(out, ",\"dest_port\":%u", r->server_port);
	}
	if (r->vlan_count == 1)
		fprintf(out, ",\"vlan\":[%u]", r->vlan[0]);
	else if (r->vlan_count > 1)
		fprintf(out, ",\"vlan\":[%u,%u]", r->vlan[0], r->vlan[1]);
	fprintf(out, ",\"flow\":%s", r->is_flow ? "true" : "false");
	if (matched) {
		const struct match_hit *h = r->hit;
		uint32_t n = h->excerpt_len < MATCH_EXCERPT_MAX ?
		    h->excerpt_len : MATCH_EXCERPT_MAX;

		if (r->is_flow)
			fprintf(out, ",\"direction\":\"%s\"", h->dir == 0 ?
			    "to_server" : "to_client");
		fputs(",\"pattern\":", out);
		json_cstring(out, r->pattern != NULL ? r->pattern : "");
		fprintf(out, ",\"pattern_index\":%d,\"offset\":%" PRIu64
		    ",\"length\":%" PRIu32 ",\"excerpt\":", h->pattern,
		    h->offset, h->len);
		json_string(out, h->excerpt, n);
	}
	fprintf(out, ",\"context\":%s,\"packets\":%" PRIu64 ",\"bytes\":%"
	    PRIu64 ",\"logged\":[", r->context ? "true" : "false", r->packets,
	    r->bytes);
	for (i = 0; logged != NULL && i < nlogged; i++) {
		if (i > 0)
			fputc(',', out);
		json_cstring(out, logged[i] != NULL ? logged[i] : "");
	}
	fprintf(out, "],\"killed\":%s,\"match\":%s}\n",
	    r->killed ? "true" : "false", matched ? "true" : "false");
}

/* One "name value" pair, printed only when the value is not zero. */
struct counter {
	const char *name;
	uint64_t value;
};

static void
anomalies(FILE *out, const char *title, const struct counter *c, size_t n)
{
	size_t i;
	bool any = false;

	for (i = 0; i < n; i++) {
		if (c[i].value == 0)
			continue;
		fprintf(out, "%s%s %" PRIu64 " %s", any ? "," : "flowgrep: ",
		    any ? "" : title, c[i].value, c[i].name);
		any = true;
	}
	if (any)
		fputc('\n', out);
}

void
report_stats(FILE *out, const struct stats *st, bool stream_input)
{
	uint64_t flows = st->flows_tcp + st->flows_udp + st->flows_other;
	const struct counter skipped[] = {
		{ "not IP", st->not_ip },
		{ "bad link header", st->bad_link },
		{ "bad IP header", st->bad_ip },
		{ "bad TCP/UDP header", st->bad_transport },
		{ "on an interface of another link type", st->other_linktype },
	};
	const struct counter tcp[] = {
		{ "gaps", st->tcp_gaps },
		{ "gap bytes", st->tcp_gap_bytes },
		{ "retransmitted bytes", st->tcp_retransmitted_bytes },
		{ "overlap conflicts", st->overlap_conflicts },
		{ "out-of-order segments", st->ooo_segments },
		{ "queue cap hits", st->ooo_cap_hits },
		{ "out-of-window RSTs ignored", st->rst_ignored },
		{ "RST payload bytes ignored", st->rst_payload_bytes },
		{ "flows with data after a RST", st->flows_outlived_rst },
		{ "mid-stream pickups", st->flows_midstream },
	};
	const struct counter frag[] = {
		{ "fragments", st->fragments },
		{ "datagrams reassembled", st->datagrams_reassembled },
		{ "incomplete", st->datagrams_incomplete },
		{ "overlapping", st->fragment_overlaps },
		{ "evicted for memory", st->fragment_mem_evictions },
	};
	const struct counter limits[] = {
		{ "flows timed out", st->flows_timed_out },
		{ "flows ended early by --max-flows", st->flows_evicted },
		{ "partial matches longer than --window", st->window_overflows },
		{ "directions cut at --depth", st->depth_reached },
		{ "searches ended by a PCRE2 limit (no match)",
		    st->match_errors },
		{ "searches interpreted (JIT stack exhausted)",
		    st->match_jit_fallbacks },
		{ "packets truncated by the snap length",
		    st->truncated_payload },
	};

	fprintf(out, "flowgrep: %" PRIu64 " packets read, %" PRIu64
	    " written", st->packets_read, st->packets_written);
	if (st->packets_filtered > 0)
		fprintf(out, ", %" PRIu64 " filtered out", st->packets_filtered);
	fputc('\n', out);
	fprintf(out, "flowgrep: %" PRIu64 " flows (%" PRIu64 " tcp, %" PRIu64
	    " udp, %" PRIu64 " other), %" PRIu64 " matched, %" PRIu64
	    " selected\n", flows, st->flows_tcp, st->flows_udp, st->flows_other,
	    st->flows_matched, st->flows_selected);
	if (st->shard_skipped > 0)
		fprintf(out, "flowgrep: %" PRIu64 " packets of other shards "
		    "skipped\n", st->shard_skipped);
	if (st->single_units > 0)
		fprintf(out, "flowgrep: %" PRIu64
		    " packets not part of a flow\n", st->single_units);
	anomalies(out, "skipped:", skipped, NELEMS(skipped));
	anomalies(out, "tcp:", tcp, NELEMS(tcp));
	anomalies(out, "ip:", frag, NELEMS(frag));
	anomalies(out, "limits:", limits, NELEMS(limits));
	{
		const struct counter actions[] = {
			{ "flows selected as context", st->flows_context },
			{ "context flows whose packets were gone",
			    st->context_lost },
			{ "flows killed", st->flows_killed },
			{ "RSTs sent", st->rst_sent },
			{ "log files created", st->log_files },
			{ "log write errors", st->log_errors },
		};

		anomalies(out, "actions:", actions, NELEMS(actions));
	}
	if (stream_input)
		fprintf(out, "flowgrep: %" PRIu64 " packets held (peak %" PRIu64
		    " bytes), %" PRIu64 " dropped\n", st->packets_held,
		    st->hold_peak_bytes, st->packets_dropped);
	if (st->kernel_drops > 0)
		fprintf(out, "flowgrep: %" PRIu64 " packets dropped by the "
		    "kernel\n", st->kernel_drops);
}

/*
 * Every counter of struct stats under its field name, in the order of the
 * struct, so that a script may rely on the names of stats.h.
 */
void
report_stats_json(FILE *out, const struct stats *st)
{
#define C(f) { #f, st->f }
	const struct counter all[] = {
		C(packets_read), C(packets_filtered), C(packets_written),
		C(bytes_read), C(other_linktype), C(kernel_drops),
		C(not_ip), C(bad_link), C(bad_ip), C(bad_transport),
		C(truncated_payload),
		C(fragments), C(datagrams_reassembled), C(datagrams_incomplete),
		C(fragment_overlaps), C(fragment_mem_evictions),
		C(tcp_gaps), C(tcp_gap_bytes), C(tcp_retransmitted_bytes),
		C(overlap_conflicts), C(ooo_segments), C(ooo_cap_hits),
		C(rst_ignored), C(rst_payload_bytes), C(flows_outlived_rst),
		C(flows_tcp), C(flows_udp), C(flows_other), C(flows_matched),
		C(units_selected), C(flows_selected), C(flows_timed_out),
		C(flows_evicted), C(flows_midstream), C(single_units),
		C(shard_skipped), C(flows_context), C(context_lost), C(flows_killed), C(rst_sent),
		C(log_files), C(log_errors),
		C(packets_held), C(packets_dropped), C(hold_peak_bytes),
		C(window_overflows), C(depth_reached),
		C(match_errors), C(match_jit_fallbacks),
		C(pattern_db_loaded), C(pattern_db_stored),
	};
#undef C
	size_t i;

	/* A counter added to stats.h must be added above too. */
	_Static_assert(sizeof(all) / sizeof(all[0]) ==
	    sizeof(struct stats) / sizeof(uint64_t),
	    "report_stats_json misses a counter of struct stats");
	for (i = 0; i < NELEMS(all); i++)
		fprintf(out, "%c\"%s\":%" PRIu64, i == 0 ? '{' : ',',
		    all[i].name, all[i].value);
	fputs("}\n", out);
}

/*
 * A size in binary units with one decimal ("312.5 MiB"), bytes below 1 KiB
 * as a whole number ("512 B"). A value that would round up to 1024 of one
 * unit is given in the next, so "1024.0 KiB" is never shown.
 */
static void
human_size(char *buf, size_t len, double v)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	size_t i = 0;

	if (v < 1023.5) {
		snprintf(buf, len, "%.0f B", v);
		return;
	}
	v /= 1024;
	while (v >= 1023.95 && i + 1 < NELEMS(units)) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f %s", v, units[i]);
}

/*
 * The line is formatted first and written with one call: standard error is
 * unbuffered, and a redraw in pieces would flicker. "\033[K" (ECMA-48 EL,
 * erase to the end of the line) removes what a longer previous line left.
 * Without a total (0) the share is left out, without elapsed time the rate.
 */
void
report_progress(FILE *out, uint64_t bytes, uint64_t total, double seconds,
    const struct stats *st)
{
	char line[256], a[32], b[32];
	uint64_t flows = st->flows_tcp + st->flows_udp + st->flows_other;
	uint64_t pct;
	int n;

	human_size(a, sizeof(a), (double)bytes);
	n = snprintf(line, sizeof(line), "\rflowgrep: %s", a);
	if (total > 0 && n >= 0 && (size_t)n < sizeof(line)) {
		/* A file may grow while it is read: the share stops at 100. */
		if (bytes >= total)
			pct = 100;
		else if (bytes <= UINT64_MAX / 100)
			pct = bytes * 100 / total;
		else
			pct = (uint64_t)((double)bytes / (double)total * 100);
		human_size(b, sizeof(b), (double)total);
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		    " of %s (%" PRIu64 "%%)", b, pct);
	}
	if (seconds > 0 && n >= 0 && (size_t)n < sizeof(line)) {
		human_size(a, sizeof(a), (double)bytes / seconds);
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s/s", a);
	}
	if (n >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n,
		    ", %" PRIu64 " flows, %" PRIu64 " matched\033[K", flows,
		    st->flows_matched);
	fputs(line, out);
	fflush(out);
}

/*
 * Erases the progress line rather than ending it with a newline: the
 * statistics that follow hold the final numbers, and a stale line of
 * progress above them would only repeat them less exactly.
 */
void
report_progress_end(FILE *out)
{
	fputs("\r\033[K", out);
	fflush(out);
}
