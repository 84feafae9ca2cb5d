/* check_match.c: table-driven tests of pattern sets and streaming matches. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Every table runs on each engine and must give the same results. */
static const enum match_engine engines[] = {
	MATCH_ENGINE_VECTORSCAN, MATCH_ENGINE_PCRE2, MATCH_ENGINE_PCRE2_PARTIAL
};
static const char *const engine_names[] = { "vectorscan", "pcre2",
	"pcre2-partial" };
#define NENGINES (sizeof(engines) / sizeof(engines[0]))

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
	/* Twins (-f P -F P): the lowest index of the stream's direction. */
	{ "twins: client", { PAT("abc", C), PAT("abc", S) }, 0,
	    DATA("xxabc"), .want = 0, .off = 2, .mlen = 3 },
	{ "twins: server", { PAT("abc", C), PAT("abc", S) }, 1,
	    DATA("xxabc"), .want = 1, .off = 2, .mlen = 3 },
	{ "twins: server first", { PAT("abc", S), PAT("abc", C) }, 0,
	    DATA("abc"), .want = 1, .off = 0, .mlen = 3 },
	{ "twins: both, then one", { PAT("a[0-9]+", A), PAT("a[0-9]+", C),
	    PAT("a[0-9]+", S) }, 1, DATA("xa12"), .want = 0, .off = 1,
	    .len_varies = true },
	{ "twins: a third in between", { PAT("abc", C), PAT("zz", S),
	    PAT("abc", S) }, 1, DATA("xabc"), .want = 2, .off = 1, .mlen = 3 },
	{ "twins: not across case", { PATI("abc", C), PAT("abc", S) }, 1,
	    DATA("ABC abc"), .want = 1, .off = 4, .mlen = 3 },
	{ "twins: caseless client", { PATI("abc", C), PAT("abc", S) }, 0,
	    DATA("ABC abc"), .want = 0, .off = 0, .mlen = 3 },
	/* Gated: a core too wide for a tail, searched where Vectorscan says. */
	{ "gated: dead head, then a match",
	    { PAT("User-Agent: [A-Za-z]+/x[0-9]", A) }, 0,
	    DATA("User-Agent: Mozilla User-Agent: Bot/x7"), .want = 0,
	    .off = 20, .mlen = 18 },
	{ "gated: a long run across chunks",
	    { PAT("User-Agent: [A-Za-z]+/x[0-9]", A) }, 0,
	    DATA("zzUser-Agent: " A10 A10 A10 A10 A10 A10 A10 A10 "/x1"),
	    .want = 0, .off = 2, .mlen = 95 },
	{ "gated: the head split",
	    { PAT("GET /[a-z0-9_]*\\.(exe|dll)", A) }, 1,
	    DATA("GETGET /GET /ab_9.dll"), .want = 0, .off = 8, .mlen = 13 },
	{ "gated: no match over a gap",
	    { PAT("GET /[a-z0-9_]*\\.(exe|dll)", A) }, 0,
	    DATA("GET /abcdef.exe"), .gaps = { { 7, 3 } }, .ngaps = 1,
	    .want = -1 },
	{ "gated: after a gap", { PAT("GET /[a-z0-9_]*\\.(exe|dll)", A) }, 0,
	    DATA("GET /abcGET /def.exe"), .gaps = { { 7, 3 } }, .ngaps = 1,
	    .want = 0, .off = 11, .mlen = 12 },
	{ "gated: beside fast ones", { PAT("zz[0-9]+q", A), PAT("qq", A),
	    PAT("(?<=<)k[0-9]+z", A) }, 0, DATA("<k12 zz123qq"), .want = 0,
	    .off = 5, .mlen = 6 },
	{ "gated: lookbehind one first", { PAT("zz[0-9]+q", A), PAT("qq", A),
	    PAT("(?<=<)k[0-9]+z", A) }, 0, DATA("<k12zz12"), .want = 2,
	    .off = 1, .mlen = 4 },
	{ "gated: twins", { PAT("x[0-9]+y", C), PAT("x[0-9]+y", S) }, 1,
	    DATA("x1x123y"), .want = 1, .off = 2, .mlen = 5 },
	{ "gated: \\b head", { PAT("\\bid[0-9]*=[a-z]", A) }, 0,
	    DATA("xid1=a id12=b"), .want = 0, .off = 7, .mlen = 6 },
	/* The literals a partial match must start with, across chunks. */
	{ "literals: caseless", { PATI("user-agent: [a-z]+/q", A) }, 0,
	    DATA("USER-AGENTS User-Agent: AbC/Q"), .want = 0, .off = 12,
	    .mlen = 17 },
	{ "literals: alternatives", { PAT("x(GET|POST) /[a-z]*\\.exe", A),
	    PAT("(?:ab|cd)ef[0-9]", A) }, 0, DATA("xPOSxGExPOST /ab.exe cdef1"),
	    .want = 0, .off = 7, .mlen = 13 },
	{ "literals: NUL and punctuation", { PAT("\\x00\\.\\(a[0-9]*;", A) },
	    0, DATA("\0.(\0.(a12;"), .want = 0, .off = 3, .mlen = 7 },
	{ "gated: wider than the window", { PAT("ab[0-9]*cd", A) }, 0,
	    DATA("ab0123456789cd ab1cd"), .window = 8, .want = 0, .off = 15,
	    .mlen = 5, .overflows = 1 },
	/*
	 * Prefiltered (Vectorscan finds the literal run, the match may end in
	 * a later chunk): see test_prefiltered for which are.
	 */
	{ "prefiltered: literal then class", { PAT("evilbot-[0-9]{3}\\.php",
	    A) }, 0, DATA("GET /evilbot-123.php HTTP"), .want = 0, .off = 5,
	    .mlen = 15 },
	{ "prefiltered: class then literal", { PAT("[a-z]{2,5}=secretvalue",
	    A) }, 0, DATA("xx abcd=secretvalue!"), .want = 0, .off = 3,
	    .mlen = 16 },
	{ "prefiltered: literal twice", { PAT("evilbot-[0-9]{3}x", A) }, 0,
	    DATA("evilbot-12 evilbot-999x"), .want = 0, .off = 11,
	    .mlen = 12 },
	{ "prefiltered: earliest of two", { PAT("bbbbbb-[a-z]{2}", A),
	    PAT("aaaaaa-[0-9]{4}", A) }, 0,
	    DATA("bbbbbb-x aaaaaa-1234 bbbbbb-yz"), .want = 1, .off = 9,
	    .mlen = 11 },
	{ "prefiltered: caseless", { PATI("Evil-Host-[0-9]{2}", A) }, 0,
	    DATA("x eVIL-hOST-4 EVIL-host-42"), .want = 0, .off = 14,
	    .mlen = 12 },
	{ "prefiltered: across a gap", { PAT("evilbot-[0-9]{3}", A) }, 0,
	    DATA("evilbot-123 evilbot-456"), .gaps = { { 10, 5 } },
	    .ngaps = 1, .want = 0, .off = 17, .mlen = 11 },
	{ "prefiltered: context before", { PAT("\\bevilbot-[0-9]{2}", A) },
	    0, DATA("xevilbot-12 evilbot-34 "), .want = 0, .off = 12,
	    .mlen = 10 },
	{ "prefiltered: cut at the end", { PAT("evilbot-[0-9]{3}", A) }, 0,
	    DATA("evilbot-1 evilbot-12"), .want = -1 },
	{ "prefiltered: twins", { PAT("evilbot-[0-9]{2}z", C),
	    PAT("evilbot-[0-9]{2}z", S) }, 1, DATA("evilbot-1z evilbot-12z"),
	    .want = 1, .off = 11, .mlen = 11 },
};

#define NSTREAM_CASES (sizeof(stream_cases) / sizeof(stream_cases[0]))

struct result {
	bool hit;
	struct match_hit h;
	uint64_t overflows;
	uint64_t depth_reached;
};

static struct match_set *
build_set(const struct pat_spec *pats, uint32_t window, uint64_t depth,
    enum match_engine eng)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];
	int i;

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, eng);
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
	/* st dies here; the set may be used after (match_datagram()). */
	match_set_stats(ms, NULL);
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
	struct match_set *ms;
	struct result r;
	uint32_t k, seed;
	bool *cut = calloc(c->len + 1, sizeof(*cut));
	char mode[64];
	size_t e;
	int run;

	ck_assert_ptr_nonnull(cut);
	for (e = 0; e < NENGINES; e++) {
		ms = build_set(c->pats, c->window, c->depth, engines[e]);
		seed = RANDOM_SEED + (uint32_t)_i;
		memset(cut, 0, c->len + 1);
		snprintf(mode, sizeof(mode), "%s whole", engine_names[e]);
		run_stream(ms, c, cut, &r);
		check_result(c, &r, mode, 0);
		snprintf(mode, sizeof(mode), "%s split", engine_names[e]);
		for (k = 1; k < c->len; k++) {
			cut[k] = true;
			run_stream(ms, c, cut, &r);
			check_result(c, &r, mode, k);
			cut[k] = false;
		}
		for (k = 0; k <= c->len; k++)
			cut[k] = true;
		snprintf(mode, sizeof(mode), "%s bytes", engine_names[e]);
		run_stream(ms, c, cut, &r);
		check_result(c, &r, mode, 1);
		snprintf(mode, sizeof(mode), "%s random", engine_names[e]);
		for (run = 0; run < RANDOM_RUNS; run++) {
			for (k = 0; k <= c->len; k++)
				cut[k] = xorshift32(&seed) % 4 == 0;
			run_stream(ms, c, cut, &r);
			check_result(c, &r, mode, run);
		}
		match_set_free(ms);
	}
	free(cut);
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
	{ "twins: the first", { PAT("abc", S), PAT("abc", C) }, 0,
	    DATA("abc"), 0, 0, 3 },
	{ "gated", { PAT("GET /[a-z0-9_]*\\.exe", C), PAT("GET /[a-z0-9_]*"
	    "\\.exe", S) }, 1, DATA("GET /GET /a.exe"), 0, 5, 10 },
	{ "longer than the window", { PAT("a.{100}", A) }, 0,
	    DATA("a0123456789012345678901234567890123456789"
	    "012345678901234567890123456789012345678901234567890123456789"),
	    0, 0, 101 },
};

