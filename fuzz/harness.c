/* harness.c: runs records through four engines and checks what they agree on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "harness.h"

/*
 * Each engine is a lane: two-pass normal and -v, hold normal and -v. The
 * lanes are fed the same records; what one lane does must agree with what
 * the others do, which finds logic errors the sanitizers cannot see.
 */
#define LANES 4
#define LANE_TWOPASS 0
#define LANE_TWOPASS_V 1
#define LANE_HOLD 2
#define LANE_HOLD_V 3
/* Then one two-pass lane per shard, when sharding. */
#define SHARDS_MAX 3
#define LANES_MAX (LANES + SHARDS_MAX)

/* A record completes at most one datagram, so aliases are at most records. */
#define HARNESS_ALIASES_MAX HARNESS_RECORDS_MAX

struct harness;

struct lane {
	struct harness *h;
	struct engine *e;
	struct stats st;
	const char *name;
	bool hold;
	uint32_t serial[HARNESS_RECORDS_MAX];
	uint32_t assigned;		/* assign() calls */
	uint32_t alias[HARNESS_ALIASES_MAX][2];
	uint32_t aliases;
	uint64_t written;		/* hold mode: records written */
	uint64_t written_sum;		/* their hashes added up */
	uint64_t reports;
	uint64_t stream_sum;		/* keeps the stream bytes read */
};

