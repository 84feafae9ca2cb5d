/* match.c: streaming pattern sets: Vectorscan finds, PCRE2 decides. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <dlfcn.h>
#include <hs.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hscache.h"
#include "littrie.h"
#include "match.h"

/*
 * PCRE2 is the semantics; Vectorscan only finds candidates fast.
 *
 * Each pattern Vectorscan can parse is reduced to its core: trailing
 * optional atoms are dropped and a trailing {n,m}, {n,} or + becomes {n}.
 * Every match of the pattern has a core match as its prefix, and every core
 * match is a match, so the core matches at exactly the starts the pattern
 * does, ending where the first match from that start is complete. One
 * Vectorscan stream per direction runs the cores of the set; a core match
 * ending in a feed means the pattern's first complete match ends in this
 * feed, so PCRE2 confirms it there, over the stream's last bytes (the tail:
 * the widest core and the context lookbehinds inspect) and the feed, and
 * picks start and length as the PCRE2 path would: the earliest start wins,
 * then the lowest index, whichever path found it. Vectorscan may report
 * more than PCRE2 matches (that only costs a confirmation), never less for
 * the patterns admitted (see pattern_analyse()): those that compile in
 * Vectorscan with no assertion at the end of the data, whose core fits the
 * window and MATCH_TAIL_MAX, with ^ only at the very start of a pattern
 * without top-level alternation (a stream opened after a gap ignores
 * them), and no $ or (?m). The rest run on PCRE2 as before, as do all
 * patterns of a direction refused a stream by MATCH_STREAMS_MEM_MAX.
 *
 * A pattern admitted but whose core is too wide for a tail (such as
 * "User-Agent: [A-Za-z]+/x[0-9]") is gated: its core and its head (the
 * longest run of leading top-level atoms of bounded width, "User-Agent: ")
 * go into the database, and it runs on the PCRE2 path, whose retained
 * bytes replace the tail, but searches only where Vectorscan allows. A
 * complete match first found in a feed has its core match end in that
 * feed (an earlier end would have been a complete match then), so without
 * a core report the complete search is skipped. A partial match starts
 * within the head's width (and the slack) of the end, or at the start of
 * a head match ending in this feed, or, when bytes before the feed were
 * retained, anywhere from where the scan starts: the partial search starts
 * at the earliest of these. Both give what the PCRE2 path gives.
 *
 * Patterns with the same text and case (-f P -F P gives each twice, once
 * per direction) are analysed once and in the database once, under the
 * lowest index (the leader); a report is for the lowest index of the
 * stream's direction. A pattern with the same text as an earlier one of the
 * same direction can never be the one reported and is left out of that
 * direction's scans, and out of datagram scans when it is not the leader.
 *
 * The PCRE2 path searches for complete matches first and for a partial
 * match only near the end (scan_complete(), scan_partial()): partial
 * matching turns off PCRE2's start-of-match optimisations.
 *
 * Every PCRE2 search goes through pat_match(): JIT code, or the interpreter
 * within a budget when the JIT runs out of stack or the pattern's recursion
 * loops. A search that ends in an error (a limit, the budget, a loop) is
 * counted (match_set_errors()) and taken as no match.
 */

/*
 * Every feed runs every PCRE2 pattern of its direction, so the set is
 * bounded; far fewer patterns already make PCRE2 alone slow, the cap only
 * keeps the index an int and the arrays sane.
 */
#define MATCH_PATTERNS_MAX 65536

/*
 * The window is at most 1 GiB (flowgrep's --window cap), and the context a
 * pattern may look back at at most 1 MiB, so that the retained bytes plus an
 * ordinary chunk always fit the uint32_t lengths of struct match_dir.
 */
#define MATCH_WINDOW_MAX (1U << 30)
#define MATCH_CONTEXT_MAX (1U << 20)

/*
 * A complete match longer than the window is refused and the search goes on
 * one byte after its start. Patterns such as (?s)a.*z on a long run of "a"
 * would refuse a match at every start, each refusal costing a scan to the
 * end, so after this many refusals in one scan the search skips to the last
 * window of the subject, where no match can be too long. A match of that
 * pattern starting in the stretch skipped is not found: it is part of the
 * overflow already counted.
 */
#define MATCH_RETRY_MAX 64

/*
 * Characters of a pattern quoted in an error message, so that the message
 * fits MATCH_ERRBUF_SIZE; longer ones end in "...".
 */
#define MATCH_QUOTE_MAX 240

/*
 * Buffer sizes: the first allocation, and the capacity above which a buffer
 * holding much less than it can is given back.
 */
#define MATCH_BUF_MIN 256U
#define MATCH_BUF_SHRINK (64U * 1024)

/*
 * The JIT stack shared by the set: PCRE2's default of 32 KiB fails on
 * patterns that recurse deeply; 1 MiB suffices for anything reasonable.
 * Patterns that call groups as subroutines get a smaller one: a recursion
 * that loops without consuming, such as (|(?1))x, runs JIT code until the
 * stack is exhausted, in time quadratic in its size (1.1 s at 1 MiB, 16 ms
 * at 128 KiB, per search). 128 KiB holds some 1,800 levels of
 * \((?:[^()]|(?R))*\); deeper searches are interpreted (see pat_match()).
 */
#define MATCH_JIT_STACK_MIN (32 * 1024)
#define MATCH_JIT_STACK_MAX (1024 * 1024)
#define MATCH_JIT_STACK_RECURSE (128 * 1024)

/*
 * PCRE2's limits, set for every search rather than left to the library's
 * defaults (its heap limit is 20 GB). The match limit (PCRE2's default)
 * bounds the backtracking of the JIT and the interpreter from one start
 * position; the depth and heap limits bound the interpreter's backtracking
 * frames (a frame is 128 bytes and more with captures, so the heap limit
 * is usually the tighter). They bound one start position only, and a
 * search tries every position: an interpreted soft partial search for
 * (a|b)*c over 64 KiB of "abab" runs 75 s within them. So an interpreted
 * search also gets a budget for the whole search, MATCH_INTERP_BUDGET
 * steps (0.1 s here, some 75 times what a linear search of the default
 * window takes): a step is an item of the pattern tried, plus each byte
 * it moved forward (see interp_step()). A search that hits a limit or the
 * budget is an error, counted and taken as no match.
 */
#define MATCH_LIMIT 10000000U
#define MATCH_DEPTH_LIMIT 1000000U
#define MATCH_HEAP_LIMIT_KIB (64U * 1024)
#define MATCH_INTERP_BUDGET 5000000U

/*
 * Vectorscan limits. A direction's tail is at most MATCH_TAIL_MAX bytes (a
 * pattern whose core needs more stays on PCRE2), and the streams and tails
 * of all directions at most MATCH_STREAMS_MEM_MAX bytes: a direction that
 * would pass the cap is matched by PCRE2 alone, exactly but slower, and
 * counted in streams_refused. A database that fails to compile loses the
 * expression Vectorscan names and is compiled again, at most
 * MATCH_HS_RETRIES times; then the whole set runs on PCRE2.
 */
#define MATCH_TAIL_MAX 4096U
#define MATCH_STREAMS_MEM_MAX (32U * 1024 * 1024)
#define MATCH_HS_RETRIES 16
/*
 * A database that took this long to compile is stored in the cache
 * directory (a pattern or two take about a millisecond: not worth a file).
 */
#define MATCH_HS_CACHE_MIN_NS (20ULL * 1000 * 1000)

/*
 * The end of a subject whose bytes a scan gathers, and the first bytes a
 * pattern may have to be looked up there: see no_first().
 */
#define MATCH_LAST_BYTES 128U
#define MATCH_FIRSTS 4
_Static_assert(MATCH_LAST_BYTES == 128, "no_first() keeps two 64-bit masks");

/* The literals a pattern's matches start with: see form_lits(). */
#define MATCH_LITS 4
#define MATCH_LIT_MAX 16

/* Up to this many patterns PCRE2 alone may be as fast: see hs_pays(). */
#define MATCH_PCRE2_FEW 4

/*
 * Without a complete match, a partial match is a proper prefix of a core
 * match (see scan_partial()), so it starts less than the core's width
 * before the end; $, \b and \Z may look at up to two characters past the
 * last one matched, and get them as slack.
 */
#define MATCH_PARTIAL_SLACK 2
/* Gated patterns sharing a head are searched as one from this many on. */
#define MATCH_GROUP_MIN 3
#define MATCH_GROUP_MAX 256

/*
 * The patterns a PCRE2 scan runs, as lists of indexes, so that a scan of
 * few patterns in a large set costs nothing for the rest.
 */
enum list {
	LIST_ALL_CLIENT,	/* every pattern of the client stream */
	LIST_ALL_SERVER,
	LIST_SLOW_CLIENT,	/* ... those PCRE2 runs beside Vectorscan */
	LIST_SLOW_SERVER,
	LIST_PLAIN_CLIENT,	/* ... of them those not gated */
	LIST_PLAIN_SERVER,
	LIST_GATED_CLIENT,	/* ... and those gated */
	LIST_GATED_SERVER,
	LIST_ALL,		/* every pattern, for datagrams */
	LIST_SLOW,		/* ... those not in the database */
	LIST_PRE_CLIENT,	/* prefiltered patterns of the client stream */
	LIST_PRE_SERVER,
	NLISTS
};

/*
 * The Vectorscan runtime calls a set makes: the library's own, which pick
 * an implementation for the processor, or those of its AVX2 implementation
 * (see hs_runtime()).
 */
struct hs_api {
	hs_error_t (*open)(const hs_database_t *, unsigned int,
	    hs_stream_t **);
	hs_error_t (*scan)(hs_stream_t *, const char *, unsigned int,
	    unsigned int, hs_scratch_t *, match_event_handler, void *);
	hs_error_t (*close)(hs_stream_t *, hs_scratch_t *,
	    match_event_handler, void *);
	hs_error_t (*reset)(hs_stream_t *, unsigned int, hs_scratch_t *,
	    match_event_handler, void *);
};

/* How a direction is matched, chosen at its first data. */
enum {
	PATH_NONE,		/* no data yet */
	PATH_HYBRID,		/* Vectorscan, and PCRE2 for the rest */
	PATH_PCRE2		/* PCRE2 for every pattern */
};

struct match_pat {
	pcre2_code *code;	/* shared with an earlier twin when borrowed */
	bool borrowed;
	pcre2_code *slow;	/* with auto callouts, to interpret; or NULL */
	char *text;		/* NUL-terminated copy of the pattern */
	size_t len;
	unsigned dirs;		/* MATCH_CLIENT | MATCH_SERVER */
	uint32_t context;	/* bytes before a match start it may inspect */
	bool caseless;
	bool recursive;		/* calls a group: the small JIT stack */
	bool nojit;		/* interpreted: no JIT code, or it loops */
	bool analysed;		/* the fields below are set */
	bool anchored;		/* starts with ^ */
	bool fast_dgram;	/* in the Vectorscan database */
	bool fast;		/* ... and run by it for streams too */
	bool gated;		/* PCRE2 for streams, where Vectorscan allows */
	int leader;		/* lowest index with the same text and case */
	bool is_leader;		/* that is this one */
	int twin_next;		/* next higher one, or -1 */
	int dir_pat[2];		/* leader: lowest twin of each direction */
	unsigned earlier_dirs;	/* directions of lower twins */
	char *head;		/* leader: its head for Vectorscan, or NULL */
	int head_rep;		/* leader whose head is in the database */
	int head_next;		/* next leader with the same head, or -1 */
	bool has_first;		/* first[] holds every byte a match starts
				   with */
	uint8_t first[32];	/* a bitmap of bytes */
	uint8_t firsts[MATCH_FIRSTS];	/* the same, when that few */
	int nfirst;		/* ... how many, or 0 */
	char lits[MATCH_LITS][MATCH_LIT_MAX]; /* a match starts with one */
	uint8_t litlen[MATCH_LITS];
	int nlits;		/* 0: none known */
	uint32_t hbound;	/* the head's width and the slack */
	uint32_t width;		/* its core's maximum width */
	uint32_t tail;		/* that and its context */
	uint32_t pbound;	/* partial matches start this near the end */
	char *core;		/* its core for Vectorscan, or NULL */
	char *factor;		/* leader: a literal every match holds, or NULL */
	bool pre;		/* found by its factor, not its core */
	size_t pstart;		/* scratch: its partial search start */
	int group;		/* gated: its head group (see groups_build()), or -1 */
};

/*
 * Gated patterns that share a head (an IOC list has dozens of
 * "User-Agent: [A-Za-z]+/x\d" lines), as one alternation: when the head is
 * seen, one partial search of it tells that none of them can be in
 * progress at the end, where each would search the same bytes on its own.
 */
struct match_group {
	pcre2_code *code;	/* (?:p1)|(?:p2)|..., JIT-compiled; or NULL */
	uint32_t vgen;		/* searched in this scan (match_set.vgen) ... */
	size_t from;		/* ... from here ... */
	bool none;		/* ... and found no partial or complete match */
};

struct match_set {
	struct match_pat *pats;
	int count;
	int cap;
	int empty;		/* first pattern matching "", or -1 */
	bool has[2];		/* per direction: some pattern applies */
	uint32_t context[2];	/* per direction: the most any pattern needs */
	uint32_t window;
	uint64_t depth;
	pcre2_match_data *mdata; /* shared: the set is used by one thread */
	pcre2_match_context *mctx;
	pcre2_match_context *mctx_rec; /* with the small JIT stack */
	pcre2_match_context *mctx_slow; /* with the budget's callout */
	pcre2_jit_stack *jit_stack;
	pcre2_jit_stack *jit_stack_rec;
	uint64_t budget;	/* steps left to the interpreted search */
	size_t budget_pos;	/* where its last step was */
	uint64_t errors;	/* searches ended by an error */
	uint64_t jit_fallbacks;	/* ... JIT ran out of stack for */
	int interpreted;	/* patterns marked nojit */
	/*
	 * An index of the patterns by text and case, open addressing, -1 for
	 * an empty slot: an added pattern whose twin is there borrows its
	 * compiled code (-f P -F P adds every pattern twice).
	 */
	int *by_text;
	size_t by_text_cap;	/* a power of two, or 0 */
	struct stats *st;
	/*
	 * A clone's original (see match_set_clone()): the clone owns only
	 * what matching changes, and shares the rest.
	 */
	struct match_set *original;

	enum match_engine engine;
	bool prepared;
	bool streams_off;	/* limits changed late: no new streams */
	bool has_fast[2];	/* per direction: a pattern on Vectorscan */
	bool has_slow[2];	/* ... and some on PCRE2 */
	bool has_gated[2];	/* ... of which some gated */
	uint8_t firsts_any[32];	/* bytes in some pattern's firsts[] */
	uint32_t gather;	/* no_first() gathers this many last bytes */
	uint32_t context_slow[2]; /* context of the PCRE2 patterns alone */
	uint32_t core_need[2];	/* widest core of its fast patterns */
	uint32_t tail_need[2];	/* its tail: that and their context */
	int nfast, nfast_dgram, ngated, nexpr;
	struct hs_api api;
	hs_database_t *db;
	hs_scratch_t *scratch;
	hs_stream_t *dg_stream;	/* reset after every datagram */
	size_t stream_size;
	size_t db_size, scratch_size;
	char *cache_dir;	/* compiled databases kept here; NULL: none */
	bool db_loaded;		/* ms->db came from cache_dir */
	bool db_stored;		/* ... was compiled and stored there */

	/* Patterns Vectorscan reported in one scan, each once. */
	int *rep;
	int nrep;
	int rep_cap;		/* patterns when the database was built */
	uint32_t *seen;		/* seen[i] == gen: i is in rep */
	uint32_t gen;
	/* Gated patterns reported in this feed: core, head (see on_match()). */
	int *grep, ngrep;
	int *hrep, nhrep;
	/*
	 * Per direction, of its gated patterns (LIST_GATED_*): those
	 * scan_hybrid() visits every time, those under each of their
	 * first bytes, and the rest (most) under their literals in gtrie;
	 * visit[i] == vgen: visited in this scan.
	 */
	int *galways[2], ngalways[2];
	int *gfirst[2];
	int gfirst_off[2][257];
	struct littrie *gtrie[2][2];	/* [dir][caseless] */
	bool gtrie_ok[2];		/* per direction: the trie is built */
	uint32_t *visit, vgen;
	struct match_group *groups;
	int ngroups;
	/* Gated patterns: core reported, head reported and its first end. */
	uint32_t *gseen;
	uint32_t *hseen;
	unsigned long long *hend;

	int *lists[NLISTS];	/* count indexes each, NULL: not built */
	int nlist[NLISTS];

	/*
	 * Tail and feed side by side, for confirming; given back after use
	 * when above MATCH_BUF_SHRINK (reports are rare, feeds are small).
	 */
	uint8_t *cbuf;
	size_t cbuf_cap;

	/* The streams' memory. */
	size_t streams_cap;	/* at most this, MATCH_STREAMS_MEM_MAX shared */
	uint64_t streams_opened, streams_refused;
	uint32_t streams_live, streams_peak;
	size_t bytes_live, bytes_peak;
};

/*
 * One scan of a subject by the patterns of a direction: the subject, and the
 * best complete match and earliest partial match found so far.
 */
struct match_scan {
	const uint8_t *subj;
	size_t len;
	uint64_t base;		/* stream offset of subj[0] */
	size_t start;		/* where matches may start */
	uint32_t opts;		/* pcre2_match options */
	uint32_t window;	/* longest match accepted; 0: any */
	bool want_partial;	/* partial match wanted if none complete */
	bool gate;		/* Vectorscan scanned the feed: gated ones */
	size_t feed;		/* where the feed starts in subj */
	uint64_t hs_origin;	/* stream offset of Vectorscan's offset 0 */
	bool many;		/* patterns enough to gather last[] */
	bool grouped;		/* scan_partial() may ask the head group */
	bool last_ok;		/* last[], at[] are gathered */
	uint8_t last[32];	/* bytes in the last ms->gather */
	uint64_t at[256][2];	/* ... where: bit j, subj[len - 1 - j] */
	int pattern;		/* pattern of the best match, or -1 */
	size_t ms, me;		/* its start and end in subj */
	bool partial;
	size_t ps;		/* start of the earliest partial match */
	bool overflow;		/* a match was refused for the window */
};

