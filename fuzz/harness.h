/* harness.h: runs records through four engines and checks what they agree on. */
#ifndef FLOWGREP_FUZZ_HARNESS_H
#define FLOWGREP_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "match.h"
#include "pcapio.h"

/*
 * Records one input may feed; past it the rest is ignored, so a harness run
 * stays small whatever the input holds.
 */
#define HARNESS_RECORDS_MAX 4096

/*
 * What a harness varies between inputs. The four engines share it: two-pass
 * (as flowgrep reads a regular file) normal and with -v, and hold mode (as
 * it reads a stream) normal and with -v.
 */
struct harness_opts {
	int linktype;
	struct match_set *ms;
	uint32_t max_flows;
	size_t hold_mem;
	uint32_t context;		/* -C N */
	bool full_streams;		/* the log engine's mode, with callbacks */
	uint64_t tcp_timeout_ns;
	uint64_t udp_timeout_ns;
	/*
	 * 2 or 3: also run the two-pass engine as --shard K/N for every K,
	 * whose selections must together be the unsharded one's (0: not).
	 */
	uint32_t shards;
};

struct harness;

/* Returns NULL when out of memory. */
struct harness *harness_new(const struct harness_opts *o);

/* Feeds one record to every engine; past HARNESS_RECORDS_MAX does nothing. */
void harness_packet(struct harness *h, const struct pcap_rec *rec);

/*
 * Ends the input and checks the properties flowgrep promises (DESIGN.md 5):
 * each record is selected by exactly one of a run and its -v run (without
 * context), hold mode writes exactly what two-pass mode selects (when it
 * dropped nothing), and the shards of --shard K/N together select what one
 * run does, each record once (without context or evictions, which depend
 * on what else a process sees). A violation prints what differs and
 * aborts, which libFuzzer reports as a crash.
 */
void harness_finish(struct harness *h);

/* Records fed, and whether record i was selected by the two-pass run. */
uint32_t harness_records(const struct harness *h);
bool harness_selected(const struct harness *h, uint32_t i);

void harness_free(struct harness *h);

/* FNV-1a over a record's header and data: what the checks compare. */
uint64_t harness_rec_hash(const struct pcap_rec *rec);

#endif
