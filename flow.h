/* flow.h: the flow table, lifetimes, roles, verdicts and held packets. */
#ifndef FLOWGREP_FLOW_H
#define FLOWGREP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "match.h"
#include "pcapio.h"
#include "reasm.h"
#include "stats.h"

enum verdict {
	VERDICT_UNDECIDED = 0,
	VERDICT_MATCH,
	VERDICT_NOMATCH,
	/* Ended unmatched so far: the match thread decides (engine.c). */
	VERDICT_DEFERRED,
};

struct held_blk;

/*
 * What selection works on: a flow, a pending IP datagram's fragments, or a
 * single packet. serial numbers units in order of creation. A unit holding
 * packets is on its hold's list (hold_prev, hold_next) until it lets them
 * go; it must not be moved or freed before.
 */
struct unit {
	uint32_t serial;
	uint8_t verdict;	/* enum verdict */
	bool selected;
	bool pending;		/* not selected, but may still be as context */
	struct held_blk *held_head;	/* held packets, in arrival order */
	struct held_blk *held_tail;
	struct unit *hold_prev;
	struct unit *hold_next;
};

/* Both endpoints in a fixed order (the lower address/port first). */
struct flow_key {
	uint8_t addr[2][16];
	uint16_t port[2];
	uint16_t vlan[2];
	uint8_t vlan_count;
	uint8_t proto;
	uint8_t ipver;
};

enum flow_state {
	FLOW_OPEN = 0,
	FLOW_CLOSED,		/* FIN both ways: kept for stray packets */
	/*
	 * A RST in the window ended it, but its receiver may never have
	 * got it (an insertion): the packets that still come are matched.
	 */
	FLOW_RESET,
};

enum flow_end_reason {
	FLOW_END_TIMEOUT,
	FLOW_END_EVICTED,	/* --max-flows */
	FLOW_END_REUSED,	/* a SYN opened a new connection on the tuple */
	FLOW_END_FINISH,	/* end of input */
};

/*
 * The fields every packet's lookup reads come first, in one cache line
 * (flows are allocated line-aligned): the full hash, compared before the
 * key, and the key; then the flags every packet reads, in what is left of
 * it. The second line holds what every packet then updates.
 */
struct flow {
	struct flow *free_next;	/* on the table's list of flows to reuse */
	uint32_t hash;		/* of key, before masking to a slot */
	uint8_t client;		/* index in key of the client endpoint */
	uint8_t state;		/* enum flow_state */
	uint8_t list;		/* which lifetime list it is on */
	bool midstream;
	struct flow_key key;
	bool killed;
	bool outlived_rst;	/* data came after the RST that reset it */
	uint8_t match_where;	/* beside a match thread: enum match_where */
	uint64_t last_ts;
	struct flow *lprev;
	struct flow *lnext;
	struct unit unit;
	uint64_t packets;
	uint64_t bytes;		/* captured bytes of its packets */
	uint64_t first_ts;
	struct tcp_conn tcp;
	struct match_dir md[2];	/* per direction: 0 client, 1 server */
	struct match_hit hit;	/* valid when unit.verdict is VERDICT_MATCH */
	uint64_t decided_ts;
	/* -k: the link header of the latest frame, to address RSTs. */
	uint8_t link[32];
	uint8_t link_len;
	bool link_from_client;
};

/* Closed TCP flows stay this long (capture time) for their stray packets. */
#define FLOW_CLOSED_TIMEOUT_NS (10ULL * 1000000000ULL)

/*
 * Reset TCP flows stay this long after their last packet, undecided: a
 * connection whose endpoint never got the RST goes on within a round trip
 * or two. Anything later on the tuple is a new flow, picked up mid-stream.
 * Short, as held packets (stream input) wait for the decision.
 */
#define FLOW_RESET_TIMEOUT_NS (1ULL * 1000000000ULL)

struct flow_table;

/*
 * Called when a flow leaves the table; the flow is freed when it returns.
 * The callee decides an undecided flow and releases its state.
 */
typedef void (*flow_end_fn)(void *ctx, struct flow *f, enum flow_end_reason r);

struct flow_table *flow_table_new(uint32_t max_flows, uint64_t tcp_timeout_ns,
    uint64_t udp_timeout_ns, struct stats *st, flow_end_fn end, void *ctx);

/* Ends every flow (FLOW_END_FINISH), oldest activity first, and frees all. */
void flow_table_free(struct flow_table *t);

/*
 * Finds or creates the flow of v (status DECODE_OK) seen at ts. Sets *dir to
 * 0 when the sender is the client, 1 otherwise, and *created. A SYN without
 * ACK on a closed TCP flow ends it and opens a new one (port reuse). A new
 * flow's unit.serial is *next_serial, which is then incremented. May end
 * older flows through the callback (--max-flows). Returns NULL only when out
 * of memory.
 */
