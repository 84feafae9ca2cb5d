/* matcher.h: matches flows' streams on a thread of its own. */
#ifndef FLOWGREP_MATCHER_H
#define FLOWGREP_MATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "match.h"
#include "stats.h"

/*
 * When pass 1 of a file only has to decide which flows match (no reports,
 * logs, context or kills wait on a verdict), the matching can run behind
 * the reassembly on another core. The engine queues each flow's stream
 * bytes, gaps, datagrams and its end, keyed by the flow's serial; the
 * matcher's thread owns the set and every flow's match state, feeds them in
 * queue order, and marks the serials that matched. A flow's verdict is
 * then known only after matcher_finish(), but the engine may ask at any
 * time whether a serial matched already, to stop queueing its bytes.
 *
 * The queue is a ring of MATCHER_RING_BYTES, so memory stays bounded: the
 * engine waits when the thread falls that far behind. (On the benchmark's
 * capture a 4 MiB ring was no faster.)
 */
#define MATCHER_RING_BYTES ((size_t)1 << 20)

struct matcher;

/*
 * Prepares ms and starts the thread; NULL when out of memory or when no
 * thread can be started (the caller then matches in line). From here until
 * matcher_finish() returns, only the thread touches ms (match_empty() and
 * match_set_pattern() excepted: they read what preparing fixed), and the
 * counts matching makes (errors, overflows, depth) wait to be added to st.
 */
struct matcher *matcher_new(struct match_set *ms, struct stats *st);
/*
 * Whether the thread is behind: more than half the queue waits for it (the
 * engine would soon wait for room).
 */
bool matcher_behind(const struct matcher *m);
/* Stream bytes of direction dir of flow serial, in stream order. */
void matcher_data(struct matcher *m, uint32_t serial, int dir,
    const uint8_t *p, uint32_t len);
/* len stream bytes of direction dir that were never seen. */
void matcher_gap(struct matcher *m, uint32_t serial, int dir, uint32_t len);
/* A datagram's payload, matched alone (match_datagram()). */
void matcher_datagram(struct matcher *m, uint32_t serial, int dir,
    const uint8_t *p, uint32_t len);
/* Flow serial is over: its state goes. Nothing of it may follow. */
void matcher_end(struct matcher *m, uint32_t serial);
/* Whether serial matched in what the thread has matched so far. */
bool matcher_matched(const struct matcher *m, uint32_t serial);
/*
 * Waits until everything queued is matched, stops the thread and adds its
 * counts to st. matcher_matched() is final from then on.
 */
void matcher_finish(struct matcher *m);
/* Frees m (finishing it first when needed); the set is the caller's again. */
void matcher_free(struct matcher *m);

#endif
