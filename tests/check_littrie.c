/* check_littrie.c: literals found near a subject's end, against brute force. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "littrie.h"

#define MAX_IDS 64

struct found {
	int count[MAX_IDS];
};

static void
note(void *ctx, int id)
{
	struct found *f = ctx;

	ck_assert_int_ge(id, 0);
	ck_assert_int_lt(id, MAX_IDS);
	f->count[id]++;
}

/* littrie_tail() of string s from "from", the ids found counted in f. */
static void
tail_of(const struct littrie *t, const char *s, size_t from, struct found *f)
{
	memset(f, 0, sizeof(*f));
	littrie_tail(t, (const uint8_t *)s, strlen(s), from, note, f);
}

static bool
same_byte(uint8_t a, uint8_t b, bool caseless)
{
	if (caseless && a >= 'A' && a <= 'Z')
		a |= 0x20;
	if (caseless && b >= 'A' && b <= 'Z')
		b |= 0x20;
	return a == b;
}

/* The answer by definition: some i in [from, len) where lit may start. */
static bool
brute(const uint8_t *lit, size_t litlen, const uint8_t *subj, size_t len,
    size_t from, bool caseless)
{
	size_t i, k, n;

	if (litlen > LITTRIE_LIT_MAX)
		litlen = LITTRIE_LIT_MAX;
	for (i = from; i < len; i++) {
		n = len - i < litlen ? len - i : litlen;
		for (k = 0; k < n && same_byte(lit[k], subj[i + k], caseless);
		    k++)
			;
		if (k == n)
			return true;
	}
	return false;
}

START_TEST(test_examples)
{
	struct littrie *t = littrie_new(false);
	struct found f;
	const char *s;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"User-Agent: ", 12,
	    1), 0);
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"GET /ab", 7, 2), 0);
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"POST /ab", 8, 2),
	    0);
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"GET /xy", 7, 3), 0);
	/* Empty literals and negative ids are refused. */
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"x", 0, 4), -1);
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"x", 1, -1), -1);
	ck_assert_int_eq(littrie_seal(t), 0);
	ck_assert_uint_eq(littrie_count(t), 4);
	/* "User-Agent: " 12 + "GET /" 5 shared + "ab" + "xy" + "POST /ab" 8. */
	ck_assert_uint_eq(littrie_nodes(t), 12 + 5 + 2 + 2 + 8);
	/* Nothing can be added once sealed. */
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"y", 1, 5), -1);

	/* A prefix at the end: every literal going on from there. */
	tail_of(t, "hello GE", 0, &f);
	ck_assert_int_eq(f.count[1], 0);
	ck_assert_int_ge(f.count[2], 1);
	ck_assert_int_ge(f.count[3], 1);

	/* Whole literals before the end; a mismatch ends the walk. */
	s = "GET /abc HTTP/1.1 User-Agent: x";
	tail_of(t, s, 0, &f);
	ck_assert_int_ge(f.count[1], 1);
	ck_assert_int_ge(f.count[2], 1);
	ck_assert_int_eq(f.count[3], 0);

	/* Only from "from" on; case counts. */
	tail_of(t, s, 1, &f);
	ck_assert_int_eq(f.count[2], 0);
	ck_assert_int_ge(f.count[1], 1);
	tail_of(t, "get /ab user-agent: ", 0, &f);
	ck_assert_int_eq(f.count[1] + f.count[2] + f.count[3], 0);
	littrie_free(t);

	/* Caseless: either case, both ways. */
	t = littrie_new(true);
	ck_assert_int_eq(littrie_add(t, (const uint8_t *)"Host: ", 6, 7), 0);
	ck_assert_int_eq(littrie_seal(t), 0);
	tail_of(t, "xx\r\nHOST", 0, &f);
	ck_assert_int_ge(f.count[7], 1);
	littrie_free(t);
	littrie_free(NULL);
}
END_TEST

/*
 * Random literals over a small alphabet (so that they share prefixes and
 * occur in the subjects), some longer than LITTRIE_LIT_MAX, against brute
 * force at every "from".
 */
START_TEST(test_random)
{
	static const char alpha[] = "abAB/ \x00\xff";
	uint8_t lits[MAX_IDS][LITTRIE_LIT_MAX + 8], subj[96];
	size_t litlen[MAX_IDS], len, from, i;
	struct littrie *t;
	struct found f;
	unsigned seed = 12345;
	int round, n, id;
	bool caseless, want;

	for (round = 0; round < 200; round++) {
		caseless = round % 2 == 1;
		t = littrie_new(caseless);
		ck_assert_ptr_nonnull(t);
		n = 1 + rand_r(&seed) % MAX_IDS;
		for (id = 0; id < n; id++) {
			litlen[id] = 1 + (size_t)rand_r(&seed) %
			    (id % 7 == 0 ? sizeof(lits[0]) : 6);
			for (i = 0; i < litlen[id]; i++)
				lits[id][i] = (uint8_t)alpha[rand_r(&seed) %
				    (sizeof(alpha) - 1)];
			ck_assert_int_eq(littrie_add(t, lits[id], litlen[id],
			    id), 0);
		}
		ck_assert_int_eq(littrie_seal(t), 0);
		ck_assert_int_eq(littrie_seal(t), 0);
		len = (size_t)rand_r(&seed) % sizeof(subj);
		for (i = 0; i < len; i++)
			subj[i] = (uint8_t)alpha[rand_r(&seed) %
			    (sizeof(alpha) - 1)];
		for (from = 0; from <= len; from++) {
			memset(&f, 0, sizeof(f));
			littrie_tail(t, subj, len, from, note, &f);
			for (id = 0; id < n; id++) {
				want = brute(lits[id], litlen[id], subj, len,
				    from, caseless);
				ck_assert_msg(want == (f.count[id] > 0),
				    "round %d id %d from %zu: want %d got %d",
				    round, id, from, want, f.count[id]);
			}
			for (; id < MAX_IDS; id++)
				ck_assert_int_eq(f.count[id], 0);
		}
		littrie_free(t);
	}
}
END_TEST

static Suite *
littrie_suite(void)
{
	Suite *s = suite_create("littrie");
	TCase *tc = tcase_create("tail");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_examples);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(littrie_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
