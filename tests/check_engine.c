/* check_engine.c: the per-packet path end to end, on frames built here. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define MS(x) ((uint64_t)(x) * 1000000ULL)

/* ---- building Ethernet/IPv4 frames ---- */

struct frame {
	uint8_t b[2048];
	uint32_t len;
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* IPv4 header at p for a payload of len bytes; frag in 8-byte units. */
static uint32_t
ipv4(uint8_t *p, uint8_t a, uint8_t b, uint8_t proto, uint32_t len,
    uint16_t id, uint16_t frag_off8, bool more)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + len));
	put16(p + 4, id);
	put16(p + 6, (uint16_t)((more ? 0x2000 : 0) | frag_off8));
	p[8] = 64;
	p[9] = proto;
	p[12] = 10;
	p[15] = a;
	p[16] = 10;
	p[19] = b;
	return 20;
}

static uint32_t
ether(uint8_t *p)
{
	memset(p, 0, 14);
	p[0] = 2;
	p[6] = 2;
	put16(p + 12, 0x0800);
	return 14;
}

/* TCP segment from 10.0.0.a:sp to 10.0.0.b:dp. */
static struct frame
tcp(uint8_t a, uint16_t sp, uint8_t b, uint16_t dp, uint32_t seq,
    uint32_t ack, uint8_t flags, const char *data)
{
	struct frame f;
	uint32_t n = (uint32_t)strlen(data), off;
	uint8_t *t;

	off = ether(f.b);
	off += ipv4(f.b + off, a, b, 6, 20 + n, 1, 0, false);
	t = f.b + off;
	memset(t, 0, 20);
	put16(t, sp);
	put16(t + 2, dp);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, data, n);
	f.len = off + 20 + n;
	return f;
}

static struct frame
udp(uint8_t a, uint16_t sp, uint8_t b, uint16_t dp, const char *data)
{
	struct frame f;
	uint32_t n = (uint32_t)strlen(data), off;
	uint8_t *u;

	off = ether(f.b);
	off += ipv4(f.b + off, a, b, 17, 8 + n, 1, 0, false);
	u = f.b + off;
	put16(u, sp);
	put16(u + 2, dp);
	put16(u + 4, (uint16_t)(8 + n));
	put16(u + 6, 0);
	memcpy(u + 8, data, n);
	f.len = off + 8 + n;
	return f;
}

/* An IPv4 fragment of a UDP datagram: bytes [from, from+len) of l4. */
static struct frame
udp_fragment(const uint8_t *l4, uint32_t total, uint32_t from, uint32_t len)
{
	struct frame f;
	uint32_t off = ether(f.b);

	off += ipv4(f.b + off, 1, 2, 17, len, 777, (uint16_t)(from / 8),
	    from + len < total);
	memcpy(f.b + off, l4 + from, len);
	f.len = off + len;
	return f;
}

static struct frame
arp(void)
{
	struct frame f;

	memset(f.b, 0, 60);
	put16(f.b + 12, 0x0806);
	f.len = 60;
	return f;
}

/* ---- running the engine ---- */

struct result {
	char written[256];	/* tag (hdr[0]) of each packet written */
	int nwritten;
	uint32_t serials[256];
	int nserials;
	uint32_t alias_from[16], alias_to[16];
	int naliases;
	int reports;
	char last_pattern[64];
	int last_dir;
	uint64_t last_offset;
};

static void
on_write(void *ctx, const struct pcap_rec *rec)
{
	struct result *r = ctx;

	r->written[r->nwritten++] = (char)rec->hdr[0];
}

static void
on_report(void *ctx, const struct engine_report *rep)
{
	struct result *r = ctx;

	r->reports++;
	if (rep->matched) {
		snprintf(r->last_pattern, sizeof(r->last_pattern), "%s",
		    rep->pattern);
		r->last_dir = rep->hit->dir;
		r->last_offset = rep->hit->offset;
	}
}

