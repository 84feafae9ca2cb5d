/* engine.c: the per-packet path: decode, reassemble, flow, match, verdict. */
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "engine.h"
#include "matcher.h"
#include "reasm.h"

/*
 * The engine ties the modules together and decides units. Output goes
 * through the callbacks of its configuration, so it does no I/O itself and
 * tests and tools can drive it as flowgrep.c does.
 */

/*
 * Context (-A/-B/-C) keeps an entry for each flow whose selection is not
 * settled: a flow that may still be selected as context, or that may still
 * select others. An ended flow's entry keeps what its report needs and, for
 * stream input, its held packets ("limbo").
 */
struct ctx_entry {
	uint32_t serial;
	struct ctx_entry *next;		/* hash chain */
	struct flow *flow;		/* NULL once the flow has ended */
	struct unit limbo;		/* an ended flow's held packets */
	struct engine_report rep;	/* an ended flow's report */
	uint8_t caddr[16];
	uint8_t saddr[16];
	struct match_hit hit;
	bool decided;
	bool selected;			/* by its verdict or as context */
	bool want;			/* to be context once decided */
};

struct bitset {
	uint8_t *bits;
	size_t len;			/* bytes */
};

/* Where a flow is matched beside a match thread (flow.match_where). */
enum match_where { WHERE_UNSET, WHERE_THREAD, WHERE_HERE };

struct engine {
	struct engine_config cfg;
	struct flow_table *flows;
	struct defrag *defrag;
	struct reasm_tcp *reasm;
	struct hold *hold;
	struct reasm_sink sink;
	uint32_t next_flow;		/* serial of the next flow */
	uint32_t next_dgram;
	struct bitset sel_flows;	/* selected flows, by serial */
	struct bitset sel_dgrams;	/* selected datagram units */
	struct matcher *mt;		/* the match thread, or NULL */
	struct match_set *ms_here;	/* beside it, a clone, or NULL */
	bool here_next;			/* MATCH_HERE_ALTERNATE: the next flow */
	struct bitset deferred;		/* flows it decides, by serial */
	uint64_t now;			/* latest capture time seen */
	bool finishing;
	bool ending;			/* deciding a flow that leaves the table */
	struct flow *cur;		/* the flow being reassembled */
	/* context */
	bool context;
	struct ctx_entry **ctx_buckets;
	uint32_t ctx_nbuckets;		/* a power of two */
	uint32_t ctx_count;
	uint64_t ctx_after_until;	/* flows up to this serial are context */
	bool ctx_after_any;
};

static void
engine_write(void *ctx, const struct pcap_rec *rec)
{
	struct engine *e = ctx;

	if (e->cfg.write != NULL)
		e->cfg.write(e->cfg.ctx, rec);
}

static void
bitset_set(struct bitset *b, uint32_t i)
{
	size_t byte = i / 8;

	if (byte >= b->len) {
		size_t n = b->len ? b->len : 4096;
		uint8_t *p;

		while (n <= byte)
			n *= 2;
		if ((p = realloc(b->bits, n)) == NULL)
			return;
		memset(p + b->len, 0, n - b->len);
		b->bits = p;
		b->len = n;
	}
	b->bits[byte] |= (uint8_t)(1U << (i % 8));
}

static bool
bitset_get(const struct bitset *b, uint32_t i)
{
	return i / 8 < b->len && ((b->bits[i / 8] >> (i % 8)) & 1);
}

static void
mark_selected(struct engine *e, uint32_t serial)
{
	if (serial >= UNIT_SINGLE_REJECTED)
		return;
	if (serial & UNIT_DGRAM)
		bitset_set(&e->sel_dgrams, serial & ~UNIT_DGRAM);
	else
		bitset_set(&e->sel_flows, serial);
}

bool
engine_selected(const struct engine *e, uint32_t serial)
{
	if (serial == UNIT_SINGLE_SELECTED)
		return true;
	if (serial == UNIT_SINGLE_REJECTED)
		return false;
	if (serial & UNIT_DGRAM)
		return bitset_get(&e->sel_dgrams, serial & ~UNIT_DGRAM);
	return bitset_get(&e->sel_flows, serial);
}

void
engine_resolve_alias(struct engine *e, uint32_t from, uint32_t to)
{
	if (engine_selected(e, to))
		mark_selected(e, from);
}