/* What a Vectorscan callback needs to know of the scan it serves. */
struct hs_ctx {
	struct match_set *ms;
	unsigned mask;		/* directions of the stream */
	bool after_gap;		/* anchored patterns cannot match */
	struct match_dir *md;	/* the stream's direction; NULL: datagram */
};

/*
 * A direction's prefiltered patterns whose literal was found, each with the
 * stream offset its match must end by: confirm() runs them in the feeds
 * before it (see pre_report()). Past the streams' memory, every
 * prefiltered pattern of the direction is run until all_until instead.
 */
struct pend_entry {
	uint64_t until;
	int pat;
};

struct match_pend {
	uint64_t all_until;
	uint32_t n;
	uint32_t cap;
	struct pend_entry e[];
};

#define PEND_FIRST 4

static void pend_note(struct match_set *ms, struct match_dir *md, int i,
    uint64_t until);
static void pend_free(struct match_dir *md);

static unsigned
dir_mask(int dir)
{
	return dir == 0 ? MATCH_CLIENT : MATCH_SERVER;
}

/*
 * Quotes len bytes of src into dst (size bytes), non-printable bytes as
 * \xHH, ending in "..." when they do not all fit.
 */
static void
quote(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, o = 0, w;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		w = (c >= 0x20 && c < 0x7f) ? 1 : 4;
		if (o + w + (i + 1 < len ? 3 : 0) >= size) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (w == 1)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
	}
	dst[o] = '\0';
}

/* Fills errbuf; a message longer than MATCH_ERRBUF_SIZE is cut short. */
static void
set_error(char *errbuf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, MATCH_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

static bool
is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads the pattern text for what PCRE2 does not report: how many constructs
 * look behind the current position (lookbehinds, \b, \B, \A), and whether an
 * inline (?m) makes ^ match after a newline. PCRE2_INFO_MAXLOOKBEHIND gives
 * only the longest single lookbehind, and nested ones add up (pcre2partial:
 * "(?<=(?<!b)a)" inspects two characters); PCRE2_INFO_ALLOPTIONS does not
 * show (?m). Erring on the side of seeing too much only keeps a few more
 * bytes, so a "(?m" or "\b" inside a class or \Q...\E does no harm.
 */
static void
scan_text(const char *p, size_t len, unsigned *behind, bool *multiline)
{
	size_t i, j;
	bool neg;

	for (i = 0; i + 1 < len; i++) {
		if (p[i] == '\\') {
			if (strchr("bBA", p[i + 1]) != NULL && p[i + 1] != '\0')
				(*behind)++;
			i++;
			continue;
		}
		if (p[i] != '(')
			continue;
		if (p[i + 1] == '?') {
			if (i + 3 < len && p[i + 2] == '<' &&
			    (p[i + 3] == '=' || p[i + 3] == '!')) {
				(*behind)++;
				continue;
			}
			neg = false;
			for (j = i + 2; j < len; j++) {
				if (p[j] == '-')
					neg = true;
				else if (p[j] == 'm' && !neg)
					*multiline = true;
				else if (!is_letter(p[j]) && p[j] != '^')
					break;
			}
		} else if (p[i + 1] == '*') {
			/* (*plb: (*nlb: (*naplb: and (*..._lookbehind: */
			for (j = i + 2; j < len && (is_letter(p[j]) ||
			    p[j] == '_'); j++)
				;
			if (j < len && p[j] == ':' && j - i >= 4 &&
			    (memcmp(p + j - 2, "lb", 2) == 0 ||
			    (j - i >= 12 && memcmp(p + j - 10, "lookbehind",
			    10) == 0)))
				(*behind)++;
		}
	}
}

/*
 * True when the pattern text may call a group as a subroutine: (?R), (?N),
 * (?+N), (?-N), (?&name), (?P>name), \g<...> or \g'...'. PCRE2 does not
 * report it. As in scan_text(), one seen inside a class or \Q...\E does no
 * harm: the pattern only gets the smaller JIT stack.
 */
static bool
scan_recursion(const char *p, size_t len)
{
	size_t i;
	char c;

	for (i = 0; i + 2 < len; i++) {
		if (p[i] == '\\') {
			if (p[i + 1] == 'g' && (p[i + 2] == '<' ||
			    p[i + 2] == '\''))
				return true;
			i++;
			continue;
		}
		if (p[i] != '(' || p[i + 1] != '?')
			continue;
		c = p[i + 2];
		if (c == 'R' || c == '&' || is_digit(c))
			return true;
		if (i + 3 < len && (((c == '+' || c == '-') &&
		    is_digit(p[i + 3])) || (c == 'P' && p[i + 3] == '>')))
			return true;
	}
	return false;
}

/*
 * The bytes before a match start that pattern code may inspect: each
 * lookbehind moves back at most PCRE2_INFO_MAXLOOKBEHIND, nested ones add
 * up, and a multiline ^ looks at the newline before it (two bytes when the
 * newline convention may be CRLF).
 */
static uint32_t
pattern_context(const pcre2_code *code, const char *text, size_t len)
{
	uint32_t lb = 0, opts = 0, nl = 0;
	unsigned behind = 0;
	bool multiline = false;
	uint64_t ctx;

	(void)pcre2_pattern_info(code, PCRE2_INFO_MAXLOOKBEHIND, &lb);
	(void)pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &opts);
	(void)pcre2_pattern_info(code, PCRE2_INFO_NEWLINE, &nl);
	scan_text(text, len, &behind, &multiline);
	ctx = (uint64_t)lb * (behind > 1 ? behind : 1);
	if (multiline || (opts & PCRE2_MULTILINE) != 0)
		ctx += (nl == PCRE2_NEWLINE_CRLF || nl == PCRE2_NEWLINE_ANY ||
		    nl == PCRE2_NEWLINE_ANYCRLF) ? 2 : 1;
	return ctx > MATCH_CONTEXT_MAX ? MATCH_CONTEXT_MAX : (uint32_t)ctx;
}


/* ---- the Vectorscan form of a pattern ---- */

/* A top-level atom of a pattern and its quantifier, for cutting the core. */
struct form_atom {
	size_t start;		/* in the form's text */
	size_t qstart;		/* start of its quantifier (end: none) */
	size_t end;
	unsigned long qmin;	/* the quantifier's minimum */
	bool cuttable;		/* not (?i), ^ or $ */
};

/*
 * The pattern as Vectorscan reads it (raw NUL bytes, which its
 * NUL-terminated API cannot take, become \x00), its top-level atoms, and
 * what keeps it off Vectorscan although its width is known.
 */
struct form {
	char *text;
	size_t len;
	struct form_atom *atoms;
	size_t natoms;
	bool top_alt;		/* | outside every group */
	bool anchored;		/* starts with ^ */
	bool inexact;		/* $, another ^, or (?m): PCRE2 only */
};

static bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Length of the escape at p[i] (a backslash), or 0 when the pattern is not
 * put into a form: back references, \A after the start, \G, \K, \z, \Z,
 * \Q...\E, \E, Unicode properties (\p, \P: the property tables of the two
 * libraries need not agree), and the escapes Vectorscan does not know (\N,
 * \R, \X). Every escape admitted reads the same byte by byte in both, as
 * tests/check_match.c checks.
 */
static size_t
escape_len(const char *p, size_t len, size_t i)
{
	size_t j = i + 2;
	char c;

	if (i + 1 >= len)
		return 0;
	c = p[i + 1];
	switch (c) {
	case 'x':
	case 'o':
		if (j < len && p[j] == '{') {
			while (j < len && p[j] != '}')
				j++;
			return j < len ? j + 1 - i : 0;
		}
		if (c == 'o')
			return 0;
		while (j < len && j < i + 4 && is_hex(p[j]))
			j++;
		return j - i;
	case 'c':
		return j < len ? j + 1 - i : 0;
	case '0':
		while (j < len && j < i + 4 && p[j] >= '0' && p[j] <= '7')
			j++;
		return j - i;
	case '\0':
		return 2;
	default:
		break;
	}
	if (is_digit(c) || strchr("AEGKNPQRXZgkpz", c) != NULL)
		return 0;
	return 2;
}

/*
 * Length of the class at p[i] (its '['), or 0 when it is not understood.
 * A ']' first (after any '^') is a literal; [:name:] and friends nest.
 */
static size_t
class_len(const char *p, size_t len, size_t i)
{
	size_t j = i + 1, k;

	if (j < len && p[j] == '^')
		j++;
	if (j < len && p[j] == ']')
		j++;
	while (j < len) {
		if (p[j] == ']')
			return j + 1 - i;
		if (p[j] == '\\') {
			if (j + 1 < len && p[j + 1] != '\0' &&
			    strchr("EPQpN", p[j + 1]) != NULL)
				return 0;
			j += 2;
			continue;
		}
		if (p[j] == '[' && j + 1 < len && strchr(":.=", p[j + 1]) !=
		    NULL && p[j + 1] != '\0') {
			for (k = j + 2; k + 1 < len; k++)
				if (p[k] == p[j + 1] && p[k + 1] == ']')
					break;
			if (k + 1 >= len)
				return 0;
			j = k + 2;
			continue;
		}
		j++;
	}
	return 0;
}

/*
 * Length of the quantifier at p[i], 0 if there is none, with its minimum.
 * Sets *bad for a '{' that is no quantifier: PCRE2 takes it literally,
 * and releases have changed their minds about which ones ({,3}).
 */
static size_t
quant_len(const char *p, size_t len, size_t i, unsigned long *min, bool *bad)
{
	size_t j;

	*bad = false;
	*min = 0;
	if (i >= len)
		return 0;
	if (p[i] == '*' || p[i] == '?' || p[i] == '+') {
		*min = p[i] == '+';
		j = i + 1;
	} else if (p[i] == '{') {
		j = i + 1;
		if (j >= len || !is_digit(p[j])) {
			*bad = true;
			return 0;
		}
		for (; j < len && is_digit(p[j]); j++)
			if (*min < 1000000)
				*min = *min * 10 + (unsigned long)(p[j] - '0');
		if (j < len && p[j] == ',')
			for (j++; j < len && is_digit(p[j]); j++)
				;
		if (j >= len || p[j] != '}') {
			*bad = true;
			return 0;
		}
		j++;
	} else {
		return 0;
	}
	if (j < len && (p[j] == '?' || p[j] == '+'))
		j++;
	return j - i;
}

/*
 * Copies n pattern bytes, raw NUL (escaped or not) as \x00; returns the
 * bytes written.
 */
static size_t
copy_form(char *o, const char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n && p[i + 1] == '\0')
			i++;
		if (p[i] == '\0') {
			memcpy(o + k, "\\x00", 4);
			k += 4;
		} else {
			if (p[i] == '\\' && i + 1 < n)
				o[k++] = p[i++];
			o[k++] = p[i];
		}
	}
	return k;
}

static void
form_free(struct form *f)
{
	free(f->text);
	free(f->atoms);
	f->text = NULL;
	f->atoms = NULL;
}

/*
 * Puts the pattern into a form, or returns -1 (out of memory, or syntax
 * this reading does not follow: such a pattern runs on PCRE2). It reads
 * only enough to find top-level atoms and anything whose meaning Vectorscan
 * and PCRE2 may not share; Vectorscan's own parser judges the rest.
 */
static int
form_parse(const char *p, size_t len, struct form *f)
{
	size_t i = 0, o = 0, n, k, astart, gstart = 0, qstart;
	unsigned long qmin;
	struct form_atom *a;
	int depth = 0;
	bool bad, cuttable;

	memset(f, 0, sizeof(*f));
	if ((f->text = malloc(len * 4 + 1)) == NULL ||
	    (f->atoms = calloc(len + 1, sizeof(*f->atoms))) == NULL)
		goto fail;
	if (len >= 1 && p[0] == '^') {
		f->anchored = true;
		f->text[o++] = '^';
		i = 1;
	} else if (len >= 2 && p[0] == '\\' && p[1] == 'A') {
		/*
		 * PCRE2_NOTBOL leaves \A alone, so after a gap it matches at
		 * the start of the bytes that follow, as it does at the start
		 * of Vectorscan's new stream: not anchored in our sense.
		 */
		memcpy(f->text, "\\A", 2);
		o = i = 2;
	}
	while (i < len) {
		astart = o;
		cuttable = true;
		switch (p[i]) {
		case '\\':
			if ((n = escape_len(p, len, i)) == 0)
				goto fail;
			o += copy_form(f->text + o, p + i, n);
			i += n;
			break;
		case '[':
			if ((n = class_len(p, len, i)) == 0)
				goto fail;
			o += copy_form(f->text + o, p + i, n);
			i += n;
			break;
		case '(':
			n = 1;
			if (i + 1 < len && p[i + 1] == '*')
				goto fail;
			if (i + 1 < len && p[i + 1] == '?') {
				/* Option letters whose reading is shared. */
				for (k = i + 2; k < len && p[k] != '\0' &&
				    strchr("ims-", p[k]) != NULL; k++)
					if (p[k] == 'm')
						f->inexact = true;
				if (k >= len || (p[k] != ')' && p[k] != ':'))
					goto fail;
				n = k + 1 - i;
				if (p[k] == ')') {
					memcpy(f->text + o, p + i, n);
					o += n;
					i += n;
					cuttable = false;
					break;
				}
			}
			if (depth == 0)
				gstart = o;
			depth++;
			memcpy(f->text + o, p + i, n);
			o += n;
			i += n;
			continue;
		case ')':
			if (depth == 0)
				goto fail;
			depth--;
			f->text[o++] = p[i++];
			astart = gstart;
			break;
		case '|':
			if (depth == 0)
				f->top_alt = true;
			f->text[o++] = p[i++];
			continue;
		case '^':
		case '$':
			f->inexact = true;
			cuttable = false;
			f->text[o++] = p[i++];
			break;
		case '{':
		case '*':
		case '+':
		case '?':
			goto fail;
		default:
			o += copy_form(f->text + o, p + i, 1);
			i++;
			break;
		}
		qstart = o;
		n = quant_len(p, len, i, &qmin, &bad);
		if (bad)
			goto fail;
		memcpy(f->text + o, p + i, n);
		o += n;
		i += n;
		if (depth == 0) {
			a = &f->atoms[f->natoms++];
			a->start = astart;
			a->qstart = qstart;
			a->end = o;
			a->qmin = n > 0 ? qmin : 1;
			a->cuttable = cuttable && n > 0;
		}
	}
	if (depth != 0)
		goto fail;
	f->text[o] = '\0';
	f->len = o;
	return 0;

fail:
	form_free(f);
	return -1;
}

/*
 * The core of a form (see the top of this file): its first *natoms atoms,
 * the last of them cut to *keep repeats when that is more than 1 (else
 * whole), and its text's length in *end. Trailing atoms whose quantifier
 * allows none are dropped, and the last one that must appear is cut to its
 * minimum; with a top-level alternation, or when nothing would be left,
 * the core is the whole form.
 */
static void
form_core_cut(const struct form *f, size_t *natoms, size_t *end,
    unsigned long *keep)
{
	const struct form_atom *a;
	size_t k = f->natoms;

	*end = f->len;
	*keep = 1;
	while (!f->top_alt && k > 0) {
		a = &f->atoms[k - 1];
		if (!a->cuttable)
			break;
		if (a->qmin == 0) {
			*end = a->start;
			k--;
			continue;
		}
		*end = a->qstart;
		*keep = a->qmin;
		break;
	}
	if (k == 0) {
		k = f->natoms;
		*end = f->len;
		*keep = 1;
	}
	*natoms = k;
}

/*
 * The core of a form, NUL-terminated, to be freed by the caller; NULL when
 * out of memory.
 */
static char *
form_core(const struct form *f)
{
	size_t end, k;
	unsigned long keep;
	char *core;

	form_core_cut(f, &k, &end, &keep);
	if ((core = malloc(end + 24)) == NULL)
		return NULL;
	memcpy(core, f->text, end);
	if (keep > 1)
		end += (size_t)snprintf(core + end, 24, "{%lu}", keep);
	core[end] = '\0';
	return core;
}

/*
 * The byte a piece of form text t (n bytes) stands for when it is one
 * literal byte (printable ASCII, escaped punctuation, or \x00), else -1.
 */
static int
lit_byte(const char *t, size_t n)
{
	if (n == 1 && *t >= 0x20 && *t < 0x7f &&
	    strchr(".^$|()[]{}*+?\\", *t) == NULL)
		return (unsigned char)*t;
	if (n == 2 && t[0] == '\\' && t[1] >= 0x20 && t[1] < 0x7f &&
	    !is_letter(t[1]) && !is_digit(t[1]))
		return (unsigned char)t[1];
	if (n == 4 && memcmp(t, "\\x00", 4) == 0)
		return 0;
	return -1;
}

/*
 * Fills p->lits with the literals every match of the form starts with
 * (one of them; at most MATCH_LITS, each cut at MATCH_LIT_MAX): its
 * leading literal bytes, and groups of literal alternatives such as
 * (GET|POST), without quantifiers. None when the form starts otherwise.
 */
