/* decode.h: link, IP and transport headers into one packet view. */
#ifndef FLOWGREP_DECODE_H
#define FLOWGREP_DECODE_H

#include <stdint.h>

#include "stats.h"

#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum decode_status {
	DECODE_OK = 0,		/* keyed: IP with (for TCP/UDP) a whole header */
	DECODE_FRAGMENT,	/* an IP fragment: frag_* fields are set */
	DECODE_NOT_IP,		/* ARP, LLDP, ...: a unit of its own */
	DECODE_BAD_LINK,	/* link header truncated or link type unknown */
	DECODE_BAD_IP,		/* IP header truncated or invalid */
	DECODE_BAD_TRANSPORT,	/* TCP/UDP header truncated or invalid */
};

/*
 * A decoded packet: offsets into the record and fields read through checked
 * accessors. Addresses are 16 bytes; IPv4 uses the first 4, rest zero.
 * When IP headers are nested (IP-in-IP), the outer one is described and the
 * inner packet is the payload of protocol 4 or 41, as for any other protocol.
 */
struct pkt_view {
	enum decode_status status;
	uint16_t vlan[2];		/* outer first; 0 when absent */
	uint8_t vlan_count;
	uint8_t ipver;			/* 4 or 6; 0 if not IP */
	uint8_t proto;			/* after IPv6 extension headers */
	uint8_t src[16];
	uint8_t dst[16];
	const uint8_t *l3;		/* the IP header: what precedes is link */

	/* Fragments (status DECODE_FRAGMENT). */
	uint32_t frag_id;		/* IPv4: 16-bit ID; IPv6: 32-bit ID */
	uint32_t frag_offset;		/* bytes */
	uint8_t frag_more;		/* more fragments follow */
	const uint8_t *frag_data;	/* fragment payload as captured */
	uint32_t frag_len;		/* captured bytes of it */
	uint32_t frag_wire_len;		/* bytes the IP length says it has */

	/* Transport (status DECODE_OK). For other protocols ports are 0. */
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t tcp_flags;
	uint16_t window;
	int8_t wscale;			/* window scale option on a SYN; -1 none */

	/*
	 * The payload: TCP/UDP data, or the IP payload of other protocols.
	 * payload_len bytes are captured; payload_wire_len is what the headers
	 * say (larger when the snap length cut the packet).
	 */
	const uint8_t *payload;
	uint32_t payload_len;
	uint32_t payload_wire_len;
};

/*
 * Decodes a record of the given link type. Always fills v->status; on
 * DECODE_NOT_IP and the DECODE_BAD_* statuses the caller treats the packet as
 * a unit of its own. Counts failures in st (may be NULL). Allocates nothing.
 */
void decode_packet(int linktype, const uint8_t *data, uint32_t caplen,
    struct pkt_view *v, struct stats *st);

/*
 * Decodes the transport header of a reassembled IP datagram payload
 * (len captured bytes, wire_len declared) into v, whose network fields are
 * already set. Sets v->status to DECODE_OK or DECODE_BAD_TRANSPORT.
 */
void decode_transport(struct pkt_view *v, const uint8_t *l4, uint32_t len,
    uint32_t wire_len, struct stats *st);

/* True when a is the link type decode_packet understands. */
int decode_linktype_supported(int linktype);

#endif