START_TEST(test_datagram_case)
{
	const struct datagram_case *c = &datagram_cases[_i];
	struct match_set *ms;
	struct match_hit hit;
	uint8_t *buf = malloc(c->len + 1);
	size_t e;
	bool got;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, c->data, c->len);
	for (e = 0; e < NENGINES; e++) {
		ms = build_set(c->pats, 8, 5, engines[e]);
		got = match_datagram(ms, c->dir, buf, c->len, &hit);
		ck_assert_msg(got == (c->want >= 0), "%s [%s]: hit %d",
		    c->name, engine_names[e], got);
		if (got) {
			ck_assert_msg(hit.pattern == c->want &&
			    hit.offset == c->off && hit.len == c->mlen,
			    "%s [%s]: pattern %d at %llu len %u", c->name,
			    engine_names[e], hit.pattern,
			    (unsigned long long)hit.offset, hit.len);
			ck_assert_int_eq(hit.dir, c->dir);
			ck_assert_mem_eq(hit.excerpt, c->data + c->off,
			    hit.excerpt_len);
		}
		match_set_free(ms);
	}
	free(buf);
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
	struct match_set *ms;
	struct match_hit hit;
	size_t e;

	for (e = 0; e < NENGINES; e++) {
		ms = build_set(c->pats, 0, 0, engines[e]);
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

	match_set_engine(ms, MATCH_ENGINE_PCRE2);
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

	match_set_engine(ms, MATCH_ENGINE_PCRE2);
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

	match_set_engine(ms, MATCH_ENGINE_PCRE2);
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

	match_set_engine(ms, engines[_i]);
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
	match_set_engine(ms, engines[_i]);
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

	match_set_engine(ms, engines[_i]);
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
		match_set_engine(ms, engines[_i]);
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

/* ---- which patterns Vectorscan runs ---- */

struct path_case {
	const char *re;
	size_t len;
	bool caseless;
	uint32_t window;	/* 0: the default */
	bool fast;		/* streams */
	bool dgram;		/* datagrams */
};

#define PATH(s, w, f, d) { (s), sizeof(s) - 1, false, (w), (f), (d) }

static const struct path_case path_cases[] = {
	PATH("hello", 0, true, true),
	PATH("cat|dog", 0, true, true),
	PATH("X-Flowgrep-Canary: fg[0-9]{6}|passw(or)?d=", 0, true, true),
	/* The core of a trailing + is bounded. */
	PATH("User-Agent: BadBot/1\\.[0-9]+", 0, true, true),
	PATH("ab[0-9]{2,}x?", 0, true, true),
	/* An unbounded core: datagrams only. */
	PATH("(?s)a.*z", 0, false, true),
	PATH("a.{100}", 0, true, true),
	PATH("a.{100}", 8, false, true),
	PATH("^abc", 0, true, true),
	PATH("\\Aabc", 0, true, true),
	PATH("^abc|d", 0, false, false),
	PATH("a^b", 0, false, false),
	PATH("abc$", 0, false, false),
	PATH("(?m)^a", 0, false, false),
	PATH("\\bfoo", 0, true, true),
	PATH("foo\\b", 0, false, false),
	PATH("(?<=a)b", 0, false, false),
	PATH("a(?=b)", 0, false, false),
	PATH("(a)\\1", 0, false, false),
	PATH("a\\Kb", 0, false, false),
	PATH("a++b", 0, false, false),
	PATH("(?>a)b", 0, false, false),
	PATH("x*", 0, false, false),
	PATH("a|", 0, false, false),
	PATH("a{,3}", 0, false, false),
	PATH("\\Qa.b\\E", 0, false, false),
	PATH("(?x)a b", 0, false, false),
	PATH("(*CRLF)a", 0, false, false),
	PATH("a\0b", 0, true, true),
	PATH("[\x00\x01]x", 0, true, true),
	PATH("a\\\0b", 0, true, true),
	PATH("(?i)get /", 0, true, true),
	PATH("(?i:ab)c", 0, true, true),
	PATH("(?is)a.c", 0, true, true),
	PATH("\\N", 0, false, false),
	PATH("\\p{L}x", 0, false, false),
	PATH("[\\p{L}]x", 0, false, false),
	PATH("\\R", 0, false, false),
	{ "HeLLo", 5, true, 0, true, true },
};

START_TEST(test_path_case)
{
	const struct path_case *c = &path_cases[_i];
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];
	struct match_mem mm;

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
	ck_assert_msg(match_set_add(ms, c->re, c->len, A, c->caseless, "-a",
	    errbuf) == 0, "%s", errbuf);
	match_set_limits(ms, c->window, 0);
	ck_assert_int_eq(match_set_prepare(ms), c->fast);
	ck_assert_msg(match_set_pattern_fast(ms, 0) == c->fast,
	    "'%s': fast %d", c->re, !c->fast);
	match_set_memory(ms, &mm);
	ck_assert_msg(mm.fast_datagram == c->dgram, "'%s': datagram %d",
	    c->re, mm.fast_datagram);
	match_set_free(ms);
}
END_TEST

/*
 * Which patterns Vectorscan finds by a literal run of theirs (confirmed in
 * the chunks the match may end in) rather than by their core: every pattern
 * of the "prefiltered:" stream cases, and none of these.
 */
static const char *const not_prefiltered[] = {
	"evilbotnet",			/* a literal: its own core */
	"abcde[0-9]{2}",		/* a run shorter than 6 */
	"evilbot-[0-9]+x",		/* no bounded width: gated */
	"^evilbot-[0-9]{2}",		/* anchored */
	"(?i)evilbot-[0-9]{2}",		/* options set inline */
	"evilbot-[0-9]{2}|another-one",	/* top-level alternation */
	"evilbot-(ab)?",		/* the run is all its core */
};

START_TEST(test_prefiltered)
{
	struct match_set *ms;
	struct match_mem mm;
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i, n;
	int k;

	for (i = 0; i < NSTREAM_CASES; i++) {
		if (strncmp(stream_cases[i].name, "prefiltered:", 12) != 0)
			continue;
		ms = build_set(stream_cases[i].pats, 0, 0,
		    MATCH_ENGINE_VECTORSCAN);
		(void)match_set_prepare(ms);
		match_set_memory(ms, &mm);
		for (k = 0; stream_cases[i].pats[k].re != NULL; k++)
			;
		ck_assert_msg(mm.prefiltered == k, "%s: %d of %d prefiltered",
		    stream_cases[i].name, mm.prefiltered, k);
		match_set_free(ms);
	}
	n = sizeof(not_prefiltered) / sizeof(not_prefiltered[0]);
	for (i = 0; i < n; i++) {
		ms = match_set_new();
		ck_assert_ptr_nonnull(ms);
		match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
		ck_assert_msg(match_set_add(ms, not_prefiltered[i],
		    strlen(not_prefiltered[i]), A, false, "-a", errbuf) == 0,
		    "%s", errbuf);
		(void)match_set_prepare(ms);
		match_set_memory(ms, &mm);
		ck_assert_msg(mm.prefiltered == 0, "'%s' prefiltered",
		    not_prefiltered[i]);
		match_set_free(ms);
	}
}
END_TEST

/*
 * Twins share their compiled code, through an index that grows as patterns
 * are added: each still matches its own text, in its own direction and case.
 */
START_TEST(test_twins_share_code)
{
	struct match_set *ms = match_set_new();
	struct match_dir md;
	struct match_hit hit;
	struct match_mem mm;
	char errbuf[MATCH_ERRBUF_SIZE], pat[32], subj[32];
	int i, k;

	ck_assert_ptr_nonnull(ms);
	memset(&md, 0, sizeof(md));
	/* 300 client patterns, their server twins backwards, then caseless. */
	for (i = 0; i < 900; i++) {
		k = i < 300 ? i : i < 600 ? 599 - i : i - 600;
		snprintf(pat, sizeof(pat), "w%03d[0-9]", k);
		ck_assert_int_eq(match_set_add(ms, pat, strlen(pat),
		    i < 300 ? C : S, i >= 600, "-f", errbuf), 0);
	}
	match_set_memory(ms, &mm);
	ck_assert_int_eq(mm.compiled, 600);
	for (k = 0; k < 300; k += 37) {
		snprintf(subj, sizeof(subj), "-w%03d7-", k);
		ck_assert(feed(ms, &md, 0, subj, &hit));
		ck_assert_int_eq(hit.pattern, k);
		match_dir_release(&md);
		ck_assert(feed(ms, &md, 1, subj, &hit));
		ck_assert_int_eq(hit.pattern, 599 - k);
		match_dir_release(&md);
		subj[1] = 'W';
		ck_assert(!feed(ms, &md, 0, subj, &hit));
		match_dir_release(&md);
		ck_assert(feed(ms, &md, 1, subj, &hit));
		ck_assert_int_eq(hit.pattern, 600 + k);
		match_dir_release(&md);
	}
	match_set_free(ms);
	/* The empty match is the first twin's. */
	ms = match_set_new();
	ck_assert_ptr_nonnull(ms);
	ck_assert_int_eq(match_set_add(ms, "q", 1, S, false, "-F", errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "z*", 2, C, false, "-f", errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "z*", 2, S, false, "-F", errbuf), 0);
	match_set_memory(ms, &mm);
	ck_assert_int_eq(mm.compiled, 2);
	ck_assert(match_empty(ms, &hit));
	ck_assert_int_eq(hit.pattern, 1);
	match_set_free(ms);
}
END_TEST