static void
form_lits(const struct form *f, struct match_pat *p)
{
	char alt[MATCH_LITS][MATCH_LIT_MAX];
	uint8_t altlen[MATCH_LITS];
	const struct form_atom *a;
	const char *t, *e, *bar;
	size_t k, n, m, q, i;
	int c, nalt, j, r;
	bool stop = false;

	p->nlits = 0;
	if (f->top_alt)
		return;
	p->nlits = 1;
	p->litlen[0] = 0;
	for (k = 0; k < f->natoms && !stop; k++) {
		a = &f->atoms[k];
		t = f->text + a->start;
		n = a->qstart - a->start;
		if (a->qstart != a->end)
			break;
		if ((c = lit_byte(t, n)) >= 0) {
			for (j = 0; j < p->nlits; j++) {
				if (p->litlen[j] == MATCH_LIT_MAX) {
					stop = true;
					continue;
				}
				p->lits[j][p->litlen[j]++] = (char)c;
			}
			continue;
		}
		/* (A|B) or (?:A|B) of literals. */
		if (n < 3 || t[0] != '(' || t[n - 1] != ')')
			break;
		q = n > 4 && t[1] == '?' && t[2] == ':' ? 3 : 1;
		if (q == 1 && t[1] == '?')
			break;
		nalt = 0;
		for (e = t + q; e < t + n - 1 && !stop; e = bar + 1) {
			for (bar = e; bar < t + n - 1 && *bar != '|'; bar++)
				;
			if (nalt == MATCH_LITS) {
				stop = true;
				break;
			}
			altlen[nalt] = 0;
			for (i = 0; e + i < bar; i += m) {
				m = e[i] == '\\' ? (e + i + 1 < bar &&
				    e[i + 1] == 'x' ? 4 : 2) : 1;
				if (e + i + m > bar ||
				    (c = lit_byte(e + i, m)) < 0 ||
				    altlen[nalt] == MATCH_LIT_MAX) {
					stop = true;
					break;
				}
				alt[nalt][altlen[nalt]++] = (char)c;
			}
			nalt++;
		}
		if (stop || nalt == 0 || nalt * p->nlits > MATCH_LITS)
			break;
		/* Every literal so far, followed by each alternative. */
		for (j = p->nlits; j-- > 0;)
			for (r = nalt; r-- > 0;) {
				i = (size_t)(j * nalt + r);
				memmove(p->lits[i], p->lits[j], p->litlen[j]);
				m = (size_t)(MATCH_LIT_MAX - p->litlen[j]);
				if (m > altlen[r])
					m = altlen[r];
				memcpy(p->lits[i] + p->litlen[j], alt[r], m);
				p->litlen[i] = (uint8_t)(p->litlen[j] + m);
				if (m < altlen[r])
					stop = true;
			}
		p->nlits *= nalt;
	}
	for (j = 0; j < p->nlits; j++)
		if (p->litlen[j] == 0)
			p->nlits = 0;
}

/*
 * The width of a form that is a plain literal of printable ASCII, escaped
 * punctuation and NUL (as \x00), or 0: Vectorscan then needs not be asked
 * (most of an IOC list is literals, and asking is half its compile time).
 */
static size_t
form_literal(const struct form *f)
{
	const struct form_atom *a;
	const char *t;
	size_t k, n;

	if (f->top_alt || f->inexact)
		return 0;
	for (k = 0; k < f->natoms; k++) {
		a = &f->atoms[k];
		t = f->text + a->start;
		n = a->end - a->start;
		if (a->qstart != a->end)
			return 0;
		if (lit_byte(t, n) < 0)
			return 0;
	}
	return f->natoms;
}

/*
 * A literal run of a pattern's core, put in the database instead of the
 * core (see hs_build()), is at least this long: shorter ones are common in
 * traffic, and each time one is found its patterns are searched by PCRE2.
 */
#define MATCH_FACTOR_MIN 6

/*
 * The longest run of top-level literal atoms without a quantifier in the
 * form's core, which every match of the core holds, as \xHH escapes for
 * Vectorscan; NULL when none is MATCH_FACTOR_MIN long, when it is the
 * whole core, when the form sets options inline (a "(?i)" changes how the
 * run reads), or out of memory.
 */
static char *
form_factor(const struct form *f)
{
	size_t natoms, end, k, run = 0, best = 0, best_end = 0, i;
	unsigned long keep;
	const struct form_atom *a;
	const char *o;
	char *lit;
	int c;

	if (f->top_alt || f->inexact)
		return NULL;
	for (o = f->text; (o = strstr(o, "(?")) != NULL; o += 2)
		if (o[2] != ':')
			return NULL;
	form_core_cut(f, &natoms, &end, &keep);
	for (k = 0; k <= natoms; k++) {
		a = k < natoms ? &f->atoms[k] : NULL;
		if (a != NULL && a->qstart == a->end &&
		    lit_byte(f->text + a->start, a->end - a->start) >= 0) {
			run++;
			continue;
		}
		if (run > best) {
			best = run;
			best_end = k;
		}
		run = 0;
	}
	/* A core that is all literal is found as it is. */
	if (best < MATCH_FACTOR_MIN || best == natoms ||
	    (lit = malloc(best * 4 + 1)) == NULL)
		return NULL;
	for (i = 0, k = best_end - best; k < best_end; k++, i += 4) {
		a = &f->atoms[k];
		c = lit_byte(f->text + a->start, a->end - a->start);
		snprintf(lit + i, 5, "\\x%02x", (unsigned)c);
	}
	return lit;
}

/* True when the atom's quantifier has no upper bound (*, +, {n,}). */
static bool
atom_unbounded(const struct form *f, const struct form_atom *a)
{
	const char *q = f->text + a->qstart;
	size_t n = a->end - a->qstart;

	if (n == 0)
		return false;
	if (*q == '*' || *q == '+')
		return true;
	return *q == '{' && memchr(q, ',', n) != NULL &&
	    (q[n - 1] == '}' ? q[n - 2] == ',' : q[n - 2] == '}' &&
	    q[n - 3] == ',');
}

/* Tries of a head, each one atom shorter, before giving up on it. */
#define MATCH_HEAD_TRIES 4

/*
 * The head of a form (see the top of this file): its leading top-level
 * atoms up to the first unbounded one, or fewer while that is not of
 * bounded width (an unbounded atom inside a group), matching at least one
 * byte and fitting MATCH_TAIL_MAX. NULL when there is none or out of
 * memory; *width is its maximum width.
 */
static char *
form_head(const struct form *f, unsigned flags, uint32_t *width)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *err = NULL;
	size_t k, end, tries;
	char *head;
	bool ok;

	if (f->top_alt || f->anchored)
		return NULL;
	for (k = 0; k < f->natoms && !atom_unbounded(f, &f->atoms[k]); k++)
		;
	for (tries = 0; k > 0 && tries < MATCH_HEAD_TRIES; tries++, k--) {
		end = f->atoms[k - 1].end;
		if ((head = malloc(end + 1)) == NULL)
			return NULL;
		memcpy(head, f->text, end);
		head[end] = '\0';
		if (hs_expression_info(head, flags, &info, &err) !=
		    HS_SUCCESS) {
			hs_free_compile_error(err);
			err = NULL;
			free(head);
			continue;
		}
		ok = info->min_width > 0 && !info->matches_at_eod &&
		    info->max_width <= MATCH_TAIL_MAX - MATCH_PARTIAL_SLACK;
		*width = info->max_width;
		free(info);
		info = NULL;
		if (ok)
			return head;
		free(head);
	}
	return NULL;
}

/*
 * Works out how pattern p can be run: the bound on where a partial match
 * may start, and whether Vectorscan may find it (then its core and tail,
 * and when the tail is too wide, its head).
 */
static void
pattern_analyse(struct match_set *ms, struct match_pat *p)
{
	unsigned flags = p->caseless ? HS_FLAG_CASELESS : 0, behind = 0;
	hs_expr_info_t *ri = NULL, *ci = NULL;
	hs_compile_error_t *err = NULL;
	uint32_t opts = 0, nl = 0;
	bool multiline = false;
	char *core = NULL;
	struct form f;
	size_t lit;

	p->analysed = true;
	p->pbound = UINT32_MAX;
	p->fast = p->fast_dgram = p->gated = false;
	if (ms->engine == MATCH_ENGINE_PCRE2_PARTIAL)
		return;
	if (form_parse(p->text, p->len, &f) != 0)
		return;
	form_lits(&f, p);
	if ((core = form_core(&f)) == NULL)
		goto out;
	if ((lit = form_literal(&f)) > 0) {
		/* What Vectorscan would say of it (core and form are one). */
		if ((ci = calloc(1, sizeof(*ci))) == NULL ||
		    (ri = calloc(1, sizeof(*ri))) == NULL)
			goto out;
		ci->min_width = ci->max_width = (unsigned)lit;
		*ri = *ci;
	} else if (hs_expression_info(core, flags, &ci, &err) != HS_SUCCESS) {
		hs_free_compile_error(err);
		ci = NULL;
		goto out;
	}
	if (ci->max_width < UINT32_MAX - MATCH_PARTIAL_SLACK)
		p->pbound = ci->max_width + MATCH_PARTIAL_SLACK;

	if ((ms->engine != MATCH_ENGINE_VECTORSCAN &&
	    ms->engine != MATCH_ENGINE_AUTO) || f.inexact ||
	    (f.anchored && f.top_alt))
		goto out;
	scan_text(p->text, p->len, &behind, &multiline);
	(void)pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &opts);
	(void)pcre2_pattern_info(p->code, PCRE2_INFO_NEWLINE, &nl);
	if (multiline || (opts & PCRE2_MULTILINE) != 0 ||
	    nl != PCRE2_NEWLINE_LF)
		goto out;
	/* Most cores are the whole pattern: then Vectorscan has spoken. */
	if (ri == NULL && strcmp(core, f.text) == 0 &&
	    (ri = malloc(sizeof(*ri))) != NULL)
		*ri = *ci;
	if (ri == NULL &&
	    hs_expression_info(f.text, flags, &ri, &err) != HS_SUCCESS) {
		hs_free_compile_error(err);
		ri = NULL;
		goto out;
	}
	/*
	 * Matches at the end of data (a trailing \b) come from Vectorscan only
	 * when the stream is closed, and PCRE2 finds them at the end of the
	 * data so far; a pattern matching "" is decided by match_empty().
	 */
	if (ri->min_width == 0 || ri->unordered_matches ||
	    ri->matches_at_eod || ci->unordered_matches || ci->matches_at_eod)
		goto out;
	p->anchored = f.anchored;
	p->core = core;
	core = NULL;
	p->fast_dgram = true;
	p->width = ci->max_width < UINT32_MAX - MATCH_CONTEXT_MAX ?
	    ci->max_width : UINT32_MAX - MATCH_CONTEXT_MAX;
	p->tail = p->width + p->context;
	if (p->tail > MATCH_TAIL_MAX || p->tail > ms->window) {
		p->head = form_head(&f, flags, &p->hbound);
		p->hbound += MATCH_PARTIAL_SLACK;
	} else if (lit == 0 && !p->anchored) {
		p->factor = form_factor(&f);
	}
out:
	free(ri);
	free(ci);
	free(core);
	form_free(&f);
}

/* ---- the set ---- */

/*
 * The callout of interpreted searches (every item of p->slow has one):
 * charges a step, and each byte the search moved forward since the last,
 * so that the scans inside one item, such as [ab]* running to the end
 * from every start, count too. A negative return ends the search with
 * that error.
 */
static int
interp_step(pcre2_callout_block *cb, void *arg)
{
	struct match_set *ms = arg;
	uint64_t cost = 1;

	if (cb->current_position > ms->budget_pos)
		cost += cb->current_position - ms->budget_pos;
	ms->budget_pos = cb->current_position;
	if (cost >= ms->budget) {
		ms->budget = 0;
		return PCRE2_ERROR_MATCHLIMIT;
	}
	ms->budget -= cost;
	return 0;
}

/* A match context with the set's limits; NULL when out of memory. */
static pcre2_match_context *
mctx_new(void)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);

	if (mc == NULL)
		return NULL;
	(void)pcre2_set_match_limit(mc, MATCH_LIMIT);
	(void)pcre2_set_depth_limit(mc, MATCH_DEPTH_LIMIT);
	(void)pcre2_set_heap_limit(mc, MATCH_HEAP_LIMIT_KIB);
	return mc;
}

static void groups_free(struct match_set *ms);

static int searches_new(struct match_set *ms);
static void scans_free(struct match_set *ms);
static void clone_free(struct match_set *c);

struct match_set *
match_set_new(void)
{
	struct match_set *ms;
	const char *env;

	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return NULL;
	ms->empty = -1;
	ms->window = MATCH_WINDOW_DEFAULT;
	ms->streams_cap = MATCH_STREAMS_MEM_MAX;
	env = getenv("FLOWGREP_NO_VECTORSCAN");
	ms->engine = env != NULL && *env != '\0' && strcmp(env, "0") != 0 ?
	    MATCH_ENGINE_PCRE2 : MATCH_ENGINE_AUTO;
	if (searches_new(ms) != 0) {
		match_set_free(ms);
		return NULL;
	}
	return ms;
}

/* What PCRE2 searches of one thread need: match data, contexts, stacks. */
static int
searches_new(struct match_set *ms)
{
	ms->mdata = pcre2_match_data_create(1, NULL);
	ms->mctx = mctx_new();
	ms->mctx_rec = mctx_new();
	ms->mctx_slow = mctx_new();
	if (ms->mdata == NULL || ms->mctx == NULL || ms->mctx_rec == NULL ||
	    ms->mctx_slow == NULL)
		return -1;
	(void)pcre2_set_callout(ms->mctx_slow, interp_step, ms);
	/* Without JIT support there is no stack to create, and none needed. */
	ms->jit_stack = pcre2_jit_stack_create(MATCH_JIT_STACK_MIN,
	    MATCH_JIT_STACK_MAX, NULL);
	if (ms->jit_stack != NULL)
		pcre2_jit_stack_assign(ms->mctx, NULL, ms->jit_stack);
	ms->jit_stack_rec = pcre2_jit_stack_create(MATCH_JIT_STACK_MIN,
	    MATCH_JIT_STACK_RECURSE, NULL);
	if (ms->jit_stack_rec != NULL)
		pcre2_jit_stack_assign(ms->mctx_rec, NULL, ms->jit_stack_rec);
	return 0;
}

/* Drops the Vectorscan database: every pattern runs on PCRE2. */
static void
hs_teardown(struct match_set *ms)
{
	int i;

	if (ms->dg_stream != NULL)
		(void)ms->api.close(ms->dg_stream, NULL, NULL, NULL);
	(void)hs_free_scratch(ms->scratch);
	(void)hs_free_database(ms->db);
	ms->dg_stream = NULL;
	ms->scratch = NULL;
	ms->db = NULL;
	ms->stream_size = ms->db_size = ms->scratch_size = 0;
	ms->nexpr = 0;
	for (i = 0; i < ms->count; i++)
		ms->pats[i].fast = ms->pats[i].fast_dgram =
		    ms->pats[i].gated = ms->pats[i].pre = false;
}

void
match_set_free(struct match_set *ms)
{
	int i;

	if (ms == NULL)
		return;
	if (ms->original != NULL) {
		clone_free(ms);
		return;
	}
	hs_teardown(ms);
	groups_free(ms);
	for (i = 0; i < ms->count; i++) {
		if (!ms->pats[i].borrowed)
			pcre2_code_free(ms->pats[i].code);
		pcre2_code_free(ms->pats[i].slow);
		free(ms->pats[i].text);
		free(ms->pats[i].core);
		free(ms->pats[i].factor);
		free(ms->pats[i].head);
	}
	free(ms->pats);
	free(ms->by_text);
	for (i = 0; i < NLISTS; i++)
		free(ms->lists[i]);
	for (i = 0; i < 2; i++) {
		free(ms->galways[i]);
		free(ms->gfirst[i]);
		littrie_free(ms->gtrie[i][0]);
		littrie_free(ms->gtrie[i][1]);
	}
	scans_free(ms);
	free(ms->cache_dir);
	free(ms);
}

/*
 * Frees what scans change, which a clone has of its own (searches_new()
 * and the reports' arrays).
 */
static void
scans_free(struct match_set *ms)
{
	free(ms->rep);
	free(ms->seen);
	free(ms->gseen);
	free(ms->hseen);
	free(ms->hend);
	free(ms->grep);
	free(ms->hrep);
	free(ms->visit);
	free(ms->cbuf);
	pcre2_match_data_free(ms->mdata);
	pcre2_match_context_free(ms->mctx);
	pcre2_match_context_free(ms->mctx_rec);
	pcre2_match_context_free(ms->mctx_slow);
	pcre2_jit_stack_free(ms->jit_stack);
	pcre2_jit_stack_free(ms->jit_stack_rec);
}

/* Frees what a clone owns: what matching changes. */
static void
clone_free(struct match_set *c)
{
	int i;

	if (c->dg_stream != NULL)
		(void)c->api.close(c->dg_stream, NULL, NULL, NULL);
	(void)hs_free_scratch(c->scratch);
	for (i = 0; c->pats != NULL && i < c->count; i++)
		pcre2_code_free(c->pats[i].slow);
	free(c->pats);
	free(c->groups);
	scans_free(c);
	free(c);
}

/* A zeroed copy of n elements of size bytes when src has them, else NULL. */
static bool
scratch_like(void *dstp, const void *src, size_t n, size_t size)
{
	void **dst = dstp;

	*dst = NULL;
	return src == NULL || (*dst = calloc(n > 0 ? n : 1, size)) != NULL;
}

struct match_set *
match_set_clone(struct match_set *ms)
{
	size_t n = ms->count > 0 ? (size_t)ms->count : 1;
	struct match_set *c;
	int i;

	(void)match_set_prepare(ms);
	if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	*c = *ms;
	c->original = ms;
	c->pats = NULL;
	c->groups = NULL;
	c->by_text = NULL;
	c->by_text_cap = 0;
	c->cache_dir = NULL;
	c->scratch = NULL;
	c->dg_stream = NULL;
	c->cbuf = NULL;
	c->cbuf_cap = 0;
	c->mdata = NULL;
	c->mctx = c->mctx_rec = c->mctx_slow = NULL;
	c->jit_stack = c->jit_stack_rec = NULL;
	c->budget = c->budget_pos = 0;
	c->errors = c->jit_fallbacks = 0;
	c->nrep = c->ngrep = c->nhrep = 0;
	c->gen = c->vgen = 0;
	c->streams_opened = c->streams_refused = 0;
	c->streams_live = c->streams_peak = 0;
	c->bytes_live = c->bytes_peak = 0;
	c->cap = ms->count;
	/* Patterns and groups: their scratch fields are the clone's. */
	if (!scratch_like(&c->pats, ms->pats, n, sizeof(*c->pats)) ||
	    !scratch_like(&c->groups, ms->groups, n, sizeof(*c->groups)) ||
	    !scratch_like(&c->rep, ms->rep, n, sizeof(*c->rep)) ||
	    !scratch_like(&c->seen, ms->seen, n, sizeof(*c->seen)) ||
	    !scratch_like(&c->gseen, ms->gseen, n, sizeof(*c->gseen)) ||
	    !scratch_like(&c->hseen, ms->hseen, n, sizeof(*c->hseen)) ||
	    !scratch_like(&c->hend, ms->hend, n, sizeof(*c->hend)) ||
	    !scratch_like(&c->grep, ms->grep, n, sizeof(*c->grep)) ||
	    !scratch_like(&c->hrep, ms->hrep, n, sizeof(*c->hrep)) ||
	    !scratch_like(&c->visit, ms->visit, n, sizeof(*c->visit)) ||
	    searches_new(c) != 0)
		goto fail;
	for (i = 0; i < ms->count; i++) {
		c->pats[i] = ms->pats[i];
		c->pats[i].borrowed = true;
		c->pats[i].slow = NULL;	/* compiled again at need */
	}
	for (i = 0; i < ms->ngroups; i++) {
		c->groups[i] = ms->groups[i];
		c->groups[i].vgen = 0;
	}
	if (ms->db != NULL &&
	    (hs_clone_scratch(ms->scratch, &c->scratch) != HS_SUCCESS ||
	    ms->api.open(ms->db, 0, &c->dg_stream) != HS_SUCCESS))
		goto fail;
	/* The two share the streams' memory. */
	c->streams_cap = ms->streams_cap / 2;
	ms->streams_cap -= c->streams_cap;
	return c;

fail:
	clone_free(c);
	return NULL;
}