/* A flow's report, its addresses and hit pointing into the flow. */
static void
flow_report(const struct engine *e, const struct flow *f,
    struct engine_report *r)
{
	memset(r, 0, sizeof(*r));
	r->ts_ns = f->decided_ts;
	r->first_ts_ns = f->first_ts;
	r->is_flow = true;
	r->proto = f->key.proto;
	r->ipver = f->key.ipver;
	r->client_addr = flow_addr(f, 0);
	r->server_addr = flow_addr(f, 1);
	r->client_port = flow_port(f, 0);
	r->server_port = flow_port(f, 1);
	r->vlan[0] = f->key.vlan[0];
	r->vlan[1] = f->key.vlan[1];
	r->vlan_count = f->key.vlan_count;
	r->matched = f->unit.verdict == VERDICT_MATCH;
	if (r->matched) {
		r->hit = &f->hit;
		r->pattern = match_set_pattern(e->cfg.ms, f->hit.pattern);
	}
	r->packets = f->packets;
	r->bytes = f->bytes;
	r->killed = f->killed;
}

/*
 * Gives u's held packets their fate: written now if selected (or marked for
 * the final drain while finishing), else freed. A unit pending context keeps
 * them.
 */
static void
settle_held(struct engine *e, struct unit *u)
{
	if (e->hold == NULL || u->pending)
		return;
	if (e->finishing)
		hold_detach(e->hold, u, u->selected);
	else
		hold_release(e->hold, u, u->selected ? engine_write : NULL, e);
}

/* f is selected (by its verdict, or as context): mark, report, write. */
static void
select_flow(struct engine *e, struct flow *f, bool context)
{
	struct engine_report r;

	f->unit.selected = true;
	f->unit.pending = false;
	mark_selected(e, f->unit.serial);
	e->cfg.st->units_selected++;
	e->cfg.st->flows_selected++;
	if (context)
		e->cfg.st->flows_context++;
	if (e->cfg.report != NULL) {
		flow_report(e, f, &r);
		r.context = context;
		e->cfg.report(e->cfg.ctx, &r);
	}
	settle_held(e, &f->unit);
}

/* ---- context ---- */

static struct ctx_entry *
ctx_find(const struct engine *e, uint64_t serial)
{
	struct ctx_entry *c;

	if (serial >= UNIT_DGRAM)
		return NULL;
	c = e->ctx_buckets[serial & (e->ctx_nbuckets - 1)];
	while (c != NULL && c->serial != serial)
		c = c->next;
	return c;
}

