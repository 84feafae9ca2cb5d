/* pcapio.c: pcap and pcapng input, live capture, BPF and the pcap writer. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_packet.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap.h>

#include "pcapio.h"
#include "pipefill.h"
#include "readahead.h"

/*
 * Input is read with read(2) into one buffer that is reused for every
 * record, so a file costs one system call per megabyte, not per packet. The
 * buffer grows only for a record or block larger than itself. A regular
 * file larger than it is read ahead instead (PCAPIO_AHEAD_BLOCK).
 */
#define PCAPIO_BUF_SIZE (1024U * 1024)
/*
 * A regular file larger than the buffer is read by a second thread
 * (readahead.c), in blocks of this size, this many ahead, so that copying
 * it from the page cache overlaps the work on what was read before. The
 * end of a record a block cuts is copied into the reserve before the next
 * block's data: records up to this size (a header and 256 KiB) never take
 * a second copy.
 */
#define PCAPIO_AHEAD_BLOCK (1024U * 1024)
#define PCAPIO_AHEAD_BLOCKS 4
#define PCAPIO_AHEAD_RESERVE (260U * 1024)
/*
 * Pass 2 copying from blocks read ahead (pcapio_copy_ahead) seeks over a
 * gap between the records it copies when the gap is longer than this, the
 * blocks the thread reads ahead (reading through it would cost more), and
 * writes pieces at least PCAPIO_OUT_DIRECT long straight from the block.
 */
#define PCAPIO_COPY_SEEK ((uint64_t)PCAPIO_AHEAD_BLOCKS * PCAPIO_AHEAD_BLOCK)
#define PCAPIO_OUT_DIRECT (64U * 1024)
/* Output is gathered into a buffer of this size between write(2) calls. */
#define PCAPIO_OUT_BUF_SIZE (1024U * 1024)
/*
 * A stream read into the provider's chunks (pcapio_set_chunks) is read by a
 * second thread (pipefill.c), which has this many chunks to read into, the
 * one taken from included. A chunk after the first starts with a reserve,
 * where the end of a record the chunk before cut is copied; a longer end
 * goes through the own buffer until the next chunk. Chunks smaller than
 * PCAPIO_PIPE_MIN_CHUNK (a small --hold-mem) are read in the caller.
 */
#define PCAPIO_PIPE_AHEAD 3
#define PCAPIO_PIPE_RESERVE (16U * 1024)
#define PCAPIO_PIPE_MIN_CHUNK (256U * 1024)
/*
 * Without a provider (pcapio_read_ahead()), pcapio's own chunks: those
 * given ahead, the one read from and the one before it, which the thread
 * may not write to yet.
 */
#define PCAPIO_POOL_CHUNKS (PCAPIO_PIPE_AHEAD + 2)
#define PCAPIO_POOL_CHUNK (1024U * 1024)
/* Asked of a pipe read or written (the default maximum is 1 MiB). */
#define PCAPIO_PIPE_SIZE (1024 * 1024)
/*
 * A header's snap length raises the largest record accepted above
 * PCAPIO_MAX_CAPLEN, but no further than this: a damaged header must not
 * make us buffer gigabytes for one record.
 */
#define PCAPIO_SNAPLEN_CEILING (16U * 1024 * 1024)
/* The largest pcapng block that is read whole (packet, interface, section). */
#define PCAPNG_MAX_BLOCK (PCAPIO_SNAPLEN_CEILING + 1024U * 1024)
/*
 * At open, pcapng input is read ahead to its first packet block to learn the
 * output link type; past this many bytes the first interface is used.
 */
#define PCAPNG_LOOKAHEAD_MAX (16U * 1024 * 1024)
/* Interfaces one pcapng section may describe. */
#define PCAPNG_MAX_INTERFACES 65536U
/* The snap length written for pcapng interfaces that declare none. */
#define PCAPIO_DEFAULT_SNAPLEN 262144U

#define PCAP_MAGIC_USEC 0xa1b2c3d4U
#define PCAP_MAGIC_NSEC 0xa1b23c4dU
#define PCAP_SWAPPED_USEC 0xd4c3b2a1U
#define PCAP_SWAPPED_NSEC 0x4d3cb2a1U
/* Bits 16-25 of the link type field must be zero; 26-31 describe the FCS. */
#define PCAP_LINKTYPE_RESERVED 0x03ff0000U

/* pcapng block types and options (draft-ietf-opsawg-pcapng). */
#define PCAPNG_SHB 0x0a0d0d0aU
#define PCAPNG_BOM 0x1a2b3c4dU
#define PCAPNG_SWAPPED_BOM 0x4d3c2b1aU
#define PCAPNG_IDB 1U
#define PCAPNG_PB 2U
#define PCAPNG_SPB 3U
#define PCAPNG_EPB 6U
#define PCAPNG_OPT_END 0
#define PCAPNG_OPT_TSRESOL 9
#define PCAPNG_OPT_TSOFFSET 14
/* Fixed parts: block header (8) and the fields before the packet data. */
#define PCAPNG_EPB_FIXED 28U
#define PCAPNG_SPB_FIXED 12U
#define PCAPNG_SHB_MIN 28U
#define PCAPNG_IDB_MIN 20U

#define NS_PER_SEC 1000000000ULL

struct pcapng_iface {
	uint16_t linktype;
	uint32_t snaplen;
	uint64_t units;		/* timestamp units per second (if_tsresol) */
	int64_t offset;		/* seconds added to timestamps (if_tsoffset) */
};

struct pcapio_in {
	int fd;			/* live: libpcap's socket, not owned */
	bool own_fd;
	bool regular;
	off_t base;		/* offset in fd where the capture starts */
	struct stats *st;

	/* Read buffer: valid bytes are buf[start, end). */
	uint8_t *buf;
	size_t cap;
	size_t start;
	size_t end;
	bool eof;
	uint64_t pos;		/* stream offset of buf[start] */
	/* buf is own, or a chunk of the provider (pcapio_set_chunks). */
	uint8_t *own;
	size_t own_cap;
	bool in_chunk;
	bool have_chunks;
	struct pcapio_chunks chunks;
	/*
	 * The thread reading into chunks, and the chunk its last piece was
	 * read into; buf is in that chunk, or own (in_chunk false).
	 */
	struct pipefill *pf;
	uint8_t *pf_chunk;
	/* pcapio_read_ahead(): the chunks, and which are given out. */
	uint8_t *pool;
	bool pool_taken[PCAPIO_POOL_CHUNKS];
	/*
	 * In the own buffer, own[mirror_off, end) is a copy of the chunk's
	 * bytes from mirror on: once start reaches mirror_off, reading goes
	 * back into the chunk (piped_back()).
	 */
	uint8_t *mirror;
	size_t mirror_off;
	/* A regular file read ahead; buf may be a block of it (in_block). */
	struct readahead *ra;
	bool in_block;
	/*
	 * pcapio_copy_ahead(): the block copied from, at copy_off; held while
	 * copy_left is not 0.
	 */
	bool copy_ahead;
	const uint8_t *copy_at;
	size_t copy_left;
	uint64_t copy_off;

	/* Output view of the input. */
	bool ng;
	bool nano;
	int linktype;
	uint32_t snaplen;
	uint8_t fhdr[PCAPIO_FILE_HEADER_LEN];

	/* Classic pcap. */
	bool swap;		/* file or pcapng section in the other order */
	bool file_nano;
	int lengths;		/* LENGTHS_* */
	uint32_t limit;		/* largest capture length accepted */

	/* pcapng: interfaces of the current section. */
	struct pcapng_iface *ifs;
	uint32_t nifs;
	uint32_t ifs_cap;

	/* Position. */
	uint64_t recno;		/* records met this pass, filtered or not */
	uint64_t recno_hi;	/* records already counted in st */
	uint64_t index;		/* records returned this pass */

	/* BPF. */
	struct bpf_program bpf;
	bool have_bpf;

	/* Set by a signal handler: stop reading. */
	const volatile sig_atomic_t *interrupt;
	bool stopped;		/* a stop signal ended the input */
	/* Signals: taken only while waiting for input (pcapio_set_signals). */
	const sigset_t *wait_mask;
	const volatile sig_atomic_t *wake;
	void (*wake_fn)(void *);
	void *wake_ctx;

	/* Live capture: libpcap reads the device; NULL for files. */
	pcap_t *pcap;
	char *device;
	uint32_t drop_seen;	/* ps_drop + ps_ifdrop at the last pcap_stats */
	uint64_t drops;		/* kernel drops since the open, unwrapped */

	/* Damage is final: later calls repeat the message. */
	bool failed;
	char err[PCAPIO_ERRBUF_SIZE];
};

/*
 * libpcap before 0.9.2 (file versions 2.0 to 2.2) wrote caplen and len in
 * each other's place; 2.3 files may or may not have them swapped. libpcap
 * and Wireshark swap them back, and so do we.
 */
enum {
	LENGTHS_NOT_SWAPPED,
	LENGTHS_MAYBE_SWAPPED,
	LENGTHS_SWAPPED,
};

struct pcapio_out {
	int fd;
	bool own_fd;
	bool unbuffered;
	struct stats *st;
	uint8_t *buf;
	size_t len;
	int err;		/* first write error, 0 if none */
};

static void in_error(struct pcapio_in *, char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats a final input error into in->err and errbuf. */
static void
in_error(struct pcapio_in *in, char *errbuf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->err, sizeof(in->err), fmt, ap);
	va_end(ap);
	in->failed = true;
	if (errbuf != NULL)
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", in->err);
}

static uint16_t
rd16(const struct pcapio_in *in, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return in->swap ? __builtin_bswap16(v) : v;
}

static uint32_t
rd32(const struct pcapio_in *in, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return in->swap ? __builtin_bswap32(v) : v;
}