int
match_set_cache(struct match_set *ms, const char *dir)
{
	char *copy = NULL;

	if (dir != NULL && (copy = strdup(dir)) == NULL)
		return -1;
	free(ms->cache_dir);
	ms->cache_dir = copy;
	return 0;
}

void
match_set_engine(struct match_set *ms, enum match_engine eng)
{
	if (!ms->prepared)
		ms->engine = eng;
}

/* True when list l holds pattern p. */
static bool
list_has(enum list l, const struct match_pat *p)
{
	unsigned c = (p->dirs & ~p->earlier_dirs) & MATCH_CLIENT;
	unsigned s = (p->dirs & ~p->earlier_dirs) & MATCH_SERVER;

	switch (l) {
	case LIST_ALL_CLIENT:
		return c != 0;
	case LIST_ALL_SERVER:
		return s != 0;
	case LIST_SLOW_CLIENT:
		return c != 0 && !p->fast;
	case LIST_SLOW_SERVER:
		return s != 0 && !p->fast;
	case LIST_PLAIN_CLIENT:
		return c != 0 && !p->fast && !p->gated;
	case LIST_PLAIN_SERVER:
		return s != 0 && !p->fast && !p->gated;
	case LIST_GATED_CLIENT:
		return c != 0 && p->gated;
	case LIST_GATED_SERVER:
		return s != 0 && p->gated;
	case LIST_SLOW:
		return p->is_leader && !p->fast_dgram;
	case LIST_PRE_CLIENT:
		return c != 0 && p->pre;
	case LIST_PRE_SERVER:
		return s != 0 && p->pre;
	default:
		return p->is_leader;
	}
}

/*
 * True when scan_hybrid() needs to visit gated pattern p in every partial
 * phase: it has no few first bytes, or its head reaches further back than
 * the bytes gathered.
 */
static bool
gate_always(const struct match_set *ms, const struct match_pat *p)
{
	return !p->has_first || p->nfirst == 0 || p->hbound > ms->gather;
}

/*
 * True when gated pattern p is found by its literals (gates_build()): a
 * partial search of it looks only within the bytes gathered, and only at
 * positions where one of its literals starts or begins to (no_first()).
 */
static bool
gate_by_lits(const struct match_set *ms, const struct match_pat *p)
{
	return p->has_first && p->nlits > 0 && p->hbound <= ms->gather;
}

/*
 * Literals of a direction's gated patterns, caseless or not, in a trie;
 * NULL for none. False when out of memory.
 */
static bool
gate_trie(const struct match_set *ms, const int *idx, int n, bool caseless,
    struct littrie **tp)
{
	const struct match_pat *p;
	struct littrie *t = NULL;
	int k, j;

	*tp = NULL;
	for (k = 0; k < n; k++) {
		p = &ms->pats[idx[k]];
		if (!gate_by_lits(ms, p) || p->caseless != caseless)
			continue;
		if (t == NULL && (t = littrie_new(caseless)) == NULL)
			return false;
		for (j = 0; j < p->nlits; j++)
			if (littrie_add(t, (const uint8_t *)p->lits[j],
			    p->litlen[j], idx[k]) != 0) {
				littrie_free(t);
				return false;
			}
	}
	if (t != NULL && littrie_seal(t) != 0) {
		littrie_free(t);
		return false;
	}
	*tp = t;
	return true;
}

/*
 * (Re)builds the per-direction index of the gated patterns for
 * scan_hybrid(); without its memory (or the lists') none is used. Without
 * the trie's, the patterns it would hold go under their first bytes.
 */
static void
gates_build(struct match_set *ms)
{
	const struct match_pat *p;
	const int *idx;
	int d, k, j, i, n, *off;
	enum list l;
	bool trie;

	free(ms->visit);
	ms->visit = NULL;
	for (d = 0; d < 2; d++) {
		free(ms->galways[d]);
		free(ms->gfirst[d]);
		littrie_free(ms->gtrie[d][0]);
		littrie_free(ms->gtrie[d][1]);
		ms->galways[d] = ms->gfirst[d] = NULL;
		ms->gtrie[d][0] = ms->gtrie[d][1] = NULL;
		ms->gtrie_ok[d] = false;
		ms->ngalways[d] = 0;
	}
	if (ms->count == 0 ||
	    (ms->visit = calloc((size_t)ms->count, sizeof(*ms->visit))) == NULL)
		return;
	ms->vgen = 0;
	for (d = 0; d < 2; d++) {
		l = d == 0 ? LIST_GATED_CLIENT : LIST_GATED_SERVER;
		if ((idx = ms->lists[l]) == NULL)
			continue;
		n = ms->nlist[l];
		off = ms->gfirst_off[d];
		memset(ms->gfirst_off[d], 0, sizeof(ms->gfirst_off[d]));
		ms->galways[d] = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
		ms->gfirst[d] = malloc((size_t)(n > 0 ? n : 1) * MATCH_FIRSTS *
		    sizeof(int));
		if (ms->galways[d] == NULL || ms->gfirst[d] == NULL) {
			free(ms->galways[d]);
			free(ms->gfirst[d]);
			ms->galways[d] = ms->gfirst[d] = NULL;
			continue;
		}
		trie = gate_trie(ms, idx, n, false, &ms->gtrie[d][0]) &&
		    gate_trie(ms, idx, n, true, &ms->gtrie[d][1]);
		if (!trie) {
			littrie_free(ms->gtrie[d][0]);
			ms->gtrie[d][0] = NULL;
		}
		ms->gtrie_ok[d] = trie;
		/* Counted per first byte, then placed (off[b + 1] is b's end). */
		for (k = 0; k < n; k++) {
			p = &ms->pats[idx[k]];
			if (trie && gate_by_lits(ms, p))
				continue;
			if (gate_always(ms, p))
				ms->galways[d][ms->ngalways[d]++] = idx[k];
			else
				for (j = 0; j < p->nfirst; j++)
					off[p->firsts[j] + 1]++;
		}
		for (i = 0; i < 256; i++)
			off[i + 1] += off[i];
		for (k = 0; k < n; k++) {
			p = &ms->pats[idx[k]];
			if ((trie && gate_by_lits(ms, p)) || gate_always(ms, p))
				continue;
			for (j = 0; j < p->nfirst; j++)
				ms->gfirst[d][off[p->firsts[j]]++] = idx[k];
		}
		/* Placing moved each start to the next one: back. */
		for (i = 256; i > 0; i--)
			off[i] = off[i - 1];
		off[0] = 0;
	}
}

static void
groups_free(struct match_set *ms)
{
	int g;

	for (g = 0; g < ms->ngroups; g++)
		pcre2_code_free(ms->groups[g].code);
	free(ms->groups);
	ms->groups = NULL;
	ms->ngroups = 0;
}

/*
 * Can pattern text t go into an alternation as (?:t) and mean the same
 * there? Gated patterns are in Vectorscan's syntax, which has no \Q, no
 * (?x) comments and no verbs; this keeps out what could reach past the
 * closing parenthesis all the same.
 */
static bool
groupable(const struct match_pat *p)
{
	static const char *const bad[] = { "#", "\\Q", "\\E", "(?x", "(*",
	    "(?#" };
	size_t k;

	if (p->len == 0 || memchr(p->text, '\0', p->len) != NULL ||
	    p->text[p->len - 1] == '\\')
		return false;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (strstr(p->text, bad[k]) != NULL)
			return false;
	return true;
}

/*
 * The length of the text that every leader of group g starts with, in
 * whole top-level atoms: the group's alternation matches it once, as
 * p(?:r1|r2|...), rather than once per member (an unanchored partial
 * search runs at every byte). 0 when a leader has a top-level | or is
 * read otherwise than written (see form_parse()).
 */
static size_t
group_prefix(const struct match_set *ms, int g)
{
	const struct match_pat *p, *first = NULL;
	size_t n = 0, k, i;
	struct form f;
	int j;

	for (j = 0; j < ms->count; j++) {
		p = &ms->pats[j];
		if (!p->is_leader || p->group != g)
			continue;
		if (form_parse(p->text, p->len, &f) != 0)
			return 0;
		if (f.top_alt || f.len != p->len ||
		    memcmp(f.text, p->text, p->len) != 0) {
			form_free(&f);
			return 0;
		}
		/* Atoms ending within the first leader's prefix, the same. */
		for (k = 0, i = 0; k < f.natoms; k++) {
			if (first != NULL && (f.atoms[k].end > n ||
			    memcmp(p->text, first->text, f.atoms[k].end) != 0))
				break;
			i = f.atoms[k].end;
		}
		form_free(&f);
		n = i;
		if (first == NULL)
			first = p;
	}
	return n;
}

/*
 * Groups the gated patterns by their leader's head and case, and compiles
 * each group of MATCH_GROUP_MIN distinct leaders or more (at most
 * MATCH_GROUP_MAX) into one alternation. A pattern outside any group, or
 * whose group did not compile, has group -1 and is searched alone.
 */
static void
groups_build(struct match_set *ms)
{
	struct match_pat *p, *q;
	int *size = NULL, i, j, g, n = 0, errcode;
	PCRE2_SIZE erroff;
	size_t cap, pre;
	char *text;

	groups_free(ms);
	for (i = 0; i < ms->count; i++)
		ms->pats[i].group = -1;
	if (ms->ngated < MATCH_GROUP_MIN ||
	    (ms->groups = calloc((size_t)ms->count, sizeof(*ms->groups))) ==
	    NULL || (size = calloc((size_t)ms->count, sizeof(*size))) == NULL)
		goto out;
	/* Leaders first: a twin takes its leader's group below. */
	for (i = 0; i < ms->count; i++) {
		p = &ms->pats[i];
		if (!p->gated || !p->is_leader || p->head == NULL ||
		    !groupable(p))
			continue;
		for (j = 0; j < i; j++) {
			q = &ms->pats[j];
			if (q->group >= 0 && q->is_leader &&
			    q->caseless == p->caseless &&
			    size[q->group] < MATCH_GROUP_MAX &&
			    strcmp(q->head, p->head) == 0)
				break;
		}
		p->group = j < i ? ms->pats[j].group : n++;
		size[p->group]++;
	}
	ms->ngroups = n;
	for (g = 0; g < n; g++) {
		if (size[g] < MATCH_GROUP_MIN)
			continue;
		pre = group_prefix(ms, g);
		cap = 4;
		for (i = 0; i < ms->count; i++)
			if (ms->pats[i].is_leader && ms->pats[i].group == g)
				cap += ms->pats[i].len + 5;
		if ((text = malloc(cap)) == NULL)
			continue;
		cap = 0;
		for (i = 0; i < ms->count; i++) {
			p = &ms->pats[i];
			if (!p->is_leader || p->group != g)
				continue;
			if (cap == 0) {
				memcpy(text, p->text, pre);
				cap = pre;
				memcpy(text + cap, "(?:(?:", 6);
				cap += 6;
			} else {
				memcpy(text + cap, "|(?:", 4);
				cap += 4;
			}
			memcpy(text + cap, p->text + pre, p->len - pre);
			cap += p->len - pre;
			text[cap++] = ')';
			j = i;
		}
		text[cap++] = ')';
		ms->groups[g].code = pcre2_compile((PCRE2_SPTR)text, cap,
		    PCRE2_NEVER_UTF | (ms->pats[j].caseless ? PCRE2_CASELESS :
		    0), &errcode, &erroff, NULL);
		free(text);
		if (ms->groups[g].code != NULL &&
		    pcre2_jit_compile(ms->groups[g].code, PCRE2_JIT_PARTIAL_SOFT)
		    != 0) {
			pcre2_code_free(ms->groups[g].code);
			ms->groups[g].code = NULL;
		}
	}
	/* Groups of one, or that did not compile: searched alone. */
	for (i = 0; i < ms->count; i++) {
		p = &ms->pats[i];
		g = ms->pats[p->leader].group;
		p->group = p->gated && g >= 0 && ms->groups[g].code != NULL ?
		    g : -1;
	}
out:
	if (size == NULL)
		groups_free(ms);
	free(size);
}

/* (Re)builds the lists; one that cannot be allocated is not used. */
static void
lists_build(struct match_set *ms)
{
	int l, i;

	for (l = 0; l < NLISTS; l++) {
		free(ms->lists[l]);
		ms->nlist[l] = 0;
		ms->lists[l] = malloc((size_t)(ms->count > 0 ? ms->count : 1) *
		    sizeof(*ms->lists[l]));
		if (ms->lists[l] == NULL)
			continue;
		for (i = 0; i < ms->count; i++)
			if (list_has((enum list)l, &ms->pats[i]))
				ms->lists[l][ms->nlist[l]++] = i;
	}
	gates_build(ms);
	groups_build(ms);
}

/*
 * Per direction: which kinds of pattern apply, the context the PCRE2 ones
 * need, and the tail the Vectorscan ones need. A pattern runs on Vectorscan
 * for streams when it is in the database and its tail fits the window (a
 * partial match of it is shorter than its tail, so the PCRE2 path would
 * never cut one) and MATCH_TAIL_MAX.
 */
static void
set_paths(struct match_set *ms)
{
	struct match_pat *p;
	int i, d;

	uint32_t ctx[2] = { 0, 0 };

	ms->nfast = ms->nfast_dgram = ms->ngated = 0;
	ms->gather = 0;
	for (d = 0; d < 2; d++) {
		ms->has_fast[d] = ms->has_slow[d] = ms->has_gated[d] = false;
		ms->context_slow[d] = ms->core_need[d] = 0;
	}
	for (i = 0; i < ms->count; i++) {
		p = &ms->pats[i];
		p->fast = p->fast_dgram && p->tail <= ms->window &&
		    p->tail <= MATCH_TAIL_MAX;
		p->gated = p->fast_dgram && !p->fast && !p->anchored &&
		    ms->pats[p->leader].head != NULL;
		p->pre = p->pre && p->fast;
		ms->nfast += p->fast;
		ms->nfast_dgram += p->fast_dgram;
		ms->ngated += p->gated;
		for (d = 0; d < 2; d++) {
			if ((p->dirs & dir_mask(d)) == 0)
				continue;
			if (p->fast) {
				ms->has_fast[d] = true;
				if (p->width > ms->core_need[d])
					ms->core_need[d] = p->width;
				if (p->context > ctx[d])
					ctx[d] = p->context;
			} else {
				ms->has_slow[d] = true;
				ms->has_gated[d] |= p->gated;
				/* A gated one looks only within hbound. */
				if (!p->gated)
					ms->gather = MATCH_LAST_BYTES;
				else if (p->hbound > ms->gather)
					ms->gather = p->hbound;
				if (p->context > ms->context_slow[d])
					ms->context_slow[d] = p->context;
			}
		}
	}
	for (d = 0; d < 2; d++)
		ms->tail_need[d] = ms->core_need[d] + ctx[d];
	if (ms->gather > MATCH_LAST_BYTES)
		ms->gather = MATCH_LAST_BYTES;
	lists_build(ms);
}

/*
 * Picks the runtime calls and the platform to compile for. Debian 12's
 * Vectorscan (5.4.9) is built with one implementation per processor
 * generation and calls the newest the processor runs, and both its AVX-512
 * and its AVX2 implementations miss matches: "4." is not found in 95 bytes
 * holding "456789" at offset 80 (AVX-512), nor 1\d.*ab in "yybc xzcbxcx1
 * cy10ab" (AVX2 and AVX-512), both found by PCRE2 and by its SSE4.2
 * implementation (later releases fix several such bugs in their SIMD
 * scanners). So on a processor with AVX2 the set calls the SSE4.2
 * implementation by its exported name (corei7_hs_scan_stream and so on)
 * and compiles databases for a processor without AVX2; the SSE4.2 one
 * scans as fast on these patterns. Without those names the library's own
 * calls are used. Either way hs_selftest() must find the known answers, or
 * the set runs on PCRE2 alone.
 */
static void
hs_runtime(struct match_set *ms, hs_platform_info_t *plat,
    hs_platform_info_t **platp)
{
#if defined(__x86_64__) || defined(__i386__)
	struct hs_api sse;
#endif

	ms->api.open = hs_open_stream;
	ms->api.scan = hs_scan_stream;
	ms->api.close = hs_close_stream;
	ms->api.reset = hs_reset_stream;
	*platp = NULL;
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") ||
	    !__builtin_cpu_supports("sse4.2") ||
	    !__builtin_cpu_supports("popcnt") ||
	    hs_populate_platform(plat) != HS_SUCCESS)
		return;
	*(void **)&sse.open = dlsym(RTLD_DEFAULT, "corei7_hs_open_stream");
	*(void **)&sse.scan = dlsym(RTLD_DEFAULT, "corei7_hs_scan_stream");
	*(void **)&sse.close = dlsym(RTLD_DEFAULT, "corei7_hs_close_stream");
	*(void **)&sse.reset = dlsym(RTLD_DEFAULT, "corei7_hs_reset_stream");
	if (sse.open == NULL || sse.scan == NULL || sse.close == NULL ||
	    sse.reset == NULL)
		return;
	ms->api = sse;
	plat->cpu_features = 0;
	*platp = plat;
#else
	(void)plat;
#endif
}

static int
selftest_hit(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	*(int *)ctx += 1;
	return 0;
}

/*
 * Known answers for the runtime picked: patterns that Vectorscan 5.4.9's
 * AVX2 or AVX-512 implementations miss, each alone in a database, planted
 * at the end of several lengths, at several alignments (some 2 ms a set).
 * Returns 0 when every one is found. It catches the bugs it was written
 * for, not every bug: see hs_runtime().
 */