static void
on_assign(void *ctx, uint32_t serial)
{
	struct result *r = ctx;

	r->serials[r->nserials++] = serial;
}

static void
on_alias(void *ctx, uint32_t from, uint32_t to)
{
	struct result *r = ctx;

	r->alias_from[r->naliases] = from;
	r->alias_to[r->naliases++] = to;
}

static struct match_set *
patterns(const char *a, const char *c, const char *s)
{
	struct match_set *ms = match_set_new();
	char err[MATCH_ERRBUF_SIZE];

	if (a != NULL)
		ck_assert_int_eq(match_set_add(ms, a, strlen(a),
		    MATCH_CLIENT | MATCH_SERVER, false, "-a", err), 0);
	if (c != NULL)
		ck_assert_int_eq(match_set_add(ms, c, strlen(c), MATCH_CLIENT,
		    false, "-c", err), 0);
	if (s != NULL)
		ck_assert_int_eq(match_set_add(ms, s, strlen(s), MATCH_SERVER,
		    false, "-s", err), 0);
	return ms;
}

static uint32_t ctx_after, ctx_before;
static int kills = -1;		/* -1: no -k */
static bool match_thread;	/* two-pass mode: match on a thread */
static bool match_alternate;	/* ... and every other flow beside it */

static void
on_kill(void *ctx, struct flow *f, uint64_t ts_ns)
{
	(void)ctx;
	(void)f;
	(void)ts_ns;
	kills++;
}

static struct engine *
engine(struct match_set *ms, struct stats *st, struct result *r, bool hold,
    bool invert)
{
	struct engine_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.linktype = LINKTYPE_ETHERNET;
	cfg.invert = invert;
	cfg.hold = hold;
	cfg.max_flows = 1000;
	cfg.tcp_timeout_ns = 300ULL * 1000000000ULL;
	cfg.udp_timeout_ns = 60ULL * 1000000000ULL;
	cfg.hold_mem = 1 << 20;
	cfg.kill = kills >= 0 ? on_kill : NULL;
	cfg.context_after = ctx_after;
	cfg.context_before = ctx_before;
	cfg.ms = ms;
	cfg.st = st;
	cfg.write = on_write;
	cfg.report = on_report;
	if (!hold) {
		cfg.assign = on_assign;
		cfg.alias = on_alias;
		cfg.match_thread = match_thread;
		cfg.match_here = match_alternate ? MATCH_HERE_ALTERNATE :
		    MATCH_HERE_BEHIND;
	}
	cfg.ctx = r;
	return engine_new(&cfg);
}

/* Feeds frame f tagged with a letter (kept in hdr[0]) at time t. */
static void
feed(struct engine *e, const struct frame *f, char tag, uint64_t t)
{
	struct pcap_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.ts_ns = t;
	rec.caplen = rec.wirelen = f->len;
	rec.data = f->b;
	rec.hdr[0] = (uint8_t)tag;
	engine_packet(e, &rec);
}

/*
 * Two interleaved connections; "secret-token" straddles two segments of
 * connection A only. Held mode writes A's packets once it is decided,
 * in their order, and later ones at once; B is dropped at its end.
 */