/*
 * Twins are one expression; a core too wide for a tail is gated, with its
 * head a second expression, and keeps a PCRE2 buffer while a partial match
 * may be alive.
 */
START_TEST(test_gated_twins)
{
	static const char ua[] = "User-Agent: [A-Za-z]+/x[0-9]";
	struct match_set *ms = match_set_new();
	struct match_dir md;
	struct match_hit hit;
	struct match_mem mm;
	char errbuf[MATCH_ERRBUF_SIZE];

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
	memset(&md, 0, sizeof(md));
	ck_assert_int_eq(match_set_add(ms, ua, strlen(ua), C, false, "-f",
	    errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, ua, strlen(ua), S, false, "-F",
	    errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "abc", 3, C, false, "-f",
	    errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "abc", 3, S, false, "-F",
	    errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "abc", 3, A, false, "-a",
	    errbuf), 0);
	ck_assert_int_eq(match_set_add(ms, "abc", 3, A, true, "-a",
	    errbuf), 0);
	ck_assert_int_eq(match_set_prepare(ms), 4);
	ck_assert(!match_set_pattern_fast(ms, 0));
	ck_assert(match_set_pattern_fast(ms, 4));
	match_set_memory(ms, &mm);
	ck_assert_int_eq(mm.gated, 2);
	ck_assert_int_eq(mm.fast_datagram, 6);
	ck_assert_int_eq(mm.expressions, 4);
	/* A head ending in a feed: the partial match is kept. */
	ck_assert(!feed(ms, &md, 1, "xx User-Agent: Moz", &hit));
	ck_assert_ptr_nonnull(md.hs);
	ck_assert_uint_eq(md.len, 15);
	ck_assert(!feed(ms, &md, 1, "illa", &hit));
	ck_assert_uint_eq(md.len, 19);
	/* ... dropped when it dies, then no buffer. */
	ck_assert(!feed(ms, &md, 1, " 5.0 (X11)", &hit));
	ck_assert_ptr_null(md.buf);
	ck_assert(!feed(ms, &md, 1, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzz", &hit));
	ck_assert_ptr_null(md.buf);
	ck_assert(!feed(ms, &md, 1, "User-Agent: B", &hit));
	ck_assert(feed(ms, &md, 1, "ot/x12", &hit));
	ck_assert_int_eq(hit.pattern, 1);
	ck_assert_int_eq(hit.dir, 1);
	ck_assert_uint_eq(hit.offset, 100);
	ck_assert_uint_eq(hit.len, 18);
	match_dir_release(&md);
	ck_assert(feed(ms, &md, 0, "-abc-", &hit));
	ck_assert_int_eq(hit.pattern, 2);
	match_dir_release(&md);
	ck_assert(feed(ms, &md, 1, "-abc-", &hit));
	ck_assert_int_eq(hit.pattern, 3);
	match_dir_release(&md);
	ck_assert(feed(ms, &md, 1, "-ABC-", &hit));
	ck_assert_int_eq(hit.pattern, 5);
	match_dir_release(&md);
	ck_assert(match_datagram(ms, 1, (const uint8_t *)"abc", 3, &hit));
	ck_assert_int_eq(hit.pattern, 2);
	match_set_free(ms);
}
END_TEST

/*
 * A Vectorscan direction keeps no PCRE2 buffer, only its tail; its streams
 * are counted while they live.
 */
START_TEST(test_vectorscan_state)
{
	struct match_set *ms = match_set_new();
	struct match_dir md[2];
	struct match_hit hit;
	struct match_mem mm;
	char errbuf[MATCH_ERRBUF_SIZE];

	match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
	memset(md, 0, sizeof(md));
	ck_assert_int_eq(match_set_add(ms, "needle", 6, A, false, "-a",
	    errbuf), 0);
	ck_assert_int_eq(match_set_prepare(ms), 1);
	ck_assert(!feed(ms, &md[0], 0, "haystack nee", &hit));
	ck_assert_ptr_null(md[0].buf);
	ck_assert_ptr_nonnull(md[0].hs);
	ck_assert_uint_eq(md[0].tail_cap, 6);
	ck_assert_uint_eq(md[0].tail_len, 6);
	ck_assert_mem_eq(md[0].tail, "ck nee", 6);
	ck_assert_uint_eq(md[0].base, 12);
	match_set_memory(ms, &mm);
	ck_assert_uint_eq(mm.streams_live, 1);
	ck_assert_uint_eq(mm.bytes_live, mm.dir_bytes);
	ck_assert_uint_eq(mm.dir_bytes, mm.stream_bytes + 6);
	ck_assert_uint_gt(mm.stream_bytes, 0);
	ck_assert_uint_le(mm.bytes_max, 64U * 1024 * 1024);
	ck_assert(!feed(ms, &md[1], 1, "n", &hit));
	ck_assert_uint_eq(md[1].tail_len, 1);
	match_set_memory(ms, &mm);
	ck_assert_uint_eq(mm.streams_live, 2);
	ck_assert_uint_eq(mm.streams_peak, 2);
	ck_assert(feed(ms, &md[0], 0, "dle", &hit));
	ck_assert_int_eq(hit.pattern, 0);
	ck_assert_uint_eq(hit.offset, 9);
	ck_assert_uint_eq(hit.len, 6);
	ck_assert_mem_eq(hit.excerpt, "needle", 6);
	/* A gap empties the tail and no match spans it. */
	match_gap(ms, &md[1], 4);
	ck_assert_uint_eq(md[1].tail_len, 0);
	ck_assert(!feed(ms, &md[1], 1, "eedle", &hit));
	ck_assert(feed(ms, &md[1], 1, "needle", &hit));
	ck_assert_uint_eq(hit.offset, 10);
	match_dir_release(&md[0]);
	match_dir_release(&md[1]);
	ck_assert_ptr_null(md[0].hs);
	ck_assert_ptr_null(md[0].tail);
	match_set_memory(ms, &mm);
	ck_assert_uint_eq(mm.streams_live, 0);
	ck_assert_uint_eq(mm.bytes_live, 0);
	ck_assert_uint_eq(mm.streams_opened, 2);
	ck_assert_uint_eq(mm.streams_peak, 2);
	ck_assert_uint_eq(mm.streams_refused, 0);
	match_set_free(ms);
}
END_TEST

/*
 * Prefiltered patterns whose literal was found are kept per direction
 * until their match can no longer end (their width after it), in memory
 * counted with the streams'; past the cap, every prefiltered pattern is
 * confirmed instead, with the same answers.
 */
static struct match_set *
pending_set(size_t cap)
{
	static const char *const pats[] = { "alpha1-[0-9]{3}x",
	    "bravo2-[0-9]{3}x", "charl3-[0-9]{3}x", "delta4-[0-9]{3}x",
	    "echoo5-[0-9]{3}x", "foxtr6-[0-9]{3}x" };
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];
	struct match_mem mm;
	size_t i;

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		ck_assert_int_eq(match_set_add(ms, pats[i], strlen(pats[i]), A,
		    false, "-a", errbuf), 0);
	ck_assert_int_eq(match_set_prepare(ms), 6);
	match_set_memory(ms, &mm);
	ck_assert_int_eq(mm.prefiltered, 6);
	if (cap != 0)
		match_set_streams_cap(ms, mm.dir_bytes + cap);
	return ms;
}

START_TEST(test_pending)
{
	static const size_t caps[] = { 0, 64 };
	struct match_set *ms;
	struct match_dir md;
	struct match_hit hit;
	struct match_mem mm;
	size_t c;

	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		ms = pending_set(caps[c]);
		memset(&md, 0, sizeof(md));
		/* Six literals, none with its match yet. */
		ck_assert(!feed(ms, &md, 0, "alpha1-1 bravo2-2 charl3-3 "
		    "delta4-4 echoo5-5 foxtr6-6", &hit));
		ck_assert_ptr_nonnull(md.pend);
		match_set_memory(ms, &mm);
		ck_assert_uint_gt(mm.bytes_live, mm.dir_bytes);
		ck_assert_uint_le(mm.bytes_live, mm.bytes_max);
		ck_assert(!feed(ms, &md, 0, "6", &hit));
		ck_assert(feed(ms, &md, 0, "6x", &hit));
		ck_assert_int_eq(hit.pattern, 5);
		ck_assert_uint_eq(hit.offset, 45);
		ck_assert_uint_eq(hit.len, 11);
		match_dir_release(&md);
		ck_assert_ptr_null(md.pend);
		/* Gone once the match could no longer end... */
		ck_assert(!feed(ms, &md, 0, "bravo2-12", &hit));
		ck_assert_ptr_nonnull(md.pend);
		ck_assert(!feed(ms, &md, 0, "3y", &hit));
		ck_assert_ptr_nonnull(md.pend);
		ck_assert(!feed(ms, &md, 0, "yyyyyyyyyyyyyyyyyyyy", &hit));
		ck_assert_ptr_null(md.pend);
		/* ... or after a gap, which no match spans. */
		ck_assert(!feed(ms, &md, 0, "bravo2-12", &hit));
		ck_assert_ptr_nonnull(md.pend);
		match_gap(ms, &md, 3);
		ck_assert_ptr_null(md.pend);
		ck_assert(!feed(ms, &md, 0, "3x", &hit));
		match_dir_release(&md);
		match_set_memory(ms, &mm);
		ck_assert_uint_eq(mm.bytes_live, 0);
		match_set_free(ms);
	}
}
END_TEST

/*
 * FLOWGREP_NO_VECTORSCAN=1 leaves every pattern on PCRE2; without it the
 * default engine runs a pattern PCRE2 cannot start fast on Vectorscan.
 */