static int
hs_selftest(const struct match_set *ms, const hs_platform_info_t *plat)
{
	static const char *const pats[] = { "4.", "1\\d.*ab" };
	static const char *const plants[] = { "456789",
	    "yybc xzcbxcx1 cy10ab" };
	static const unsigned lens[] = { 20, 95, 256 };
	_Alignas(64) char buf[256 + 64];
	hs_compile_error_t *err = NULL;
	hs_database_t *db = NULL;
	hs_scratch_t *scr = NULL;
	hs_stream_t *st;
	size_t p, l, al, n;
	int found;

	for (p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		if (hs_compile(pats[p], 0, HS_MODE_STREAM, plat, &db, &err) !=
		    HS_SUCCESS || hs_alloc_scratch(db, &scr) != HS_SUCCESS)
			goto fail;
		n = strlen(plants[p]);
		for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			for (al = 0; al < 64; al += 7) {
				memset(buf, 'm', sizeof(buf));
				memcpy(buf + al + lens[l] - n, plants[p], n);
				found = 0;
				if (ms->api.open(db, 0, &st) != HS_SUCCESS)
					goto fail;
				(void)ms->api.scan(st, buf + al, lens[l], 0,
				    scr, selftest_hit, &found);
				(void)ms->api.close(st, NULL, NULL, NULL);
				if (found == 0)
					goto fail;
			}
		(void)hs_free_scratch(scr);
		(void)hs_free_database(db);
		scr = NULL;
		db = NULL;
	}
	return 0;
fail:
	if (err != NULL)
		hs_free_compile_error(err);
	(void)hs_free_scratch(scr);
	(void)hs_free_database(db);
	return -1;
}

static uint64_t
monotonic_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * With a cache directory: makes the key of what is about to be compiled
 * (key->bytes stays NULL when there is none) and loads the database stored
 * under it. True when ms->db came from the cache.
 */
static bool
hs_cached(struct match_set *ms, const char **exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, const hs_platform_info_t *platp,
    struct hscache_key *key)
{
	key->bytes = NULL;
	if (ms->cache_dir == NULL || hscache_key_make(key, exprs, flags, ids, n,
	    HS_MODE_STREAM, platp) == -1)
		return false;
	if ((ms->db = hscache_load(ms->cache_dir, key)) == NULL)
		return false;
	ms->db_loaded = true;
	hscache_key_free(key);
	return true;
}

struct head_ref {
	const char *head;
	bool caseless;
	int i;
};

static int
head_cmp(const void *a, const void *b)
{
	const struct head_ref *x = a, *y = b;
	int c;

	if (x->caseless != y->caseless)
		return x->caseless ? 1 : -1;
	if ((c = strcmp(x->head, y->head)) != 0)
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * Leaders with the same head and case put it in the database once, under
 * the lowest of them (head_rep), and the others are found from there
 * (head_next): an IOC list has dozens of "User-Agent: " heads, and each
 * would be reported at every one in the traffic. False when out of memory.
 */
static bool
heads_share(struct match_set *ms)
{
	struct head_ref *r;
	struct match_pat *p;
	int i, n = 0, k;

	if ((r = malloc((size_t)(ms->count > 0 ? ms->count : 1) *
	    sizeof(*r))) == NULL)
		return false;
	for (i = 0; i < ms->count; i++) {
		p = &ms->pats[i];
		p->head_rep = i;
		p->head_next = -1;
		if (p->is_leader && p->fast_dgram && p->head != NULL) {
			r[n].head = p->head;
			r[n].caseless = p->caseless;
			r[n++].i = i;
		}
	}
	qsort(r, (size_t)n, sizeof(*r), head_cmp);
	for (k = 1; k < n; k++)
		if (r[k].caseless == r[k - 1].caseless &&
		    strcmp(r[k].head, r[k - 1].head) == 0) {
			ms->pats[r[k].i].head_rep = ms->pats[r[k - 1].i].head_rep;
			ms->pats[r[k - 1].i].head_next = r[k].i;
		}
	free(r);
	return true;
}

/*
 * Compiles the cores of the patterns Vectorscan can run into one streaming
 * database (ids are pattern indexes), with its scratch and the stream
 * datagrams are scanned through. On failure every pattern runs on PCRE2.
 */
static void
hs_build(struct match_set *ms)
{
	size_t cnt = ms->count > 0 ? (size_t)ms->count : 1;
	const char **exprs = calloc(2 * cnt, sizeof(*exprs));
	unsigned *flags = calloc(2 * cnt, sizeof(*flags));
	unsigned *ids = calloc(2 * cnt, sizeof(*ids));
	struct match_pat *p;
	hs_compile_error_t *err = NULL;
	hs_platform_info_t plat, *platp;
	struct hscache_key key = { NULL, 0 };
	uint64_t t0;
	int i, n, tries, bad;

	for (i = n = 0; i < ms->count; i++)
		n += ms->pats[i].fast_dgram;
	if (n == 0)
		goto fail;
	hs_runtime(ms, &plat, &platp);
	if (hs_selftest(ms, platp) != 0)
		goto fail;
	ms->rep = calloc(cnt, sizeof(*ms->rep));
	ms->seen = calloc(cnt, sizeof(*ms->seen));
	ms->gseen = calloc(cnt, sizeof(*ms->gseen));
	ms->hseen = calloc(cnt, sizeof(*ms->hseen));
	ms->hend = calloc(cnt, sizeof(*ms->hend));
	ms->grep = calloc(cnt, sizeof(*ms->grep));
	ms->hrep = calloc(cnt, sizeof(*ms->hrep));
	if (exprs == NULL || flags == NULL || ids == NULL || ms->rep == NULL ||
	    ms->seen == NULL || ms->gseen == NULL || ms->hseen == NULL ||
	    ms->hend == NULL || ms->grep == NULL || ms->hrep == NULL)
		goto fail;
	ms->rep_cap = ms->count;
	if (!heads_share(ms))
		goto fail;
	/* Cores under their index, heads under count + index. */
	for (tries = 0; tries <= MATCH_HS_RETRIES; tries++) {
		n = 0;
		for (i = 0; i < ms->count; i++) {
			p = &ms->pats[i];
			if (!p->is_leader || !p->fast_dgram)
				continue;
			flags[n] = p->caseless ? HS_FLAG_CASELESS : 0;
			/*
			 * A literal of a fast pattern compiles many times
			 * faster than its core, and is confirmed as the core
			 * is, in the feeds its match may end in (on_match()).
			 */
			p->pre = p->factor != NULL && p->head == NULL &&
			    p->tail <= ms->window && p->tail <= MATCH_TAIL_MAX;
			exprs[n] = p->pre ? p->factor : p->core;
			ids[n++] = (unsigned)i;
			if (p->head == NULL || p->head_rep != i)
				continue;
			flags[n] = flags[n - 1];
			exprs[n] = p->head;
			ids[n++] = (unsigned)(ms->count + i);
		}
		if (n == 0)
			goto fail;
		if (hs_cached(ms, exprs, flags, ids, (unsigned)n, platp, &key))
			break;
		t0 = monotonic_ns();
		if (hs_compile_multi(exprs, flags, ids, (unsigned)n,
		    HS_MODE_STREAM, platp, &ms->db, &err) == HS_SUCCESS) {
			if (key.bytes != NULL &&
			    monotonic_ns() - t0 >= MATCH_HS_CACHE_MIN_NS)
				ms->db_stored = hscache_store(ms->cache_dir,
				    &key, ms->db);
			hscache_key_free(&key);
			break;
		}
		hscache_key_free(&key);
		bad = err != NULL ? err->expression : -1;
		hs_free_compile_error(err);
		err = NULL;
		ms->db = NULL;
		if (bad < 0 || bad >= n)
			goto fail;
		if (ids[bad] >= (unsigned)ms->count) {
			/* Every leader sharing the head loses it. */
			for (i = (int)(ids[bad] - (unsigned)ms->count); i >= 0;
			    i = p->head_next) {
				p = &ms->pats[i];
				free(p->head);
				p->head = NULL;
			}
		} else {
			ms->pats[ids[bad]].fast_dgram = false;
		}
	}
	ms->nexpr = n;
	for (i = 0; i < ms->count; i++) {
		p = &ms->pats[ms->pats[i].leader];
		ms->pats[i].fast_dgram = p->fast_dgram;
		ms->pats[i].pre = p->fast_dgram && p->pre;
	}
	if (ms->db == NULL ||
	    hs_alloc_scratch(ms->db, &ms->scratch) != HS_SUCCESS ||
	    ms->api.open(ms->db, 0, &ms->dg_stream) != HS_SUCCESS ||
	    hs_stream_size(ms->db, &ms->stream_size) != HS_SUCCESS)
		goto fail;
	(void)hs_database_size(ms->db, &ms->db_size);
	(void)hs_scratch_size(ms->scratch, &ms->scratch_size);
	goto out;
fail:
	hs_teardown(ms);
out:
	free(exprs);
	free(flags);
	free(ids);
}

/*
 * True when PCRE2's JIT finds where pattern p may start with a vector
 * search: a known first byte (or its two cases), or a set of at most two
 * first bytes. It then scans a segment about as fast as Vectorscan (6 to 16
 * GB/s here); a set of three first bytes is 2 GB/s, of four 1 GB/s.
 */
static bool
pcre2_starts_fast(const struct match_pat *p)
{
	const uint8_t *bitmap = NULL;
	uint32_t type = 0;
	int i, bits = 0;

	(void)pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODETYPE, &type);
	if (type == 1)
		return true;
	if (pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTBITMAP, &bitmap) != 0 ||
	    bitmap == NULL)
		return false;
	for (i = 0; i < 32; i++)
		bits += __builtin_popcount(bitmap[i]);
	return bits <= 2;
}

/*
 * For MATCH_ENGINE_AUTO: Vectorscan pays when it would run more than
 * MATCH_PCRE2_FEW patterns (PCRE2 scans once per pattern), or one that
 * PCRE2 cannot start fast. Otherwise PCRE2 alone is as fast, and the set
 * saves compiling a database and a stream and tail per direction.
 */
static bool
hs_pays(const struct match_set *ms)
{
	int i, n = 0;

	for (i = 0; i < ms->count; i++) {
		if (!ms->pats[i].fast_dgram)
			continue;
		if (++n > MATCH_PCRE2_FEW ||
		    !pcre2_starts_fast(&ms->pats[i]))
			return true;
	}
	return false;
}

struct twin_key {
	const struct match_pat *p;
	int i;
};

/* Orders patterns by text and case, then by index. */
static int
twin_cmp(const void *a, const void *b)
{
	const struct twin_key *x = a, *y = b;
	int c;

	if (x->p->len != y->p->len)
		return x->p->len < y->p->len ? -1 : 1;
	if (x->p->caseless != y->p->caseless)
		return x->p->caseless ? 1 : -1;
	if ((c = memcmp(x->p->text, y->p->text, x->p->len)) != 0)
		return c;
	return x->i < y->i ? -1 : 1;
}

/*
 * Links patterns of the same text and case to their leader (see the top of
 * this file). Without memory every pattern stays its own leader.
 */
static void
twins_find(struct match_set *ms)
{
	struct twin_key *idx;
	struct match_pat *p, *prev, *lead;
	int i, k, d;

	if (ms->count < 2 ||
	    (idx = malloc((size_t)ms->count * sizeof(*idx))) == NULL)
		return;
	for (i = 0; i < ms->count; i++) {
		idx[i].p = &ms->pats[i];
		idx[i].i = i;
	}
	qsort(idx, (size_t)ms->count, sizeof(*idx), twin_cmp);
	for (k = 1; k < ms->count; k++) {
		prev = &ms->pats[idx[k - 1].i];
		p = &ms->pats[idx[k].i];
		if (p->len != prev->len || p->caseless != prev->caseless ||
		    memcmp(p->text, prev->text, p->len) != 0)
			continue;
		lead = &ms->pats[prev->leader];
		p->leader = prev->leader;
		p->is_leader = false;
		p->earlier_dirs = prev->earlier_dirs | prev->dirs;
		prev->twin_next = idx[k].i;
		for (d = 0; d < 2; d++)
			if (lead->dir_pat[d] < 0 && (p->dirs & dir_mask(d)))
				lead->dir_pat[d] = idx[k].i;
	}
	free(idx);
}

/* A twin shares its leader's analysis (not its core and head). */
static void
twin_copy(struct match_set *ms, struct match_pat *p)
{
	const struct match_pat *lead = &ms->pats[p->leader];

	p->analysed = true;
	p->anchored = lead->anchored;
	p->fast_dgram = lead->fast_dgram;
	p->width = lead->width;
	p->tail = lead->tail;
	p->pbound = lead->pbound;
	p->hbound = lead->hbound;
	memcpy(p->lits, lead->lits, sizeof(p->lits));
	memcpy(p->litlen, lead->litlen, sizeof(p->litlen));
	p->nlits = lead->nlits;
}

int
match_set_prepare(struct match_set *ms)
{
	int i;

	if (ms->prepared)
		return ms->nfast;
	ms->prepared = true;
	twins_find(ms);
	for (i = 0; i < ms->count; i++)
		if (ms->pats[i].is_leader)
			pattern_analyse(ms, &ms->pats[i]);
		else
			twin_copy(ms, &ms->pats[i]);
	if (ms->engine == MATCH_ENGINE_VECTORSCAN ||
	    (ms->engine == MATCH_ENGINE_AUTO && hs_pays(ms)))
		hs_build(ms);
	else
		for (i = 0; i < ms->count; i++)
			ms->pats[i].fast_dgram = false;
	set_paths(ms);
	return ms->nfast;
}

bool
match_set_pattern_fast(const struct match_set *ms, int i)
{
	return i >= 0 && i < ms->count && ms->pats[i].fast;
}

void
match_set_memory(const struct match_set *ms, struct match_mem *mm)
{
	int i;

	memset(mm, 0, sizeof(*mm));
	mm->bytes_max = ms->streams_cap;
	for (i = 0; i < ms->count; i++)
		mm->compiled += !ms->pats[i].borrowed;
	if (ms->db == NULL)
		return;
	mm->fast = ms->nfast;
	mm->fast_datagram = ms->nfast_dgram;
	mm->gated = ms->ngated;
	for (i = 0; i < ms->count; i++) {
		mm->gated_grouped += ms->pats[i].group >= 0;
		mm->prefiltered += ms->pats[i].pre;
	}
	mm->expressions = ms->nexpr;
	mm->db_bytes = ms->db_size;
	mm->db_loaded = ms->db_loaded;
	mm->db_stored = ms->db_stored;
	mm->scratch_bytes = ms->scratch_size;
	mm->stream_bytes = ms->stream_size;
	mm->dir_bytes = ms->stream_size + (ms->tail_need[0] > ms->tail_need[1] ?
	    ms->tail_need[0] : ms->tail_need[1]);
	mm->streams_opened = ms->streams_opened;
	mm->streams_refused = ms->streams_refused;
	mm->streams_live = ms->streams_live;
	mm->streams_peak = ms->streams_peak;
	mm->bytes_live = ms->bytes_live;
	mm->bytes_peak = ms->bytes_peak;
}

void
match_set_errors(const struct match_set *ms, struct match_errs *me)
{
	me->errors = ms->errors;
	me->jit_fallbacks = ms->jit_fallbacks;
	me->interpreted = ms->interpreted;
}

/*
 * Fills p->first from PCRE2's start-of-match optimisation: the one byte a
 * match starts with (both cases of a letter, whatever the options), or its
 * set of first bytes. None for patterns that may match at the start of a
 * line, or match "" (no set).
 */
static void
first_bytes(struct match_pat *p)
{
	const uint8_t *bitmap = NULL;
	uint32_t type = 0, cu = 0;
	unsigned b;

	p->has_first = false;
	(void)pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODETYPE, &type);
	if (type == 1 &&
	    pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODEUNIT, &cu) == 0 &&
	    cu < 256) {
		memset(p->first, 0, sizeof(p->first));
		p->first[cu >> 3] |= (uint8_t)(1U << (cu & 7));
		if ((cu | 0x20) >= 'a' && (cu | 0x20) <= 'z')
			p->first[(cu ^ 0x20) >> 3] |=
			    (uint8_t)(1U << ((cu ^ 0x20) & 7));
		p->has_first = true;
	} else if (type == 0 && pcre2_pattern_info(p->code,
	    PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 && bitmap != NULL) {
		memcpy(p->first, bitmap, sizeof(p->first));
		p->has_first = true;
	}
	p->nfirst = 0;
	for (b = 0; p->has_first && b < 256; b++) {
		if ((p->first[b >> 3] & (1U << (b & 7))) == 0)
			continue;
		if (p->nfirst == MATCH_FIRSTS) {
			p->nfirst = 0;
			break;
		}
		p->firsts[p->nfirst++] = (uint8_t)b;
	}
}

static size_t
text_hash(const char *pat, size_t len, bool caseless)
{
	uint64_t h = caseless ? 0x9e3779b97f4a7c15ULL : 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)pat[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ h >> 29);
}

/* The earliest pattern of this text and case, or -1. */
static int
by_text_find(const struct match_set *ms, const char *pat, size_t len,
    bool caseless)
{
	size_t mask = ms->by_text_cap - 1, k;
	const struct match_pat *q;
	int i;

	if (ms->by_text_cap == 0)
		return -1;
	for (k = text_hash(pat, len, caseless) & mask;
	    (i = ms->by_text[k]) >= 0; k = (k + 1) & mask) {
		q = &ms->pats[i];
		if (q->len == len && q->caseless == caseless &&
		    memcmp(q->text, pat, len) == 0)
			return i;
	}
	return -1;
}

/*
 * Indexes pattern i (not in the index yet). Without memory it is left out,
 * and a later twin compiles its own code.
 */
static void
by_text_add(struct match_set *ms, int i)
{
	size_t cap = ms->by_text_cap, k, mask;
	const struct match_pat *q;
	int *t;
	int j;

	if ((size_t)i + 1 > cap / 2) {
		while ((size_t)i + 1 > cap / 2)
			cap = cap == 0 ? 64 : cap * 2;
		if ((t = malloc(cap * sizeof(*t))) == NULL)
			return;
		memset(t, 0xff, cap * sizeof(*t));	/* every slot -1 */
		free(ms->by_text);
		ms->by_text = t;
		ms->by_text_cap = cap;
		/* Earlier patterns are indexed again, twins left out. */
		for (j = 0; j < i; j++)
			if (!ms->pats[j].borrowed)
				by_text_add(ms, j);
	}
	mask = ms->by_text_cap - 1;
	q = &ms->pats[i];
	for (k = text_hash(q->text, q->len, q->caseless) & mask;
	    ms->by_text[k] >= 0; k = (k + 1) & mask)
		;
	ms->by_text[k] = i;
}