/* Doubles the buckets while entries outnumber them; failure is harmless. */
static void
ctx_grow(struct engine *e)
{
	uint32_t n = e->ctx_nbuckets * 2, i;
	struct ctx_entry **b, *c, *next;

	if (e->ctx_count < e->ctx_nbuckets || n > (1U << 26))
		return;
	if ((b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < e->ctx_nbuckets; i++)
		for (c = e->ctx_buckets[i]; c != NULL; c = next) {
			next = c->next;
			c->next = b[c->serial & (n - 1)];
			b[c->serial & (n - 1)] = c;
		}
	free(e->ctx_buckets);
	e->ctx_buckets = b;
	e->ctx_nbuckets = n;
}

static void
ctx_remove(struct engine *e, struct ctx_entry *c)
{
	struct ctx_entry **pp = &e->ctx_buckets[c->serial &
	    (e->ctx_nbuckets - 1)];

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	e->ctx_count--;
	if (e->hold != NULL) {
		c->limbo.pending = false;
		settle_held(e, &c->limbo);
	}
	free(c);
}

/*
 * Ends c's wait when nothing can change it any more: it is selected, or it
 * and every flow within reach of it (-A before it, -B after it) is decided.
 */
static void
ctx_settle(struct engine *e, uint64_t serial)
{
	struct ctx_entry *c = ctx_find(e, serial), *o;
	uint64_t lo, hi, i;

	if (c == NULL || !c->decided)
		return;
	if (!c->selected) {
		lo = serial >= e->cfg.context_after ?
		    serial - e->cfg.context_after : 0;
		hi = serial + e->cfg.context_before;
		if (hi >= e->next_flow)
			return;		/* flows after it have yet to begin */
		for (i = lo; i <= hi; i++)
			if (i != serial && (o = ctx_find(e, i)) != NULL &&
			    !o->decided)
				return;
		if (c->flow != NULL) {
			c->flow->unit.pending = false;
			settle_held(e, &c->flow->unit);
		}
	}
	ctx_remove(e, c);
}

static void
ctx_add(struct engine *e, struct flow *f)
{
	struct ctx_entry *c = calloc(1, sizeof(*c));
	uint32_t h;

	if (c == NULL) {
		e->cfg.st->context_lost++;
		return;
	}
	c->serial = f->unit.serial;
	c->flow = f;
	c->want = e->ctx_after_any && c->serial <= e->ctx_after_until;
	h = c->serial & (e->ctx_nbuckets - 1);
	c->next = e->ctx_buckets[h];
	e->ctx_buckets[h] = c;
	e->ctx_count++;
	ctx_grow(e);
	/* The flow B after an older one may settle that one. */
	if (c->serial >= e->cfg.context_before)
		ctx_settle(e, c->serial - e->cfg.context_before);
}

/* Selects the flow of c as context now. */
static void
ctx_select(struct engine *e, struct ctx_entry *c)
{
	c->selected = true;
	if (c->flow != NULL) {
		select_flow(e, c->flow, true);
		return;
	}
	/* The flow has ended: report from the entry, write its limbo. */
	mark_selected(e, c->serial);
	e->cfg.st->units_selected++;
	e->cfg.st->flows_selected++;
	e->cfg.st->flows_context++;
	c->rep.context = true;
	if (e->cfg.report != NULL)
		e->cfg.report(e->cfg.ctx, &c->rep);
	c->limbo.selected = true;
	c->limbo.pending = false;
	settle_held(e, &c->limbo);
}

/* Flow serial was selected: the flows within -B before and -A after it too. */
static void
ctx_spread(struct engine *e, uint32_t serial)
{
	uint64_t lo = serial >= e->cfg.context_before ?
	    serial - e->cfg.context_before : 0;
	uint64_t hi = (uint64_t)serial + e->cfg.context_after, i;
	struct ctx_entry *c;

	if (e->cfg.context_after > 0 && hi >= e->next_flow) {
		e->ctx_after_any = true;
		if (hi > e->ctx_after_until)
			e->ctx_after_until = hi;
	}
	for (i = lo; i <= hi && i < e->next_flow; i++) {
		if (i == serial || (c = ctx_find(e, i)) == NULL || c->selected)
			continue;
		if (c->decided)
			ctx_select(e, c);
		else
			c->want = true;
	}
}

/* After flow serial's verdict: what it changes for its neighbours. */
static void
ctx_decided(struct engine *e, struct flow *f)
{
	uint32_t serial = f->unit.serial;
	struct ctx_entry *c = ctx_find(e, serial);
	uint64_t lo = serial >= e->cfg.context_before ?
	    serial - e->cfg.context_before : 0;
	uint64_t hi = (uint64_t)serial + e->cfg.context_after, i;

	if (c == NULL)
		return;
	c->decided = true;
	if (f->unit.selected) {
		c->selected = true;
		ctx_spread(e, serial);
	} else if (c->want)
		ctx_select(e, c);
	for (i = lo; i <= hi && i < e->next_flow; i++)
		ctx_settle(e, i);
}

/* A flow leaves the table: its entry, if still needed, keeps its report. */
static void
ctx_flow_gone(struct engine *e, struct flow *f)
{
	struct ctx_entry *c = ctx_find(e, f->unit.serial);

	if (c == NULL)
		return;
	c->flow = NULL;
	if (c->selected) {
		ctx_remove(e, c);
		return;
	}
	flow_report(e, f, &c->rep);
	memcpy(c->caddr, c->rep.client_addr, sizeof(c->caddr));
	memcpy(c->saddr, c->rep.server_addr, sizeof(c->saddr));
	c->rep.client_addr = c->caddr;
	c->rep.server_addr = c->saddr;
	if (c->rep.hit != NULL) {
		c->hit = *c->rep.hit;
		c->rep.hit = &c->hit;
	}
	c->limbo.pending = true;
	c->limbo.serial = f->unit.serial;
	if (e->hold != NULL)
		hold_merge(e->hold, &c->limbo, &f->unit);
	f->unit.pending = false;
}

/* ---- sharding ---- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	while (n-- > 0) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

/*
 * murmur3's finaliser: FNV-1a's low bits depend only on the low bits of each
 * byte, so without it every even address would fall in one of two shards.
 */
static uint64_t
fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

uint64_t
engine_flow_hash(const struct pkt_view *v)
{
	uint8_t a[18], b[18], tail[6];
	uint64_t h = FNV_OFFSET;

	memcpy(a, v->src, 16);
	a[16] = (uint8_t)(v->sport >> 8);
	a[17] = (uint8_t)v->sport;
	memcpy(b, v->dst, 16);
	b[16] = (uint8_t)(v->dport >> 8);
	b[17] = (uint8_t)v->dport;
	/* The lower endpoint first: both directions hash alike. */
	if (memcmp(a, b, sizeof(a)) > 0) {
		h = fnv1a(h, b, sizeof(b));
		h = fnv1a(h, a, sizeof(a));
	} else {
		h = fnv1a(h, a, sizeof(a));
		h = fnv1a(h, b, sizeof(b));
	}
	tail[0] = v->proto;
	tail[1] = v->vlan_count;
	tail[2] = (uint8_t)(v->vlan[0] >> 8);
	tail[3] = (uint8_t)v->vlan[0];
	tail[4] = (uint8_t)(v->vlan[1] >> 8);
	tail[5] = (uint8_t)v->vlan[1];
	return fmix64(fnv1a(h, tail, sizeof(tail)));
}

/* Whether v's flow is this shard's; the hash is computed only if sharding. */
static bool
view_in_shard(const struct engine *e, const struct pkt_view *v)
{
	return e->cfg.shard_count <= 1 ||
	    engine_flow_hash(v) % e->cfg.shard_count == e->cfg.shard_index;
}

/* Whether a packet alone is this shard's: its bytes decide. */
static bool
bytes_in_shard(const struct engine *e, const struct pcap_rec *rec)
{
	return e->cfg.shard_count <= 1 || fmix64(fnv1a(FNV_OFFSET, rec->data,
	    rec->caplen)) % e->cfg.shard_count == e->cfg.shard_index;
}

/* ---- verdicts ---- */

static void
decide_flow(struct engine *e, struct flow *f, enum verdict v,
    const struct match_hit *hit)
{
	struct stats *st = e->cfg.st;

	if (f->unit.verdict != VERDICT_UNDECIDED)
		return;
	if (e->mt != NULL && f->match_where != WHERE_HERE &&
	    v == VERDICT_NOMATCH && !matcher_matched(e->mt, f->unit.serial)) {
		/* Its last bytes may still wait in the match thread's queue. */
		f->unit.verdict = VERDICT_DEFERRED;
		bitset_set(&e->deferred, f->unit.serial);
		matcher_end(e->mt, f->unit.serial);
		return;
	}
	if (e->mt != NULL && f->match_where != WHERE_HERE)
		v = matcher_matched(e->mt, f->unit.serial) ? VERDICT_MATCH : v;
	if (hit != NULL)
		f->hit = *hit;
	f->decided_ts = e->now;
	if (v == VERDICT_MATCH)
		st->flows_matched++;
	if (unit_decide(&f->unit, v, e->cfg.invert)) {
		/* A connection that is over, or the end of input, needs none. */
		if (e->cfg.kill != NULL && f->key.proto == IPPROTO_NUM_TCP &&
		    f->state != FLOW_CLOSED && !e->ending && !e->finishing) {
			f->killed = true;
			st->flows_killed++;
			e->cfg.kill(e->cfg.ctx, f, e->now);
		}
		select_flow(e, f, false);
	} else {
		/* Context may still want its packets. */
		f->unit.pending = e->context && e->hold != NULL &&
		    ctx_find(e, f->unit.serial) != NULL;
		settle_held(e, &f->unit);
	}
	if (e->context)
		ctx_decided(e, f);
	if (!e->cfg.full_streams) {
		match_dir_release(&f->md[0]);
		match_dir_release(&f->md[1]);
	}
}

/*
 * A unit that is not a flow: decided at once, with an empty payload. bytes
 * are its captured bytes, when known (a single packet).
 */
static void
decide_alone(struct engine *e, struct unit *u, const struct pkt_view *v,
    uint64_t bytes)
{
	struct match_hit hit;
	struct engine_report r;
	bool matched = match_empty(e->cfg.ms, &hit);

	if (!unit_decide(u, matched ? VERDICT_MATCH : VERDICT_NOMATCH,
	    e->cfg.invert))
		return;
	mark_selected(e, u->serial);
	e->cfg.st->units_selected++;
	if (e->cfg.report == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.ts_ns = r.first_ts_ns = e->now;
	if (v != NULL && v->ipver != 0) {
		r.ipver = v->ipver;
		r.proto = v->proto;
		r.client_addr = v->src;
		r.server_addr = v->dst;
		r.vlan[0] = v->vlan[0];
		r.vlan[1] = v->vlan[1];
		r.vlan_count = v->vlan_count;
	}
	r.matched = matched;
	r.hit = matched ? &hit : NULL;
	r.pattern = matched ? match_set_pattern(e->cfg.ms, hit.pattern) : NULL;
	r.packets = 1;
	r.bytes = bytes;
	e->cfg.report(e->cfg.ctx, &r);
}

/* Gives the current packet to unit u: its serial, or held, or written. */
static void
attach(struct engine *e, struct unit *u, const struct pcap_rec *rec)
{
	if (e->cfg.assign != NULL)
		e->cfg.assign(e->cfg.ctx, u->serial);
	if (e->hold == NULL)
		return;
	if (u->verdict == VERDICT_UNDECIDED || u->pending)
		hold_add(e->hold, u, rec);
	else if (u->selected)
		engine_write(e, rec);
}

static void
single_packet(struct engine *e, const struct pkt_view *v,
    const struct pcap_rec *rec)
{
	struct unit u;

	/* A packet alone belongs to the shard its bytes hash to. */
	if (!bytes_in_shard(e, rec)) {
		e->cfg.st->shard_skipped++;
		if (e->cfg.assign != NULL)
			e->cfg.assign(e->cfg.ctx, UNIT_SINGLE_REJECTED);
		return;
	}
	memset(&u, 0, sizeof(u));
	u.serial = UNIT_SINGLE_REJECTED;	/* no bit: decided here, once */
	e->cfg.st->single_units++;
	decide_alone(e, &u, v, rec->caplen);
	if (e->cfg.assign != NULL)
		e->cfg.assign(e->cfg.ctx, u.selected ? UNIT_SINGLE_SELECTED :
		    UNIT_SINGLE_REJECTED);
	if (e->hold != NULL && u.selected)
		engine_write(e, rec);
}

/*
 * Whether f is matched on the match thread, fixed at its first bytes, gap or
 * datagram: here when the thread is behind (a queue over half full), so
 * that both cores match while the engine would otherwise wait, else on the
 * thread. The verdict is the same either way.
 */
static bool
on_thread(struct engine *e, struct flow *f)
{
	bool here;

	if (e->mt == NULL)
		return false;
	if (f->match_where == WHERE_UNSET) {
		if (e->ms_here == NULL)
			here = false;
		else if (e->cfg.match_here == MATCH_HERE_ALTERNATE)
			here = e->here_next = !e->here_next;
		else
			here = matcher_behind(e->mt);
		f->match_where = here ? WHERE_HERE : WHERE_THREAD;
	}
	return f->match_where == WHERE_THREAD;
}

/* The set that matches f in this thread. */
static struct match_set *
set_here(const struct engine *e, const struct flow *f)
{
	return f->match_where == WHERE_HERE ? e->ms_here : e->cfg.ms;
}

/*
 * With the match thread: decides f once the thread has marked it matched,
 * and its bytes are of no more use.
 */
static bool
matched_by_thread(struct engine *e, struct flow *f)
{
	if (!matcher_matched(e->mt, f->unit.serial))
		return false;
	decide_flow(e, f, VERDICT_MATCH, NULL);
	return true;
}

static void
sink_data(void *ctx, int dir, const uint8_t *p, uint32_t len)
{
	struct engine *e = ctx;
	struct flow *f = e->cur;
	struct match_hit hit;

	if (e->cfg.stream != NULL)
		e->cfg.stream(e->cfg.ctx, f, dir, p, len);
	if (f->unit.verdict != VERDICT_UNDECIDED)
		return;
	if (on_thread(e, f)) {
		if (!matched_by_thread(e, f))
			matcher_data(e->mt, f->unit.serial, dir, p, len);
		return;
	}
	if (match_feed(set_here(e, f), &f->md[dir], dir, p, len, &hit))
		decide_flow(e, f, VERDICT_MATCH, &hit);
	else if (match_flow_done(set_here(e, f), f->md))
		decide_flow(e, f, VERDICT_NOMATCH, NULL);
}

static void
sink_gap(void *ctx, int dir, uint32_t len)
{
	struct engine *e = ctx;
	struct flow *f = e->cur;

	if (e->cfg.stream_gap != NULL)
		e->cfg.stream_gap(e->cfg.ctx, f, dir, len);
	if (f->unit.verdict != VERDICT_UNDECIDED)
		return;
	if (on_thread(e, f)) {
		if (!matched_by_thread(e, f))
			matcher_gap(e->mt, f->unit.serial, dir, len);
		return;
	}
	match_gap(set_here(e, f), &f->md[dir], len);
	if (match_flow_done(set_here(e, f), f->md))
		decide_flow(e, f, VERDICT_NOMATCH, NULL);
}

/* The sink for f now: none once decided, unless streams are wanted whole. */
static const struct reasm_sink *
flow_sink(struct engine *e, struct flow *f)
{
	e->cur = f;
	/*
	 * A closed connection's stream is over, whatever still arrives; a
	 * reset one's may not be (tcp_segment).
	 */
	if (f->state == FLOW_CLOSED)
		return NULL;
	if (f->unit.verdict == VERDICT_UNDECIDED || e->cfg.full_streams)
		return &e->sink;
	return NULL;
}

/* Called by the flow table as a flow leaves it. */
static void
flow_ended(void *ctx, struct flow *f, enum flow_end_reason why)
{
	struct engine *e = ctx;

	(void)why;
	if (f->key.proto == IPPROTO_NUM_TCP) {
		reasm_tcp_flush(e->reasm, &f->tcp, flow_sink(e, f));
		reasm_tcp_release(e->reasm, &f->tcp);
	}
	e->ending = true;
	decide_flow(e, f, VERDICT_NOMATCH, NULL);
	e->ending = false;
	if (e->cfg.flow_end != NULL)
		e->cfg.flow_end(e->cfg.ctx, f);
	match_dir_release(&f->md[0]);
	match_dir_release(&f->md[1]);
	if (e->context)
		ctx_flow_gone(e, f);
	f->unit.pending = false;
	settle_held(e, &f->unit);
}

static void
tcp_segment(struct engine *e, struct flow *f, int dir,
    const struct pkt_view *v)
{
	struct tcp_seg seg;
	enum reasm_tcp_event ev;

	seg.seq = v->seq;
	seg.ack = v->ack;
	seg.flags = v->tcp_flags;
	seg.window = v->window;
	seg.wscale = v->wscale;
	seg.data = v->payload;
	seg.len = v->payload_len;
	seg.wire_len = v->payload_wire_len;
	if (f->state == FLOW_RESET && v->payload_len > 0 &&
	    !(v->tcp_flags & TCP_RST) && !f->outlived_rst) {
		f->outlived_rst = true;
		e->cfg.st->flows_outlived_rst++;
	}
	ev = reasm_tcp_segment(e->reasm, &f->tcp, dir, &seg, flow_sink(e, f));
	if (ev == REASM_TCP_RST) {
		/*
		 * Even a RST in the window may never have reached its
		 * receiver (a low TTL, a middlebox: an insertion evasion), or
		 * been answered with a challenge ACK (RFC 5961). So the flow
		 * is decided only when it leaves the table, and what its
		 * endpoints send until then is matched.
		 */
		flow_reset(e->flows, f);
	} else if (ev == REASM_TCP_CLOSED) {
		/* Nothing more will come: what is queued is all there is. */
		reasm_tcp_flush(e->reasm, &f->tcp, flow_sink(e, f));
		flow_close(e->flows, f);
		decide_flow(e, f, VERDICT_NOMATCH, NULL);
	}
}

static void
datagram(struct engine *e, struct flow *f, int dir, const struct pkt_view *v)
{
	struct match_hit hit;

	if (e->cfg.stream != NULL && v->payload_len > 0)
		e->cfg.stream(e->cfg.ctx, f, dir, v->payload, v->payload_len);
	if (f->unit.verdict != VERDICT_UNDECIDED)
		return;
	if (on_thread(e, f)) {
		if (!matched_by_thread(e, f))
			matcher_datagram(e->mt, f->unit.serial, dir, v->payload,
			    v->payload_len);
	} else if (match_datagram(set_here(e, f), dir, v->payload,
	    v->payload_len, &hit))
		decide_flow(e, f, VERDICT_MATCH, &hit);
}

/* Keeps the link header of f's latest frame, to address RSTs (-k). */
static void
keep_link(struct flow *f, int dir, const struct pkt_view *v,
    const struct pcap_rec *rec)
{
	size_t n;

	if (v->l3 == NULL || v->l3 < rec->data ||
	    v->l3 > rec->data + rec->caplen)
		return;
	n = (size_t)(v->l3 - rec->data);
	if (n > sizeof(f->link))
		return;
	memcpy(f->link, rec->data, n);
	f->link_len = (uint8_t)n;
	f->link_from_client = dir == 0;
}

/*
 * A packet (or a reassembled datagram, whose fragments belong to dgu) keyed
 * to a flow: attribute it, then reassemble and match its payload.
 */
static void
keyed_packet(struct engine *e, const struct pkt_view *v, struct unit *dgu,
    const struct pcap_rec *rec)
{
	struct flow *f;
	struct match_hit hit;
	bool created;
	int dir;

	if (!view_in_shard(e, v)) {
		/* Another shard's flow: skipped before any reassembly. */
		e->cfg.st->shard_skipped++;
		if (dgu != NULL) {
			unit_decide(dgu, VERDICT_NOMATCH, false);
			settle_held(e, dgu);
		} else if (e->cfg.assign != NULL)
			e->cfg.assign(e->cfg.ctx, UNIT_SINGLE_REJECTED);
		return;
	}
	f = flow_lookup(e->flows, v, rec->ts_ns, &e->next_flow, &dir,
	    &created);
	if (f == NULL) {
		/* Out of memory: the packet stands alone rather than vanish. */
		if (dgu == NULL)
			single_packet(e, v, rec);
		return;
	}
	if (created && e->context)
		ctx_add(e, f);
	if (e->cfg.kill != NULL && dgu == NULL)
		keep_link(f, dir, v, rec);
	f->packets++;
	f->bytes += rec->caplen;
	if (created && match_empty(e->cfg.ms, &hit))
		decide_flow(e, f, VERDICT_MATCH, &hit);
	if (dgu != NULL) {
		/* The fragments join the flow of their datagram. */
		if (e->cfg.alias != NULL)
			e->cfg.alias(e->cfg.ctx, dgu->serial, f->unit.serial);
		if (e->hold != NULL) {
			if (f->unit.verdict == VERDICT_UNDECIDED ||
			    f->unit.pending)
				hold_merge(e->hold, &f->unit, dgu);
			else
				hold_release(e->hold, dgu, f->unit.selected ?
				    engine_write : NULL, e);
		}
	} else
		attach(e, &f->unit, rec);
	if (v->proto == IPPROTO_NUM_TCP) {
		bool killed_before = f->killed;

		tcp_segment(e, f, dir, v);
		/*
		 * Every later packet of a killed flow kills it again, but
		 * not a RST: ours come back through the capture, and an
		 * answer to each would never end.
		 */
		if (killed_before && e->cfg.kill != NULL &&
		    !(v->tcp_flags & TCP_RST))
			e->cfg.kill(e->cfg.ctx, f, rec->ts_ns);
	} else
		datagram(e, f, dir, v);
}

/* Called by defrag for a datagram that will never complete. */
static void
datagram_dropped(void *ctx, struct defrag_dgram *dg)
{
	struct engine *e = ctx;
	struct unit *u = dg->owner;

	if (u == NULL)
		return;
	/* Its fragments stand alone, in the shard of its addresses. */
	if (view_in_shard(e, &dg->view))
		decide_alone(e, u, &dg->view, 0);
	else {
		e->cfg.st->shard_skipped++;
		unit_decide(u, VERDICT_NOMATCH, false);
	}
	settle_held(e, u);
	free(u);
	dg->owner = NULL;
}

static void
fragment(struct engine *e, const struct pkt_view *v,
    const struct pcap_rec *rec)
{
	struct defrag_dgram *dg;
	struct pkt_view whole;
	struct unit *u;
	enum defrag_result r = defrag_add(e->defrag, v, rec->ts_ns, &dg);

	if (r == DEFRAG_INVALID) {
		single_packet(e, v, rec);
		return;
	}
	if ((u = dg->owner) == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL) {
			single_packet(e, v, rec);
			if (r == DEFRAG_COMPLETE)
				defrag_release(e->defrag, dg);
			return;
		}
		u->serial = UNIT_DGRAM | (e->next_dgram++ & ~UNIT_DGRAM);
		dg->owner = u;
	}
	attach(e, u, rec);
	if (r != DEFRAG_COMPLETE)
		return;
	whole = dg->view;
	decode_transport(&whole, dg->payload, dg->payload_len,
	    dg->payload_len, e->cfg.st);
	dg->owner = NULL;
	if (whole.status == DECODE_OK)
		keyed_packet(e, &whole, u, rec);
	else {
		if (view_in_shard(e, &whole))
			decide_alone(e, u, &whole, 0);
		else {
			e->cfg.st->shard_skipped++;
			unit_decide(u, VERDICT_NOMATCH, false);
		}
		settle_held(e, u);
	}
	free(u);
	defrag_release(e->defrag, dg);
}

struct engine *
engine_new(const struct engine_config *cfg)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->cfg = *cfg;
	if (e->cfg.context_after > CONTEXT_MAX)
		e->cfg.context_after = CONTEXT_MAX;
	if (e->cfg.context_before > CONTEXT_MAX)
		e->cfg.context_before = CONTEXT_MAX;
	e->context = e->cfg.context_after > 0 || e->cfg.context_before > 0;
	e->sink.data = sink_data;
	e->sink.gap = sink_gap;
	e->sink.ctx = e;
	e->flows = flow_table_new(cfg->max_flows, cfg->tcp_timeout_ns,
	    cfg->udp_timeout_ns, cfg->st, flow_ended, e);
	e->defrag = defrag_new(cfg->st, datagram_dropped, e);
	e->reasm = reasm_tcp_new(cfg->st);
	/* Without a thread (one CPU, no memory), the engine matches itself. */
	if (cfg->match_thread && !cfg->hold && !e->context &&
	    cfg->kill == NULL) {
		/* Cloned first: the thread owns cfg->ms once started. */
		e->ms_here = match_set_clone(cfg->ms);
		if (e->ms_here != NULL)
			match_set_stats(e->ms_here, cfg->st);
		if ((e->mt = matcher_new(cfg->ms, cfg->st)) == NULL) {
			match_set_free(e->ms_here);
			e->ms_here = NULL;
		}
	}
	if (cfg->hold)
		e->hold = hold_new(cfg->hold_mem, cfg->st);
	if (e->context) {
		e->ctx_nbuckets = 1024;
		e->ctx_buckets = calloc(e->ctx_nbuckets,
		    sizeof(*e->ctx_buckets));
	}
	if (e->flows == NULL || e->defrag == NULL || e->reasm == NULL ||
	    (cfg->hold && e->hold == NULL) ||
	    (e->context && e->ctx_buckets == NULL)) {
		engine_free(e);
		return NULL;
	}
	return e;
}