START_TEST(test_env_no_vectorscan)
{
	struct match_set *ms;
	struct match_dir md;
	struct match_hit hit;
	char errbuf[MATCH_ERRBUF_SIZE];
	int want;

	for (want = 0; want <= 1; want++) {
		if (want == 0)
			ck_assert_int_eq(setenv("FLOWGREP_NO_VECTORSCAN", "1",
			    1), 0);
		else
			ck_assert_int_eq(unsetenv("FLOWGREP_NO_VECTORSCAN"), 0);
		ms = match_set_new();
		memset(&md, 0, sizeof(md));
		ck_assert_int_eq(match_set_add(ms, "(?i)cat|dog", 11, A,
		    false, "-a", errbuf), 0);
		ck_assert_int_eq(match_set_prepare(ms), want);
		ck_assert(!feed(ms, &md, 0, "a CA", &hit));
		ck_assert(want ? md.hs != NULL : md.hs == NULL);
		ck_assert(feed(ms, &md, 0, "t", &hit));
		ck_assert_uint_eq(hit.offset, 2);
		match_dir_release(&md);
		match_set_free(ms);
	}
}
END_TEST

/*
 * Patterns and limits given after the database is built still work: a late
 * pattern runs on PCRE2, and a window too small for the tails sends new
 * directions to PCRE2.
 */
START_TEST(test_late_changes)
{
	struct match_set *ms = match_set_new();
	struct match_dir md[2];
	struct match_hit hit;
	char errbuf[MATCH_ERRBUF_SIZE];

	match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
	memset(md, 0, sizeof(md));
	ck_assert_int_eq(match_set_add(ms, "needle", 6, A, false, "-a",
	    errbuf), 0);
	ck_assert(!feed(ms, &md[0], 0, "a nee", &hit));
	ck_assert_ptr_nonnull(md[0].hs);
	ck_assert_int_eq(match_set_add(ms, "pin", 3, A, false, "-a",
	    errbuf), 0);
	ck_assert(!match_set_pattern_fast(ms, 1));
	ck_assert(feed(ms, &md[0], 0, "dle pin", &hit));
	ck_assert_int_eq(hit.pattern, 0);
	ck_assert_uint_eq(hit.offset, 2);
	match_set_limits(ms, 4, 0);
	ck_assert(!feed(ms, &md[1], 1, "xpi", &hit));
	ck_assert_ptr_null(md[1].hs);
	ck_assert(feed(ms, &md[1], 1, "n needle", &hit));
	ck_assert_int_eq(hit.pattern, 1);
	ck_assert_uint_eq(hit.offset, 1);
	ck_assert(match_datagram(ms, 0, (const uint8_t *)"a pin", 5, &hit));
	ck_assert_int_eq(hit.pattern, 1);
	match_dir_release(&md[0]);
	match_dir_release(&md[1]);
	match_set_free(ms);
}
END_TEST

/*
 * Escapes and classes Vectorscan is given read the same there: each one, on
 * each byte alone and followed by a few others, caseless or not, matches a
 * datagram exactly when PCRE2 alone does. Each must run on Vectorscan.
 */
static const char *const escape_cases[] = {
	".", "(?s).", "\\s", "\\S", "\\w", "\\W", "\\d", "\\D", "\\h", "\\H",
	"\\v", "\\V", "\\C", "[[:alpha:]]", "[[:alnum:]]", "[[:space:]]",
	"[[:punct:]]", "[[:print:]]", "[[:graph:]]", "[[:cntrl:]]",
	"[[:word:]]", "[[:blank:]]", "[[:upper:]]", "[[:lower:]]",
	"[[:xdigit:]]", "[[:ascii:]]", "[[:^alpha:]]", "[^a]", "[\\s]",
	"[\\W]", "[a-z]", "[A-Z]", "k", "K", "\\xe9", "\\xc9", "[\\x80-\\xff]",
	"\\x4", "\\x41", "\\x{41}", "\\x{0}", "\\x", "\\xg", "\\0", "\\01",
	"\\012", "\\0123", "\\o{101}", "\\cA", "\\ca", "\\c[", "\\c?", "\\e",
	"\\a", "\\f", "\\t", "\\n", "\\r", "\\_", "\\-", "\\ ", "\\#", "\\]",
	"]", "}", "[\\b]", "[\\x41-\\x43]", "[a\\-z]", "[]a]", "[^]a]",
	"[\\]]", "[\\1]", "[\\01]", "[\\cA]", "[\\e]", "[\\t]", "[\\w\\s]",
	"[\\h]", "[\\v]", "[\\V]", "[\\a]", "[\\f]", "[\\0]", "[\\x{ff}]",
	"[a-]", "[-a]", "[\\^]", "[^^]", "[a-c-e]", "[\\377]",
	"\\x7f", "[\\x00-\\x1f]", "\\x4g", "\\c?a", "a\\x", "\\01a", "[\\1]a",
	"\\0a", "\\bk", "\\Bk", "k\\Bk",
};

START_TEST(test_escape_case)
{
	static const uint8_t seconds[] = { 'g', 'a', 'k', 'K', '\0', '\n',
		'1', '3', 0xe9 };
	const char *re = escape_cases[_i];
	struct match_set *v, *p;
	struct match_hit hv, hp;
	char errbuf[MATCH_ERRBUF_SIZE];
	uint8_t d[2];
	size_t k;
	int ci, b;
	bool gv, gp;

	for (ci = 0; ci < 2; ci++) {
		v = match_set_new();
		p = match_set_new();
		match_set_engine(v, MATCH_ENGINE_VECTORSCAN);
		match_set_engine(p, MATCH_ENGINE_PCRE2);
		ck_assert_msg(match_set_add(v, re, strlen(re), A, ci, "-a",
		    errbuf) == 0, "%s", errbuf);
		ck_assert_int_eq(match_set_add(p, re, strlen(re), A, ci, "-a",
		    errbuf), 0);
		ck_assert_msg(match_set_prepare(v) == 1, "'%s' not fast", re);
		for (b = 0; b < 256; b++)
			for (k = 0; k <= sizeof(seconds); k++) {
				d[0] = (uint8_t)b;
				if (k > 0)
					d[1] = seconds[k - 1];
				gv = match_datagram(v, 0, d, k > 0 ? 2 : 1,
				    &hv);
				gp = match_datagram(p, 0, d, k > 0 ? 2 : 1,
				    &hp);
				ck_assert_msg(gv == gp && (!gv ||
				    (hv.offset == hp.offset &&
				    hv.len == hp.len)), "'%s'%s on %02x %02x: "
				    "%d, PCRE2 alone %d", re, ci ? " caseless" :
				    "", b, k > 0 ? d[1] : 0, gv, gp);
			}
		match_set_free(v);
		match_set_free(p);
	}
}
END_TEST

/*
 * Matches Debian 12's Vectorscan misses in its AVX2 and AVX-512
 * implementations (match.c's hs_runtime() avoids them): each is found,
 * whole and as a datagram, at every alignment.
 */
START_TEST(test_vectorscan_bugs)
{
	static const struct {
		const char *re;
		const char *data;
		uint32_t len;
		uint32_t off;
	} cases[] = {
		{ "4.", "456789", 95, 80 },
		{ "4..", "456789", 160, 145 },
		{ "1\\d.*ab", "yybc xzcbxcx1 cy10ab", 20, 0 },
		{ "1\\d.*ab", "yybc xzcbxcx1 cy10ab", 200, 180 },
	};
	_Alignas(64) uint8_t buf[256 + 64];
	struct match_set *ms;
	struct match_dir md;
	struct match_hit hit;
	struct match_mem mm;
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i, al;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = match_set_new();
		match_set_engine(ms, MATCH_ENGINE_VECTORSCAN);
		ck_assert_int_eq(match_set_add(ms, cases[i].re,
		    strlen(cases[i].re), A, false, "-a", errbuf), 0);
		(void)match_set_prepare(ms);
		match_set_memory(ms, &mm);
		ck_assert_int_eq(mm.fast_datagram, 1);
		for (al = 0; al < 64; al++) {
			memset(buf, 'm', sizeof(buf));
			memcpy(buf + al + cases[i].off, cases[i].data,
			    strlen(cases[i].data));
			ck_assert_msg(match_datagram(ms, 0, buf + al,
			    cases[i].len, &hit), "'%s' datagram at %zu",
			    cases[i].re, al);
			memset(&md, 0, sizeof(md));
			ck_assert_msg(match_feed(ms, &md, 0, buf + al,
			    cases[i].len, &hit), "'%s' feed at %zu",
			    cases[i].re, al);
			match_dir_release(&md);
		}
		match_set_free(ms);
	}
}
END_TEST

/*
 * The default engine uses Vectorscan when it pays: beyond a few patterns,
 * or for one that PCRE2 cannot start with a vector search.
 */
START_TEST(test_auto_engine)
{
	static const struct {
		const char *pats[6];
		int fast;
	} cases[] = {
		{ { "X-Flowgrep-Canary" }, 0 },
		{ { "X-Flowgrep-Canary: fg[0-9]{6}|passw(or)?d=" }, 0 },
		{ { "(?i)authorization: basic", "cat|dog" }, 0 },
		{ { "(?i)cat|dog" }, 1 },
		{ { "cat|dog|bird" }, 1 },
		{ { "\\d{16}", "abc" }, 2 },
		{ { "a1", "a2", "a3", "a4" }, 0 },
		{ { "a1", "a2", "a3", "a4", "a5" }, 5 },
		{ { "a1", "a2", "a3", "a4", "(?<=x)a5", "a6$" }, 0 },
	};
	struct match_set *ms;
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i, k;

	ck_assert_int_eq(unsetenv("FLOWGREP_NO_VECTORSCAN"), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = match_set_new();
		for (k = 0; k < 6 && cases[i].pats[k] != NULL; k++)
			ck_assert_int_eq(match_set_add(ms, cases[i].pats[k],
			    strlen(cases[i].pats[k]), A, false, "-a", errbuf),
			    0);
		ck_assert_msg(match_set_prepare(ms) == cases[i].fast,
		    "case %zu: %d fast", i, match_set_prepare(ms));
		match_set_free(ms);
	}
}
END_TEST