/*
 * Compiles the pattern (bytes, not UTF-8: PCRE2_NEVER_UTF also refuses
 * (*UTF)), with JIT code for complete and soft partial matching; when JIT is
 * unavailable, or the pattern's recursion loops, it is interpreted (see
 * pat_match()). A pattern of the same text and case as an earlier one
 * shares its code. On failure the set is unchanged.
 * Whether Vectorscan runs it is worked out by match_set_prepare(); a pattern
 * added after that runs on PCRE2.
 */
int
match_set_add(struct match_set *ms, const char *pat, size_t len,
    unsigned dirs, bool caseless, const char *origin, char *errbuf)
{
	char shown[MATCH_QUOTE_MAX];
	PCRE2_UCHAR msg[256];
	struct match_pat *p, *np;
	PCRE2_SIZE erroff;
	pcre2_code *code;
	int errcode, ncap, d, rc, k;
	char dummy[MATCH_ERRBUF_SIZE];
	bool jit = false;
	int twin;

	if (errbuf == NULL)
		errbuf = dummy;
	if (pat == NULL)
		pat = "";
	if (origin == NULL)
		origin = "";
	quote(shown, sizeof(shown), pat, len);
	dirs &= MATCH_CLIENT | MATCH_SERVER;
	if (dirs == 0) {
		set_error(errbuf,
		    "bad pattern '%s' (%s): no direction", shown, origin);
		return -1;
	}
	if (ms->count >= MATCH_PATTERNS_MAX) {
		set_error(errbuf,
		    "bad pattern '%s' (%s): more than %d patterns", shown,
		    origin, MATCH_PATTERNS_MAX);
		return -1;
	}
	if ((twin = by_text_find(ms, pat, len, caseless)) >= 0) {
		code = ms->pats[twin].code;
		goto compiled;
	}
	code = pcre2_compile((PCRE2_SPTR)pat, len,
	    PCRE2_NEVER_UTF | (caseless ? PCRE2_CASELESS : 0), &errcode,
	    &erroff, NULL);
	if (code == NULL) {
		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) ==
		    PCRE2_ERROR_BADDATA)
			snprintf((char *)msg, sizeof(msg), "error %d", errcode);
		set_error(errbuf,
		    "bad pattern '%s' (%s): %s at column %zu", shown, origin,
		    (char *)msg, (size_t)erroff + 1);
		return -1;
	}
	/*
	 * Now, not at the first search (half of a 1,000-pattern start): the
	 * system call filter forbids making memory executable later.
	 */
	jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE |
	    PCRE2_JIT_PARTIAL_SOFT) == 0;

compiled:
	if (ms->count == ms->cap) {
		ncap = ms->cap == 0 ? 8 : ms->cap * 2;
		if ((np = realloc(ms->pats, (size_t)ncap * sizeof(*np))) ==
		    NULL)
			goto nomem;
		ms->pats = np;
		ms->cap = ncap;
	}
	p = &ms->pats[ms->count];
	memset(p, 0, sizeof(*p));
	if ((p->text = malloc(len + 1)) == NULL)
		goto nomem;
	memcpy(p->text, pat, len);
	p->text[len] = '\0';
	p->len = len;
	p->code = code;
	p->borrowed = twin >= 0;
	p->dirs = dirs;
	p->caseless = caseless;
	p->leader = ms->count;
	p->is_leader = true;
	p->twin_next = -1;
	for (d = 0; d < 2; d++)
		p->dir_pat[d] = (dirs & dir_mask(d)) != 0 ? ms->count : -1;
	p->context = pattern_context(code, pat, len);
	if (dirs & MATCH_CLIENT) {
		ms->has[0] = true;
		if (p->context > ms->context[0])
			ms->context[0] = p->context;
	}
	if (dirs & MATCH_SERVER) {
		ms->has[1] = true;
		if (p->context > ms->context[1])
			ms->context[1] = p->context;
	}
	p->recursive = scan_recursion(pat, len);
	first_bytes(p);
	for (k = 0; k < p->nfirst; k++)
		ms->firsts_any[p->firsts[k] >> 3] |=
		    (uint8_t)(1U << (p->firsts[k] & 7));
	if (twin >= 0) {
		/* The twin matched "" or not, and set ms->empty then. */
		p->nojit = ms->pats[twin].nojit;
	} else {
		/*
		 * A flow without payload is decided by this, so work it out
		 * now, interpreted and partial (which turns off the shortcuts
		 * that would skip the pattern): a recursion that loops at the
		 * start, such as (|(?1))x, then shows at once, and the pattern
		 * is never given to the JIT (see pat_match()). A complete
		 * match of "" is still >= 0.
		 */
		rc = pcre2_match(code, (PCRE2_SPTR) "", 0, 0, PCRE2_NO_JIT |
		    PCRE2_PARTIAL_SOFT, ms->mdata, ms->mctx);
		p->nojit = !jit || rc == PCRE2_ERROR_RECURSELOOP;
		if (ms->empty < 0 && rc >= 0)
			ms->empty = ms->count;
		by_text_add(ms, ms->count);
	}
	ms->interpreted += p->nojit;
	ms->count++;
	if (ms->prepared) {
		/* Too late for the database: the pattern runs on PCRE2. */
		pattern_analyse(ms, p);
		p->fast = p->fast_dgram = false;
		for (d = 0; d < 2; d++)
			if (dirs & dir_mask(d)) {
				ms->has_slow[d] = true;
				if (p->context > ms->context_slow[d])
					ms->context_slow[d] = p->context;
			}
		lists_build(ms);
	}
	return 0;

nomem:
	if (twin < 0)
		pcre2_code_free(code);
	set_error(errbuf, "bad pattern '%s' (%s): %s",
	    shown, origin, "out of memory");
	return -1;
}

/*
 * A window of 0 would forbid every match across calls and is taken as the
 * default; one above MATCH_WINDOW_MAX is cut to it. After match_set_prepare()
 * a window too small for some Vectorscan pattern's tail sends directions
 * that have not started yet to PCRE2.
 */
void
match_set_limits(struct match_set *ms, uint32_t window, uint64_t depth)
{
	int d;

	if (window == 0)
		window = MATCH_WINDOW_DEFAULT;
	ms->window = window > MATCH_WINDOW_MAX ? MATCH_WINDOW_MAX : window;
	ms->depth = depth;
	if (ms->prepared)
		for (d = 0; d < 2; d++)
			if (ms->tail_need[d] > ms->window)
				ms->streams_off = true;
}

void
match_set_streams_cap(struct match_set *ms, size_t bytes)
{
	ms->streams_cap = bytes;
}

int
match_set_count(const struct match_set *ms)
{
	return ms->count;
}

/* The text is owned by the set; NULL when i is out of range. */
const char *
match_set_pattern(const struct match_set *ms, int i)
{
	if (i < 0 || i >= ms->count)
		return NULL;
	return ms->pats[i].text;
}

bool
match_set_has_dir(const struct match_set *ms, int dir)
{
	return dir >= 0 && dir <= 1 && ms->has[dir];
}

bool
match_empty(const struct match_set *ms, struct match_hit *hit)
{
	if (ms->empty < 0)
		return false;
	memset(hit, 0, sizeof(*hit));
	hit->pattern = ms->empty;
	hit->dir = (ms->pats[ms->empty].dirs & MATCH_CLIENT) ? 0 : 1;
	return true;
}

void
match_set_stats(struct match_set *ms, struct stats *st)
{
	ms->st = st;
}

/* ---- PCRE2 scans ---- */

/*
 * An interpreted search of pattern p within MATCH_INTERP_BUDGET steps,
 * through its copy compiled with a callout before every item (made at
 * first need; PCRE2_ERROR_NOMEMORY when it cannot be).
 */
static int
pat_interpret(struct match_set *ms, struct match_pat *p, const uint8_t *subj,
    size_t len, size_t start, uint32_t opts)
{
	PCRE2_SIZE erroff;
	int errcode;

	if (p->slow == NULL && (p->slow = pcre2_compile((PCRE2_SPTR)p->text,
	    p->len, PCRE2_NEVER_UTF | PCRE2_AUTO_CALLOUT | (p->caseless ?
	    PCRE2_CASELESS : 0), &errcode, &erroff, NULL)) == NULL)
		return PCRE2_ERROR_NOMEMORY;
	ms->budget = MATCH_INTERP_BUDGET;
	ms->budget_pos = start;
	return pcre2_match(p->slow, subj, len, start, opts | PCRE2_NO_JIT,
	    ms->mdata, ms->mctx_slow);
}

/*
 * Every search of the set: pcre2_match() for pattern p, by its JIT code
 * unless opts holds PCRE2_NO_JIT or the pattern is interpreted. A search
 * the JIT runs out of stack for is interpreted instead (a deep recursion,
 * or a long run of a repeated group such as (a|b)*). A recursion that
 * loops, as the interpreter reports at once, would run the JIT to the end
 * of its stack on every search, so the pattern is interpreted from then
 * on; other patterns go back to the JIT, which costs nothing when it runs
 * out of stack. Returns pcre2_match()'s result; an error (a limit, the
 * budget, a loop) is counted in ms->errors and its callers take it as no
 * match.
 */
static int
pat_match(struct match_set *ms, struct match_pat *p, const uint8_t *subj,
    size_t len, size_t start, uint32_t opts)
{
	int rc;

	if (!p->nojit && (opts & PCRE2_NO_JIT) == 0) {
		pcre2_match_context *mctx = p->recursive ? ms->mctx_rec :
		    ms->mctx;

		/*
		 * The JIT's own entry: pcre2_match() would check again, on
		 * every search, what compiling the set checked once.
		 */
		rc = pcre2_jit_match(p->code, subj, len, start, opts,
		    ms->mdata, mctx);
		if (rc == PCRE2_ERROR_JIT_BADOPTION)
			rc = pcre2_match(p->code, subj, len, start, opts,
			    ms->mdata, mctx);
		if (rc != PCRE2_ERROR_JIT_STACKLIMIT)
			goto out;
		ms->jit_fallbacks++;
		if (ms->st != NULL)
			ms->st->match_jit_fallbacks++;
	}
	rc = pat_interpret(ms, p, subj, len, start, opts);
	if (rc == PCRE2_ERROR_RECURSELOOP && !p->nojit) {
		p->nojit = true;
		ms->interpreted++;
	}
out:
	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && rc != PCRE2_ERROR_PARTIAL) {
		ms->errors++;
		if (ms->st != NULL)
			ms->st->match_errors++;
	}
	return rc;
}

static void
scan_init(struct match_scan *sc)
{
	sc->pattern = -1;
	sc->partial = false;
	sc->grouped = false;
	sc->overflow = false;
	sc->gate = false;
}

/* Keeps the earliest match, the lower index on a tie. */
static void
scan_keep(struct match_scan *sc, int i, size_t s, size_t e)
{
	if (sc->pattern < 0 || s < sc->ms || (s == sc->ms && i < sc->pattern)) {
		sc->pattern = i;
		sc->ms = s;
		sc->me = e;
	}
}

/*
 * The original scan, kept as the reference (MATCH_ENGINE_PCRE2_PARTIAL):
 * runs pattern i with the scan's options plus PCRE2_PARTIAL_SOFT, which
 * prefers a complete match anywhere to an earlier partial one. The JIT of
 * PCRE2 10.42 in soft partial mode returns, for some patterns (such as
 * [ab]+.{0,2}(?:a*|(?: *?c|1)?1+){2}), complete matches that end past the
 * subject (the original code then read past it); such a result is replaced
 * by a complete search's, or failing one, by the interpreter's (which has
 * partial bugs of its own: (?s).{2,} on "A" is no partial match for it).
 * A complete match longer than the window is refused, as it would have been
 * cut had it arrived in smaller pieces; any partial match before it is
 * longer than the window too, so nothing is lost by resuming after its
 * start. Errors (limits, the budget, see pat_match()) count as no match.
 */
static void
scan_reference(struct match_set *ms, int i, struct match_scan *sc)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ms->mdata);
	struct match_pat *p = &ms->pats[i];
	size_t start = sc->start, s, e, from;
	uint32_t opts = sc->opts | (sc->want_partial ? PCRE2_PARTIAL_SOFT : 0);
	int rc, tries = 0;

	for (;;) {
		rc = pat_match(ms, p, sc->subj, sc->len, start, opts);
		if (rc >= 0 && ov[1] > sc->len) {
			/* The JIT's bug: a complete search's match, if any. */
			rc = pat_match(ms, p, sc->subj, sc->len, start,
			    sc->opts);
			if (rc < 0)
				rc = pat_match(ms, p, sc->subj, sc->len, start,
				    opts | PCRE2_NO_JIT);
		}
		if (rc == PCRE2_ERROR_PARTIAL) {
			if (!sc->partial || ov[0] < sc->ps) {
				sc->partial = true;
				sc->ps = ov[0];
			}
			return;
		}
		if (rc < 0)
			return;
		s = ov[0];
		e = ov[1] > s ? ov[1] : s;
		/* With \K the match began before ovector[0]. */
		from = pcre2_get_startchar(ms->mdata);
		if (from > s)
			from = s;
		if (sc->window == 0 || e - from <= sc->window) {
			scan_keep(sc, i, s, e);
			return;
		}
		sc->overflow = true;
		start = from + 1;
		if (++tries >= MATCH_RETRY_MAX &&
		    sc->len - sc->window > start)
			start = sc->len - sc->window;
		if (start > sc->len)
			return;
	}
}

/*
 * The complete matches of pattern i: keeps the earliest one within the
 * window, refusing longer ones and searching on after their start exactly
 * as scan_reference() does, and leaves in pstart where that search ended,
 * for scan_partial(). Without PCRE2_PARTIAL_SOFT, PCRE2 keeps its
 * start-of-match optimisations (a set of first bytes, a required byte, the
 * minimum length), which partial matching turns off: a pattern such as
 * "cat|dog" then runs five to twenty times faster.
 */
static void
scan_complete(struct match_set *ms, int i, struct match_scan *sc)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ms->mdata);
	struct match_pat *p = &ms->pats[i];
	size_t start = sc->start, s, e, from;
	int rc, tries = 0;

	for (;;) {
		p->pstart = start;
		rc = pat_match(ms, p, sc->subj, sc->len, start, sc->opts);
		if (rc < 0)
			return;
		s = ov[0];
		e = ov[1] > s ? ov[1] : s;
		from = pcre2_get_startchar(ms->mdata);
		if (from > s)
			from = s;
		if (sc->window == 0 || e - from <= sc->window) {
			scan_keep(sc, i, s, e);
			p->pstart = SIZE_MAX;
			return;
		}
		sc->overflow = true;
		start = from + 1;
		if (++tries >= MATCH_RETRY_MAX &&
		    sc->len - sc->window > start)
			start = sc->len - sc->window;
		if (start > sc->len) {
			p->pstart = SIZE_MAX;
			return;
		}
	}
}

/* Compares n bytes, ASCII letters of any case when caseless. */
static bool
bytes_equal(const char *a, const uint8_t *b, size_t n, bool caseless)
{
	size_t i;
	unsigned x, y;

	if (!caseless)
		return memcmp(a, b, n) == 0;
	for (i = 0; i < n; i++) {
		x = (unsigned char)a[i];
		y = b[i];
		if (x != y && !((x | 0x20) == (y | 0x20) && (x | 0x20) >= 'a' &&
		    (x | 0x20) <= 'z'))
			return false;
	}
	return true;
}

/*
 * False when a match of p cannot start at s (n bytes to the end): s does
 * not start one of its literals, or a prefix of one at the end.
 */
static bool
lit_may_start(const struct match_pat *p, const uint8_t *s, size_t n)
{
	int j;

	for (j = 0; j < p->nlits; j++)
		if (bytes_equal(p->lits[j], s, n < p->litlen[j] ? n :
		    p->litlen[j], p->caseless))
			return true;
	return p->nlits == 0;
}

/*
 * True when no byte of subj[from, to) can start a match of p. A partial
 * match starts at such a byte too, or at len, where it inspected only
 * bytes before it (such as (?<=abc)def on "abc"), which is as good as none:
 * the bytes from len on are retained either way. PCRE2 makes the same
 * assumption when it skips to the first possible byte in partial mode.
 * With many patterns, where each byte occurs in the subject's last
 * ms->gather bytes (at most MATCH_LAST_BYTES; only as many as the gated
 * patterns' heads need when all are gated) is gathered once per scan as
 * bit masks, for the bytes some pattern starts with, and a pattern of
 * few first bytes visits only the positions of those (hundreds of gated
 * patterns would otherwise each walk the same bytes). A position must also
 * start one of the pattern's literals (see form_lits()), or a prefix of
 * one at the end.
 */
static void
gather_last(const struct match_set *ms, struct match_scan *sc)
{
	const uint8_t *subj = sc->subj;
	size_t i, len = sc->len;
	uint8_t b;
	int j;

	/* Only bytes some pattern starts with are noted. */
	memset(sc->last, 0, sizeof(sc->last));
	i = len > ms->gather ? len - ms->gather : 0;
	for (; i < len; i++) {
		b = subj[i];
		if ((ms->firsts_any[b >> 3] & (1U << (b & 7))) == 0)
			continue;
		j = (int)(len - 1 - i);
		if ((sc->last[b >> 3] & (1U << (b & 7))) == 0) {
			sc->last[b >> 3] |= (uint8_t)(1U << (b & 7));
			sc->at[b][0] = sc->at[b][1] = 0;
		}
		sc->at[b][j >> 6] |= (uint64_t)1 << (j & 63);
	}
	sc->last_ok = true;
}

static bool
no_first(const struct match_set *ms, const struct match_pat *p,
    struct match_scan *sc, size_t from, size_t to)
{
	const uint8_t *subj = sc->subj, *at;
	size_t i, len = sc->len, n = len - from;
	uint64_t m[2] = { 0, 0 }, bit;
	int k, w;
	uint8_t b;