START_TEST(test_split_match_hold_mode)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("secret-token", NULL, NULL);
	struct engine *e = engine(ms, &st, &r, true, false);
	struct frame a1 = tcp(1, 40000, 2, 80, 100, 0, 0x02, "");
	struct frame b1 = tcp(3, 40001, 2, 80, 500, 0, 0x02, "");
	struct frame a2 = tcp(1, 40000, 2, 80, 101, 1, 0x18, "GET /secr");
	struct frame b2 = tcp(3, 40001, 2, 80, 501, 1, 0x18, "GET /other");
	struct frame a3 = tcp(1, 40000, 2, 80, 110, 1, 0x18, "et-token");
	struct frame a4 = tcp(2, 80, 1, 40000, 1, 118, 0x18, "HTTP/1.1 200");

	feed(e, &a1, 'a', MS(1));
	feed(e, &b1, 'b', MS(2));
	feed(e, &a2, 'c', MS(3));
	feed(e, &b2, 'd', MS(4));
	ck_assert_int_eq(r.nwritten, 0);
	feed(e, &a3, 'e', MS(5));
	ck_assert_int_eq(r.nwritten, 3);
	ck_assert_int_eq(memcmp(r.written, "ace", 3), 0);
	feed(e, &a4, 'f', MS(6));
	ck_assert_int_eq(r.nwritten, 4);
	engine_finish(e);
	ck_assert_int_eq(r.nwritten, 4);
	ck_assert_int_eq(r.reports, 1);
	ck_assert_str_eq(r.last_pattern, "secret-token");
	ck_assert_int_eq(r.last_dir, 0);
	ck_assert_uint_eq(r.last_offset, 5);
	ck_assert_uint_eq(st.flows_tcp, 2);
	ck_assert_uint_eq(st.flows_matched, 1);
	ck_assert_uint_eq(st.flows_selected, 1);
	engine_free(e);
	match_set_free(ms);
}
END_TEST

/* The same with -v: B and the ARP packet are written, in input order. */
START_TEST(test_invert_hold_mode_order)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("secret-token", NULL, NULL);
	struct engine *e = engine(ms, &st, &r, true, true);
	struct frame a1 = tcp(1, 40000, 2, 80, 100, 0, 0x02, "");
	struct frame b1 = tcp(3, 40001, 2, 80, 500, 0, 0x02, "");
	struct frame x = arp();
	struct frame a2 = tcp(1, 40000, 2, 80, 101, 1, 0x18, "secret-token");
	struct frame b2 = tcp(3, 40001, 2, 80, 501, 1, 0x18, "GET /other");
	struct frame u = udp(5, 53, 6, 9999, "dns");

	feed(e, &a1, 'a', MS(1));
	feed(e, &b1, 'b', MS(2));
	feed(e, &x, 'x', MS(3));	/* alone, selected at once */
	feed(e, &a2, 'c', MS(4));
	feed(e, &u, 'u', MS(5));
	feed(e, &b2, 'd', MS(6));
	engine_finish(e);
	r.written[r.nwritten] = '\0';
	ck_assert_str_eq(r.written, "xbud");
	ck_assert_uint_eq(st.units_selected, 3);
	engine_free(e);
	match_set_free(ms);
}
END_TEST

/*
 * Two-pass mode: every packet gets its unit; selection by serial. Matched
 * in line and on the match thread (_i & 1), with and without -v (_i & 2),
 * with every other flow matched beside the thread (_i & 4): the same
 * selection and counts.
 */
START_TEST(test_two_pass_serials)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns(NULL, NULL, "200 OK");
	bool invert = (_i & 2) != 0;
	struct engine *e;
	struct frame a1 = tcp(1, 40000, 2, 80, 100, 0, 0x02, "");
	struct frame x = arp();
	struct frame b1 = tcp(3, 40001, 2, 80, 500, 0, 0x02, "");
	struct frame a2 = tcp(2, 80, 1, 40000, 7, 101, 0x12, "");
	struct frame a3 = tcp(2, 80, 1, 40000, 8, 101, 0x18, "HTTP/1.1 200 OK");
	struct frame b2 = tcp(3, 40001, 2, 80, 501, 1, 0x18, "200 OK");

	match_thread = (_i & 1) != 0;
	match_alternate = (_i & 4) != 0;
	e = engine(ms, &st, &r, false, invert);
	match_thread = match_alternate = false;
	feed(e, &a1, 'a', MS(1));
	feed(e, &x, 'x', MS(2));
	feed(e, &b1, 'b', MS(3));
	feed(e, &a2, 'c', MS(4));
	feed(e, &a3, 'd', MS(5));
	feed(e, &b2, 'e', MS(6));	/* client sends it: -s does not see it */
	engine_finish(e);
	ck_assert_int_eq(r.nserials, 6);
	ck_assert_uint_eq(r.serials[0], 0);
	/* An ARP packet has no payload to match: -v selects it. */
	ck_assert_uint_eq(r.serials[1], invert ? UNIT_SINGLE_SELECTED :
	    UNIT_SINGLE_REJECTED);
	ck_assert_uint_eq(r.serials[2], 1);
	ck_assert_uint_eq(r.serials[3], 0);
	ck_assert_uint_eq(r.serials[4], 0);
	ck_assert_uint_eq(r.serials[5], 1);
	ck_assert(engine_selected(e, 0) != invert);
	ck_assert(engine_selected(e, 1) == invert);
	ck_assert(!engine_selected(e, UNIT_SINGLE_REJECTED));
	ck_assert_uint_eq(st.flows_matched, 1);
	ck_assert_uint_eq(st.flows_selected, 1);
	ck_assert_uint_eq(st.units_selected, 1 + invert);
	/* The thread decides for runs that report nothing. */
	if (_i == 0)
		ck_assert_int_eq(r.last_dir, 1);
	ck_assert_int_eq(r.nwritten, 0);
	engine_free(e);
	match_set_free(ms);
}
END_TEST

