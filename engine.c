/* engine.c: the per-packet path: decode, reassemble, flow, match, verdict. */
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "engine.h"
#include "reasm.h"

/*
 * The engine ties the modules together and decides units. Output goes
 * through the callbacks of its configuration, so it does no I/O itself and
 * tests and tools can drive it as flowgrep.c does.
 */
struct engine {
	struct engine_config cfg;
	struct flow_table *flows;
	struct defrag *defrag;
	struct reasm_tcp *reasm;
	struct hold *hold;
	struct reasm_sink sink;
	uint32_t next_serial;
	uint8_t *selected;	/* bit per unit serial: selected */
	size_t selected_len;	/* bytes */
	uint64_t now;		/* latest capture time seen */
	bool finishing;
	struct flow *cur;	/* the flow whose segment is being reassembled */
};

static void
engine_write(void *ctx, const uint8_t *hdr, const uint8_t *data,
    uint32_t caplen)
{
	struct engine *e = ctx;

	if (e->cfg.write != NULL)
		e->cfg.write(e->cfg.ctx, hdr, data, caplen);
}

static void
mark_selected(struct engine *e, uint32_t serial)
{
	size_t byte = serial / 8;

	if (byte >= e->selected_len) {
		size_t n = e->selected_len ? e->selected_len : 4096;
		uint8_t *p;

		while (n <= byte)
			n *= 2;
		if ((p = realloc(e->selected, n)) == NULL)
			return;
		memset(p + e->selected_len, 0, n - e->selected_len);
		e->selected = p;
		e->selected_len = n;
	}
	e->selected[byte] |= (uint8_t)(1U << (serial % 8));
}

bool
engine_selected(const struct engine *e, uint32_t serial)
{
	if (serial == UNIT_SINGLE_SELECTED)
		return true;
	if (serial == UNIT_SINGLE_REJECTED || serial / 8 >= e->selected_len)
		return false;
	return (e->selected[serial / 8] >> (serial % 8)) & 1;
}

void
engine_resolve_alias(struct engine *e, uint32_t from, uint32_t to)
{
	if (engine_selected(e, to))
		mark_selected(e, from);
}

