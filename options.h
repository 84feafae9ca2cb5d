/* options.h: flowgrep's command line, parsed and checked. */
#ifndef FLOWGREP_OPTIONS_H
#define FLOWGREP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kill.h"

#define EXIT_SELECTED 0
#define EXIT_NONE 1
#define EXIT_TROUBLE 2

/* A pattern as given, compiled once every option (-i) is known. */
struct pattern_arg {
	char *text;
	size_t len;
	unsigned dirs;		/* MATCH_CLIENT | MATCH_SERVER */
	char *origin;		/* "-a", "-f FILE:LINE" for errors */
};

/* --match-thread: whether a second thread matches (flowgrep.c). */
enum match_thread {
	MATCH_THREAD_AUTO,
	MATCH_THREAD_ALWAYS,
	MATCH_THREAD_NEVER
};

struct options {
	const char *read_path;		/* -r; NULL: see device */
	const char *device;		/* -d; NULL with no -r: stdin or default */
	const char *write_path;		/* -w */
	const char *log_dir;		/* -l */
	const char *kill_dry_run;	/* --kill-dry-run */
	const char *user;		/* -u, default "nobody" */
	struct pattern_arg *patterns;
	size_t npatterns;
	bool caseless;
	bool invert;
	bool unbuffered;
	bool quiet;
	bool json;
	bool stats_json;
	bool kill;			/* -k or --kill-dry-run */
	enum kill_via kill_via;
	bool print_paths;		/* -x */
	bool promisc;
	bool no_sandbox;		/* --no-sandbox */
	const char *pattern_cache;	/* --pattern-cache; NULL: default */
	bool no_pattern_cache;		/* --no-pattern-cache */
	enum match_thread match_thread;	/* --match-thread */
	uint32_t shard_index;		/* --shard K/N */
	uint32_t shard_count;		/* 0: no sharding */
	int fanout_group;		/* --fanout; -1: none */
	uint32_t context_after;		/* -A, -C */
	uint32_t context_before;	/* -B, -C */
	uint64_t depth;
	uint64_t window;
	uint64_t hold_mem;
	uint64_t max_flows;
	uint64_t tcp_timeout;		/* seconds */
	uint64_t udp_timeout;
	uint64_t snaplen;
	uint64_t buffer_kib;		/* --buffer-size, KiB */
	char *filter;			/* trailing words, joined */
};

/*
 * Parses argv into o. Prints a one-line error and exits with status 2 on a
 * bad option, value or combination; prints help or the version and exits 0.
 * Pattern files are read here.
 */
void options_parse(struct options *o, int argc, char **argv);

/* Frees what options_parse allocated. */
void options_free(struct options *o);

#endif