/*
 * A UDP datagram in three IPv4 fragments, out of order; the pattern spans
 * fragments. Two-pass mode aliases the fragments' unit to the flow's.
 */
START_TEST(test_fragments_join_their_flow)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("needle-in-frag", NULL, NULL);
	struct engine *e;
	uint8_t l4[8 + 40];
	struct frame f0, f1, f2, later;

	put16(l4, 5353);
	put16(l4 + 2, 53);
	put16(l4 + 4, sizeof(l4));
	put16(l4 + 6, 0);
	memcpy(l4 + 8, "xxxxxxxxxxxxxxxxneedle-in-fragxxxxxxxxxx", 40);
	f0 = udp_fragment(l4, sizeof(l4), 0, 16);
	f1 = udp_fragment(l4, sizeof(l4), 16, 16);
	f2 = udp_fragment(l4, sizeof(l4), 32, 16);
	later = udp(1, 5353, 2, 53, "later");
	/* In line, on the match thread (_i), beside it (_i == 2). */
	match_thread = _i != 0;
	match_alternate = _i == 2;
	e = engine(ms, &st, &r, false, false);
	match_thread = match_alternate = false;
	feed(e, &f2, 'c', MS(1));
	feed(e, &f0, 'a', MS(2));
	feed(e, &f1, 'b', MS(3));
	feed(e, &later, 'd', MS(4));
	engine_finish(e);
	ck_assert_int_eq(r.nserials, 4);
	/* The datagram's unit has a number of its own; its flow is 0. */
	ck_assert_uint_eq(r.serials[0], UNIT_DGRAM);
	ck_assert_uint_eq(r.serials[1], UNIT_DGRAM);
	ck_assert_uint_eq(r.serials[2], UNIT_DGRAM);
	ck_assert_uint_eq(r.serials[3], 0);
	ck_assert_int_eq(r.naliases, 1);
	ck_assert_uint_eq(r.alias_from[0], UNIT_DGRAM);
	ck_assert_uint_eq(r.alias_to[0], 0);
	ck_assert(!engine_selected(e, UNIT_DGRAM));
	engine_resolve_alias(e, UNIT_DGRAM, 0);
	ck_assert(engine_selected(e, UNIT_DGRAM));
	ck_assert(engine_selected(e, 0));
	ck_assert_uint_eq(st.datagrams_reassembled, 1);
	ck_assert_uint_eq(st.flows_matched, 1);
	engine_free(e);
	match_set_free(ms);
}
END_TEST

