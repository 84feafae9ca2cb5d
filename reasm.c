/* reasm.c: IPv4/IPv6 defragmentation and TCP byte-stream reassembly. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "reasm.h"
#include "stats.h"

/* ---- IP defragmentation (RFC 791 section 3.2, RFC 8200 section 4.5) ---- */

/*
 * Hash buckets for pending datagrams. At DEFRAG_MAX_DATAGRAMS the chains
 * average four entries, which keeps a lookup cheap without a resize.
 */
#define DEFRAG_BUCKETS 16384

/*
 * The largest reassembled IP payload. IPv4's total length is 16 bits
 * (RFC 791), and so is IPv6's payload length (RFC 8200; jumbograms are never
 * fragmented). Fragments reaching past it are the "ping of death" and are
 * refused.
 */
#define DEFRAG_MAX_PAYLOAD 65535U

/*
 * The fields that name a datagram. RFC 791 keys IPv4 on source, destination,
 * protocol and identification; RFC 8200 keys IPv6 on source, destination and
 * identification only (the Next Header of later fragments may differ, the
 * first one's counts), so proto is 0 in IPv6 keys. The VLAN IDs are part of
 * the key as they are of the flow key. The struct is zeroed before it is
 * filled so that it can be compared with memcmp.
 */
struct frag_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint16_t vlan[2];
	uint8_t ipver;
	uint8_t proto;
	uint8_t vlan_count;
	uint8_t pad;
};

/* Stored bytes of a datagram; pieces never overlap and are sorted. */
struct frag_piece {
	struct frag_piece *prev;
	struct frag_piece *next;
	uint32_t off;
	uint32_t len;
	uint8_t data[];
};

/* A pending datagram. pub comes first: callers see only it. */
struct dgram {
	struct defrag_dgram pub;
	struct frag_key key;
	struct dgram *hnext;		/* hash chain */
	struct dgram *older;		/* creation order, for expiry */
	struct dgram *newer;
	uint64_t first_ts;		/* when its first fragment came */
	uint32_t bucket;
	struct frag_piece *head;
	struct frag_piece *tail;
	uint32_t covered;		/* bytes stored, all below end */
	uint32_t max_end;		/* highest offset + wire length */
	uint32_t end;			/* payload length, once known */
	size_t mem;			/* bytes counted in DEFRAG_MEM_MAX */
	bool have_last;
	bool have_first;
};

struct defrag {
	struct stats *st;
	struct stats own_stats;		/* when the caller passes none */
	defrag_drop_fn drop;
	void *ctx;
	struct dgram **buckets;
	struct dgram *oldest;
	struct dgram *newest;
	uint32_t count;
	size_t mem;
	/* The latest time defrag_expire() was given: see dgram_create(). */
	uint64_t clock;
};

struct defrag *
defrag_new(struct stats *st, defrag_drop_fn drop, void *ctx)
{
	struct defrag *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->buckets = calloc(DEFRAG_BUCKETS, sizeof(*d->buckets))) ==
	    NULL) {
		free(d);
		return NULL;
	}
	d->st = st != NULL ? st : &d->own_stats;
	d->drop = drop;
	d->ctx = ctx;
	return d;
}

/* FNV-1a over the key; the key is small and this runs once per fragment. */
static uint32_t
frag_hash(const struct frag_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261U;
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return h & (DEFRAG_BUCKETS - 1);
}

static void
frag_key_fill(struct frag_key *k, const struct pkt_view *v)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, v->src, sizeof(k->src));
	memcpy(k->dst, v->dst, sizeof(k->dst));
	k->id = v->frag_id;
	k->vlan[0] = v->vlan[0];
	k->vlan[1] = v->vlan[1];
	k->vlan_count = v->vlan_count;
	k->ipver = v->ipver;
	k->proto = v->ipver == 4 ? v->proto : 0;
}

/*
 * Keeps the network fields of a fragment's view for the datagram; the
 * pointers into the packet record are cleared, as the record will be gone.
 */
