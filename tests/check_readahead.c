/* check_readahead.c: the thread reading a file ahead, block by block. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "readahead.h"

/* A file of n bytes, byte i being (i * 31 + i / 251) & 0xff: no period short. */
static int
make_file(size_t n, uint8_t **content)
{
	char path[] = "/tmp/check_readahead.XXXXXX";
	uint8_t *p = malloc(n + 1);
	size_t i;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(p);
	unlink(path);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + i / 251);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	*content = p;
	return fd;
}

/*
 * Reads from the current position to the end, checking each block against
 * content from offset at, scribbling over each reserve (ASan sees any
 * overrun) and holding `hold` blocks at a time. Returns the bytes read.
 */
static size_t
read_rest(struct readahead *ra, const uint8_t *content, size_t at,
    size_t reserve, unsigned hold)
{
	unsigned held = 0;
	size_t total = 0;
	uint8_t *data;
	ssize_t r;

	while ((r = readahead_next(ra, &data)) > 0) {
		ck_assert_mem_eq(data, content + at + total, (size_t)r);
		memset(data - reserve, 0xa5, reserve);
		total += (size_t)r;
		if (++held > hold) {
			readahead_release(ra);
			held--;
		}
	}
	ck_assert_int_eq(r, 0);
	while (held-- > 0)
		readahead_release(ra);
	return total;
}

/* Every size of block and ring, files a block long and not. */
START_TEST(test_blocks_whole_file)
{
	static const size_t sizes[] = { 0, 1, 6, 7, 8, 49, 1000, 70001 };
	static const size_t blocks[] = { 1, 7, 4096, 65536 };
	size_t s, k;
	unsigned nb;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (k = 0; k < sizeof(blocks) / sizeof(blocks[0]); k++)
			for (nb = 2; nb <= 4; nb++) {
				uint8_t *content;
				int fd = make_file(sizes[s], &content);
				struct readahead *ra = readahead_start(fd, 0,
				    blocks[k], 5, nb);
				uint8_t *data;

				ck_assert_ptr_nonnull(ra);
				ck_assert_uint_eq(read_rest(ra, content, 0,
				    5, nb - 1), sizes[s]);
				/* The end is final. */
				ck_assert_int_eq(readahead_next(ra, &data), 0);
				ck_assert_int_eq(readahead_next(ra, &data), 0);
				readahead_stop(ra);
				close(fd);
				free(content);
			}
}
END_TEST

/* A start offset, and seeks back and forth, mid-block and at the end. */
START_TEST(test_seek)
{
	/* After the end (70001) a seek reads again. */
	static const size_t targets[] = { 0, 3, 999, 4096, 12345, 70000,
	    70001, 5 };
	const size_t n = 70001;
	uint8_t *content, *data;
	int fd = make_file(n, &content);
	struct readahead *ra = readahead_start(fd, 10, 1000, 64, 3);
	size_t i;
	ssize_t r;

	ck_assert_ptr_nonnull(ra);
	r = readahead_next(ra, &data);
	ck_assert_int_eq(r, 1000);
	ck_assert_mem_eq(data, content + 10, 1000);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		/* Held and read-ahead blocks alike are dropped. */
		readahead_seek(ra, (off_t)targets[i]);
		ck_assert_uint_eq(read_rest(ra, content, targets[i], 64, 1),
		    n - targets[i]);
	}
	/* A seek with a block held and the thread likely mid-read. */
	for (i = 0; i < 200; i++) {
		readahead_seek(ra, (off_t)(i * 97));
		r = readahead_next(ra, &data);
		ck_assert_int_gt(r, 0);
		ck_assert_mem_eq(data, content + i * 97, (size_t)r);
	}
	readahead_stop(ra);
	close(fd);
	free(content);
}
END_TEST

/* Stopping with blocks held, read ahead, or none read yet. */
START_TEST(test_stop_anytime)
{
	uint8_t *content, *data;
	int fd = make_file(100000, &content);
	struct readahead *ra;
	int i;

	for (i = 0; i < 50; i++) {
		ra = readahead_start(fd, 0, 512, 0, 2 + i % 3);
		ck_assert_ptr_nonnull(ra);
		if (i % 2 == 1)
			ck_assert_int_eq(readahead_next(ra, &data), 512);
		readahead_stop(ra);
	}
	readahead_stop(NULL);
	close(fd);
	free(content);
}
END_TEST

/* A read error is returned, with its errno, and stays. */
START_TEST(test_read_error)
{
	struct readahead *ra;
	uint8_t *data;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(fd, 0);
	ra = readahead_start(fd, 0, 4096, 0, 2);
	ck_assert_ptr_nonnull(ra);
	errno = 0;
	ck_assert_int_eq(readahead_next(ra, &data), -1);
	ck_assert_int_eq(errno, EISDIR);
	errno = 0;
	ck_assert_int_eq(readahead_next(ra, &data), -1);
	ck_assert_int_eq(errno, EISDIR);
	readahead_stop(ra);
	close(fd);
}
END_TEST

START_TEST(test_bad_arguments)
{
	errno = 0;
	ck_assert_ptr_null(readahead_start(0, 0, 4096, 0, 1));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(readahead_start(0, 0, 0, 0, 2));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *
readahead_suite(void)
{
	Suite *s = suite_create("readahead");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_blocks_whole_file);
	tcase_add_test(tc, test_seek);
	tcase_add_test(tc, test_stop_anytime);
	tcase_add_test(tc, test_read_error);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(readahead_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
