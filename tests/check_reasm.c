/* check_reasm.c: table-driven tests of IP defragmentation and TCP streams. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "reasm.h"
#include "stats.h"

/* ---- TCP: a sink that records both streams, gaps shown as "[gap N]" ---- */

struct rec {
	char *buf[2];
	size_t len[2];
	size_t cap[2];
	uint64_t bytes[2];	/* delivered plus skipped, to check offset */
};

static void
rec_append(struct rec *rc, int dir, const void *p, size_t n)
{
	ck_assert(dir == 0 || dir == 1);
	if (rc->len[dir] + n + 1 > rc->cap[dir]) {
		rc->cap[dir] = (rc->len[dir] + n + 1) * 2;
		rc->buf[dir] = realloc(rc->buf[dir], rc->cap[dir]);
		ck_assert_ptr_nonnull(rc->buf[dir]);
	}
	memcpy(rc->buf[dir] + rc->len[dir], p, n);
	rc->len[dir] += n;
	rc->buf[dir][rc->len[dir]] = '\0';
}

static void
rec_data(void *ctx, int dir, const uint8_t *p, uint32_t len)
{
	struct rec *rc = ctx;

	ck_assert_uint_gt(len, 0);
	rec_append(rc, dir, p, len);
	rc->bytes[dir] += len;
}

static void
rec_gap(void *ctx, int dir, uint32_t len)
{
	struct rec *rc = ctx;
	char tmp[32];

	ck_assert_uint_gt(len, 0);
	snprintf(tmp, sizeof(tmp), "[gap %u]", len);
	rec_append(rc, dir, tmp, strlen(tmp));
	rc->bytes[dir] += len;
}

static const char *
rec_str(const struct rec *rc, int dir)
{
	return rc->buf[dir] != NULL ? rc->buf[dir] : "";
}

static void
rec_free(struct rec *rc)
{
	free(rc->buf[0]);
	free(rc->buf[1]);
	memset(rc, 0, sizeof(*rc));
}

/* ---- TCP case table ---- */

#define F_ TCP_FIN
#define S_ TCP_SYN
#define R_ TCP_RST
#define A_ TCP_ACK

/*
 * One segment. seq is relative to the sender's ISN (the SYN is 0, its first
 * data byte 1), ack relative to the receiver's. wire 0 means the whole data
 * was captured. win 0 means 65535. ev is the event expected back.
 */
struct tseg {
	int dir;
	uint32_t rel;
	uint8_t flags;
	const char *data;
	uint32_t wire;
	uint32_t ack;
	uint16_t win;
	int8_t wscale;
	int ev;
	bool nosink;
};

#define END { -1, 0, 0, NULL, 0, 0, 0, -1, 0, false }
/* Client / server segments without ACK. */
#define C(rel, fl, d) { 0, rel, fl, d, 0, 0, 0, -1, REASM_TCP_OK, false }
#define SV(rel, fl, d) { 1, rel, fl, d, 0, 0, 0, -1, REASM_TCP_OK, false }
/* With an ACK of the other side. */
#define CA(rel, fl, d, a) \
	{ 0, rel, (fl) | A_, d, 0, a, 0, -1, REASM_TCP_OK, false }
#define SA(rel, fl, d, a) \
	{ 1, rel, (fl) | A_, d, 0, a, 0, -1, REASM_TCP_OK, false }
/* Anything, spelled out. */
#define X(dir, rel, fl, d, wire, a, win, ws, ev) \
	{ dir, rel, fl, d, wire, a, win, ws, ev, false }
/* A segment processed without a sink. */
#define NS(dir, rel, fl, d) \
	{ dir, rel, fl, d, 0, 0, 0, -1, REASM_TCP_OK, true }
#define NSX(dir, rel, fl, d, ev) { dir, rel, fl, d, 0, 0, 0, -1, ev, true }

/* The three-way handshake, both streams starting at relative 1. */
#define HS C(0, S_, ""), SA(0, S_, "", 1), CA(1, 0, "", 1)

struct tcount {
	uint64_t conflicts;
	uint64_t gaps;
	uint64_t gap_bytes;
	uint64_t retrans;
	uint64_t ooo;
	uint64_t cap_hits;
	uint64_t rst_ignored;
	uint64_t rst_payload;
};

struct tcase {
	const char *name;
	struct tseg segs[16];
	bool flush;
	const char *client;
	const char *server;
	struct tcount n;
};

/*       conflicts gaps gap_bytes retrans ooo cap rst_ign rst_pay */
#define N0 { 0, 0, 0, 0, 0, 0, 0, 0 }

