/* check_pipefill.c: the thread reading a pipe into buffers its reader gives. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pipefill.h"

/* A wake that has not come in this long never will: the test fails. */
#define WAKE_MS 5000

/* splitmix64: every run writes, gives and sleeps alike for a seed. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 1 to max, log-uniform: single bytes as often as the largest sizes. */
static size_t
rng_size(uint64_t *s, size_t max)
{
	unsigned bits = 0;
	uint64_t range;
	size_t n;

	while (((size_t)1 << bits) < max)
		bits++;
	range = (uint64_t)1 << (rng_next(s) % (bits + 1));
	n = 1 + (size_t)(rng_next(s) % range);
	return n > max ? max : n;
}

/* n bytes with no period: a byte lost or doubled anywhere shows. */
static uint8_t *
make_stream(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n + 1);
	uint64_t s = seed, v = 0;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		if (i % 8 == 0)
			v = rng_next(&s);
		p[i] = (uint8_t)(v >> (i % 8 * 8));
	}
	return p;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The other end of the pipe: writes len bytes in writes of 1 byte to
 * 300 KiB, sleeping now and then (sleep_us in all), and closes it.
 * It reports a failed write in error, as Check asserts only in the test's
 * thread.
 */
struct writer {
	pthread_t thread;
	int fd;
	const uint8_t *data;
	size_t len;
	uint64_t seed;
	long sleep_us;
	int error;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t s = w->seed ^ 0x5eed;
	size_t off = 0, n;
	ssize_t r;
	long us;

	while (off < w->len) {
		n = rng_size(&s, 300 * 1024);
		if (n > w->len - off)
			n = w->len - off;
		r = write(w->fd, w->data + off, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			w->error = errno;
			break;
		}
		off += (size_t)r;
		if (rng_next(&s) % 8 == 0 && w->sleep_us > 0) {
			us = 100 + (long)(rng_next(&s) % 900);
			usleep((useconds_t)us);
			w->sleep_us -= us;
		}
	}
	close(w->fd);
	return NULL;
}

