/* pipefill.c: a thread that reads a pipe into buffers its reader gives it. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pipefill.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
/* Populating is worth it for whole pages only. */
#define PIPEFILL_PAGE 4096

struct pf_slot {
	uint8_t *mem;
	size_t len;
	size_t filled;		/* by the thread */
	size_t took;		/* by the reader */
	void *tag;
};

/*
 * Slots are numbered from 0 for ever (mod PIPEFILL_SLOTS in the array):
 * the reader takes from `head`, the thread reads into `fill`, head <= fill
 * < head + count while count > 0. The thread moves on from a slot only when
 * it is full, and the reader lets a slot go only when it is full and every
 * byte of it taken, so neither frees memory the other uses.
 */
struct pipefill {
	int fd;
	int wake_fd;		/* the thread tells a waiting reader */
	int stop_fd;		/* the reader tells a thread waiting on fd */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t given;	/* a slot given, or quit */

	struct pf_slot slot[PIPEFILL_SLOTS];
	unsigned head;
	unsigned fill;
	unsigned count;
	bool done;		/* the thread met the end or an error */
	int err;
	bool waiting;		/* the reader waits on wake_fd */
	bool quit;
	bool running;
	bool no_populate;	/* the thread's alone */
};

static struct pf_slot *
slot_at(struct pipefill *pf, unsigned i)
{
	return &pf->slot[i % PIPEFILL_SLOTS];
}

/* Under the lock: the slot with room to read into, or NULL. */
static struct pf_slot *
room(struct pipefill *pf)
{
	struct pf_slot *s;

	if (pf->count == 0)
		return NULL;
	for (;;) {
		s = slot_at(pf, pf->fill);
		if (s->filled < s->len)
			return s;
		if (pf->fill + 1 == pf->head + pf->count)
			return NULL;
		pf->fill++;
	}
}

/*
 * Reads what the pipe has, up to len bytes, waiting for it with the stop
 * descriptor beside it. Returns the length, 0 at the end, -1 with errno
 * set on an error, PIPEFILL_EMPTY when told to stop.
 */
static ssize_t
read_some(struct pipefill *pf, uint8_t *p, size_t len)
{
	struct pollfd pfd[2];
	ssize_t r;

	for (;;) {
		pfd[0].fd = pf->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = pf->stop_fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[1].revents != 0)
			return PIPEFILL_EMPTY;
		r = read(pf->fd, p, len);
		/* EAGAIN: a descriptor left non-blocking; poll again. */
		if (r >= 0 || (errno != EINTR && errno != EAGAIN))
			return r;
	}
}

/*
 * Maps a buffer's pages with one system call before reading into it, not a
 * page fault each (Linux 5.14 and later): on 256 MiB of new memory, about
 * 0.1 s, which this thread spends rather than the reader.
 */
static void
populate(struct pipefill *pf, uint8_t *p, size_t len)
{
	uintptr_t from = ((uintptr_t)p + PIPEFILL_PAGE - 1) &
	    ~(uintptr_t)(PIPEFILL_PAGE - 1);
	uintptr_t to = ((uintptr_t)p + len) & ~(uintptr_t)(PIPEFILL_PAGE - 1);

	if (pf->no_populate || to <= from)
		return;
	if (madvise((void *)from, to - from, MADV_POPULATE_WRITE) == -1 &&
	    errno == EINVAL)
		pf->no_populate = true;	/* an older kernel */
}

static void
wake_reader(struct pipefill *pf)
{
	uint64_t one = 1;

	/* A full counter already wakes the reader: nothing is lost. */
	(void)!write(pf->wake_fd, &one, sizeof(one));
}