static const struct tcase tcases[] = {
	{ "in order",
	    { HS, CA(1, 0, "abc", 1), CA(4, 0, "def", 1),
		SA(1, 0, "xyz", 7), CA(7, 0, "g", 4), END },
	    false, "abcdefg", "xyz", N0 },
	{ "reverse order",
	    { HS, CA(7, 0, "ghi", 1), CA(4, 0, "def", 1),
		CA(1, 0, "abc", 1), END },
	    false, "abcdefghi", "", { 0, 0, 0, 0, 2, 0, 0, 0 } },
	{ "retransmission, whole and partial",
	    { HS, CA(1, 0, "abc", 1), CA(1, 0, "abc", 1),
		CA(2, 0, "bcdef", 1), CA(3, 0, "c", 1), END },
	    false, "abcdef", "", { 0, 0, 0, 6, 0, 0, 0, 0 } },
	{ "overlap before a queued segment",
	    { HS, CA(5, 0, "EFGH", 1), CA(3, 0, "cdXF", 1),
		CA(1, 0, "ab", 1), END },
	    false, "abcdEFGH", "", { 1, 0, 0, 0, 2, 0, 0, 0 } },
	{ "overlap after a queued segment",
	    { HS, CA(5, 0, "EFGH", 1), CA(7, 0, "GhIJ", 1),
		CA(1, 0, "abcd", 1), END },
	    false, "abcdEFGHIJ", "", { 1, 0, 0, 0, 2, 0, 0, 0 } },
	{ "overlap inside a queued segment",
	    { HS, CA(3, 0, "cdefghij", 1), CA(5, 0, "eXg", 1),
		CA(1, 0, "ab", 1), END },
	    false, "abcdefghij", "", { 1, 0, 0, 0, 2, 0, 0, 0 } },
	{ "overlap spanning a queued segment",
	    { HS, CA(5, 0, "EF", 1), CA(3, 0, "cdXYgh", 1),
		CA(1, 0, "ab", 1), END },
	    false, "abcdEFgh", "", { 2, 0, 0, 0, 2, 0, 0, 0 } },
	{ "overlap spanning two queued segments and a hole",
	    { HS, CA(3, 0, "C", 1), CA(6, 0, "F", 1),
		CA(2, 0, "bXdeYg", 1), CA(1, 0, "a", 1), END },
	    false, "abCdeFg", "", { 2, 0, 0, 0, 3, 0, 0, 0 } },
	{ "identical overlap is no conflict",
	    { HS, CA(4, 0, "def", 1), CA(3, 0, "cdefg", 1),
		CA(1, 0, "ab", 1), END },
	    false, "abcdefg", "", { 0, 0, 0, 0, 2, 0, 0, 0 } },
	{ "in-order segment over queued bytes",
	    { HS, CA(4, 0, "DEF", 1), CA(1, 0, "abcdxf", 1), END },
	    false, "abcDEF", "", { 3, 0, 0, 0, 1, 0, 0, 0 } },
	{ "in-order segment through and past queued bytes",
	    { HS, CA(4, 0, "DE", 1), CA(1, 0, "abcdefgh", 1), END },
	    false, "abcDEfgh", "", { 2, 0, 0, 0, 1, 0, 0, 0 } },
	{ "duplicate queued segment",
	    { HS, CA(4, 0, "def", 1), CA(4, 0, "dXf", 1),
		CA(1, 0, "abc", 1), END },
	    false, "abcdef", "", { 1, 0, 0, 0, 2, 0, 0, 0 } },
	{ "SYN data (TCP Fast Open)",
	    { C(0, S_, "hello"), SA(0, S_, "", 6), CA(6, 0, "world", 1),
		SA(1, 0, "hi", 11), END },
	    false, "helloworld", "hi", N0 },
	{ "SYN data retransmitted in the first segment",
	    { C(0, S_, "hello"), SA(0, S_, "", 1), CA(1, 0, "helloworld", 1),
		END },
	    false, "helloworld", "", { 0, 0, 0, 5, 0, 0, 0, 0 } },
	{ "mid-stream start, pure ACK first",
	    { SA(100, 0, "", 50), CA(50, 0, "abc", 100),
		SA(100, 0, "def", 53), CA(53, 0, "ghi", 103), END },
	    false, "abcghi", "def", N0 },
	{ "mid-stream start out of order",
	    { CA(53, 0, "def", 100), CA(50, 0, "abc", 100),
		CA(56, 0, "ghi", 100), END },
	    false, "defghi", "", { 0, 0, 0, 3, 0, 0, 0, 0 } },
	{ "ACK proves a gap",
	    { HS, CA(1, 0, "abc", 1), CA(7, 0, "ghi", 1),
		SA(1, 0, "", 10), CA(10, 0, "j", 1), END },
	    false, "abc[gap 3]ghij", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "ACK proves two gaps",
	    { HS, CA(1, 0, "abc", 1), CA(7, 0, "ghi", 1),
		CA(13, 0, "mno", 1), SA(1, 0, "", 16), END },
	    false, "abc[gap 3]ghi[gap 3]mno", "",
	    { 0, 2, 6, 0, 2, 0, 0, 0 } },
	{ "ACK short of the queue skips only what it proves",
	    { HS, CA(1, 0, "abc", 1), CA(10, 0, "jkl", 1),
		SA(1, 0, "", 7), CA(7, 0, "ghi", 1), END },
	    false, "abc[gap 3]ghijkl", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "ACK past the data seen skips no further",
	    { HS, CA(1, 0, "abc", 1), SA(1, 0, "", 10),
		CA(7, 0, "ghi", 1), SA(1, 0, "", 10), END },
	    false, "abc[gap 3]ghi", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "ACK past a queued FIN stops at the FIN",
	    { HS, CA(1, 0, "abc", 1), CA(7, F_, "ghi", 1),
		SA(1, 0, "", 11), END },
	    false, "abc[gap 3]ghi", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "ACK of a half never seen does nothing",
	    { SA(1, 0, "", 500), SA(1, 0, "xy", 900), END },
	    false, "", "xy", N0 },
	{ "gap at flow end (flush)",
	    { HS, CA(1, 0, "abc", 1), CA(7, 0, "ghi", 1),
		SA(1, 0, "x", 4), END },
	    true, "abc[gap 3]ghi", "x", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "flush delivers both directions",
	    { HS, CA(4, 0, "def", 1), SA(3, 0, "yz", 1), END },
	    true, "[gap 3]def", "[gap 2]yz", { 0, 2, 5, 0, 2, 0, 0, 0 } },
	{ "truncated segment leaves a hole that an ACK skips",
	    { HS, X(0, 1, A_, "abc", 6, 1, 0, -1, 0), CA(7, 0, "ghi", 1),
		SA(1, 0, "", 10), END },
	    false, "abc[gap 3]ghi", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "truncated last segment: flush skips the cut tail",
	    { HS, X(0, 1, A_, "abc", 6, 1, 0, -1, 0), END },
	    true, "abc[gap 3]", "", { 0, 1, 3, 0, 0, 0, 0, 0 } },
	{ "truncated segment's hole filled by a retransmission",
	    { HS, X(0, 1, A_, "abc", 6, 1, 0, -1, 0), CA(1, 0, "abcdef", 1),
		END },
	    false, "abcdef", "", { 0, 0, 0, 3, 0, 0, 0, 0 } },
	{ "mid-stream start on a segment cut to nothing",
	    { X(0, 50, A_, "", 3, 1, 0, -1, 0), CA(53, 0, "def", 1), END },
	    true, "[gap 3]def", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "RST in window: payload not delivered",
	    { HS, CA(1, 0, "abc", 1), X(1, 1, R_ | A_, "xx", 0, 4, 0, -1,
		REASM_TCP_RST), END },
	    false, "abc", "", { 0, 0, 0, 0, 0, 0, 0, 2 } },
	{ "RST in window from the client",
	    { HS, CA(1, 0, "abc", 1), X(0, 4, R_, "", 0, 0, 0, -1,
		REASM_TCP_RST), END },
	    false, "abc", "", N0 },
	{ "RST out of window ignored, data continues",
	    { HS, CA(1, 0, "abc", 1), X(1, 1000000, R_, "zz", 0, 0, 0, -1,
		REASM_TCP_OK), SA(1, 0, "def", 4), CA(4, 0, "ghi", 4), END },
	    false, "abcghi", "def", { 0, 0, 0, 0, 0, 0, 1, 0 } },
	{ "RST far below the window ignored",
	    { HS, CA(1, 0, "abc", 1), X(0, 4 - 70000, R_, "", 0, 0, 0, -1,
		REASM_TCP_OK), CA(4, 0, "d", 1), END },
	    false, "abcd", "", { 0, 0, 0, 0, 0, 0, 1, 0 } },
	{ "RST within the scaled window",
	    { X(0, 0, S_, "", 0, 0, 1000, 7, 0),
		X(1, 0, S_ | A_, "", 0, 1, 1000, 7, 0),
		X(0, 1, A_, "", 0, 1, 1000, -1, 0),
		X(1, 1, A_, "", 0, 1, 1000, -1, 0),
		X(0, 100001, R_, "", 0, 0, 0, -1, REASM_TCP_RST), END },
	    false, "", "", N0 },
	{ "RST past an unscaled window",
	    { X(0, 0, S_, "", 0, 0, 1000, -1, 0),
		X(1, 0, S_ | A_, "", 0, 1, 1000, 7, 0),
		X(0, 1, A_, "", 0, 1, 1000, -1, 0),
		X(1, 1, A_, "", 0, 1, 1000, -1, 0),
		X(0, 100001, R_, "", 0, 0, 0, -1, REASM_TCP_OK),
		X(0, 1001, R_, "", 0, 0, 0, -1, REASM_TCP_RST), END },
	    false, "", "", { 0, 0, 0, 0, 0, 0, 1, 0 } },
	/*
	 * An insertion before the SYN|ACK (suricata-verify bug 3286): the
	 * server's RST is reported, the engine decides what it means; its
	 * FIN, at a sequence number before the ISN, must not cut the stream.
	 */
	{ "FIN before the SYN|ACK ends nothing",
	    { C(0, S_, ""), X(1, 5000, R_ | A_, "", 0, 1, 0, -1,
		REASM_TCP_RST), X(1, 5000, F_ | A_, "", 0, 1, 0, -1,
		REASM_TCP_OK), SA(0, S_, "", 1), CA(1, 0, "abc", 1),
		SA(1, 0, "def", 4), CA(4, F_, "", 4),
		X(1, 4, F_ | A_, "", 0, 5, 0, -1, REASM_TCP_CLOSED), END },
	    false, "abc", "def", N0 },
	{ "RST on a connection never seen is accepted",
	    { X(0, 77, R_, "", 0, 0, 0, -1, REASM_TCP_RST), END },
	    false, "", "", N0 },
	{ "RST judged by the receiver's ACK when the sender was silent",
	    { SA(1, 0, "", 5), X(0, 5 + 200000, R_, "", 0, 0, 0, -1,
		REASM_TCP_OK), X(0, 5, R_, "", 0, 0, 0, -1, REASM_TCP_RST),
		END },
	    false, "", "", { 0, 0, 0, 0, 0, 0, 1, 0 } },
	{ "FIN both ways closes once",
	    { HS, CA(1, F_, "abc", 1), X(1, 1, F_ | A_, "def", 0, 5, 0, -1,
		REASM_TCP_CLOSED), CA(5, F_, "", 5), CA(5, 0, "", 5), END },
	    false, "abc", "def", N0 },
	{ "data after FIN ignored",
	    { HS, CA(1, F_, "abc", 1), CA(4, 0, "zzz", 1),
		CA(2, 0, "bcdef", 1), END },
	    true, "abc", "", { 0, 0, 0, 2, 0, 0, 0, 0 } },
	{ "FIN drops queued bytes beyond it",
	    { HS, CA(3, 0, "cdef", 1), CA(8, 0, "hi", 1),
		CA(1, F_, "abcd", 1), END },
	    true, "abcd", "", { 0, 0, 0, 0, 2, 0, 0, 0 } },
	{ "FIN after a gap closes",
	    { HS, CA(1, 0, "abc", 1), CA(7, F_, "ghi", 1),
		X(1, 1, F_ | A_, "", 0, 11, 0, -1, REASM_TCP_CLOSED), END },
	    false, "abc[gap 3]ghi", "", { 0, 1, 3, 0, 1, 0, 0, 0 } },
	{ "second SYN with another ISN after data is ignored",
	    { HS, CA(1, 0, "abc", 1), C(5000, S_, "zz"),
		CA(4, 0, "def", 1), END },
	    false, "abcdef", "", N0 },
	{ "SYN retransmitted before data",
	    { C(0, S_, ""), C(0, S_, ""), SA(0, S_, "", 1),
		CA(1, 0, "abc", 1), END },
	    false, "abc", "", N0 },
	{ "no sink: nothing kept, events still come",
	    { NS(0, 0, S_, ""), NS(1, 0, S_ | A_, ""), NS(0, 1, F_, "abc"),
		NSX(1, 1, F_, "xyz", REASM_TCP_CLOSED), END },
	    false, "", "", N0 },
	{ "no sink for a while: queue dropped, stream resumes after",
	    { HS, CA(1, 0, "abc", 1), CA(7, 0, "ghi", 1), NS(0, 10, A_, "j"),
		CA(11, 0, "kl", 1), CA(4, 0, "def", 1), END },
	    false, "abckl", "", { 0, 0, 0, 3, 1, 0, 0, 0 } },
	{ "no sink: RST window follows the data sent",
	    { NS(0, 0, S_, ""), NS(1, 0, S_ | A_, ""), NS(0, 1, 0, "abc"),
		NS(0, 7, 0, "ghi"), NS(1, 1, 0, ""),
		NSX(0, 10 + 65536, R_, "", REASM_TCP_OK),
		NSX(0, 10 + 65535, R_, "", REASM_TCP_RST), END },
	    false, "", "", { 0, 0, 0, 0, 0, 0, 1, 0 } },
};

