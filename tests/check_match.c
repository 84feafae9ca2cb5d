/* check_match.c: table-driven tests of pattern sets and streaming matches. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "stats.h"

#define CASE_PATS_MAX 4
#define CASE_GAPS_MAX 3
#define RANDOM_RUNS 8
#define RANDOM_SEED 0x2545f491U

/* Largest context any table pattern needs; bounds md->len with the window. */
#define CASE_CONTEXT_MAX 16

#define A (MATCH_CLIENT | MATCH_SERVER)
#define C MATCH_CLIENT
#define S MATCH_SERVER

struct pat_spec {
	const char *re;		/* NULL ends the list */
	size_t len;
	unsigned dirs;
	bool caseless;
};

/* Lengths from sizeof, so patterns and data may hold NUL bytes. */
#define PAT(s, d) { (s), sizeof(s) - 1, (d), false }
#define PATI(s, d) { (s), sizeof(s) - 1, (d), true }
#define DATA(s) .data = (s), .len = sizeof(s) - 1

/* A gap of len bytes in the stream before data byte at. */
struct gap_spec {
	uint32_t at;
	uint32_t len;
};

struct stream_case {
	const char *name;
	struct pat_spec pats[CASE_PATS_MAX + 1];
	int dir;
	const char *data;
	uint32_t len;
	struct gap_spec gaps[CASE_GAPS_MAX];
	int ngaps;
	uint32_t window;	/* 0: the default */
	uint64_t depth;
	int want;		/* pattern index, or -1 for no match */
	uint64_t off;		/* stream offset of the match */
	uint32_t mlen;
	bool len_varies;	/* a greedy match may end at a chunk's end */
	uint64_t overflows;	/* stats.window_overflows */
	uint64_t depth_reached;
};

#define A10 "aaaaaaaaaa"