	if (!p->has_first)
		return false;
	if (sc->many && p->nfirst > 0 && n <= ms->gather) {
		if (!sc->last_ok)
			gather_last(ms, sc);
		for (k = 0; k < p->nfirst; k++) {
			b = p->firsts[k];
			if ((sc->last[b >> 3] & (1U << (b & 7))) != 0) {
				m[0] |= sc->at[b][0];
				m[1] |= sc->at[b][1];
			}
		}
		/* Only positions from "from" on: j < n. */
		if (n < 64) {
			m[0] &= ((uint64_t)1 << n) - 1;
			m[1] = 0;
		} else if (n < 128) {
			m[1] &= ((uint64_t)1 << (n - 64)) - 1;
		}
		/* And before "to": j >= len - to. */
		if (len - to >= 64) {
			m[0] = 0;
			m[1] &= len - to >= 128 ? 0 :
			    ~(((uint64_t)1 << (len - to - 64)) - 1);
		} else {
			m[0] &= ~(((uint64_t)1 << (len - to)) - 1);
		}
		for (w = 0; w < 2; w++)
			for (; m[w] != 0; m[w] &= m[w] - 1) {
				bit = (uint64_t)__builtin_ctzll(m[w]);
				i = len - 1 - (size_t)(w * 64) - (size_t)bit;
				if (lit_may_start(p, subj + i, len - i))
					return false;
			}
		return true;
	}
	if (p->nfirst > 0) {
		/* Few first bytes over many: memchr() finds them faster. */
		for (k = 0; k < p->nfirst; k++)
			for (i = from; i < to; i = (size_t)(at - subj) + 1) {
				at = memchr(subj + i, p->firsts[k], to - i);
				if (at == NULL)
					break;
				if (lit_may_start(p, at, len - (size_t)(at -
				    subj)))
					return false;
			}
		return true;
	}
	for (i = from; i < to; i++)
		if ((p->first[subj[i] >> 3] & (1U << (subj[i] & 7))) != 0 &&
		    lit_may_start(p, subj + i, len - i))
			return false;
	return true;
}

/*
 * Where the partial search of gated pattern p may start (see the top of
 * this file), from, or SIZE_MAX when there is none: within hbound of the
 * end, or at the start of the first head match ending in this feed. When
 * the scan starts before the feed (bytes were retained for a partial
 * match), anywhere from its start.
 */
static size_t
gate_partial(const struct match_set *ms, int i, const struct match_scan *sc,
    size_t from)
{
	const struct match_pat *p = &ms->pats[i];
	size_t lim;
	uint64_t end;

	if (sc->start < sc->feed)
		return from;
	lim = sc->len > p->hbound ? sc->len - p->hbound : 0;
	if (ms->hseen[i] == ms->gen) {
		end = sc->hs_origin + ms->hend[i];
		end = end > sc->base ? end - sc->base : 0;
		end = end > p->hbound ? end - p->hbound : 0;
		if (end < lim)
			lim = (size_t)end;
	}
	return lim > from ? lim : from;
}

/*
 * The earliest partial match of pattern i from where its complete search
 * ended, as the reference's last call would find it. With no complete match
 * there, a partial one is a proper prefix of a core match, so it starts
 * fewer than pbound bytes before the end, and the slow partial search need
 * not look further back; for a gated pattern, see gate_partial().
 */
/*
 * True when gated pattern p's group, searched from "from" on in this scan,
 * has no partial and no complete match: then no member has one from there
 * (a member's partial match is one of the alternation, from the same
 * start). Anything else, an error too, says nothing.
 */
static bool
group_known_none(const struct match_set *ms, const struct match_pat *p,
    size_t from)
{
	const struct match_group *gr = &ms->groups[p->group];

	return gr->vgen == ms->vgen && gr->none && from >= gr->from;
}

static bool
group_none(struct match_set *ms, const struct match_pat *p,
    const struct match_scan *sc, size_t from)
{
	struct match_group *gr = &ms->groups[p->group];
	int rc;

	if (gr->vgen == ms->vgen && (from >= gr->from || !gr->none))
		return gr->none && from >= gr->from;
	rc = pcre2_match(gr->code, sc->subj, sc->len, from,
	    sc->opts | PCRE2_PARTIAL_SOFT, ms->mdata, ms->mctx);
	gr->vgen = ms->vgen;
	gr->from = from;
	gr->none = rc == PCRE2_ERROR_NOMATCH;
	return gr->none;
}

static void
scan_partial(struct match_set *ms, int i, struct match_scan *sc)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ms->mdata);
	struct match_pat *p = &ms->pats[i];
	size_t from = p->pstart, to;
	int rc;

	if (from > sc->len)
		return;
	if (sc->gate && p->gated)
		from = gate_partial(ms, i, sc, from);
	if (sc->len - from > p->pbound)
		from = sc->len - p->pbound;
	if (from > sc->len)
		return;
	/* A group member after the first: its answer is known. */
	if (sc->grouped && p->group >= 0 && group_known_none(ms, p, from))
		return;
	/*
	 * A partial match starting at or after the earliest one found so far
	 * changes nothing: only starts before it are looked for.
	 */
	to = sc->len;
	if (sc->partial && sc->ps < to) {
		to = sc->ps;
		if (from >= to)
			return;
	}
	if (no_first(ms, p, sc, from, to))
		return;
	if (sc->grouped && p->group >= 0 && group_none(ms, p, sc, from))
		return;
	rc = pat_match(ms, p, sc->subj, sc->len, from,
	    sc->opts | PCRE2_PARTIAL_SOFT);
	/*
	 * There is no complete match from here: one is the JIT's soft partial
	 * bug (see scan_reference()), and the interpreter answers instead.
	 */
	if (rc >= 0 && !p->nojit)
		rc = pat_match(ms, p, sc->subj, sc->len, from,
		    sc->opts | PCRE2_PARTIAL_SOFT | PCRE2_NO_JIT);
	if (rc == PCRE2_ERROR_PARTIAL && (!sc->partial || ov[0] < sc->ps)) {
		sc->partial = true;
		sc->ps = ov[0];
	}
}

/*
 * Runs the patterns of list l over the subject: first every complete
 * search, and only when none matched (a match ends the direction's
 * matching) the partial ones. Without the list (it could not be
 * allocated), every pattern is looked at.
 */
static void
scan_all(struct match_set *ms, struct match_scan *sc, enum list l)
{
	const int *idx = ms->lists[l];
	int n = idx != NULL ? ms->nlist[l] : ms->count, k, i;
	bool ref = ms->engine == MATCH_ENGINE_PCRE2_PARTIAL;

	for (k = 0; k < n; k++) {
		i = idx != NULL ? idx[k] : k;
		if (idx == NULL && !list_has(l, &ms->pats[i]))
			continue;
		if (ref)
			scan_reference(ms, i, sc);
		else if (sc->gate && ms->pats[i].gated &&
		    ms->gseen[i] != ms->gen)
			ms->pats[i].pstart = sc->start;	/* no complete match */
		else
			scan_complete(ms, i, sc);
	}
	if (ref || sc->pattern >= 0 || !sc->want_partial)
		return;
	sc->many = n > MATCH_PCRE2_FEW;
	sc->last_ok = false;
	for (k = 0; k < n; k++) {
		i = idx != NULL ? idx[k] : k;
		if (idx != NULL || list_has(l, &ms->pats[i]))
			scan_partial(ms, i, sc);
	}
}

/* scan_partial() of gated pattern i, once per scan (see scan_hybrid()). */
static void
gated_partial(struct match_set *ms, int i, struct match_scan *sc)
{
	if (ms->visit[i] == ms->vgen)
		return;
	ms->visit[i] = ms->vgen;
	if (ms->gseen[i] != ms->gen)
		ms->pats[i].pstart = sc->start;	/* no complete match */
	sc->grouped = true;
	scan_partial(ms, i, sc);
	sc->grouped = false;
}

struct gated_visitor {
	struct match_set *ms;
	struct match_scan *sc;
};

/* A gated pattern whose literal the trie found near the end. */
static void
gated_visit(void *ctx, int i)
{
	struct gated_visitor *v = ctx;

	gated_partial(v->ms, i, v->sc);
}

/*
 * scan_all() for the PCRE2 patterns of a direction Vectorscan scanned,
 * visiting only the gated patterns that can match here, as an IOC list has
 * hundreds: for complete matches those whose core Vectorscan reported in
 * this feed; for partial ones these, those whose head it reported, and,
 * unless bytes before the feed were retained (then all), those with a
 * first byte among the last ms->gather bytes, where gate_partial() and
 * no_first() would look. The others scan_partial() would find nothing of,
 * so the result is scan_all()'s.
 */
static void
scan_hybrid(struct match_set *ms, struct match_scan *sc, int dir)
{
	enum list plain = dir == 0 ? LIST_PLAIN_CLIENT : LIST_PLAIN_SERVER;
	enum list gated = dir == 0 ? LIST_GATED_CLIENT : LIST_GATED_SERVER;
	const int *idx = ms->lists[plain], *g;
	struct gated_visitor v;
	size_t from;
	int k, b, e, w, q, c;
	uint64_t bits;

	if (idx == NULL || ms->lists[gated] == NULL || ms->visit == NULL ||
	    ms->galways[dir] == NULL) {
		scan_all(ms, sc, dir == 0 ? LIST_SLOW_CLIENT :
		    LIST_SLOW_SERVER);
		return;
	}
	for (k = 0; k < ms->nlist[plain]; k++)
		scan_complete(ms, idx[k], sc);
	for (k = 0; k < ms->ngrep; k++)
		scan_complete(ms, ms->grep[k], sc);
	if (sc->pattern >= 0 || !sc->want_partial)
		return;
	sc->many = true;
	sc->last_ok = false;
	for (k = 0; k < ms->nlist[plain]; k++)
		scan_partial(ms, idx[k], sc);
	if (++ms->vgen == 0) {
		memset(ms->visit, 0, (size_t)ms->count * sizeof(*ms->visit));
		for (k = 0; k < ms->ngroups; k++)
			ms->groups[k].vgen = 0;
		ms->vgen = 1;
	}
	for (k = 0; k < ms->ngrep; k++)
		gated_partial(ms, ms->grep[k], sc);
	for (k = 0; k < ms->nhrep; k++)
		gated_partial(ms, ms->hrep[k], sc);
	/*
	 * Where gate_partial() lets the search of a pattern of the trie start
	 * (one Vectorscan did not report): from the scan's start when bytes
	 * were retained, else within the bytes gathered.
	 */
	from = sc->start;
	if (sc->start < sc->feed) {
		g = ms->lists[gated];
		for (k = 0; k < ms->nlist[gated]; k++)
			if (!ms->gtrie_ok[dir] ||
			    !gate_by_lits(ms, &ms->pats[g[k]]))
				gated_partial(ms, g[k], sc);
	} else {
		for (k = 0; k < ms->ngalways[dir]; k++)
			gated_partial(ms, ms->galways[dir][k], sc);
		if (sc->len > ms->gather && sc->len - ms->gather > from)
			from = sc->len - ms->gather;
	}
	v.ms = ms;
	v.sc = sc;
	for (c = 0; c < 2; c++)
		if (ms->gtrie[dir][c] != NULL)
			littrie_tail(ms->gtrie[dir][c], sc->subj, sc->len,
			    from, gated_visit, &v);
	if (sc->start < sc->feed || ms->gfirst_off[dir][256] == 0)
		return;
	gather_last(ms, sc);
	for (w = 0; w < 4; w++) {
		/* Byte 8q + j is bit j of last[8w + q]: bit 8q + j here. */
		for (bits = 0, q = 0; q < 8; q++)
			bits |= (uint64_t)sc->last[w * 8 + q] << (8 * q);
		for (; bits != 0; bits &= bits - 1) {
			b = w * 64 + __builtin_ctzll(bits);
			e = ms->gfirst_off[dir][b + 1];
			for (k = ms->gfirst_off[dir][b]; k < e; k++)
				gated_partial(ms, ms->gfirst[dir][k], sc);
		}
	}
}

static void
fill_hit(struct match_hit *hit, const struct match_scan *sc, int dir)
{
	hit->pattern = sc->pattern;
	hit->dir = dir;
	hit->offset = sc->base + sc->ms;
	hit->len = (uint32_t)(sc->me - sc->ms);
	hit->excerpt_len = hit->len < MATCH_EXCERPT_MAX ? hit->len :
	    MATCH_EXCERPT_MAX;
	memcpy(hit->excerpt, sc->subj + sc->ms, hit->excerpt_len);
}

/* The better of two scans' matches (earliest, then lower index), or NULL. */
static const struct match_scan *
scan_best(const struct match_scan *a, const struct match_scan *b)
{
	uint64_t sa, sb;

	if (a->pattern < 0)
		return b->pattern < 0 ? NULL : b;
	if (b->pattern < 0)
		return a;
	sa = a->base + a->ms;
	sb = b->base + b->ms;
	return sa < sb || (sa == sb && a->pattern < b->pattern) ? a : b;
}

/* ---- directions ---- */

/* Forgets the retained bytes: the next scan starts at the stream's end. */
static void
dir_drop(struct match_dir *md)
{
	free(md->buf);
	md->buf = NULL;
	md->len = md->cap = 0;
	md->base = md->scan_from = md->fed;
}

/* Closes the direction's Vectorscan stream and frees its tail. */
static void
dir_close_stream(struct match_dir *md)
{
	struct match_set *ms = md->owner;

	pend_free(md);
	if (md->hs != NULL && ms != NULL)
		(void)ms->api.close(md->hs, NULL, NULL, NULL);
	free(md->tail);
	if (ms != NULL && (md->hs != NULL || md->tail != NULL)) {
		ms->streams_live--;
		ms->bytes_live -= ms->stream_size + md->tail_cap;
	}
	md->hs = NULL;
	md->tail = NULL;
	md->tail_len = md->tail_cap = 0;
	md->owner = NULL;
}

/*
 * Decides at a direction's first data how it is matched: with a Vectorscan
 * stream and a tail when the set has patterns for it there and the streams
 * stay within MATCH_STREAMS_MEM_MAX, else by PCRE2 alone.
 */
static void
dir_choose(struct match_set *ms, struct match_dir *md, int dir)
{
	size_t need = ms->stream_size + ms->tail_need[dir];

	md->path = PATH_PCRE2;
	if (ms->db == NULL || (!ms->has_fast[dir] && !ms->has_gated[dir]) ||
	    ms->streams_off)
		return;
	if (ms->bytes_live + need > ms->streams_cap ||
	    (md->tail = malloc(ms->tail_need[dir] > 0 ? ms->tail_need[dir] :
	    1)) == NULL) {
		ms->streams_refused++;
		return;
	}
	if (ms->api.open(ms->db, 0, &md->hs) != HS_SUCCESS) {
		free(md->tail);
		md->tail = NULL;
		md->hs = NULL;
		ms->streams_refused++;
		return;
	}
	md->owner = ms;
	md->tail_cap = ms->tail_need[dir];
	md->tail_len = 0;
	md->hs_origin = md->fed;
	md->path = PATH_HYBRID;
	ms->streams_opened++;
	ms->streams_live++;
	ms->bytes_live += need;
	if (ms->streams_live > ms->streams_peak)
		ms->streams_peak = ms->streams_live;
	if (ms->bytes_live > ms->bytes_peak)
		ms->bytes_peak = ms->bytes_live;
}

/*
 * Makes room for need bytes, growing geometrically but not past limit
 * (the window, context and chunk the caller can need at most).
 */
static int
dir_reserve(struct match_dir *md, uint64_t need, uint64_t limit)
{
	uint64_t ncap;
	uint8_t *nb;

	if (need <= md->cap)
		return 0;
	if (need > UINT32_MAX)
		return -1;
	ncap = md->cap == 0 ? MATCH_BUF_MIN : (uint64_t)md->cap * 2;
	if (ncap > limit)
		ncap = limit;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	if (ncap < need)
		ncap = need;
	if ((nb = realloc(md->buf, (size_t)ncap)) == NULL)
		return -1;
	md->buf = nb;
	md->cap = (uint32_t)ncap;
	return 0;
}

/* Counts an overflow once per run of feeds that each cut a match. */
static void
note_overflow(struct match_set *ms, struct match_dir *md, bool overflow)
{
	if (overflow && !md->overflow && ms->st != NULL)
		ms->st->window_overflows++;
	md->overflow = overflow;
}

static void
depth_done(struct match_set *ms, struct match_dir *md)
{
	md->done = true;
	if (ms->st != NULL)
		ms->st->depth_reached++;
	dir_drop(md);
	dir_close_stream(md);
}

/*
 * Keeps what the next feed needs: the bytes from the earliest partial match
 * on (at most the window; older bytes are dropped and the cut counted), and
 * before them the ctx bytes lookbehinds may inspect. Nothing retained means
 * no buffer, so the next feed matches the caller's bytes in place.
 */
static void
dir_retain(struct match_set *ms, struct match_dir *md, uint32_t ctx_max,
    const struct match_scan *sc)
{
	uint64_t end = sc->base + sc->len, scan, from, ctx;
	bool overflow = sc->overflow;
	uint32_t keep;
	size_t ncap;
	uint8_t *nb;

	scan = sc->partial ? sc->base + sc->ps : end;
	if (end - scan > ms->window) {
		scan = end - ms->window;
		overflow = true;
	}
	ctx = ctx_max;
	if (ctx > scan - sc->base)
		ctx = scan - sc->base;
	from = scan - ctx;
	keep = (uint32_t)(end - from);
	if (keep == 0) {
		dir_drop(md);
	} else if (sc->subj == md->buf) {
		memmove(md->buf, md->buf + (from - sc->base), keep);
		md->len = keep;
		if (md->cap > MATCH_BUF_SHRINK && keep < md->cap / 4) {
			ncap = (size_t)keep * 2;
			if ((nb = realloc(md->buf, ncap)) != NULL) {
				md->buf = nb;
				md->cap = (uint32_t)ncap;
			}
		}
	} else if (dir_reserve(md, keep, keep) == 0) {
		memcpy(md->buf, sc->subj + (from - sc->base), keep);
		md->len = keep;
	} else {
		/* Out of memory: the match in progress is lost like a cut. */
		dir_drop(md);
		overflow = true;
		keep = 0;
	}
	if (keep > 0) {
		md->base = from;
		md->scan_from = scan;
	}
	note_overflow(ms, md, overflow);
}

