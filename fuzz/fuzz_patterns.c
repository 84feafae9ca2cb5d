/* fuzz_patterns.c: libFuzzer harness: a pattern file compiled and run over fixed streams. */

/*
 * The input is a pattern file as -f reads it (options.c's add_pattern_file:
 * one pattern per line, the newline and a CR before it stripped, empty
 * lines skipped), after one byte of options:
 *
 *   bit 0     -i
 *   bits 1-2  --window: default, 16, 64, 1
 *   bit 3     --depth 100
 *   bits 4-5  chunks: 1 byte, 7 bytes, 1..64 bytes (fixed sequence), whole
 *   bit 6     a 10-byte gap (match_gap) halfway through
 *   bit 7     the client and server streams swapped
 *
 * Line i applies to the client stream, the server stream or both (i mod 3),
 * as -f, -F and -a would. options_parse is not called: it exits on a bad
 * pattern, and what it does with a line is the loop below; the patterns go
 * straight to match_set_add, as flowgrep.c's compile_patterns does.
 *
 * The set is then run over two fixed streams with match_feed and match_gap,
 * and over datagrams with match_datagram, and each hit is checked: its
 * pattern applies to its direction, it lies within what was fed, before the
 * depth, within the window, not across the gap, and its excerpt is the
 * stream's bytes. Two oracles compare ways of matching that must agree:
 * one feed of a whole stream finds a match exactly when match_datagram does;
 * and, for patterns that do not look at the end of the data or around the
 * match (no $, \b, \z, lookaround, (? or (* constructs), a stream fed in
 * chunks finds a match exactly when it does fed whole.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define PATTERNS_MAX 16
#define GAP_LEN 10
#define DEPTH 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char stream_client[] =
    "EHLO evil.example\r\n"
    "GET /index.html HTTP/1.1\r\nHost: a\r\nX-Evil: 1\r\n"
    "Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
    "user=admin&password=secret-token&n=foo123bar\n"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"
    "BEGIN <<\0\1\2\3\x7f\x80\xfe\xff>> END\r\n"
    "abcabcabcabcabcabcabcabcabcabcabcxyzXYZ 0123456789 \t\v\f\r\n";
static const char stream_server[] =
    "220 mail.example ESMTP\r\n"
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 12\r\n\r\n"
    "user=admin\n\n\nabab\0cd\r\n"
    "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc0\xaf \xff\xfe\n"
    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n";

static const uint32_t windows[4] = { 0, 16, 64, 1 };

/* The fixed sequence of chunk sizes of mode 2. */
static const uint8_t sizes[] = { 3, 1, 17, 64, 2, 9, 1, 1, 33, 5, 12, 40 };

struct pat {
	const char *text;
	size_t len;
	unsigned dirs;
};

static void __attribute__((noreturn))
violation(const char *what, const struct pat *p, int np)
{
	int i;

	fprintf(stderr, "fuzz_patterns: property violated: %s\n", what);
	for (i = 0; i < np; i++)
		fprintf(stderr, "  pattern %d (dirs %u): %.*s\n", i, p[i].dirs,
		    (int)p[i].len, p[i].text);
	abort();
}

/* True when the pattern may match differently at the end of the data. */
static bool
end_sensitive(const struct pat *p)
{
	size_t i;

	for (i = 0; i < p->len; i++) {
		char c = p->text[i];

		if (c == '$')
			return true;
		if ((c == '(' && i + 1 < p->len && (p->text[i + 1] == '?' ||
		    p->text[i + 1] == '*')))
			return true;
		if (c == '\\' && i + 1 < p->len) {
			if (strchr("bBAzZGK", p->text[i + 1]) != NULL &&
			    p->text[i + 1] != '\0')
				return true;
			i++;
		}
	}
	return false;
}

struct run {
	const uint8_t *s;	/* the stream */
	size_t len;
	int dir;
	unsigned mode;		/* chunking */
	bool gap;		/* GAP_LEN bytes lost at len / 2 */
	uint32_t window;
	uint64_t depth;
};

/*
 * Feeds the stream as run says; returns whether a match was found, in hit.
 * Stream offsets count the gap's bytes; the stream resumes after them.
 */