static const uint32_t isns[] = { 0, 1, UINT32_MAX, UINT32_MAX - 10 };
#define NISNS (sizeof(isns) / sizeof(isns[0]))

/*
 * Queued segments never overlap and lie between next_seq and snd_end, so
 * they can hold no more bytes than that span.
 */
static void
check_queue(const struct tcp_conn *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		const struct tcp_half *h = &c->half[i];

		if (h->ooo == NULL) {
			ck_assert_uint_eq(h->ooo_bytes, 0);
			continue;
		}
		ck_assert(h->flags & TCPH_SEQ_KNOWN);
		ck_assert_uint_gt(h->ooo_bytes, 0);
		ck_assert_uint_le(h->ooo_bytes, h->snd_end - h->next_seq);
	}
}

static void
run_tcase(const struct tcase *tc, uint32_t cisn, uint32_t sisn)
{
	struct stats st;
	struct reasm_tcp *r;
	struct tcp_conn c;
	struct tcp_seg seg;
	struct rec rc;
	struct reasm_sink sink = { rec_data, rec_gap, &rc };
	const struct tseg *ts;
	int ev, i;

	memset(&st, 0, sizeof(st));
	memset(&rc, 0, sizeof(rc));
	r = reasm_tcp_new(&st);
	ck_assert_ptr_nonnull(r);
	reasm_tcp_init(&c);
	for (ts = tc->segs; ts->dir >= 0; ts++) {
		memset(&seg, 0, sizeof(seg));
		seg.seq = (ts->dir == 0 ? cisn : sisn) + ts->rel;
		seg.ack = (ts->dir == 0 ? sisn : cisn) + ts->ack;
		seg.flags = ts->flags;
		seg.window = ts->win != 0 ? ts->win : 65535;
		seg.wscale = ts->wscale;
		seg.data = (const uint8_t *)ts->data;
		seg.len = strlen(ts->data);
		seg.wire_len = ts->wire != 0 ? ts->wire : seg.len;
		ev = reasm_tcp_segment(r, &c, ts->dir, &seg,
		    ts->nosink ? NULL : &sink);
		check_queue(&c);
		ck_assert_msg(ev == ts->ev,
		    "%s (isn %u/%u): segment %d: event %d, want %d", tc->name,
		    cisn, sisn, (int)(ts - tc->segs), ev, ts->ev);
	}
	if (tc->flush) {
		reasm_tcp_flush(r, &c, &sink);
		for (i = 0; i < 2; i++) {
			ck_assert_ptr_null(c.half[i].ooo);
			ck_assert_uint_eq(c.half[i].ooo_bytes, 0);
		}
	}
	ck_assert_msg(strcmp(rec_str(&rc, 0), tc->client) == 0,
	    "%s (isn %u/%u): client \"%s\", want \"%s\"", tc->name, cisn, sisn,
	    rec_str(&rc, 0), tc->client);
	ck_assert_msg(strcmp(rec_str(&rc, 1), tc->server) == 0,
	    "%s (isn %u/%u): server \"%s\", want \"%s\"", tc->name, cisn, sisn,
	    rec_str(&rc, 1), tc->server);
#define CNT(field, want) \
	ck_assert_msg(st.field == (want), "%s (isn %u/%u): " #field \
	    " %llu, want %llu", tc->name, cisn, sisn, \
	    (unsigned long long)st.field, (unsigned long long)(want))
	CNT(overlap_conflicts, tc->n.conflicts);
	CNT(tcp_gaps, tc->n.gaps);
	CNT(tcp_gap_bytes, tc->n.gap_bytes);
	CNT(tcp_retransmitted_bytes, tc->n.retrans);
	CNT(ooo_segments, tc->n.ooo);
	CNT(ooo_cap_hits, tc->n.cap_hits);
	CNT(rst_ignored, tc->n.rst_ignored);
	CNT(rst_payload_bytes, tc->n.rst_payload);
#undef CNT
	/* Cases without a sink segment: offset counts exactly what we saw. */
	for (ts = tc->segs; ts->dir >= 0 && !ts->nosink; ts++)
		;
	if (ts->dir < 0) {
		ck_assert_uint_eq(c.half[0].offset, rc.bytes[0]);
		ck_assert_uint_eq(c.half[1].offset, rc.bytes[1]);
	}
	reasm_tcp_release(r, &c);
	ck_assert_ptr_null(c.half[0].ooo);
	ck_assert_ptr_null(c.half[1].ooo);
	reasm_tcp_free(r);
	rec_free(&rc);
}

