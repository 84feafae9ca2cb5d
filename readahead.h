/* readahead.h: a thread that reads a regular file ahead of its reader. */
#ifndef FLOWGREP_READAHEAD_H
#define FLOWGREP_READAHEAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reading a file with read(2) copies every byte from the page cache, which
 * costs as much as a third of a one-pattern run; a second thread does it
 * while the first decodes and matches what was read before. The file is
 * read in blocks, a few ahead of the reader, with pread(2), so the file
 * offset is never used. Each block has `reserve` writable bytes before its
 * data, where the reader copies the end of a record the previous block
 * cut, so that the record lies whole before the new data.
 */
struct readahead;

/*
 * Starts reading fd at offset, in blocks of block_size bytes, at most
 * nblocks (2 or more) of them read and not yet let go. The thread blocks
 * every signal, and has made the system calls of its start when this
 * returns: a seccomp filter installed then (with TSYNC) sees only pread(2),
 * futex(2) and those of its end. Returns NULL with errno set when it
 * cannot start.
 */
struct readahead *readahead_start(int fd, off_t offset, size_t block_size,
    size_t reserve, unsigned nblocks);

/*
 * Returns the next block: *data points at its bytes, with the reserve
 * writable before them. The block stays the reader's until
 * readahead_release(); a caller holds at most nblocks - 1 when it asks for
 * another. Returns the length, 0 at the end of the file (then again on
 * every call), or -1 with errno set on a read error (likewise final).
 */
ssize_t readahead_next(struct readahead *ra, uint8_t **data);

/* Lets go of the oldest block the reader holds, which may be reused now. */
void readahead_release(struct readahead *ra);

/*
 * Drops every block read ahead and every block held, and goes on at
 * offset.
 */
void readahead_seek(struct readahead *ra, off_t offset);

/* Stops the thread and frees everything; NULL is allowed. */
void readahead_stop(struct readahead *ra);

#endif