static const struct stream_case stream_cases[] = {
	{ "literal", { PAT("hello", A) }, 0, DATA("xxhelloyy"),
	    .want = 0, .off = 2, .mlen = 5 },
	{ "literal absent", { PAT("hello", A) }, 0, DATA("xxhellyy hell"),
	    .want = -1 },
	{ "class", { PAT("[0-9]{3}-[0-9]{4}", A) }, 0,
	    DATA("call 555-1234 now"), .want = 0, .off = 5, .mlen = 8 },
	{ "alternation", { PAT("cat|dog", A) }, 0, DATA("hot dog and cat"),
	    .want = 0, .off = 4, .mlen = 3 },
	{ "caseless", { PATI("HeLLo", A) }, 0, DATA("say hello"),
	    .want = 0, .off = 4, .mlen = 5 },
	{ "case sensitive", { PAT("HeLLo", A) }, 0, DATA("say hello"),
	    .want = -1 },
	{ "caseless class", { PATI("[a-c]+X", A) }, 0, DATA("zzABcx"),
	    .want = 0, .off = 2, .mlen = 4 },
	{ "inline caseless", { PAT("(?i)get /", A) }, 0, DATA("xGeT /"),
	    .want = 0, .off = 1, .mlen = 5 },
	{ "NUL in payload", { PAT("a\\x00b", A) }, 0, DATA("xxa\0byy"),
	    .want = 0, .off = 2, .mlen = 3 },
	{ "NUL in pattern", { PAT("a\0b", A) }, 0, DATA("a\0a\0byy"),
	    .want = 0, .off = 2, .mlen = 3 },
	{ "high bytes", { PAT("\\xff\\xfe", A) }, 0, DATA("\x01\xff\xff\xfe"),
	    .want = 0, .off = 2, .mlen = 2 },
	{ "raw high bytes", { PAT("\xff\xfe", A) }, 0, DATA("\xfe\xff\xfe"),
	    .want = 0, .off = 1, .mlen = 2 },
	{ "^ at stream start", { PAT("^GET /", A) }, 0, DATA("GET /x"),
	    .want = 0, .off = 0, .mlen = 5 },
	{ "^ only at stream start", { PAT("^abc", A) }, 0, DATA("xabcabc"),
	    .want = -1 },
	{ "^ first of two", { PAT("^abc", A) }, 0, DATA("abcabc"),
	    .want = 0, .off = 0, .mlen = 3 },
	{ "\\A only at stream start", { PAT("\\Aabc", A) }, 0,
	    DATA("xabcabc"), .want = -1 },
	{ "$ at the end", { PAT("abc$", A) }, 0, DATA("xyzabc"),
	    .want = 0, .off = 3, .mlen = 3 },
	{ "\\b across a boundary", { PAT("\\bfoo", A) }, 0, DATA("xfoo foo"),
	    .want = 0, .off = 5, .mlen = 3 },
	{ "\\b at stream start", { PAT("\\bfoo", A) }, 0, DATA("foo"),
	    .want = 0, .off = 0, .mlen = 3 },
	{ "\\B across a boundary", { PAT("\\Boo", A) }, 0, DATA("oo foo"),
	    .want = 0, .off = 4, .mlen = 2 },
	{ "lookbehind", { PAT("(?<=user=)admin", A) }, 0,
	    DATA("user=guest user=admin"), .want = 0, .off = 16, .mlen = 5 },
	{ "lookbehind absent", { PAT("(?<=user=)admin", A) }, 0,
	    DATA("usex=admin admin"), .want = -1 },
	{ "negative lookbehind", { PAT("(?<!x)foo", A) }, 0,
	    DATA("xfoo yfoo"), .want = 0, .off = 6, .mlen = 3 },
	{ "nested lookbehind", { PAT("(?<=(?<!b)a)c", A) }, 0,
	    DATA("bac xac"), .want = 0, .off = 6, .mlen = 1 },
	{ "nested lookbehind absent", { PAT("(?<=(?<!b)a)c", A) }, 0,
	    DATA("bac bac"), .want = -1 },
	{ "lookahead", { PAT("foo(?=bar)", A) }, 0, DATA("foobaz foobar"),
	    .want = 0, .off = 7, .mlen = 3 },
	{ "\\K", { PAT("foo\\Kbar", A) }, 0, DATA("xfoobar"),
	    .want = 0, .off = 4, .mlen = 3 },
	{ "(?m)^ after newline", { PAT("(?m)^foo", A) }, 0,
	    DATA("bar\nfoo"), .want = 0, .off = 4, .mlen = 3 },
	{ "(?m)^ not mid-line", { PAT("(?m)^foo", A) }, 0, DATA("barfoo"),
	    .want = -1 },
	{ "(?m)^ at stream start", { PAT("(?m)^foo", A) }, 0, DATA("foo"),
	    .want = 0, .off = 0, .mlen = 3 },
	{ "(?m)^ after CRLF", { PAT("(*CRLF)(?m)^foo", A) }, 0,
	    DATA("bar\r\nfoo"), .want = 0, .off = 5, .mlen = 3 },
	{ "(?m)^ CRLF needs CR", { PAT("(*CRLF)(?m)^foo", A) }, 0,
	    DATA("bar\nfoo"), .want = -1 },
	{ "earliest pattern wins", { PAT("world", A), PAT("hello", A) }, 0,
	    DATA("hello world"), .want = 1, .off = 0, .mlen = 5 },
	{ "tie: lowest index", { PAT("hel", A), PAT("h.l", A) }, 0,
	    DATA("xhello"), .want = 0, .off = 1, .mlen = 3 },
	{ "earliest partial kept", { PAT("abcde!", A), PAT("de!", A) }, 0,
	    DATA("abcde!"), .want = 0, .off = 0, .mlen = 6 },
	{ "client only", { PAT("foo", S), PAT("bar", C) }, 0,
	    DATA("foo bar"), .want = 1, .off = 4, .mlen = 3 },
	{ "server only", { PAT("foo", S), PAT("bar", C) }, 1,
	    DATA("foo bar"), .want = 0, .off = 0, .mlen = 3 },
	{ "no pattern for dir", { PAT("foo", S) }, 0, DATA("foo"),
	    .want = -1 },
	{ "long partial", { PAT("abcdefghij", A) }, 0,
	    DATA("xxabcdefghijyy"), .want = 0, .off = 2, .mlen = 10 },
	{ "partial restarts", { PAT("abcabd", A) }, 0, DATA("abcabcabd"),
	    .want = 0, .off = 3, .mlen = 6 },
	{ "overlapping partials", { PAT("aab", A) }, 0, DATA("aaab"),
	    .want = 0, .off = 1, .mlen = 3 },
	{ "many partial starts", { PAT("abcd", A) }, 0, DATA("abcabcabcd"),
	    .want = 0, .off = 6, .mlen = 4 },
	{ "backtracking", { PAT("a.*b", A) }, 0, DATA("xxa--b"),
	    .want = 0, .off = 2, .mlen = 4 },
	{ "empty match", { PAT("x*", A) }, 0, DATA("abc"),
	    .want = 0, .off = 0, .mlen = 0 },
	{ "greedy empty", { PAT("x*", A) }, 0, DATA("xxab"),
	    .want = 0, .off = 0, .len_varies = true },
	{ "greedy optional", { PAT("dog(sbody)?", A) }, 0,
	    DATA("a dogsbody"), .want = 0, .off = 2, .len_varies = true },
	{ "match at the end", { PAT("end", A) }, 0, DATA("the end"),
	    .want = 0, .off = 4, .mlen = 3 },
	{ "long match, excerpt", { PAT("a[0-9]{80}b", A) }, 0,
	    DATA("-a0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789b"),
	    .want = 0, .off = 1, .mlen = 82 },
	{ "window: fits", { PAT("a.{6}z", A) }, 0, DATA("xa123456z"),
	    .window = 8, .want = 0, .off = 1, .mlen = 8 },
	{ "window: too long", { PAT("a.{10}z", A) }, 0,
	    DATA("a0123456789z"), .window = 8, .want = -1, .overflows = 1 },
	{ "window: later short match", { PAT("a.{0,20}z", A) }, 0,
	    DATA("a0123456789z a12z"), .window = 8, .want = 0, .off = 13,
	    .mlen = 4, .overflows = 1 },
	{ "window: run of starts", { PAT("(?s)a.*z", A) }, 0,
	    DATA(A10 A10 A10 A10 "z"), .window = 8, .want = 0, .off = 33,
	    .mlen = 8, .overflows = 1 },
	{ "window: past the retry cap", { PAT("(?s)a.*z", A) }, 0,
	    DATA(A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 "z"), .window = 8,
	    .want = 0, .off = 93, .mlen = 8, .overflows = 1 },
	{ "depth: inside", { PAT("345", A) }, 0, DATA("0123456789abc"),
	    .depth = 10, .want = 0, .off = 3, .mlen = 3 },
	{ "depth: beyond", { PAT("hello", A) }, 0, DATA("0123456789hello"),
	    .depth = 10, .want = -1, .depth_reached = 1 },
	{ "depth: straddling", { PAT("789abc", A) }, 0,
	    DATA("0123456789abc"), .depth = 10, .want = -1,
	    .depth_reached = 1 },
	{ "depth: exact end", { PAT("789", A) }, 0, DATA("0123456789abc"),
	    .depth = 10, .want = 0, .off = 7, .mlen = 3 },
	{ "gap: no match across", { PAT("hello", A) }, 0, DATA("hello"),
	    .gaps = { { 3, 2 } }, .ngaps = 1, .want = -1 },
	{ "gap: ^ after it", { PAT("^abc", A) }, 0, DATA("abc"),
	    .gaps = { { 0, 5 } }, .ngaps = 1, .want = -1 },
	{ "gap: empty, ^ after it", { PAT("^abc", A) }, 0, DATA("abc"),
	    .gaps = { { 0, 0 } }, .ngaps = 1, .want = -1 },
	{ "gap: offset after it", { PAT("hello", A) }, 0, DATA("xxhello"),
	    .gaps = { { 2, 10 } }, .ngaps = 1, .want = 0, .off = 12,
	    .mlen = 5 },
	{ "gap: offsets after two", { PAT("hello", A) }, 0,
	    DATA("abcdhello"), .gaps = { { 2, 3 }, { 4, 100 } }, .ngaps = 2,
	    .want = 0, .off = 107, .mlen = 5 },
	{ "gap: (?m)^ after it", { PAT("(?m)^abc", A) }, 0, DATA("x\nabc"),
	    .gaps = { { 2, 4 } }, .ngaps = 1, .want = -1 },
	{ "gap: lookbehind across", { PAT("(?<=user=)admin", A) }, 0,
	    DATA("user=admin"), .gaps = { { 5, 1 } }, .ngaps = 1,
	    .want = -1 },
	{ "gap: trailing", { PAT("abc", A) }, 0, DATA("ab"),
	    .gaps = { { 2, 7 } }, .ngaps = 1, .want = -1 },
	{ "gap: past depth", { PAT("hello", A) }, 0, DATA("abchello"),
	    .gaps = { { 3, 20 } }, .ngaps = 1, .depth = 20, .want = -1,
	    .depth_reached = 1 },
	{ "gap: before depth", { PAT("hello", A) }, 0, DATA("abchello"),
	    .gaps = { { 3, 10 } }, .ngaps = 1, .depth = 20, .want = 0,
	    .off = 13, .mlen = 5 },
};