/* An empty pattern selects everything, single packets included, at once. */
START_TEST(test_empty_pattern_selects_all)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("", NULL, NULL);
	struct engine *e = engine(ms, &st, &r, true, false);
	struct frame a1 = tcp(1, 40000, 2, 80, 100, 0, 0x02, "");
	struct frame x = arp();
	struct frame a2 = tcp(1, 40000, 2, 80, 101, 0, 0x18, "hello");

	feed(e, &a1, 'a', MS(1));
	feed(e, &x, 'b', MS(2));
	feed(e, &a2, 'c', MS(3));
	ck_assert_int_eq(r.nwritten, 3);
	ck_assert_int_eq(memcmp(r.written, "abc", 3), 0);
	engine_finish(e);
	engine_free(e);
	match_set_free(ms);
}
END_TEST

/* FIN both ways decides "no match" at once; stray packets follow it. */
START_TEST(test_close_decides_and_strays_follow)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("never", NULL, NULL);
	struct engine *e = engine(ms, &st, &r, true, true);
	struct frame s = tcp(1, 40000, 2, 80, 100, 0, 0x02, "");
	struct frame sa = tcp(2, 80, 1, 40000, 7, 101, 0x12, "");
	struct frame d = tcp(1, 40000, 2, 80, 101, 8, 0x18, "data");
	struct frame f1 = tcp(1, 40000, 2, 80, 105, 8, 0x11, "");
	struct frame f2 = tcp(2, 80, 1, 40000, 8, 106, 0x11, "");
	struct frame last = tcp(1, 40000, 2, 80, 106, 9, 0x10, "");

	feed(e, &s, 'a', MS(1));
	feed(e, &sa, 'b', MS(2));
	feed(e, &d, 'c', MS(3));
	feed(e, &f1, 'd', MS(4));
	ck_assert_int_eq(r.nwritten, 0);
	feed(e, &f2, 'e', MS(5));
	ck_assert_int_eq(r.nwritten, 5);
	feed(e, &last, 'f', MS(6));
	ck_assert_int_eq(r.nwritten, 6);
	ck_assert_uint_eq(st.flows_tcp, 1);
	engine_finish(e);
	r.written[r.nwritten] = '\0';
	ck_assert_str_eq(r.written, "abcdef");
	engine_free(e);
	match_set_free(ms);
}
END_TEST

/*
 * Five TCP connections one after the other (SYN, data, FIN, FIN), tagged
 * '0'..'4' per connection; the third carries the needle. Context cases:
 * which connections are selected, in file (serials) and held modes.
 */
static const struct {
	uint32_t after, before;
	bool hold, invert;
	const char *want;	/* tags written (held) or selected (file) */
} context_cases[] = {
	{ 0, 0, true, false, "2222" },
	{ 1, 0, true, false, "2222" "3333" },
	/* The needle decides flow 2 at its data: flow 1 follows its SYN. */
	{ 0, 1, true, false, "22" "1111" "22" },
	{ 1, 1, true, false, "22" "1111" "22" "3333" },
	{ 2, 2, true, false, "22" "0000" "1111" "22" "3333" "4444" },
	{ 0, 0, false, false, "2" },
	{ 1, 0, false, false, "23" },
	{ 0, 1, false, false, "12" },
	{ 1, 1, false, false, "123" },
	/* -v: the non-matching flows select the matching one as context. */
	{ 1, 0, false, true, "01234" },
	{ 0, 0, false, true, "0134" },
};

