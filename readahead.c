/* readahead.c: a thread that reads a regular file ahead of its reader. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "readahead.h"

/* Blocks start on a page: the kernel copies into aligned memory faster. */
#define READAHEAD_ALIGN 4096

enum block_state {
	BLOCK_FREE,
	BLOCK_FILLING,		/* the thread reads into it, unlocked */
	BLOCK_FULL,
	BLOCK_HELD,		/* returned to the reader */
};

struct ra_block {
	uint8_t *mem;		/* reserve, then block_size bytes of data */
	ssize_t len;		/* bytes read, 0 at the end, -1 on an error */
	int err;
	uint8_t state;		/* enum block_state */
};

/*
 * A ring: the thread fills blocks in order from `fill`, the reader takes
 * them in order from `take` and lets them go in the same order, so the
 * oldest it holds is `held` blocks before `take`. A seek bumps `gen`: a
 * read under an older one is thrown away.
 */
struct readahead {
	int fd;
	size_t block_size;
	size_t reserve;
	unsigned n;
	struct ra_block *blk;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t filled;	/* the reader waits for a full block */
	pthread_cond_t freed;	/* the thread waits for a free block */

	unsigned fill;
	unsigned take;
	unsigned held;
	uint64_t gen;
	off_t off;		/* where the thread reads next */
	bool done;		/* the thread met the end or an error */
	bool quit;
	bool running;		/* the thread got as far as reader() */
	/*
	 * The thread, finding the ring full, sleeps until half of it is free
	 * (the block at `wake` is): each wake-up is a system call for the
	 * reader and, on a VM, an interrupt to another CPU, so one per block
	 * read would cost the reader a few percent. A reader waiting for a
	 * block wakes it sooner (hurry).
	 */
	bool asleep;
	bool hurry;
	unsigned wake;

	/* The reader met the end or an error: every later call says so. */
	bool ended;
	ssize_t final;
	int final_err;
};

static void *
reader(void *arg)
{
	struct readahead *ra = arg;
	struct ra_block *b;
	uint64_t gen;
	off_t off;
	ssize_t r;
	int err;

	pthread_mutex_lock(&ra->mu);
	ra->running = true;
	pthread_cond_signal(&ra->filled);
	for (;;) {
		if (!ra->quit && !ra->done &&
		    ra->blk[ra->fill].state != BLOCK_FREE) {
			ra->wake = (ra->fill + ra->n / 2 - 1) % ra->n;
			ra->asleep = true;
			while (!ra->quit && !ra->done &&
			    ra->blk[ra->wake].state != BLOCK_FREE &&
			    !(ra->hurry &&
			    ra->blk[ra->fill].state == BLOCK_FREE))
				pthread_cond_wait(&ra->freed, &ra->mu);
			ra->asleep = false;
			ra->hurry = false;
		}
		while (!ra->quit &&
		    (ra->done || ra->blk[ra->fill].state != BLOCK_FREE))
			pthread_cond_wait(&ra->freed, &ra->mu);
		if (ra->quit)
			break;
		b = &ra->blk[ra->fill];
		b->state = BLOCK_FILLING;
		gen = ra->gen;
		off = ra->off;
		pthread_mutex_unlock(&ra->mu);
		do
			r = pread(ra->fd, b->mem + ra->reserve, ra->block_size,
			    off);
		while (r < 0 && errno == EINTR);
		err = r < 0 ? errno : 0;
		pthread_mutex_lock(&ra->mu);
		if (gen != ra->gen) {
			/* A seek came meanwhile: the ring starts again here. */
			b->state = BLOCK_FREE;
			continue;
		}
		b->len = r;
		b->err = err;
		b->state = BLOCK_FULL;
		ra->fill = (ra->fill + 1) % ra->n;
		if (r <= 0)
			ra->done = true;
		else
			ra->off += r;
		pthread_cond_signal(&ra->filled);
	}
	pthread_mutex_unlock(&ra->mu);
	return NULL;
}