/* ---- many patterns ---- */

#define MANY_IOC 60		/* 0..59: literals */
#define MANY_DOMAIN 90	/* 60..89: malware[0-9]{2}\.exampleK\.com */
#define MANY_AGENT 120		/* 90..119: User-Agent: BadBot/1KK... */
#define MANY_SECRET 140		/* 120..139: caseless Secret-K-Token */
#define MANY_BEHIND 145		/* 140..144: (?<=user=)adminK */
#define MANY_WORD 150		/* 145..149: \bwordK\b */
#define MANY_COUNT 154		/* 150..153: ties, see below */
#define MANY_FAST 142
#define MANY_FILLER 3000
#define MANY_TEXT_MAX 256

static void
many_add(struct match_set *ms, const char *re, bool caseless)
{
	char errbuf[MATCH_ERRBUF_SIZE];

	ck_assert_msg(match_set_add(ms, re, strlen(re), A, caseless, "-f",
	    errbuf) == 0, "%s", errbuf);
}

static struct match_set *
many_set(enum match_engine eng)
{
	struct match_set *ms = match_set_new();
	char re[MANY_TEXT_MAX];
	int i;

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, eng);
	for (i = 0; i < MANY_IOC; i++) {
		snprintf(re, sizeof(re), "ioc-%08x-evil",
		    0x1234u + (unsigned)i);
		many_add(ms, re, false);
	}
	for (i = MANY_IOC; i < MANY_DOMAIN; i++) {
		snprintf(re, sizeof(re), "malware[0-9]{2}\\.example%d\\.com",
		    i - MANY_IOC);
		many_add(ms, re, false);
	}
	for (i = MANY_DOMAIN; i < MANY_AGENT; i++) {
		snprintf(re, sizeof(re), "User-Agent: BadBot/%d\\.[0-9]+",
		    100 + i - MANY_DOMAIN);
		many_add(ms, re, false);
	}
	for (i = MANY_AGENT; i < MANY_SECRET; i++) {
		snprintf(re, sizeof(re), "Secret-%d-Token", i - MANY_AGENT);
		many_add(ms, re, true);
	}
	for (i = MANY_SECRET; i < MANY_BEHIND; i++) {
		snprintf(re, sizeof(re), "(?<=user=)admin%d", i - MANY_SECRET);
		many_add(ms, re, false);
	}
	for (i = MANY_BEHIND; i < MANY_WORD; i++) {
		snprintf(re, sizeof(re), "\\bword%d\\b", i - MANY_BEHIND);
		many_add(ms, re, false);
	}
	/* Ties at one start: 150 (PCRE2) beats 151, 152 beats 153 (PCRE2). */
	many_add(ms, "(?<=<)tie-[a-z]+", false);
	many_add(ms, "tie-abc", false);
	many_add(ms, "knot-[0-9]", false);
	many_add(ms, "(?<=<)knot-[0-9]+", false);
	ck_assert_int_eq(match_set_count(ms), MANY_COUNT);
	ck_assert_int_eq(match_set_prepare(ms),
	    eng == MATCH_ENGINE_VECTORSCAN ? MANY_FAST : 0);
	return ms;
}

struct plant {
	const char *text;
	uint32_t at;
};

struct many_case {
	const char *name;
	struct plant plants[2];
	int want;
	uint32_t off;
	uint32_t mlen;		/* 0: varies with the chunks */
};

static const struct many_case many_cases[] = {
	{ "literal", { { "ioc-00001259-evil", 1000 } }, 37, 1000, 17 },
	{ "class and count", { { "malware42.example17.com", 1500 } }, 77,
	    1500, 23 },
	{ "greedy tail", { { "User-Agent: BadBot/103.4567 ", 700 } }, 93,
	    700, 0 },
	{ "caseless", { { "sEcReT-5-tOkEn", 2980 } }, 125, 2980, 14 },
	{ "PCRE2 first", { { "user=admin3", 900 },
	    { "ioc-00001236-evil", 950 } }, 143, 905, 6 },
	{ "Vectorscan first", { { "ioc-00001236-evil", 900 },
	    { "user=admin3", 950 } }, 2, 900, 17 },
	{ "trailing \\b", { { " word2 ", 10 } }, 147, 11, 5 },
	{ "tie to PCRE2", { { "<tie-abc!", 2000 } }, 150, 2001, 0 },
	{ "tie to Vectorscan", { { "<knot-7!", 2000 } }, 152, 2001, 6 },
	{ "at the start", { { "ioc-00001234-evil", 0 } }, 0, 0, 17 },
	{ "at the end", { { "ioc-00001234-evil", MANY_FILLER - 17 } }, 0,
	    MANY_FILLER - 17, 17 },
	{ "none", { { "ioc-0000123g-evil", 100 } }, -1, 0, 0 },
};

/* Filler no pattern matches: lower-case letters but a-e and spaces. */
static void
many_filler(uint8_t *buf, size_t len)
{
	static const char set[] = "fghjklmnpqrsuvwxyz ";
	uint32_t seed = RANDOM_SEED;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)set[xorshift32(&seed) % (sizeof(set) - 1)];
}

/* Chunk sizes; 0 means random cuts. */
static const uint32_t many_chunks[] = { 1, 3, 7, 16, 64, 1460, 100000, 0 };

START_TEST(test_many_case)
{
	const struct many_case *mc = &many_cases[_i];
	struct match_set *ms[NENGINES];
	struct stream_case c;
	struct result r, ref;
	uint8_t data[MANY_FILLER];
	bool cut[MANY_FILLER + 1];
	uint32_t seed = RANDOM_SEED, k;
	size_t e, ch, p;
	char mode[64];

	many_filler(data, sizeof(data));
	for (p = 0; p < 2 && mc->plants[p].text != NULL; p++)
		memcpy(data + mc->plants[p].at, mc->plants[p].text,
		    strlen(mc->plants[p].text));
	memset(&c, 0, sizeof(c));
	c.name = mc->name;
	c.data = (const char *)data;
	c.len = sizeof(data);
	c.want = mc->want;
	c.off = mc->off;
	c.mlen = mc->mlen;
	c.len_varies = mc->mlen == 0;
	for (e = 0; e < NENGINES; e++)
		ms[e] = many_set(engines[e]);
	for (ch = 0; ch < sizeof(many_chunks) / sizeof(many_chunks[0]);
	    ch++) {
		for (k = 0; k <= c.len; k++)
			cut[k] = many_chunks[ch] != 0 ? k % many_chunks[ch] ==
			    0 : xorshift32(&seed) % 50 == 0;
		for (e = NENGINES; e-- > 0;) {
			snprintf(mode, sizeof(mode), "%s chunk",
			    engine_names[e]);
			run_stream(ms[e], &c, cut, &r);
			check_result(&c, &r, mode, (long)many_chunks[ch]);
			if (e == NENGINES - 1) {
				ref = r;
				continue;
			}
			/* The same cuts give the same length too. */
			ck_assert_uint_eq(r.h.len, ref.h.len);
		}
	}
	for (e = 0; e < NENGINES; e++)
		match_set_free(ms[e]);
}
END_TEST

/* ---- random patterns, all engines against the reference ---- */

/* Both may be set at compile time for longer runs. */
#ifndef RAND_CASES
#define RAND_CASES 2000
#endif
#ifndef RAND_SEED
#define RAND_SEED 0x5bd1e995U
#endif
#define RAND_DATA_MAX 40
#define RAND_LONG_MAX 300
#define RAND_RE_MAX 2048
#define RAND_PATS_MAX 4

static const char *const rand_atoms[] = {
	"a", "b", "c", "1", " ", "A", ".", "[ab]", "[^c]", "\\s", "\\w",
	"\\d", "[a-c1]", "\\x00", "ab", "ba"
};
static const char *const rand_quants[] = {
	"", "", "", "", "?", "*", "+", "{2}", "{1,3}", "{0,2}", "+?", "*?",
	"{2,}", "??"
};
static const char *const rand_prefixes[] = {
	"", "", "", "", "", "^", "\\b", "(?<=a)", "(?i)", "\\A", "(?s)"
};
static const char *const rand_suffixes[] = {
	"", "", "", "", "", "$", "\\b", "|c", "(?=b)", "\\B", "|^b"
};
static const char rand_bytes[] = "abcA1 \n";

#define PICK(seed, arr) ((arr)[xorshift32(seed) % \
	(sizeof(arr) / sizeof((arr)[0]))])

static void
rand_append(char *re, const char *s)
{
	ck_assert_uint_lt(strlen(re) + strlen(s), RAND_RE_MAX);
	strcat(re, s);
}

static const char *const rand_musts[] = { "", "+", "{2}", "{1,3}", "+?" };
static const char *const rand_optionals[] = { "", "", "?", "??" };

/* True when a quantifier allows no repetition. */
static bool
rand_optional(const char *q)
{
	return q[0] == '?' || q[0] == '*' || strncmp(q, "{0", 2) == 0;
}

/*
 * A sequence of atoms; returns whether it can match the empty string. At the
 * top level one of them is a plain atom that must appear, and a group that
 * can match the empty string is never repeated: PCRE2's soft partial
 * matching returns a partial match, or none, where such patterns have a
 * complete one (a match ending in a repeated group that matched nothing, an
 * empty match before (?=b)), which the reference follows and the others,
 * searching for complete matches first, do not.
 */