static void
writer_start(struct writer *w, int fd, const uint8_t *data, size_t len,
    uint64_t seed, long sleep_us)
{
	w->fd = fd;
	w->data = data;
	w->len = len;
	w->seed = seed;
	w->sleep_us = sleep_us;
	w->error = 0;
	ck_assert_int_eq(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void
writer_join(struct writer *w)
{
	ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
	ck_assert_int_eq(w->error, 0);
}

/* After PIPEFILL_EMPTY: the wake must come, then is cleared. */
static void
wait_wake(struct pipefill *pf)
{
	struct pollfd p = { .fd = pipefill_fd(pf), .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, WAKE_MS), 1);
	ck_assert(p.revents & POLLIN);
	pipefill_clear(pf);
}

/* pipefill_take(), waiting out PIPEFILL_EMPTY as a reader does. */
static ssize_t
take_wait(struct pipefill *pf, uint8_t **data, void **tag, bool *first)
{
	ssize_t r;

	while ((r = pipefill_take(pf, data, tag, first)) == PIPEFILL_EMPTY)
		wait_wake(pf);
	return r;
}

/*
 * The reader's side: the buffers given and not let go, oldest first, each
 * its own tag, malloc()ed to its exact length so that ASan sees a write
 * past it, and freed when let go so that ASan sees a write after.
 */
struct buf {
	uint8_t *mem;
	size_t len;
	size_t taken;
};

struct reader {
	struct pipefill *pf;
	struct buf *q[PIPEFILL_SLOTS];
	unsigned n;
	size_t given;		/* bytes, in every buffer ever given */
	size_t total;		/* bytes taken */
};

static void
give(struct reader *rd, size_t len)
{
	struct buf *b = malloc(sizeof(*b));

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_lt(rd->n, PIPEFILL_SLOTS);
	b->mem = malloc(len);
	ck_assert_ptr_nonnull(b->mem);
	b->len = len;
	b->taken = 0;
	rd->q[rd->n++] = b;
	rd->given += len;
	pipefill_give(rd->pf, b->mem, len, b);
	ck_assert_uint_eq(pipefill_given(rd->pf), rd->n);
}

static void
free_bufs(struct reader *rd)
{
	while (rd->n > 0) {
		free(rd->q[--rd->n]->mem);
		free(rd->q[rd->n]);
	}
}

/*
 * A piece continues the oldest buffer held or, once that one is full, starts
 * the next, which lets the oldest go; its bytes are the stream's next.
 */
static void
check_piece(struct reader *rd, const uint8_t *expect, size_t n,
    uint8_t *data, ssize_t len, void *tag, bool first)
{
	struct buf *b;

	ck_assert_int_gt(len, 0);
	ck_assert_uint_gt(rd->n, 0);
	if (tag != rd->q[0]) {
		ck_assert_uint_ge(rd->n, 2);
		ck_assert_ptr_eq(tag, rd->q[1]);
		ck_assert_uint_eq(rd->q[0]->taken, rd->q[0]->len);
		free(rd->q[0]->mem);
		free(rd->q[0]);
		memmove(rd->q, rd->q + 1, --rd->n * sizeof(rd->q[0]));
	}
	b = rd->q[0];
	ck_assert_ptr_eq(data, b->mem + b->taken);
	ck_assert_int_eq(first, b->taken == 0);
	ck_assert_uint_le((size_t)len, b->len - b->taken);
	ck_assert_uint_le((size_t)len, n - rd->total);
	ck_assert_mem_eq(data, expect + rd->total, (size_t)len);
	b->taken += (size_t)len;
	rd->total += (size_t)len;
	ck_assert_uint_eq(pipefill_given(rd->pf), rd->n);
}

/*
 * A few MB through a pipe in writes of every size, read into buffers of
 * every size. mode 0 gives one buffer only when starved, mode 1 keeps every
 * slot full, mode 2 gives at random; the reader sleeps now and then so that
 * the thread runs ahead of it across buffers.
 */
static void
run_stream(uint64_t seed, int mode)
{
	struct reader rd = { 0 };
	struct writer w;
	uint64_t s = seed;
	size_t n = ((size_t)2 << 20) + (size_t)(rng_next(&s) % (2 << 20));
	uint8_t *expect = make_stream(n, seed), *data;
	long sleep_us = 5000, us;
	unsigned starved = 0, k;
	int fds[2], i;
	ssize_t r;
	void *tag;
	bool first;

	ck_assert_int_eq(pipe(fds), 0);
	writer_start(&w, fds[1], expect, n, seed, 8000);
	rd.pf = pipefill_start(fds[0]);
	ck_assert_ptr_nonnull(rd.pf);
	ck_assert_uint_eq(pipefill_given(rd.pf), 0);
	give(&rd, rng_size(&s, 1 << 20));
	for (;;) {
		k = 0;
		if (mode == 1)
			k = PIPEFILL_SLOTS;
		else if (mode == 2 && rng_next(&s) % 4 == 0)
			k = 1 + (unsigned)(rng_next(&s) % PIPEFILL_SLOTS);
		while (rd.n < k)
			give(&rd, rng_size(&s, 1 << 20));
		r = take_wait(rd.pf, &data, &tag, &first);
		if (r > 0) {
			check_piece(&rd, expect, n, data, r, tag, first);
			if (rng_next(&s) % 16 == 0 && sleep_us > 0) {
				us = 100 + (long)(rng_next(&s) % 400);
				usleep((useconds_t)us);
				sleep_us -= us;
			}
		} else if (r == PIPEFILL_STARVED) {
			/* Every buffer full and taken; the last is held. */
			ck_assert_uint_eq(rd.n, 1);
			ck_assert_uint_eq(rd.q[0]->taken, rd.q[0]->len);
			ck_assert_uint_eq(rd.total, rd.given);
			starved++;
			k = mode == 0 ? 1 : 1 + (unsigned)(rng_next(&s) %
			    (PIPEFILL_SLOTS - 1));
			while (k-- > 0)
				give(&rd, rng_size(&s, 1 << 20));
		} else
			break;
	}
	ck_assert_msg(r == 0, "take: %zd (%s)", r, strerror(errno));
	ck_assert_uint_eq(rd.total, n);
	/* The end is final. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag, &first),
		    0);
	if (mode == 0)
		ck_assert_uint_gt(starved, 0);
	pipefill_stop(rd.pf);
	free_bufs(&rd);
	writer_join(&w);
	close(fds[0]);
	free(expect);
}

START_TEST(test_stream)
{
	uint64_t seed;

	for (seed = 1; seed <= 6; seed++)
		run_stream(seed * 0x1234567, (int)(seed % 3));
}
END_TEST

/* Read bytes come at once, not when the buffer fills; then the end. */
START_TEST(test_latency)
{
	static const size_t parts[] = { 100, 1, 37, 4000, 200 };
	struct reader rd = { 0 };
	size_t n = 0, i, upto;
	uint8_t *expect, *data;
	int fds[2];
	ssize_t r;
	void *tag;
	bool first;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		n += parts[i];
	expect = make_stream(n, 42);
	ck_assert_int_eq(pipe(fds), 0);
	rd.pf = pipefill_start(fds[0]);
	ck_assert_ptr_nonnull(rd.pf);
	give(&rd, 1 << 20);
	/* Each part written alone, the pipe left open: no EOF helps. */
	for (i = 0, upto = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		ck_assert_int_eq(write(fds[1], expect + upto, parts[i]),
		    (ssize_t)parts[i]);
		upto += parts[i];
		while (rd.total < upto) {
			r = take_wait(rd.pf, &data, &tag, &first);
			check_piece(&rd, expect, n, data, r, tag, first);
		}
		ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag, &first),
		    PIPEFILL_EMPTY);
	}
	close(fds[1]);
	ck_assert_int_eq(take_wait(rd.pf, &data, &tag, &first), 0);
	ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag, &first), 0);
	pipefill_stop(rd.pf);
	free_bufs(&rd);
	close(fds[0]);
	free(expect);
}
END_TEST