static uint64_t
rd64(const struct pcapio_in *in, const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return in->swap ? __builtin_bswap64(v) : v;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The largest capture length believed for a given snap length. */
static uint32_t
caplen_limit(uint32_t snaplen)
{
	if (snaplen > PCAPIO_SNAPLEN_CEILING)
		snaplen = PCAPIO_SNAPLEN_CEILING;
	return (uint32_t)max_u64(snaplen, PCAPIO_MAX_CAPLEN);
}

/* The stream offset of the byte at buf[start + rel], for messages. */
static uint64_t
in_offset(const struct pcapio_in *in, size_t rel)
{
	return (in->regular ? (uint64_t)in->base : 0) + in->pos + rel;
}

/*
 * With pcapio_set_signals, the caller's signals are blocked except while
 * waiting here: a signal then never interrupts a write half-way. Returns -1
 * when a signal was taken (after ending the input for a stop, or calling
 * the wake function), 0 when the fd is ready.
 */
static bool
in_signalled(struct pcapio_in *in)
{
	bool any = false;

	if (in->interrupt != NULL && *in->interrupt) {
		in->eof = true;
		in->stopped = true;
		any = true;
	}
	if (in->wake != NULL && *in->wake && in->wake_fn != NULL) {
		in->wake_fn(in->wake_ctx);
		any = true;
	}
	return any;
}

static int
in_wait_on(struct pcapio_in *in, int fd)
{
	struct pollfd pfd;
	sigset_t old;

	if (in->wait_mask == NULL) {
		if (fd == in->fd)
			return 0;
		/* The thread's descriptor: no read(2) blocks here. */
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1 && errno == EINTR &&
		    in->interrupt != NULL && *in->interrupt) {
			in->eof = true;
			return -1;
		}
		return 0;
	}
	/*
	 * ppoll does not deliver a pending signal when the input is ready at
	 * once (a regular file always is): open the mask for a moment first.
	 */
	if (sigprocmask(SIG_SETMASK, in->wait_mask, &old) == 0)
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
	if (in_signalled(in))
		return -1;
	if (in->regular)
		return 0;
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (ppoll(&pfd, 1, NULL, in->wait_mask) >= 0 || errno != EINTR)
		return 0;
	in_signalled(in);
	return -1;
}

static int
in_wait(struct pcapio_in *in)
{
	return in_wait_on(in, in->fd);
}

/*
 * With a chunk provider, the bytes not yet consumed move to a fresh chunk
 * when the next n do not fit in the current one; records already returned
 * stay where they are, for whoever keeps them. Without a chunk to be had,
 * reading goes on in the own buffer.
 */
static void
in_next_chunk(struct pcapio_in *in, size_t n)
{
	size_t have = in->end - in->start, size = 0;
	uint8_t *c;

	if (in->in_chunk && in->start + n <= in->cap)
		return;
	c = in->chunks.get(in->chunks.ctx, n, &size);
	if (c == NULL && !in->in_chunk)
		return;
	if (c == NULL) {
		/* Back to the own buffer, which the caller grows if need be. */
		c = in->own;
		size = in->own_cap;
		if (have > size)
			have = size;	/* never: a chunk is no larger */
	}
	memcpy(c, in->buf + in->start, have);
	if (in->in_chunk)
		in->chunks.put(in->chunks.ctx, in->buf);
	in->in_chunk = c != in->own;
	in->buf = c;
	in->cap = size;
	in->start = 0;
	in->end = have;
}

/*
 * Grows the own buffer to hold n bytes, in whole PCAPIO_BUF_SIZE, keeping
 * its bytes. Returns -1 with errno ENOMEM when it cannot.
 */