static bool
rand_seq(uint32_t *seed, char *re, int depth)
{
	uint32_t n = 1 + xorshift32(seed) % 4, k, must = xorshift32(seed) % n;
	bool nullable = true, inner;
	const char *q;

	for (k = 0; k < n; k++) {
		if (depth == 0 && k == must) {
			rand_append(re, PICK(seed, rand_atoms));
			rand_append(re, PICK(seed, rand_musts));
			nullable = false;
			continue;
		}
		if (depth < 2 && xorshift32(seed) % 6 == 0) {
			rand_append(re, "(?:");
			inner = rand_seq(seed, re, depth + 1);
			if (xorshift32(seed) % 2 == 0) {
				rand_append(re, "|");
				inner = rand_seq(seed, re, depth + 1) || inner;
			}
			rand_append(re, ")");
			q = inner ? PICK(seed, rand_optionals) :
			    PICK(seed, rand_quants);
		} else {
			rand_append(re, PICK(seed, rand_atoms));
			inner = false;
			q = PICK(seed, rand_quants);
		}
		rand_append(re, q);
		if (!inner && !rand_optional(q))
			nullable = false;
	}
	return nullable;
}

/* Formats bytes for a failure message. */
static void
show(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < size; i++) {
		if (src[i] >= 0x20 && src[i] < 0x7f)
			dst[o++] = src[i];
		else
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x",
			    (unsigned char)src[i]);
	}
	dst[o] = '\0';
}

static bool
same_result(const struct result *a, const struct result *b)
{
	return a->hit == b->hit && a->overflows == b->overflows &&
	    a->depth_reached == b->depth_reached && (!a->hit ||
	    (a->h.pattern == b->h.pattern && a->h.offset == b->h.offset &&
	    a->h.len == b->h.len && a->h.excerpt_len == b->h.excerpt_len &&
	    memcmp(a->h.excerpt, b->h.excerpt, a->h.excerpt_len) == 0));
}

/* ---- many gated patterns: only those that can match are visited ---- */

#define GATED_FAMILIES 6
#define GATED_PER 12

static struct match_set *
gated_set(enum match_engine eng)
{
	static const char *const shapes[GATED_FAMILIES] = {
		"(GET|POST) /tok%d[a-z0-9_]*\\.exe",
		"id%d=[a-z]+;",
		"X-Key-%d: [0-9a-f]+\r",
		"token%d=[A-Z]+!",	/* caseless */
		"\\x00q%d[a-z]*\\x00",
		"UA: [A-Za-z]+/v%d;",	/* one head: searched as a group */
	};
	struct match_set *ms = match_set_new();
	struct match_mem mm;
	char re[128];
	int f, i;

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, eng);
	for (f = 0; f < GATED_FAMILIES; f++)
		for (i = 0; i < GATED_PER; i++) {
			snprintf(re, sizeof(re), shapes[f], i);
			many_add(ms, re, f == 3);
		}
	many_add(ms, "fast-literal-one", false);
	many_add(ms, "fast-[0-9]{3}-two", false);
	(void)match_set_prepare(ms);
	match_set_memory(ms, &mm);
	if (eng == MATCH_ENGINE_VECTORSCAN) {
		ck_assert_int_eq(mm.gated, GATED_FAMILIES * GATED_PER);
		ck_assert_int_eq(mm.gated_grouped, GATED_PER);
	}
	return ms;
}

/* Texts and matches hold NULs: T() gives each with its length. */
#define T(s) s, sizeof(s) - 1

struct gated_case {
	const char *name;
	const char *text;
	size_t len;
	const char *match;	/* its first occurrence is the match */
	size_t mlen;
	int want;
};

/*
 * Heads of every family that die, some the start of another's head, apart
 * (filler no pattern starts with), so that at most cuts no partial match
 * is alive and the patterns a scan visits decide.
 */
#define Z "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
#define NEAR "GET /tok1 " Z "POST /tok2ab " Z "id3=ab " Z "X-Key-4: 0a " \
	Z "TOKEN5=AB " Z "\0q6ab " Z "q7 " Z "POST /tok1" "0 " Z "id1 " Z \
	"X-Key-11: " Z "UA: Mozilla/5.0 " Z "UA: Moz/v" Z "UA: Moz/v1" Z
#define LONG "GET /tok3abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" \
	"abcdefghijklmnopqrstuvwxyz"
static const struct gated_case gated_cases[] = {
	{ "none", T(NEAR NEAR), T(""), -1 },
	{ "GET", T(NEAR "GET /tok7_x.exe" Z), T("GET /tok7_x.exe"), 7 },
	{ "caseless", T(NEAR "TOKEN9=ABC!" Z), T("TOKEN9=ABC!"), 45 },
	{ "NUL delimited", T(NEAR "\0q11abc\0" Z), T("\0q11abc\0"), 59 },
	{ "after a long partial", T(NEAR LONG "0123 " "id8=xyz;" Z),
	    T("id8=xyz;"), 20 },
	{ "the long partial matches", T(NEAR LONG ".exe " "id8=xyz;"),
	    T(LONG ".exe"), 3 },
	{ "a fast one first", T(NEAR "fast-123-two X-Key-2: ff\r" Z),
	    T("fast-123-two"), 73 },
	{ "UA", T(NEAR "UA: Mozilla/v7;" Z), T("UA: Mozilla/v7;"), 67 },
	{ "UA after dead ones", T(NEAR "UA: Moz/v UA: Moz/v1 UA: Abc/v11;" Z),
	    T("UA: Abc/v11;"), 71 },
	{ "UA, a long name", T(NEAR "UA: " "abcdefghijklmnopqrstuvwxyz"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/v0;"),
	    T("UA: abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ/v0;"), 60 },
};

/*
 * Sixty gated patterns of five families, with their heads cut at every
 * chunk size and at every offset: each engine gives the expected match,
 * and the reference's (the chunk shown negative: cut there only).
 */
START_TEST(test_gated_many)
{
	static const uint32_t chunks[] = { 1, 2, 3, 5, 7, 13, 64, 0 };
	enum { NCHUNKS = sizeof(chunks) / sizeof(chunks[0]) };
	const struct gated_case *gc = &gated_cases[_i];
	struct match_set *ms[NENGINES];
	struct stream_case c;
	struct result r, ref;
	uint32_t seed = RANDOM_SEED;
	bool cut[2048];
	size_t e, ch, k;
	const void *at;
	char mode[64];

	ck_assert_uint_lt(gc->len, sizeof(cut));
	memset(&c, 0, sizeof(c));
	c.name = gc->name;
	c.data = gc->text;
	c.len = (uint32_t)gc->len;
	c.want = gc->want;
	c.mlen = (uint32_t)gc->mlen;
	if (gc->want >= 0) {
		at = memmem(gc->text, gc->len, gc->match, gc->mlen);
		ck_assert_ptr_nonnull(at);
		c.off = (uint32_t)((const char *)at - gc->text);
	}
	for (e = 0; e < NENGINES; e++)
		ms[e] = gated_set(engines[e]);
	/* Each chunk size, then in two at every offset (a cut in a head). */
	for (ch = 0; ch < NCHUNKS + gc->len; ch++) {
		for (k = 0; k <= gc->len; k++)
			cut[k] = ch >= NCHUNKS ? k == ch - NCHUNKS :
			    chunks[ch] != 0 ? k % chunks[ch] == 0 :
			    xorshift32(&seed) % 4 == 0;
		for (e = NENGINES; e-- > 0;) {
			snprintf(mode, sizeof(mode), "%s chunk",
			    engine_names[e]);
			run_stream(ms[e], &c, cut, &r);
			check_result(&c, &r, mode, ch < NCHUNKS ?
			    (long)chunks[ch] : -(long)(ch - NCHUNKS));
			if (e == NENGINES - 1)
				ref = r;
			else
				ck_assert(same_result(&r, &ref));
		}
	}
	for (e = 0; e < NENGINES; e++)
		match_set_free(ms[e]);
}
END_TEST

/*
 * Random patterns (anchors, \b, lookarounds, classes, quantifiers, nested
 * alternations, caseless) over random bytes, cut at random, with gaps, small
 * windows and depths: every engine gives exactly the reference's hit, length
 * and counts, and the same datagram hit. Cases where Vectorscan runs some
 * pattern must be common, or the test proves little.
 */
START_TEST(test_random_engines)
{
	static const uint32_t windows[] = { 3, 5, 8, 16, 65536 };
	static const uint64_t depths[] = { 0, 0, 0, 12, 30 };
	char res[RAND_PATS_MAX][RAND_RE_MAX];
	char data[RAND_LONG_MAX], shown[2048], pshown[RAND_PATS_MAX][400];
	struct pat_spec pats[CASE_PATS_MAX + 1];
	struct stream_case c;
	struct match_set *ms;
	struct result r[NENGINES];
	struct match_hit dh[NENGINES];
	bool dg[NENGINES], cut[RAND_LONG_MAX + 1], long_data;
	uint32_t seed = RANDOM_SEED ^ RAND_SEED, k;
	int run, np, i, j, fast_sets = 0, gated_sets = 0, twin_sets = 0;
	struct match_mem mm;
	bool twins;
	size_t e;

	for (run = 0; run < RAND_CASES; run++) {
		memset(&c, 0, sizeof(c));
		memset(pats, 0, sizeof(pats));
		np = 1 + (int)(xorshift32(&seed) % RAND_PATS_MAX);
		for (i = 0; i < np; i++) {
			res[i][0] = '\0';
			/* Some repeat an earlier one, as -f P -F P does. */
			if (i > 0 && xorshift32(&seed) % 4 == 0) {
				j = (int)(xorshift32(&seed) % (uint32_t)i);
				strcpy(res[i], res[j]);
			} else {
				rand_append(res[i], PICK(&seed,
				    rand_prefixes));
				(void)rand_seq(&seed, res[i], 0);
				rand_append(res[i], PICK(&seed,
				    rand_suffixes));
			}
			pats[i].re = res[i];
			pats[i].len = strlen(res[i]);
			pats[i].dirs = xorshift32(&seed) % 4 == 0 ?
			    (xorshift32(&seed) % 2 ? C : S) : A;
			pats[i].caseless = xorshift32(&seed) % 5 == 0;
			show(pshown[i], sizeof(pshown[i]), res[i],
			    pats[i].len);
		}
		twins = false;
		for (i = 0; i < np; i++)
			for (j = 0; j < i; j++)
				twins = twins || (strcmp(res[i], res[j]) ==
				    0 && pats[i].caseless == pats[j].caseless);
		twin_sets += twins;
		/*
		 * One case in four is long and mostly filler, so that matches
		 * fall at the ends of the scanners' 16- to 64-byte blocks.
		 */
		long_data = xorshift32(&seed) % 4 == 0;
		c.len = xorshift32(&seed) % (long_data ? RAND_LONG_MAX :
		    RAND_DATA_MAX);
		for (k = 0; k < c.len; k++)
			data[k] = long_data && xorshift32(&seed) % 8 != 0 ?
			    'm' : xorshift32(&seed) % 8 == 0 ? '\0' :
			    PICK(&seed, rand_bytes);
		c.data = data;
		c.dir = (int)(xorshift32(&seed) % 2);
		c.ngaps = (int)(xorshift32(&seed) % 3);
		for (i = 0; i < c.ngaps; i++) {
			c.gaps[i].at = c.len > 0 ? xorshift32(&seed) % (c.len +
			    1) : 0;
			c.gaps[i].len = xorshift32(&seed) % 4;
		}
		if (c.ngaps == 2 && c.gaps[1].at < c.gaps[0].at) {
			k = c.gaps[0].at;
			c.gaps[0].at = c.gaps[1].at;
			c.gaps[1].at = k;
		}
		c.window = PICK(&seed, windows);
		c.depth = PICK(&seed, depths);
		for (k = 0; k <= c.len; k++)
			cut[k] = xorshift32(&seed) % (long_data ? 40 : 3) == 0;
		show(shown, sizeof(shown), data, c.len);
		/* The cuts and gaps, after the data, for failure messages. */
		snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown),
		    "' cuts '");
		for (k = 0; k <= c.len; k++)
			snprintf(shown + strlen(shown), sizeof(shown) -
			    strlen(shown), "%c", cut[k] ? '|' : '.');
		for (i = 0; i < c.ngaps; i++)
			snprintf(shown + strlen(shown), sizeof(shown) -
			    strlen(shown), " gap %u+%u", c.gaps[i].at,
			    c.gaps[i].len);
		c.name = shown;
		for (e = 0; e < NENGINES; e++) {
			ms = build_set(pats, c.window, c.depth, engines[e]);
			if (engines[e] == MATCH_ENGINE_VECTORSCAN) {
				fast_sets += match_set_prepare(ms) > 0;
				match_set_memory(ms, &mm);
				gated_sets += mm.gated > 0;
			}
			run_stream(ms, &c, cut, &r[e]);
			dg[e] = match_datagram(ms, c.dir, (const uint8_t *)data,
			    c.len, &dh[e]);
			match_set_free(ms);
		}
		for (e = 0; e + 1 < NENGINES; e++) {
			ck_assert_msg(same_result(&r[e], &r[NENGINES - 1]),
			    "run %d, %s: '%s' '%s' '%s' '%s' on '%s' window %u "
			    "depth %llu: hit %d pattern %d at %llu len %u "
			    "overflows %llu; reference hit %d pattern %d at "
			    "%llu len %u overflows %llu", run, engine_names[e],
			    pshown[0], np > 1 ? pshown[1] : "",
			    np > 2 ? pshown[2] : "", np > 3 ? pshown[3] : "",
			    shown, c.window, (unsigned long long)c.depth,
			    r[e].hit, r[e].h.pattern,
			    (unsigned long long)r[e].h.offset, r[e].h.len,
			    (unsigned long long)r[e].overflows,
			    r[NENGINES - 1].hit, r[NENGINES - 1].h.pattern,
			    (unsigned long long)r[NENGINES - 1].h.offset,
			    r[NENGINES - 1].h.len,
			    (unsigned long long)r[NENGINES - 1].overflows);
			ck_assert_msg(dg[e] == dg[NENGINES - 1] && (!dg[e] ||
			    (dh[e].pattern == dh[NENGINES - 1].pattern &&
			    dh[e].offset == dh[NENGINES - 1].offset &&
			    dh[e].len == dh[NENGINES - 1].len)),
			    "run %d, %s datagram: '%s' '%s' '%s' '%s' on '%s'",
			    run, engine_names[e], pshown[0],
			    np > 1 ? pshown[1] : "", np > 2 ? pshown[2] : "",
			    np > 3 ? pshown[3] : "", shown);
		}
	}
	ck_assert_int_gt(fast_sets, RAND_CASES / 4);
	ck_assert_int_gt(gated_sets, RAND_CASES / 20);
	ck_assert_int_gt(twin_sets, RAND_CASES / 40);
}
END_TEST