#define NSTREAM_CASES (sizeof(stream_cases) / sizeof(stream_cases[0]))

struct result {
	bool hit;
	struct match_hit h;
	uint64_t overflows;
	uint64_t depth_reached;
};

static struct match_set *
build_set(const struct pat_spec *pats, uint32_t window, uint64_t depth)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];
	int i;

	ck_assert_ptr_nonnull(ms);
	for (i = 0; i < CASE_PATS_MAX && pats[i].re != NULL; i++)
		ck_assert_msg(match_set_add(ms, pats[i].re, pats[i].len,
		    pats[i].dirs, pats[i].caseless, "test", errbuf) == 0,
		    "%s", errbuf);
	match_set_limits(ms, window, depth);
	return ms;
}

static bool
gap_at(const struct stream_case *c, uint32_t pos)
{
	int g;

	for (g = 0; g < c->ngaps; g++)
		if (c->gaps[g].at == pos)
			return true;
	return false;
}

/*
 * Feeds the case's data cut before every position where cut[] is true (and
 * at every gap), each chunk in a buffer of its own so that ASan sees any
 * read past it or any use of it after the call.
 */
static void
run_stream(struct match_set *ms, const struct stream_case *c,
    const bool *cut, struct result *r)
{
	uint32_t window = c->window ? c->window : MATCH_WINDOW_DEFAULT;
	struct match_dir md;
	struct stats st;
	uint32_t pos = 0, end;
	uint8_t *chunk;
	int g = 0;

	memset(&md, 0, sizeof(md));
	memset(&st, 0, sizeof(st));
	memset(r, 0, sizeof(*r));
	match_set_stats(ms, &st);
	for (;;) {
		for (; g < c->ngaps && c->gaps[g].at == pos; g++)
			match_gap(ms, &md, c->gaps[g].len);
		if (pos >= c->len)
			break;
		for (end = pos + 1; end < c->len && !cut[end] &&
		    !gap_at(c, end); end++)
			;
		chunk = malloc(end - pos);
		ck_assert_ptr_nonnull(chunk);
		memcpy(chunk, c->data + pos, end - pos);
		r->hit = match_feed(ms, &md, c->dir, chunk, end - pos, &r->h);
		memset(chunk, '#', end - pos);
		free(chunk);
		if (r->hit)
			break;
		ck_assert_msg((md.buf == NULL) == (md.len == 0),
		    "%s: buffer %p holds %u bytes", c->name, (void *)md.buf,
		    md.len);
		ck_assert_uint_le(md.len, window + CASE_CONTEXT_MAX);
		ck_assert_uint_le(md.base + md.len, md.fed);
		pos = end;
	}
	r->overflows = st.window_overflows;
	r->depth_reached = st.depth_reached;
	match_dir_release(&md);
	ck_assert_ptr_null(md.buf);
}

