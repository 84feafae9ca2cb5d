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

/* Writes the end-of-run statistics, each line starting with "flowgrep: ". */
void report_stats(FILE *out, const struct stats *st, bool stream_input);

#endif