/*
 * A buffer full and taken is held until a piece of the next one is taken:
 * a take that finds nothing yet in the next one lets nothing go.
 */
START_TEST(test_let_go)
{
	const size_t n = 15;
	uint8_t *expect = make_stream(n, 3), *data;
	struct reader rd = { 0 };
	int fds[2];
	void *tag;
	bool first;
	ssize_t r;

	ck_assert_int_eq(pipe(fds), 0);
	rd.pf = pipefill_start(fds[0]);
	ck_assert_ptr_nonnull(rd.pf);
	give(&rd, 10);
	give(&rd, 10);
	ck_assert_int_eq(write(fds[1], expect, 10), 10);
	while (rd.total < 10) {
		r = take_wait(rd.pf, &data, &tag, &first);
		check_piece(&rd, expect, n, data, r, tag, first);
	}
	ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag, &first),
	    PIPEFILL_EMPTY);
	ck_assert_uint_eq(pipefill_given(rd.pf), 2);
	ck_assert_int_eq(write(fds[1], expect + 10, 5), 5);
	while (rd.total < n) {
		r = take_wait(rd.pf, &data, &tag, &first);
		check_piece(&rd, expect, n, data, r, tag, first);
	}
	ck_assert_uint_eq(pipefill_given(rd.pf), 1);
	close(fds[1]);
	ck_assert_int_eq(take_wait(rd.pf, &data, &tag, &first), 0);
	pipefill_stop(rd.pf);
	free_bufs(&rd);
	close(fds[0]);
	free(expect);
}
END_TEST

/* Stops pf, which must be quick: the thread is never left blocked. */
static void
stop_quickly(struct pipefill *pf)
{
	double t = now();

	pipefill_stop(pf);
	ck_assert_msg(now() - t < 2.0, "pipefill_stop took %.3f s", now() - t);
}

/* Stopping the thread wherever it waits, the pipe open and idle. */
START_TEST(test_stop_blocked)
{
	uint8_t *mem = malloc(4096), *data;
	struct pipefill *pf;
	int fds[2], i;
	void *tag;
	bool first;

	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(pipe(fds), 0);
	for (i = 0; i < 5; i++) {
		pf = pipefill_start(fds[0]);
		ck_assert_ptr_nonnull(pf);
		switch (i) {
		case 0:
			/* In read(2) or poll(2) of the pipe. */
			pipefill_give(pf, mem, 4096, NULL);
			ck_assert_int_eq(pipefill_take(pf, &data, &tag,
			    &first), PIPEFILL_EMPTY);
			usleep(50000);
			break;
		case 1:
			/* Waiting for a buffer. */
			usleep(50000);
			break;
		case 2:
			/* Just started. */
			pipefill_give(pf, mem, 4096, NULL);
			break;
		case 3:
			/* Some bytes read and taken, more awaited. */
			pipefill_give(pf, mem, 4096, NULL);
			ck_assert_int_eq(write(fds[1], "0123456789", 10), 10);
			ck_assert_int_eq(take_wait(pf, &data, &tag, &first),
			    10);
			ck_assert_ptr_eq(data, mem);
			usleep(50000);
			break;
		case 4:
			/* Bytes read and not taken. */
			pipefill_give(pf, mem, 4096, NULL);
			ck_assert_int_eq(write(fds[1], "0123456789", 10), 10);
			usleep(50000);
			break;
		}
		stop_quickly(pf);
	}
	pipefill_stop(NULL);
	close(fds[0]);
	close(fds[1]);
	free(mem);
}
END_TEST