static int
own_grow(struct pcapio_in *in, size_t n)
{
	size_t ncap = (n + PCAPIO_BUF_SIZE - 1) / PCAPIO_BUF_SIZE *
	    PCAPIO_BUF_SIZE;
	uint8_t *nbuf = realloc(in->own, ncap);

	if (nbuf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	in->own = nbuf;
	in->own_cap = ncap;
	return 0;
}

/*
 * Gathers the bytes left in buf and the r bytes of the block just taken
 * into the own buffer, and lets the blocks go: for a record longer than
 * the reserve. Returns -1 with errno set when the buffer cannot grow.
 */
static int
in_gather(struct pcapio_in *in, const uint8_t *data, size_t r)
{
	size_t have = in->end - in->start, need = have + r;

	if (!in->in_block)
		memmove(in->own, in->buf + in->start, have);
	if (need > in->own_cap && own_grow(in, need) == -1)
		return -1;
	if (in->in_block) {
		memcpy(in->own, in->buf + in->start, have);
		readahead_release(in->ra);
	}
	memcpy(in->own + have, data, r);
	readahead_release(in->ra);
	in->buf = in->own;
	in->cap = in->own_cap;
	in->in_block = false;
	in->start = 0;
	in->end = need;
	return 0;
}

/*
 * Appends n bytes to the own buffer, moving its bytes to its start first
 * when they would not fit. Returns -1 with errno ENOMEM when it cannot
 * grow.
 */
static int
own_append(struct pcapio_in *in, const uint8_t *p, size_t n)
{
	size_t have = in->end - in->start;

	if (in->end + n > in->own_cap) {
		memmove(in->own, in->own + in->start, have);
		if (in->mirror != NULL)
			in->mirror_off -= in->start;
		in->start = 0;
		in->end = have;
		if (have + n > in->own_cap && own_grow(in, have + n) == -1)
			return -1;
		in->buf = in->own;
		in->cap = in->own_cap;
	}
	memcpy(in->own + in->end, p, n);
	in->end += n;
	return 0;
}

/*
 * Keeps the thread PCAPIO_PIPE_AHEAD chunks to read into, if the pool can.
 * Called only where the bytes read so far say (a new chunk, every chunk
 * given read), never as the thread's pace has it: the pool may drop held
 * packets to give a chunk, and which it drops must not depend on timing.
 */
static void
piped_top_up(struct pcapio_in *in)
{
	size_t size = 0;
	uint8_t *c;

	while (pipefill_given(in->pf) < PCAPIO_PIPE_AHEAD &&
	    (c = in->chunks.get(in->chunks.ctx, PCAPIO_PIPE_MIN_CHUNK,
	    &size)) != NULL)
		pipefill_give(in->pf, c + PCAPIO_PIPE_RESERVE,
		    size - PCAPIO_PIPE_RESERVE, c);
}

/*
 * The bytes not yet consumed move from the chunk into the own buffer (and
 * stay there when they are in it). Returns -1 with errno ENOMEM when it
 * cannot grow.
 */
static int
piped_to_own(struct pcapio_in *in)
{
	size_t have = in->end - in->start;

	in->mirror = NULL;
	if (!in->in_chunk)
		return 0;
	if (have > in->own_cap && own_grow(in, have) == -1)
		return -1;
	memcpy(in->own, in->buf + in->start, have);
	in->buf = in->own;
	in->cap = in->own_cap;
	in->in_chunk = false;
	in->start = 0;
	in->end = have;
	return 0;
}

/*
 * The first r bytes read into chunk c, at data: the bytes not yet consumed
 * go just before them, into the reserve (or, too many, everything into the
 * own buffer), and the chunk read before goes back to the provider.
 */
static int
piped_new_chunk(struct pcapio_in *in, uint8_t *data, size_t r, uint8_t *c)
{
	size_t have = in->end - in->start;

	if (have <= PCAPIO_PIPE_RESERVE) {
		memcpy(data - have, in->buf + in->start, have);
		in->mirror = NULL;
		in->buf = data - have;
		in->in_chunk = true;
		in->start = 0;
		in->cap = in->end = have + r;
	} else {
		if (piped_to_own(in) == -1 || own_append(in, data, r) == -1)
			return -1;
		in->mirror = data;
		in->mirror_off = in->end - r;
	}
	if (in->pf_chunk != NULL)
		in->chunks.put(in->chunks.ctx, in->pf_chunk);
	in->pf_chunk = c;
	return 0;
}

/*
 * The record a chunk's end cut is consumed from the own buffer: the rest
 * is read where it lies in the chunk again.
 */
static void
piped_back(struct pcapio_in *in)
{
	in->buf = in->mirror + (in->start - in->mirror_off);
	in->end -= in->start;
	in->cap = in->end;
	in->start = 0;
	in->in_chunk = true;
	in->mirror = NULL;
}

/*
 * The thread has no chunk left to read into and the pool none to give:
 * the thread stops, and reading goes on here (in_fill()), from the own
 * buffer, where the bytes not yet consumed move.
 */
static int
piped_stop(struct pcapio_in *in)
{
	pipefill_stop(in->pf);
	in->pf = NULL;
	if (piped_to_own(in) == -1)
		return -1;
	if (in->pf_chunk != NULL)
		in->chunks.put(in->chunks.ctx, in->pf_chunk);
	in->pf_chunk = NULL;
	return 0;
}

static ssize_t in_fill(struct pcapio_in *in, size_t n);

/*
 * in_fill() for a stream the thread reads: its pieces extend the chunk they
 * are read into, where they lie (in the own buffer, they are copied).
 */
static ssize_t
in_fill_piped(struct pcapio_in *in, size_t n)
{
	while (in->end - in->start < n && !in->eof) {
		uint8_t *data;
		void *tag;
		bool first;
		ssize_t r;

		r = pipefill_take(in->pf, &data, &tag, &first);
		if (r == PIPEFILL_EMPTY) {
			if (in_wait_on(in, pipefill_fd(in->pf)) == 0)
				pipefill_clear(in->pf);
			continue;
		}
		if (r == PIPEFILL_STARVED) {
			unsigned given = pipefill_given(in->pf);

			piped_top_up(in);
			if (pipefill_given(in->pf) > given)
				continue;
			return piped_stop(in) == -1 ? -1 : in_fill(in, n);
		}
		if (r < 0)
			return -1;
		if (r == 0) {
			in->eof = true;
			break;
		}
		if (first && tag != in->pf_chunk) {
			if (piped_new_chunk(in, data, (size_t)r, tag) == -1)
				return -1;
			piped_top_up(in);
		} else if (in->in_chunk && data == in->buf + in->end) {
			in->end += (size_t)r;
			in->cap = in->end;
		} else if (own_append(in, data, (size_t)r) == -1)
			return -1;
	}
	return (ssize_t)(in->end - in->start);
}

/* in_fill() for a file read ahead: the next blocks, used where they lie. */
static ssize_t
in_fill_ahead(struct pcapio_in *in, size_t n)
{
	while (in->end - in->start < n && !in->eof) {
		size_t have = in->end - in->start;
		uint8_t *data;
		ssize_t r;

		if (in_wait(in) == -1)
			continue;	/* a signal was taken: look again */
		if ((r = readahead_next(in->ra, &data)) < 0)
			return -1;
		if (r == 0) {
			in->eof = true;
			break;
		}
		if (have > PCAPIO_AHEAD_RESERVE) {
			if (in_gather(in, data, (size_t)r) == -1)
				return -1;
			continue;
		}
		memcpy(data - have, in->buf + in->start, have);
		if (in->in_block)
			readahead_release(in->ra);
		in->buf = data - have;
		in->cap = have + PCAPIO_AHEAD_BLOCK;
		in->in_block = true;
		in->start = 0;
		in->end = have + (size_t)r;
	}
	return (ssize_t)(in->end - in->start);
}

/*
 * What one read(2) may take into the buffer. Before a stream's chunks are
 * set, no more than the smallest chunk the thread reads into: the bytes
 * read then all move into the first chunk, which thus starts where the
 * header ends, and every chunk after it at a place the input alone decides
 * (not how much the writer had written when the header was read), and so
 * does what the pool drops when it is full.
 */
static size_t
in_room(const struct pcapio_in *in)
{
	size_t room = in->cap - in->end;

	if (!in->regular && !in->have_chunks &&
	    in->end < PCAPIO_PIPE_MIN_CHUNK &&
	    room > PCAPIO_PIPE_MIN_CHUNK - in->end)
		room = PCAPIO_PIPE_MIN_CHUNK - in->end;
	return room;
}

/*
 * Makes n bytes available at buf + start, reading as much as the buffer
 * holds per read(2) and retrying short reads and EINTR. Returns the bytes
 * available, fewer than n only at the end of the input, or -1 with errno set
 * on a read error or when the buffer cannot grow.
 */
static ssize_t
in_fill(struct pcapio_in *in, size_t n)
{
	size_t have = in->end - in->start;

	if (in->mirror != NULL && in->start >= in->mirror_off)
		piped_back(in);
	if (have >= n)
		return (ssize_t)have;
	if (in->ra != NULL)
		return in_fill_ahead(in, n);
	if (in->pf != NULL)
		return in_fill_piped(in, n);
	if (in->have_chunks)
		in_next_chunk(in, n);
	/*
	 * In the own buffer, compact when the record would not fit behind
	 * start, or when half the buffer is already consumed, so reads stay
	 * large.
	 */
	if (!in->in_chunk &&
	    (in->start + n > in->cap || in->start >= in->cap / 2)) {
		memmove(in->buf, in->buf + in->start, have);
		in->start = 0;
		in->end = have;
	}
	if (!in->in_chunk && n > in->cap) {
		if (own_grow(in, n) == -1)
			return -1;
		in->buf = in->own;
		in->cap = in->own_cap;
	}
	while (in->end - in->start < n && !in->eof) {
		ssize_t r;

		if (in_wait(in) == -1)
			continue;	/* a signal was taken: look again */
		r = read(in->fd, in->buf + in->end, in_room(in));

		if (r < 0) {
			if (errno != EINTR)
				return -1;
			/* A signal asked the run to end: like the input's end. */
			if (in->interrupt != NULL && *in->interrupt)
				in->eof = true;
			continue;
		}
		if (r == 0)
			in->eof = true;
		in->end += (size_t)r;
	}
	return (ssize_t)(in->end - in->start);
}

static void
in_consume(struct pcapio_in *in, size_t n)
{
	in->start += n;
	in->pos += n;
}

/* Resets the buffer after a seek to stream offset pos. */
static void
in_reset(struct pcapio_in *in, uint64_t pos)
{
	in->start = in->end = 0;
	in->eof = false;
	in->pos = pos;
	if (in->ra != NULL) {
		readahead_seek(in->ra, in->base + (off_t)pos);
		in->buf = in->own;
		in->cap = in->own_cap;
		in->in_block = false;
		in->copy_ahead = false;
		in->copy_left = 0;
	}
}

/* Counts a record in st only the first time the file is read. */
static bool
in_first_pass(struct pcapio_in *in)
{
	if (in->recno <= in->recno_hi)
		return false;
	in->recno_hi = in->recno;
	return in->st != NULL;
}

/*
 * Applies the filter to a record. Returns true when it passes; a rejected
 * record is counted in packets_filtered on the first pass.
 */
static bool
in_filter(struct pcapio_in *in, struct pcap_rec *rec, bool count)
{
	struct pcap_pkthdr h;

	if (in->have_bpf) {
		memset(&h, 0, sizeof(h));
		h.caplen = rec->caplen;
		h.len = rec->wirelen;
		if (pcap_offline_filter(&in->bpf, &h, rec->data) == 0) {
			if (count)
				in->st->packets_filtered++;
			return false;
		}
	}
	if (count) {
		in->st->packets_read++;
		in->st->bytes_read += rec->caplen;
	}
	rec->index = in->index++;
	return true;
}

/* Fills errbuf with the "record N at byte offset X: " prefix and a reason. */
static int
rec_error(struct pcapio_in *in, char *errbuf, const char *why)
{
	in_error(in, errbuf, "record %" PRIu64 " at byte offset %" PRIu64
	    ": %s", in->recno + 1, in_offset(in, 0), why);
	return -1;
}

static int
rec_truncated(struct pcapio_in *in, char *errbuf)
{
	return rec_error(in, errbuf,
	    "file ends in the middle of a record (truncated capture)");
}

static int
rec_read_error(struct pcapio_in *in, char *errbuf)
{
	char why[PCAPIO_ERRBUF_SIZE];

	snprintf(why, sizeof(why), "read error: %s", strerror(errno));
	return rec_error(in, errbuf, why);
}

static int
rec_too_long(struct pcapio_in *in, char *errbuf, uint32_t caplen,
    uint32_t limit)
{
	char why[PCAPIO_ERRBUF_SIZE];

	snprintf(why, sizeof(why),
	    "capture length %" PRIu32 " exceeds the maximum %" PRIu32,
	    caplen, limit);
	return rec_error(in, errbuf, why);
}

/* ---- classic pcap ---- */

static int
pcap_open_header(struct pcapio_in *in, char *errbuf)
{
	uint32_t magic, field;
	uint16_t major, minor;
	ssize_t n;

	n = in_fill(in, PCAPIO_FILE_HEADER_LEN);
	if (n < 0) {
		in_error(in, errbuf, "%s", strerror(errno));
		return -1;
	}
	if (n < PCAPIO_FILE_HEADER_LEN) {
		in_error(in, errbuf, "file ends inside the pcap file header");
		return -1;
	}
	memcpy(in->fhdr, in->buf + in->start, PCAPIO_FILE_HEADER_LEN);
	memcpy(&magic, in->fhdr, sizeof(magic));
	in->swap = magic == PCAP_SWAPPED_USEC || magic == PCAP_SWAPPED_NSEC;
	in->file_nano = magic == PCAP_MAGIC_NSEC || magic == PCAP_SWAPPED_NSEC;
	in->nano = in->file_nano;
	major = rd16(in, in->fhdr + 4);
	minor = rd16(in, in->fhdr + 6);
	if (major != 2) {
		in_error(in, errbuf, "unsupported pcap version %u.%u", major,
		    minor);
		return -1;
	}
	in->snaplen = rd32(in, in->fhdr + 16);
	field = rd32(in, in->fhdr + 20);
	if (field & PCAP_LINKTYPE_RESERVED) {
		in_error(in, errbuf,
		    "link type field has reserved bits set (0x%08" PRIx32 ")",
		    field);
		return -1;
	}
	in->linktype = (int)(field & 0xffff);
	in->limit = caplen_limit(in->snaplen);
	if (minor < 3)
		in->lengths = LENGTHS_SWAPPED;
	else if (minor == 3)
		in->lengths = LENGTHS_MAYBE_SWAPPED;
	else
		in->lengths = LENGTHS_NOT_SWAPPED;
	in_consume(in, PCAPIO_FILE_HEADER_LEN);
	return 0;
}

static int
pcap_next_rec(struct pcapio_in *in, struct pcap_rec *rec, char *errbuf)
{
	const uint8_t *p;
	uint32_t caplen, wirelen, sec, frac;
	ssize_t n;
	bool count;

	for (;;) {
		n = in_fill(in, PCAPIO_RECORD_HEADER_LEN);
		if (n < 0)
			return rec_read_error(in, errbuf);
		if (n == 0)
			return 0;
		if (n < PCAPIO_RECORD_HEADER_LEN)
			return rec_truncated(in, errbuf);
		p = in->buf + in->start;
		caplen = rd32(in, p + 8);
		wirelen = rd32(in, p + 12);
		if (in->lengths == LENGTHS_SWAPPED || (in->lengths ==
		    LENGTHS_MAYBE_SWAPPED && caplen > wirelen)) {
			uint32_t t = caplen;

			caplen = wirelen;
			wirelen = t;
		}
		if (caplen > in->limit)
			return rec_too_long(in, errbuf, caplen, in->limit);
		n = in_fill(in, PCAPIO_RECORD_HEADER_LEN + (size_t)caplen);
		if (n < 0)
			return rec_read_error(in, errbuf);
		if ((size_t)n < PCAPIO_RECORD_HEADER_LEN + (size_t)caplen)
			return rec_truncated(in, errbuf);
		p = in->buf + in->start;
		sec = rd32(in, p);
		frac = rd32(in, p + 4);
		/* No check on frac: files with frac >= 1e9 exist; keep them. */
		rec->ts_ns = (uint64_t)sec * NS_PER_SEC +
		    (uint64_t)frac * (in->file_nano ? 1 : 1000);
		rec->caplen = caplen;
		rec->wirelen = wirelen;
		memcpy(rec->hdr, p, PCAPIO_RECORD_HEADER_LEN);
		rec->data = p + PCAPIO_RECORD_HEADER_LEN;
		rec->raw_hdr = true;
		rec->offset = in_offset(in, 0);
		in_consume(in, PCAPIO_RECORD_HEADER_LEN + (size_t)caplen);
		in->recno++;
		count = in_first_pass(in);
		if (in_filter(in, rec, count))
			return 1;
	}
}

/* ---- pcapng ---- */

/* Computes a * b / c without overflow, for a < c. */
static uint64_t
muldiv64(uint64_t a, uint64_t b, uint64_t c)
{
#ifdef __SIZEOF_INT128__
	return (uint64_t)((unsigned __int128)a * b / c);
#else
	return (uint64_t)((long double)a * b / c);
#endif
}

/*
 * Decodes if_tsresol: the low 7 bits are a negative power of 10, or of 2
 * when the top bit is set. Returns 0 for a resolution finer than 64 bits of
 * units per second can express.
 */
static uint64_t
tsresol_units(uint8_t v)
{
	uint64_t u = 1;
	unsigned i;

	if (v & 0x80)
		return (v & 0x7f) <= 63 ? 1ULL << (v & 0x7f) : 0;
	if (v > 19)
		return 0;
	for (i = 0; i < v; i++)
		u *= 10;
	return u;
}

static int
ng_corrupt(struct pcapio_in *in, char *errbuf, size_t rel, const char *why)
{
	in_error(in, errbuf, "block at byte offset %" PRIu64
	    ": %s (corrupt block)", in_offset(in, rel), why);
	return -1;
}

/* One option of a pcapng block. */
struct ng_opt {
	uint16_t code;
	uint16_t len;
	const uint8_t *val;
};

/*
 * Steps to the next option of the options area [*p, end). Returns 1 with o
 * filled, 0 at opt_endofopt or the end of the area, -1 with why set when an
 * option runs past the end of its block.
 */
static int
ng_opt_next(struct pcapio_in *in, const uint8_t **p, const uint8_t *end,
    struct ng_opt *o, char *why, size_t whylen)
{
	size_t room = (size_t)(end - *p), padded;

	if (room < 4)
		return 0;
	o->code = rd16(in, *p);
	o->len = rd16(in, *p + 2);
	if (o->code == PCAPNG_OPT_END)
		return 0;
	padded = ((size_t)o->len + 3) & ~(size_t)3;
	if (padded > room - 4) {
		snprintf(why, whylen, "option %u of length %u runs past the "
		    "end of its block", o->code, o->len);
		return -1;
	}
	o->val = *p + 4;
	*p += 4 + padded;
	return 1;
}

static bool
is_packet_block(uint32_t type)
{
	return type == PCAPNG_EPB || type == PCAPNG_SPB || type == PCAPNG_PB;
}

/*
 * Reads the framing of the block at buf[start + rel]: type and total length
 * (a section header's own byte-order magic sets in->swap first). Returns 1
 * with the block wholly buffered when its length allows, 0 at a clean end,
 * -1 with errbuf set on damage. *whole tells whether the block is buffered;
 * blocks longer than PCAPNG_MAX_BLOCK are not, and are only skippable.
 */
static int
ng_frame(struct pcapio_in *in, size_t rel, uint32_t *type, uint32_t *len,
    char *errbuf)
{
	const uint8_t *p;
	uint32_t bom;
	ssize_t n;

	n = in_fill(in, rel + 12);
	if (n < 0) {
		in_error(in, errbuf, "block at byte offset %" PRIu64
		    ": read error: %s", in_offset(in, rel), strerror(errno));
		return -1;
	}
	if ((size_t)n == rel)
		return 0;
	p = in->buf + in->start + rel;
	if ((size_t)n < rel + 12) {
		if ((size_t)n >= rel + 4 && rel == 0 && is_packet_block(
		    rd32(in, p)))
			return rec_truncated(in, errbuf);
		in_error(in, errbuf, "block at byte offset %" PRIu64
		    ": file ends in the middle of a block (truncated capture)",
		    in_offset(in, rel));
		return -1;
	}
	memcpy(type, p, 4);
	if (*type == PCAPNG_SHB) {
		memcpy(&bom, p + 8, 4);
		if (bom == PCAPNG_BOM)
			in->swap = false;
		else if (bom == PCAPNG_SWAPPED_BOM)
			in->swap = true;
		else
			return ng_corrupt(in, errbuf, rel,
			    "section header has a bad byte-order magic");
	} else {
		*type = rd32(in, p);
	}
	*len = rd32(in, p + 4);
	if (*len < 12 || *len % 4 != 0) {
		char why[64];

		snprintf(why, sizeof(why), "invalid block length %" PRIu32,
		    *len);
		return ng_corrupt(in, errbuf, rel, why);
	}
	return 1;
}

/*
 * Buffers the whole block of length len at buf[start + rel] and checks its
 * trailing length. Returns a pointer to it, or NULL with errbuf set; a
 * packet block cut short is reported as a truncated record.
 */
static const uint8_t *
ng_load(struct pcapio_in *in, size_t rel, uint32_t len, bool record,
    char *errbuf)
{
	const uint8_t *p;
	ssize_t n;
	char why[128];

	if (len > PCAPNG_MAX_BLOCK) {
		snprintf(why, sizeof(why), "block length %" PRIu32
		    " exceeds the maximum %u", len, PCAPNG_MAX_BLOCK);
		ng_corrupt(in, errbuf, rel, why);
		return NULL;
	}
	n = in_fill(in, rel + len);
	if (n < 0) {
		if (record)
			rec_read_error(in, errbuf);
		else
			in_error(in, errbuf, "block at byte offset %" PRIu64
			    ": read error: %s", in_offset(in, rel),
			    strerror(errno));
		return NULL;
	}
	if ((size_t)n < rel + len) {
		if (record)
			rec_truncated(in, errbuf);
		else
			in_error(in, errbuf, "block at byte offset %" PRIu64
			    ": file ends in the middle of a block (truncated "
			    "capture)", in_offset(in, rel));
		return NULL;
	}
	p = in->buf + in->start + rel;
	if (rd32(in, p + len - 4) != len) {
		snprintf(why, sizeof(why), "trailing block length %" PRIu32
		    " differs from the leading %" PRIu32, rd32(in, p + len - 4),
		    len);
		ng_corrupt(in, errbuf, rel, why);
		return NULL;
	}
	return p;
}

/* Checks a section header block: version 1.x, options inside the block. */
static int
ng_check_shb(struct pcapio_in *in, size_t rel, const uint8_t *p, uint32_t len,
    char *errbuf)
{
	const uint8_t *o = p + 24, *end = p + len - 4;
	uint16_t major, minor;
	struct ng_opt opt;
	char why[128];
	int r;

	if (len < PCAPNG_SHB_MIN)
		return ng_corrupt(in, errbuf, rel,
		    "section header block too short");
	major = rd16(in, p + 12);
	minor = rd16(in, p + 14);
	if (major != 1) {
		if (in_offset(in, rel) == 0)
			in_error(in, errbuf, "unsupported pcapng version %u.%u",
			    major, minor);
		else
			in_error(in, errbuf, "block at byte offset %" PRIu64
			    ": unsupported pcapng version %u.%u",
			    in_offset(in, rel), major, minor);
		return -1;
	}
	while ((r = ng_opt_next(in, &o, end, &opt, why, sizeof(why))) > 0)
		;
	if (r < 0)
		return ng_corrupt(in, errbuf, rel, why);
	return 0;
}

/* Parses an interface description block into *ifc. */
static int
ng_parse_idb(struct pcapio_in *in, size_t rel, const uint8_t *p, uint32_t len,
    struct pcapng_iface *ifc, char *errbuf)
{
	const uint8_t *o = p + 16, *end = p + len - 4;
	struct ng_opt opt;
	char why[128];
	int r;

	if (len < PCAPNG_IDB_MIN)
		return ng_corrupt(in, errbuf, rel,
		    "interface description block too short");
	ifc->linktype = rd16(in, p + 8);
	ifc->snaplen = rd32(in, p + 12);
	ifc->units = 1000000;
	ifc->offset = 0;
	while ((r = ng_opt_next(in, &o, end, &opt, why, sizeof(why))) > 0) {
		if (opt.code == PCAPNG_OPT_TSRESOL && opt.len >= 1) {
			ifc->units = tsresol_units(opt.val[0]);
			if (ifc->units == 0) {
				snprintf(why, sizeof(why), "unsupported "
				    "if_tsresol 0x%02x", opt.val[0]);
				return ng_corrupt(in, errbuf, rel, why);
			}
		} else if (opt.code == PCAPNG_OPT_TSOFFSET && opt.len >= 8) {
			ifc->offset = (int64_t)rd64(in, opt.val);
		}
	}
	if (r < 0)
		return ng_corrupt(in, errbuf, rel, why);
	return 0;
}

/* Appends an interface to the current section. */
static int
ng_add_iface(struct pcapio_in *in, const struct pcapng_iface *ifc,
    size_t rel, char *errbuf)
{
	struct pcapng_iface *n;
	uint32_t ncap;

	if (in->nifs >= PCAPNG_MAX_INTERFACES) {
		char why[64];

		snprintf(why, sizeof(why), "more than %u interfaces",
		    PCAPNG_MAX_INTERFACES);
		return ng_corrupt(in, errbuf, rel, why);
	}
	if (in->nifs == in->ifs_cap) {
		ncap = in->ifs_cap ? in->ifs_cap * 2 : 16;
		n = realloc(in->ifs, ncap * sizeof(*n));
		if (n == NULL) {
			in_error(in, errbuf, "%s", strerror(ENOMEM));
			return -1;
		}
		in->ifs = n;
		in->ifs_cap = ncap;
	}
	in->ifs[in->nifs++] = *ifc;
	return 0;
}

/* Discards len bytes of a block that is not read whole. */
static int
ng_skip(struct pcapio_in *in, uint32_t len, char *errbuf)
{
	uint64_t at = in_offset(in, 0);
	size_t left = len;
	ssize_t n;

	while (left > 0) {
		n = in_fill(in, left < in->cap ? left : in->cap);
		if (n < 0) {
			in_error(in, errbuf, "block at byte offset %" PRIu64
			    ": read error: %s", at, strerror(errno));
			return -1;
		}
		if (n == 0) {
			in_error(in, errbuf, "block at byte offset %" PRIu64
			    ": file ends in the middle of a block (truncated "
			    "capture)", at);
			return -1;
		}
		if ((size_t)n > left)
			n = (ssize_t)left;
		in_consume(in, (size_t)n);
		left -= (size_t)n;
	}
	return 0;
}

/* Converts an interface timestamp to ns since the epoch. */
static uint64_t
ng_ts_ns(const struct pcapng_iface *ifc, uint64_t ts)
{
	int64_t sec = (int64_t)(ts / ifc->units);
	uint64_t frac = muldiv64(ts % ifc->units, NS_PER_SEC, ifc->units);

	if (ts / ifc->units > (uint64_t)INT64_MAX / 2)
		return UINT64_MAX;
	sec += ifc->offset;
	if (sec < 0)
		return 0;
	if ((uint64_t)sec >= UINT64_MAX / NS_PER_SEC)
		return UINT64_MAX;
	return (uint64_t)sec * NS_PER_SEC + frac;
}

/* Builds a host-order classic record header at the output precision. */
static void
ng_build_hdr(const struct pcapio_in *in, struct pcap_rec *rec)
{
	uint32_t f[4];

	f[0] = (uint32_t)(rec->ts_ns / NS_PER_SEC);
	f[1] = (uint32_t)(rec->ts_ns % NS_PER_SEC);
	if (!in->nano)
		f[1] /= 1000;
	f[2] = rec->caplen;
	f[3] = rec->wirelen;
	memcpy(rec->hdr, f, sizeof(f));
}

/*
 * Handles a packet block (EPB, SPB or obsolete PB) of length len at start.
 * Returns 1 with rec filled, 2 when the record is skipped (other link type
 * or filtered), -1 on damage.
 */
static int
ng_packet(struct pcapio_in *in, uint32_t type, uint32_t len,
    struct pcap_rec *rec, char *errbuf)
{
	const struct pcapng_iface *ifc;
	const uint8_t *p;
	uint32_t fixed, ifid, caplen = 0, wirelen, limit, room;
	uint64_t ts = 0;
	ssize_t n;
	char why[128];
	bool count;

	fixed = type == PCAPNG_SPB ? PCAPNG_SPB_FIXED : PCAPNG_EPB_FIXED;
	if (len < fixed + 4) {
		snprintf(why, sizeof(why), "packet block length %" PRIu32
		    " is too short", len);
		return ng_corrupt(in, errbuf, 0, why);
	}
	n = in_fill(in, fixed);
	if (n < 0)
		return rec_read_error(in, errbuf);
	if ((size_t)n < fixed)
		return rec_truncated(in, errbuf);
	p = in->buf + in->start;
	if (type == PCAPNG_SPB) {
		ifid = 0;
		wirelen = rd32(in, p + 8);
	} else {
		ifid = type == PCAPNG_PB ? rd16(in, p + 8) : rd32(in, p + 8);
		ts = (uint64_t)rd32(in, p + 12) << 32 | rd32(in, p + 16);
		caplen = rd32(in, p + 20);
		wirelen = rd32(in, p + 24);
	}
	if (ifid >= in->nifs) {
		snprintf(why, sizeof(why), "packet on interface %" PRIu32
		    ", which has no interface description block", ifid);
		return rec_error(in, errbuf, why);
	}
	ifc = &in->ifs[ifid];
	limit = caplen_limit(ifc->snaplen);
	room = len - fixed - 4;
	if (type == PCAPNG_SPB) {
		/* An SPB has no capture length: block and snaplen bound it. */
		caplen = wirelen < room ? wirelen : room;
		if (ifc->snaplen != 0 && caplen > ifc->snaplen)
			caplen = ifc->snaplen;
	}
	if (caplen > limit)
		return rec_too_long(in, errbuf, caplen, limit);
	if (caplen > room) {
		snprintf(why, sizeof(why), "capture length %" PRIu32
		    " does not fit in its block", caplen);
		return ng_corrupt(in, errbuf, 0, why);
	}
	if ((p = ng_load(in, 0, len, true, errbuf)) == NULL)
		return -1;
	in->recno++;
	count = in_first_pass(in);
	if (ifc->linktype != in->linktype) {
		/* The output has one link type; others cannot go into it. */
		if (count)
			in->st->other_linktype++;
		in_consume(in, len);
		return 2;
	}
	rec->ts_ns = ng_ts_ns(ifc, ts);
	rec->caplen = caplen;
	rec->wirelen = wirelen;
	rec->data = p + fixed;
	rec->raw_hdr = false;
	ng_build_hdr(in, rec);
	in_consume(in, len);
	return in_filter(in, rec, count) ? 1 : 2;
}

/*
 * Handles the next pcapng block. Returns 1 with rec filled for a packet, 2
 * for any other block (consumed), 0 at the clean end, -1 on damage.
 */
static int
ng_block(struct pcapio_in *in, struct pcap_rec *rec, char *errbuf)
{
	struct pcapng_iface ifc;
	const uint8_t *p;
	uint32_t type, len;
	int r;

	if ((r = ng_frame(in, 0, &type, &len, errbuf)) <= 0)
		return r;
	switch (type) {
	case PCAPNG_SHB:
		if ((p = ng_load(in, 0, len, false, errbuf)) == NULL ||
		    ng_check_shb(in, 0, p, len, errbuf) < 0)
			return -1;
		/* A new section describes its interfaces afresh. */
		in->nifs = 0;
		in_consume(in, len);
		return 2;
	case PCAPNG_IDB:
		if ((p = ng_load(in, 0, len, false, errbuf)) == NULL ||
		    ng_parse_idb(in, 0, p, len, &ifc, errbuf) < 0 ||
		    ng_add_iface(in, &ifc, 0, errbuf) < 0)
			return -1;
		in_consume(in, len);
		return 2;
	case PCAPNG_EPB:
	case PCAPNG_SPB:
	case PCAPNG_PB:
		return ng_packet(in, type, len, rec, errbuf);
	default:
		return ng_skip(in, len, errbuf) < 0 ? -1 : 2;
	}
}

static int
ng_next_rec(struct pcapio_in *in, struct pcap_rec *rec, char *errbuf)
{
	int r;

	while ((r = ng_block(in, rec, errbuf)) == 2)
		;
	return r;
}

/*
 * Reads ahead (without consuming) to the first packet block to learn the
 * interface whose link type, precision and snap length the output gets;
 * without one, the first interface of the file is used. Damage met here is
 * left for pcapio_next to report, unless no interface was seen at all.
 */
static int
ng_choose_output(struct pcapio_in *in, char *errbuf)
{
	struct pcapng_iface first, ifc, *out = NULL;
	const uint8_t *p;
	uint32_t type, len, ifid;
	bool have_first = false, swap = in->swap;
	size_t rel = 0;
	char junk[PCAPIO_ERRBUF_SIZE];

	junk[0] = '\0';
	while (rel < PCAPNG_LOOKAHEAD_MAX) {
		if (ng_frame(in, rel, &type, &len, junk) <= 0 ||
		    len > PCAPNG_LOOKAHEAD_MAX - rel ||
		    (p = ng_load(in, rel, len, false, junk)) == NULL)
			break;
		if (type == PCAPNG_SHB) {
			in->nifs = 0;
		} else if (type == PCAPNG_IDB) {
			if (ng_parse_idb(in, rel, p, len, &ifc, junk) < 0 ||
			    ng_add_iface(in, &ifc, rel, junk) < 0)
				break;
			if (!have_first) {
				first = ifc;
				have_first = true;
			}
		} else if (is_packet_block(type)) {
			if (type == PCAPNG_SPB)
				ifid = 0;
			else if (len < PCAPNG_EPB_FIXED + 4)
				break;
			else if (type == PCAPNG_PB)
				ifid = rd16(in, p + 8);
			else
				ifid = rd32(in, p + 8);
			if (ifid < in->nifs)
				out = &in->ifs[ifid];
			break;
		}
		rel += len;
	}
	in->failed = false;
	if (out == NULL && have_first)
		out = &first;
	if (out == NULL) {
		if (junk[0] != '\0')
			in_error(in, errbuf, "%s", junk);
		else
			in_error(in, errbuf,
			    "pcapng file has no interface description block");
		return -1;
	}
	in->linktype = out->linktype;
	in->snaplen = out->snaplen != 0 ? out->snaplen : PCAPIO_DEFAULT_SNAPLEN;
	in->nano = out->units > 1000000;
	in->nifs = 0;
	in->swap = swap;
	return 0;
}

/* Builds the host-order classic pcap header that pcapng input is written as. */
static void
ng_build_fhdr(struct pcapio_in *in)
{
	uint32_t magic = in->nano ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC;
	uint16_t major = 2, minor = 4;
	uint32_t zero = 0, lt = (uint32_t)in->linktype;

	memcpy(in->fhdr, &magic, 4);
	memcpy(in->fhdr + 4, &major, 2);
	memcpy(in->fhdr + 6, &minor, 2);
	memcpy(in->fhdr + 8, &zero, 4);
	memcpy(in->fhdr + 12, &zero, 4);
	memcpy(in->fhdr + 16, &in->snaplen, 4);
	memcpy(in->fhdr + 20, &lt, 4);
}

static int
ng_open_header(struct pcapio_in *in, char *errbuf)
{
	const uint8_t *p;
	uint32_t type, len;
	ssize_t n;

	n = in_fill(in, 12);
	if (n < 0) {
		in_error(in, errbuf, "%s", strerror(errno));
		return -1;
	}
	if (n < 12) {
		in_error(in, errbuf,
		    "file ends inside the pcapng section header block");
		return -1;
	}
	/*
	 * The first section header is checked here, so that a bad one fails
	 * the open, but not consumed: pcapio_next reads it like any other.
	 */
	if (ng_frame(in, 0, &type, &len, errbuf) < 0 ||
	    (p = ng_load(in, 0, len, false, errbuf)) == NULL ||
	    ng_check_shb(in, 0, p, len, errbuf) < 0)
		return -1;
	if (ng_choose_output(in, errbuf) < 0)
		return -1;
	ng_build_fhdr(in);
	return 0;
}

/* ---- live capture ---- */

/*
 * The device flowgrep captures on when none is named: the first interface
 * libpcap lists (it sorts running interfaces first) that is up and is not a
 * loopback. "any" is skipped too: it is not an interface, cannot be
 * promiscuous and has no link layer to inject kills on. libpcap's pseudo
 * devices (nflog, dbus, usbmon...) are never up. Returns a string the caller
 * frees, or NULL with errbuf set.
 */
static char *
live_default_device(char *errbuf)
{
	char pcap_err[PCAP_ERRBUF_SIZE];
	pcap_if_t *all, *d;
	char *name = NULL;

	if (pcap_findalldevs(&all, pcap_err) == -1) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", pcap_err);
		return NULL;
	}
	for (d = all; d != NULL; d = d->next)
		if ((d->flags & PCAP_IF_UP) && !(d->flags & PCAP_IF_LOOPBACK) &&
		    strcmp(d->name, "any") != 0)
			break;
	if (d == NULL)
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "no capture device found");
	else if ((name = strdup(d->name)) == NULL)
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(ENOMEM));
	pcap_freealldevs(all);
	return name;
}

