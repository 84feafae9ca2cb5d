/* match.c: PCRE2 pattern sets, matched across the calls that feed a stream. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

/*
 * Every feed runs every pattern of its direction, so the set is bounded; far
 * fewer patterns already make matching slow, the cap only keeps the index an
 * int and the arrays sane.
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
 */
#define MATCH_JIT_STACK_MIN (32 * 1024)
#define MATCH_JIT_STACK_MAX (1024 * 1024)

struct match_pat {
	pcre2_code *code;
	char *text;		/* NUL-terminated copy of the pattern */
	unsigned dirs;		/* MATCH_CLIENT | MATCH_SERVER */
	uint32_t context;	/* bytes before a match start it may inspect */
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
	pcre2_jit_stack *jit_stack;
	struct stats *st;
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
	int pattern;		/* pattern of the best match, or -1 */
	size_t ms, me;		/* its start and end in subj */
	bool partial;
	size_t ps;		/* start of the earliest partial match */
	bool overflow;		/* a match was refused for the window */
};

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

struct match_set *
match_set_new(void)
{
	struct match_set *ms;

	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return NULL;
	ms->empty = -1;
	ms->window = MATCH_WINDOW_DEFAULT;
	ms->mdata = pcre2_match_data_create(1, NULL);
	ms->mctx = pcre2_match_context_create(NULL);
	if (ms->mdata == NULL || ms->mctx == NULL) {
		match_set_free(ms);
		return NULL;
	}
	/* Without JIT support there is no stack to create, and none needed. */
	ms->jit_stack = pcre2_jit_stack_create(MATCH_JIT_STACK_MIN,
	    MATCH_JIT_STACK_MAX, NULL);
	if (ms->jit_stack != NULL)
		pcre2_jit_stack_assign(ms->mctx, NULL, ms->jit_stack);
	return ms;
}

void
match_set_free(struct match_set *ms)
{
	int i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->count; i++) {
		pcre2_code_free(ms->pats[i].code);
		free(ms->pats[i].text);
	}
	free(ms->pats);
	pcre2_match_data_free(ms->mdata);
	pcre2_match_context_free(ms->mctx);
	pcre2_jit_stack_free(ms->jit_stack);
	free(ms);
}

/*
 * Compiles the pattern (bytes, not UTF-8: PCRE2_NEVER_UTF also refuses
 * (*UTF)), with JIT code for complete and soft partial matching; when JIT is
 * unavailable pcre2_match() interprets. On failure the set is unchanged.
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
	int errcode, ncap;
	char dummy[MATCH_ERRBUF_SIZE];

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
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE |
	    PCRE2_JIT_PARTIAL_SOFT);

	if (ms->count == ms->cap) {
		ncap = ms->cap == 0 ? 8 : ms->cap * 2;
		if ((np = realloc(ms->pats, (size_t)ncap * sizeof(*np))) ==
		    NULL)
			goto nomem;
		ms->pats = np;
		ms->cap = ncap;
	}
	p = &ms->pats[ms->count];
	if ((p->text = malloc(len + 1)) == NULL)
		goto nomem;
	memcpy(p->text, pat, len);
	p->text[len] = '\0';
	p->code = code;
	p->dirs = dirs;
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
	/* A flow without payload is decided by this, so work it out now. */
	if (ms->empty < 0 && pcre2_match(code, (PCRE2_SPTR) "", 0, 0, 0,
	    ms->mdata, ms->mctx) >= 0)
		ms->empty = ms->count;
	ms->count++;
	return 0;

nomem:
	pcre2_code_free(code);
	set_error(errbuf, "bad pattern '%s' (%s): %s",
	    shown, origin, "out of memory");
	return -1;
}

/*
 * A window of 0 would forbid every match across calls and is taken as the
 * default; one above MATCH_WINDOW_MAX is cut to it.
 */
