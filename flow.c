/* flow.c: the flow table, lifetimes, client/server roles, verdicts, held packets. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "flow.h"

/* The three lifetime lists: each holds flows of one timeout, oldest first. */
enum flow_list {
	LIST_TCP_OPEN,
	LIST_TCP_CLOSED,
	LIST_OTHER,		/* UDP and other IP protocols */
	LIST_COUNT,
};

#define FLOW_BUCKETS_MIN 4096
/*
 * Freed flows kept for reuse, so that a steady state of flows coming and
 * going does not call malloc for each; more than this goes back to libc.
 */
#define FLOW_FREE_MAX 4096

struct flow_table {
	struct flow **buckets;
	uint32_t nbuckets;	/* a power of two */
	uint32_t count;
	uint32_t max_flows;
	uint64_t timeout[LIST_COUNT];
	struct flow *head[LIST_COUNT];
	struct flow *tail[LIST_COUNT];
	struct flow *free_list;
	uint32_t free_count;
	uint64_t seed;		/* random: hash flooding needs the seed */
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
	t->nbuckets = FLOW_BUCKETS_MIN;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->max_flows = max_flows > 0 ? max_flows : 1;
	t->timeout[LIST_TCP_OPEN] = tcp_timeout_ns;
	t->timeout[LIST_TCP_CLOSED] = FLOW_CLOSED_TIMEOUT_NS < tcp_timeout_ns ?
	    FLOW_CLOSED_TIMEOUT_NS : tcp_timeout_ns;
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

static uint32_t
key_hash(const struct flow_table *t, const struct flow_key *k)
{
	uint64_t h = t->seed, w;
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 16; j += 8) {
			memcpy(&w, k->addr[i] + j, 8);
			h = mix64(h, w);
		}
	h = mix64(h, (uint64_t)k->port[0] << 48 | (uint64_t)k->port[1] << 32 |
	    (uint64_t)k->vlan[0] << 16 | k->vlan[1]);
	h = mix64(h, (uint64_t)k->proto << 8 | k->vlan_count);
	return (uint32_t)(h ^ (h >> 32));
}

static bool
key_equal(const struct flow_key *a, const struct flow_key *b)
{
	return a->proto == b->proto && a->port[0] == b->port[0] &&
	    a->port[1] == b->port[1] && a->vlan_count == b->vlan_count &&
	    a->vlan[0] == b->vlan[0] && a->vlan[1] == b->vlan[1] &&
	    a->ipver == b->ipver && memcmp(a->addr, b->addr,
	    sizeof(a->addr)) == 0;
}

/*
 * Builds the normalised key of v and returns the index (0 or 1) the sender
 * has in it.
 */
static int
key_from_view(const struct pkt_view *v, struct flow_key *k)
{
	int c = memcmp(v->src, v->dst, 16);
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
	f->list = (uint8_t)list;
	f->lnext = NULL;
	f->lprev = t->tail[list];
	if (t->tail[list] != NULL)
		t->tail[list]->lnext = f;
	else
		t->head[list] = f;
	t->tail[list] = f;
}

/* Takes f out of the table, tells the owner, and frees it. */
static void
flow_remove(struct flow_table *t, struct flow *f, enum flow_end_reason r)
{
	struct flow **pp = &t->buckets[key_hash(t, &f->key) & (t->nbuckets - 1)];

	while (*pp != NULL && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp == f)
		*pp = f->hnext;
	list_unlink(t, f);
	t->count--;
	if (t->end != NULL)
		t->end(t->ctx, f, r);
	if (t->free_count < FLOW_FREE_MAX) {
		f->hnext = t->free_list;
		t->free_list = f;
		t->free_count++;
	} else
		free(f);
}