static bool
feed(struct match_set *ms, const struct run *r, struct match_hit *hit,
    const struct pat *p, int np)
{
	struct match_dir md;
	size_t pos = 0, n, k = 0, half = r->len / 2;
	uint64_t off = 0, gap_at = UINT64_MAX, end;
	bool found = false;

	memset(&md, 0, sizeof(md));
	while (pos < r->len && !found) {
		switch (r->mode) {
		case 0:
			n = 1;
			break;
		case 1:
			n = 7;
			break;
		case 2:
			n = sizes[k++ % sizeof(sizes)];
			break;
		default:
			n = r->len;
			break;
		}
		if (r->gap && pos < half && pos + n >= half)
			n = half - pos;
		if (n > r->len - pos)
			n = r->len - pos;
		if (n > 0) {
			found = match_feed(ms, &md, r->dir, r->s + pos,
			    (uint32_t)n, hit);
			pos += n;
			off += n;
		}
		if (!found && r->gap && pos == half && gap_at == UINT64_MAX) {
			gap_at = off;
			match_gap(ms, &md, GAP_LEN);
			off += GAP_LEN;
		}
	}
	match_dir_release(&md);
	if (!found)
		return false;

	/* The hit must be a match of these bytes, as the caller sees them. */
	if (hit->dir != r->dir || hit->pattern < 0 || hit->pattern >= np ||
	    !(p[hit->pattern].dirs & (r->dir == 0 ? MATCH_CLIENT :
	    MATCH_SERVER)))
		violation("hit names the wrong pattern or direction", p, np);
	end = hit->offset + hit->len;
	if (end > off)
		violation("hit ends past the bytes fed", p, np);
	if (r->depth != 0 && end > r->depth)
		violation("hit ends past --depth", p, np);
	if (r->window != 0 && hit->len > r->window)
		violation("hit longer than --window", p, np);
	if (gap_at != UINT64_MAX && hit->offset < gap_at + GAP_LEN &&
	    end > gap_at)
		violation("hit spans a gap", p, np);
	if (hit->excerpt_len != (hit->len < MATCH_EXCERPT_MAX ? hit->len :
	    MATCH_EXCERPT_MAX))
		violation("excerpt length", p, np);
	{
		uint64_t s = hit->offset;

		if (gap_at != UINT64_MAX && s >= gap_at + GAP_LEN)
			s -= GAP_LEN;
		if (memcmp(hit->excerpt, r->s + s, hit->excerpt_len) != 0)
			violation("excerpt is not the stream's bytes", p, np);
	}
	return true;
}

/* The run of direction d under the options of cfg. */
static void
set_run(struct run *r, uint8_t cfg, int d)
{
	bool swap = (cfg & 0x80) != 0;

	memset(r, 0, sizeof(*r));
	r->dir = d;
	if (swap == (d == 0)) {
		r->s = (const uint8_t *)stream_server;
		r->len = sizeof(stream_server) - 1;
	} else {
		r->s = (const uint8_t *)stream_client;
		r->len = sizeof(stream_client) - 1;
	}
	r->window = windows[(cfg >> 1) & 3];
	if (r->window == 0)
		r->window = MATCH_WINDOW_DEFAULT;
	r->depth = (cfg & 8) ? DEPTH : 0;
	r->mode = (cfg >> 4) & 3;
	r->gap = (cfg & 0x40) != 0;
}

/* match_datagram over len bytes, its hit checked. */
static bool
datagram(struct match_set *ms, const uint8_t *d, size_t len,
    const struct pat *p, int np)
{
	struct match_hit hit;

	if (!match_datagram(ms, 1, d, (uint32_t)len, &hit))
		return false;
	if (hit.dir != 1 || hit.pattern < 0 || hit.pattern >= np ||
	    hit.offset + hit.len > len || hit.excerpt_len > hit.len ||
	    memcmp(hit.excerpt, d + hit.offset, hit.excerpt_len) != 0)
		violation("datagram hit", p, np);
	return true;
}

/*
 * Compiles the pattern file after the config byte into a new set, as -f
 * reads it; fills p (when not NULL) with the patterns that compiled. NULL
 * when out of memory.
 */
