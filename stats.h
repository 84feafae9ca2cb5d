/* stats.h: the run's named counters, shared by every module that counts. */
#ifndef FLOWGREP_STATS_H
#define FLOWGREP_STATS_H

#include <stdint.h>

/*
 * One struct of plain counters. Each module is handed a pointer at creation
 * and only ever increments the counters it owns; report.c prints them.
 */
struct stats {
	/* pcapio */
	uint64_t packets_read;		/* records read (after the BPF filter) */
	uint64_t packets_filtered;	/* records the BPF filter rejected */
	uint64_t packets_written;
	uint64_t bytes_read;		/* captured bytes of records read */
	uint64_t other_linktype;	/* pcapng records on an interface of another link type */
	uint64_t kernel_drops;

	/* decode: per reason, packets that could not be keyed to a flow */
	uint64_t not_ip;
	uint64_t bad_link;		/* link header truncated or unknown */
	uint64_t bad_ip;		/* IP header truncated, bad version or length */
	uint64_t bad_transport;		/* TCP/UDP header truncated or invalid */
	uint64_t truncated_payload;	/* payload shorter than the IP length says */

	/* reasm: IP */
	uint64_t fragments;		/* IP fragments seen */
	uint64_t datagrams_reassembled;
	uint64_t datagrams_incomplete;	/* timed out, evicted or left at the end */
	uint64_t fragment_overlaps;
	uint64_t fragment_mem_evictions;

	/* reasm: TCP */
	uint64_t tcp_gaps;		/* gaps skipped */
	uint64_t tcp_gap_bytes;
	uint64_t tcp_retransmitted_bytes;
	uint64_t overlap_conflicts;	/* overlapping bytes that differed */
	uint64_t ooo_segments;		/* segments queued out of order */
	uint64_t ooo_cap_hits;		/* queue cap forced a gap skip */
	uint64_t rst_ignored;		/* RSTs outside the receiver's window */
	uint64_t rst_payload_bytes;	/* payload on RSTs, not part of the stream */
	uint64_t flows_outlived_rst;	/* data came after the RST that closed them */

	/* flow */
	uint64_t flows_tcp;
	uint64_t flows_udp;
	uint64_t flows_other;
	uint64_t flows_matched;
	uint64_t units_selected;	/* flows and single-packet units selected */
	uint64_t flows_selected;
	uint64_t flows_timed_out;
	uint64_t flows_evicted;		/* --max-flows forced an early end */
	uint64_t flows_midstream;	/* TCP flows picked up without a SYN */
	uint64_t single_units;		/* packets that are units of their own */
	uint64_t shard_skipped;		/* packets of other shards' flows */
	uint64_t flows_context;		/* selected as context (-A/-B/-C) */
	uint64_t context_lost;		/* context flows whose packets were gone */
	uint64_t flows_killed;
	uint64_t rst_sent;
	uint64_t log_files;
	uint64_t log_errors;

	/* held packets (stream input) */
	uint64_t packets_held;
	uint64_t packets_dropped;	/* held packets dropped past --hold-mem */
	uint64_t hold_peak_bytes;

	/* match */
	uint64_t window_overflows;	/* partial matches longer than --window */
	uint64_t depth_reached;		/* directions that reached --depth */
	uint64_t match_errors;		/* searches ended by a PCRE2 limit or error */
	uint64_t match_jit_fallbacks;	/* searches interpreted: JIT stack ran out */
	uint64_t pattern_db_loaded;	/* 1: the Vectorscan database came from the cache */
	uint64_t pattern_db_stored;	/* 1: it was compiled and stored in the cache */
};

#endif