/* Doubles the bucket array while flows outnumber buckets; failure is fine. */
static void
table_grow(struct flow_table *t)
{
	uint32_t n = t->nbuckets * 2, i;
	struct flow **b, *f, *next;

	if (t->count < t->nbuckets || n == 0 || n > (1U << 28))
		return;
	b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (f = t->buckets[i]; f != NULL; f = next) {
			uint32_t h = key_hash(t, &f->key) & (n - 1);

			next = f->hnext;
			f->hnext = b[h];
			b[h] = f;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
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

static struct flow *
flow_create(struct flow_table *t, const struct flow_key *k,
    const struct pkt_view *v, int sender, uint64_t ts, uint32_t *next_serial)
{
	struct flow *f, *old;
	uint32_t h;

	while (t->count >= t->max_flows && (old = oldest_flow(t)) != NULL) {
		if (t->st != NULL)
			t->st->flows_evicted++;
		flow_remove(t, old, FLOW_END_EVICTED);
	}
	if (t->free_list != NULL) {
		f = t->free_list;
		t->free_list = f->hnext;
		t->free_count--;
	} else if ((f = malloc(sizeof(*f))) == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->client = (uint8_t)client_index(v, sender);
	f->first_ts = f->last_ts = ts;
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
	table_grow(t);
	h = key_hash(t, k) & (t->nbuckets - 1);
	f->hnext = t->buckets[h];
	t->buckets[h] = f;
	t->count++;
	return f;
}

struct flow *
flow_lookup(struct flow_table *t, const struct pkt_view *v, uint64_t ts,
    uint32_t *next_serial, int *dir, bool *created)
{
	struct flow_key k;
	struct flow *f;
	int sender = key_from_view(v, &k);
	uint32_t h = key_hash(t, &k) & (t->nbuckets - 1);

	*created = false;
	for (f = t->buckets[h]; f != NULL; f = f->hnext)
		if (key_equal(&f->key, &k))
			break;
	/* A new connection on the tuple of a finished one (port reuse). */
	if (f != NULL && f->state == FLOW_CLOSED &&
	    (v->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		flow_remove(t, f, FLOW_END_REUSED);
		f = NULL;
	}
	if (f == NULL) {
		f = flow_create(t, &k, v, sender, ts, next_serial);
		if (f == NULL)
			return NULL;
		*created = true;
	} else {
		if (ts > f->last_ts)
			f->last_ts = ts;
		list_unlink(t, f);
		list_append(t, f, f->state == FLOW_CLOSED ? LIST_TCP_CLOSED :
		    f->key.proto == IPPROTO_NUM_TCP ? LIST_TCP_OPEN :
		    LIST_OTHER);
	}
	*dir = sender == f->client ? 0 : 1;
	return f;
}

void
flow_close(struct flow_table *t, struct flow *f)
{
	if (f->state == FLOW_CLOSED)
		return;
	f->state = FLOW_CLOSED;
	list_unlink(t, f);
	list_append(t, f, LIST_TCP_CLOSED);
}

void
flow_expire(struct flow_table *t, uint64_t ts)
{
	struct flow *f;
	int i;

	for (i = 0; i < LIST_COUNT; i++)
		while ((f = t->head[i]) != NULL &&
		    f->last_ts + t->timeout[i] < ts) {
			if (i != LIST_TCP_CLOSED && t->st != NULL)
				t->st->flows_timed_out++;
			flow_remove(t, f, FLOW_END_TIMEOUT);
		}
}

uint32_t
flow_count(const struct flow_table *t)
{
	return t->count;
}

static int
serial_cmp(const void *a, const void *b)
{
	const struct flow *fa = *(const struct flow *const *)a;
	const struct flow *fb = *(const struct flow *const *)b;

	return fa->unit.serial < fb->unit.serial ? -1 :
	    fa->unit.serial > fb->unit.serial;
}

void
flow_table_free(struct flow_table *t)
{
	struct flow **all, *f;
	uint32_t n = 0, i;

	if (t == NULL)
		return;
	/* End the remaining flows in the order they began: reports read so. */
	all = malloc((size_t)t->count * sizeof(*all) + 1);
	if (all != NULL) {
		for (i = 0; i < LIST_COUNT; i++)
			for (f = t->head[i]; f != NULL; f = f->lnext)
				all[n++] = f;
		qsort(all, n, sizeof(*all), serial_cmp);
		for (i = 0; i < n; i++)
			flow_remove(t, all[i], FLOW_END_FINISH);
		free(all);
	}
	while ((f = oldest_flow(t)) != NULL)
		flow_remove(t, f, FLOW_END_FINISH);
	while ((f = t->free_list) != NULL) {
		t->free_list = f->hnext;
		free(f);
	}
	free(t->buckets);
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
 * Held packets come from size-classed free lists (powers of two from 256
 * bytes), so holding does not call malloc per packet once warm. Idle blocks
 * are kept up to the pool's own size (--hold-mem): memory held once is
 * likely to be held again, and the total stays within the limit.
 */
#define HOLD_CLASS_MIN_SHIFT 8
#define HOLD_CLASSES 12		/* 256 B .. 512 KiB */

struct held_pkt {
	struct held_pkt *next;		/* in its unit */
	struct held_pkt *gprev;		/* global arrival order */
	struct held_pkt *gnext;
	struct unit *unit;		/* NULL once detached at the end */
	uint32_t caplen;
	uint8_t cls;
	bool write;			/* detached: write it in the final drain */
	uint64_t seq;			/* arrival number */
	uint64_t ts_ns;
	uint8_t hdr[16];
	uint8_t data[];
};

struct hold {
	size_t max_bytes;
	size_t bytes;			/* held now (block sizes) */
	size_t idle_bytes;
	uint64_t seq;
	struct held_pkt *ghead;
	struct held_pkt *gtail;
	struct held_pkt *idle[HOLD_CLASSES];
	struct stats *st;
};

struct hold *
hold_new(size_t max_bytes, struct stats *st)
{
	struct hold *h = calloc(1, sizeof(*h));

	if (h != NULL) {
		h->max_bytes = max_bytes;
		h->st = st;
	}
	return h;
}

static size_t
class_size(int cls)
{
	return (size_t)1 << (cls + HOLD_CLASS_MIN_SHIFT);
}

static void
block_free(struct hold *h, struct held_pkt *p)
{
	size_t sz = class_size(p->cls);

	h->bytes -= sz;
	if (h->idle_bytes + h->bytes + sz <= h->max_bytes) {
		p->next = h->idle[p->cls];
		h->idle[p->cls] = p;
		h->idle_bytes += sz;
	} else
		free(p);
}

static void
global_unlink(struct hold *h, struct held_pkt *p)
{
	if (p->gprev != NULL)
		p->gprev->gnext = p->gnext;
	else
		h->ghead = p->gnext;
	if (p->gnext != NULL)
		p->gnext->gprev = p->gprev;
	else
		h->gtail = p->gprev;
}

/* Gives idle blocks back to libc, so held and idle stay within the size. */
static void
idle_trim(struct hold *h)
{
	struct held_pkt *p;
	int i;

	for (i = 0; i < HOLD_CLASSES; i++)
		while ((p = h->idle[i]) != NULL) {
			h->idle[i] = p->next;
			h->idle_bytes -= class_size(i);
			free(p);
		}
}

/* Drops the oldest held packet of any unit: it is its unit's first. */
static void
drop_oldest(struct hold *h)
{
	struct held_pkt *p = h->ghead;

	if (p->unit != NULL) {
		p->unit->held_head = p->next;
		if (p->unit->held_head == NULL)
			p->unit->held_tail = NULL;
	}
	global_unlink(h, p);
	block_free(h, p);
	if (h->st != NULL)
		h->st->packets_dropped++;
}

/* Passes a held packet to fn as a record. */
static void
held_write(const struct held_pkt *p, hold_write_fn fn, void *ctx)
{
	struct pcap_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.ts_ns = p->ts_ns;
	rec.caplen = p->caplen;
	memcpy(rec.hdr, p->hdr, sizeof(rec.hdr));
	rec.data = p->data;
	fn(ctx, &rec);
}

int
hold_add(struct hold *h, struct unit *u, const struct pcap_rec *rec)
{
	uint32_t caplen = rec->caplen;
	size_t need = sizeof(struct held_pkt) + caplen;
	struct held_pkt *p;
	int cls = 0;

	while (class_size(cls) < need && cls < HOLD_CLASSES - 1)
		cls++;
	if (class_size(cls) < need || class_size(cls) > h->max_bytes) {
		if (h->st != NULL)
			h->st->packets_dropped++;
		return -1;
	}
	while (h->bytes + class_size(cls) > h->max_bytes && h->ghead != NULL)
		drop_oldest(h);
	if ((p = h->idle[cls]) == NULL &&
	    h->idle_bytes + h->bytes + class_size(cls) > h->max_bytes)
		idle_trim(h);
	if (p != NULL) {
		h->idle[cls] = p->next;
		h->idle_bytes -= class_size(cls);
	} else if ((p = malloc(class_size(cls))) == NULL) {
		if (h->st != NULL)
			h->st->packets_dropped++;
		return -1;
	}
	h->bytes += class_size(cls);
	p->cls = (uint8_t)cls;
	p->caplen = caplen;
	p->unit = u;
	p->write = false;
	p->seq = h->seq++;
	p->ts_ns = rec->ts_ns;
	memcpy(p->hdr, rec->hdr, sizeof(p->hdr));
	memcpy(p->data, rec->data, caplen);
	p->next = NULL;
	if (u->held_tail != NULL)
		u->held_tail->next = p;
	else
		u->held_head = p;
	u->held_tail = p;
	p->gnext = NULL;
	p->gprev = h->gtail;
	if (h->gtail != NULL)
		h->gtail->gnext = p;
	else
		h->ghead = p;
	h->gtail = p;
	if (h->st != NULL) {
		h->st->packets_held++;
		if (h->bytes > h->st->hold_peak_bytes)
			h->st->hold_peak_bytes = h->bytes;
	}
	return 0;
}

void
hold_release(struct hold *h, struct unit *u, hold_write_fn fn, void *ctx)
{
	struct held_pkt *p, *next;

	for (p = u->held_head; p != NULL; p = next) {
		next = p->next;
		if (fn != NULL)
			held_write(p, fn, ctx);
		global_unlink(h, p);
		block_free(h, p);
	}
	u->held_head = u->held_tail = NULL;
}

void
hold_detach(struct hold *h, struct unit *u, bool write)
{
	struct held_pkt *p;

	(void)h;
	for (p = u->held_head; p != NULL; p = p->next) {
		p->unit = NULL;
		p->write = write;
	}
	u->held_head = u->held_tail = NULL;
}

void
hold_drain(struct hold *h, hold_write_fn fn, void *ctx)
{
	struct held_pkt *p;

	while ((p = h->ghead) != NULL) {
		if (p->unit != NULL) {
			/* Still owned (should not happen at the end): drop. */
			p->unit->held_head = p->next;
			if (p->unit->held_head == NULL)
				p->unit->held_tail = NULL;
		} else if (p->write && fn != NULL)
			held_write(p, fn, ctx);
		global_unlink(h, p);
		block_free(h, p);
	}
}

void
hold_merge(struct hold *h, struct unit *to, struct unit *from)
{
	struct held_pkt *a = to->held_head, *b = from->held_head, *p;
	struct held_pkt head, *tail = &head;

	(void)h;
	for (p = b; p != NULL; p = p->next)
		p->unit = to;
	while (a != NULL && b != NULL) {
		if (a->seq < b->seq) {
			tail->next = a;
			a = a->next;
		} else {
			tail->next = b;
			b = b->next;
		}
		tail = tail->next;
	}
	tail->next = a != NULL ? a : b;
	while (tail->next != NULL)
		tail = tail->next;
	to->held_head = head.next;
	to->held_tail = head.next != NULL ? tail : NULL;
	from->held_head = from->held_tail = NULL;
}

size_t
hold_bytes(const struct hold *h)
{
	return h->bytes;
}

void
hold_free(struct hold *h)
{
	struct held_pkt *p;
	int i;

	if (h == NULL)
		return;
	while ((p = h->ghead) != NULL) {
		global_unlink(h, p);
		free(p);
	}
	for (i = 0; i < HOLD_CLASSES; i++)
		while ((p = h->idle[i]) != NULL) {
			h->idle[i] = p->next;
			free(p);
		}
	free(h);
}