static uint8_t *
input_chunk_get(void *ctx, size_t min, size_t *size)
{
	return hold_input_chunk(ctx, min, size);
}

static void
input_chunk_put(void *ctx, uint8_t *chunk)
{
	hold_input_done(ctx, chunk);
}

bool
engine_input_chunks(struct engine *e, struct pcapio_chunks *c)
{
	if (e->hold == NULL)
		return false;
	c->get = input_chunk_get;
	c->put = input_chunk_put;
	c->ctx = e->hold;
	return true;
}

void
engine_packet(struct engine *e, const struct pcap_rec *rec)
{
	struct pkt_view v;

	if (rec->ts_ns > e->now) {
		e->now = rec->ts_ns;
		flow_expire(e->flows, e->now);
		defrag_expire(e->defrag, e->now);
	}
	decode_packet(e->cfg.linktype, rec->data, rec->caplen, &v, e->cfg.st);
	switch (v.status) {
	case DECODE_OK:
		keyed_packet(e, &v, NULL, rec);
		break;
	case DECODE_FRAGMENT:
		fragment(e, &v, rec);
		break;
	default:
		single_packet(e, &v, rec);
		break;
	}
}

/* Drops every context entry left; their flows are all decided by now. */
static void
ctx_clear(struct engine *e)
{
	uint32_t i;

	if (e->ctx_buckets == NULL)
		return;
	for (i = 0; i < e->ctx_nbuckets; i++)
		while (e->ctx_buckets[i] != NULL)
			ctx_remove(e, e->ctx_buckets[i]);
}