/* Every case at every pair of starting sequence numbers (Suricata's set). */
START_TEST(test_tcp_table)
{
	size_t a, b;

	for (a = 0; a < NISNS; a++)
		for (b = 0; b < NISNS; b++)
			run_tcase(&tcases[_i], isns[a], isns[b]);
}
END_TEST

/* Feeds one client data segment at relative seq rel. */
static enum reasm_tcp_event
client_data(struct reasm_tcp *r, struct tcp_conn *c, uint32_t isn,
    uint32_t rel, const uint8_t *p, uint32_t len,
    const struct reasm_sink *sink)
{
	struct tcp_seg seg;

	memset(&seg, 0, sizeof(seg));
	seg.seq = isn + rel;
	seg.flags = TCP_ACK;
	seg.window = 65535;
	seg.wscale = -1;
	seg.data = p;
	seg.len = seg.wire_len = len;
	return reasm_tcp_segment(r, c, 0, &seg, sink);
}

static void
client_syn(struct reasm_tcp *r, struct tcp_conn *c, uint32_t isn,
    const struct reasm_sink *sink)
{
	struct tcp_seg seg;

	memset(&seg, 0, sizeof(seg));
	seg.seq = isn;
	seg.flags = TCP_SYN;
	seg.wscale = -1;
	reasm_tcp_segment(r, c, 0, &seg, sink);
}