/* The stream bytes at stream offset off (data with the gaps taken out). */
static const char *
stream_bytes(const struct stream_case *c, uint64_t off)
{
	uint64_t shift = 0;
	int g;

	for (g = 0; g < c->ngaps; g++)
		if (off >= c->gaps[g].at + shift + c->gaps[g].len)
			shift += c->gaps[g].len;
	return c->data + (off - shift);
}

static void
check_result(const struct stream_case *c, const struct result *r,
    const char *mode, long k)
{
	ck_assert_msg(r->hit == (c->want >= 0),
	    "%s [%s %ld]: hit %d, want %d (got pattern %d at %llu)", c->name,
	    mode, k, r->hit, c->want >= 0, r->hit ? r->h.pattern : -1,
	    r->hit ? (unsigned long long)r->h.offset : 0ULL);
	if (r->hit) {
		ck_assert_msg(r->h.pattern == c->want && r->h.offset == c->off,
		    "%s [%s %ld]: pattern %d at %llu, want %d at %llu",
		    c->name, mode, k, r->h.pattern,
		    (unsigned long long)r->h.offset, c->want,
		    (unsigned long long)c->off);
		ck_assert_int_eq(r->h.dir, c->dir);
		if (!c->len_varies)
			ck_assert_msg(r->h.len == c->mlen,
			    "%s [%s %ld]: len %u, want %u", c->name, mode, k,
			    r->h.len, c->mlen);
		ck_assert_uint_eq(r->h.excerpt_len, r->h.len <
		    MATCH_EXCERPT_MAX ? r->h.len : MATCH_EXCERPT_MAX);
		ck_assert_msg(memcmp(r->h.excerpt, stream_bytes(c, r->h.offset),
		    r->h.excerpt_len) == 0, "%s [%s %ld]: excerpt", c->name,
		    mode, k);
	}
	ck_assert_msg(r->overflows == c->overflows,
	    "%s [%s %ld]: %llu window overflows, want %llu", c->name, mode, k,
	    (unsigned long long)r->overflows,
	    (unsigned long long)c->overflows);
	ck_assert_msg(r->depth_reached == c->depth_reached,
	    "%s [%s %ld]: depth reached %llu, want %llu", c->name, mode, k,
	    (unsigned long long)r->depth_reached,
	    (unsigned long long)c->depth_reached);
}

static uint32_t
xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/*
 * Every case gives the same hit whole, split at every single point, in
 * 1-byte chunks, and in random chunks.
 */
START_TEST(test_stream_case)
{
	const struct stream_case *c = &stream_cases[_i];
	struct match_set *ms = build_set(c->pats, c->window, c->depth);
	struct result r;
	uint32_t k, seed = RANDOM_SEED + (uint32_t)_i;
	bool *cut = calloc(c->len + 1, sizeof(*cut));
	int run;

	ck_assert_ptr_nonnull(cut);
	run_stream(ms, c, cut, &r);
	check_result(c, &r, "whole", 0);
	for (k = 1; k < c->len; k++) {
		cut[k] = true;
		run_stream(ms, c, cut, &r);
		check_result(c, &r, "split", k);
		cut[k] = false;
	}
	for (k = 0; k <= c->len; k++)
		cut[k] = true;
	run_stream(ms, c, cut, &r);
	check_result(c, &r, "bytes", 1);
	for (run = 0; run < RANDOM_RUNS; run++) {
		for (k = 0; k <= c->len; k++)
			cut[k] = xorshift32(&seed) % 4 == 0;
		run_stream(ms, c, cut, &r);
		check_result(c, &r, "random", run);
	}
	free(cut);
	match_set_free(ms);
}
END_TEST

/* ---- errors ---- */

struct error_case {
	const char *re;
	size_t len;
	const char *origin;
	const char *want;
};