/* Fills the network part of a report from a flow. */
static void
report_flow(struct engine *e, const struct flow *f)
{
	struct engine_report r;

	if (e->cfg.report == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.ts_ns = f->decided_ts;
	r.first_ts_ns = f->first_ts;
	r.is_flow = true;
	r.proto = f->key.proto;
	r.ipver = f->key.ipver;
	r.client_addr = flow_addr(f, 0);
	r.server_addr = flow_addr(f, 1);
	r.client_port = flow_port(f, 0);
	r.server_port = flow_port(f, 1);
	r.vlan[0] = f->key.vlan[0];
	r.vlan[1] = f->key.vlan[1];
	r.vlan_count = f->key.vlan_count;
	r.matched = f->unit.verdict == VERDICT_MATCH;
	if (r.matched) {
		r.hit = &f->hit;
		r.pattern = match_set_pattern(e->cfg.ms, f->hit.pattern);
	}
	r.packets = f->packets;
	r.bytes = f->bytes;
	e->cfg.report(e->cfg.ctx, &r);
}

/*
 * Gives u's held packets their fate: written now if selected (or marked for
 * the final drain while finishing), else freed.
 */
static void
settle_held(struct engine *e, struct unit *u)
{
	if (e->hold == NULL)
		return;
	if (e->finishing)
		hold_detach(e->hold, u, u->selected);
	else
		hold_release(e->hold, u, u->selected ? engine_write : NULL, e);
}

static void
decide_flow(struct engine *e, struct flow *f, enum verdict v,
    const struct match_hit *hit)
{
	struct stats *st = e->cfg.st;

	if (f->unit.verdict != VERDICT_UNDECIDED)
		return;
	if (hit != NULL)
		f->hit = *hit;
	f->decided_ts = e->now;
	if (unit_decide(&f->unit, v, e->cfg.invert)) {
		mark_selected(e, f->unit.serial);
		st->units_selected++;
		st->flows_selected++;
		report_flow(e, f);
	}
	if (v == VERDICT_MATCH)
		st->flows_matched++;
	settle_held(e, &f->unit);
	if (!e->cfg.full_streams) {
		match_dir_release(&f->md[0]);
		match_dir_release(&f->md[1]);
	}
}

/* A unit that is not a flow: decided at once, with an empty payload. */
static void
decide_alone(struct engine *e, struct unit *u, const struct pkt_view *v)
{
	struct match_hit hit;
	struct engine_report r;
	bool matched = match_empty(e->cfg.ms, &hit);

	if (unit_decide(u, matched ? VERDICT_MATCH : VERDICT_NOMATCH,
	    e->cfg.invert)) {
		if (u->serial < UNIT_SINGLE_REJECTED)
			mark_selected(e, u->serial);
		e->cfg.st->units_selected++;
		if (e->cfg.report != NULL) {
			memset(&r, 0, sizeof(r));
			r.ts_ns = r.first_ts_ns = e->now;
			if (v != NULL && v->ipver != 0) {
				r.ipver = v->ipver;
				r.proto = v->proto;
				r.client_addr = v->src;
				r.server_addr = v->dst;
				r.client_port = v->sport;
				r.server_port = v->dport;
				r.vlan[0] = v->vlan[0];
				r.vlan[1] = v->vlan[1];
				r.vlan_count = v->vlan_count;
			}
			r.matched = matched;
			r.hit = matched ? &hit : NULL;
			r.pattern = matched ?
			    match_set_pattern(e->cfg.ms, hit.pattern) : NULL;
			r.packets = 1;
			e->cfg.report(e->cfg.ctx, &r);
		}
	}
}

/* Gives the current packet to unit u: its serial, or held, or written. */
static void
attach(struct engine *e, struct unit *u, const struct pcap_rec *rec)
{
	if (e->cfg.assign != NULL)
		e->cfg.assign(e->cfg.ctx, u->serial);
	if (e->hold == NULL)
		return;
	if (u->verdict == VERDICT_UNDECIDED)
		hold_add(e->hold, u, rec->hdr, rec->data, rec->caplen);
	else if (u->selected)
		engine_write(e, rec->hdr, rec->data, rec->caplen);
}

static void
single_packet(struct engine *e, const struct pkt_view *v,
    const struct pcap_rec *rec)
{
	struct unit u;

	memset(&u, 0, sizeof(u));
	u.serial = UNIT_SINGLE_REJECTED;	/* no bit: decided here, once */
	e->cfg.st->single_units++;
	decide_alone(e, &u, v);
	if (e->cfg.assign != NULL)
		e->cfg.assign(e->cfg.ctx, u.selected ? UNIT_SINGLE_SELECTED :
		    UNIT_SINGLE_REJECTED);
	if (e->hold != NULL && u.selected)
		engine_write(e, rec->hdr, rec->data, rec->caplen);
}

/* True when every direction patterns apply to has reached --depth. */
static bool
depth_exhausted(const struct engine *e, const struct flow *f)
{
	int d, active = 0;

	for (d = 0; d < 2; d++)
		if (match_set_has_dir(e->cfg.ms, d)) {
			active++;
			if (!match_dir_done(e->cfg.ms, &f->md[d]))
				return false;
		}
	return active > 0;
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
	if (match_feed(e->cfg.ms, &f->md[dir], dir, p, len, &hit))
		decide_flow(e, f, VERDICT_MATCH, &hit);
	else if (depth_exhausted(e, f))
		decide_flow(e, f, VERDICT_NOMATCH, NULL);
}

static void
sink_gap(void *ctx, int dir, uint32_t len)
{
	struct engine *e = ctx;
	struct flow *f = e->cur;

	if (e->cfg.stream_gap != NULL)
		e->cfg.stream_gap(e->cfg.ctx, f, dir, len);
	if (f->unit.verdict == VERDICT_UNDECIDED) {
		match_gap(e->cfg.ms, &f->md[dir], len);
		if (depth_exhausted(e, f))
			decide_flow(e, f, VERDICT_NOMATCH, NULL);
	}
}

/* The sink for f now: none once decided, unless streams are wanted whole. */
static const struct reasm_sink *
flow_sink(struct engine *e, struct flow *f)
{
	e->cur = f;
	/* A closed connection's stream is over, whatever still arrives. */
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
	decide_flow(e, f, VERDICT_NOMATCH, NULL);
	if (e->cfg.flow_end != NULL)
		e->cfg.flow_end(e->cfg.ctx, f);
	match_dir_release(&f->md[0]);
	match_dir_release(&f->md[1]);
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
	ev = reasm_tcp_segment(e->reasm, &f->tcp, dir, &seg, flow_sink(e, f));
	if (ev == REASM_TCP_RST || ev == REASM_TCP_CLOSED) {
		/* Nothing more will come: what is queued is all there is. */
		reasm_tcp_flush(e->reasm, &f->tcp, flow_sink(e, f));
		decide_flow(e, f, VERDICT_NOMATCH, NULL);
		flow_close(e->flows, f);
	}
}

static void
datagram(struct engine *e, struct flow *f, int dir, const struct pkt_view *v)
{
	struct match_hit hit;

	if (e->cfg.stream != NULL && v->payload_len > 0)
		e->cfg.stream(e->cfg.ctx, f, dir, v->payload, v->payload_len);
	if (f->unit.verdict == VERDICT_UNDECIDED &&
	    match_datagram(e->cfg.ms, dir, v->payload, v->payload_len, &hit))
		decide_flow(e, f, VERDICT_MATCH, &hit);
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

	f = flow_lookup(e->flows, v, rec->ts_ns, &e->next_serial, &dir,
	    &created);
	if (f == NULL) {
		/* Out of memory: the packet stands alone rather than vanish. */
		if (dgu == NULL)
			single_packet(e, v, rec);
		return;
	}
	if (created && match_empty(e->cfg.ms, &hit))
		decide_flow(e, f, VERDICT_MATCH, &hit);
	if (dgu != NULL) {
		/* The fragments join the flow of their datagram. */
		if (e->cfg.alias != NULL)
			e->cfg.alias(e->cfg.ctx, dgu->serial, f->unit.serial);
		if (e->hold != NULL) {
			if (f->unit.verdict == VERDICT_UNDECIDED)
				hold_merge(e->hold, &f->unit, dgu);
			else
				hold_release(e->hold, dgu, f->unit.selected ?
				    engine_write : NULL, e);
		}
	} else
		attach(e, &f->unit, rec);
	f->packets++;
	f->bytes += rec->caplen;
	if (v->proto == IPPROTO_NUM_TCP)
		tcp_segment(e, f, dir, v);
	else
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
	decide_alone(e, u, &dg->view);
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
		u->serial = e->next_serial++;
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
		decide_alone(e, u, &whole);
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
	e->sink.data = sink_data;
	e->sink.gap = sink_gap;
	e->sink.ctx = e;
	e->flows = flow_table_new(cfg->max_flows, cfg->tcp_timeout_ns,
	    cfg->udp_timeout_ns, cfg->st, flow_ended, e);
	e->defrag = defrag_new(cfg->st, datagram_dropped, e);
	e->reasm = reasm_tcp_new(cfg->st);
	if (cfg->hold)
		e->hold = hold_new(cfg->hold_mem, cfg->st);
	if (e->flows == NULL || e->defrag == NULL || e->reasm == NULL ||
	    (cfg->hold && e->hold == NULL)) {
		engine_free(e);
		return NULL;
	}
	return e;
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
	defrag_free(e->defrag);
	flow_table_free(e->flows);
	reasm_tcp_free(e->reasm);
	hold_free(e->hold);
	free(e->selected);
	free(e);
}
