/* reasm.h: IPv4/IPv6 defragmentation and TCP byte-stream reassembly. */
#ifndef FLOWGREP_REASM_H
#define FLOWGREP_REASM_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "stats.h"

/* Wrap-safe TCP sequence comparisons (RFC 793 modular arithmetic). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* ---- IP defragmentation (RFC 791, RFC 8200 section 4.5) ---- */

/* A datagram would be done after this much capture time without completing. */
#define DEFRAG_TIMEOUT_NS (30ULL * 1000000000ULL)
/* All pending fragment data together; past it the oldest datagram goes. */
#define DEFRAG_MEM_MAX (64U * 1024 * 1024)
/* At most this many datagrams pending at once (fragment floods). */
#define DEFRAG_MAX_DATAGRAMS 65536

/*
 * A datagram being reassembled. owner is the caller's: the engine keeps the
 * unit its fragment packets belong to there. Once complete, view holds the
 * network fields of the first fragment (status DECODE_OK not yet decided) and
 * payload/payload_len the whole IP payload (transport header and data).
 */
struct defrag_dgram {
	void *owner;
	struct pkt_view view;
	const uint8_t *payload;
	uint32_t payload_len;
};

struct defrag;

/*
 * Called for a datagram that ends incomplete (timeout, memory cap, flush);
 * the datagram is freed when it returns.
 */
typedef void (*defrag_drop_fn)(void *ctx, struct defrag_dgram *dg);

struct defrag *defrag_new(struct stats *st, defrag_drop_fn drop, void *ctx);

/* Calls drop for every pending datagram, then frees everything. */
void defrag_free(struct defrag *d);

enum defrag_result {
	DEFRAG_PENDING,		/* stored; *dg is its datagram */
	DEFRAG_COMPLETE,	/* *dg is complete; call defrag_release after use */
	DEFRAG_INVALID,		/* not storable (bad offset/length): a unit of its own */
};

/*
 * Adds the fragment v (status DECODE_FRAGMENT) seen at ts_ns. Overlapping
 * bytes keep what arrived first (counted in fragment_overlaps). May call drop
 * for older datagrams to respect the caps.
 */
enum defrag_result defrag_add(struct defrag *d, const struct pkt_view *v,
    uint64_t ts_ns, struct defrag_dgram **dg);

/* Frees a datagram returned complete by defrag_add. */
void defrag_release(struct defrag *d, struct defrag_dgram *dg);

/* Calls drop for every datagram older than DEFRAG_TIMEOUT_NS at now_ns. */
void defrag_expire(struct defrag *d, uint64_t now_ns);

/* ---- TCP reassembly ---- */

/* Out-of-order bytes one direction may queue before a gap is skipped. */
#define REASM_OOO_MAX_DIR (1U * 1024 * 1024)
/* Out-of-order bytes of all flows together. */
#define REASM_OOO_MAX_TOTAL (128U * 1024 * 1024)

/* tcp_half.flags */
#define TCPH_SEQ_KNOWN 0x01	/* next_seq is set (SYN or first data seen) */
#define TCPH_SYN 0x02
#define TCPH_FIN 0x04
#define TCPH_SENT 0x08		/* this side has sent a packet */
#define TCPH_ACKED 0x10		/* last_ack is valid */

struct reasm_ooo;

/* One direction of a connection, from the sender's side. */
struct tcp_half {
	uint32_t next_seq;	/* next byte to deliver */
	uint32_t snd_end;	/* highest seq + length sent */
	uint32_t last_ack;	/* latest ACK this side sent (of the other side) */
	uint32_t fin_seq;	/* sequence number of the FIN */
	uint32_t window;	/* last window this side advertised, unscaled */
	int8_t wscale;		/* from its SYN; -1 when not negotiated */
	uint8_t flags;
	struct reasm_ooo *ooo;	/* queued segments, sorted by seq */
	uint32_t ooo_bytes;
	uint64_t offset;	/* stream bytes delivered or skipped so far */
};

/* A connection: half[0] is the client's stream, half[1] the server's. */
struct tcp_conn {
	struct tcp_half half[2];
};

/* A segment as decode saw it. len bytes of data are captured of wire_len. */
struct tcp_seg {
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t window;
	int8_t wscale;
	const uint8_t *data;
	uint32_t len;
	uint32_t wire_len;
};

/*
 * Where reassembled bytes go: data() in stream order, gap() for bytes that
 * were never seen and are skipped. dir is 0 (client) or 1 (server).
 */
struct reasm_sink {
	void (*data)(void *ctx, int dir, const uint8_t *p, uint32_t len);
	void (*gap)(void *ctx, int dir, uint32_t len);
	void *ctx;
};

struct reasm_tcp;

struct reasm_tcp *reasm_tcp_new(struct stats *st);
void reasm_tcp_free(struct reasm_tcp *r);

enum reasm_tcp_event {
	REASM_TCP_OK,
	REASM_TCP_RST,		/* an in-window RST: the connection is over */
	REASM_TCP_CLOSED,	/* both directions have sent their FIN */
};

/*
 * Processes one segment sent in direction dir. Delivers through sink (NULL:
 * track sequence state only, keep no data) what becomes in order, skipping
 * gaps that the receiver's ACK proves lost or the queue cap forces. Payload
 * on a RST is never delivered; a RST outside the receiver's window is counted
 * in rst_ignored and has no effect (RFC 5961).
 */
enum reasm_tcp_event reasm_tcp_segment(struct reasm_tcp *r,
    struct tcp_conn *c, int dir, const struct tcp_seg *s,
    const struct reasm_sink *sink);

/* The flow ends: skips remaining gaps and delivers every queued byte. */
void reasm_tcp_flush(struct reasm_tcp *r, struct tcp_conn *c,
    const struct reasm_sink *sink);

/* Frees queued segments; c can then be discarded or reset. */
void reasm_tcp_release(struct reasm_tcp *r, struct tcp_conn *c);

/* Initialises c for a new connection. */
void reasm_tcp_init(struct tcp_conn *c);

#endif
