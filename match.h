/* match.h: compiled pattern sets and per-direction streaming match state. */
#ifndef FLOWGREP_MATCH_H
#define FLOWGREP_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define MATCH_ERRBUF_SIZE 512
#define MATCH_CLIENT 0x1	/* the pattern applies to the client stream */
#define MATCH_SERVER 0x2	/* ... and/or to the server stream */
#define MATCH_EXCERPT_MAX 64
#define MATCH_WINDOW_DEFAULT (64U * 1024)

/* A match: which pattern, in which direction, where in the stream. */
struct match_hit {
	int pattern;		/* index in the order patterns were added */
	int dir;		/* 0 client stream, 1 server stream */
	uint64_t offset;	/* stream offset of the first matched byte */
	uint32_t len;		/* bytes matched */
	uint8_t excerpt[MATCH_EXCERPT_MAX];
	uint32_t excerpt_len;	/* first bytes of the match */
};

struct hs_stream;		/* Vectorscan's stream state (hs_stream_t) */
struct match_set;

/*
 * Streaming state of one direction of one flow: owned by the flow, passed in
 * here. Zero-initialised is the start of a stream. Holds only bytes a match
 * in progress may still need (at most the window), in a buffer allocated on
 * first need. When the set runs patterns on Vectorscan, the direction also
 * holds a Vectorscan stream and the last few bytes of the stream (the tail),
 * both allocated when it first gets data and freed by match_dir_release(),
 * which must come before match_set_free() of the set that fed it.
 */
struct match_pend;

struct match_dir {
	uint8_t *buf;		/* retained bytes: stream [base, base + len) */
	uint32_t len;
	uint32_t cap;
	uint64_t base;
	uint64_t scan_from;	/* stream offset the next scan starts at */
	uint64_t fed;		/* stream bytes seen (up to depth) */
	bool after_gap;		/* buffer start is not the stream start */
	bool done;		/* depth reached: nothing more is matched */
	bool overflow;		/* the last feed cut a match at the window */
	uint8_t path;		/* how it is matched (set at first data) */
	struct hs_stream *hs;	/* Vectorscan stream, or NULL */
	uint8_t *tail;		/* the stream's last tail_len bytes */
	uint32_t tail_len;
	uint32_t tail_cap;
	uint64_t hs_origin;	/* stream offset of hs's offset 0 */
	/*
	 * Patterns found by a literal they hold (match.c, "prefiltered")
	 * whose match may still end in a later feed, or NULL.
	 */
	struct match_pend *pend;
	struct match_set *owner; /* the set whose memory count holds hs, tail */
};

/*
 * Engines: Vectorscan for the patterns it runs exactly and PCRE2 for the
 * rest, when that pays (the default: more than a few patterns, or one that
 * PCRE2 cannot start fast), or always; PCRE2 alone; or PCRE2 alone with
 * partial matching over the whole subject, the reference the others must
 * agree with (for tests).
 */
enum match_engine {
	MATCH_ENGINE_AUTO,
	MATCH_ENGINE_VECTORSCAN,
	MATCH_ENGINE_PCRE2,
	MATCH_ENGINE_PCRE2_PARTIAL
};

/* What a set's Vectorscan streams cost; see match_set_memory(). */
struct match_mem {
	int fast;		/* patterns Vectorscan runs for streams */
	int fast_datagram;	/* ... and for datagrams */
	int gated;		/* ... PCRE2 runs where it finds them */
	int gated_grouped;	/* ... of which searched with others of their head */
	int prefiltered;	/* fast ones found by a literal of theirs */
	int expressions;	/* expressions in the database */
	int compiled;		/* patterns with PCRE2 code of their own: one
				   of the same text and case as an earlier
				   one shares its code */
	size_t db_bytes;	/* the compiled database */
	bool db_loaded;		/* loaded from the cache directory */
	bool db_stored;		/* compiled and stored there */
	size_t scratch_bytes;
	size_t dir_bytes;	/* per direction: stream state and tail */
	size_t stream_bytes;	/* ... of which stream state */
	uint64_t streams_opened; /* directions given a stream */
	uint64_t streams_refused; /* ... matched by PCRE2 alone: over the cap */
	uint32_t streams_live;
	uint32_t streams_peak;
	size_t bytes_live;	/* streams and tails now */
	size_t bytes_peak;
	size_t bytes_max;	/* the cap */
};

/*
 * Searches PCRE2 could not finish, or finished the slow way; see
 * match_set_errors(). A search that hits PCRE2's match, depth or heap limit
 * or the interpreter's budget, or whose recursion loops (such as
 * (|(?1))x), ends in an error, is counted here and taken as no match.
 */
struct match_errs {
	uint64_t errors;	/* searches ended by an error */
	uint64_t jit_fallbacks;	/* searches interpreted: JIT ran out of stack */
	int interpreted;	/* patterns no longer given to the JIT */
};