static struct match_set *
compile(const uint8_t *data, size_t size, struct pat *p, int *np, bool *safe)
{
	static const unsigned dirs[3] = { MATCH_CLIENT, MATCH_SERVER,
	    MATCH_CLIENT | MATCH_SERVER };
	const uint8_t *line, *nl, *end = data + size;
	char errbuf[MATCH_ERRBUF_SIZE], origin[32];
	struct match_set *ms;
	unsigned long lineno = 0;
	size_t len;
	int n = 0;

	if ((ms = match_set_new()) == NULL)
		return NULL;
	for (line = data + 1; line < end && n < PATTERNS_MAX; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		len = (size_t)(nl - line);
		lineno++;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		snprintf(origin, sizeof(origin), "-f fuzz:%lu", lineno);
		memset(errbuf, 0, sizeof(errbuf));
		if (match_set_add(ms, (const char *)line, len,
		    dirs[lineno % 3], (data[0] & 1) != 0, origin, errbuf) ==
		    -1) {
			if (memchr(errbuf, '\0', sizeof(errbuf)) == NULL ||
			    strncmp(errbuf, "bad pattern '", 13) != 0)
				violation("error message", p,
				    p != NULL ? n : 0);
			continue;
		}
		if (p != NULL) {
			p[n].text = (const char *)line;
			p[n].len = len;
			p[n].dirs = dirs[lineno % 3];
			if (end_sensitive(&p[n]))
				*safe = false;
		}
		n++;
	}
	*np = n;
	return ms;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct match_set *ms, *ref;
	struct match_hit hit, hit2;
	struct pat p[PATTERNS_MAX];
	struct run r;
	uint8_t cfg;
	size_t i;
	int np = 0, nref, d;
	bool safe = true, whole, chunked, any;

	if (size < 1)
		return 0;
	cfg = data[0];
	if ((ms = compile(data, size, p, &np, &safe)) == NULL)
		return 0;
	if (match_set_count(ms) != np)
		violation("pattern count", p, np);
	for (d = 0; d < np; d++) {
		const char *t = match_set_pattern(ms, d);

		if (t == NULL || memcmp(t, p[d].text, p[d].len) != 0 ||
		    t[p[d].len] != '\0')
			violation("pattern text", p, np);
	}
	if (np == 0) {
		match_set_free(ms);
		return 0;
	}
	if (match_empty(ms, &hit) && (hit.pattern < 0 || hit.pattern >= np))
		violation("match_empty names no pattern", p, np);
	/*
	 * Limits are set before the first feed and never changed (a set may
	 * compile its streaming database then): the oracles get a set of
	 * their own when the options change the limits.
	 */
	set_run(&r, cfg, 0);
	match_set_limits(ms, windows[(cfg >> 1) & 3], r.depth);
	ref = ms;
	if ((cfg & 0x0e) != 0 &&
	    (ref = compile(data, size, NULL, &nref, &safe)) == NULL) {
		match_set_free(ms);
		return 0;
	}

	for (d = 0; d < 2; d++) {
		set_run(&r, cfg, d);
		chunked = feed(ms, &r, &hit, p, np);

		/* The oracles, with the default limits and no gap. */
		r.window = MATCH_WINDOW_DEFAULT;
		r.depth = 0;
		r.gap = false;
		r.mode = 3;
		whole = feed(ref, &r, &hit2, p, np);
		if (safe && (cfg & 0x4e) == 0 && chunked != whole)
			violation(whole ? "matches fed whole, not in chunks" :
			    "matches in chunks, not fed whole", p, np);
		/* match_datagram tries the patterns of both directions. */
		r.dir = 1 - d;
		any = whole || feed(ref, &r, &hit2, p, np);
		if (any != datagram(ref, r.s, r.len, p, np))
			violation(any ? "a whole-stream feed matches, "
			    "match_datagram does not" : "match_datagram "
			    "matches, a whole-stream feed does not", p, np);
	}
	/* Datagrams: every 48-byte slice of the client stream, and nothing. */
	for (i = 0; i + 48 <= sizeof(stream_client) - 1; i += 48)
		(void)datagram(ms, (const uint8_t *)stream_client + i, 48, p,
		    np);
	(void)match_datagram(ms, 0, NULL, 0, &hit);
	if (ref != ms)
		match_set_free(ref);
	match_set_free(ms);
	return 0;
}