/*
 * Buffers of lens[] bytes, taken until PIPEFILL_STARVED; then the caller
 * reads the rest itself, which must follow on byte for byte: the thread
 * read nothing it had no room for.
 */
static void
run_starved(uint64_t seed, const size_t *lens, unsigned nlens, size_t n)
{
	struct reader rd = { 0 };
	uint8_t *expect = make_stream(n, seed), *data, *tail;
	struct writer w;
	int fds[2];
	unsigned i;
	ssize_t r;
	void *tag;
	bool first;

	tail = malloc(65536);
	ck_assert_ptr_nonnull(tail);
	ck_assert_int_eq(pipe(fds), 0);
	writer_start(&w, fds[1], expect, n, seed, 2000);
	rd.pf = pipefill_start(fds[0]);
	ck_assert_ptr_nonnull(rd.pf);
	for (i = 0; i < nlens; i++)
		give(&rd, lens[i]);
	while ((r = take_wait(rd.pf, &data, &tag, &first)) > 0)
		check_piece(&rd, expect, n, data, r, tag, first);
	if (r == PIPEFILL_STARVED) {
		ck_assert_uint_le(rd.n, 1);
		ck_assert_uint_eq(rd.total, rd.given);
	} else {
		/* The end, seen when the stream fits the buffers. */
		ck_assert_int_eq(r, 0);
		ck_assert_uint_le(n, rd.given);
		ck_assert_uint_eq(rd.total, n);
	}
	pipefill_stop(rd.pf);
	while ((r = read(fds[0], tail, 65536)) > 0) {
		ck_assert_uint_le((size_t)r, n - rd.total);
		ck_assert_mem_eq(tail, expect + rd.total, (size_t)r);
		rd.total += (size_t)r;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(rd.total, n);
	free_bufs(&rd);
	writer_join(&w);
	close(fds[0]);
	free(tail);
	free(expect);
}

START_TEST(test_starved_then_caller)
{
	static const size_t one[] = { 1 }, small[] = { 100 },
	    pipe_sized[] = { 65536 }, odd[] = { 100000 }, big[] = { 300000 },
	    mixed[] = { 1, 70000, 3, 65536 }, exact[] = { 4096 };
	uint64_t seed;

	for (seed = 1; seed <= 2; seed++) {
		/* Nothing given: the thread must not have read at all. */
		run_starved(seed, NULL, 0, 1 << 20);
		run_starved(seed, one, 1, 1 << 20);
		run_starved(seed, small, 1, 1 << 20);
		run_starved(seed, pipe_sized, 1, 1 << 20);
		run_starved(seed, odd, 1, 1 << 20);
		run_starved(seed, big, 1, 1 << 20);
		run_starved(seed, mixed, 4, 1 << 20);
		/* The stream as long as the buffer: starved, or the end. */
		run_starved(seed, exact, 1, 4096);
	}
}
END_TEST

/* A read error comes with its errno, and stays. */
START_TEST(test_read_error)
{
	uint8_t *mem = malloc(4096), *data;
	struct pipefill *pf;
	void *tag;
	bool first;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	ck_assert_ptr_nonnull(mem);
	ck_assert_int_ge(fd, 0);
	pf = pipefill_start(fd);
	ck_assert_ptr_nonnull(pf);
	pipefill_give(pf, mem, 4096, NULL);
	errno = 0;
	ck_assert_int_eq(take_wait(pf, &data, &tag, &first), -1);
	ck_assert_int_eq(errno, EISDIR);
	errno = 0;
	ck_assert_int_eq(pipefill_take(pf, &data, &tag, &first), -1);
	ck_assert_int_eq(errno, EISDIR);
	pipefill_stop(pf);
	close(fd);
	free(mem);
}
END_TEST

/*
 * An error after bytes: the bytes first, then the error, final although
 * read(2) says it only once (a Unix socket closed by a peer with bytes
 * unread gives ECONNRESET, then 0).
 */
START_TEST(test_read_error_after_data)
{
	const size_t n = 5000;
	uint8_t *expect = make_stream(n, 7), *data;
	struct reader rd = { 0 };
	int sv[2], i;
	void *tag;
	bool first;
	ssize_t r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], expect, n), (ssize_t)n);
	ck_assert_int_eq(write(sv[0], "x", 1), 1);
	close(sv[1]);
	rd.pf = pipefill_start(sv[0]);
	ck_assert_ptr_nonnull(rd.pf);
	give(&rd, 4096);
	give(&rd, 4096);
	while ((r = take_wait(rd.pf, &data, &tag, &first)) > 0)
		check_piece(&rd, expect, n, data, r, tag, first);
	ck_assert_uint_eq(rd.total, n);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(r, -1);
		ck_assert_int_eq(errno, ECONNRESET);
		errno = 0;
		r = pipefill_take(rd.pf, &data, &tag, &first);
	}
	pipefill_stop(rd.pf);
	free_bufs(&rd);
	close(sv[0]);
	free(expect);
}
END_TEST

