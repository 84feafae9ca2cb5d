/* check_matcher.c: the match thread decides as matching in line does. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

/*
 * Random flows, their bytes queued in random interleavings and pieces
 * (some over the matcher's 1 MiB piece, the total several times its ring,
 * so the ring wraps and the engine's side waits), are given both to a
 * matcher and to match_feed()/match_datagram() in line the way the engine
 * calls them: a flow is fed until it matches or every direction reaches
 * --depth. The serials that matched, and the counts matching made, must
 * be the same.
 */

#define NFLOWS 300
#define PAYLOAD_MAX (3U << 20)

static const char *const patterns[] = {
	"TOKEN-[0-9]{3}",		/* Vectorscan */
	"needle",
	"(?<=q)uu[a-h]",		/* PCRE2: a lookbehind */
	"zz[a-h]*zz9",			/* unbounded: gated or PCRE2 */
	/* Gated with the same head: searched as one group. */
	"T-[a-h]+q9", "T-[a-h]+u9", "T-[a-h]+zq",
	"across-(the|a) boundary",
};

/* Deterministic, so that a failure repeats. */
static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((rng_state >> 33) % n);
}

struct tflow {
	uint32_t serial;
	bool datagram;		/* UDP-like: each piece matched alone */
	uint8_t *bytes[2];
	uint32_t len[2];
	uint32_t at[2];		/* queued so far */
	bool ended;
	/* in line */
	struct match_dir md[2];
	bool matched;
	bool over;
};

static struct match_set *
new_set(enum match_engine eng, uint64_t depth, bool client_only)
{
	struct match_set *ms = match_set_new();
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i;

	ck_assert_ptr_nonnull(ms);
	match_set_engine(ms, eng);
	for (i = 0; i < sizeof(patterns) / sizeof(*patterns); i++)
		ck_assert_msg(match_set_add(ms, patterns[i], strlen(patterns[i]),
		    i == 1 || client_only ? MATCH_CLIENT :
		    MATCH_CLIENT | MATCH_SERVER, false,
		    "-a", errbuf) == 0, "%s", errbuf);
	match_set_limits(ms, MATCH_WINDOW_DEFAULT, depth);
	return ms;
}

/* Random text of a small alphabet, with a pattern's match planted or not. */
static void
fill(uint8_t *p, uint32_t n)
{
	static const char alpha[] = "abcdefghquz9 -TOKEN";
	static const char *const plants[] = {
		"TOKEN-123", "needle", "quua", "zzabczz9",
		"across-the boundary", "TOKEN-12", "needl", "uua",
	};
	uint32_t i, k;
	const char *s;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)alpha[rnd(sizeof(alpha) - 1)];
	/* Most flows hold nothing, some a near miss, some a match. */
	for (k = rnd(8) < 3 ? 1 + rnd(2) : 0; k > 0; k--) {
		s = plants[rnd(sizeof(plants) / sizeof(*plants))];
		if (strlen(s) <= n) {
			i = rnd(n - (uint32_t)strlen(s) + 1);
			memcpy(p + i, s, strlen(s));
		}
	}
}

static void
inline_piece(struct match_set *ms, struct tflow *f, int dir,
    const uint8_t *p, uint32_t n, bool gap)
{
	struct match_hit hit;
	int d, active = 0;
	bool done = true;

	if (f->matched || f->over)
		return;
	if (f->datagram) {
		f->matched = match_datagram(ms, dir, p, n, &hit);
		return;
	}
	if (gap)
		match_gap(ms, &f->md[dir], n);
	else if (match_feed(ms, &f->md[dir], dir, p, n, &hit)) {
		f->matched = true;
		return;
	}
	for (d = 0; d < 2; d++)
		if (match_set_has_dir(ms, d)) {
			active++;
			done &= match_dir_done(ms, &f->md[d]);
		}
	f->over = active > 0 && done;
}

/*
 * The thread's answers against in-line matching of the same pieces, with a
 * set of its own or, when clone, a clone of the thread's, matching at the
 * same time as the thread (as the engine does beside it).
 */