struct flow *flow_lookup(struct flow_table *t, const struct pkt_view *v,
    uint64_t ts, uint32_t *next_serial, int *dir, bool *created);

/* Marks a TCP flow closed; it lingers FLOW_CLOSED_TIMEOUT_NS. */
void flow_close(struct flow_table *t, struct flow *f);

/* Marks an open TCP flow reset; it lingers FLOW_RESET_TIMEOUT_NS. */
void flow_reset(struct flow_table *t, struct flow *f);

/*
 * Ends flows idle past their timeout at ts, the capture clock: a packet
 * older than the latest ts given here counts as activity at that ts.
 */
void flow_expire(struct flow_table *t, uint64_t ts);

/* Flows in the table now. */
uint32_t flow_count(const struct flow_table *t);

/* The address and port of the client (which 0) or server (which 1). */
const uint8_t *flow_addr(const struct flow *f, int which);
uint16_t flow_port(const struct flow *f, int which);

/*
 * Records a verdict on an undecided unit; returns whether the unit is now
 * selected (a match, or no match when invert).
 */
bool unit_decide(struct unit *u, enum verdict v, bool invert);

/* ---- held packets (stream input) ---- */

struct hold;

/*
 * A pool holding packets in at most max_bytes (their records and their
 * descriptors), cut into chunks; below four chunks of the smallest size it
 * holds nothing. Returns NULL when out of memory.
 */
struct hold *hold_new(size_t max_bytes, struct stats *st);

/* Frees the pool and its chunks; records pcapio read into them go too. */
void hold_free(struct hold *h);

/*
 * The pool's chunks as pcapio's input buffer (pcapio_set_chunks): returns a
 * free chunk of at least min bytes (its size in *size), or NULL when min is
 * over the chunk size or no chunk can be freed. A record read into a chunk
 * and held is held there, not copied. hold_input_done() gives a chunk back
 * once pcapio reads no more into it. Its pages may not be mapped yet: the
 * thread that reads into it maps them (pipefill.c), away from this one.
 */
uint8_t *hold_input_chunk(struct hold *h, size_t min, size_t *size);
void hold_input_done(struct hold *h, uint8_t *chunk);

/*
 * Holds a packet (its time, record header and data) for u: where it lies if
 * pcapio read it into the current input chunk (rec->raw_hdr), else a copy.
 * When no chunk is left, the sparsest are compacted, else the oldest held
 * packets of any unit are dropped, a chunk at a time, and counted in
 * packets_dropped. Returns -1 when the packet itself cannot be held (larger
 * than a chunk, no memory): it is counted as dropped too.
 */
int hold_add(struct hold *h, struct unit *u, const struct pcap_rec *rec);

/* Receives a packet to write: the record as read (index is not kept). */
typedef void (*hold_write_fn)(void *ctx, const struct pcap_rec *rec);

/* Passes u's held packets in order to fn (if not NULL), then frees them. */
void hold_release(struct hold *h, struct unit *u, hold_write_fn fn, void *ctx);

/*
 * At the end of input: detaches u's held packets, marking them to be written
 * (write) or not by hold_drain, which then keeps the input's order across units.
 */
void hold_detach(struct hold *h, struct unit *u, bool write);

/* Writes the detached packets marked for writing, in arrival order; frees all. */
void hold_drain(struct hold *h, hold_write_fn fn, void *ctx);

/* Moves from's held packets into to, keeping arrival order. */
void hold_merge(struct hold *h, struct unit *to, struct unit *from);

/* Bytes held now: the held records, headers and data. */
size_t hold_bytes(const struct hold *h);

/* How the pool works, for tests and measurements. */
struct hold_info {
	size_t chunk_size;
	uint32_t nchunks;		/* the budget's chunks */
	uint32_t chunks_in_use;
	uint32_t chunks_resident;	/* touched and not given back */
	size_t desc_bytes;		/* descriptor blocks and rev lists */
	uint64_t by_reference;		/* packets held where pcapio read them */
	uint64_t copied;		/* packets held as a copy */
	uint64_t compactions;
	uint64_t bytes_moved;		/* by compaction */
	uint64_t chunks_dropped;	/* chunks whose packets were dropped */
	uint64_t sweeps;		/* of dropped packets' descriptors */
	uint64_t given_back;		/* chunks whose pages were unmapped */
	uint64_t populated;		/* chunks mapped by one madvise */
};

void hold_get_info(const struct hold *h, struct hold_info *info);

#endif