/* The flows the match thread decided, once it has matched everything. */
static void
settle_deferred(struct engine *e)
{
	struct stats *st = e->cfg.st;
	uint32_t serial;
	size_t i;
	bool matched;

	matcher_finish(e->mt);
	for (i = 0; i < e->deferred.len; i++)
		for (serial = (uint32_t)i * 8; e->deferred.bits[i] != 0;
		    serial++, e->deferred.bits[i] >>= 1) {
			if (!(e->deferred.bits[i] & 1))
				continue;
			matched = matcher_matched(e->mt, serial);
			st->flows_matched += matched;
			if (matched == e->cfg.invert)
				continue;
			mark_selected(e, serial);
			st->units_selected++;
			st->flows_selected++;
		}
}

void
engine_finish(struct engine *e)
{
	if (e->finishing)
		return;
	e->finishing = true;
	/* Incomplete datagrams first: their fragments stand alone. */
	defrag_free(e->defrag);
	e->defrag = NULL;
	flow_table_free(e->flows);
	e->flows = NULL;
	if (e->mt != NULL)
		settle_deferred(e);
	ctx_clear(e);
	if (e->hold != NULL)
		hold_drain(e->hold, engine_write, e);
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	/* Whatever is left is discarded silently. */
	e->cfg.report = NULL;
	e->cfg.write = NULL;
	e->cfg.stream = NULL;
	e->cfg.flow_end = NULL;
	e->cfg.kill = NULL;
	defrag_free(e->defrag);
	flow_table_free(e->flows);
	ctx_clear(e);
	free(e->ctx_buckets);
	reasm_tcp_free(e->reasm);
	hold_free(e->hold);
	match_set_free(e->ms_here);
	matcher_free(e->mt);
	free(e->deferred.bits);
	free(e->sel_flows.bits);
	free(e->sel_dgrams.bits);
	free(e);
}
