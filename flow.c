/* flow.c: the flow table, lifetimes, client/server roles, verdicts, held packets. */
#include <sys/mman.h>
#include <sys/random.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

/* What every packet reads of its flow stays in the flow's first line. */
_Static_assert(offsetof(struct flow, outlived_rst) < 64,
    "a per-packet flag of struct flow left its first cache line");

/* The lifetime lists: each holds flows of one timeout, oldest first. */
enum flow_list {
	LIST_TCP_OPEN,
	LIST_TCP_CLOSED,
	LIST_TCP_RESET,
	LIST_OTHER,		/* UDP and other IP protocols */
	LIST_COUNT,
};

/*
 * The table is open addressing with linear probing, at most half full.
 * Each slot holds a flow's address (the low 48 bits, all a user-space
 * address has) and 16 bits of its hash above it, so that a probe compares
 * hashes in the slot array, a line or two, and reads only the flow that
 * matches: a chained table reads every flow on the chain, most of them
 * ended long ago and out of the cache.
 */
#define FLOW_SLOTS_MIN 8192
#define SLOT_PTR_MASK ((UINT64_C(1) << 48) - 1)
#define SLOT_TAG(hash) ((uint64_t)((hash) >> 16) << 48)
#define SLOT_FLOW(s) ((struct flow *)(uintptr_t)((s) & SLOT_PTR_MASK))
/*
 * Freed flows kept for reuse, so that a steady state of flows coming and
 * going does not call malloc for each; more than this goes back to libc.
 */
#define FLOW_FREE_MAX 4096

struct flow_table {
	uint64_t *slots;	/* 0: empty */
	uint32_t nslots;	/* a power of two */
	uint32_t count;
	uint32_t max_flows;
	uint64_t timeout[LIST_COUNT];
	struct flow *head[LIST_COUNT];
	struct flow *tail[LIST_COUNT];
	struct flow *free_list;
	uint32_t free_count;
	uint64_t seed;		/* random: hash flooding needs the seed */
	/*
	 * The latest time flow_expire() was given. Activity is stamped with
	 * it when a packet is older, so each list stays in last_ts order and
	 * expiry does not depend on which other flows are in the table
	 * (shards must agree with one unsharded run).
	 */
	uint64_t clock;
	/*
	 * No flow ends before this time: a bound, lowered by each append to
	 * a list and made exact by each walk, so that most packets' expiry
	 * check is one comparison.
	 */
	uint64_t expiry_floor;
	struct stats *st;
	flow_end_fn end;
	void *ctx;
};

struct flow_table *
flow_table_new(uint32_t max_flows, uint64_t tcp_timeout_ns,
    uint64_t udp_timeout_ns, struct stats *st, flow_end_fn end, void *ctx)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->nslots = FLOW_SLOTS_MIN;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	t->max_flows = max_flows > 0 ? max_flows : 1;
	t->timeout[LIST_TCP_OPEN] = tcp_timeout_ns;
	t->timeout[LIST_TCP_CLOSED] = FLOW_CLOSED_TIMEOUT_NS < tcp_timeout_ns ?
	    FLOW_CLOSED_TIMEOUT_NS : tcp_timeout_ns;
	t->timeout[LIST_TCP_RESET] = FLOW_RESET_TIMEOUT_NS < tcp_timeout_ns ?
	    FLOW_RESET_TIMEOUT_NS : tcp_timeout_ns;
	t->timeout[LIST_OTHER] = udp_timeout_ns;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    sizeof(t->seed))
		t->seed = 0x9e3779b97f4a7c15ULL;
	t->st = st;
	t->end = end;
	t->ctx = ctx;
	return t;
}

static uint64_t
mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

/*
 * Every packet hashes its key, so IPv4 keys (the upper 12 bytes of each
 * address are zero) fold both addresses into one word: three rounds rather
 * than six. The IP version is part of the last word, so a v4 key never
 * hashes like a v6 one by construction.
 */
static uint32_t
key_hash(const struct flow_table *t, const struct flow_key *k)
{
	uint64_t h = t->seed, w, x;
	uint32_t a, b;

	if (k->ipver == 4) {
		memcpy(&a, k->addr[0], 4);
		memcpy(&b, k->addr[1], 4);
		h = mix64(h, (uint64_t)a << 32 | b);
	} else {
		memcpy(&w, k->addr[0], 8);
		memcpy(&x, k->addr[0] + 8, 8);
		h = mix64(mix64(h, w), x);
		memcpy(&w, k->addr[1], 8);
		memcpy(&x, k->addr[1] + 8, 8);
		h = mix64(mix64(h, w), x);
	}
	h = mix64(h, (uint64_t)k->port[0] << 48 | (uint64_t)k->port[1] << 32 |
	    (uint64_t)k->vlan[0] << 16 | k->vlan[1]);
	h = mix64(h, (uint64_t)k->ipver << 16 | (uint64_t)k->proto << 8 |
	    k->vlan_count);
	return (uint32_t)(h ^ (h >> 32));
}

/*
 * The addresses compared as words: memcmp() of a size known here is still
 * a call into libc on every packet.
 */
static bool
addrs_equal(const uint8_t *a, const uint8_t *b)
{
	uint64_t x = 0, wa, wb;
	size_t i;

	for (i = 0; i < 32; i += 8) {
		memcpy(&wa, a + i, 8);
		memcpy(&wb, b + i, 8);
		x |= wa ^ wb;
	}
	return x == 0;
}

static bool
key_equal(const struct flow_key *a, const struct flow_key *b)
{
	return a->proto == b->proto && a->port[0] == b->port[0] &&
	    a->port[1] == b->port[1] && a->vlan_count == b->vlan_count &&
	    a->vlan[0] == b->vlan[0] && a->vlan[1] == b->vlan[1] &&
	    a->ipver == b->ipver && addrs_equal(a->addr[0], b->addr[0]);
}

/* memcmp(a, b, 16) as a sign, from two big-endian words. */
static int
addr_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t wa, wb;
	size_t i;

	for (i = 0; i < 16; i += 8) {
		memcpy(&wa, a + i, 8);
		memcpy(&wb, b + i, 8);
		wa = be64toh(wa);
		wb = be64toh(wb);
		if (wa != wb)
			return wa < wb ? -1 : 1;
	}
	return 0;
}

/*
 * Builds the normalised key of v and returns the index (0 or 1) the sender
 * has in it.
 */
static int
key_from_view(const struct pkt_view *v, struct flow_key *k)
{
	int c = addr_cmp(v->src, v->dst);
	int sender;

	memset(k, 0, sizeof(*k));
	k->proto = v->proto;
	k->ipver = v->ipver;
	k->vlan_count = v->vlan_count;
	k->vlan[0] = v->vlan[0];
	k->vlan[1] = v->vlan[1];
	sender = (c < 0 || (c == 0 && v->sport <= v->dport)) ? 0 : 1;
	memcpy(k->addr[sender], v->src, 16);
	memcpy(k->addr[1 - sender], v->dst, 16);
	k->port[sender] = v->sport;
	k->port[1 - sender] = v->dport;
	return sender;
}