/*
 * An empty set, MATCH_ENGINE_AUTO; NULL only when out of memory. The
 * environment variable FLOWGREP_NO_VECTORSCAN (set, not empty, not "0")
 * makes it MATCH_ENGINE_PCRE2.
 */
struct match_set *match_set_new(void);
void match_set_free(struct match_set *ms);

/*
 * A set for a second thread: it prepares ms, and shares its compiled
 * patterns and database, with the scratch, buffers and counts of its own.
 * ms and the clone may then match at the same time, each in one thread,
 * with their own match_dirs; nothing may be added to either, and the clone
 * is freed first. The cap on streams' memory is split between the two.
 * NULL when out of memory.
 */
struct match_set *match_set_clone(struct match_set *ms);

/*
 * Adds a pattern (len bytes, may contain NUL) for the directions in dirs.
 * origin names it in errors ("-a", "-f rules.txt:12"). Compiles at once;
 * returns -1 with errbuf set to "bad pattern 'X' (origin): message at
 * column N" when it does not compile.
 */
int match_set_add(struct match_set *ms, const char *pat, size_t len,
    unsigned dirs, bool caseless, const char *origin, char *errbuf);

/* Sets the window (bytes a partial match may span) and depth (0: all). */
void match_set_limits(struct match_set *ms, uint32_t window, uint64_t depth);

/*
 * Sets the cap on the memory of Vectorscan's streams and tails and of the
 * patterns pending in them (default 32 MiB): tests make it small.
 */
void match_set_streams_cap(struct match_set *ms, size_t bytes);

/*
 * Chooses the engine; only before the first match_feed() or
 * match_datagram() (or match_set_prepare()). When Vectorscan fails (a
 * database that does not compile, its self-test, memory), the set quietly
 * runs on PCRE2, with the same results.
 */
void match_set_engine(struct match_set *ms, enum match_engine eng);

/*
 * Keeps compiled Vectorscan databases in dir between runs (see hscache.h):
 * one is loaded there instead of compiled when one was stored for exactly
 * the same expressions, and one that took long to compile is stored. NULL
 * (the default) turns the cache off. Before match_set_prepare(); -1 when
 * out of memory.
 */
int match_set_cache(struct match_set *ms, const char *dir);

/*
 * Compiles the Vectorscan database now rather than at the first feed (call
 * it after match_set_limits(), before reading packets, so that its cost is
 * not charged to the first packet). Returns the number of patterns it runs
 * on Vectorscan for streams. Patterns and limits should not change after.
 */
int match_set_prepare(struct match_set *ms);

/* True when pattern i runs on Vectorscan for streams (after prepare). */
bool match_set_pattern_fast(const struct match_set *ms, int i);

/* Fills mm with the set's Vectorscan figures (zero when it runs none). */
void match_set_memory(const struct match_set *ms, struct match_mem *mm);

/* Fills me with the set's counts of PCRE2 errors and fallbacks so far. */
void match_set_errors(const struct match_set *ms, struct match_errs *me);

/* Number of patterns, and the text of pattern i (NUL-terminated copy). */
int match_set_count(const struct match_set *ms);
const char *match_set_pattern(const struct match_set *ms, int i);

/* True when some pattern applies to direction dir (0 client, 1 server). */
bool match_set_has_dir(const struct match_set *ms, int dir);

/*
 * The first pattern (in order) that matches the empty string, as a hit at
 * offset 0; returns false if none does. Such a pattern selects every flow.
 */
bool match_empty(const struct match_set *ms, struct match_hit *hit);

/* Stats for window overflows and depth; may be NULL. */
void match_set_stats(struct match_set *ms, struct stats *st);

/*
 * Feeds the next len bytes of direction dir's stream. Returns true and fills
 * hit at the first match; the direction's state is then of no further use.
 * Bytes past --depth are ignored. Does not copy data unless a match may span
 * into the next call.
 */
bool match_feed(struct match_set *ms, struct match_dir *md, int dir,
    const uint8_t *data, uint32_t len, struct match_hit *hit);

/* Bytes were lost: no match may span this point; ^ no longer matches. */
void match_gap(struct match_set *ms, struct match_dir *md, uint32_t len);

/* True when dir has reached --depth (no more bytes will be matched). */
bool match_dir_done(const struct match_set *ms, const struct match_dir *md);

/*
 * True when every direction the set has patterns for has reached --depth
 * in md[0] (client) and md[1] (server): the flow cannot match any more.
 */
bool match_flow_done(const struct match_set *ms, const struct match_dir md[2]);

/* Frees the buffer of md and resets it to the start of a stream. */
void match_dir_release(struct match_dir *md);

/*
 * Matches one datagram (UDP, other IP) on its own against every pattern,
 * whatever its direction. dir is recorded in hit.
 */
bool match_datagram(struct match_set *ms, int dir, const uint8_t *data,
    uint32_t len, struct match_hit *hit);

#endif