/* ---- PCRE2 errors, limits and the JIT stack ---- */

/*
 * CPU bound for the searches below, generous for a loaded machine and the
 * sanitizers: before the fix each one took 1.1 s (the JIT running to the
 * end of its 1 MiB stack), after it microseconds.
 */
#define LOOP_CPU_MAX 0.5
#define LIMITS_CPU_MAX 1.0
#define LOOP_SEG 512
#define LOOP_SEGS 8

static double
cpu_seconds(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct match_set *
one_pattern(const char *re, size_t len, enum match_engine eng)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, eng);
	ck_assert_msg(match_set_add(ms, re, len, A, false, "test", errbuf) ==
	    0, "%s", errbuf);
	return ms;
}

static void
check_errs(const struct match_set *ms, uint64_t errors,
    uint64_t fallbacks, int interpreted, const char *what)
{
	struct match_errs me;

	match_set_errors(ms, &me);
	ck_assert_msg(me.errors == errors && me.jit_fallbacks == fallbacks &&
	    me.interpreted == interpreted, "%s: %llu errors, %llu fallbacks, "
	    "%d interpreted; want %llu, %llu, %d", what,
	    (unsigned long long)me.errors,
	    (unsigned long long)me.jit_fallbacks, me.interpreted,
	    (unsigned long long)errors, (unsigned long long)fallbacks,
	    interpreted);
}

/*
 * Fuzz finding F1 (fuzz/regress/patterns/timeout-jit-recursion-loop): in
 * (|(?1))(\xfd)(d*), group 1 may call itself without consuming. Where the
 * next byte is not \xfd, PCRE2's interpreter reports the loop at once
 * (Perl dies of it), so the pattern matches only at a search's start;
 * elsewhere the search is a counted error and no match. The JIT ran each
 * search to the end of its stack instead. Found at match_set_add(), so
 * the pattern is interpreted from the start, on every engine: 8 segments
 * of 512 bytes, each with \xfd inside, give one error per search (a
 * complete and a partial one per feed, one soft partial search for the
 * reference), then a stream and a datagram that start with it match.
 */
START_TEST(test_recursion_loop)
{
	static const char re[] = "(|(?1))(\xfd)(d*)";
	bool ref = engines[_i] == MATCH_ENGINE_PCRE2_PARTIAL;
	uint8_t data[LOOP_SEG * LOOP_SEGS];
	struct match_set *ms;
	struct match_hit hit;
	struct match_dir md;
	double t0, used;
	int k;

	memset(data, 'a', sizeof(data));
	for (k = 0; k < LOOP_SEGS; k++)
		memcpy(data + k * LOOP_SEG + 100, "\xfd" "ddd", 4);
	t0 = cpu_seconds();
	ms = one_pattern(re, sizeof(re) - 1, engines[_i]);
	ck_assert(!match_empty(ms, &hit));
	check_errs(ms, 0, 0, 1, "added");
	memset(&md, 0, sizeof(md));
	for (k = 0; k < LOOP_SEGS; k++)
		ck_assert_msg(!match_feed(ms, &md, 0, data + k * LOOP_SEG,
		    LOOP_SEG, &hit), "%s: segment %d matches at %llu",
		    engine_names[_i], k, (unsigned long long)hit.offset);
	match_dir_release(&md);
	check_errs(ms, ref ? LOOP_SEGS : 2 * LOOP_SEGS, 0, 1, "stream");

	memcpy(data, "\xfd" "ddd", 4);
	for (k = 0; k < LOOP_SEGS; k++)
		if (match_feed(ms, &md, 0, data + k * LOOP_SEG, LOOP_SEG, &hit))
			break;
	match_dir_release(&md);
	ck_assert_int_eq(k, 0);
	ck_assert_int_eq(hit.pattern, 0);
	ck_assert_uint_eq(hit.offset, 0);
	ck_assert_uint_eq(hit.len, 4);

	ck_assert(!match_datagram(ms, 1, (const uint8_t *)"a\xfd" "dd", 4,
	    &hit));
	ck_assert(match_datagram(ms, 1, (const uint8_t *)"\xfd" "dda", 4,
	    &hit));
	ck_assert_uint_eq(hit.offset, 0);
	ck_assert_uint_eq(hit.len, 3);
	check_errs(ms, (ref ? LOOP_SEGS : 2 * LOOP_SEGS) + 1, 0, 1, "end");
	match_set_free(ms);
	used = cpu_seconds() - t0;
	ck_assert_msg(used < LOOP_CPU_MAX, "%s: %.3f s of CPU",
	    engine_names[_i], used);
}
END_TEST