static void
list_unlink(struct flow_table *t, struct flow *f)
{
	if (f->lprev != NULL)
		f->lprev->lnext = f->lnext;
	else
		t->head[f->list] = f->lnext;
	if (f->lnext != NULL)
		f->lnext->lprev = f->lprev;
	else
		t->tail[f->list] = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void
list_append(struct flow_table *t, struct flow *f, int list)
{
	uint64_t expiry = f->last_ts + t->timeout[list];

	if (expiry < t->expiry_floor)
		t->expiry_floor = expiry;
	f->list = (uint8_t)list;
	f->lnext = NULL;
	f->lprev = t->tail[list];
	if (t->tail[list] != NULL)
		t->tail[list]->lnext = f;
	else
		t->head[list] = f;
	t->tail[list] = f;
}

/* Puts f in its first free slot from its hash on. */
static void
slot_insert(uint64_t *slots, uint32_t nslots, struct flow *f)
{
	uint32_t i = f->hash & (nslots - 1);

	while (slots[i] != 0)
		i = (i + 1) & (nslots - 1);
	slots[i] = SLOT_TAG(f->hash) | ((uintptr_t)f & SLOT_PTR_MASK);
}

/*
 * Takes f's slot out, moving back the slots after it that probing would
 * no longer reach (Knuth's algorithm R): no tombstones to sweep.
 */
static void
slot_remove(struct flow_table *t, struct flow *f)
{
	uint32_t mask = t->nslots - 1, i = f->hash & mask, j, k;

	while (t->slots[i] != 0 && SLOT_FLOW(t->slots[i]) != f)
		i = (i + 1) & mask;
	if (t->slots[i] == 0)
		return;
	for (j = i;;) {
		j = (j + 1) & mask;
		if (t->slots[j] == 0)
			break;
		k = SLOT_FLOW(t->slots[j])->hash & mask;
		/* The slot stays if its home lies cyclically in (i, j]. */
		if (i <= j ? i < k && k <= j : i < k || k <= j)
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = 0;
}

/* Takes f out of the table, tells the owner, and frees it. */
static void
flow_remove(struct flow_table *t, struct flow *f, enum flow_end_reason r)
{
	slot_remove(t, f);
	list_unlink(t, f);
	t->count--;
	if (t->end != NULL)
		t->end(t->ctx, f, r);
	if (t->free_count < FLOW_FREE_MAX) {
		f->free_next = t->free_list;
		t->free_list = f;
		t->free_count++;
	} else
		free(f);
}

/*
 * Doubles the slots before one more flow would fill half of them. Returns
 * -1 when it cannot and the table is full: the flow is then not created.
 */
static int
table_grow(struct flow_table *t)
{
	uint32_t n = t->nslots * 2, i;
	uint64_t *s;

	if ((t->count + 1) * 2 <= t->nslots)
		return 0;
	if (n > (1U << 30) || (s = calloc(n, sizeof(*s))) == NULL)
		return t->count + 1 < t->nslots ? 0 : -1;
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i] != 0)
			slot_insert(s, n, SLOT_FLOW(t->slots[i]));
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

/* The least recently active flow of all lists, or NULL. */
static struct flow *
oldest_flow(const struct flow_table *t)
{
	struct flow *best = NULL;
	int i;

	for (i = 0; i < LIST_COUNT; i++)
		if (t->head[i] != NULL &&
		    (best == NULL || t->head[i]->last_ts < best->last_ts))
			best = t->head[i];
	return best;
}

/*
 * Client and server roles (DESIGN.md section 2): the sender of a SYN without
 * ACK is the client, the receiver of a SYN+ACK is, otherwise the higher port
 * is, and with equal ports the first sender.
 */
static int
client_index(const struct pkt_view *v, int sender)
{
	uint16_t sender_port = v->sport, other_port = v->dport;

	if (v->proto == IPPROTO_NUM_TCP && (v->tcp_flags & TCP_SYN))
		return (v->tcp_flags & TCP_ACK) ? 1 - sender : sender;
	if (v->proto != IPPROTO_NUM_TCP)
		return sender;
	if (sender_port != other_port)
		return sender_port > other_port ? sender : 1 - sender;
	return sender;
}

/* Flows start on a cache line: see struct flow. */
#define FLOW_ALIGN 64
#define FLOW_ALLOC_SIZE \
	((sizeof(struct flow) + FLOW_ALIGN - 1) / FLOW_ALIGN * FLOW_ALIGN)

static struct flow *
flow_create(struct flow_table *t, const struct flow_key *k, uint32_t hash,
    const struct pkt_view *v, int sender, uint64_t ts, uint32_t *next_serial)
{
	struct flow *f, *old;

	while (t->count >= t->max_flows && (old = oldest_flow(t)) != NULL) {
		if (t->st != NULL)
			t->st->flows_evicted++;
		flow_remove(t, old, FLOW_END_EVICTED);
	}
	if (table_grow(t) == -1)
		return NULL;
	if (t->free_list != NULL) {
		f = t->free_list;
		t->free_list = f->free_next;
		t->free_count--;
	} else if ((f = aligned_alloc(FLOW_ALIGN, FLOW_ALLOC_SIZE)) == NULL)
		return NULL;
	if ((uintptr_t)f & ~(uintptr_t)SLOT_PTR_MASK) {
		/* Beyond 48 bits: not on any system this runs on. */
		free(f);
		return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->hash = hash;
	f->client = (uint8_t)client_index(v, sender);
	f->first_ts = ts;
	f->last_ts = ts > t->clock ? ts : t->clock;
	f->unit.serial = (*next_serial)++;
	if (v->proto == IPPROTO_NUM_TCP) {
		reasm_tcp_init(&f->tcp);
		f->midstream = !(v->tcp_flags & TCP_SYN);
		list_append(t, f, LIST_TCP_OPEN);
	} else
		list_append(t, f, LIST_OTHER);
	if (t->st != NULL) {
		if (v->proto == IPPROTO_NUM_TCP) {
			t->st->flows_tcp++;
			t->st->flows_midstream += f->midstream;
		} else if (v->proto == IPPROTO_NUM_UDP)
			t->st->flows_udp++;
		else
			t->st->flows_other++;
	}
	slot_insert(t->slots, t->nslots, f);
	t->count++;
	return f;
}

struct flow *
flow_lookup(struct flow_table *t, const struct pkt_view *v, uint64_t ts,
    uint32_t *next_serial, int *dir, bool *created)
{
	struct flow_key k;
	struct flow *f = NULL;
	int sender = key_from_view(v, &k);
	uint32_t hash = key_hash(t, &k), mask = t->nslots - 1, i;
	uint64_t s, tag = SLOT_TAG(hash);

	*created = false;
	for (i = hash & mask; (s = t->slots[i]) != 0; i = (i + 1) & mask)
		if ((s & ~SLOT_PTR_MASK) == tag) {
			f = SLOT_FLOW(s);
			if (f->hash == hash && key_equal(&f->key, &k))
				break;
			f = NULL;
		}
	/* A new connection on the tuple of a finished one (port reuse). */
	if (f != NULL && f->state != FLOW_OPEN &&
	    (v->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		flow_remove(t, f, FLOW_END_REUSED);
		f = NULL;
	}
	if (f == NULL) {
		f = flow_create(t, &k, hash, v, sender, ts, next_serial);
		if (f == NULL)
			return NULL;
		*created = true;
	} else {
		if (ts < t->clock)
			ts = t->clock;
		if (ts > f->last_ts)
			f->last_ts = ts;
		/*
		 * A flow sending a burst is already last: moving it would
		 * touch its neighbours' cache lines for nothing.
		 */
		if (t->tail[f->list] != f) {
			list_unlink(t, f);
			list_append(t, f, f->list);
		}
	}
	*dir = sender == f->client ? 0 : 1;
	return f;
}

/* Gives f a new state and the lifetime list that goes with it. */
static void
set_state(struct flow_table *t, struct flow *f, enum flow_state state,
    int list)
{
	f->state = (uint8_t)state;
	list_unlink(t, f);
	list_append(t, f, list);
}

void
flow_close(struct flow_table *t, struct flow *f)
{
	if (f->state != FLOW_CLOSED)
		set_state(t, f, FLOW_CLOSED, LIST_TCP_CLOSED);
}

void
flow_reset(struct flow_table *t, struct flow *f)
{
	if (f->state == FLOW_OPEN)
		set_state(t, f, FLOW_RESET, LIST_TCP_RESET);
}

void
flow_expire(struct flow_table *t, uint64_t ts)
{
	struct flow *f;
	int i;

	if (ts > t->clock)
		t->clock = ts;
	if (ts <= t->expiry_floor)
		return;
	t->expiry_floor = UINT64_MAX;
	for (i = 0; i < LIST_COUNT; i++) {
		while ((f = t->head[i]) != NULL &&
		    f->last_ts + t->timeout[i] < ts) {
			/* Ended connections do not count as idle. */
			if ((i == LIST_TCP_OPEN || i == LIST_OTHER) &&
			    t->st != NULL)
				t->st->flows_timed_out++;
			flow_remove(t, f, FLOW_END_TIMEOUT);
		}
		if (f != NULL && f->last_ts + t->timeout[i] < t->expiry_floor)
			t->expiry_floor = f->last_ts + t->timeout[i];
	}
}

uint32_t
flow_count(const struct flow_table *t)
{
	return t->count;
}

/* A flow and its serial, sorted without reading the flows again. */
struct flow_order {
	uint32_t serial;
	struct flow *f;
};

static int
serial_cmp(const void *a, const void *b)
{
	const struct flow_order *fa = a, *fb = b;

	return fa->serial < fb->serial ? -1 : fa->serial > fb->serial;
}

void
flow_table_free(struct flow_table *t)
{
	struct flow_order *all;
	struct flow *f;
	uint32_t n = 0, i;

	if (t == NULL)
		return;
	/* End the remaining flows in the order they began: reports read so. */
	all = malloc((size_t)t->count * sizeof(*all) + 1);
	if (all != NULL) {
		for (i = 0; i < LIST_COUNT; i++)
			for (f = t->head[i]; f != NULL; f = f->lnext) {
				all[n].serial = f->unit.serial;
				all[n++].f = f;
			}
		qsort(all, n, sizeof(*all), serial_cmp);
		for (i = 0; i < n; i++)
			flow_remove(t, all[i].f, FLOW_END_FINISH);
		free(all);
	}
	while ((f = oldest_flow(t)) != NULL)
		flow_remove(t, f, FLOW_END_FINISH);
	while ((f = t->free_list) != NULL) {
		t->free_list = f->free_next;
		free(f);
	}
	free(t->slots);
	free(t);
}

const uint8_t *
flow_addr(const struct flow *f, int which)
{
	return f->key.addr[which == 0 ? f->client : 1 - f->client];
}

uint16_t
flow_port(const struct flow *f, int which)
{
	return f->key.port[which == 0 ? f->client : 1 - f->client];
}

bool
unit_decide(struct unit *u, enum verdict v, bool invert)
{
	u->verdict = (uint8_t)v;
	u->selected = (v == VERDICT_MATCH) != invert;
	return u->selected;
}

/* ---- held packets ---- */

/*
 * Held packets live in an arena: one reservation of --hold-mem, cut into
 * chunks. Standard input is read straight into chunks (pcapio_set_chunks),
 * so a packet read from a pipe is held where it lies, by reference, and
 * never copied; records that come from elsewhere (pcapng, live capture,
 * tests) are copied once into a "copy chunk". A chunk goes back to the free
 * list when its last held packet is let go, and is reused while its pages
 * are still mapped and hot, without a system call. A chunk is mapped at
 * its first use with one madvise(MADV_POPULATE_WRITE) rather than a page
 * fault per page (on 256 MiB, about 0.1 s less); an input chunk by the
 * thread that reads into it (pipefill.c). The chunks in use and the
 * descriptors together stay within --hold-mem.
 *
 * A single long-lived packet (a UDP flow waits for its idle timeout) pins
 * its whole chunk, so when no chunk is free the sparsest ones are
 * compacted: their few held packets are copied into a copy chunk and they
 * are freed. When every chunk is dense, the oldest held packets are
 * dropped, a chunk at a time, and counted.
 *
 * Each unit keeps its packets as a list of descriptor blocks, in arrival
 * order: letting go of a flow decided "no match" walks its descriptors and
 * never touches the packet bytes. Each chunk keeps a list of the
 * descriptors pointing into it, which compaction walks.
 */

/* The largest chunk; smaller --hold-mem values get smaller chunks. */
#define HOLD_CHUNK_MAX ((size_t)1 << 20)
#define HOLD_CHUNK_MAX_SHIFT 20
/* The smallest chunk: a budget below HOLD_CHUNKS_MIN of them holds nothing. */
#define HOLD_CHUNK_MIN ((size_t)256)
#define HOLD_CHUNKS_MIN 4
/* Budgets are cut into at least this many chunks while chunks shrink. */
#define HOLD_CHUNKS_WANT 64
/*
 * Compaction empties a chunk only when its packets fill at most this many
 * sixteenths of it: past that, copying costs more bytes than it frees and
 * dropping the oldest packets is the better deal. Before a chunk never used
 * is taken (its memory is new to the process), only chunks filled at most
 * HOLD_COMPACT_CHEAP sixteenths are emptied.
 */
#define HOLD_COMPACT_FILL 8
#define HOLD_COMPACT_CHEAP 2
/* One compaction frees up to two chunks and this fraction of all of them. */
#define HOLD_COMPACT_DIV 64
/*
 * Descriptors per block: a unit's first block is small, as most units (a
 * SYN, a DNS query) hold a packet or two and a flood of them must not cost
 * a large block each; the blocks after it are larger. Blocks come from
 * slabs of at most HOLD_SLAB_BYTES, and no more than 1/HOLD_SLAB_SHARE of
 * the budget.
 */
#define HOLD_BLK_SMALL 2
#define HOLD_BLK_LARGE 7
#define HOLD_SLAB_BYTES ((size_t)64 << 10)
#define HOLD_SLAB_SHARE 64
/* Stale descriptors (of dropped packets) worth a sweep. */
#define HOLD_STALE_MIN 64
/* Chunks at least this large are whole pages (of 4 KiB to 64 KiB). */
#define HOLD_PAGE_MIN ((size_t)64 << 10)
/* A chunk's first rev list: an entry per KiB of chunk, 4 to 256. */
#define HOLD_REV_FIRST(h) ((h)->chunk_size >= ((size_t)256 << 10) ? 256U : \
	(h)->chunk_size >= ((size_t)4 << 10) ? \
	(uint32_t)((h)->chunk_size >> 10) : 4U)
#define HOLD_NONE UINT32_MAX
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum chunk_state {
	CHUNK_FREE,
	CHUNK_INPUT,		/* pcapio reads into it */
	CHUNK_COPY,		/* copies are appended to it */
	CHUNK_SEALED,		/* full: freed when its last packet goes */
};

/*
 * One held packet: its record (header then data) in a chunk. A descriptor
 * whose rec points into a chunk of the same generation is a packet held
 * there, and nothing else is: one let go has rec NULL, one dropped an old
 * generation.
 */
struct held_desc {
	const uint8_t *rec;	/* NULL once let go */
	uint64_t ts_ns;
	uint32_t caplen;
	uint32_t seq;		/* arrival number; compared as a difference */
	uint32_t gen;		/* its chunk's generation; else it was dropped */
	uint32_t pad;
};

struct held_blk {
	struct held_blk *next;
	uint32_t n;
	uint32_t cap;		/* HOLD_BLK_SMALL or HOLD_BLK_LARGE */
	struct held_desc d[];
};

#define BLK_SIZE(cap) (sizeof(struct held_blk) + \
	(size_t)(cap) * sizeof(struct held_desc))

struct hold_chunk {
	size_t live_bytes;	/* of held packets in it */
	size_t used;		/* a copy chunk: bytes appended */
	uint32_t live;		/* held packets in it */
	uint32_t gen;		/* bumped whenever it is freed */
	uint32_t newest;	/* seq of the newest packet put in it */
	uint32_t next;		/* free list */
	uint8_t state;		/* enum chunk_state */
	bool has_newest;
	bool resident;		/* its pages are mapped */
	/*
	 * Where the descriptors pointing into it were put. Letting a packet
	 * go leaves its entry (writing it would cost a cache miss a packet):
	 * compaction checks each entry against the chunk (desc_in).
	 */
	struct held_desc **rev;
	uint32_t nrev;
	uint32_t caprev;
};

/* A unit's packets detached at the end of input (hold_detach). */
struct held_list {
	struct held_blk *head;
	bool write;
};

struct hold {
	size_t max_bytes;
	size_t bytes;			/* of held packets (header and data) */
	uint32_t seq;
	struct stats *st;

	/* The arena. */
	uint8_t *base;
	size_t arena_len;
	size_t chunk_size;		/* a power of two */
	unsigned chunk_shift;
	uint32_t nchunks;		/* the whole budget's */
	size_t slab_bytes;		/* of descriptor blocks */
	struct hold_chunk *chunks;
	uint32_t free_head;		/* resident, most recently freed first */
	uint32_t free_cold;		/* freed and given back to the system */
	bool no_populate;		/* no MADV_POPULATE_WRITE (Linux < 5.14) */
	uint32_t fresh;			/* chunks never used: fresh .. nchunks */
	uint32_t in_use;		/* not free */
	uint32_t resident;
	uint32_t copy;			/* the copy chunk, or HOLD_NONE */

	/* Descriptor blocks and rev lists: their bytes count in the budget. */
	struct held_blk *free_blks[2];	/* small, large */
	void **slabs;
	size_t nslabs;
	size_t slabs_cap;
	size_t desc_bytes;

	/* Units holding packets, and lists detached at the end. */
	struct unit *units;
	struct held_list *detached;
	size_t ndetached;
	size_t detached_cap;

	/* Compaction's candidates, allocated on first need. */
	uint32_t *order;

	/*
	 * Descriptors of dropped packets stay in their units' lists, stale,
	 * until the unit lets go; sweep_stale() takes them out when they
	 * would make the lists grow.
	 */
	uint64_t stale;
	uint64_t held;			/* packets held now */

	struct hold_info info;
};

static bool
seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

struct hold *
hold_new(size_t max_bytes, struct stats *st)
{
	struct hold *h = calloc(1, sizeof(*h));
	size_t cs = HOLD_CHUNK_MAX;
	unsigned shift = HOLD_CHUNK_MAX_SHIFT;
	uint32_t i;

	if (h == NULL)
		return NULL;
	h->max_bytes = max_bytes;
	h->st = st;
	h->copy = HOLD_NONE;
	h->free_head = HOLD_NONE;
	h->free_cold = HOLD_NONE;
	while (cs > HOLD_CHUNK_MIN && max_bytes / cs < HOLD_CHUNKS_WANT) {
		cs >>= 1;
		shift--;
	}
	h->chunk_size = cs;
	h->chunk_shift = shift;
	h->slab_bytes = max_bytes / HOLD_SLAB_SHARE;
	if (h->slab_bytes > HOLD_SLAB_BYTES)
		h->slab_bytes = HOLD_SLAB_BYTES;
	h->nchunks = max_bytes / cs > HOLD_NONE - 1 ? HOLD_NONE - 1 :
	    (uint32_t)(max_bytes / cs);
	if (h->nchunks < HOLD_CHUNKS_MIN)
		h->nchunks = 0;
	h->info.chunk_size = cs;
	h->info.nchunks = h->nchunks;
	if (h->nchunks == 0)
		return h;
	/*
	 * Address space for the whole budget, touched only as chunks are first
	 * used. Not in transparent huge pages: measured on a VM, a fresh huge
	 * page cost from 0.04 to 1.1 s per 256 MiB depending on what the host
	 * had mapped, 4 KiB pages a steady 0.2 to 0.3 s.
	 */
	h->arena_len = (size_t)h->nchunks * cs;
	h->base = mmap(NULL, h->arena_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	h->chunks = calloc(h->nchunks, sizeof(*h->chunks));
	if (h->base == MAP_FAILED || h->chunks == NULL) {
		if (h->base == MAP_FAILED)
			h->base = NULL;
		hold_free(h);
		return NULL;
	}
	for (i = 0; i < h->nchunks; i++)
		h->chunks[i].next = HOLD_NONE;
	return h;
}

static uint32_t
chunk_of(const struct hold *h, const uint8_t *p)
{
	return (uint32_t)((size_t)(p - h->base) >> h->chunk_shift);
}

static uint8_t *
chunk_mem(const struct hold *h, uint32_t c)
{
	return h->base + ((size_t)c << h->chunk_shift);
}

static bool
in_arena(const struct hold *h, const uint8_t *p)
{
	return h->base != NULL && p >= h->base && p < h->base + h->arena_len;
}

/* True while d's packet is held: not let go, not dropped since placed. */
static bool
desc_live(const struct hold *h, const struct held_desc *d)
{
	return d->rec != NULL && h->chunks[chunk_of(h, d->rec)].gen == d->gen;
}

/* True when d holds a packet in chunk c (a rev entry may be stale). */
static bool
desc_in(const struct hold *h, const struct held_desc *d, uint32_t c)
{
	return d->rec != NULL && chunk_of(h, d->rec) == c &&
	    h->chunks[c].gen == d->gen;
}

/* Chunks the budget allows now, descriptor memory taken off. */
static uint32_t
chunk_budget(const struct hold *h)
{
	size_t room = h->max_bytes > h->desc_bytes ?
	    h->max_bytes - h->desc_bytes : 0;

	room >>= h->chunk_shift;
	return room < h->nchunks ? (uint32_t)room : h->nchunks;
}

static void
chunk_free(struct hold *h, uint32_t c)
{
	struct hold_chunk *k = &h->chunks[c];

	k->state = CHUNK_FREE;
	k->gen++;
	k->live = 0;
	k->live_bytes = 0;
	k->used = 0;
	k->nrev = 0;
	k->has_newest = false;
	/*
	 * Descriptors grew into the budget: give this chunk's pages back
	 * rather than keep them for reuse. Only whole pages can go: a chunk
	 * smaller than a page shares it with others.
	 */
	if (k->resident && h->resident > chunk_budget(h) &&
	    h->chunk_size >= HOLD_PAGE_MIN) {
		(void)madvise(chunk_mem(h, c), h->chunk_size, MADV_DONTNEED);
		k->resident = false;
		h->resident--;
		h->info.given_back++;
	}
	/*
	 * Resident chunks are reused first, so that one given back stays
	 * unmapped until the budget has room for it again, rather than being
	 * faulted in again at once.
	 */
	if (k->resident) {
		k->next = h->free_head;
		h->free_head = c;
	} else {
		k->next = h->free_cold;
		h->free_cold = c;
	}
	h->in_use--;
}

/*
 * Maps a chunk's pages before first use with one system call rather than a
 * page fault each (Linux 5.14 and later); on older kernels the faults stay.
 */
static void
chunk_populate(struct hold *h, uint32_t c)
{
	if (h->no_populate || h->chunk_size < HOLD_PAGE_MIN)
		return;
	if (madvise(chunk_mem(h, c), h->chunk_size, MADV_POPULATE_WRITE) == 0)
		h->info.populated++;
	else if (errno == EINVAL)
		h->no_populate = true;	/* an older kernel */
}

/* A chunk no one appends to any more: freed now if it holds nothing. */
static void
chunk_seal(struct hold *h, uint32_t c)
{
	if (h->chunks[c].live == 0)
		chunk_free(h, c);
	else
		h->chunks[c].state = CHUNK_SEALED;
}

/*
 * Takes a chunk, if fewer than limit are in use: a freed one, or with
 * fresh, one never used. Its pages are mapped now with populate, else by
 * whoever writes it first. Returns HOLD_NONE otherwise.
 */
static uint32_t
chunk_pop(struct hold *h, uint32_t limit, bool fresh, bool populate)
{
	struct hold_chunk *k;
	uint32_t c;

	if (h->in_use >= limit)
		return HOLD_NONE;
	if (h->free_head != HOLD_NONE) {
		c = h->free_head;
		h->free_head = h->chunks[c].next;
	} else if (h->free_cold != HOLD_NONE) {
		c = h->free_cold;
		h->free_cold = h->chunks[c].next;
	} else if (fresh && h->fresh < h->nchunks)
		c = h->fresh++;
	else
		return HOLD_NONE;
	k = &h->chunks[c];
	k->next = HOLD_NONE;
	k->used = 0;
	if (!k->resident) {
		k->resident = true;
		h->resident++;
		if (populate)
			chunk_populate(h, c);
	}
	h->in_use++;
	return c;
}

static void
unit_link(struct hold *h, struct unit *u)
{
	u->hold_prev = NULL;
	u->hold_next = h->units;
	if (h->units != NULL)
		h->units->hold_prev = u;
	h->units = u;
}

static void
unit_unlink(struct hold *h, struct unit *u)
{
	if (u->hold_prev != NULL)
		u->hold_prev->hold_next = u->hold_next;
	else
		h->units = u->hold_next;
	if (u->hold_next != NULL)
		u->hold_next->hold_prev = u->hold_prev;
	u->hold_prev = u->hold_next = NULL;
}

/*
 * Notes in chunk c's rev list that d points into it. Its memory counts in
 * the budget; false when out of memory.
 */
static bool
rev_push(struct hold *h, uint32_t c, struct held_desc *d)
{
	struct hold_chunk *k = &h->chunks[c];

	if (k->nrev == k->caprev) {
		uint32_t n = k->caprev ? k->caprev * 2 : HOLD_REV_FIRST(h);
		struct held_desc **p = realloc(k->rev, n * sizeof(*p));

		if (p == NULL)
			return false;
		h->desc_bytes += (size_t)(n - k->caprev) * sizeof(*p);
		k->rev = p;
		k->caprev = n;
	}
	k->rev[k->nrev++] = d;
	return true;
}

/* Accounts a packet placed in chunk c (its descriptor filled but gen). */
static void
chunk_add(struct hold *h, uint32_t c, struct held_desc *d, size_t len)
{
	struct hold_chunk *k = &h->chunks[c];

	d->gen = k->gen;
	k->live++;
	k->live_bytes += len;
	if (!k->has_newest || seq_before(k->newest, d->seq)) {
		k->newest = d->seq;
		k->has_newest = true;
	}
}

/* A held packet is let go: its chunk may become free. */
static void
desc_unref(struct hold *h, struct held_desc *d)
{
	uint32_t c = chunk_of(h, d->rec);
	struct hold_chunk *k = &h->chunks[c];
	size_t len = PCAPIO_RECORD_HEADER_LEN + d->caplen;

	d->rec = NULL;
	k->live--;
	k->live_bytes -= len;
	h->bytes -= len;
	h->held--;
	if (k->live == 0 && k->state == CHUNK_SEALED)
		chunk_free(h, c);
}

static uint32_t chunk_take(struct hold *h, bool populate);

/*
 * Room for len bytes in the copy chunk, starting a new one when it is full.
 * Compaction may take the chunk kept back for it; the others may compact
 * or drop to get one. Returns NULL (*cp unset) when there is none.
 */
static uint8_t *
copy_room(struct hold *h, size_t len, bool compacting, uint32_t *cp)
{
	struct hold_chunk *k;
	uint32_t c = h->copy;

	if (c != HOLD_NONE && h->chunks[c].used + len > h->chunk_size) {
		chunk_seal(h, c);
		c = h->copy = HOLD_NONE;
	}
	if (c == HOLD_NONE) {
		c = compacting ? chunk_pop(h, chunk_budget(h), true, true) :
		    chunk_take(h, true);
		if (c == HOLD_NONE)
			return NULL;
		if (h->copy != HOLD_NONE) {
			/* Compaction made a copy chunk meanwhile: fill it. */
			if (h->chunks[h->copy].used + len <= h->chunk_size) {
				chunk_free(h, c);
				c = h->copy;
			} else
				chunk_seal(h, h->copy);
		}
		h->chunks[c].state = CHUNK_COPY;
		h->copy = c;
	}
	k = &h->chunks[c];
	*cp = c;
	k->used += len;
	return chunk_mem(h, c) + k->used - len;
}

/*
 * Moves the held packets of sealed chunk v into copy chunks. Returns true
 * when v is then empty, and freed.
 */
static bool
evacuate(struct hold *h, uint32_t v)
{
	struct hold_chunk *vk = &h->chunks[v];
	struct held_desc *d;
	uint32_t i, dst;
	size_t len;
	uint8_t *p;

	for (i = 0; i < vk->nrev; i++) {
		/* Stale: let go, dropped, moved, or its slot reused. */
		if (!desc_in(h, d = vk->rev[i], v))
			continue;
		len = PCAPIO_RECORD_HEADER_LEN + d->caplen;
		if ((p = copy_room(h, len, true, &dst)) == NULL)
			return false;
		if (!rev_push(h, dst, d)) {
			h->chunks[dst].used -= len;
			return false;
		}
		memcpy(p, d->rec, len);
		d->rec = p;
		chunk_add(h, dst, d, len);
		h->info.bytes_moved += len;
		vk->live--;
		vk->live_bytes -= len;
		if (vk->live == 0) {
			chunk_free(h, v);
			return true;
		}
	}
	return false;
}

/*
 * Compaction: the sealed chunks whose packets fill at most fill sixteenths
 * of them are emptied into copy chunks, sparsest first, until a few are
 * free. It is lazy on purpose: a chunk left alone keeps losing packets as
 * their flows are decided, and is cheaper to empty later. Returns whether
 * a chunk was freed.
 */
static bool
compact(struct hold *h, unsigned fill)
{
	uint32_t c, nv = 0, i, j, t, freed = 0;
	uint32_t target = 2 + h->nchunks / HOLD_COMPACT_DIV;
	size_t limit = (h->chunk_size >> 4) * fill;

	/* The chunk kept back receives the first copies. */
	if (chunk_budget(h) < 3)
		return false;
	if (h->order == NULL &&
	    (h->order = malloc(h->nchunks * sizeof(*h->order))) == NULL)
		return false;
	for (c = 0; c < h->fresh; c++)
		if (h->chunks[c].state == CHUNK_SEALED &&
		    h->chunks[c].live_bytes <= limit)
			h->order[nv++] = c;
	if (nv == 0)
		return false;
	/* Sparsest first; candidates are few, and insertion sort does. */
	for (i = 1; i < nv; i++) {
		t = h->order[i];
		for (j = i; j > 0 && h->chunks[h->order[j - 1]].live_bytes >
		    h->chunks[t].live_bytes; j--)
			h->order[j] = h->order[j - 1];
		h->order[j] = t;
	}
	for (i = 0; i < nv && freed < target; i++) {
		/* An earlier evacuation may have sealed or freed others. */
		if (h->chunks[h->order[i]].state != CHUNK_SEALED)
			continue;
		if (!evacuate(h, h->order[i]))
			break;
		freed++;
	}
	h->info.compactions++;
	return freed > 0;
}

/*
 * Drops the held packets of the chunk whose newest packet is the oldest (so
 * that every packet dropped is older than any other chunk's latest; not the
 * chunk pcapio reads into) and frees it. Their descriptors stay behind,
 * stale: the chunk's new generation tells. Returns false if no chunk
 * qualifies.
 */
static bool
drop_oldest(struct hold *h)
{
	uint32_t c, best = HOLD_NONE;

	for (c = 0; c < h->fresh; c++) {
		const struct hold_chunk *k = &h->chunks[c];

		if ((k->state == CHUNK_SEALED || k->state == CHUNK_COPY) &&
		    k->live > 0 && (best == HOLD_NONE ||
		    seq_before(k->newest, h->chunks[best].newest)))
			best = c;
	}
	if (best == HOLD_NONE)
		return false;
	if (h->st != NULL)
		h->st->packets_dropped += h->chunks[best].live;
	h->stale += h->chunks[best].live;
	h->held -= h->chunks[best].live;
	h->bytes -= h->chunks[best].live_bytes;
	if (best == h->copy)
		h->copy = HOLD_NONE;
	chunk_free(h, best);
	h->info.chunks_dropped++;
	return true;
}

/*
 * A free chunk for normal use: one freed before, else one emptied cheaply,
 * else one never used, else one emptied at more cost, else the oldest
 * packets' chunk. One chunk is always kept back for compaction's copies.
 */
static uint32_t
chunk_take(struct hold *h, bool populate)
{
	uint32_t c, budget;

	for (;;) {
		budget = chunk_budget(h);
		if (budget >= 3)
			budget--;
		if ((c = chunk_pop(h, budget, false, populate)) != HOLD_NONE)
			return c;
		if (h->in_use < budget && compact(h, HOLD_COMPACT_CHEAP))
			continue;
		if ((c = chunk_pop(h, budget, true, populate)) != HOLD_NONE)
			return c;
		if (!compact(h, HOLD_COMPACT_FILL) && !drop_oldest(h))
			return HOLD_NONE;
	}
}

uint8_t *
hold_input_chunk(struct hold *h, size_t min, size_t *size)
{
	uint32_t c;

	if (h->nchunks == 0 || min > h->chunk_size ||
	    (c = chunk_take(h, false)) == HOLD_NONE)
		return NULL;
	h->chunks[c].state = CHUNK_INPUT;
	*size = h->chunk_size;
	return chunk_mem(h, c);
}

void
hold_input_done(struct hold *h, uint8_t *chunk)
{
	if (in_arena(h, chunk))
		chunk_seal(h, chunk_of(h, chunk));
}

static void blks_free(struct hold *h, struct held_blk *b);

/*
 * Takes the descriptors of dropped packets out of every unit's list, the
 * others moving up in place (their new places noted in the rev lists), and
 * frees the blocks left over. blk_alloc() calls it before a new slab while
 * stale descriptors are at least half as many as held ones, so that a long
 * flow that keeps losing its oldest packets keeps a list of its size.
 */
static void
sweep_stale(struct hold *h)
{
	struct unit *u, *next;
	struct held_blk *rb, *wb;
	struct held_desc *d;
	uint32_t ri, rn, wi;

	h->info.sweeps++;
	for (u = h->units; u != NULL; u = next) {
		next = u->hold_next;
		wb = u->held_head;
		wi = 0;
		/* The write place never passes the read place. */
		for (rb = u->held_head; rb != NULL; rb = rb->next) {
			rn = rb->n;
			for (ri = 0; ri < rn; ri++) {
				d = &rb->d[ri];
				if (!desc_live(h, d)) {
					if (d->rec != NULL)
						h->stale--;
					d->rec = NULL;
					continue;
				}
				if (wi == wb->cap) {
					wb->n = wi;
					wb = wb->next;
					wi = 0;
				}
				if (d != &wb->d[wi]) {
					wb->d[wi] = *d;
					d->rec = NULL;
					/* Out of memory: left where compaction
					 * does not look; it is held still. */
					(void)rev_push(h, chunk_of(h,
					    wb->d[wi].rec), &wb->d[wi]);
				}
				wi++;
			}
		}
		blks_free(h, wb->next);
		wb->next = NULL;
		wb->n = wi;
		u->held_tail = wb;
		if (wi == 0) {
			blks_free(h, u->held_head);
			u->held_head = u->held_tail = NULL;
			unit_unlink(h, u);
		}
	}
}

/*
 * A free descriptor block of cap entries, allocating a slab when none is
 * left (after a sweep, if may_sweep: a merge, whose lists are in no unit
 * for a moment, must not). The slab's memory comes out of the chunks'
 * budget: the next chunk taken makes up for it (chunk_budget), so the
 * total overshoots by one slab at most.
 */
static struct held_blk *
blk_alloc(struct hold *h, uint32_t cap, bool may_sweep)
{
	struct held_blk **fl = &h->free_blks[cap == HOLD_BLK_LARGE], *b;
	size_t size = BLK_SIZE(cap), off;
	size_t bytes = h->slab_bytes > size ? h->slab_bytes : size;
	uint8_t *slab;

	if (*fl == NULL && may_sweep && h->stale >= HOLD_STALE_MIN &&
	    h->stale >= h->held / 2)
		sweep_stale(h);
	if (*fl == NULL) {
		if (h->nslabs == h->slabs_cap) {
			size_t n = h->slabs_cap ? h->slabs_cap * 2 : 16;
			void **p = realloc(h->slabs, n * sizeof(*p));

			if (p == NULL)
				return NULL;
			h->slabs = p;
			h->slabs_cap = n;
		}
		if ((slab = malloc(bytes)) == NULL)
			return NULL;
		h->slabs[h->nslabs++] = slab;
		h->desc_bytes += bytes;
		for (off = 0; off + size <= bytes; off += size) {
			b = (struct held_blk *)(void *)(slab + off);
			b->cap = cap;
			b->next = *fl;
			*fl = b;
		}
	}
	b = *fl;
	*fl = b->next;
	b->next = NULL;
	b->n = 0;
	return b;
}

static void
blks_free(struct hold *h, struct held_blk *b)
{
	struct held_blk *next;

	for (; b != NULL; b = next) {
		next = b->next;
		b->next = h->free_blks[b->cap == HOLD_BLK_LARGE];
		h->free_blks[b->cap == HOLD_BLK_LARGE] = b;
	}
}

/* The slot for u's next descriptor (not yet counted in its block). */
static struct held_desc *
unit_slot(struct hold *h, struct unit *u)
{
	struct held_blk *b = u->held_tail;

	if (b != NULL && b->n < b->cap)
		return &b->d[b->n];
	if ((b = blk_alloc(h, b == NULL ? HOLD_BLK_SMALL : HOLD_BLK_LARGE,
	    true)) == NULL)
		return NULL;
	if (u->held_tail != NULL)
		u->held_tail->next = b;
	else {
		u->held_head = b;
		unit_link(h, u);
	}
	u->held_tail = b;
	return &b->d[0];
}

static void
count_dropped(struct hold *h)
{
	if (h->st != NULL)
		h->st->packets_dropped++;
}

int
hold_add(struct hold *h, struct unit *u, const struct pcap_rec *rec)
{
	size_t len = PCAPIO_RECORD_HEADER_LEN + (size_t)rec->caplen;
	struct held_desc *d;
	uint8_t *p;
	uint32_t c;

	if (h->nchunks == 0 || len > h->chunk_size ||
	    (d = unit_slot(h, u)) == NULL) {
		count_dropped(h);
		return -1;
	}
	if (rec->raw_hdr && in_arena(h, rec->data) &&
	    (size_t)(rec->data - h->base) >= PCAPIO_RECORD_HEADER_LEN &&
	    h->chunks[c = chunk_of(h, rec->data -
	    PCAPIO_RECORD_HEADER_LEN)].state == CHUNK_INPUT) {
		/* Read into the arena: held where it lies. */
		d->rec = rec->data - PCAPIO_RECORD_HEADER_LEN;
		h->info.by_reference++;
	} else {
		/* This may compact, which only sees counted slots, not d. */
		if ((p = copy_room(h, len, false, &c)) == NULL) {
			count_dropped(h);
			return -1;
		}
		memcpy(p, rec->hdr, PCAPIO_RECORD_HEADER_LEN);
		memcpy(p + PCAPIO_RECORD_HEADER_LEN, rec->data, rec->caplen);
		d->rec = p;
		h->info.copied++;
	}
	if (!rev_push(h, c, d)) {
		d->rec = NULL;
		count_dropped(h);
		return -1;
	}
	d->ts_ns = rec->ts_ns;
	d->caplen = rec->caplen;
	d->seq = h->seq++;
	chunk_add(h, c, d, len);
	u->held_tail->n++;
	h->bytes += len;
	h->held++;
	if (h->st != NULL) {
		h->st->packets_held++;
		if (h->bytes > h->st->hold_peak_bytes)
			h->st->hold_peak_bytes = h->bytes;
	}
	return 0;
}

/* Passes a held packet to fn as a record. */
static void
held_write(const struct held_desc *d, hold_write_fn fn, void *ctx)
{
	struct pcap_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.ts_ns = d->ts_ns;
	rec.caplen = d->caplen;
	memcpy(rec.hdr, d->rec, sizeof(rec.hdr));
	rec.data = d->rec + PCAPIO_RECORD_HEADER_LEN;
	fn(ctx, &rec);
}

/* Writes (fn not NULL) and lets go every live packet of a block list. */
static void
list_release(struct hold *h, struct held_blk *head, hold_write_fn fn,
    void *ctx)
{
	struct held_blk *b;
	uint32_t i;

	for (b = head; b != NULL; b = b->next) {
		/* The next block is a cache miss: start it now. */
		__builtin_prefetch(b->next);
		for (i = 0; i < b->n; i++) {
			if (!desc_live(h, &b->d[i])) {
				if (b->d[i].rec != NULL)
					h->stale--;
				continue;
			}
			if (fn != NULL)
				held_write(&b->d[i], fn, ctx);
			desc_unref(h, &b->d[i]);
		}
	}
	blks_free(h, head);
}

void
hold_release(struct hold *h, struct unit *u, hold_write_fn fn, void *ctx)
{
	if (u->held_head == NULL)
		return;
	unit_unlink(h, u);
	list_release(h, u->held_head, fn, ctx);
	u->held_head = u->held_tail = NULL;
}

/* Live packets of a list. */
static size_t
list_count(const struct hold *h, struct held_blk *head)
{
	struct held_blk *b;
	uint32_t i;
	size_t n = 0;

	for (b = head; b != NULL; b = b->next)
		for (i = 0; i < b->n; i++)
			n += desc_live(h, &b->d[i]);
	return n;
}

void
hold_detach(struct hold *h, struct unit *u, bool write)
{
	struct held_list *l;

	if (u->held_head == NULL)
		return;
	if (h->ndetached == h->detached_cap) {
		size_t n = h->detached_cap ? h->detached_cap * 2 : 256;

		if ((l = realloc(h->detached, n * sizeof(*l))) == NULL) {
			/* Out of memory: they are lost, and counted. */
			if (h->st != NULL)
				h->st->packets_dropped +=
				    (uint64_t)list_count(h, u->held_head);
			hold_release(h, u, NULL, NULL);
			return;
		}
		h->detached = l;
		h->detached_cap = n;
	}
	unit_unlink(h, u);
	l = &h->detached[h->ndetached++];
	l->head = u->held_head;
	l->write = write;
	u->held_head = u->held_tail = NULL;
}

/* A cursor over one detached list, for the merge in hold_drain. */
struct drain_cursor {
	struct held_blk *b;
	uint32_t i;
};

/* Moves c to its next live descriptor; false at the end of the list. */
static bool
cursor_live(const struct hold *h, struct drain_cursor *c)
{
	for (; c->b != NULL; c->b = c->b->next, c->i = 0)
		for (; c->i < c->b->n; c->i++)
			if (desc_live(h, &c->b->d[c->i]))
				return true;
	return false;
}

static uint32_t
cursor_seq(const struct drain_cursor *c)
{
	return c->b->d[c->i].seq;
}

static void
heap_down(struct drain_cursor *heap, size_t n, size_t i)
{
	struct drain_cursor t;
	size_t m, l;

	for (;;) {
		m = i;
		l = 2 * i + 1;
		if (l < n && seq_before(cursor_seq(&heap[l]),
		    cursor_seq(&heap[m])))
			m = l;
		if (l + 1 < n && seq_before(cursor_seq(&heap[l + 1]),
		    cursor_seq(&heap[m])))
			m = l + 1;
		if (m == i)
			return;
		t = heap[i];
		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

void
hold_drain(struct hold *h, hold_write_fn fn, void *ctx)
{
	struct drain_cursor *heap = NULL;
	size_t n = 0, k, i;

	/* Packets still owned by a unit (should not happen at the end). */
	while (h->units != NULL)
		hold_release(h, h->units, NULL, NULL);
	if (fn != NULL && h->ndetached > 0 &&
	    (heap = malloc(h->ndetached * sizeof(*heap))) == NULL) {
		/* Out of memory: each list in order, one after the other. */
		for (k = 0; k < h->ndetached; k++)
			list_release(h, h->detached[k].head,
			    h->detached[k].write ? fn : NULL, ctx);
		h->ndetached = 0;
		return;
	}
	/* The lists to write, merged in arrival order across units. */
	for (k = 0; heap != NULL && k < h->ndetached; k++) {
		if (!h->detached[k].write)
			continue;
		heap[n].b = h->detached[k].head;
		heap[n].i = 0;
		if (cursor_live(h, &heap[n]))
			n++;
	}
	for (i = n; i-- > 0;)
		heap_down(heap, n, i);
	while (n > 0) {
		struct held_desc *d = &heap[0].b->d[heap[0].i];

		held_write(d, fn, ctx);
		desc_unref(h, d);
		heap[0].i++;
		if (!cursor_live(h, &heap[0]))
			heap[0] = heap[--n];
		heap_down(heap, n, 0);
	}
	free(heap);
	for (k = 0; k < h->ndetached; k++)
		list_release(h, h->detached[k].head, NULL, NULL);
	h->ndetached = 0;
}

/*
 * Moves d to the end of the block list (head, tail), noting its new place
 * in its chunk's rev list; false when out of memory, d left as it was.
 */
static bool
list_push(struct hold *h, struct held_blk **head, struct held_blk **tail,
    struct held_desc *d)
{
	struct held_blk *b = *tail;

	if (b == NULL || b->n == b->cap) {
		if ((b = blk_alloc(h, HOLD_BLK_LARGE, false)) == NULL)
			return false;
		if (*tail != NULL)
			(*tail)->next = b;
		else
			*head = b;
		*tail = b;
	}
	b->d[b->n] = *d;
	if (!rev_push(h, chunk_of(h, d->rec), &b->d[b->n]))
		return false;
	b->n++;
	d->rec = NULL;
	return true;
}

/* The first and last live sequence numbers of a list; false if none. */
static bool
list_span(const struct hold *h, struct held_blk *head, uint32_t *first,
    uint32_t *last)
{
	struct held_blk *b;
	uint32_t i;
	bool any = false;

	for (b = head; b != NULL; b = b->next)
		for (i = 0; i < b->n; i++)
			if (desc_live(h, &b->d[i])) {
				if (!any)
					*first = b->d[i].seq;
				*last = b->d[i].seq;
				any = true;
			}
	return any;
}

/* The next live descriptor at or after (*b, *i), or NULL. */
static struct held_desc *
list_next(struct hold *h, struct held_blk **b, uint32_t *i)
{
	struct held_desc *d;

	for (; *b != NULL; *b = (*b)->next, *i = 0)
		for (; *i < (*b)->n; (*i)++) {
			d = &(*b)->d[*i];
			if (desc_live(h, d))
				return d;
			/* A merge leaves the dropped behind. */
			if (d->rec != NULL) {
				d->rec = NULL;
				h->stale--;
			}
		}
	return NULL;
}

void
hold_merge(struct hold *h, struct unit *to, struct unit *from)
{
	struct held_blk *a, *b, *head = NULL, *tail = NULL, *oa, *ob;
	struct held_desc *da, *db, *d;
	uint32_t ai = 0, bi = 0, af, al, bf, bl;
	bool alive_a, alive_b;

	if (from->held_head == NULL)
		return;
	unit_unlink(h, from);
	oa = to->held_head;
	ob = from->held_head;
	alive_a = list_span(h, oa, &af, &al);
	alive_b = list_span(h, ob, &bf, &bl);
	from->held_head = from->held_tail = NULL;
	if (oa == NULL || !alive_a || (alive_b && seq_before(al, bf))) {
		/* Every packet of from came later: its blocks follow. */
		if (oa == NULL) {
			to->held_head = ob;
			unit_link(h, to);
		} else
			to->held_tail->next = ob;
		for (b = ob; b->next != NULL; b = b->next)
			;
		to->held_tail = b;
		return;
	}
	/* Interleaved (fragments of a datagram): merged by arrival. */
	a = oa;
	b = ob;
	for (;;) {
		da = list_next(h, &a, &ai);
		db = list_next(h, &b, &bi);
		if (da == NULL && db == NULL)
			break;
		if (db == NULL || (da != NULL && seq_before(da->seq,
		    db->seq))) {
			d = da;
			ai++;
		} else {
			d = db;
			bi++;
		}
		if (!list_push(h, &head, &tail, d)) {
			desc_unref(h, d);
			count_dropped(h);
		}
	}
	blks_free(h, oa);
	blks_free(h, ob);
	to->held_head = head;
	to->held_tail = tail;
	if (head == NULL)
		unit_unlink(h, to);
}

size_t
hold_bytes(const struct hold *h)
{
	return h->bytes;
}

void
hold_get_info(const struct hold *h, struct hold_info *info)
{
	*info = h->info;
	info->chunks_in_use = h->in_use;
	info->chunks_resident = h->resident;
	info->desc_bytes = h->desc_bytes;
}

void
hold_free(struct hold *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nslabs; i++)
		free(h->slabs[i]);
	free(h->slabs);
	free(h->detached);
	free(h->order);
	for (i = 0; h->chunks != NULL && i < h->nchunks; i++)
		free(h->chunks[i].rev);
	free(h->chunks);
	if (h->base != NULL)
		munmap(h->base, h->arena_len);
	free(h);
}