static void
dgram_set_view(struct dgram *g, const struct pkt_view *v)
{
	g->pub.view = *v;
	g->pub.view.frag_offset = 0;
	g->pub.view.frag_more = 0;
	g->pub.view.frag_data = NULL;
	g->pub.view.frag_len = 0;
	g->pub.view.frag_wire_len = 0;
	g->pub.view.payload = NULL;
	g->pub.view.payload_len = 0;
	g->pub.view.payload_wire_len = 0;
}

/* Takes g out of the hash table and the age list; it is no longer pending. */
static void
dgram_unlink(struct defrag *d, struct dgram *g)
{
	struct dgram **pp;

	for (pp = &d->buckets[g->bucket]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == g) {
			*pp = g->hnext;
			break;
		}
	}
	if (g->older != NULL)
		g->older->newer = g->newer;
	else
		d->oldest = g->newer;
	if (g->newer != NULL)
		g->newer->older = g->older;
	else
		d->newest = g->older;
	g->hnext = g->older = g->newer = NULL;
	d->count--;
	d->mem -= g->mem;
	g->mem = 0;
}

static void
dgram_free_pieces(struct dgram *g)
{
	struct frag_piece *p, *next;

	for (p = g->head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	g->head = g->tail = NULL;
}

/*
 * Ends a pending datagram that will not complete. It is unlinked before drop
 * runs, so the callback sees a datagram no longer reachable from d.
 */
static void
dgram_drop(struct defrag *d, struct dgram *g)
{
	dgram_unlink(d, g);
	d->st->datagrams_incomplete++;
	if (d->drop != NULL)
		d->drop(d->ctx, &g->pub);
	dgram_free_pieces(g);
	free(g);
}

static struct dgram *
dgram_lookup(struct defrag *d, const struct frag_key *k, uint32_t bucket)
{
	struct dgram *g;

	for (g = d->buckets[bucket]; g != NULL; g = g->hnext)
		if (memcmp(&g->key, k, sizeof(*k)) == 0)
			return g;
	return NULL;
}

static struct dgram *
dgram_create(struct defrag *d, const struct frag_key *k, uint32_t bucket,
    const struct pkt_view *v, uint64_t ts_ns)
{
	struct dgram *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->key = *k;
	g->bucket = bucket;
	/* An older timestamp starts the timer now: the age list stays sorted. */
	g->first_ts = ts_ns > d->clock ? ts_ns : d->clock;
	dgram_set_view(g, v);
	g->hnext = d->buckets[bucket];
	d->buckets[bucket] = g;
	g->older = d->newest;
	if (d->newest != NULL)
		d->newest->newer = g;
	else
		d->oldest = g;
	d->newest = g;
	d->count++;
	g->mem = sizeof(*g);
	d->mem += g->mem;
	return g;
}

/* Inserts a new piece [off, off + len) after prev (NULL: at the head). */
static int
piece_insert(struct defrag *d, struct dgram *g, struct frag_piece *prev,
    uint32_t off, const uint8_t *data, uint32_t len)
{
	struct frag_piece *p;

	if ((p = malloc(sizeof(*p) + len)) == NULL)
		return -1;
	p->off = off;
	p->len = len;
	memcpy(p->data, data, len);
	p->prev = prev;
	p->next = prev != NULL ? prev->next : g->head;
	if (p->next != NULL)
		p->next->prev = p;
	else
		g->tail = p;
	if (prev != NULL)
		prev->next = p;
	else
		g->head = p;
	g->covered += len;
	g->mem += sizeof(*p) + len;
	d->mem += sizeof(*p) + len;
	return 0;
}

/*
 * Stores the bytes [off, off + len) that no earlier fragment supplied: the
 * first arrival wins (the policy of most stacks; RFC 5722 would discard the
 * whole IPv6 datagram, which would let one forged fragment hide it). Returns
 * 1 when the fragment overlapped stored bytes, 0 when not, -1 when out of
 * memory (what was stored stays).
 */
static int
dgram_store(struct defrag *d, struct dgram *g, uint32_t off,
    const uint8_t *data, uint32_t len)
{
	struct frag_piece *p, *prev;
	uint32_t cur = off, end = off + len, stop;
	int overlap = 0;

	if (len == 0)
		return 0;
	/*
	 * Fragments usually arrive in order, so the search for the first
	 * piece that ends after off starts at the tail.
	 */
	for (prev = g->tail; prev != NULL && prev->off + prev->len > off;
	    prev = prev->prev)
		;
	p = prev != NULL ? prev->next : g->head;
	while (cur < end) {
		stop = p != NULL && p->off < end ? p->off : end;
		if (cur < stop) {
			if (piece_insert(d, g, prev, cur, data + (cur - off),
			    stop - cur) == -1)
				return -1;
			cur = stop;
		}
		if (p == NULL || p->off >= end)
			break;
		/* p overlaps [cur, end): its bytes were first. */
		overlap = 1;
		if (p->off + p->len > cur)
			cur = p->off + p->len;
		prev = p;
		p = p->next;
	}
	return overlap;
}

/* Turns a datagram whose bytes are all there into one payload buffer. */
static int
dgram_complete(struct dgram *g)
{
	struct frag_piece *p;
	uint8_t *buf;

	if ((buf = malloc(g->end > 0 ? g->end : 1)) == NULL)
		return -1;
	for (p = g->head; p != NULL; p = p->next)
		memcpy(buf + p->off, p->data, p->len);
	dgram_free_pieces(g);
	g->pub.payload = buf;
	g->pub.payload_len = g->end;
	g->pub.view.frag_len = g->end;
	g->pub.view.frag_wire_len = g->end;
	return 0;
}

/*
 * Fragments are stored by their captured bytes only. A fragment cut by the
 * snap length leaves a hole that only a duplicate captured whole could fill,
 * so such a datagram normally never completes and ends through drop at its
 * timeout, like one with a lost fragment. Fragment lengths are not required
 * to be multiples of 8 (real stacks differ on this and it does not matter
 * for reassembly).
 */
enum defrag_result
defrag_add(struct defrag *d, const struct pkt_view *v, uint64_t ts_ns,
    struct defrag_dgram **dgp)
{
	struct frag_key key;
	struct dgram *g, *victim;
	uint32_t off = v->frag_offset, len = v->frag_len, wire, fend, bucket;
	int rc;

	*dgp = NULL;
	d->st->fragments++;
	if (v->ipver != 4 && v->ipver != 6)
		return DEFRAG_INVALID;
	if (v->frag_data == NULL)
		len = 0;
	wire = v->frag_wire_len > len ? v->frag_wire_len : len;
	if ((uint64_t)off + wire > DEFRAG_MAX_PAYLOAD)
		return DEFRAG_INVALID;
	/* A fragment that is neither last nor carries a byte says nothing. */
	if (wire == 0 && v->frag_more)
		return DEFRAG_INVALID;
	fend = off + wire;

	frag_key_fill(&key, v);
	bucket = frag_hash(&key);
	if ((g = dgram_lookup(d, &key, bucket)) != NULL) {
		/*
		 * Fragments that disagree about where the datagram ends
		 * cannot all be right; the newcomer is the one refused.
		 */
		if (!v->frag_more && ((g->have_last && g->end != fend) ||
		    (!g->have_last && g->max_end > fend)))
			return DEFRAG_INVALID;
		if (v->frag_more && g->have_last && fend > g->end)
			return DEFRAG_INVALID;
	} else {
		if (d->count >= DEFRAG_MAX_DATAGRAMS && d->oldest != NULL) {
			d->st->fragment_mem_evictions++;
			dgram_drop(d, d->oldest);
		}
		if ((g = dgram_create(d, &key, bucket, v, ts_ns)) == NULL)
			return DEFRAG_INVALID;
	}

	if ((rc = dgram_store(d, g, off, v->frag_data, len)) == -1)
		return DEFRAG_INVALID;
	if (rc == 1)
		d->st->fragment_overlaps++;
	if (off == 0 && !g->have_first) {
		g->have_first = true;
		dgram_set_view(g, v);
	}
	if (fend > g->max_end)
		g->max_end = fend;
	if (!v->frag_more) {
		g->have_last = true;
		g->end = fend;
	}

	if (g->have_last && g->covered == g->end) {
		dgram_unlink(d, g);
		if (dgram_complete(g) == -1) {
			/* Out of memory: give up on it as if it timed out. */
			d->st->datagrams_incomplete++;
			if (d->drop != NULL)
				d->drop(d->ctx, &g->pub);
			dgram_free_pieces(g);
			free(g);
			return DEFRAG_INVALID;
		}
		d->st->datagrams_reassembled++;
	}

	/*
	 * Respect the memory cap by dropping the oldest other datagrams. g
	 * itself is never dropped here (it is what the caller gets back), and
	 * one datagram alone stays far below the cap.
	 */
	while (d->mem > DEFRAG_MEM_MAX) {
		victim = d->oldest;
		if (victim == g)
			victim = g->newer;
		if (victim == NULL)
			break;
		d->st->fragment_mem_evictions++;
		dgram_drop(d, victim);
	}

	*dgp = &g->pub;
	return g->pub.payload != NULL ? DEFRAG_COMPLETE : DEFRAG_PENDING;
}

void
defrag_release(struct defrag *d, struct defrag_dgram *dg)
{
	struct dgram *g = (struct dgram *)dg;

	(void)d;
	if (g == NULL)
		return;
	free((void *)g->pub.payload);
	dgram_free_pieces(g);
	free(g);
}

/*
 * The timer runs from a datagram's first fragment and is not restarted by
 * later ones (RFC 791, RFC 8200), so the age list is in expiry order and
 * this stops at the first datagram still in time.
 */
void
defrag_expire(struct defrag *d, uint64_t now_ns)
{
	if (now_ns > d->clock)
		d->clock = now_ns;
	while (d->oldest != NULL &&
	    now_ns > d->oldest->first_ts + DEFRAG_TIMEOUT_NS)
		dgram_drop(d, d->oldest);
}

void
defrag_free(struct defrag *d)
{
	if (d == NULL)
		return;
	while (d->oldest != NULL)
		dgram_drop(d, d->oldest);
	free(d->buckets);
	free(d);
}

/* ---- TCP reassembly (RFC 9293) ---- */

/*
 * Segments one direction may queue. The byte cap alone would let a stream of
 * one-byte segments build a list whose sorted insertion costs O(n) each.
 */
#define REASM_OOO_MAX_SEGS 4096

/* Window scale shifts above 14 are treated as 14 (RFC 7323 section 2.3). */
#define TCP_MAX_WSCALE 14

/* tcp_half.flags, private to this file: the half has sent data. */
#define TCPH_DATA 0x80

/* A queued out-of-order segment; queued segments never overlap. */
struct ooo_seg {
	struct ooo_seg *next;
	uint32_t seq;
	uint32_t len;
	uint8_t data[];
};

/* A direction's queue: sorted by seq, with its tail for in-order appends. */
struct reasm_ooo {
	struct ooo_seg *head;
	struct ooo_seg *tail;
	uint32_t nsegs;
};

struct reasm_tcp {
	struct stats *st;
	struct stats own_stats;		/* when the caller passes none */
	uint64_t ooo_total;		/* queued bytes of all connections */
};

struct reasm_tcp *
reasm_tcp_new(struct stats *st)
{
	struct reasm_tcp *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->st = st != NULL ? st : &r->own_stats;
	return r;
}

void
reasm_tcp_free(struct reasm_tcp *r)
{
	free(r);
}

void
reasm_tcp_init(struct tcp_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->half[0].wscale = -1;
	c->half[1].wscale = -1;
}

/* Frees the head of h's queue, and the queue once it is empty. */
static void
ooo_pop(struct reasm_tcp *r, struct tcp_half *h)
{
	struct reasm_ooo *q = h->ooo;
	struct ooo_seg *s = q->head;

	q->head = s->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->nsegs--;
	h->ooo_bytes -= s->len;
	r->ooo_total -= s->len;
	free(s);
	if (q->head == NULL) {
		free(q);
		h->ooo = NULL;
	}
}

static void
ooo_clear(struct reasm_tcp *r, struct tcp_half *h)
{
	while (h->ooo != NULL)
		ooo_pop(r, h);
}

/* Inserts a copy of [seq, seq + len) after prev (NULL: at the head). */
static int
ooo_link(struct reasm_tcp *r, struct tcp_half *h, struct ooo_seg *prev,
    uint32_t seq, const uint8_t *p, uint32_t len)
{
	struct reasm_ooo *q = h->ooo;
	struct ooo_seg *s;

	if ((s = malloc(sizeof(*s) + len)) == NULL)
		return -1;
	s->seq = seq;
	s->len = len;
	memcpy(s->data, p, len);
	if (prev != NULL) {
		s->next = prev->next;
		prev->next = s;
	} else {
		s->next = q->head;
		q->head = s;
	}
	if (s->next == NULL)
		q->tail = s;
	q->nsegs++;
	h->ooo_bytes += len;
	r->ooo_total += len;
	return 0;
}

/*
 * Queues the bytes [seq, seq + len) that are not queued yet. Where they
 * overlap queued bytes the queued (first-seen) bytes win, and each differing
 * byte is counted in overlap_conflicts. Returns -1 when out of memory; the
 * bytes not stored are then lost and later skipped as a gap.
 */
static int
ooo_insert(struct reasm_tcp *r, struct tcp_half *h, uint32_t seq,
    const uint8_t *p, uint32_t len)
{
	struct reasm_ooo *q;
	struct ooo_seg *s, *prev;
	uint32_t cur = seq, end = seq + len, stop, a, b, i;

	if (len == 0)
		return 0;
	if (h->ooo == NULL && (h->ooo = calloc(1, sizeof(*h->ooo))) == NULL)
		return -1;
	q = h->ooo;
	/* Most segments that arrive early arrive in order among themselves. */
	if (q->tail != NULL && SEQ_GEQ(seq, q->tail->seq + q->tail->len)) {
		if (ooo_link(r, h, q->tail, seq, p, len) == -1)
			goto fail;
		return 0;
	}
	prev = NULL;
	for (s = q->head; s != NULL && SEQ_LEQ(s->seq + s->len, seq);
	    s = s->next)
		prev = s;
	while (SEQ_LT(cur, end)) {
		stop = s != NULL && SEQ_LT(s->seq, end) ? s->seq : end;
		if (SEQ_LT(cur, stop)) {
			if (ooo_link(r, h, prev, cur, p + (cur - seq),
			    stop - cur) == -1)
				goto fail;
			cur = stop;
		}
		if (s == NULL || SEQ_GEQ(s->seq, end))
			break;
		/* s overlaps [cur, end): compare, keep s. */
		a = SEQ_GT(s->seq, cur) ? s->seq : cur;
		b = SEQ_LT(s->seq + s->len, end) ? s->seq + s->len : end;
		for (i = a; SEQ_LT(i, b); i++)
			if (s->data[i - s->seq] != p[i - seq])
				r->st->overlap_conflicts++;
		if (SEQ_GT(b, cur))
			cur = b;
		prev = s;
		s = s->next;
	}
	return 0;

fail:
	/* A queue exists only while it holds a segment. */
	if (q->head == NULL) {
		free(q);
		h->ooo = NULL;
	}
	return -1;
}

static void
deliver(struct tcp_half *h, int dir, const struct reasm_sink *sink,
    const uint8_t *p, uint32_t len)
{
	if (len == 0)
		return;
	h->next_seq += len;
	h->offset += len;
	if (sink->data != NULL)
		sink->data(sink->ctx, dir, p, len);
}

static void
skip_gap(struct reasm_tcp *r, struct tcp_half *h, int dir,
    const struct reasm_sink *sink, uint32_t len)
{
	if (len == 0)
		return;
	h->next_seq += len;
	h->offset += len;
	r->st->tcp_gaps++;
	r->st->tcp_gap_bytes += len;
	if (sink->gap != NULL)
		sink->gap(sink->ctx, dir, len);
}

/* Delivers the queued segments that have become in order. */
static void
drain(struct reasm_tcp *r, struct tcp_half *h, int dir,
    const struct reasm_sink *sink)
{
	struct ooo_seg *s;
	uint32_t old;

	while (h->ooo != NULL && SEQ_LEQ(h->ooo->head->seq, h->next_seq)) {
		s = h->ooo->head;
		/* Queued bytes lie at or after next_seq; be safe regardless. */
		old = h->next_seq - s->seq;
		if (old < s->len)
			deliver(h, dir, sink, s->data + old, s->len - old);
		ooo_pop(r, h);
	}
}

/* Skips the gap before the first queued segment and delivers what follows. */
static void
skip_to_queue(struct reasm_tcp *r, struct tcp_half *h, int dir,
    const struct reasm_sink *sink)
{
	skip_gap(r, h, dir, sink, h->ooo->head->seq - h->next_seq);
	drain(r, h, dir, sink);
}

/*
 * Past a cap, queued data goes out at the price of a gap. Over the global
 * cap it is the direction that just queued which pays: the only one at hand,
 * and the one growing. The others pay when they next queue.
 */
static void
enforce_caps(struct reasm_tcp *r, struct tcp_half *h, int dir,
    const struct reasm_sink *sink)
{
	while (h->ooo != NULL && (h->ooo_bytes > REASM_OOO_MAX_DIR ||
	    h->ooo->nsegs > REASM_OOO_MAX_SEGS ||
	    r->ooo_total > REASM_OOO_MAX_TOTAL)) {
		r->st->ooo_cap_hits++;
		skip_to_queue(r, h, dir, sink);
	}
}

/* The end of what h can still deliver: its highest data, or its FIN. */
static uint32_t
half_limit(const struct tcp_half *h, uint32_t limit)
{
	if (SEQ_GT(limit, h->snd_end))
		limit = h->snd_end;
	if ((h->flags & TCPH_FIN) && SEQ_GT(limit, h->fin_seq))
		limit = h->fin_seq;
	return limit;
}

/*
 * The receiver acknowledged h up to ack: bytes below it that were never seen
 * are lost to the capture, so they are skipped. The skip stops at the
 * highest byte seen from h (an ACK past that proves the capture missed data
 * too, but not how much of it carried which bytes; a later segment moves the
 * limit) and never passes h's FIN.
 */
static void
ack_gap(struct reasm_tcp *r, struct tcp_half *h, int dir, uint32_t ack,
    const struct reasm_sink *sink)
{
	uint32_t limit, stop;

	if (!(h->flags & TCPH_SEQ_KNOWN) || !SEQ_GT(ack, h->next_seq))
		return;
	limit = half_limit(h, ack);
	while (SEQ_LT(h->next_seq, limit)) {
		stop = limit;
		if (h->ooo != NULL && SEQ_LT(h->ooo->head->seq, stop))
			stop = h->ooo->head->seq;
		skip_gap(r, h, dir, sink, stop - h->next_seq);
		drain(r, h, dir, sink);
	}
}

/*
 * Data [seq, seq + wire) of which len bytes are captured, for a half whose
 * next_seq is known. In-order bytes go to the sink straight from p.
 */
static void
half_data(struct reasm_tcp *r, struct tcp_half *h, int dir, uint32_t seq,
    const uint8_t *p, uint32_t len, uint32_t wire,
    const struct reasm_sink *sink)
{
	uint32_t old, n;

	if (h->flags & TCPH_FIN) {
		/* Bytes after the FIN are not part of the stream. */
		if (SEQ_GEQ(seq, h->fin_seq))
			return;
		n = h->fin_seq - seq;
		if (wire > n)
			wire = n;
		if (len > n)
			len = n;
	}
	if (SEQ_LT(seq, h->next_seq)) {
		old = h->next_seq - seq;
		if (old >= wire) {
			r->st->tcp_retransmitted_bytes += wire;
			return;
		}
		r->st->tcp_retransmitted_bytes += old;
		if (old >= len)
			return;
		seq += old;
		p += old;
		len -= old;
	}
	if (len == 0)
		return;
	if (seq == h->next_seq) {
		n = len;
		if (h->ooo != NULL && SEQ_LT(h->ooo->head->seq, seq + len))
			n = h->ooo->head->seq - seq;
		deliver(h, dir, sink, p, n);
		/* The rest overlaps queued bytes, which were seen first. */
		if (n < len)
			(void)ooo_insert(r, h, seq + n, p + n, len - n);
		drain(r, h, dir, sink);
	} else {
		r->st->ooo_segments++;
		(void)ooo_insert(r, h, seq, p, len);
	}
	enforce_caps(r, h, dir, sink);
}

/* Drops queued bytes at or after a newly seen FIN. */
static void
trim_after_fin(struct reasm_tcp *r, struct tcp_half *h)
{
	struct reasm_ooo *q = h->ooo;
	struct ooo_seg *s, *prev = NULL, *next;

	if (q == NULL)
		return;
	for (s = q->head; s != NULL; s = next) {
		next = s->next;
		if (SEQ_LT(s->seq, h->fin_seq)) {
			if (SEQ_GT(s->seq + s->len, h->fin_seq)) {
				h->ooo_bytes -= s->seq + s->len - h->fin_seq;
				r->ooo_total -= s->seq + s->len - h->fin_seq;
				s->len = h->fin_seq - s->seq;
			}
			prev = s;
			continue;
		}
		if (prev != NULL)
			prev->next = next;
		else
			q->head = next;
		q->nsegs--;
		h->ooo_bytes -= s->len;
		r->ooo_total -= s->len;
		free(s);
	}
	q->tail = prev;
	if (q->head == NULL) {
		free(q);
		h->ooo = NULL;
	}
}

/*
 * RFC 5961 section 3: a RST counts only when its sequence number is in the
 * receiver's window. flowgrep sees the window from outside, so it uses what
 * it knows: the next byte it expects from the sender (or the highest the
 * sender sent, or what the receiver last acknowledged) and the receiver's
 * last advertised window, scaled when both SYNs carried the option. The
 * range reaches one window below that point as well, because bytes in
 * flight or lost before the capture leave flowgrep's view behind the
 * receiver's.
 */
static bool
rst_acceptable(const struct tcp_half *h, const struct tcp_half *rcv,
    uint32_t seq)
{
	uint32_t expected;
	int64_t win, diff;

	if (h->flags & TCPH_SEQ_KNOWN)
		expected = h->next_seq;
	else if (h->flags & TCPH_SENT)
		expected = h->snd_end;
	else if (rcv->flags & TCPH_ACKED)
		expected = rcv->last_ack;
	else
		return true;
	if (!(rcv->flags & TCPH_SENT))
		win = 65535;
	else {
		win = rcv->window;
		if (h->wscale >= 0 && rcv->wscale >= 0)
			win <<= rcv->wscale;
		if (win < 1)
			win = 1;
	}
	diff = (int32_t)(seq - expected);
	return diff >= -win && diff <= win;
}

/*
 * Without a sink nothing is kept: queues go, and each known half moves to
 * the end of what it has sent so that RST checks stay accurate.
 */
static void
track_only(struct reasm_tcp *r, struct tcp_conn *c)
{
	struct tcp_half *h;
	uint32_t limit;
	int i;

	for (i = 0; i < 2; i++) {
		h = &c->half[i];
		ooo_clear(r, h);
		if (!(h->flags & TCPH_SEQ_KNOWN))
			continue;
		limit = half_limit(h, h->snd_end);
		if (SEQ_GT(limit, h->next_seq)) {
			h->offset += limit - h->next_seq;
			h->next_seq = limit;
		}
	}
}

/*
 * The sink's callbacks run from inside this function and must not call back
 * into reasm for the same connection. The other direction's bytes that this
 * segment's ACK proves lost are skipped before this segment's own data goes
 * out, as they were sent first.
 */
enum reasm_tcp_event
reasm_tcp_segment(struct reasm_tcp *r, struct tcp_conn *c, int dir,
    const struct tcp_seg *s, const struct reasm_sink *sink)
{
	struct tcp_half *h, *o;
	enum reasm_tcp_event ev = REASM_TCP_OK;
	uint32_t dseq = s->seq, len = s->len, wire, end;
	bool use_data = true;

	dir = dir != 0;
	h = &c->half[dir];
	o = &c->half[!dir];
	if (s->data == NULL)
		len = 0;
	wire = s->wire_len > len ? s->wire_len : len;

	if (s->flags & TCP_RST) {
		if (!rst_acceptable(h, o, s->seq)) {
			r->st->rst_ignored++;
			return REASM_TCP_OK;
		}
		/*
		 * A RST's data is diagnostic text, never stream data
		 * (RFC 9293 section 3.5.3, RFC 1122 section 4.2.2.12).
		 */
		r->st->rst_payload_bytes += wire;
		h->flags |= TCPH_SENT;
		return REASM_TCP_RST;
	}

	if (s->flags & TCP_SYN) {
		/* Data on a SYN (TCP Fast Open, RFC 7413) follows the ISN. */
		dseq = s->seq + 1;
		if (h->flags & TCPH_DATA) {
			/*
			 * A SYN on a stream that has carried data is a
			 * retransmission or a new connection on reused ports,
			 * which the flow code handles; it moves nothing here.
			 */
			use_data = false;
		} else {
			h->next_seq = dseq;
			h->snd_end = dseq;
			/* A FIN before the SYN ended nothing (an insertion). */
			h->flags &= ~TCPH_FIN;
			h->flags |= TCPH_SEQ_KNOWN | TCPH_SYN;
			h->wscale = s->wscale > TCP_MAX_WSCALE ?
			    TCP_MAX_WSCALE : s->wscale;
		}
	}

	end = dseq + wire;
	if (use_data && (!(h->flags & TCPH_SENT) || SEQ_GT(end, h->snd_end)))
		h->snd_end = end;
	h->flags |= TCPH_SENT;
	h->window = s->window;
	if (s->flags & TCP_ACK) {
		h->last_ack = s->ack;
		h->flags |= TCPH_ACKED;
		/* The other side's bytes this ACK covers precede ours. */
		if (sink != NULL)
			ack_gap(r, o, !dir, s->ack, sink);
	}

	if (use_data && (s->flags & TCP_FIN) && !(h->flags & TCPH_FIN)) {
		h->fin_seq = end;
		h->flags |= TCPH_FIN;
		trim_after_fin(r, h);
		if (o->flags & TCPH_FIN)
			ev = REASM_TCP_CLOSED;
	}

	if (use_data && wire > 0) {
		h->flags |= TCPH_DATA;
		if (!(h->flags & TCPH_SEQ_KNOWN)) {
			/* Picked up mid-stream: the stream starts here. */
			h->next_seq = dseq;
			h->flags |= TCPH_SEQ_KNOWN;
		}
		if (sink != NULL)
			half_data(r, h, dir, dseq, s->data, len, wire, sink);
	}

	if (sink == NULL)
		track_only(r, c);
	return ev;
}

void
reasm_tcp_flush(struct reasm_tcp *r, struct tcp_conn *c,
    const struct reasm_sink *sink)
{
	struct tcp_half *h;
	uint32_t limit;
	int dir;

	if (sink == NULL) {
		track_only(r, c);
		return;
	}
	for (dir = 0; dir < 2; dir++) {
		h = &c->half[dir];
		if (!(h->flags & TCPH_SEQ_KNOWN)) {
			ooo_clear(r, h);
			continue;
		}
		while (h->ooo != NULL)
			skip_to_queue(r, h, dir, sink);
		/* Bytes sent but never captured (a cut or lost tail). */
		limit = half_limit(h, h->snd_end);
		if (SEQ_GT(limit, h->next_seq))
			skip_gap(r, h, dir, sink, limit - h->next_seq);
	}
}

void
reasm_tcp_release(struct reasm_tcp *r, struct tcp_conn *c)
{
	ooo_clear(r, &c->half[0]);
	ooo_clear(r, &c->half[1]);
}
