/* pipefill.h: a thread that reads a pipe into buffers its reader gives it. */
#ifndef FLOWGREP_PIPEFILL_H
#define FLOWGREP_PIPEFILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reading a pipe copies every byte out of the kernel, a quarter of the work
 * of a one-pattern run on standard input; a second thread does it while the
 * first decodes and matches what was read before. Unlike readahead.c, the
 * memory is the reader's (the hold pool's chunks, where held packets stay
 * without a copy): the reader gives buffers, the thread fills each whole, in
 * the order given, and the reader takes what is read as soon as it is read,
 * piece by piece, so that a slow pipe (tcpdump -w - on a quiet link) is not
 * held back until a buffer fills.
 */
struct pipefill;

/* Buffers given and not yet let go, at most. */
#define PIPEFILL_SLOTS 4

/* pipefill_take(): nothing read yet; wait for pipefill_fd(). */
#define PIPEFILL_EMPTY (-2)
/* pipefill_take(): every buffer given is full; give another. */
#define PIPEFILL_STARVED (-3)

/*
 * Starts reading fd. The thread blocks every signal and has made the system
 * calls of its start when this returns: a seccomp filter installed then
 * (with TSYNC) sees only poll(2), read(2), write(2) and futex(2), and those
 * of its end. Returns NULL with errno set when it cannot start.
 */
struct pipefill *pipefill_start(int fd);

/*
 * Gives the thread len bytes at mem to read into once the buffers given
 * before are full. tag comes back with every piece read into it. The
 * caller gives at most PIPEFILL_SLOTS - pipefill_given() at a time.
 */
void pipefill_give(struct pipefill *pf, uint8_t *mem, size_t len, void *tag);

/* Buffers given and not yet let go (the one read from now included). */
unsigned pipefill_given(struct pipefill *pf);

/*
 * The bytes read since the last call: *data points at them in a buffer
 * given, *tag is that buffer's tag and *first says they start it. A buffer
 * is let go (the thread writes to it no more, and pipefill_given() counts
 * it no more) when a piece of the next one is taken. Returns the length,
 * 0 at the end of the input and -1 with errno set on a read error (both
 * final, once every byte before is taken), PIPEFILL_EMPTY when the thread
 * has read nothing new yet, PIPEFILL_STARVED when it has no room left.
 */
ssize_t pipefill_take(struct pipefill *pf, uint8_t **data, void **tag,
    bool *first);

/*
 * Readable after pipefill_take() said PIPEFILL_EMPTY, once there is
 * something to take; poll(2) it, then pipefill_clear().
 */
int pipefill_fd(const struct pipefill *pf);
void pipefill_clear(struct pipefill *pf);

/*
 * Stops the thread, even in the middle of waiting for the pipe, and frees
 * everything but the buffers given; NULL is allowed. Reading fd may go on
 * in the caller where the thread left it when pipefill_take() said
 * PIPEFILL_STARVED.
 */
void pipefill_stop(struct pipefill *pf);

#endif