/*
 * Sets sc up for the PCRE2 patterns: the stream so far is one subject, the
 * retained bytes and the n new ones contiguous in md->buf, or with nothing
 * retained, the new bytes in place. ^ matches only at stream offset 0
 * (PCRE2_NOTBOL otherwise); $ matches at the end of the data so far.
 * Advances md->fed; returns true when retained bytes were lost to a failed
 * allocation.
 */
static bool
subject_retained(struct match_set *ms, struct match_dir *md, uint32_t ctx,
    const uint8_t *data, uint32_t n, struct match_scan *sc)
{
	uint64_t limit;
	bool lost = false;

	if (md->len > 0) {
		limit = (uint64_t)ctx + ms->window + n;
		if (dir_reserve(md, (uint64_t)md->len + n, limit) == 0) {
			memcpy(md->buf + md->len, data, n);
			md->len += n;
		} else {
			dir_drop(md);
			lost = true;
		}
	}
	if (md->len > 0) {
		sc->subj = md->buf;
		sc->len = md->len;
		sc->base = md->base;
		sc->start = (size_t)(md->scan_from - md->base);
	} else {
		sc->subj = data;
		sc->len = n;
		sc->base = md->fed;
		sc->start = 0;
	}
	sc->opts = 0;
	if (sc->base != 0 || md->after_gap || lost)
		sc->opts |= PCRE2_NOTBOL;
	sc->window = ms->window;
	sc->want_partial = true;
	scan_init(sc);
	md->fed += n;
	return lost;
}

/* Every pattern of the direction by PCRE2, as before Vectorscan. */
static bool
feed_pcre2(struct match_set *ms, struct match_dir *md, int dir,
    const uint8_t *data, uint32_t n, bool reach, struct match_hit *hit)
{
	struct match_scan sc;
	bool lost;

	lost = subject_retained(ms, md, ms->context[dir], data, n, &sc);
	scan_all(ms, &sc, dir == 0 ? LIST_ALL_CLIENT : LIST_ALL_SERVER);
	sc.overflow = sc.overflow || lost;
	if (sc.pattern >= 0) {
		note_overflow(ms, md, sc.overflow);
		fill_hit(hit, &sc, dir);
		return true;
	}
	dir_retain(ms, md, ms->context[dir], &sc);
	if (reach)
		depth_done(ms, md);
	return false;
}

/* Starts collecting the patterns a Vectorscan scan reports. */
static void
report_begin(struct match_set *ms)
{
	ms->nrep = ms->ngrep = ms->nhrep = 0;
	if (++ms->gen == 0) {
		memset(ms->seen, 0, (size_t)ms->rep_cap * sizeof(*ms->seen));
		memset(ms->gseen, 0, (size_t)ms->rep_cap * sizeof(*ms->gseen));
		memset(ms->hseen, 0, (size_t)ms->rep_cap * sizeof(*ms->hseen));
		ms->gen = 1;
	}
}

/*
 * Notes that the head of leader l ends at "to" in this feed, for its twin
 * of the stream's direction when that is gated: the first end counts.
 */
static void
head_seen(struct match_set *ms, const struct hs_ctx *c, int l,
    unsigned long long to)
{
	const struct match_pat *p;
	int i;

	if ((i = ms->pats[l].dir_pat[c->mask == MATCH_CLIENT ? 0 : 1]) < 0)
		return;
	p = &ms->pats[i];
	if ((p->anchored && c->after_gap) || !p->gated)
		return;
	if (ms->hseen[i] != ms->gen) {
		ms->hrep[ms->nhrep++] = i;
		ms->hend[i] = to;
	} else if (to < ms->hend[i]) {
		ms->hend[i] = to;
	}
	ms->hseen[i] = ms->gen;
}

/* Reports pattern i for confirm(), once per feed. */
static void
report_pat(struct match_set *ms, int i)
{
	if (ms->seen[i] == ms->gen || ms->nrep >= ms->rep_cap)
		return;
	ms->seen[i] = ms->gen;
	ms->rep[ms->nrep++] = i;
}

/*
 * Vectorscan's match callback: notes each pattern once. Matches of patterns
 * that PCRE2 runs for this stream, of the other direction, or anchored
 * after a gap (Vectorscan's new stream starts there, flowgrep's does not)
 * are of no interest. Never stops the scan: a later match may start
 * earlier.
 */
static int
on_match(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	const struct hs_ctx *c = ctx;
	struct match_set *ms = c->ms;
	const struct match_pat *p;
	unsigned i = id;
	int k;

	(void)from;
	(void)flags;
	if (i >= (unsigned)ms->rep_cap) {
		i -= (unsigned)ms->rep_cap;
		if (c->md == NULL || i >= (unsigned)ms->rep_cap)
			return 0;
		/* Each leader sharing the head (heads_share()). */
		for (k = (int)i; k >= 0; k = ms->pats[k].head_next)
			head_seen(ms, c, k, to);
		return 0;
	}
	p = &ms->pats[i];
	if (c->md != NULL) {
		/* The twin of the stream's direction. */
		if ((k = p->dir_pat[c->mask == MATCH_CLIENT ? 0 : 1]) < 0)
			return 0;
		i = (unsigned)k;
		p = &ms->pats[i];
		if (p->anchored && c->after_gap)
			return 0;
		if (p->gated) {
			if (ms->gseen[i] != ms->gen)
				ms->grep[ms->ngrep++] = (int)i;
			ms->gseen[i] = ms->gen;
			return 0;
		}
		if (!p->fast)
			return 0;
		/*
		 * A prefiltered pattern's literal: a match holding it ends
		 * within the pattern's width from here, in this feed or a
		 * later one, where feed_hybrid() has it confirmed.
		 */
		if (p->pre)
			pend_note(ms, c->md, (int)i,
			    c->md->hs_origin + to + p->width);
	}
	if (p->fast_dgram)
		report_pat(ms, (int)i);
	return 0;
}

static size_t
pend_size(uint32_t cap)
{
	return sizeof(struct match_pend) +
	    (size_t)cap * sizeof(struct pend_entry);
}

/*
 * Notes that a match of prefiltered pattern i may end in md's stream
 * before until. Its memory counts in the streams'; when the list cannot
 * grow (their cap, or out of memory), every prefiltered pattern is run
 * until then (exact, slower). Without memory for a list at all, the match
 * is lost and counted as an error.
 */
static void
pend_note(struct match_set *ms, struct match_dir *md, int i, uint64_t until)
{
	struct match_set *own = md->owner != NULL ? md->owner : ms;
	struct match_pend *p = md->pend, *np;
	uint32_t k, cap;

	if (p == NULL) {
		if ((p = calloc(1, pend_size(0))) == NULL) {
			ms->errors++;	/* the match is lost, and counted */
			return;
		}
		md->pend = p;
		own->bytes_live += pend_size(0);
		if (own->bytes_live > own->bytes_peak)
			own->bytes_peak = own->bytes_live;
	}
	for (k = 0; k < p->n; k++)
		if (p->e[k].pat == i) {
			if (until > p->e[k].until)
				p->e[k].until = until;
			return;
		}
	if (p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : PEND_FIRST;
		if (own->bytes_live + pend_size(cap) - pend_size(p->cap) >
		    own->streams_cap ||
		    (np = realloc(p, pend_size(cap))) == NULL) {
			if (until > p->all_until)
				p->all_until = until;
			return;
		}
		own->bytes_live += pend_size(cap) - pend_size(np->cap);
		if (own->bytes_live > own->bytes_peak)
			own->bytes_peak = own->bytes_live;
		md->pend = p = np;
		p->cap = cap;
	}
	p->e[p->n].pat = i;
	p->e[p->n++].until = until;
}

/* Frees md's pending patterns. */
static void
pend_free(struct match_dir *md)
{
	if (md->pend == NULL)
		return;
	if (md->owner != NULL)
		md->owner->bytes_live -= pend_size(md->pend->cap);
	free(md->pend);
	md->pend = NULL;
}

/*
 * Reports, for confirm(), the prefiltered patterns of md whose match may
 * end in the feed starting at stream offset fed0: those whose literal was
 * found less than their width before (pend_note()), or after an overflow
 * every prefiltered pattern of direction dir.
 */
static void
pre_report(struct match_set *ms, struct match_dir *md, int dir,
    uint64_t fed0)
{
	enum list l = dir == 0 ? LIST_PRE_CLIENT : LIST_PRE_SERVER;
	const struct match_pend *p = md->pend;
	const int *idx = ms->lists[l];
	int k, i, n = idx != NULL ? ms->nlist[l] : ms->count;
	uint32_t e;

	if (p->all_until > fed0)
		for (k = 0; k < n; k++) {
			i = idx != NULL ? idx[k] : k;
			if (idx != NULL || list_has(l, &ms->pats[i]))
				report_pat(ms, i);
		}
	for (e = 0; e < p->n; e++)
		if (p->e[e].until > fed0)
			report_pat(ms, p->e[e].pat);
}

/* Drops the pending patterns whose match would have ended by fed. */
static void
pend_expire(struct match_dir *md, uint64_t fed)
{
	struct match_pend *p = md->pend;
	uint32_t e, k = 0;

	for (e = 0; e < p->n; e++)
		if (p->e[e].until > fed)
			p->e[k++] = p->e[e];
	p->n = k;
	if (k == 0 && p->all_until <= fed)
		pend_free(md);
}

/*
 * Runs the reported patterns by PCRE2 over the tail and the n new bytes
 * (fed0 is the stream offset of data[0]): a pattern reported has a core
 * match ending in these bytes, and every match of it that ends here starts
 * within its tail before them. The same scan as the PCRE2 path's, but
 * complete matches only: the tail replaces partial matching. When the
 * buffer cannot grow, the tail is left out and a match starting in it is
 * lost like a cut.
 */
static void
confirm(struct match_set *ms, struct match_dir *md, int dir,
    const uint8_t *data, uint32_t n, uint64_t fed0, struct match_scan *fc)
{
	size_t need = (size_t)md->tail_len + n, ncap;
	uint32_t tail = md->tail_len;
	uint8_t *nb;
	int k;

	scan_init(fc);
	if (tail > 0 && need > ms->cbuf_cap) {
		ncap = need < 2 * ms->cbuf_cap ? 2 * ms->cbuf_cap : need;
		if ((nb = realloc(ms->cbuf, ncap)) != NULL) {
			ms->cbuf = nb;
			ms->cbuf_cap = ncap;
		} else {
			tail = 0;
			fc->overflow = true;
		}
	}
	if (tail > 0) {
		memcpy(ms->cbuf, md->tail + (md->tail_len - tail), tail);
		memcpy(ms->cbuf + tail, data, n);
		fc->subj = ms->cbuf;
	} else {
		fc->subj = data;
	}
	fc->len = (size_t)tail + n;
	fc->base = fed0 - tail;
	/*
	 * A full tail holds context before the earliest start; a shorter one
	 * is the whole stream since its start or the last gap.
	 */
	fc->start = tail > ms->core_need[dir] ? tail - ms->core_need[dir] : 0;
	fc->opts = fc->base != 0 || md->after_gap ? PCRE2_NOTBOL : 0;
	fc->window = ms->window;
	fc->want_partial = false;
	for (k = 0; k < ms->nrep; k++)
		scan_complete(ms, ms->rep[k], fc);
}

/* Gives a large confirmation buffer back once the hit has been copied. */
static void
confirm_done(struct match_set *ms)
{
	if (ms->cbuf_cap > MATCH_BUF_SHRINK) {
		free(ms->cbuf);
		ms->cbuf = NULL;
		ms->cbuf_cap = 0;
	}
}

/* Keeps the stream's last tail_cap bytes, the new n ones included. */
static void
tail_keep(struct match_dir *md, const uint8_t *data, uint32_t n)
{
	uint32_t t = md->tail_cap, keep;

	if (n >= t) {
		memcpy(md->tail, data + (n - t), t);
		md->tail_len = t;
		return;
	}
	keep = md->tail_len < t - n ? md->tail_len : t - n;
	memmove(md->tail, md->tail + (md->tail_len - keep), keep);
	memcpy(md->tail + keep, data, n);
	md->tail_len = keep + n;
}

/*
 * Vectorscan for the fast patterns, PCRE2 for the others: the earliest
 * match of either wins, the lower index on a tie, as if PCRE2 ran all.
 */
static bool
feed_hybrid(struct match_set *ms, struct match_dir *md, int dir,
    const uint8_t *data, uint32_t n, bool reach, struct match_hit *hit)
{
	struct hs_ctx c = { ms, dir_mask(dir), md->after_gap, md };
	struct match_scan sc, fc;
	const struct match_scan *best;
	uint64_t fed0 = md->fed;
	bool lost = false, overflow;

	scan_init(&fc);
	report_begin(ms);
	/* A failed scan (internal error) reports what it found so far. */
	(void)ms->api.scan(md->hs, (const char *)data, n, 0, ms->scratch,
	    on_match, &c);
	if (md->pend != NULL)
		pre_report(ms, md, dir, fed0);
	if (ms->nrep > 0)
		confirm(ms, md, dir, data, n, fed0, &fc);
	if (ms->has_slow[dir]) {
		lost = subject_retained(ms, md, ms->context_slow[dir], data, n,
		    &sc);
		sc.gate = ms->has_gated[dir];
		sc.feed = sc.len - n;
		sc.hs_origin = md->hs_origin;
		if (sc.gate)
			scan_hybrid(ms, &sc, dir);
		else
			scan_all(ms, &sc, dir == 0 ? LIST_SLOW_CLIENT :
			    LIST_SLOW_SERVER);
	} else {
		scan_init(&sc);
		md->fed += n;
	}
	overflow = sc.overflow || fc.overflow || lost;
	if ((best = scan_best(&sc, &fc)) != NULL) {
		note_overflow(ms, md, overflow);
		fill_hit(hit, best, dir);
		confirm_done(ms);
		return true;
	}
	confirm_done(ms);
	tail_keep(md, data, n);
	if (md->pend != NULL)
		pend_expire(md, fed0 + n);
	if (ms->has_slow[dir]) {
		sc.overflow = overflow;
		dir_retain(ms, md, ms->context_slow[dir], &sc);
	} else {
		md->base = md->scan_from = md->fed;
		note_overflow(ms, md, overflow);
	}
	if (reach)
		depth_done(ms, md);
	return false;
}

bool
match_feed(struct match_set *ms, struct match_dir *md, int dir,
    const uint8_t *data, uint32_t len, struct match_hit *hit)
{
	uint32_t n = len;
	bool reach;

	if (md->done || dir < 0 || dir > 1)
		return false;
	if (ms->depth != 0) {
		if (md->fed >= ms->depth) {
			depth_done(ms, md);
			return false;
		}
		if (n > ms->depth - md->fed)
			n = (uint32_t)(ms->depth - md->fed);
	}
	if (n == 0 || data == NULL)
		return false;
	reach = ms->depth != 0 && md->fed + n >= ms->depth;
	if (!ms->has[dir]) {
		md->fed += n;
		md->base = md->scan_from = md->fed;
		if (reach)
			depth_done(ms, md);
		return false;
	}
	if (!ms->prepared)
		(void)match_set_prepare(ms);
	if (md->path == PATH_NONE)
		dir_choose(ms, md, dir);
	if (md->path == PATH_HYBRID)
		return feed_hybrid(ms, md, dir, data, n, reach, hit);
	return feed_pcre2(ms, md, dir, data, n, reach, hit);
}

/*
 * A gap ends every match in progress: the PCRE2 bytes go, the Vectorscan
 * stream starts afresh (its matches of anchored patterns are then ignored)
 * with an empty tail.
 */
void
match_gap(struct match_set *ms, struct match_dir *md, uint32_t len)
{
	if (md->done)
		return;
	md->fed += len;
	if (ms->depth != 0 && md->fed > ms->depth)
		md->fed = ms->depth;
	dir_drop(md);
	if (md->hs != NULL)
		(void)ms->api.reset(md->hs, 0, NULL, NULL, NULL);
	md->hs_origin = md->fed;
	pend_free(md);
	md->tail_len = 0;
	md->after_gap = true;
	md->overflow = false;
	if (ms->depth != 0 && md->fed >= ms->depth)
		depth_done(ms, md);
}

bool
match_dir_done(const struct match_set *ms, const struct match_dir *md)
{
	(void)ms;
	return md->done;
}

bool
match_flow_done(const struct match_set *ms, const struct match_dir md[2])
{
	int d, active = 0;

	for (d = 0; d < 2; d++)
		if (match_set_has_dir(ms, d)) {
			active++;
			if (!match_dir_done(ms, &md[d]))
				return false;
		}
	return active > 0;
}

void
match_dir_release(struct match_dir *md)
{
	free(md->buf);
	dir_close_stream(md);
	memset(md, 0, sizeof(*md));
}

/*
 * No partial matching and no window: the datagram is all there is. The
 * Vectorscan patterns are found through one stream of the set's, reset
 * after each datagram, and confirmed by PCRE2 over it; the others run on
 * PCRE2.
 */
bool
match_datagram(struct match_set *ms, int dir, const uint8_t *data,
    uint32_t len, struct match_hit *hit)
{
	struct hs_ctx c = { ms, MATCH_CLIENT | MATCH_SERVER, false, NULL };
	struct match_scan sc;
	int k;

	if (!ms->prepared)
		(void)match_set_prepare(ms);
	sc.subj = data != NULL ? data : (const uint8_t *)"";
	sc.len = data != NULL ? len : 0;
	sc.base = 0;
	sc.start = 0;
	sc.opts = 0;
	sc.window = 0;
	sc.want_partial = false;
	scan_init(&sc);
	if (ms->db != NULL) {
		report_begin(ms);
		if (sc.len > 0) {
			(void)ms->api.scan(ms->dg_stream,
			    (const char *)sc.subj, (unsigned)sc.len, 0,
			    ms->scratch, on_match, &c);
			(void)ms->api.reset(ms->dg_stream, 0, NULL, NULL,
			    NULL);
		}
		for (k = 0; k < ms->nrep; k++)
			scan_complete(ms, ms->rep[k], &sc);
	}
	scan_all(ms, &sc, ms->db != NULL ? LIST_SLOW : LIST_ALL);
	if (sc.pattern < 0)
		return false;
	fill_hit(hit, &sc, dir);
	return true;
}