/* A small deterministic generator, so random cases repeat exactly. */
static uint32_t
xorshift(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/*
 * Random segmentation, order, retransmissions (same bytes) and losses of a
 * known stream. Whatever the order, the flushed stream is the bytes covered
 * by some segment, with "[gap N]" for each uncovered run: the reference is
 * computed from coverage alone.
 */
START_TEST(test_tcp_random)
{
	enum { LEN = 6000, MAXSEG = 64 };
	static uint8_t stream[LEN];
	static bool covered[LEN];
	static struct seg { uint32_t off, len; } segs[LEN + LEN / 2];
	struct stats st;
	struct reasm_tcp *r;
	struct tcp_conn c;
	struct rec rc;
	struct reasm_sink sink = { rec_data, rec_gap, &rc };
	struct rec want;
	uint32_t state = 0x9e3779b9U + (uint32_t)_i, isn, nseg = 0, off, i, j;
	uint32_t last = 0, run;
	int round;

	for (round = 0; round < 4; round++) {
		isn = isns[round];
		for (i = 0; i < LEN; i++)
			stream[i] = (uint8_t)('a' + xorshift(&state) % 26);
		memset(covered, 0, sizeof(covered));
		/* Cut the stream, and add overlapping retransmissions. */
		nseg = 0;
		for (off = 0; off < LEN; off += segs[nseg++].len) {
			segs[nseg].off = off;
			segs[nseg].len = 1 + xorshift(&state) % MAXSEG;
			if (off + segs[nseg].len > LEN)
				segs[nseg].len = LEN - off;
		}
		for (i = nseg / 2; i > 0; i--) {
			segs[nseg].off = xorshift(&state) % (LEN - 1);
			segs[nseg].len = 1 + xorshift(&state) % (2 * MAXSEG);
			if (segs[nseg].off + segs[nseg].len > LEN)
				segs[nseg].len = LEN - segs[nseg].off;
			nseg++;
		}
		/* Shuffle, then lose some (odd seeds only). */
		for (i = nseg - 1; i > 0; i--) {
			struct seg t;

			j = xorshift(&state) % (i + 1);
			t = segs[i];
			segs[i] = segs[j];
			segs[j] = t;
		}
		if (_i % 2 == 1)
			nseg -= nseg / 10;

		memset(&st, 0, sizeof(st));
		memset(&rc, 0, sizeof(rc));
		r = reasm_tcp_new(&st);
		reasm_tcp_init(&c);
		client_syn(r, &c, isn, &sink);
		last = 0;
		for (i = 0; i < nseg; i++) {
			client_data(r, &c, isn, 1 + segs[i].off,
			    stream + segs[i].off, segs[i].len, &sink);
			check_queue(&c);
			for (j = 0; j < segs[i].len; j++)
				covered[segs[i].off + j] = true;
			if (segs[i].off + segs[i].len > last)
				last = segs[i].off + segs[i].len;
		}
		reasm_tcp_flush(r, &c, &sink);

		memset(&want, 0, sizeof(want));
		for (i = 0; i < last; i += run) {
			for (run = 0; i + run < last &&
			    covered[i + run] == covered[i]; run++)
				;
			if (covered[i])
				rec_append(&want, 0, stream + i, run);
			else
				rec_gap(&want, 0, run);
		}
		ck_assert_msg(strcmp(rec_str(&rc, 0), rec_str(&want, 0)) == 0,
		    "seed %d isn %u: streams differ", _i, isn);
		ck_assert_uint_eq(st.overlap_conflicts, 0);
		ck_assert_uint_eq(c.half[0].offset, last);
		ck_assert_ptr_null(c.half[0].ooo);
		reasm_tcp_release(r, &c);
		reasm_tcp_free(r);
		rec_free(&rc);
		rec_free(&want);
	}
}
END_TEST

/* The per-direction byte cap forces a gap skip. */
START_TEST(test_tcp_cap_dir)
{
	static uint8_t chunk[1000];
	struct stats st;
	struct reasm_tcp *r;
	struct tcp_conn c;
	struct rec rc;
	struct reasm_sink sink = { rec_data, rec_gap, &rc };
	uint32_t isn = isns[_i], k, queued = 0;

	memset(chunk, 'q', sizeof(chunk));
	memset(&st, 0, sizeof(st));
	memset(&rc, 0, sizeof(rc));
	r = reasm_tcp_new(&st);
	reasm_tcp_init(&c);
	client_syn(r, &c, isn, &sink);
	client_data(r, &c, isn, 1, (const uint8_t *)"abc", 3, &sink);
	/* Bytes 4..1003 never arrive; what follows is queued until the cap. */
	for (k = 0; queued <= REASM_OOO_MAX_DIR; k++) {
		client_data(r, &c, isn, 1004 + k * 1000, chunk, 1000, &sink);
		queued += 1000;
		if (queued <= REASM_OOO_MAX_DIR) {
			ck_assert_uint_eq(c.half[0].ooo_bytes, queued);
			ck_assert_uint_eq(st.ooo_cap_hits, 0);
		}
	}
	ck_assert_uint_eq(st.ooo_cap_hits, 1);
	ck_assert_uint_eq(st.tcp_gaps, 1);
	ck_assert_uint_eq(st.tcp_gap_bytes, 1000);
	ck_assert_ptr_null(c.half[0].ooo);
	ck_assert_uint_eq(c.half[0].ooo_bytes, 0);
	ck_assert_uint_eq(rc.len[0], 3 + strlen("[gap 1000]") + queued);
	ck_assert(memcmp(rc.buf[0], "abc[gap 1000]qqq", 16) == 0);
	ck_assert_uint_eq(c.half[0].offset, 3 + 1000 + (uint64_t)queued);
	/* The stream goes on in order after it. */
	client_data(r, &c, isn, 1004 + k * 1000, (const uint8_t *)"end", 3,
	    &sink);
	ck_assert(memcmp(rc.buf[0] + rc.len[0] - 3, "end", 3) == 0);
	reasm_tcp_release(r, &c);
	reasm_tcp_free(r);
	rec_free(&rc);
}
END_TEST

/* Many tiny segments hit the segment-count cap before the byte cap. */
START_TEST(test_tcp_cap_segs)
{
	struct stats st;
	struct reasm_tcp *r;
	struct tcp_conn c;
	struct rec rc;
	struct reasm_sink sink = { rec_data, rec_gap, &rc };
	uint32_t isn = isns[_i], k;

	memset(&st, 0, sizeof(st));
	memset(&rc, 0, sizeof(rc));
	r = reasm_tcp_new(&st);
	reasm_tcp_init(&c);
	client_syn(r, &c, isn, &sink);
	/* Every other byte, backwards: the slow insertion path each time. */
	for (k = 0; st.ooo_cap_hits == 0 && k < 100000; k++)
		client_data(r, &c, isn, 2 * (20000 - k), (const uint8_t *)"x",
		    1, &sink);
	ck_assert_uint_eq(st.ooo_cap_hits, 1);
	ck_assert_uint_eq(st.ooo_segments, k);
	ck_assert_uint_gt(k, 4000);
	ck_assert_uint_lt(k, 5000);
	/* The first gap went and its segment was delivered. */
	ck_assert_uint_eq(rc.bytes[0], 2 * (20000 - (k - 1)));
	ck_assert_uint_eq(c.half[0].ooo_bytes, k - 1);
	reasm_tcp_flush(r, &c, &sink);
	ck_assert_uint_eq(rc.bytes[0], 2 * 20000);
	ck_assert_uint_eq(st.tcp_gaps, k);
	reasm_tcp_release(r, &c);
	reasm_tcp_free(r);
	rec_free(&rc);
}
END_TEST

/* The global cap: the connection that pushes the total over it pays. */
START_TEST(test_tcp_cap_total)
{
	enum { CONNS = 130, SEG = 10400, PER = 1040000 };
	static uint8_t chunk[SEG];
	struct stats st;
	struct reasm_tcp *r;
	struct tcp_conn *c;
	struct rec rc;
	struct reasm_sink sink = { rec_data, rec_gap, &rc };
	uint32_t i, k;

	memset(&st, 0, sizeof(st));
	memset(&rc, 0, sizeof(rc));
	r = reasm_tcp_new(&st);
	c = calloc(CONNS, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < CONNS; i++) {
		reasm_tcp_init(&c[i]);
		client_syn(r, &c[i], 0, &sink);
		for (k = 0; k < PER / SEG; k++) {
			client_data(r, &c[i], 0, 1 + SEG + k * SEG, chunk, SEG,
			    &sink);
			if (st.ooo_cap_hits > 0)
				break;
		}
		if (st.ooo_cap_hits > 0)
			break;
	}
	ck_assert_uint_eq(st.ooo_cap_hits, 1);
	ck_assert_uint_eq(i, 129);
	ck_assert_uint_eq((uint64_t)129 * PER + (k + 1) * SEG >
	    REASM_OOO_MAX_TOTAL, 1);
	ck_assert_uint_eq(st.tcp_gap_bytes, SEG);
	ck_assert_ptr_null(c[129].half[0].ooo);
	ck_assert_ptr_nonnull(c[128].half[0].ooo);
	for (i = 0; i < CONNS; i++)
		reasm_tcp_release(r, &c[i]);
	free(c);
	reasm_tcp_free(r);
	rec_free(&rc);
}
END_TEST

/* Stats may be NULL, a NULL sink on flush only drops queues. */
START_TEST(test_tcp_null_stats)
{
	struct reasm_tcp *r = reasm_tcp_new(NULL);
	struct tcp_conn c;
	struct rec rc;
	struct reasm_sink sink = { rec_data, rec_gap, &rc };

	memset(&rc, 0, sizeof(rc));
	reasm_tcp_init(&c);
	client_syn(r, &c, 5, &sink);
	client_data(r, &c, 5, 4, (const uint8_t *)"def", 3, &sink);
	ck_assert_ptr_nonnull(c.half[0].ooo);
	reasm_tcp_flush(r, &c, NULL);
	ck_assert_ptr_null(c.half[0].ooo);
	ck_assert_uint_eq(c.half[0].offset, 6);
	/* A second flush and a release change nothing. */
	reasm_tcp_flush(r, &c, &sink);
	reasm_tcp_release(r, &c);
	ck_assert_str_eq(rec_str(&rc, 0), "");
	reasm_tcp_free(r);
	rec_free(&rc);
}
END_TEST

/* ---- IP defragmentation ---- */

struct drops {
	int n;
	uintptr_t owner[4096];
	bool first_view_ok;
};

static void
on_drop(void *ctx, struct defrag_dgram *dg)
{
	struct drops *dr = ctx;

	ck_assert_ptr_null(dg->payload);
	if (dr->n < (int)(sizeof(dr->owner) / sizeof(dr->owner[0])))
		dr->owner[dr->n] = (uintptr_t)dg->owner;
	dr->n++;
}

/* A fragment. */
struct tfrag {
	uint32_t off;
	const char *data;
	int more;
	uint32_t wire;		/* 0: all captured */
	uint32_t id;		/* 0: the case's */
	int res;		/* expected defrag_result */
};

#define FR(off, d, more, res) { off, d, more, 0, 0, res }
#define FW(off, d, more, wire, res) { off, d, more, wire, 0, res }
#define FI(off, d, more, id, res) { off, d, more, 0, id, res }
#define FEND { 0, NULL, 0, 0, 0, 0 }
#define P_ DEFRAG_PENDING
#define C_ DEFRAG_COMPLETE
#define I_ DEFRAG_INVALID

struct dcase {
	const char *name;
	struct tfrag frags[12];
	const char *whole[3];	/* payloads of completions, in order */
	uint64_t overlaps;
	int pending;		/* datagrams left, dropped by defrag_free */
};

static const struct dcase dcases[] = {
	{ "in order",
	    { FR(0, "AAAAAAAA", 1, P_), FR(8, "BBBBBBBB", 1, P_),
		FR(16, "CC", 0, C_), FEND },
	    { "AAAAAAAABBBBBBBBCC" }, 0, 0 },
	{ "reversed",
	    { FR(16, "CC", 0, P_), FR(8, "BBBBBBBB", 1, P_),
		FR(0, "AAAAAAAA", 1, C_), FEND },
	    { "AAAAAAAABBBBBBBBCC" }, 0, 0 },
	{ "shuffled",
	    { FR(16, "CCCCCCCC", 1, P_), FR(0, "AAAAAAAA", 1, P_),
		FR(32, "E", 0, P_), FR(8, "BBBBBBBB", 1, P_),
		FR(24, "DDDDDDDD", 1, C_), FEND },
	    { "AAAAAAAABBBBBBBBCCCCCCCCDDDDDDDDE" }, 0, 0 },
	{ "single fragment with MF clear at offset 0",
	    { FR(0, "whole", 0, C_), FEND }, { "whole" }, 0, 0 },
	{ "duplicate",
	    { FR(0, "AAAAAAAA", 1, P_), FR(0, "AAAAAAAA", 1, P_),
		FR(8, "BB", 0, C_), FEND },
	    { "AAAAAAAABB" }, 1, 0 },
	{ "overlap: first wins",
	    { FR(0, "AAAAAAAA", 1, P_), FR(4, "xxxxxxxxxxxx", 1, P_),
		FR(16, "CC", 0, C_), FEND },
	    { "AAAAAAAAxxxxxxxxCC" }, 1, 0 },
	{ "overlap spanning two stored pieces and the hole between",
	    { FR(0, "AAAAAAAA", 1, P_), FR(16, "CCCCCCCC", 1, P_),
		FR(4, "yyyyyyyyyyyyyyyyyyyy", 1, P_), FR(24, "D", 0, C_),
		FEND },
	    { "AAAAAAAAyyyyyyyyCCCCCCCCD" }, 1, 0 },
	{ "overlap of the last fragment counted once",
	    { FR(8, "BBBBBBBB", 1, P_), FR(0, "zzzzzzzzzzzzzzzzzz", 0, C_),
		FEND },
	    { "zzzzzzzzBBBBBBBBzz" }, 1, 0 },
	{ "missing middle stays pending",
	    { FR(0, "AAAAAAAA", 1, P_), FR(16, "CC", 0, P_), FEND },
	    { NULL }, 0, 1 },
	{ "truncated fragment never completes",
	    { FW(0, "AAAA", 1, 8, P_), FR(8, "BB", 0, P_), FEND },
	    { NULL }, 0, 1 },
	{ "truncated fragment's hole filled by a duplicate",
	    { FW(0, "AAAA", 1, 8, P_), FR(8, "BB", 0, P_),
		FR(0, "AAAAAAAA", 1, C_), FEND },
	    { "AAAAAAAABB" }, 1, 0 },
	{ "interleaved datagrams, different IDs",
	    { FI(0, "11111111", 1, 7, P_), FI(0, "22222222", 1, 8, P_),
		FI(8, "2", 0, 8, C_), FI(8, "1", 0, 7, C_), FEND },
	    { "222222222", "111111111" }, 0, 0 },
	{ "offset past the largest datagram",
	    { FR(65528, "AAAAAAAAAAAAAAAA", 1, I_),
		FR(65520, "AAAAAAAAAAAAAAAA", 0, I_), FEND },
	    { NULL }, 0, 0 },
	{ "last fragment ending exactly at the limit",
	    { FR(65520, "AAAAAAAAAAAAAAA", 0, P_), FEND }, { NULL }, 0, 1 },
	{ "empty middle fragment",
	    { FR(0, "AAAAAAAA", 1, P_), FR(8, "", 1, I_), FEND },
	    { NULL }, 0, 1 },
	{ "empty last fragment sets the end",
	    { FR(0, "AAAAAAAA", 1, P_), FR(8, "", 0, C_), FEND },
	    { "AAAAAAAA" }, 0, 0 },
	{ "fragment past the known end",
	    { FR(8, "BB", 0, P_), FR(8, "BBBBBBBB", 1, I_),
		FR(0, "AAAAAAAA", 1, C_), FEND },
	    { "AAAAAAAABB" }, 0, 0 },
	{ "last fragment short of stored data",
	    { FR(8, "BBBBBBBB", 1, P_), FR(8, "BB", 0, I_), FEND },
	    { NULL }, 0, 1 },
	{ "two last fragments disagree",
	    { FR(8, "BB", 0, P_), FR(16, "CC", 0, I_), FEND },
	    { NULL }, 0, 1 },
};

static const uint8_t addr_a[16] = { 10, 0, 0, 1 };
static const uint8_t addr_b[16] = { 10, 0, 0, 2 };
static const uint8_t addr6_a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t addr6_b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

static void
mkfrag(struct pkt_view *v, int ipver, uint32_t id, uint32_t off,
    const void *data, uint32_t len, uint32_t wire, int more)
{
	memset(v, 0, sizeof(*v));
	v->status = DECODE_FRAGMENT;
	v->ipver = ipver;
	v->proto = IPPROTO_NUM_UDP;
	memcpy(v->src, ipver == 4 ? addr_a : addr6_a, 16);
	memcpy(v->dst, ipver == 4 ? addr_b : addr6_b, 16);
	v->vlan[0] = 42;
	v->vlan_count = 1;
	v->frag_id = id;
	v->frag_offset = off;
	v->frag_more = more;
	v->frag_data = data;
	v->frag_len = len;
	v->frag_wire_len = wire != 0 ? wire : len;
	v->wscale = -1;
}

static void
run_dcase(const struct dcase *dc, int ipver)
{
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;
	const struct tfrag *f;
	uint64_t nfrag = 0, done = 0;
	uint8_t *copy;
	size_t len;
	int res;

	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	ck_assert_ptr_nonnull(d);
	for (f = dc->frags; f->data != NULL; f++) {
		/* A private copy, so nothing can point into it afterwards. */
		len = strlen(f->data);
		copy = malloc(len + 1);
		memcpy(copy, f->data, len + 1);
		mkfrag(&v, ipver, f->id != 0 ? f->id : 0x1234U,
		    f->off, copy, len, f->wire, f->more);
		res = defrag_add(d, &v, 1000 + nfrag, &dg);
		memset(copy, '#', len);
		free(copy);
		nfrag++;
		ck_assert_msg(res == f->res, "%s (IPv%d): fragment %d: %d, "
		    "want %d", dc->name, ipver, (int)(f - dc->frags), res,
		    f->res);
		if (res == DEFRAG_INVALID) {
			ck_assert_ptr_null(dg);
			continue;
		}
		ck_assert_ptr_nonnull(dg);
		if (res == DEFRAG_PENDING) {
			dg->owner = (void *)(uintptr_t)nfrag;
			continue;
		}
		ck_assert_ptr_nonnull(dc->whole[done]);
		ck_assert_uint_eq(dg->payload_len, strlen(dc->whole[done]));
		ck_assert_msg(memcmp(dg->payload, dc->whole[done],
		    dg->payload_len) == 0, "%s (IPv%d): payload \"%.*s\"",
		    dc->name, ipver, (int)dg->payload_len, dg->payload);
		ck_assert_uint_eq(dg->view.ipver, ipver);
		ck_assert_uint_eq(dg->view.proto, IPPROTO_NUM_UDP);
		ck_assert_uint_eq(dg->view.vlan[0], 42);
		ck_assert_uint_eq(dg->view.vlan_count, 1);
		ck_assert(memcmp(dg->view.src, ipver == 4 ? addr_a : addr6_a,
		    16) == 0);
		ck_assert(memcmp(dg->view.dst, ipver == 4 ? addr_b : addr6_b,
		    16) == 0);
		ck_assert_ptr_null(dg->view.frag_data);
		ck_assert_ptr_null(dg->view.payload);
		defrag_release(d, dg);
		done++;
	}
	ck_assert_ptr_null(dc->whole[done]);
	ck_assert_uint_eq(st.fragments, nfrag);
	ck_assert_uint_eq(st.datagrams_reassembled, done);
	ck_assert_uint_eq(st.fragment_overlaps, dc->overlaps);
	ck_assert_int_eq(dr.n, 0);
	/* Nothing expires before its time, then everything does. */
	defrag_expire(d, 1000 + DEFRAG_TIMEOUT_NS);
	ck_assert_int_eq(dr.n, 0);
	defrag_expire(d, 1000 + nfrag + DEFRAG_TIMEOUT_NS);
	ck_assert_int_eq(dr.n, dc->pending);
	ck_assert_uint_eq(st.datagrams_incomplete, dc->pending);
	if (dc->pending > 0)
		ck_assert_uint_ne(dr.owner[0], 0);
	defrag_free(d);
	ck_assert_int_eq(dr.n, dc->pending);
	ck_assert_uint_eq(st.fragment_mem_evictions, 0);
}

START_TEST(test_defrag_table)
{
	run_dcase(&dcases[_i], 4);
	run_dcase(&dcases[_i], 6);
}
END_TEST

/* A realistic datagram: 1480-byte fragments in every order of a rotation. */
START_TEST(test_defrag_large)
{
	enum { TOTAL = 8000, STEP = 1480 };
	static uint8_t ref[TOTAL];
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;
	uint32_t i, nf = (TOTAL + STEP - 1) / STEP, k, off, len;
	int ipver = _i % 2 == 0 ? 4 : 6, res = -1;

	for (i = 0; i < TOTAL; i++)
		ref[i] = (uint8_t)(i * 7 + i / 251);
	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	for (k = 0; k < nf; k++) {
		/* Start at a different fragment each run, then wrap around. */
		i = (k + (uint32_t)_i / 2) % nf;
		off = i * STEP;
		len = off + STEP > TOTAL ? TOTAL - off : STEP;
		mkfrag(&v, ipver, 99, off, ref + off, len, 0, i + 1 < nf);
		res = defrag_add(d, &v, 5, &dg);
		ck_assert_int_eq(res, k + 1 < nf ? DEFRAG_PENDING :
		    DEFRAG_COMPLETE);
	}
	ck_assert_uint_eq(dg->payload_len, TOTAL);
	ck_assert(memcmp(dg->payload, ref, TOTAL) == 0);
	defrag_release(d, dg);
	defrag_free(d);
	ck_assert_int_eq(dr.n, 0);
}
END_TEST

/* Random fragmentation, duplicates and order of one datagram. */
START_TEST(test_defrag_random)
{
	enum { TOTAL = 3000 };
	static uint8_t ref[TOTAL];
	static struct frag { uint32_t off, len; int more; } fr[TOTAL / 8 * 2];
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg = NULL;
	struct pkt_view v;
	uint32_t state = 12345 + (uint32_t)_i, n = 0, off, i, j;
	int res = DEFRAG_PENDING, ipver = _i % 2 == 0 ? 4 : 6;

	for (i = 0; i < TOTAL; i++)
		ref[i] = (uint8_t)xorshift(&state);
	for (off = 0; off < TOTAL; off += fr[n++].len) {
		fr[n].off = off;
		fr[n].len = 8 * (1 + xorshift(&state) % 40);
		if (off + fr[n].len >= TOTAL)
			fr[n].len = TOTAL - off;
		fr[n].more = off + fr[n].len < TOTAL;
	}
	for (i = n / 3; i > 0; i--) {
		j = xorshift(&state) % n;
		fr[n++] = fr[j];
	}
	for (i = n - 1; i > 0; i--) {
		struct frag t;

		j = xorshift(&state) % (i + 1);
		t = fr[i];
		fr[i] = fr[j];
		fr[j] = t;
	}
	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	for (i = 0; i < n && res != DEFRAG_COMPLETE; i++) {
		mkfrag(&v, ipver, 4242, fr[i].off, ref + fr[i].off, fr[i].len,
		    0, fr[i].more);
		res = defrag_add(d, &v, 1, &dg);
		ck_assert_int_ne(res, DEFRAG_INVALID);
	}
	ck_assert_int_eq(res, DEFRAG_COMPLETE);
	ck_assert_uint_eq(dg->payload_len, TOTAL);
	ck_assert(memcmp(dg->payload, ref, TOTAL) == 0);
	ck_assert_uint_eq(st.datagrams_reassembled, 1);
	defrag_release(d, dg);
	defrag_free(d);
	ck_assert_int_eq(dr.n, 0);
}
END_TEST

/* Same addresses and ID but another protocol or VLAN: another datagram. */
START_TEST(test_defrag_key)
{
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;

	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	mkfrag(&v, 4, 5, 0, "AAAAAAAA", 8, 0, 1);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	mkfrag(&v, 4, 5, 8, "B", 1, 0, 0);
	v.proto = IPPROTO_NUM_TCP;
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	mkfrag(&v, 4, 5, 8, "B", 1, 0, 0);
	v.vlan[0] = 43;
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	mkfrag(&v, 6, 5, 8, "B", 1, 0, 0);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	mkfrag(&v, 4, 5, 8, "B", 1, 0, 0);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_COMPLETE);
	ck_assert_uint_eq(dg->payload_len, 9);
	defrag_release(d, dg);

	/*
	 * RFC 8200: IPv6 keys on addresses and ID only, and the first
	 * fragment's Next Header is the datagram's.
	 */
	mkfrag(&v, 6, 77, 8, "B", 1, 0, 0);
	v.proto = 60;
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	mkfrag(&v, 6, 77, 0, "AAAAAAAA", 8, 0, 1);
	v.proto = IPPROTO_NUM_TCP;
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_COMPLETE);
	ck_assert_uint_eq(dg->view.proto, IPPROTO_NUM_TCP);
	ck_assert_uint_eq(dg->view.frag_id, 77);
	defrag_release(d, dg);

	/* Not IP at all. */
	mkfrag(&v, 4, 1, 0, "x", 1, 0, 1);
	v.ipver = 0;
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_INVALID);
	ck_assert_uint_eq(st.fragments, 8);
	ck_assert_uint_eq(st.datagrams_reassembled, 2);
	defrag_free(d);
	ck_assert_int_eq(dr.n, 3);
	ck_assert_uint_eq(st.datagrams_incomplete, 3);
}
END_TEST

