/* matcher.c: matches flows' streams on a thread of its own. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

/*
 * The queue is a ring of records, each a header and its bytes rounded up to
 * the header's size, written by the engine's thread (the producer) and read
 * by the matcher's (the consumer). head and tail count bytes ever written
 * and read; a record never wraps: the producer pads to the ring's end.
 *
 * The threads take turns sleeping without a system call per record: the
 * consumer sleeps when the ring is empty and is woken once WAKE bytes wait
 * (or at the end), the producer sleeps when the ring is full and is woken
 * once it is half empty. A sleeper sets its flag, then looks at the other's
 * counter again; the other stores its counter, then looks at the flag (both
 * sequentially consistent), so one of them sees the other. The counters
 * are stored every PUBLISH_EVERY and GIVE_BACK bytes, not every record: a
 * store to a line the other thread reads costs.
 */
#define RING MATCHER_RING_BYTES
#define WAKE ((uint64_t)128 << 10)
#define PUBLISH_EVERY ((uint64_t)16 << 10)
#define GIVE_BACK ((uint64_t)16 << 10)
/* Longer bytes are queued in pieces, so that one always fits. */
#define PIECE_MAX ((uint32_t)256 << 10)

_Static_assert((RING & (RING - 1)) == 0, "the ring is a power of two");
_Static_assert(2 * (PIECE_MAX + 32) <= RING, "a piece fits half the ring");

enum rec_type {
	REC_DATA,
	REC_GAP,
	REC_DATAGRAM,
	REC_END,
	REC_PAD,	/* the rest of the ring up to its end is unused */
	REC_FINISH
};

struct rec {
	uint32_t serial;
	uint32_t len;		/* bytes following, or the gap's length */
	uint8_t type;
	uint8_t dir;
	uint8_t pad[6];
};

_Static_assert(sizeof(struct rec) == 16, "records are 16-byte aligned");

/* A flow the thread matches: both directions' state. */
struct mflow {
	uint32_t serial;
	bool over;		/* --depth reached in every direction matched */
	struct mflow *next;	/* hash chain, or the free list */
	struct match_dir md[2];
};

/*
 * Serials that matched: 64 KiB chunks of bits, allocated by the thread and
 * published with release, so the engine may read them while it runs.
 */
#define CHUNK_BITS ((uint32_t)1 << 19)
#define NCHUNKS (((uint64_t)1 << 32) / CHUNK_BITS)

struct matcher {
	struct match_set *ms;
	struct stats *st;	/* the caller's, added to at the end */
	struct stats counts;	/* what the thread's matching counts */
	uint8_t *ring;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t data;	/* the consumer waits for records */
	pthread_cond_t space;	/* the producer waits for room */
	/* Each side writes its own cache line. */
	_Alignas(64) _Atomic uint64_t head;
	atomic_bool producer_sleeps;
	uint64_t put;		/* producer's head, not yet published */
	uint64_t published;	/* head as last stored */
	bool finished;
	_Alignas(64) _Atomic uint64_t tail;
	atomic_bool consumer_sleeps;
	/* the thread's, off the line above */
	_Alignas(64) struct mflow **buckets;
	uint32_t nbuckets;	/* a power of two */
	uint32_t count;
	struct mflow *spare;
	/* read by both, written by the thread once a chunk */
	_Alignas(64) _Atomic(atomic_uchar *) matched[NCHUNKS];
};

/* ---- the thread's side ---- */

static void
mark_matched(struct matcher *m, uint32_t serial)
{
	atomic_uchar *c = atomic_load_explicit(&m->matched[serial / CHUNK_BITS],
	    memory_order_relaxed);
	uint32_t bit = serial % CHUNK_BITS;

	if (c == NULL) {
		/* A match lost for want of memory is counted as an error. */
		if ((c = calloc(CHUNK_BITS / 8, 1)) == NULL) {
			m->counts.match_errors++;
			return;
		}
		atomic_store_explicit(&m->matched[serial / CHUNK_BITS], c,
		    memory_order_release);
	}
	atomic_fetch_or_explicit(&c[bit / 8], (unsigned char)(1U << (bit % 8)),
	    memory_order_relaxed);
}

/* Knuth's multiplicative hash: serials are dense, the low bits spread. */
static uint32_t
bucket_of(uint32_t serial, uint32_t nbuckets)
{
	return (serial * 2654435761U) & (nbuckets - 1);
}

static struct mflow **
flow_slot(struct matcher *m, uint32_t serial)
{
	struct mflow **pp = &m->buckets[bucket_of(serial, m->nbuckets)];

	while (*pp != NULL && (*pp)->serial != serial)
		pp = &(*pp)->next;
	return pp;
}

static void
grow(struct matcher *m)
{
	uint32_t n = m->nbuckets * 2, i;
	struct mflow **nb = calloc(n, sizeof(*nb)), *f;

	if (nb == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < m->nbuckets; i++)
		while ((f = m->buckets[i]) != NULL) {
			m->buckets[i] = f->next;
			f->next = nb[bucket_of(f->serial, n)];
			nb[bucket_of(f->serial, n)] = f;
		}
	free(m->buckets);
	m->buckets = nb;
	m->nbuckets = n;
}

