/* report.h: per-flow text lines and end-of-run statistics. */
#ifndef FLOWGREP_REPORT_H
#define FLOWGREP_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"
#include "stats.h"

/*
 * Writes one line for a selected unit:
 * TIME PROTO [vlan V[,V]] CLIENT -> SERVER DIR /PATTERN/ @OFFSET "EXCERPT"
 * or "... no-match" when it did not match (-v). nano prints nanoseconds.
 */
void report_line(FILE *out, const struct engine_report *r, bool nano);

/* Formats an address (4 or 16 bytes by ipver) into buf (at least 48 bytes). */
void report_addr(char *buf, size_t len, int ipver, const uint8_t *addr);

/*
 * Writes one JSON object on one line for a selected unit (--json), with
 * Suricata eve.json names where one exists: timestamp, proto, src_ip,
 * src_port, dest_ip, dest_port (the client as src), vlan, direction
 * ("to_server": the client stream), pattern, pattern_index, offset,
 * excerpt, context, packets, bytes, logged (the -l file names, given in
 * logged[0..nlogged)), killed. Valid JSON whatever bytes the packets hold.
 */
void report_json(FILE *out, const struct engine_report *r, bool nano,
    const char *const *logged, int nlogged);

/* The end-of-run statistics as one JSON object on one line. */
void report_stats_json(FILE *out, const struct stats *st);

/*
 * A progress line for a terminal, redrawn in place (starts with '\r', no
 * newline): bytes read of total, rate, flows, matches.
 */
void report_progress(FILE *out, uint64_t bytes, uint64_t total,
    double seconds, const struct stats *st);

/* Ends a progress line so later output starts on a clean line. */
void report_progress_end(FILE *out);

/* Writes the end-of-run statistics, each line starting with "flowgrep: ". */
void report_stats(FILE *out, const struct stats *st, bool stream_input);

#endif