/*
 * Describes a failed pcap_activate in one line that names the device.
 * libpcap's own words are kept where they say more than its status code
 * (it documents pcap_geterr as meaningful only for PCAP_ERROR and
 * PCAP_ERROR_CAPTURE_NOTSUP besides the two rewritten here).
 */
static void
live_activate_error(pcap_t *p, const char *device, int status, char *errbuf)
{
	const char *why = pcap_geterr(p);

	switch (status) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		why = "no such device";
		break;
	case PCAP_ERROR_PERM_DENIED:
		why = "permission denied: capturing needs root or CAP_NET_RAW";
		break;
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		why = "permission denied: promiscuous mode is not allowed";
		break;
	case PCAP_ERROR:
#ifdef PCAP_ERROR_CAPTURE_NOTSUP	/* newer than libpcap 1.10.3 */
	case PCAP_ERROR_CAPTURE_NOTSUP:
#endif
		if (why[0] != '\0')
			break;
		/* FALLTHROUGH */
	default:
		why = pcap_statustostr(status);
		break;
	}
	snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: %s", device, why);
}

/*
 * Gets the output file header from libpcap itself, written as tcpdump -w
 * would for this handle: host byte order, 2.4, the snap length in effect
 * and the device's DLT_ value mapped to its LINKTYPE_ value (DLT_RAW is 12
 * on Linux but LINKTYPE_RAW is 101), which libpcap does not export
 * otherwise. The link type the decoder sees is read back from it.
 */
