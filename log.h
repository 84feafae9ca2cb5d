/* log.h: -l payload files of selected flows, named after the flow; -x. */
#ifndef FLOWGREP_LOG_H
#define FLOWGREP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FLOWLOG_ERRBUF_SIZE 512
/* TIME-SRC-SPORT-DST-DPORT-PROTO with two IPv6 addresses fits in this. */
#define FLOWLOG_NAME_MAX 128

/* Which file of a flow: one sender of a TCP flow, or a whole UDP/IP flow. */
struct flowlog_key {
	uint64_t first_ts_ns;	/* the flow's first packet */
	uint8_t ipver;		/* 4 or 6 */
	uint8_t proto;
	const uint8_t *src;	/* the sender of these bytes (the client for UDP/IP) */
	const uint8_t *dst;
	uint16_t sport;
	uint16_t dport;
};

struct flowlog;

/*
 * Opens the log directory, which must exist and be writable: checked now,
 * before any packet is read. With paths not NULL, the path of each file
 * created is printed there on a line of its own (-x). Returns NULL with
 * errbuf set ("No such file or directory", "Permission denied", "not a
 * directory") on failure.
 */
struct flowlog *flowlog_open(const char *dir, FILE *paths, char *errbuf);

/* Closes every open file and the directory; NULL is ignored. */
void flowlog_close(struct flowlog *l);

/*
 * Writes the file name for k into buf: TIME-SRC-SPORT-DST-DPORT-PROTO, TIME
 * in whole seconds since the epoch, addresses in their canonical text form
 * (RFC 5952 for IPv6), PROTO "tcp", "udp" or the protocol number. Holds only
 * digits, letters, '.', ':' and '-': it can never leave the directory.
 * Returns the length, or -1 if len is too small.
 */
int flowlog_name(char *buf, size_t len, const struct flowlog_key *k);

/*
 * Appends len bytes to k's file, creating it if needed (relative to the
 * directory, never following a symbolic link). An existing file is appended
 * to, never truncated. Returns -1 with errbuf set on a write error.
 */
int flowlog_append(struct flowlog *l, const struct flowlog_key *k,
    const uint8_t *p, uint32_t len, char *errbuf);

/* Files created so far. */
uint64_t flowlog_files(const struct flowlog *l);

#endif