/* The state at *pp (flow_slot()), made when there is none; NULL: no memory. */
static struct mflow *
flow_add(struct matcher *m, struct mflow **pp, uint32_t serial)
{
	struct mflow *f;

	if (*pp != NULL)
		return *pp;
	if ((f = m->spare) != NULL)
		m->spare = f->next;
	else if ((f = malloc(sizeof(*f))) == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->serial = serial;
	f->next = *pp;
	*pp = f;
	if (++m->count > 2 * m->nbuckets)
		grow(m);
	return f;
}

static void
flow_drop(struct matcher *m, struct mflow **pp)
{
	struct mflow *f = *pp;

	if (f == NULL)
		return;
	*pp = f->next;
	m->count--;
	match_dir_release(&f->md[0]);
	match_dir_release(&f->md[1]);
	f->next = m->spare;
	m->spare = f;
}

static void
match_record(struct matcher *m, const struct rec *r)
{
	const uint8_t *p = (const uint8_t *)(r + 1);
	struct match_hit hit;
	struct mflow **pp, *f;
	int dir = r->dir;

	if (r->type == REC_DATAGRAM) {
		if (!matcher_matched(m, r->serial) &&
		    match_datagram(m->ms, dir, p, r->len, &hit))
			mark_matched(m, r->serial);
		return;
	}
	pp = flow_slot(m, r->serial);
	if (r->type == REC_END) {
		flow_drop(m, pp);
		return;
	}
	/* A flow's state goes when it matches: what follows is not needed. */
	if (*pp == NULL && matcher_matched(m, r->serial))
		return;
	if ((f = flow_add(m, pp, r->serial)) == NULL) {
		/* Not matched for want of memory: an error, as PCRE2's. */
		m->counts.match_errors++;
		return;
	}
	if (f->over)
		return;
	if (r->type == REC_GAP)
		match_gap(m->ms, &f->md[dir], r->len);
	else if (match_feed(m->ms, &f->md[dir], dir, p, r->len, &hit)) {
		mark_matched(m, r->serial);
		flow_drop(m, flow_slot(m, r->serial));
		return;
	}
	/* As in the engine: the flow is decided here. */
	if (match_flow_done(m->ms, f->md)) {
		f->over = true;
		match_dir_release(&f->md[0]);
		match_dir_release(&f->md[1]);
	}
}

static size_t
rec_size(const struct rec *r)
{
	if (r->type == REC_DATA || r->type == REC_DATAGRAM)
		return sizeof(*r) + (((size_t)r->len + 15) & ~(size_t)15);
	return sizeof(*r);
}

/* Wakes the producer when it sleeps and the ring is half empty. */
static void
give_back(struct matcher *m, uint64_t tail, uint64_t head)
{
	atomic_store(&m->tail, tail);
	if (atomic_load(&m->producer_sleeps) && head - tail <= RING / 2) {
		pthread_mutex_lock(&m->mu);
		pthread_cond_signal(&m->space);
		pthread_mutex_unlock(&m->mu);
	}
}

static void *
consume(void *arg)
{
	struct matcher *m = arg;
	uint64_t tail = 0, given = 0, head;
	const struct rec *r;

	for (;;) {
		head = atomic_load_explicit(&m->head, memory_order_acquire);
		while (tail != head) {
			r = (const struct rec *)(m->ring + (tail & (RING - 1)));
			if (r->type == REC_FINISH) {
				give_back(m, tail + sizeof(*r), head);
				return NULL;
			}
			if (r->type == REC_PAD)
				tail += RING - (tail & (RING - 1));
			else {
				match_record(m, r);
				tail += rec_size(r);
			}
			if (tail - given >= GIVE_BACK) {
				give_back(m, tail, head);
				given = tail;
			}
		}
		give_back(m, tail, head);
		given = tail;
		pthread_mutex_lock(&m->mu);
		atomic_store(&m->consumer_sleeps, true);
		while (atomic_load(&m->head) == tail)
			pthread_cond_wait(&m->data, &m->mu);
		atomic_store(&m->consumer_sleeps, false);
		pthread_mutex_unlock(&m->mu);
	}
}

/* ---- the engine's side ---- */

bool
matcher_matched(const struct matcher *m, uint32_t serial)
{
	atomic_uchar *c = atomic_load_explicit(&m->matched[serial / CHUNK_BITS],
	    memory_order_acquire);
	uint32_t bit = serial % CHUNK_BITS;

	return c != NULL && ((atomic_load_explicit(&c[bit / 8],
	    memory_order_relaxed) >> (bit % 8)) & 1);
}

bool
matcher_behind(const struct matcher *m)
{
	return m->put - atomic_load_explicit(&m->tail, memory_order_relaxed) >
	    RING / 2;
}

/* Makes what was put visible, waking the consumer when enough waits. */
static void
publish(struct matcher *m, bool wake)
{
	m->published = m->put;
	atomic_store(&m->head, m->put);
	if (atomic_load(&m->consumer_sleeps) &&
	    (wake || m->put - atomic_load(&m->tail) >= WAKE)) {
		pthread_mutex_lock(&m->mu);
		pthread_cond_signal(&m->data);
		pthread_mutex_unlock(&m->mu);
	}
}

/* Waits until need more bytes fit after m->put. */
static void
make_room(struct matcher *m, size_t need)
{
	if (m->put + need - atomic_load_explicit(&m->tail,
	    memory_order_acquire) <= RING)
		return;
	publish(m, true);
	pthread_mutex_lock(&m->mu);
	atomic_store(&m->producer_sleeps, true);
	while (m->put + need - atomic_load(&m->tail) > RING / 2 + need)
		pthread_cond_wait(&m->space, &m->mu);
	atomic_store(&m->producer_sleeps, false);
	pthread_mutex_unlock(&m->mu);
}

static void
put(struct matcher *m, enum rec_type type, uint32_t serial, int dir,
    const uint8_t *p, uint32_t len)
{
	struct rec r = { serial, len, (uint8_t)type, (uint8_t)dir, { 0 } };
	size_t need = rec_size(&r), off = m->put & (RING - 1);

	/* Flows freed without engine_finish() end after the thread. */
	if (m->finished)
		return;
	if (off + need > RING) {
		struct rec pad = { 0, 0, REC_PAD, 0, { 0 } };

		make_room(m, RING - off);
		memcpy(m->ring + off, &pad, sizeof(pad));
		m->put += RING - off;
		off = 0;
	}
	make_room(m, need);
	memcpy(m->ring + off, &r, sizeof(r));
	if (type == REC_DATA || type == REC_DATAGRAM)
		memcpy(m->ring + off + sizeof(r), p, len);
	m->put += need;
	if (type == REC_FINISH || m->put - m->published >= PUBLISH_EVERY)
		publish(m, type == REC_FINISH);
}

void
matcher_data(struct matcher *m, uint32_t serial, int dir, const uint8_t *p,
    uint32_t len)
{
	uint32_t n;

	for (; len > 0; p += n, len -= n) {
		n = len < PIECE_MAX ? len : PIECE_MAX;
		put(m, REC_DATA, serial, dir, p, n);
	}
}

void
matcher_gap(struct matcher *m, uint32_t serial, int dir, uint32_t len)
{
	put(m, REC_GAP, serial, dir, NULL, len);
}

void
matcher_datagram(struct matcher *m, uint32_t serial, int dir,
    const uint8_t *p, uint32_t len)
{
	/* A datagram is matched whole: one beyond a piece is cut there. */
	put(m, REC_DATAGRAM, serial, dir, p, len < PIECE_MAX ? len : PIECE_MAX);
}

void
matcher_end(struct matcher *m, uint32_t serial)
{
	put(m, REC_END, serial, 0, NULL, 0);
}

struct matcher *
matcher_new(struct match_set *ms, struct stats *st)
{
	struct matcher *m;
	sigset_t all, old;
	int rc;

	if (match_set_prepare(ms) == -1 ||
	    (m = aligned_alloc(_Alignof(struct matcher), sizeof(*m))) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->ms = ms;
	m->st = st;
	m->nbuckets = 1024;
	m->ring = malloc(RING);
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->ring == NULL || m->buckets == NULL) {
		free(m->ring);
		free(m->buckets);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->data, NULL);
	pthread_cond_init(&m->space, NULL);
	match_set_stats(ms, &m->counts);
	/* Signals are for the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&m->thread, NULL, consume, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		m->finished = true;
		match_set_stats(ms, st);
		matcher_free(m);
		return NULL;
	}
	return m;
}

void
matcher_finish(struct matcher *m)
{
	if (m->finished)
		return;
	put(m, REC_FINISH, 0, 0, NULL, 0);
	m->finished = true;
	pthread_join(m->thread, NULL);
	m->st->match_errors += m->counts.match_errors;
	m->st->match_jit_fallbacks += m->counts.match_jit_fallbacks;
	m->st->window_overflows += m->counts.window_overflows;
	m->st->depth_reached += m->counts.depth_reached;
	match_set_stats(m->ms, m->st);
}

void
matcher_free(struct matcher *m)
{
	struct mflow *f;
	uint32_t i;
	uint64_t c;

	if (m == NULL)
		return;
	matcher_finish(m);
	for (i = 0; i < m->nbuckets; i++)
		while (m->buckets[i] != NULL)
			flow_drop(m, &m->buckets[i]);
	while ((f = m->spare) != NULL) {
		m->spare = f->next;
		free(f);
	}
	for (c = 0; c < NCHUNKS; c++)
		free(atomic_load(&m->matched[c]));
	pthread_cond_destroy(&m->space);
	pthread_cond_destroy(&m->data);
	pthread_mutex_destroy(&m->mu);
	free(m->buckets);
	free(m->ring);
	free(m);
}