static int
live_build_fhdr(struct pcapio_in *in, char *errbuf)
{
	pcap_dumper_t *d;
	char *mem = NULL;
	size_t len = 0;
	uint32_t lt;
	FILE *fp;

	if ((fp = open_memstream(&mem, &len)) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: %s", in->device,
		    strerror(errno));
		return -1;
	}
	if ((d = pcap_dump_fopen(in->pcap, fp)) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: %s", in->device,
		    pcap_geterr(in->pcap));
		fclose(fp);
		free(mem);
		return -1;
	}
	/* Closing the dumper closes fp, which sets mem and len. */
	pcap_dump_close(d);
	if (mem == NULL || len != PCAPIO_FILE_HEADER_LEN) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE,
		    "%s: libpcap wrote a %zu-byte file header", in->device,
		    len);
		free(mem);
		return -1;
	}
	memcpy(in->fhdr, mem, PCAPIO_FILE_HEADER_LEN);
	free(mem);
	memcpy(&lt, in->fhdr + 20, sizeof(lt));
	in->linktype = (int)(lt & 0xffff);
	return 0;
}

struct pcapio_in *
pcapio_open_live(const char *device, uint32_t snaplen, uint32_t buffer_kib,
    bool promisc, struct stats *st, char *errbuf)
{
	char pcap_err[PCAP_ERRBUF_SIZE];
	struct pcapio_in *in;
	int status;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(ENOMEM));
		return NULL;
	}
	in->st = st;
	in->fd = -1;
	if (device != NULL && device[0] == '\0')
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "empty device name");
	else if (device == NULL)
		in->device = live_default_device(errbuf);
	else if ((in->device = strdup(device)) == NULL)
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(ENOMEM));
	if (in->device == NULL) {
		free(in);
		return NULL;
	}
	if ((in->pcap = pcap_create(in->device, pcap_err)) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: %s", in->device,
		    pcap_err);
		pcapio_close(in);
		return NULL;
	}
	/*
	 * Immediate mode hands each packet over as it arrives, so flows are
	 * decided (and killed) without waiting for a buffer to fill. The
	 * timeout is libpcap's buffering timeout; the read timeout that lets
	 * pcapio_next return PCAPIO_IDLE is live_next's own. These setters
	 * fail only on an activated handle.
	 */
	pcap_set_snaplen(in->pcap, (int)(snaplen > INT32_MAX ? INT32_MAX :
	    snaplen));
	pcap_set_promisc(in->pcap, promisc);
	/* The ring the kernel fills while we are busy: 0 keeps libpcap's. */
	if (buffer_kib > 0)
		pcap_set_buffer_size(in->pcap, (int)(buffer_kib > INT32_MAX /
		    1024 ? INT32_MAX : buffer_kib * 1024));
	pcap_set_immediate_mode(in->pcap, 1);
	pcap_set_timeout(in->pcap, PCAPIO_LIVE_TIMEOUT_MS);
	pcap_set_tstamp_precision(in->pcap, PCAP_TSTAMP_PRECISION_MICRO);
	/* Warnings (status > 0: no promiscuous mode...) are not fatal. */
	if ((status = pcap_activate(in->pcap)) < 0) {
		live_activate_error(in->pcap, in->device, status, errbuf);
		pcapio_close(in);
		return NULL;
	}
	/* live_next polls libpcap's descriptor (which is not ours to close). */
	if (pcap_setnonblock(in->pcap, 1, pcap_err) == -1) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: %s", in->device,
		    pcap_err);
		pcapio_close(in);
		return NULL;
	}
	if ((in->fd = pcap_get_selectable_fd(in->pcap)) < 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE,
		    "%s: no descriptor to wait on", in->device);
		pcapio_close(in);
		return NULL;
	}
	in->nano = false;
	in->snaplen = (uint32_t)pcap_snapshot(in->pcap);
	in->limit = caplen_limit(in->snaplen);
	if (live_build_fhdr(in, errbuf) < 0) {
		pcapio_close(in);
		return NULL;
	}
	return in;
}