/*
 * A recursion that loops only after a byte the search at "" never gets
 * to: the JIT finds out, by running out of its (small) stack for
 * recursive patterns once; the interpreter names the loop, and the
 * pattern is interpreted from then on: one fallback for eight searches.
 */
START_TEST(test_recursion_loop_late)
{
	static const char re[] = "x(|(?1))\xfd";
	static const char dg[] = "aaaa xa \xfd aaaa";
	struct match_set *ms;
	struct match_hit hit;
	double t0, used;
	int k;

	t0 = cpu_seconds();
	ms = one_pattern(re, sizeof(re) - 1, MATCH_ENGINE_PCRE2);
	check_errs(ms, 0, 0, 0, "added");
	ck_assert(match_datagram(ms, 0, (const uint8_t *)"ax\xfd", 3, &hit));
	ck_assert_uint_eq(hit.offset, 1);
	ck_assert_uint_eq(hit.len, 2);
	for (k = 0; k < LOOP_SEGS; k++)
		ck_assert(!match_datagram(ms, 0, (const uint8_t *)dg,
		    sizeof(dg) - 1, &hit));
	check_errs(ms, LOOP_SEGS, 1, 1, "searched");
	match_set_free(ms);
	used = cpu_seconds() - t0;
	ck_assert_msg(used < LOOP_CPU_MAX, "%.3f s of CPU", used);
}
END_TEST

/* "(" n times and ")" n times, or "abab...c" of n bytes. */
static uint8_t *
nested(size_t n, bool parens)
{
	uint8_t *b = malloc(n);
	size_t i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		b[i] = parens ? (i < n / 2 ? '(' : ')') : "ab"[i % 2];
	if (!parens)
		b[n - 1] = 'c';
	return b;
}

/*
 * Searches the JIT runs out of stack for are interpreted, and find what
 * they used to miss: (a|b)*c takes a JIT frame per repetition (1 MiB is
 * some 65,000), and the recursive pattern's smaller stack holds some
 * 1,800 levels, not 3,000. The next search is the JIT's again.
 */
START_TEST(test_jit_fallback)
{
	static const char rep[] = "(a|b)*c";
	static const char rec[] = "\\((?:[^()]|(?R))*\\)";
	struct match_set *ms;
	struct match_hit hit;
	uint8_t *b;

	ms = one_pattern(rep, sizeof(rep) - 1, MATCH_ENGINE_PCRE2);
	b = nested(200000, false);
	ck_assert(match_datagram(ms, 0, b, 200000, &hit));
	ck_assert_uint_eq(hit.offset, 0);
	ck_assert_uint_eq(hit.len, 200000);
	check_errs(ms, 0, 1, 0, "repeated group");
	ck_assert(match_datagram(ms, 0, b + 199990, 10, &hit));
	ck_assert_uint_eq(hit.len, 10);
	check_errs(ms, 0, 1, 0, "short");
	free(b);
	match_set_free(ms);

	ms = one_pattern(rec, sizeof(rec) - 1, MATCH_ENGINE_PCRE2);
	b = nested(6000, true);
	ck_assert(match_datagram(ms, 0, b, 6000, &hit));
	ck_assert_uint_eq(hit.offset, 0);
	ck_assert_uint_eq(hit.len, 6000);
	check_errs(ms, 0, 1, 0, "3,000 levels");
	ck_assert(match_datagram(ms, 0, b + 2900, 200, &hit));
	ck_assert_uint_eq(hit.offset, 0);
	ck_assert_uint_eq(hit.len, 200);
	check_errs(ms, 0, 1, 0, "100 levels");
	free(b);
	match_set_free(ms);
}
END_TEST

/*
 * The interpreter within its limits: a soft partial search of (a|b)*c over
 * a 64 KiB feed of "abab" (the JIT runs out of stack; the interpreter
 * would take 75 s trying every start to the end) stops at the budget, and
 * 300,000 bytes of it ending in c pass the heap limit. Both are counted
 * errors and no match, in some 0.2 s of CPU together.
 */
START_TEST(test_interp_limits)
{
	static const char rep[] = "(a|b)*c";
	struct match_set *ms;
	struct match_hit hit;
	struct match_dir md;
	double t0, used;
	uint8_t *b;

	ms = one_pattern(rep, sizeof(rep) - 1, MATCH_ENGINE_PCRE2);
	b = nested(300000, false);
	t0 = cpu_seconds();
	memset(&md, 0, sizeof(md));
	ck_assert(!match_feed(ms, &md, 0, b, 65536, &hit));
	match_dir_release(&md);
	check_errs(ms, 1, 1, 0, "budget");
	ck_assert(!match_datagram(ms, 0, b, 300000, &hit));
	check_errs(ms, 2, 2, 0, "heap limit");
	used = cpu_seconds() - t0;
	ck_assert_msg(used < LIMITS_CPU_MAX, "%.3f s of CPU", used);
	free(b);
	match_set_free(ms);
}
END_TEST

/*
 * Long scans: Vectorscan's scanners work in blocks of 16 to 64 bytes, and
 * some of its releases miss matches near a block's end (see hs_runtime()
 * in match.c). Random patterns over long, mostly filler data at every
 * alignment, as one feed and as a datagram, match exactly as PCRE2 alone
 * does.
 */
#define LONG_RUNS 400
#define LONG_MAX 400

START_TEST(test_long_scans)
{
	_Alignas(64) uint8_t buf[LONG_MAX + 64];
	static const char fill[] = "abc1 Axyz0\n";
	struct match_set *v, *p;
	struct match_dir md;
	struct match_hit hv, hp;
	char re[RAND_RE_MAX], errbuf[MATCH_ERRBUF_SIZE];
	uint32_t seed = RANDOM_SEED ^ 0x9e3779b9U, len, al, k;
	int run, n, j, fast = 0;
	bool gv, gp;

	for (run = 0; run < LONG_RUNS; run++) {
		re[0] = '\0';
		n = 1 + (int)(xorshift32(&seed) % 4);
		for (j = 0; j < n; j++) {
			rand_append(re, PICK(&seed, rand_atoms));
			rand_append(re, j == 0 ? "" : PICK(&seed, rand_quants));
		}
		v = match_set_new();
		p = match_set_new();
		match_set_engine(v, MATCH_ENGINE_VECTORSCAN);
		match_set_engine(p, MATCH_ENGINE_PCRE2);
		ck_assert_int_eq(match_set_add(v, re, strlen(re), A, false,
		    "-a", errbuf), 0);
		ck_assert_int_eq(match_set_add(p, re, strlen(re), A, false,
		    "-a", errbuf), 0);
		fast += match_set_prepare(v);
		len = 64 + xorshift32(&seed) % (LONG_MAX - 64);
		al = xorshift32(&seed) % 64;
		for (k = 0; k < len; k++)
			buf[al + k] = xorshift32(&seed) % 12 == 0 ?
			    (uint8_t)fill[xorshift32(&seed) % (sizeof(fill) -
			    1)] : 'm';
		gv = match_datagram(v, 0, buf + al, len, &hv);
		gp = match_datagram(p, 0, buf + al, len, &hp);
		ck_assert_msg(gv == gp && (!gv || (hv.pattern == hp.pattern &&
		    hv.offset == hp.offset && hv.len == hp.len)),
		    "datagram '%s', %u bytes at %u: %d, PCRE2 alone %d", re,
		    len, al, gv, gp);
		memset(&md, 0, sizeof(md));
		gv = match_feed(v, &md, 0, buf + al, len, &hv);
		match_dir_release(&md);
		gp = match_feed(p, &md, 0, buf + al, len, &hp);
		match_dir_release(&md);
		ck_assert_msg(gv == gp && (!gv || (hv.pattern == hp.pattern &&
		    hv.offset == hp.offset && hv.len == hp.len)),
		    "feed '%s', %u bytes at %u: %d, PCRE2 alone %d", re,
		    len, al, gv, gp);
		match_set_free(v);
		match_set_free(p);
	}
	ck_assert_int_gt(fast, LONG_RUNS / 2);
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
	tcase_add_loop_test(tc, test_depth_done, 0, (int)NENGINES);
	tcase_add_loop_test(tc, test_two_directions, 0, (int)NENGINES);
	tcase_add_loop_test(tc, test_end_so_far, 0, (int)NENGINES);
	tcase_add_loop_test(tc, test_path_case, 0,
	    (int)(sizeof(path_cases) / sizeof(path_cases[0])));
	tcase_add_test(tc, test_vectorscan_state);
	tcase_add_test(tc, test_twins_share_code);
	tcase_add_test(tc, test_prefiltered);
	tcase_add_test(tc, test_pending);
	tcase_add_test(tc, test_gated_twins);
	tcase_add_test(tc, test_env_no_vectorscan);
	tcase_add_test(tc, test_auto_engine);
	tcase_add_test(tc, test_late_changes);
	tcase_add_test(tc, test_vectorscan_bugs);
	tcase_add_loop_test(tc, test_escape_case, 0,
	    (int)(sizeof(escape_cases) / sizeof(escape_cases[0])));
	tcase_add_loop_test(tc, test_many_case, 0,
	    (int)(sizeof(many_cases) / sizeof(many_cases[0])));
	tcase_add_loop_test(tc, test_gated_many, 0,
	    (int)(sizeof(gated_cases) / sizeof(gated_cases[0])));
	tcase_add_test(tc, test_random_engines);
	tcase_add_test(tc, test_long_scans);
	tcase_add_loop_test(tc, test_recursion_loop, 0, (int)NENGINES);
	tcase_add_test(tc, test_recursion_loop_late);
	tcase_add_test(tc, test_jit_fallback);
	tcase_add_test(tc, test_interp_limits);
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