/* Expiry goes oldest first and stops at the first datagram still in time. */
START_TEST(test_defrag_expire_order)
{
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;
	uint32_t i;

	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	for (i = 1; i <= 10; i++) {
		mkfrag(&v, 4, i, 0, "AAAAAAAA", 8, 0, 1);
		ck_assert_int_eq(defrag_add(d, &v, i * 1000000000ULL, &dg),
		    DEFRAG_PENDING);
		dg->owner = (void *)(uintptr_t)i;
	}
	/* A later fragment does not restart a datagram's timer. */
	mkfrag(&v, 4, 1, 16, "C", 1, 0, 0);
	ck_assert_int_eq(defrag_add(d, &v, 9000000000ULL, &dg),
	    DEFRAG_PENDING);
	defrag_expire(d, 4 * 1000000000ULL + DEFRAG_TIMEOUT_NS + 1);
	ck_assert_int_eq(dr.n, 4);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(dr.owner[i], i + 1);
	defrag_free(d);
	ck_assert_int_eq(dr.n, 10);
	ck_assert_uint_eq(dr.owner[9], 10);
	ck_assert_uint_eq(st.datagrams_incomplete, 10);
}
END_TEST

/*
 * A first fragment older than the clock (timestamps that go back) starts
 * its timer at the clock, so the age list stays in expiry order: the
 * datagram after it is not held up, and it is not dropped at once.
 */
