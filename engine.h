/* engine.h: the per-packet path: decode, reassemble, flow, match, verdict. */
#ifndef FLOWGREP_ENGINE_H
#define FLOWGREP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "match.h"
#include "pcapio.h"
#include "stats.h"

/*
 * Unit serials. Flows are numbered 0, 1, 2... in order of their first
 * packet (the order context counts in); pending IP datagrams have their own
 * numbers with UNIT_DGRAM set; single packets, decided as soon as they are
 * read, one of the two values at the top.
 */
#define UNIT_DGRAM 0x80000000U
#define UNIT_SINGLE_SELECTED 0xffffffffU
#define UNIT_SINGLE_REJECTED 0xfffffffeU
/* -A/-B/-C count at most this many flows. */
#define CONTEXT_MAX 100

/* A selected unit, as report.c prints it. */
struct engine_report {
	uint64_t ts_ns;		/* when it was decided */
	uint64_t first_ts_ns;	/* its first packet */
	bool is_flow;		/* false: a packet or fragments of its own */
	uint8_t proto;
	uint8_t ipver;		/* 0: not IP */
	const uint8_t *client_addr;
	const uint8_t *server_addr;
	uint16_t client_port;
	uint16_t server_port;
	uint16_t vlan[2];
	uint8_t vlan_count;
	bool matched;
	const struct match_hit *hit;	/* when matched */
	const char *pattern;		/* when matched */
	uint64_t packets;
	uint64_t bytes;
	bool context;		/* selected as context (-A/-B/-C), not by a match */
	bool killed;		/* -k sent RSTs for it */
};

struct engine_config {
	int linktype;
	bool invert;		/* -v */
	bool hold;		/* stream input: hold undecided flows' packets */
	uint32_t max_flows;
	uint64_t tcp_timeout_ns;
	uint64_t udp_timeout_ns;
	size_t hold_mem;
	struct match_set *ms;
	struct stats *st;
	/*
	 * --shard K/N: only flows whose engine_flow_hash() is K mod N are
	 * followed; the packets of others are skipped (shard_count 0: all).
	 */
	uint32_t shard_index;
	uint32_t shard_count;
	uint32_t context_after;	/* -A: flows that began after a selected one */
	uint32_t context_before;	/* -B */
	/* Writes a packet (hold mode only); may be NULL. */
	hold_write_fn write;
	/*
	 * -k: called when a TCP flow is selected by its verdict, and again for
	 * every later packet of it; flows then keep the link header of their
	 * latest frame. May be NULL.
	 */
	void (*kill)(void *ctx, struct flow *f, uint64_t ts_ns);
	/* Reports a unit as it is selected; may be NULL. */
	void (*report)(void *ctx, const struct engine_report *r);
	/* Two-pass mode: the unit of each packet read, in order; may be NULL. */
	void (*assign)(void *ctx, uint32_t serial);
	/* Two-pass mode: fragments of unit from now belong to unit to. */
	void (*alias)(void *ctx, uint32_t from, uint32_t to);
	/*
	 * Reassembled bytes of every TCP flow and every UDP/other payload, in
	 * stream order, dir 0 client and 1 server; gaps as stream_gap. With
	 * full_streams, flows keep being reassembled after their verdict
	 * (for logging and tests); otherwise reassembly stops at the verdict.
	 */
	void (*stream)(void *ctx, const struct flow *f, int dir,
	    const uint8_t *p, uint32_t len);
	void (*stream_gap)(void *ctx, const struct flow *f, int dir,
	    uint32_t len);
	/* A flow leaves the table (after its last stream bytes). */
	void (*flow_end)(void *ctx, const struct flow *f);
	bool full_streams;
	/*
	 * Two-pass mode with nothing else waiting on verdicts (no report,
	 * kill, context, hold or stream callbacks print or act on them):
	 * match on a thread of its own (matcher.c). Verdicts, and the counts
	 * of matched and selected flows, are then complete only after
	 * engine_finish(); flows the thread decides are not reported, and
	 * reports carry no hit.
	 */
	bool match_thread;
	/*
	 * Beside the thread, which flows the engine matches itself, with a
	 * clone of ms: those that start while the thread is behind (0), or
	 * every other flow (for tests).
	 */
	enum { MATCH_HERE_BEHIND, MATCH_HERE_ALTERNATE } match_here;
	void *ctx;
};

struct engine;

/*
 * A flow's hash for sharding: the same for both directions, computed from
 * bytes in network order (FNV-1a), so it is stable across runs, machines and
 * byte orders. Covers addresses, ports, protocol and VLAN IDs.
 */
uint64_t engine_flow_hash(const struct pkt_view *v);

/* Returns NULL when out of memory. cfg is copied. */
struct engine *engine_new(const struct engine_config *cfg);

/*
 * Stream input (hold mode): fills c so that pcapio reads into the hold
 * pool's chunks (pcapio_set_chunks) and held packets need no copy. Returns
 * false, leaving c alone, when the engine holds nothing.
 */
bool engine_input_chunks(struct engine *e, struct pcapio_chunks *c);

/* Processes one record. */
void engine_packet(struct engine *e, const struct pcap_rec *rec);

/* End of input: decides every undecided unit and writes what is held. */
void engine_finish(struct engine *e);

/* Whether unit serial was selected (after engine_finish). */
bool engine_selected(const struct engine *e, uint32_t serial);

/* Marks unit from selected when unit to is (two-pass alias resolution). */
void engine_resolve_alias(struct engine *e, uint32_t from, uint32_t to);

void engine_free(struct engine *e);

#endif