bool
pcapio_is_live(const struct pcapio_in *in)
{
	return in->pcap != NULL;
}

const char *
pcapio_device(const struct pcapio_in *in)
{
	return in->device;
}

/*
 * libpcap's counters are unsigned ints that wrap; adding the difference
 * since the last call keeps the total right across a wrap as long as fewer
 * than 2^32 packets are dropped between two calls.
 */
void
pcapio_update_drops(struct pcapio_in *in)
{
	struct pcap_stat ps;
	uint32_t seen;

	if (in->pcap == NULL || pcap_stats(in->pcap, &ps) == -1)
		return;
	seen = (uint32_t)ps.ps_drop + (uint32_t)ps.ps_ifdrop;
	in->drops += (uint32_t)(seen - in->drop_seen);
	in->drop_seen = seen;
	if (in->st != NULL)
		in->st->kernel_drops = in->drops;
}

int
pcapio_set_fanout(struct pcapio_in *in, int group, char *errbuf)
{
	/*
	 * PACKET_FANOUT_HASH spreads by the kernel's symmetric flow hash;
	 * FLAG_DEFRAG makes it see whole datagrams, so fragments go with their
	 * flow (packet(7)).
	 */
	/* Unsigned: FLAG_DEFRAG is 0x8000, shifted into int's sign bit. */
	unsigned int arg = ((unsigned int)group & 0xffffu) |
	    ((unsigned int)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);

	if (in->pcap == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE,
		    "--fanout needs a live capture");
		return -1;
	}
	if (setsockopt(pcap_fileno(in->pcap), SOL_PACKET, PACKET_FANOUT, &arg,
	    sizeof(arg)) == -1) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: --fanout %d: %s",
		    in->device, group, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A live filter runs in the kernel (pcap_setfilter attaches it to the
 * socket), so rejected packets never cross into user space and are not
 * counted in packets_filtered. The netmask only matters for "ip broadcast";
 * a device without an IPv4 address compiles without it, as in tcpdump.
 */
static int
live_set_filter(struct pcapio_in *in, const char *expr, char *errbuf)
{
	char pcap_err[PCAP_ERRBUF_SIZE];
	struct bpf_program prog;
	bpf_u_int32 net, mask;

	if (pcap_lookupnet(in->device, &net, &mask, pcap_err) == -1)
		mask = PCAP_NETMASK_UNKNOWN;
	if (pcap_compile(in->pcap, &prog, expr, 1, mask) == -1) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s",
		    pcap_geterr(in->pcap));
		return -1;
	}
	if (pcap_setfilter(in->pcap, &prog) == -1) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s: %s", in->device,
		    pcap_geterr(in->pcap));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