static void *
filler(void *arg)
{
	struct pipefill *pf = arg;
	struct pf_slot *s;
	uint8_t *at;
	size_t len;
	bool wake;
	ssize_t r;
	int err;

	pthread_mutex_lock(&pf->mu);
	pf->running = true;
	pthread_cond_broadcast(&pf->given);
	for (;;) {
		while (!pf->quit && (s = room(pf)) == NULL)
			pthread_cond_wait(&pf->given, &pf->mu);
		if (pf->quit)
			break;
		at = s->mem + s->filled;
		len = s->len - s->filled;
		pthread_mutex_unlock(&pf->mu);
		if (at == s->mem)
			populate(pf, at, len);
		r = read_some(pf, at, len);
		err = errno;
		pthread_mutex_lock(&pf->mu);
		if (r == PIPEFILL_EMPTY)
			break;
		if (r > 0)
			s->filled += (size_t)r;
		else {
			pf->done = true;
			pf->err = r < 0 ? err : 0;
		}
		wake = pf->waiting;
		pf->waiting = false;
		if (wake)
			wake_reader(pf);
		if (pf->done)
			break;
	}
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

struct pipefill *
pipefill_start(int fd)
{
	struct pipefill *pf;
	sigset_t all, old;
	int rc;

	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return NULL;
	pf->fd = fd;
	pf->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pf->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pf->wake_fd < 0 || pf->stop_fd < 0) {
		rc = errno;
		goto fail;
	}
	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->given, NULL);
	/* Signals are for the reader, which takes them when it waits. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&pf->thread, NULL, filler, pf);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&pf->given);
		pthread_mutex_destroy(&pf->mu);
		goto fail;
	}
	/*
	 * As in readahead.c: the new thread's own first system calls are made
	 * before a seccomp filter can be installed.
	 */
	pthread_mutex_lock(&pf->mu);
	while (!pf->running)
		pthread_cond_wait(&pf->given, &pf->mu);
	pthread_mutex_unlock(&pf->mu);
	return pf;
fail:
	if (pf->wake_fd >= 0)
		close(pf->wake_fd);
	if (pf->stop_fd >= 0)
		close(pf->stop_fd);
	free(pf);
	errno = rc;
	return NULL;
}

void
pipefill_give(struct pipefill *pf, uint8_t *mem, size_t len, void *tag)
{
	struct pf_slot *s;

	pthread_mutex_lock(&pf->mu);
	if (pf->count < PIPEFILL_SLOTS) {
		s = slot_at(pf, pf->head + pf->count);
		s->mem = mem;
		s->len = len;
		s->filled = 0;
		s->took = 0;
		s->tag = tag;
		if (pf->count++ == 0)
			pf->fill = pf->head;
		pthread_cond_signal(&pf->given);
	}
	pthread_mutex_unlock(&pf->mu);
}

unsigned
pipefill_given(struct pipefill *pf)
{
	unsigned n;

	pthread_mutex_lock(&pf->mu);
	n = pf->count;
	pthread_mutex_unlock(&pf->mu);
	return n;
}

ssize_t
pipefill_take(struct pipefill *pf, uint8_t **data, void **tag, bool *first)
{
	struct pf_slot *s;
	ssize_t r;

	pthread_mutex_lock(&pf->mu);
	for (;;) {
		if (pf->count == 0) {
			r = pf->done ? (pf->err != 0 ? -1 : 0) :
			    PIPEFILL_STARVED;
			break;
		}
		s = slot_at(pf, pf->head);
		if (s->took < s->filled) {
			*data = s->mem + s->took;
			*tag = s->tag;
			*first = s->took == 0;
			r = (ssize_t)(s->filled - s->took);
			s->took = s->filled;
			break;
		}
		if (s->filled == s->len && pf->count > 1 &&
		    slot_at(pf, pf->head + 1)->filled > 0) {
			/* Full and taken: the next one is read from now. */
			pf->head++;
			pf->count--;
			continue;
		}
		if (pf->done)
			r = pf->err != 0 ? -1 : 0;
		else if (s->filled == s->len && pf->count == 1)
			r = PIPEFILL_STARVED;
		else {
			pf->waiting = true;
			r = PIPEFILL_EMPTY;
		}
		break;
	}
	if (r == -1)
		errno = pf->err;
	pthread_mutex_unlock(&pf->mu);
	return r;
}

int
pipefill_fd(const struct pipefill *pf)
{
	return pf->wake_fd;
}

void
pipefill_clear(struct pipefill *pf)
{
	uint64_t n;

	(void)!read(pf->wake_fd, &n, sizeof(n));
}

void
pipefill_stop(struct pipefill *pf)
{
	uint64_t one = 1;

	if (pf == NULL)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->quit = true;
	pthread_cond_signal(&pf->given);
	pthread_mutex_unlock(&pf->mu);
	/* A thread waiting on the pipe wakes on this. */
	(void)!write(pf->stop_fd, &one, sizeof(one));
	pthread_join(pf->thread, NULL);
	pthread_cond_destroy(&pf->given);
	pthread_mutex_destroy(&pf->mu);
	close(pf->wake_fd);
	close(pf->stop_fd);
	free(pf);
}