static void
run_case(enum match_engine eng, uint64_t depth, bool client_only,
    bool clone, uint64_t seed)
{
	struct match_set *ms_th = new_set(eng, depth, client_only);
	struct match_set *ms_in = clone ? match_set_clone(ms_th) :
	    new_set(eng, depth, client_only);
	struct stats st_in, st_th;
	struct match_mem mm_in, mm_th;
	struct tflow *fl = calloc(NFLOWS, sizeof(*fl)), *f;
	struct matcher *m;
	uint64_t total = 0;
	uint32_t i, n, left, nmatched = 0;
	int dir;
	bool gap;

	ck_assert_ptr_nonnull(fl);
	ck_assert_ptr_nonnull(ms_in);
	if (clone) {
		/* The cap on streams' memory is shared, not doubled. */
		match_set_memory(ms_th, &mm_th);
		match_set_memory(ms_in, &mm_in);
		ck_assert_uint_eq(mm_th.bytes_max, (size_t)16 << 20);
		ck_assert_uint_eq(mm_in.bytes_max, (size_t)16 << 20);
	}
	memset(&st_in, 0, sizeof(st_in));
	memset(&st_th, 0, sizeof(st_th));
	match_set_stats(ms_in, &st_in);
	rng_state = seed;
	for (i = 0; i < NFLOWS; i++) {
		f = &fl[i];
		/* Serials far apart too: the matched bits come in chunks. */
		f->serial = i < 3 ? (uint32_t[]){ 524287, 524288, 0x7fffffff }[i] :
		    i * 7;
		f->datagram = rnd(6) == 0;
		for (dir = 0; dir < 2; dir++) {
			n = rnd(10) == 0 ? rnd(PAYLOAD_MAX) : rnd(4000);
			f->len[dir] = n;
			f->bytes[dir] = malloc(n + 1);
			fill(f->bytes[dir], n);
			total += n;
		}
	}
	ck_assert_msg(total > 3 * MATCHER_RING_BYTES, "%llu bytes",
	    (unsigned long long)total);
	ck_assert_ptr_nonnull(m = matcher_new(ms_th, &st_th));
	/* Random flows and directions, pieces of 1 byte to 1.5 MiB. */
	for (left = NFLOWS; left > 0;) {
		f = &fl[rnd(NFLOWS)];
		if (f->ended)
			continue;
		dir = (int)rnd(2);
		if (f->at[dir] == f->len[dir])
			dir = !dir;
		if (f->at[dir] == f->len[dir]) {
			matcher_end(m, f->serial);
			f->ended = true;
			left--;
			continue;
		}
		n = rnd(20) == 0 ? 1 + rnd(3U << 19) : 1 + rnd(1600);
		if (f->datagram && n > 65535)
			n = 65535;	/* an IP datagram's most */
		if (n > f->len[dir] - f->at[dir])
			n = f->len[dir] - f->at[dir];
		gap = !f->datagram && rnd(50) == 0;
		if (gap)
			matcher_gap(m, f->serial, dir, n);
		else if (f->datagram)
			matcher_datagram(m, f->serial, dir,
			    f->bytes[dir] + f->at[dir], n);
		else
			matcher_data(m, f->serial, dir,
			    f->bytes[dir] + f->at[dir], n);
		inline_piece(ms_in, f, dir, f->bytes[dir] + f->at[dir], n, gap);
		f->at[dir] += n;
	}
	matcher_finish(m);
	for (i = 0; i < NFLOWS; i++) {
		f = &fl[i];
		ck_assert_msg(matcher_matched(m, f->serial) == f->matched,
		    "seed %llu: flow %u (serial %u%s): thread %d, in line %d",
		    (unsigned long long)seed, i, f->serial,
		    f->datagram ? ", datagrams" : "",
		    matcher_matched(m, f->serial), f->matched);
		nmatched += f->matched;
		match_dir_release(&f->md[0]);
		match_dir_release(&f->md[1]);
		free(f->bytes[0]);
		free(f->bytes[1]);
	}
	/* Neither none nor all: the case can tell a wrong answer. */
	ck_assert_uint_gt(nmatched, NFLOWS / 10);
	ck_assert_uint_lt(nmatched, NFLOWS - NFLOWS / 10);
	ck_assert_uint_eq(st_th.depth_reached, st_in.depth_reached);
	ck_assert_uint_eq(st_th.window_overflows, st_in.window_overflows);
	ck_assert_uint_eq(st_th.match_errors, st_in.match_errors);
	if (depth != 0)
		ck_assert_uint_gt(st_in.depth_reached, 0);
	/* After finishing, records are ignored, not queued forever. */
	matcher_data(m, 1, 0, (const uint8_t *)"needle", 6);
	ck_assert(!matcher_matched(m, 1));
	matcher_free(m);
	match_set_free(ms_in);
	match_set_free(ms_th);
	free(fl);
}

START_TEST(test_same_as_inline)
{
	static const struct {
		enum match_engine eng;
		uint64_t depth;
		bool client_only;
		bool clone;
	} cases[] = {
		{ MATCH_ENGINE_AUTO, 0, false, false },
		{ MATCH_ENGINE_VECTORSCAN, 0, false, false },
		{ MATCH_ENGINE_PCRE2, 0, false, false },
		{ MATCH_ENGINE_AUTO, 3000, false, false },
		/*
		 * The server's bytes are not matched: the flow is over when
		 * the client's reach --depth, and the server's never count.
		 */
		{ MATCH_ENGINE_AUTO, 3000, true, false },
		{ MATCH_ENGINE_AUTO, 0, false, true },
		{ MATCH_ENGINE_VECTORSCAN, 0, false, true },
		{ MATCH_ENGINE_PCRE2, 3000, false, true },
	};

	run_case(cases[_i].eng, cases[_i].depth, cases[_i].client_only,
	    cases[_i].clone, 1000 + (uint64_t)_i);
}
END_TEST

/* Freed with flows still open and records still queued: nothing leaks. */
START_TEST(test_free_unfinished)
{
	struct match_set *ms = new_set(MATCH_ENGINE_AUTO, 0, false);
	struct stats st;
	struct matcher *m;
	uint32_t s;

	memset(&st, 0, sizeof(st));
	ck_assert_ptr_nonnull(m = matcher_new(ms, &st));
	for (s = 0; s < 5000; s++)
		matcher_data(m, s, (int)(s & 1), (const uint8_t *)"xx needle",
		    s % 3 == 0 ? 9 : 3);
	matcher_free(m);
	match_set_free(ms);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("matcher");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_same_as_inline, 0, 8);
	tcase_add_test(tc, test_free_unfinished);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