static const struct error_case error_cases[] = {
	{ "a(b", 3, "-a",
	    "bad pattern 'a(b' (-a): missing closing parenthesis at column 4" },
	{ "[z-a]", 5, "-f rules.txt:12",
	    "bad pattern '[z-a]' (-f rules.txt:12): range out of order in "
	    "character class at column 4" },
	{ "a\0(", 3, "-c",
	    "bad pattern 'a\\x00(' (-c): missing closing parenthesis at "
	    "column 4" },
	{ "x{2,1}", 6, "-s",
	    "bad pattern 'x{2,1}' (-s): numbers out of order in {} quantifier "
	    "at column 6" },
	{ "ab\\", 3, "-a",
	    "bad pattern 'ab\\' (-a): \\ at end of pattern at column 4" },
	{ "(*UTF)x", 7, "-a",
	    "bad pattern '(*UTF)x' (-a): using UTF is disabled by the "
	    "application at column 7" },
	{ "(?<=a+)b", 8, "-a",
	    "bad pattern '(?<=a+)b' (-a): lookbehind assertion is not fixed "
	    "length at column 1" },
	{ "\x01\x7f\xff(", 4, "-F x:1",
	    "bad pattern '\\x01\\x7f\\xff(' (-F x:1): missing closing "
	    "parenthesis at column 5" },
};

START_TEST(test_error_case)
{
	const struct error_case *e = &error_cases[_i];
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];

	ck_assert_ptr_nonnull(ms);
	ck_assert_int_eq(match_set_add(ms, "ok", 2, A, false, "-a", errbuf),
	    0);
	ck_assert_int_eq(match_set_add(ms, e->re, e->len, A, false,
	    e->origin, errbuf), -1);
	ck_assert_str_eq(errbuf, e->want);
	/* A failed add leaves the set as it was. */
	ck_assert_int_eq(match_set_count(ms), 1);
	ck_assert_str_eq(match_set_pattern(ms, 0), "ok");
	match_set_free(ms);
}
END_TEST

START_TEST(test_error_long)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE], pat[1000];

	memset(pat, '\x01', sizeof(pat));
	pat[sizeof(pat) - 1] = '(';
	ck_assert_int_eq(match_set_add(ms, pat, sizeof(pat), A, false, "-a",
	    errbuf), -1);
	ck_assert_msg(strstr(errbuf, "...' (-a): missing closing "
	    "parenthesis at column 1001") != NULL, "%s", errbuf);
	ck_assert_int_eq(match_set_add(ms, "x", 1, 0, false, "-a", errbuf),
	    -1);
	ck_assert_str_eq(errbuf, "bad pattern 'x' (-a): no direction");
	match_set_free(ms);
}
END_TEST

/* ---- datagrams ---- */

struct datagram_case {
	const char *name;
	struct pat_spec pats[CASE_PATS_MAX + 1];
	int dir;
	const char *data;
	uint32_t len;
	int want;
	uint64_t off;
	uint32_t mlen;
};

static const struct datagram_case datagram_cases[] = {
	{ "literal", { PAT("hello", A) }, 0, DATA("xhello"), 0, 1, 5 },
	{ "any direction", { PAT("hello", S) }, 0, DATA("hello"), 0, 0, 5 },
	{ "any direction, server", { PAT("hello", C) }, 1, DATA("hello"),
	    0, 0, 5 },
	{ "^ at its start", { PAT("^abc", A) }, 0, DATA("abc"), 0, 0, 3 },
	{ "^ only at its start", { PAT("^abc", A) }, 0, DATA("xabc"),
	    -1, 0, 0 },
	{ "$ at its end", { PAT("abc$", A) }, 0, DATA("xxabc"), 0, 2, 3 },
	{ "$ only at its end", { PAT("abc$", A) }, 0, DATA("abcx"),
	    -1, 0, 0 },
	{ "no partial match", { PAT("hello", A) }, 0, DATA("hel"), -1, 0, 0 },
	{ "greedy to the end", { PAT("dog(sbody)?", A) }, 0, DATA("dogsbody"),
	    0, 0, 8 },
	{ "earliest pattern wins", { PAT("world", A), PAT("hello", A) }, 0,
	    DATA("hello world"), 1, 0, 5 },
	{ "tie: lowest index", { PAT("h.l", A), PAT("hel", A) }, 1,
	    DATA("hel"), 0, 0, 3 },
	{ "NUL", { PAT("a\0b", A) }, 0, DATA("za\0b"), 0, 1, 3 },
	{ "(?m)^", { PAT("(?m)^b", A) }, 0, DATA("a\nb"), 0, 2, 1 },
	{ "caseless", { PATI("ABC", A) }, 0, DATA("xabc"), 0, 1, 3 },
	{ "empty datagram, empty match", { PAT("x*", A) }, 0, DATA(""),
	    0, 0, 0 },
	{ "empty datagram", { PAT("abc", A) }, 0, DATA(""), -1, 0, 0 },
	{ "longer than the window", { PAT("a.{100}", A) }, 0,
	    DATA("a0123456789012345678901234567890123456789"
	    "012345678901234567890123456789012345678901234567890123456789"),
	    0, 0, 101 },
};