START_TEST(test_defrag_expire_old_timestamp)
{
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;
	uint64_t t0 = 100 * DEFRAG_TIMEOUT_NS;

	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	defrag_expire(d, t0);
	mkfrag(&v, 4, 1, 0, "AAAAAAAA", 8, 0, 1);
	ck_assert_int_eq(defrag_add(d, &v, 5, &dg), DEFRAG_PENDING);
	dg->owner = (void *)(uintptr_t)1;
	mkfrag(&v, 4, 2, 0, "AAAAAAAA", 8, 0, 1);
	ck_assert_int_eq(defrag_add(d, &v, t0 + 10, &dg), DEFRAG_PENDING);
	dg->owner = (void *)(uintptr_t)2;
	defrag_expire(d, t0 + 1);
	ck_assert_int_eq(dr.n, 0);
	defrag_expire(d, t0 + DEFRAG_TIMEOUT_NS + 1);
	ck_assert_int_eq(dr.n, 1);
	ck_assert_uint_eq(dr.owner[0], 1);
	defrag_expire(d, t0 + DEFRAG_TIMEOUT_NS + 11);
	ck_assert_int_eq(dr.n, 2);
	ck_assert_uint_eq(dr.owner[1], 2);
	defrag_free(d);
}
END_TEST

/* DEFRAG_MAX_DATAGRAMS: one more datagram evicts the oldest. */
START_TEST(test_defrag_cap_count)
{
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;
	uint32_t i;

	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	for (i = 0; i <= DEFRAG_MAX_DATAGRAMS; i++) {
		mkfrag(&v, 4, i & 0xffff, 0, "AAAAAAAA", 8, 0, 1);
		v.src[3] = (uint8_t)(1 + (i >> 16));
		ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
		dg->owner = (void *)(uintptr_t)(i + 1);
	}
	ck_assert_int_eq(dr.n, 1);
	ck_assert_uint_eq(dr.owner[0], 1);
	ck_assert_uint_eq(st.fragment_mem_evictions, 1);
	/* The evicted datagram is gone: its last fragment starts anew. */
	mkfrag(&v, 4, 0, 8, "B", 1, 0, 0);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	ck_assert_int_eq(dr.n, 2);
	ck_assert_uint_eq(dr.owner[1], 2);
	/* The newest is complete when its last fragment comes. */
	mkfrag(&v, 4, DEFRAG_MAX_DATAGRAMS & 0xffff, 8, "B", 1, 0, 0);
	v.src[3] = 1 + (DEFRAG_MAX_DATAGRAMS >> 16);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_COMPLETE);
	ck_assert_uint_eq((uintptr_t)dg->owner, DEFRAG_MAX_DATAGRAMS + 1);
	defrag_release(d, dg);
	defrag_free(d);
	ck_assert_int_eq(dr.n, DEFRAG_MAX_DATAGRAMS + 1);
	ck_assert_uint_eq(st.datagrams_incomplete, DEFRAG_MAX_DATAGRAMS + 1);
}
END_TEST