/* Milliseconds on the monotonic clock, for the idle deadline. */
static int64_t
live_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Reads one packet from the device. libpcap 1.10 on Linux keeps polling
 * past its timeout until a packet arrives, so the handle is non-blocking
 * and the waiting is done here, in poll(2), until PCAPIO_LIVE_TIMEOUT_MS
 * have passed without a packet (wake-ups for packets libpcap discards,
 * such as lo's outgoing copies, wait on). A signal cuts the wait short:
 * poll is never restarted. Either way the caller gets PCAPIO_IDLE and can
 * attend to signals; a set interrupt flag ends the input instead.
 */
static int
live_next(struct pcapio_in *in, struct pcap_rec *rec, char *errbuf)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	struct pollfd pfd;
	int64_t deadline = -1, left;
	uint32_t f[4];
	int r;

	for (;;) {
		if (in->interrupt != NULL && *in->interrupt)
			return 0;
		r = pcap_next_ex(in->pcap, &h, &data);
		if (r == 1)
			break;
		if (r == PCAP_ERROR_BREAK)
			return 0;
		if (r < 0) {
			in_error(in, errbuf, "%s: %s", in->device,
			    pcap_geterr(in->pcap));
			return -1;
		}
		if (deadline < 0) {
			deadline = live_now_ms() + PCAPIO_LIVE_TIMEOUT_MS;
			left = PCAPIO_LIVE_TIMEOUT_MS;
		} else if ((left = deadline - live_now_ms()) <= 0) {
			return PCAPIO_IDLE;
		}
		pfd.fd = in->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (in->wait_mask != NULL) {
			struct timespec ts = { left / 1000,
			    (left % 1000) * 1000000 };

			r = ppoll(&pfd, 1, &ts, in->wait_mask);
		} else
			r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR && in->wake != NULL && *in->wake &&
		    in->wake_fn != NULL)
			in->wake_fn(in->wake_ctx);
		if (r < 0 && errno != EINTR) {
			in_error(in, errbuf, "%s: poll: %s", in->device,
			    strerror(errno));
			return -1;
		}
		if (r < 0 || r == 0)
			return in->interrupt != NULL && *in->interrupt ? 0 :
			    PCAPIO_IDLE;
		/* Readable, or an error is pending: pcap_next_ex tells. */
	}
	rec->ts_ns = (uint64_t)h->ts.tv_sec * NS_PER_SEC +
	    (uint64_t)h->ts.tv_usec * 1000;
	rec->caplen = h->caplen;
	rec->wirelen = h->len;
	rec->data = data;
	rec->raw_hdr = false;
	f[0] = (uint32_t)h->ts.tv_sec;
	f[1] = (uint32_t)h->ts.tv_usec;
	f[2] = h->caplen;
	f[3] = h->len;
	memcpy(rec->hdr, f, sizeof(f));
	in->recno++;
	in_filter(in, rec, in->st != NULL);
	return 1;
}

/* ---- input API ---- */

/* True when the n < 4 bytes of a short file begin some known magic. */
static bool
magic_prefix(const uint8_t *p, size_t n)
{
	static const uint32_t magics[] = { PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC,
	    PCAP_SWAPPED_USEC, PCAP_SWAPPED_NSEC, PCAPNG_SHB };
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (memcmp(p, &magics[i], n) == 0)
			return true;
	return false;
}

struct pcapio_in *
pcapio_open(const char *path, struct stats *st, char *errbuf)
{
	struct pcapio_in *in;
	struct stat sb;
	uint32_t magic;
	ssize_t n;
	int r;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(ENOMEM));
		return NULL;
	}
	in->st = st;
	in->fd = -1;
	if (strcmp(path, "-") == 0) {
		in->fd = STDIN_FILENO;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		in->own_fd = true;
	}
	if (in->fd < 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(errno));
		free(in);
		return NULL;
	}
	if (fstat(in->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		in->base = lseek(in->fd, 0, SEEK_CUR);
		in->regular = in->base >= 0;
		/* Failing to start the thread only costs speed. */
		if (in->regular && sb.st_size - in->base > PCAPIO_BUF_SIZE)
			in->ra = readahead_start(in->fd, in->base,
			    PCAPIO_AHEAD_BLOCK, PCAPIO_AHEAD_RESERVE,
			    PCAPIO_AHEAD_BLOCKS);
	} else if (S_ISFIFO(sb.st_mode)) {
		/*
		 * A bigger pipe means fewer, larger reads and fewer context
		 * switches with the writer (tcpdump -w -); failure is harmless.
		 */
		(void)fcntl(in->fd, F_SETPIPE_SZ, PCAPIO_PIPE_SIZE);
	}
	in->own_cap = in->cap = PCAPIO_BUF_SIZE;
	if ((in->own = in->buf = malloc(in->cap)) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(ENOMEM));
		pcapio_close(in);
		return NULL;
	}
	n = in_fill(in, 4);
	if (n < 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(errno));
		pcapio_close(in);
		return NULL;
	}
	if (n == 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "file is empty");
		pcapio_close(in);
		return NULL;
	}
	magic = 0;
	memcpy(&magic, in->buf, (size_t)n < 4 ? (size_t)n : 4);
	if (magic == PCAPNG_SHB) {
		in->ng = true;
		r = ng_open_header(in, errbuf);
	} else if (magic == PCAP_MAGIC_USEC || magic == PCAP_MAGIC_NSEC ||
	    magic == PCAP_SWAPPED_USEC || magic == PCAP_SWAPPED_NSEC) {
		r = pcap_open_header(in, errbuf);
	} else {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s",
		    n < 4 && magic_prefix(in->buf, (size_t)n) ?
		    "file ends inside the pcap file header" :
		    "not a pcap or pcapng file");
		r = -1;
	}
	if (r < 0) {
		pcapio_close(in);
		return NULL;
	}
	return in;
}

void
pcapio_close(struct pcapio_in *in)
{
	if (in == NULL)
		return;
	if (in->have_bpf)
		pcap_freecode(&in->bpf);
	if (in->pcap != NULL)
		pcap_close(in->pcap);
	free(in->device);
	readahead_stop(in->ra);
	pipefill_stop(in->pf);
	if (in->own_fd && in->fd >= 0)
		close(in->fd);
	free(in->ifs);
	free(in->own);
	free(in->pool);
	free(in);
}

int
pcapio_linktype(const struct pcapio_in *in)
{
	return in->linktype;
}

void
pcapio_linktype_names(int linktype, const char **name, const char **desc)
{
	*name = pcap_datalink_val_to_name(linktype);
	*desc = pcap_datalink_val_to_description(linktype);
	if (*name == NULL)
		*name = "unknown";
	if (*desc == NULL)
		*desc = "unknown";
}

uint32_t
pcapio_snaplen(const struct pcapio_in *in)
{
	return in->snaplen;
}

bool
pcapio_nano(const struct pcapio_in *in)
{
	return in->nano;
}

const uint8_t *
pcapio_file_header(const struct pcapio_in *in)
{
	return in->fhdr;
}

bool
pcapio_rewindable(const struct pcapio_in *in)
{
	return in->regular;
}

/*
 * The filter is compiled for a savefile, not a dead handle: libpcap then
 * maps LINKTYPE_ to DLT_ values itself, accepts every BSD AF_INET6 value on
 * DLT_NULL (a dead handle knows only the host's) and byte-swaps the
 * address family of loopback headers written on a machine of the other byte
 * order, exactly as tcpdump -r does. The savefile is our file header in
 * memory; for pcap input it is the input's own. A live capture filters in
 * the kernel instead (live_set_filter).
 */
int
pcapio_set_filter(struct pcapio_in *in, const char *expr, char *errbuf)
{
	char pcap_err[PCAP_ERRBUF_SIZE];
	uint8_t hdr[PCAPIO_FILE_HEADER_LEN];
	struct bpf_program prog;
	pcap_t *p;
	FILE *fp;

	if (in->pcap != NULL)
		return live_set_filter(in, expr, errbuf);
	memcpy(hdr, in->fhdr, sizeof(hdr));
	if ((fp = fmemopen(hdr, sizeof(hdr), "r")) == NULL) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(errno));
		return -1;
	}
	if ((p = pcap_fopen_offline(fp, pcap_err)) == NULL) {
		/* pcap_fopen_offline closed fp. */
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", pcap_err);
		return -1;
	}
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == -1) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_close(p);
	if (in->have_bpf)
		pcap_freecode(&in->bpf);
	in->bpf = prog;
	in->have_bpf = true;
	return 0;
}

void
pcapio_set_interrupt(struct pcapio_in *in, const volatile sig_atomic_t *flag)
{
	in->interrupt = flag;
}

void
pcapio_set_signals(struct pcapio_in *in, const sigset_t *wait_mask,
    const volatile sig_atomic_t *stop, const volatile sig_atomic_t *wake,
    void (*wake_fn)(void *), void *ctx)
{
	in->wait_mask = wait_mask;
	in->interrupt = stop;
	in->wake = wake;
	in->wake_fn = wake_fn;
	in->wake_ctx = ctx;
}

int
pcapio_next(struct pcapio_in *in, struct pcap_rec *rec, char *errbuf)
{
	int r;

	if (in->stopped)
		return 0;
	if (in->failed) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", in->err);
		return -1;
	}
	if (in->pcap != NULL)
		return live_next(in, rec, errbuf);
	r = in->ng ? ng_next_rec(in, rec, errbuf) :
	    pcap_next_rec(in, rec, errbuf);
	/* Stopped half-way through a record: that is the end, not damage. */
	if (r == -1 && in->stopped) {
		in->failed = false;
		return 0;
	}
	return r;
}

static uint8_t *
pool_get(void *ctx, size_t min, size_t *size)
{
	struct pcapio_in *in = ctx;
	unsigned i;

	if (min > PCAPIO_POOL_CHUNK)
		return NULL;
	for (i = 0; i < PCAPIO_POOL_CHUNKS; i++)
		if (!in->pool_taken[i]) {
			in->pool_taken[i] = true;
			*size = PCAPIO_POOL_CHUNK;
			return in->pool + (size_t)i * PCAPIO_POOL_CHUNK;
		}
	return NULL;
}

