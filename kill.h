/* kill.h: RST packets that end TCP connections, injected or written to a file. */
#ifndef FLOWGREP_KILL_H
#define FLOWGREP_KILL_H

#include <stdbool.h>
#include <stdint.h>

#define KILL_ERRBUF_SIZE 512

enum kill_via {
	KILL_VIA_LINK,		/* frames on the capture interface */
	KILL_VIA_IP,		/* raw IP through the kernel's routing */
};

/*
 * A connection to kill, as the reassembler saw it. client_next is the next
 * sequence number the server expects from the client (and server_next the
 * reverse): RFC 5961 receivers accept a RST only with exactly that number.
 * link holds the link header of one observed frame (link_len bytes, sent by
 * the client when link_from_client, else by the server): frames built for the
 * link layer copy it, swapping addresses for the other direction.
 */
struct kill_target {
	uint64_t ts_ns;		/* when (for the dry-run file) */
	uint8_t ipver;
	const uint8_t *client_addr;
	const uint8_t *server_addr;
	uint16_t client_port;
	uint16_t server_port;
	uint32_t client_next;
	uint32_t server_next;
	bool client_next_known;
	bool server_next_known;
	int linktype;		/* of link */
	const uint8_t *link;
	uint32_t link_len;
	bool link_from_client;
};

struct killer;

/*
 * Opens injection on device (KILL_VIA_LINK) or a raw IP socket
 * (KILL_VIA_IP). Needs privileges: returns NULL with errbuf saying so.
 */
struct killer *killer_open(const char *device, enum kill_via via,
    char *errbuf);

/*
 * Instead of sending, writes each RST as a record of a pcap file at path:
 * Ethernet frames when via is KILL_VIA_LINK and the capture is Ethernet,
 * raw IP (LINKTYPE_RAW) otherwise.
 */
struct killer *killer_open_dry_run(const char *path, enum kill_via via,
    int capture_linktype, char *errbuf);

/*
 * Sends two RSTs: one to the server as if from the client (seq client_next,
 * ACK server_next) and one to the client as if from the server. A direction
 * whose next sequence number is unknown is skipped. Returns the number of
 * RSTs sent, or -1 with errbuf set.
 */
int killer_kill(struct killer *k, const struct kill_target *t, char *errbuf);

/* RSTs sent (or written) so far. */
uint64_t killer_sent(const struct killer *k);

/* Closes; for a dry run, flushes the file. Returns -1 on a write error. */
int killer_close(struct killer *k, char *errbuf);

#endif
