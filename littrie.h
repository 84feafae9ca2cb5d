/* littrie.h: which of many short literals may start near a subject's end. */
#ifndef FLOWGREP_LITTRIE_H
#define FLOWGREP_LITTRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A set of short literals, each with an id (several may share one), looked
 * up all at once near the end of a subject: an IOC list has dozens of
 * patterns starting "User-Agent: " or "GET /", and asking each whether its
 * literal starts in the last bytes of a feed costs a compare per pattern
 * and position, where one walk of a trie costs a compare per position.
 * A trie compares bytes exactly, or ASCII letters without case.
 */
struct littrie;

/* Literals are cut at this length. */
#define LITTRIE_LIT_MAX 64

/* An empty trie, caseless or not; NULL when out of memory. */
struct littrie *littrie_new(bool caseless);
void littrie_free(struct littrie *t);

/*
 * Adds literal lit (len bytes, 1 or more; cut at LITTRIE_LIT_MAX) under id
 * (0 or more). Returns -1 when out of memory (the trie is then unusable:
 * free it). After littrie_seal() nothing more may be added.
 */
int littrie_add(struct littrie *t, const uint8_t *lit, size_t len, int id);

/* Builds the lookup tables; -1 when out of memory. */
int littrie_seal(struct littrie *t);

/* Called with each id found; an id may come more than once. */
typedef void (*littrie_fn)(void *ctx, int id);

/*
 * Calls fn with the id of every literal L that may start at a position i
 * of subj in [from, len): subj[i..] starts with L, or subj[i..len) is a
 * prefix of L (the literal goes on past the end). Ids of a literal cut at
 * LITTRIE_LIT_MAX count as found when the cut part is.
 */
void littrie_tail(const struct littrie *t, const uint8_t *subj, size_t len,
    size_t from, littrie_fn fn, void *ctx);

/* Literals added, and trie nodes (for tests). */
size_t littrie_count(const struct littrie *t);
size_t littrie_nodes(const struct littrie *t);

#endif