void
match_set_limits(struct match_set *ms, uint32_t window, uint64_t depth)
{
	if (window == 0)
		window = MATCH_WINDOW_DEFAULT;
	ms->window = window > MATCH_WINDOW_MAX ? MATCH_WINDOW_MAX : window;
	ms->depth = depth;
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

/*
 * Runs pattern i over the subject with the scan's options and keeps the
 * earliest complete match (ties go to the lower index, which runs first) or
 * else the earliest partial one. PCRE2_PARTIAL_SOFT prefers a complete match
 * anywhere to an earlier partial one, so a match found in the data so far is
 * reported at once. A complete match longer than the window is refused, as it
 * would have been cut had it arrived in smaller pieces; any partial match
 * before it is longer than the window too, so nothing is lost by resuming
 * after its start. Errors (match or JIT stack limits) count as no match.
 */
static void
scan_pattern(struct match_set *ms, int i, struct match_scan *sc)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ms->mdata);
	size_t start = sc->start, s, e, from;
	int rc, tries = 0;

	for (;;) {
		rc = pcre2_match(ms->pats[i].code, sc->subj, sc->len, start,
		    sc->opts, ms->mdata, ms->mctx);
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
			if (sc->pattern < 0 || s < sc->ms) {
				sc->pattern = i;
				sc->ms = s;
				sc->me = e;
			}
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

static void
scan_all(struct match_set *ms, struct match_scan *sc, unsigned mask)
{
	int i;

	sc->pattern = -1;
	sc->partial = false;
	sc->overflow = false;
	for (i = 0; i < ms->count; i++)
		if (ms->pats[i].dirs & mask)
			scan_pattern(ms, i, sc);
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

/* Forgets the retained bytes: the next scan starts at the stream's end. */
static void
dir_drop(struct match_dir *md)
{
	free(md->buf);
	md->buf = NULL;
	md->len = md->cap = 0;
	md->base = md->scan_from = md->fed;
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
}

/*
 * Keeps what the next feed needs: the bytes from the earliest partial match
 * on (at most the window; older bytes are dropped and the cut counted), and
 * before them the context lookbehinds may inspect. Nothing retained means
 * no buffer, so the next feed matches the caller's bytes in place.
 */
static void
dir_retain(struct match_set *ms, struct match_dir *md, int dir,
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
	ctx = ms->context[dir];
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
 * The stream so far is matched as one subject: retained bytes and the new
 * ones are contiguous in md->buf, or, with nothing retained, the new bytes
 * are the subject in place. ^ matches only at stream offset 0 (PCRE2_NOTBOL
 * otherwise); $ matches at the end of the data so far.
 */
bool
match_feed(struct match_set *ms, struct match_dir *md, int dir,
    const uint8_t *data, uint32_t len, struct match_hit *hit)
{
	struct match_scan sc;
	uint64_t limit;
	uint32_t n = len;
	bool reach, lost = false;

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

	if (md->len > 0) {
		limit = (uint64_t)ms->context[dir] + ms->window + n;
		if (dir_reserve(md, (uint64_t)md->len + n, limit) == 0) {
			memcpy(md->buf + md->len, data, n);
			md->len += n;
		} else {
			dir_drop(md);
			lost = true;
		}
	}
	if (md->len > 0) {
		sc.subj = md->buf;
		sc.len = md->len;
		sc.base = md->base;
		sc.start = (size_t)(md->scan_from - md->base);
	} else {
		sc.subj = data;
		sc.len = n;
		sc.base = md->fed;
		sc.start = 0;
	}
	sc.opts = PCRE2_PARTIAL_SOFT;
	if (sc.base != 0 || md->after_gap || lost)
		sc.opts |= PCRE2_NOTBOL;
	sc.window = ms->window;
	md->fed += n;

	scan_all(ms, &sc, dir_mask(dir));
	sc.overflow = sc.overflow || lost;
	if (sc.pattern >= 0) {
		note_overflow(ms, md, sc.overflow);
		fill_hit(hit, &sc, dir);
		return true;
	}
	dir_retain(ms, md, dir, &sc);
	if (reach)
		depth_done(ms, md);
	return false;
}

void
match_gap(struct match_set *ms, struct match_dir *md, uint32_t len)
{
	if (md->done)
		return;
	md->fed += len;
	if (ms->depth != 0 && md->fed > ms->depth)
		md->fed = ms->depth;
	dir_drop(md);
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

void
match_dir_release(struct match_dir *md)
{
	free(md->buf);
	memset(md, 0, sizeof(*md));
}

/* No partial matching and no window: the datagram is all there is. */
bool
match_datagram(struct match_set *ms, int dir, const uint8_t *data,
    uint32_t len, struct match_hit *hit)
{
	struct match_scan sc;

	sc.subj = data != NULL ? data : (const uint8_t *)"";
	sc.len = data != NULL ? len : 0;
	sc.base = 0;
	sc.start = 0;
	sc.opts = 0;
	sc.window = 0;
	scan_all(ms, &sc, MATCH_CLIENT | MATCH_SERVER);
	if (sc.pattern < 0)
		return false;
	fill_hit(hit, &sc, dir);
	return true;
}