START_TEST(test_datagram_case)
{
	const struct datagram_case *c = &datagram_cases[_i];
	struct match_set *ms = build_set(c->pats, 8, 5);
	struct match_hit hit;
	uint8_t *buf = malloc(c->len + 1);
	bool got;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, c->data, c->len);
	got = match_datagram(ms, c->dir, buf, c->len, &hit);
	ck_assert_msg(got == (c->want >= 0), "%s: hit %d", c->name, got);
	if (got) {
		ck_assert_msg(hit.pattern == c->want && hit.offset == c->off &&
		    hit.len == c->mlen, "%s: pattern %d at %llu len %u",
		    c->name, hit.pattern, (unsigned long long)hit.offset,
		    hit.len);
		ck_assert_int_eq(hit.dir, c->dir);
		ck_assert_mem_eq(hit.excerpt, c->data + c->off,
		    hit.excerpt_len);
	}
	free(buf);
	match_set_free(ms);
}
END_TEST

/* ---- the empty string ---- */

struct empty_case {
	struct pat_spec pats[CASE_PATS_MAX + 1];
	int want;
	int dir;
};

static const struct empty_case empty_cases[] = {
	{ { PAT("", A) }, 0, 0 },
	{ { PAT("x*", A) }, 0, 0 },
	{ { PAT("^", A) }, 0, 0 },
	{ { PAT("^$", A) }, 0, 0 },
	{ { PAT("$", A) }, 0, 0 },
	{ { PAT("a|", A) }, 0, 0 },
	{ { PAT("a?", S) }, 0, 1 },
	{ { PAT("abc", A) }, -1, 0 },
	{ { PAT("abc", A), PAT("x*", S), PAT("", A) }, 1, 1 },
	{ { PAT("(?<=a)", A) }, -1, 0 },
	{ { PAT("(?=a)", A) }, -1, 0 },
	{ { PAT("\\b", A) }, -1, 0 },
	{ { PAT("\\B", A) }, 0, 0 },
};

START_TEST(test_empty_case)
{
	const struct empty_case *c = &empty_cases[_i];
	struct match_set *ms = build_set(c->pats, 0, 0);
	struct match_hit hit;

	memset(&hit, 0xa5, sizeof(hit));
	ck_assert_int_eq(match_empty(ms, &hit), c->want >= 0);
	if (c->want >= 0) {
		ck_assert_int_eq(hit.pattern, c->want);
		ck_assert_int_eq(hit.dir, c->dir);
		ck_assert_uint_eq(hit.offset, 0);
		ck_assert_uint_eq(hit.len, 0);
		ck_assert_uint_eq(hit.excerpt_len, 0);
	}
	match_set_free(ms);
}
END_TEST

/* ---- the set ---- */

START_TEST(test_accessors)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];

	ck_assert_int_eq(match_set_count(ms), 0);
	ck_assert(!match_set_has_dir(ms, 0));
	ck_assert(!match_set_has_dir(ms, 1));
	ck_assert_int_eq(match_set_add(ms, "a\0b\\", 4, S, false, "-s",
	    errbuf), -1);
	ck_assert_int_eq(match_set_add(ms, "a\0b", 3, S, true, "-s", errbuf),
	    0);
	ck_assert(!match_set_has_dir(ms, 0));
	ck_assert(match_set_has_dir(ms, 1));
	ck_assert_int_eq(match_set_add(ms, "c\\d+", 4, C, false, "-c",
	    errbuf), 0);
	ck_assert(match_set_has_dir(ms, 0));
	ck_assert_int_eq(match_set_count(ms), 2);
	ck_assert_mem_eq(match_set_pattern(ms, 0), "a\0b", 4);
	ck_assert_str_eq(match_set_pattern(ms, 1), "c\\d+");
	ck_assert_ptr_null(match_set_pattern(ms, 2));
	ck_assert_ptr_null(match_set_pattern(ms, -1));
	match_set_free(ms);
	match_set_free(NULL);
}
END_TEST

/* Feeds a string; returns whether it hit. */
static bool
feed(struct match_set *ms, struct match_dir *md, int dir, const char *s,
    struct match_hit *hit)
{
	return match_feed(ms, md, dir, (const uint8_t *)s, (uint32_t)strlen(s),
	    hit);
}