struct readahead *
readahead_start(int fd, off_t offset, size_t block_size, size_t reserve,
    unsigned nblocks)
{
	struct readahead *ra;
	sigset_t all, old;
	size_t size;
	unsigned i;
	int rc;

	if (nblocks < 2 || block_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((ra = calloc(1, sizeof(*ra))) == NULL)
		return NULL;
	ra->fd = fd;
	ra->block_size = block_size;
	ra->reserve = (reserve + READAHEAD_ALIGN - 1) / READAHEAD_ALIGN *
	    READAHEAD_ALIGN;
	ra->n = nblocks;
	ra->off = offset;
	size = (ra->reserve + block_size + READAHEAD_ALIGN - 1) /
	    READAHEAD_ALIGN * READAHEAD_ALIGN;
	if ((ra->blk = calloc(nblocks, sizeof(*ra->blk))) == NULL)
		goto fail;
	for (i = 0; i < nblocks; i++)
		if ((ra->blk[i].mem = aligned_alloc(READAHEAD_ALIGN, size)) ==
		    NULL)
			goto fail;
	pthread_mutex_init(&ra->mu, NULL);
	pthread_cond_init(&ra->filled, NULL);
	pthread_cond_init(&ra->freed, NULL);
	/* Signals are for the main thread, which takes them when it waits. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ra->thread, NULL, reader, ra);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&ra->freed);
		pthread_cond_destroy(&ra->filled);
		pthread_mutex_destroy(&ra->mu);
		errno = rc;
		goto fail;
	}
	/*
	 * A new thread makes system calls of its own before it runs reader()
	 * (glibc registers its rseq area and robust futex list): wait for
	 * them, so that a seccomp filter installed next (sandbox.c) never
	 * sees them.
	 */
	pthread_mutex_lock(&ra->mu);
	while (!ra->running)
		pthread_cond_wait(&ra->filled, &ra->mu);
	pthread_mutex_unlock(&ra->mu);
	return ra;
fail:
	rc = errno;
	if (ra->blk != NULL)
		for (i = 0; i < nblocks; i++)
			free(ra->blk[i].mem);
	free(ra->blk);
	free(ra);
	errno = rc;
	return NULL;
}

ssize_t
readahead_next(struct readahead *ra, uint8_t **data)
{
	struct ra_block *b;
	ssize_t r;

	pthread_mutex_lock(&ra->mu);
	while (!ra->ended && ra->blk[ra->take].state != BLOCK_FULL) {
		if (ra->asleep && !ra->hurry) {
			ra->hurry = true;
			pthread_cond_signal(&ra->freed);
		}
		pthread_cond_wait(&ra->filled, &ra->mu);
	}
	b = &ra->blk[ra->take];
	if (!ra->ended && b->len > 0) {
		b->state = BLOCK_HELD;
		ra->take = (ra->take + 1) % ra->n;
		ra->held++;
		*data = b->mem + ra->reserve;
		r = b->len;
		pthread_mutex_unlock(&ra->mu);
		return r;
	}
	if (!ra->ended) {
		/* The thread waits for a seek now; this block is spent. */
		ra->ended = true;
		ra->final = b->len;
		ra->final_err = b->err;
		b->state = BLOCK_FREE;
	}
	r = ra->final;
	errno = ra->final_err;
	pthread_mutex_unlock(&ra->mu);
	return r;
}

void
readahead_release(struct readahead *ra)
{
	pthread_mutex_lock(&ra->mu);
	if (ra->held > 0) {
		ra->blk[(ra->take + ra->n - ra->held) % ra->n].state =
		    BLOCK_FREE;
		ra->held--;
		if (ra->asleep && (ra->blk[ra->wake].state == BLOCK_FREE ||
		    ra->hurry))
			pthread_cond_signal(&ra->freed);
	}
	pthread_mutex_unlock(&ra->mu);
}

void
readahead_seek(struct readahead *ra, off_t offset)
{
	unsigned i;

	pthread_mutex_lock(&ra->mu);
	ra->gen++;
	ra->off = offset;
	ra->done = false;
	ra->ended = false;
	for (i = 0; i < ra->n; i++)
		if (ra->blk[i].state != BLOCK_FILLING)
			ra->blk[i].state = BLOCK_FREE;
	/* The block being filled, if any, is at fill and comes back free. */
	ra->take = ra->fill;
	ra->held = 0;
	pthread_cond_signal(&ra->freed);
	pthread_mutex_unlock(&ra->mu);
}

void
readahead_stop(struct readahead *ra)
{
	unsigned i;

	if (ra == NULL)
		return;
	pthread_mutex_lock(&ra->mu);
	ra->quit = true;
	pthread_cond_signal(&ra->freed);
	pthread_mutex_unlock(&ra->mu);
	pthread_join(ra->thread, NULL);
	pthread_cond_destroy(&ra->freed);
	pthread_cond_destroy(&ra->filled);
	pthread_mutex_destroy(&ra->mu);
	for (i = 0; i < ra->n; i++)
		free(ra->blk[i].mem);
	free(ra->blk);
	free(ra);
}