static void
pool_put(void *ctx, uint8_t *chunk)
{
	struct pcapio_in *in = ctx;

	in->pool_taken[(size_t)(chunk - in->pool) / PCAPIO_POOL_CHUNK] = false;
}

void
pcapio_read_ahead(struct pcapio_in *in)
{
	struct pcapio_chunks c = { pool_get, pool_put, in };

	if (in->regular || in->pcap != NULL || in->have_chunks ||
	    (in->pool = aligned_alloc(4096, (size_t)PCAPIO_POOL_CHUNKS *
	    PCAPIO_POOL_CHUNK)) == NULL)
		return;
	pcapio_set_chunks(in, &c);
}

void
pcapio_set_chunks(struct pcapio_in *in, const struct pcapio_chunks *c)
{
	uint8_t *first;
	size_t size = 0;

	if (in->regular || in->pcap != NULL)
		return;
	in->chunks = *c;
	in->have_chunks = true;
	/* The bytes already buffered move now, so every record can be kept. */
	in_next_chunk(in, in->end - in->start);
	if (in->eof || (first = in->chunks.get(in->chunks.ctx,
	    PCAPIO_PIPE_MIN_CHUNK, &size)) == NULL)
		return;
	/* Failing to start the thread only costs speed. */
	if ((in->pf = pipefill_start(in->fd)) == NULL) {
		in->chunks.put(in->chunks.ctx, first);
		return;
	}
	if (in->in_chunk) {
		/* The thread reads on into the rest of this chunk first. */
		in->pf_chunk = in->buf;
		if (in->end < in->cap)
			pipefill_give(in->pf, in->buf + in->end,
			    in->cap - in->end, in->buf);
		in->cap = in->end;
	}
	pipefill_give(in->pf, first + PCAPIO_PIPE_RESERVE,
	    size - PCAPIO_PIPE_RESERVE, first);
	piped_top_up(in);
}

int
pcapio_rewind(struct pcapio_in *in, char *errbuf)
{
	uint64_t first = in->ng ? 0 : PCAPIO_FILE_HEADER_LEN;

	if (!in->regular) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE,
		    "input cannot be read twice (not a regular file)");
		return -1;
	}
	if (lseek(in->fd, in->base + (off_t)first, SEEK_SET) < 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(errno));
		return -1;
	}
	in_reset(in, first);
	in->nifs = 0;
	in->recno = 0;
	in->index = 0;
	in->failed = false;
	in->stopped = false;
	return 0;
}

/* ---- output ---- */

/* Writes n bytes at p. Returns -1 and keeps errno in out->err. */
static int
out_write_all(struct pcapio_out *out, const uint8_t *p, size_t n)
{
	size_t done = 0;
	ssize_t r;

	if (out->err != 0)
		return -1;
	while (done < n) {
		r = write(out->fd, p + done, n - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			out->err = errno;
			return -1;
		}
		if (r == 0) {
			out->err = EIO;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

/* Writes the buffered bytes. Returns -1 and keeps errno in out->err. */
static int
out_flush(struct pcapio_out *out)
{
	if (out_write_all(out, out->buf, out->len) == -1)
		return -1;
	out->len = 0;
	return 0;
}

/* Appends bytes to the buffer, flushing whenever it fills. */
static int
out_put(struct pcapio_out *out, const uint8_t *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (out->len == PCAPIO_OUT_BUF_SIZE && out_flush(out) < 0)
			return -1;
		k = PCAPIO_OUT_BUF_SIZE - out->len;
		if (k > n)
			k = n;
		memcpy(out->buf + out->len, p, k);
		out->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

struct pcapio_out *
pcapio_out_open(const char *path, const struct pcapio_in *in, bool unbuffered,
    struct stats *st, char *errbuf)
{
	struct pcapio_out *out;
	struct stat sb;

	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (out->buf = malloc(PCAPIO_OUT_BUF_SIZE)) == NULL) {
		free(out);
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(ENOMEM));
		return NULL;
	}
	out->st = st;
	out->unbuffered = unbuffered;
	if (strcmp(path, "-") == 0) {
		out->fd = STDOUT_FILENO;
	} else {
		out->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOCTTY, 0644);
		if (out->fd < 0) {
			snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s",
			    strerror(errno));
			free(out->buf);
			free(out);
			return NULL;
		}
		out->own_fd = true;
	}
	if (isatty(out->fd)) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE,
		    "refusing to write pcap to a terminal");
		goto fail;
	}
	/*
	 * As for an input pipe: a 1 MiB write into the default 64 KiB pipe
	 * waits on the reader sixteen times (-w - | tshark -r -). Measured
	 * with -v into cat: 1.57 s down to 1.30 s. Failure is harmless.
	 */
	if (fstat(out->fd, &sb) == 0 && S_ISFIFO(sb.st_mode))
		(void)fcntl(out->fd, F_SETPIPE_SZ, PCAPIO_PIPE_SIZE);
	out_put(out, pcapio_file_header(in), PCAPIO_FILE_HEADER_LEN);
	if (unbuffered && out_flush(out) < 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(out->err));
		goto fail;
	}
	return out;
fail:
	if (out->own_fd)
		close(out->fd);
	free(out->buf);
	free(out);
	return NULL;
}

int
pcapio_write(struct pcapio_out *out, const uint8_t *hdr, const uint8_t *data,
    uint32_t caplen)
{
	if (out->err != 0)
		return -1;
	if (out_put(out, hdr, PCAPIO_RECORD_HEADER_LEN) < 0 ||
	    out_put(out, data, caplen) < 0)
		return -1;
	if (out->unbuffered && out_flush(out) < 0)
		return -1;
	if (out->st != NULL)
		out->st->packets_written++;
	return 0;
}

bool
pcapio_raw_records(const struct pcapio_in *in)
{
	return in->regular && !in->ng && in->pcap == NULL;
}

bool
pcapio_copy_ahead(struct pcapio_in *in, uint64_t offset)
{
	if (in->ra == NULL || !pcapio_raw_records(in))
		return false;
	/* Its seek drops every block held or read ahead. */
	in_reset(in, offset - (uint64_t)in->base);
	in->copy_ahead = true;
	in->copy_off = offset;
	return true;
}

/* The next block to copy from (none is held). */
static int
copy_next_block(struct pcapio_in *in, char *errbuf)
{
	uint8_t *data;
	ssize_t r;

	if ((r = readahead_next(in->ra, &data)) <= 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", r < 0 ?
		    strerror(errno) : "changed while it was read");
		return -1;
	}
	in->copy_at = data;
	in->copy_left = (size_t)r;
	return 0;
}

/* Moves the copy place k bytes on; a block used up is let go. */
static void
copy_advance(struct pcapio_in *in, size_t k)
{
	in->copy_at += k;
	in->copy_left -= k;
	in->copy_off += k;
	if (in->copy_left == 0)
		readahead_release(in->ra);
}

/* out_put(), but a large piece is written where it lies, not copied. */
static int
out_put_direct(struct pcapio_out *out, const uint8_t *p, size_t n)
{
	if (n < PCAPIO_OUT_DIRECT)
		return out_put(out, p, n);
	return out_flush(out) == -1 ? -1 : out_write_all(out, p, n);
}

/*
 * pcapio_copy_records() from the blocks read ahead: the bytes before offset
 * are passed over, the len from it written. Returns -1 with errbuf set on
 * a read error, or with out->err set on a write error.
 */
static int
copy_from_blocks(struct pcapio_in *in, struct pcapio_out *out,
    uint64_t offset, uint64_t len, char *errbuf)
{
	uint64_t end = offset + len, upto;
	size_t k;

	if (offset < in->copy_off || offset - in->copy_off > PCAPIO_COPY_SEEK)
		(void)pcapio_copy_ahead(in, offset);
	while (in->copy_off < end) {
		if (in->copy_left == 0 && copy_next_block(in, errbuf) == -1)
			return -1;
		upto = in->copy_off < offset ? offset : end;
		k = in->copy_left;
		if (k > upto - in->copy_off)
			k = (size_t)(upto - in->copy_off);
		if (upto == end && out_put_direct(out, in->copy_at, k) == -1)
			return -1;
		copy_advance(in, k);
	}
	return 0;
}

int
pcapio_copy_records(struct pcapio_in *in, struct pcapio_out *out,
    uint64_t offset, uint64_t len, uint64_t nrecords, char *errbuf)
{
	ssize_t r;
	size_t k;

	if (out->err != 0)
		goto write_error;
	if (in->copy_ahead) {
		if (copy_from_blocks(in, out, offset, len, errbuf) == -1) {
			if (out->err != 0)
				goto write_error;
			return -1;
		}
		len = 0;	/* copied */
	}
	while (len > 0) {
		if (out->len == PCAPIO_OUT_BUF_SIZE && out_flush(out) < 0)
			goto write_error;
		k = PCAPIO_OUT_BUF_SIZE - out->len;
		if (k > len)
			k = (size_t)len;
		/* Read straight into the output buffer: one copy in all. */
		r = pread(in->fd, out->buf + out->len, k, (off_t)offset);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", r < 0 ?
			    strerror(errno) : "changed while it was read");
			return -1;
		}
		out->len += (size_t)r;
		offset += (uint64_t)r;
		len -= (uint64_t)r;
	}
	if (out->st != NULL)
		out->st->packets_written += nrecords;
	return 0;
write_error:
	snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(out->err != 0 ?
	    out->err : EIO));
	return -1;
}

int
pcapio_out_close(struct pcapio_out *out, char *errbuf)
{
	int err;

	if (out == NULL)
		return 0;
	out_flush(out);
	err = out->err;
	if (out->own_fd && close(out->fd) < 0 && err == 0)
		err = errno;
	free(out->buf);
	free(out);
	if (err != 0) {
		snprintf(errbuf, PCAPIO_ERRBUF_SIZE, "%s", strerror(err));
		return -1;
	}
	return 0;
}