struct harness {
	struct harness_opts o;
	struct lane lane[LANES_MAX];
	int nlanes;
	uint64_t hash[HARNESS_RECORDS_MAX];
	uint32_t n;
	bool finished;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
violation(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "harness: property violated: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n-- > 0) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t
harness_rec_hash(const struct pcap_rec *rec)
{
	uint64_t h = fnv(FNV_OFFSET, rec->hdr, sizeof(rec->hdr));

	return fnv(h, rec->data, rec->caplen);
}

/* ---- engine callbacks ---- */

static void
cb_write(void *ctx, const struct pcap_rec *rec)
{
	struct lane *l = ctx;

	if (!l->hold)
		violation("%s: write callback in two-pass mode", l->name);
	if (rec->caplen > PCAPIO_MAX_CAPLEN)
		violation("%s: written caplen %u", l->name, rec->caplen);
	l->written++;
	l->written_sum += harness_rec_hash(rec);
}

static void
cb_assign(void *ctx, uint32_t serial)
{
	struct lane *l = ctx;

	if (l->assigned >= l->h->n + 1)
		violation("%s: record %u assigned twice", l->name, l->h->n);
	if (l->assigned < HARNESS_RECORDS_MAX)
		l->serial[l->assigned] = serial;
	l->assigned++;
}

static void
cb_alias(void *ctx, uint32_t from, uint32_t to)
{
	struct lane *l = ctx;

	if (!(from & UNIT_DGRAM) || from >= UNIT_SINGLE_REJECTED)
		violation("%s: alias from %#x, not a datagram", l->name, from);
	if (to & UNIT_DGRAM)
		violation("%s: alias to %#x, not a flow", l->name, to);
	if (l->aliases < HARNESS_ALIASES_MAX) {
		l->alias[l->aliases][0] = from;
		l->alias[l->aliases][1] = to;
	}
	l->aliases++;
}

/* Reads every byte a report points at, so ASan sees a stale pointer. */
static void
cb_report(void *ctx, const struct engine_report *r)
{
	struct lane *l = ctx;
	const struct match_set *ms = l->h->o.ms;
	volatile uint8_t sink = 0;
	size_t i;

	l->reports++;
	if (r->ipver != 0) {
		if (r->client_addr == NULL || r->server_addr == NULL)
			violation("%s: report without addresses", l->name);
		for (i = 0; i < 16; i++)
			sink ^= r->client_addr[i] ^ r->server_addr[i];
	}
	if (r->vlan_count > 2)
		violation("%s: %u VLAN tags", l->name, r->vlan_count);
	if (!r->matched)
		return;
	if (r->hit == NULL || r->pattern == NULL)
		violation("%s: a match reported without hit or pattern",
		    l->name);
	if (r->hit->pattern < 0 || r->hit->pattern >= match_set_count(ms) ||
	    strcmp(r->pattern, match_set_pattern(ms, r->hit->pattern)) != 0)
		violation("%s: hit names pattern %d", l->name,
		    r->hit->pattern);
	if (r->hit->dir < 0 || r->hit->dir > 1 ||
	    r->hit->excerpt_len > MATCH_EXCERPT_MAX ||
	    r->hit->excerpt_len > r->hit->len)
		violation("%s: hit dir %d len %u excerpt %u", l->name,
		    r->hit->dir, r->hit->len, r->hit->excerpt_len);
	for (i = 0; i < r->hit->excerpt_len; i++)
		sink ^= r->hit->excerpt[i];
	(void)sink;
}

static void
cb_kill(void *ctx, struct flow *f, uint64_t ts_ns)
{
	struct lane *l = ctx;
	volatile uint8_t sink = 0;
	size_t i;

	(void)ts_ns;
	if (f->key.proto != 6)
		violation("%s: kill of a flow of protocol %u", l->name,
		    f->key.proto);
	if (f->link_len > sizeof(f->link))
		violation("%s: link header of %u bytes", l->name,
		    f->link_len);
	for (i = 0; i < f->link_len; i++)
		sink ^= f->link[i];
	(void)sink;
}

static void
cb_stream(void *ctx, const struct flow *f, int dir, const uint8_t *p,
    uint32_t len)
{
	struct lane *l = ctx;
	uint32_t i;

	if (dir < 0 || dir > 1 || (len > 0 && p == NULL) || f->client > 1)
		violation("%s: stream dir %d len %u", l->name, dir, len);
	for (i = 0; i < len; i++)
		l->stream_sum += p[i];
}

static void
cb_gap(void *ctx, const struct flow *f, int dir, uint32_t len)
{
	struct lane *l = ctx;

	(void)f;
	if (dir < 0 || dir > 1 || len == 0)
		violation("%s: gap dir %d len %u", l->name, dir, len);
}

static void
cb_flow_end(void *ctx, const struct flow *f)
{
	struct lane *l = ctx;

	if (f->unit.verdict == VERDICT_UNDECIDED)
		violation("%s: flow %u ends undecided", l->name,
		    f->unit.serial);
}

/* ---- the harness ---- */

static const char *const lane_names[LANES_MAX] = {
	"two-pass", "two-pass -v", "hold", "hold -v", "shard 0", "shard 1",
	"shard 2",
};

struct harness *
harness_new(const struct harness_opts *o)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct engine_config cfg;
	int i;

	if (h == NULL)
		return NULL;
	h->o = *o;
	if (h->o.shards < 2 || h->o.shards > SHARDS_MAX)
		h->o.shards = 0;
	h->nlanes = LANES + (int)h->o.shards;
	for (i = 0; i < h->nlanes; i++) {
		struct lane *l = &h->lane[i];

		l->h = h;
		l->name = lane_names[i];
		l->hold = i == LANE_HOLD || i == LANE_HOLD_V;
		memset(&cfg, 0, sizeof(cfg));
		cfg.linktype = o->linktype;
		cfg.invert = i == LANE_TWOPASS_V || i == LANE_HOLD_V;
		cfg.hold = l->hold;
		cfg.max_flows = o->max_flows;
		cfg.tcp_timeout_ns = o->tcp_timeout_ns;
		cfg.udp_timeout_ns = o->udp_timeout_ns;
		cfg.hold_mem = o->hold_mem;
		cfg.ms = o->ms;
		cfg.st = &l->st;
		cfg.context_after = o->context;
		cfg.context_before = o->context;
		if (i >= LANES) {
			cfg.shard_index = (uint32_t)(i - LANES);
			cfg.shard_count = h->o.shards;
		}
		cfg.write = cb_write;
		cfg.report = cb_report;
		if (!l->hold) {
			cfg.assign = cb_assign;
			cfg.alias = cb_alias;
		}
		/* -k only on one lane: it must not change any decision. */
		if (i == LANE_TWOPASS)
			cfg.kill = cb_kill;
		if (o->full_streams) {
			cfg.stream = cb_stream;
			cfg.stream_gap = cb_gap;
			cfg.flow_end = cb_flow_end;
			cfg.full_streams = true;
		}
		cfg.ctx = l;
		if ((l->e = engine_new(&cfg)) == NULL) {
			harness_free(h);
			return NULL;
		}
	}
	return h;
}

void
harness_packet(struct harness *h, const struct pcap_rec *rec)
{
	int i;

	if (h->finished || h->n >= HARNESS_RECORDS_MAX)
		return;
	h->hash[h->n] = harness_rec_hash(rec);
	for (i = 0; i < h->nlanes; i++) {
		struct lane *l = &h->lane[i];

		engine_packet(l->e, rec);
		if (!l->hold && l->assigned != h->n + 1)
			violation("%s: record %u assigned %u times", l->name,
			    h->n, l->assigned - h->n);
	}
	h->n++;
}

/* The counters every lane must agree on: they follow from packets alone. */
#define AGREE(f) { #f, offsetof(struct stats, f) }
static const struct {
	const char *name;
	size_t off;
} agreed[] = {
	AGREE(not_ip), AGREE(bad_link), AGREE(bad_ip), AGREE(bad_transport),
	AGREE(truncated_payload), AGREE(fragments),
	AGREE(datagrams_reassembled), AGREE(datagrams_incomplete),
	AGREE(fragment_overlaps), AGREE(fragment_mem_evictions),
	AGREE(tcp_gaps), AGREE(tcp_gap_bytes), AGREE(tcp_retransmitted_bytes),
	AGREE(overlap_conflicts), AGREE(ooo_segments), AGREE(ooo_cap_hits),
	AGREE(rst_ignored), AGREE(rst_payload_bytes), AGREE(flows_tcp),
	AGREE(flows_udp), AGREE(flows_other), AGREE(flows_matched),
	AGREE(flows_timed_out), AGREE(flows_evicted), AGREE(flows_midstream),
	AGREE(single_units), AGREE(window_overflows), AGREE(depth_reached),
};

static uint64_t
counter(const struct stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

static void
check_agreement(const struct harness *h)
{
	size_t i;
	int l;

	for (l = 1; l < LANES; l++)
		for (i = 0; i < sizeof(agreed) / sizeof(agreed[0]); i++)
			if (counter(&h->lane[0].st, agreed[i].off) !=
			    counter(&h->lane[l].st, agreed[i].off))
				violation("%s counts %s %llu, %s %llu",
				    h->lane[0].name, agreed[i].name,
				    (unsigned long long)counter(&h->lane[0].st,
				    agreed[i].off), h->lane[l].name,
				    (unsigned long long)counter(&h->lane[l].st,
				    agreed[i].off));
}

/* Whether lane l selected record i. */
static bool
lane_selected(const struct harness *h, int l, uint32_t i)
{
	return engine_selected(h->lane[l].e, h->lane[l].serial[i]);
}

/*
 * The shards together select each record the unsharded run selects, once,
 * and no other. Evictions (--max-flows, the fragment caps) depend on what
 * else a process holds, so with them the shards may differ.
 */
static void
check_shards(const struct harness *h)
{
	uint32_t i;
	int l, n;

	if (h->o.shards == 0 || h->o.context != 0)
		return;
	for (l = 0; l < h->nlanes; l++)
		if (l == LANE_TWOPASS || l >= LANES)
			if (h->lane[l].st.flows_evicted > 0 ||
			    h->lane[l].st.fragment_mem_evictions > 0 ||
			    h->lane[l].aliases > HARNESS_ALIASES_MAX)
				return;
	for (i = 0; i < h->n; i++) {
		for (n = 0, l = LANES; l < h->nlanes; l++)
			n += lane_selected(h, l, i);
		if (n != (lane_selected(h, LANE_TWOPASS, i) ? 1 : 0))
			violation("record %u: selected by %d of %u shards, "
			    "%s unsharded", i, n, h->o.shards,
			    lane_selected(h, LANE_TWOPASS, i) ? "and" : "not");
	}
}

/* Hold lane hl wrote exactly the records two-pass lane tl selected. */
static void
check_hold(const struct harness *h, int tl, int hl)
{
	const struct lane *t = &h->lane[tl], *k = &h->lane[hl];
	uint64_t n = 0, sum = 0;
	uint32_t i;

	if (k->st.packets_dropped > 0 || k->st.context_lost > 0 ||
	    t->st.context_lost > 0)
		return;
	for (i = 0; i < h->n; i++)
		if (engine_selected(t->e, t->serial[i])) {
			n++;
			sum += h->hash[i];
		}
	if (n != k->written || sum != k->written_sum)
		violation("%s selects %llu records, %s writes %llu%s",
		    t->name, (unsigned long long)n, k->name,
		    (unsigned long long)k->written,
		    n == k->written ? " (other records)" : "");
}

void
harness_finish(struct harness *h)
{
	uint32_t i, a;
	int l;

	if (h->finished)
		return;
	h->finished = true;
	for (l = 0; l < h->nlanes; l++) {
		struct lane *ln = &h->lane[l];

		engine_finish(ln->e);
		/* As flowgrep.c: aliases resolved in the order recorded. */
		for (a = 0; a < ln->aliases && a < HARNESS_ALIASES_MAX; a++)
			engine_resolve_alias(ln->e, ln->alias[a][0],
			    ln->alias[a][1]);
		if (ln->reports != ln->st.units_selected)
			violation("%s: %llu reports, %llu units selected",
			    ln->name, (unsigned long long)ln->reports,
			    (unsigned long long)ln->st.units_selected);
	}
	if (h->lane[LANE_TWOPASS].aliases > HARNESS_ALIASES_MAX ||
	    h->lane[LANE_TWOPASS_V].aliases > HARNESS_ALIASES_MAX)
		return;
	check_agreement(h);
	/* Context selects flows in both runs: no partition then. */
	if (h->o.context == 0)
		for (i = 0; i < h->n; i++)
			if (engine_selected(h->lane[LANE_TWOPASS].e,
			    h->lane[LANE_TWOPASS].serial[i]) ==
			    engine_selected(h->lane[LANE_TWOPASS_V].e,
			    h->lane[LANE_TWOPASS_V].serial[i]))
				violation("record %u (unit %#x / %#x) is "
				    "selected by %s", i,
				    h->lane[LANE_TWOPASS].serial[i],
				    h->lane[LANE_TWOPASS_V].serial[i],
				    harness_selected(h, i) ? "both runs" :
				    "neither run");
	check_hold(h, LANE_TWOPASS, LANE_HOLD);
	check_hold(h, LANE_TWOPASS_V, LANE_HOLD_V);
	check_shards(h);
}

uint32_t
harness_records(const struct harness *h)
{
	return h->n;
}

bool
harness_selected(const struct harness *h, uint32_t i)
{
	const struct lane *l = &h->lane[LANE_TWOPASS];

	return i < h->n && engine_selected(l->e, l->serial[i]);
}

void
harness_free(struct harness *h)
{
	int i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nlanes; i++)
		engine_free(h->lane[i].e);
	free(h);
}
