/* fuzzpat.h: the fixed pattern sets the packet and capture harnesses match with. */
#ifndef FLOWGREP_FUZZ_FUZZPAT_H
#define FLOWGREP_FUZZ_FUZZPAT_H

#include <stdbool.h>

#include "match.h"

struct fuzzpat;

/* Compiles the sets; NULL if a pattern does not compile or out of memory. */
struct fuzzpat *fuzzpat_new(void);

/*
 * One of the sets: with a final pattern that matches the empty string
 * (selecting every flow at its first packet) or not, with --window 32
 * --depth 300 (tight) or the defaults.
 */
struct match_set *fuzzpat_set(struct fuzzpat *fp, bool empty, bool tight);

void fuzzpat_free(struct fuzzpat *fp);

#endif