START_TEST(test_context)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("needle", NULL, NULL);
	struct engine *e;
	char got[64] = "";
	int i, n = 0;
	uint64_t t = 0;

	ctx_after = context_cases[_i].after;
	ctx_before = context_cases[_i].before;
	e = engine(ms, &st, &r, context_cases[_i].hold,
	    context_cases[_i].invert);
	for (i = 0; i < 5; i++) {
		uint16_t port = (uint16_t)(40000 + i);
		char tag = (char)('0' + i);
		struct frame syn = tcp(1, port, 2, 80, 100, 0, 0x02, "");
		struct frame data = tcp(1, port, 2, 80, 101, 0, 0x18,
		    i == 2 ? "a needle" : "hay");
		uint32_t end = i == 2 ? 109 : 104;
		struct frame fin1 = tcp(1, port, 2, 80, end, 0, 0x11, "");
		struct frame fin2 = tcp(2, 80, 1, port, 7, end + 1, 0x11, "");

		feed(e, &syn, tag, MS(++t));
		feed(e, &data, tag, MS(++t));
		feed(e, &fin1, tag, MS(++t));
		feed(e, &fin2, tag, MS(++t));
	}
	engine_finish(e);
	if (context_cases[_i].hold) {
		memcpy(got, r.written, (size_t)r.nwritten);
		got[r.nwritten] = '\0';
	} else
		for (i = 0; i < 5; i++)
			if (engine_selected(e, (uint32_t)i))
				got[n++] = (char)('0' + i);
	ck_assert_msg(strcmp(got, context_cases[_i].want) == 0,
	    "case %d: got %s want %s", _i, got, context_cases[_i].want);
	ck_assert_uint_eq(st.flows_context, context_cases[_i].invert ?
	    (context_cases[_i].after ? 1 : 0) :
	    context_cases[_i].after + context_cases[_i].before);
	engine_free(e);
	match_set_free(ms);
	ctx_after = ctx_before = 0;
}
END_TEST

/*
 * -k: a selected flow is killed, and again on each later packet, except on
 * RSTs (its own come back through the capture) and never at the end of
 * input or for a connection that is over.
 */
START_TEST(test_kill_repeats_but_not_on_rsts)
{
	struct stats st = { 0 };
	struct result r = { 0 };
	struct match_set *ms = patterns("evil", NULL, NULL);
	struct engine *e;
	struct frame syn = tcp(1, 40000, 2, 25, 100, 0, 0x02, "");
	struct frame data = tcp(1, 40000, 2, 25, 101, 0, 0x18, "EHLO evil");
	struct frame ack = tcp(2, 25, 1, 40000, 7, 110, 0x10, "");
	struct frame rst = tcp(2, 25, 1, 40000, 7, 110, 0x14, "");
	struct frame other = tcp(3, 40001, 2, 25, 500, 0, 0x02, "");

	kills = 0;
	e = engine(ms, &st, &r, true, false);
	feed(e, &syn, 'a', MS(1));
	ck_assert_int_eq(kills, 0);
	feed(e, &data, 'b', MS(2));
	ck_assert_int_eq(kills, 1);
	feed(e, &ack, 'c', MS(3));
	ck_assert_int_eq(kills, 2);
	feed(e, &rst, 'd', MS(4));	/* our own RST coming back */
	ck_assert_int_eq(kills, 2);
	feed(e, &ack, 'e', MS(5));	/* the flow is closed now */
	ck_assert_int_eq(kills, 3);
	ck_assert_uint_eq(st.flows_killed, 1);
	engine_free(e);
	match_set_free(ms);

	/* -v -k: flows undecided at the end of input are not killed. */
	kills = 0;
	e = engine(ms = patterns("nothing", NULL, NULL), &st, &r, true, true);
	feed(e, &other, 'f', MS(6));
	engine_finish(e);
	ck_assert_int_eq(kills, 0);
	engine_free(e);
	match_set_free(ms);
	kills = -1;
}
END_TEST

static Suite *
engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("path");

	tcase_add_test(tc, test_split_match_hold_mode);
	tcase_add_test(tc, test_invert_hold_mode_order);
	tcase_add_loop_test(tc, test_two_pass_serials, 0, 8);
	tcase_add_loop_test(tc, test_fragments_join_their_flow, 0, 3);
	tcase_add_test(tc, test_empty_pattern_selects_all);
	tcase_add_test(tc, test_close_decides_and_strays_follow);
	tcase_add_test(tc, test_kill_repeats_but_not_on_rsts);
	tcase_add_loop_test(tc, test_context, 0,
	    sizeof(context_cases) / sizeof(context_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(engine_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