/* Without a partial match or context, no byte is ever copied. */
START_TEST(test_no_copy)
{
	struct match_set *ms = match_set_new();
	struct match_dir md;
	struct match_hit hit;
	char errbuf[MATCH_ERRBUF_SIZE];
	int i;

	memset(&md, 0, sizeof(md));
	ck_assert_int_eq(match_set_add(ms, "needle", 6, A, false, "-a",
	    errbuf), 0);
	for (i = 0; i < 100; i++) {
		ck_assert(!feed(ms, &md, 0, "haystack, hay and straw. ", &hit));
		ck_assert_ptr_null(md.buf);
		ck_assert_uint_eq(md.len, 0);
	}
	ck_assert_uint_eq(md.fed, 2500);
	ck_assert_uint_eq(md.scan_from, 2500);
	/* A partial match keeps just its bytes ... */
	ck_assert(!feed(ms, &md, 0, "hay nee", &hit));
	ck_assert_ptr_nonnull(md.buf);
	ck_assert_uint_eq(md.len, 3);
	ck_assert_uint_eq(md.base, 2504);
	ck_assert_uint_eq(md.scan_from, 2504);
	ck_assert_mem_eq(md.buf, "nee", 3);
	/* ... and lets them go when it fails. */
	ck_assert(!feed(ms, &md, 0, "ds", &hit));
	ck_assert_ptr_null(md.buf);
	ck_assert(!feed(ms, &md, 0, "xne", &hit));
	ck_assert_uint_eq(md.len, 2);
	ck_assert(feed(ms, &md, 0, "edle!", &hit));
	ck_assert_uint_eq(hit.offset, 2510);
	ck_assert_uint_eq(hit.len, 6);
	ck_assert_mem_eq(hit.excerpt, "needle", 6);
	match_dir_release(&md);
	ck_assert_ptr_null(md.buf);
	ck_assert_uint_eq(md.fed, 0);
	match_set_free(ms);
}
END_TEST

/* A lookbehind keeps exactly its context, and nothing more. */
START_TEST(test_context_only)
{
	struct match_set *ms = match_set_new();
	struct match_dir md;
	struct match_hit hit;
	char errbuf[MATCH_ERRBUF_SIZE];

	memset(&md, 0, sizeof(md));
	ck_assert_int_eq(match_set_add(ms, "(?<=ab)c", 8, A, false, "-a",
	    errbuf), 0);
	ck_assert(!feed(ms, &md, 0, "xxxxab", &hit));
	ck_assert_uint_eq(md.len, 2);
	ck_assert_mem_eq(md.buf, "ab", 2);
	ck_assert_uint_eq(md.scan_from, 6);
	ck_assert(!feed(ms, &md, 0, "zzzzzzzzzzzzzzzzzza", &hit));
	ck_assert_uint_eq(md.len, 2);
	ck_assert_mem_eq(md.buf, "za", 2);
	ck_assert(feed(ms, &md, 0, "bc", &hit));
	ck_assert_uint_eq(hit.offset, 26);
	match_dir_release(&md);
	match_set_free(ms);
}
END_TEST

/* The buffer grows to the window and a chunk, and shrinks back. */
START_TEST(test_buffer_bounds)
{
	struct match_set *ms = match_set_new();
	struct match_dir md;
	struct match_hit hit;
	struct stats st;
	char errbuf[MATCH_ERRBUF_SIZE];
	uint8_t *big = malloc(20000);
	int i;

	ck_assert_ptr_nonnull(big);
	memset(&md, 0, sizeof(md));
	memset(&st, 0, sizeof(st));
	match_set_stats(ms, &st);
	ck_assert_int_eq(match_set_add(ms, "<a>[^<]*</a>", 12, A, false,
	    "-a", errbuf), 0);
	match_set_limits(ms, 100000, 0);
	memset(big, 'x', 20000);
	memcpy(big + 1000, "<a>", 3);
	for (i = 1; i <= 5; i++) {
		ck_assert(!match_feed(ms, &md, 0, big, 20000, &hit));
		memset(big + 1000, 'x', 3);
		ck_assert_uint_eq(md.len, (uint32_t)i * 20000 - 1000);
		ck_assert_uint_le(md.cap, 100000 + 20000);
	}
	ck_assert_uint_eq(md.scan_from, 1000);
	ck_assert_uint_eq(st.window_overflows, 0);
	/* Past the window the oldest bytes go, once counted. */
	ck_assert(!match_feed(ms, &md, 0, big, 20000, &hit));
	ck_assert_uint_eq(st.window_overflows, 1);
	ck_assert_uint_eq(md.len, 100000);
	ck_assert_uint_eq(md.base, 20000);
	ck_assert_uint_eq(md.scan_from, 20000);
	ck_assert_uint_le(md.cap, 100000 + 20000);
	/* A new short partial match: the big buffer is given back. */
	ck_assert(!feed(ms, &md, 0, "yyy<a>zz", &hit));
	ck_assert_uint_eq(md.len, 5);
	ck_assert_uint_lt(md.cap, 1024);
	ck_assert(feed(ms, &md, 0, "</a>", &hit));
	ck_assert_uint_eq(hit.offset, 120003);
	ck_assert_uint_eq(hit.len, 9);
	ck_assert_uint_eq(st.window_overflows, 1);
	match_dir_release(&md);
	free(big);
	match_set_free(ms);
}
END_TEST