static bool
readable(struct pipefill *pf, int ms)
{
	struct pollfd p = { .fd = pipefill_fd(pf), .events = POLLIN };
	int r = poll(&p, 1, ms);

	ck_assert_int_ge(r, 0);
	return r == 1 && (p.revents & POLLIN);
}

/*
 * The wake fd: quiet while nothing is written, readable soon after a write
 * or the end, and never readable for good. A wake left over from bytes
 * taken without waiting may come once; a wake missed fails after WAKE_MS.
 */
START_TEST(test_wake)
{
	const size_t n = 300 * 200;
	uint8_t *expect = make_stream(n, 9), *data;
	struct reader rd = { 0 };
	uint64_t s = 9;
	size_t len, upto = 0;
	int fds[2], rnd, tries;
	void *tag;
	bool first;
	ssize_t r;

	ck_assert_int_eq(pipe(fds), 0);
	rd.pf = pipefill_start(fds[0]);
	ck_assert_ptr_nonnull(rd.pf);
	give(&rd, 1 << 20);
	ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag, &first),
	    PIPEFILL_EMPTY);
	ck_assert(!readable(rd.pf, 0));
	for (rnd = 0; rnd < 300; rnd++) {
		len = 1 + (size_t)(rng_next(&s) % 200);
		if (rnd % 4 == 0) {
			/* Written before the take: no wait. */
			ck_assert_int_eq(write(fds[1], expect + upto, len),
			    (ssize_t)len);
		} else {
			ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag,
			    &first), PIPEFILL_EMPTY);
			for (tries = 0; tries < 100 && readable(rd.pf, 0);
			    tries++) {
				pipefill_clear(rd.pf);
				ck_assert_int_eq(pipefill_take(rd.pf, &data,
				    &tag, &first), PIPEFILL_EMPTY);
			}
			ck_assert_msg(tries < 100, "the wake fd stays readable");
			ck_assert_int_eq(write(fds[1], expect + upto, len),
			    (ssize_t)len);
			ck_assert(readable(rd.pf, WAKE_MS));
			pipefill_clear(rd.pf);
		}
		upto += len;
		while (rd.total < upto) {
			r = take_wait(rd.pf, &data, &tag, &first);
			check_piece(&rd, expect, n, data, r, tag, first);
		}
	}
	/* The end wakes too. */
	ck_assert_int_eq(pipefill_take(rd.pf, &data, &tag, &first),
	    PIPEFILL_EMPTY);
	close(fds[1]);
	ck_assert(readable(rd.pf, WAKE_MS));
	pipefill_clear(rd.pf);
	ck_assert_int_eq(take_wait(rd.pf, &data, &tag, &first), 0);
	pipefill_stop(rd.pf);
	free_bufs(&rd);
	close(fds[0]);
	free(expect);
}
END_TEST

static Suite *
pipefill_suite(void)
{
	Suite *s = suite_create("pipefill");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_latency);
	tcase_add_test(tc, test_let_go);
	tcase_add_test(tc, test_stop_blocked);
	tcase_add_test(tc, test_starved_then_caller);
	tcase_add_test(tc, test_read_error);
	tcase_add_test(tc, test_read_error_after_data);
	tcase_add_test(tc, test_wake);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pipefill_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