/*
 * DEFRAG_MEM_MAX: large fragments of many datagrams evict the oldest, in
 * order, from inside defrag_add, and never the datagram being added to.
 */
START_TEST(test_defrag_cap_mem)
{
	enum { BIG = 30000, N = 2500 };
	static uint8_t big[BIG];
	struct stats st;
	struct drops dr;
	struct defrag *d;
	struct defrag_dgram *dg;
	struct pkt_view v;
	uint32_t i;
	int before;

	memset(big, 'b', sizeof(big));
	memset(&st, 0, sizeof(st));
	memset(&dr, 0, sizeof(dr));
	d = defrag_new(&st, on_drop, &dr);
	for (i = 0; i < N; i++) {
		mkfrag(&v, 6, i, 0, big, BIG, 0, 1);
		before = dr.n;
		ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
		ck_assert_ptr_null(dg->owner);
		dg->owner = (void *)(uintptr_t)(i + 1);
		/* Each fragment makes room for itself by one eviction. */
		if (dr.n > before)
			ck_assert_int_eq(dr.n, before + 1);
	}
	ck_assert_int_gt(dr.n, 0);
	ck_assert_int_lt(dr.n, N - (int)(DEFRAG_MEM_MAX / (BIG + 1000)));
	ck_assert_uint_eq(st.fragment_mem_evictions, (uint64_t)dr.n);
	for (i = 0; i < (uint32_t)dr.n; i++)
		ck_assert_uint_eq(dr.owner[i], i + 1);
	/*
	 * Growing the oldest pending datagram evicts the next oldest, never
	 * the datagram the fragment belongs to.
	 */
	before = dr.n;
	mkfrag(&v, 6, before, BIG, big, BIG, 0, 1);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_PENDING);
	ck_assert_uint_eq((uintptr_t)dg->owner, before + 1);
	ck_assert_int_gt(dr.n, before);
	for (i = before; i < (uint32_t)dr.n; i++)
		ck_assert_uint_eq(dr.owner[i], i + 2);
	/* And it completes intact. */
	mkfrag(&v, 6, before, 2 * BIG, "end", 3, 0, 0);
	ck_assert_int_eq(defrag_add(d, &v, 1, &dg), DEFRAG_COMPLETE);
	ck_assert_uint_eq((uintptr_t)dg->owner, before + 1);
	ck_assert_uint_eq(dg->payload_len, 2 * BIG + 3);
	ck_assert(memcmp(dg->payload + 2 * BIG, "end", 3) == 0);
	ck_assert_int_eq(dg->payload[2 * BIG - 1], 'b');
	defrag_release(d, dg);
	defrag_free(d);
	ck_assert_int_eq(dr.n, N - 1);
}
END_TEST

static Suite *
reasm_suite(void)
{
	Suite *s = suite_create("reasm");
	TCase *tc;

	tc = tcase_create("tcp");
	tcase_add_loop_test(tc, test_tcp_table, 0,
	    sizeof(tcases) / sizeof(tcases[0]));
	tcase_add_loop_test(tc, test_tcp_random, 0, 40);
	tcase_add_loop_test(tc, test_tcp_cap_dir, 0, NISNS);
	tcase_add_loop_test(tc, test_tcp_cap_segs, 0, NISNS);
	tcase_add_test(tc, test_tcp_cap_total);
	tcase_add_test(tc, test_tcp_null_stats);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("defrag");
	tcase_add_loop_test(tc, test_defrag_table, 0,
	    sizeof(dcases) / sizeof(dcases[0]));
	tcase_add_loop_test(tc, test_defrag_large, 0, 12);
	tcase_add_loop_test(tc, test_defrag_random, 0, 40);
	tcase_add_test(tc, test_defrag_key);
	tcase_add_test(tc, test_defrag_expire_order);
	tcase_add_test(tc, test_defrag_expire_old_timestamp);
	tcase_add_test(tc, test_defrag_cap_count);
	tcase_add_test(tc, test_defrag_cap_mem);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reasm_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