START_TEST(test_depth_done)
{
	struct match_set *ms = match_set_new();
	struct match_dir md;
	struct match_hit hit;
	struct stats st;
	char errbuf[MATCH_ERRBUF_SIZE];

	memset(&md, 0, sizeof(md));
	memset(&st, 0, sizeof(st));
	match_set_stats(ms, &st);
	ck_assert_int_eq(match_set_add(ms, "abc", 3, A, false, "-a", errbuf),
	    0);
	match_set_limits(ms, 0, 8);
	ck_assert(!feed(ms, &md, 0, "0123", &hit));
	ck_assert(!match_dir_done(ms, &md));
	ck_assert(!feed(ms, &md, 0, "45ab", &hit));
	ck_assert(match_dir_done(ms, &md));
	ck_assert_ptr_null(md.buf);
	ck_assert_uint_eq(md.fed, 8);
	ck_assert(!feed(ms, &md, 0, "c abc", &hit));
	match_gap(ms, &md, 10);
	ck_assert_uint_eq(md.fed, 8);
	ck_assert_uint_eq(st.depth_reached, 1);
	match_dir_release(&md);
	ck_assert(!match_dir_done(ms, &md));

	/* A gap reaching depth ends the direction too. */
	match_gap(ms, &md, 3);
	ck_assert(!match_dir_done(ms, &md));
	match_gap(ms, &md, 5);
	ck_assert(match_dir_done(ms, &md));
	ck_assert_uint_eq(st.depth_reached, 2);

	/* A direction no pattern applies to still counts its depth. */
	match_dir_release(&md);
	match_set_free(ms);
	ms = match_set_new();
	match_set_stats(ms, &st);
	ck_assert_int_eq(match_set_add(ms, "abc", 3, S, false, "-s", errbuf),
	    0);
	match_set_limits(ms, 0, 8);
	ck_assert(!feed(ms, &md, 0, "abcabcabc", &hit));
	ck_assert(match_dir_done(ms, &md));
	ck_assert_ptr_null(md.buf);
	match_dir_release(&md);
	match_set_free(ms);
}
END_TEST

/* Two directions of one flow keep their partial matches apart. */
START_TEST(test_two_directions)
{
	struct match_set *ms = match_set_new();
	struct match_dir md[2];
	struct match_hit hit;
	char errbuf[MATCH_ERRBUF_SIZE];

	memset(md, 0, sizeof(md));
	ck_assert_int_eq(match_set_add(ms, "USER root", 9, C, false, "-c",
	    errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "530 Login", 9, S, false, "-s",
	    errbuf), 0);
	ck_assert(!feed(ms, &md[0], 0, "USER ro", &hit));
	ck_assert(!feed(ms, &md[1], 1, "220 ready\r\n530 Log", &hit));
	ck_assert(!feed(ms, &md[1], 1, "USER root", &hit));
	ck_assert(feed(ms, &md[0], 0, "ot\r\n", &hit));
	ck_assert_int_eq(hit.pattern, 0);
	ck_assert_int_eq(hit.dir, 0);
	ck_assert_uint_eq(hit.offset, 0);
	ck_assert(feed(ms, &md[1], 1, "XX 530 Login incorrect", &hit));
	ck_assert_int_eq(hit.pattern, 1);
	ck_assert_int_eq(hit.dir, 1);
	ck_assert_uint_eq(hit.offset, 30);
	match_dir_release(&md[0]);
	match_dir_release(&md[1]);
	match_set_free(ms);
}
END_TEST

/*
 * Documented behaviour that depends on where chunks end: $ and a trailing
 * \b match at the end of the data so far, and a complete match in the data
 * so far is reported even when an earlier start might still match later.
 */
START_TEST(test_end_so_far)
{
	static const struct {
		const char *re;
		const char *first, *second;
		uint64_t off;
	} cases[] = {
		{ "abc$", "abc", "d", 0 },
		{ "foo\\b", "xfoo", "bar", 1 },
		{ "abcdef|c", "abc", "def", 2 },
		{ "hello|hel", "hel", "lo", 0 },
	};
	struct match_set *ms;
	struct match_dir md;
	struct match_hit hit;
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = match_set_new();
		memset(&md, 0, sizeof(md));
		ck_assert_int_eq(match_set_add(ms, cases[i].re,
		    strlen(cases[i].re), A, false, "-a", errbuf), 0);
		ck_assert(feed(ms, &md, 0, cases[i].first, &hit));
		ck_assert_uint_eq(hit.offset, cases[i].off);
		match_dir_release(&md);
		match_set_free(ms);
	}
}
END_TEST

static Suite *
match_suite(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("match");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_stream_case, 0, (int)NSTREAM_CASES);
	tcase_add_loop_test(tc, test_error_case, 0,
	    (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_error_long);
	tcase_add_loop_test(tc, test_datagram_case, 0,
	    (int)(sizeof(datagram_cases) / sizeof(datagram_cases[0])));
	tcase_add_loop_test(tc, test_empty_case, 0,
	    (int)(sizeof(empty_cases) / sizeof(empty_cases[0])));
	tcase_add_test(tc, test_accessors);
	tcase_add_test(tc, test_no_copy);
	tcase_add_test(tc, test_context_only);
	tcase_add_test(tc, test_buffer_bounds);
	tcase_add_test(tc, test_depth_done);
	tcase_add_test(tc, test_two_directions);
	tcase_add_test(tc, test_end_so_far);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(match_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
