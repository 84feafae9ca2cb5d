/* littrie.c: which of many short literals may start near a subject's end. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "littrie.h"

#define NONE (-1)

struct node {
	int32_t child;		/* first child, or NONE */
	int32_t sibling;	/* next child of the parent, or NONE */
	uint8_t byte;		/* folded */
};

/* A literal's id noted at a node while adding (see littrie_seal()). */
struct note {
	int32_t node;
	int32_t id;
	uint8_t ends;		/* the literal ends here; else it goes on */
};

struct littrie {
	struct node *nodes;	/* nodes[0] is the root */
	size_t nnodes, nodes_cap;
	struct note *notes;
	size_t nnotes, notes_cap;
	size_t count;
	int32_t root[256];	/* the root's child per folded byte */
	/*
	 * After littrie_seal(): per node, ids of literals ending there, then
	 * ids of literals going on past it, in ids[off[2n] .. off[2n + 1])
	 * and ids[off[2n + 1] .. off[2n + 2]].
	 */
	int32_t *ids;
	size_t *off;
	int sealed;
	bool caseless;
};

static uint8_t
fold(const struct littrie *t, uint8_t c)
{
	return t->caseless && c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if ((q = realloc(*p, n * size)) == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

struct littrie *
littrie_new(bool caseless)
{
	struct littrie *t = calloc(1, sizeof(*t));
	int b;

	if (t == NULL)
		return NULL;
	t->caseless = caseless;
	for (b = 0; b < 256; b++)
		t->root[b] = NONE;
	if (grow((void **)&t->nodes, &t->nodes_cap, 1, sizeof(*t->nodes))) {
		free(t);
		return NULL;
	}
	t->nodes[0].child = t->nodes[0].sibling = NONE;
	t->nnodes = 1;
	return t;
}

void
littrie_free(struct littrie *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->notes);
	free(t->ids);
	free(t->off);
	free(t);
}

static int32_t
child_of(const struct littrie *t, int32_t n, uint8_t c)
{
	int32_t k;

	if (n == 0)
		return t->root[c];
	for (k = t->nodes[n].child; k != NONE; k = t->nodes[k].sibling)
		if (t->nodes[k].byte == c)
			return k;
	return NONE;
}

int
littrie_add(struct littrie *t, const uint8_t *lit, size_t len, int id)
{
	int32_t n = 0, k;
	size_t i;
	uint8_t c;

	if (t->sealed || len == 0 || id < 0)
		return -1;
	if (len > LITTRIE_LIT_MAX)
		len = LITTRIE_LIT_MAX;
	if (grow((void **)&t->notes, &t->notes_cap, t->nnotes + len,
	    sizeof(*t->notes)))
		return -1;
	for (i = 0; i < len; i++) {
		c = fold(t, lit[i]);
		if ((k = child_of(t, n, c)) == NONE) {
			if (grow((void **)&t->nodes, &t->nodes_cap,
			    t->nnodes + 1, sizeof(*t->nodes)))
				return -1;
			k = (int32_t)t->nnodes++;
			t->nodes[k].byte = c;
			t->nodes[k].child = NONE;
			if (n == 0) {
				t->nodes[k].sibling = NONE;
				t->root[c] = k;
			} else {
				t->nodes[k].sibling = t->nodes[n].child;
				t->nodes[n].child = k;
			}
		}
		n = k;
		t->notes[t->nnotes].node = n;
		t->notes[t->nnotes].id = id;
		t->notes[t->nnotes].ends = i + 1 == len;
		t->nnotes++;
	}
	t->count++;
	return 0;
}

int
littrie_seal(struct littrie *t)
{
	size_t i, nl = 2 * t->nnodes + 1, *pos;

	if (t->sealed)
		return 0;
	free(t->off);
	free(t->ids);
	t->ids = NULL;
	if ((t->off = calloc(nl, sizeof(*t->off))) == NULL ||
	    (t->ids = malloc((t->nnotes ? t->nnotes : 1) *
	    sizeof(*t->ids))) == NULL ||
	    (pos = malloc(nl * sizeof(*pos))) == NULL)
		return -1;
	/* Counted per list (node n: 2n ends, 2n + 1 goes on), then placed. */
	for (i = 0; i < t->nnotes; i++)
		t->off[2 * (size_t)t->notes[i].node +
		    (t->notes[i].ends ? 0 : 1) + 1]++;
	for (i = 1; i < nl; i++)
		t->off[i] += t->off[i - 1];
	memcpy(pos, t->off, nl * sizeof(*pos));
	for (i = 0; i < t->nnotes; i++)
		t->ids[pos[2 * (size_t)t->notes[i].node +
		    (t->notes[i].ends ? 0 : 1)]++] = t->notes[i].id;
	free(pos);
	free(t->notes);
	t->notes = NULL;
	t->nnotes = t->notes_cap = 0;
	t->sealed = 1;
	return 0;
}

static void
emit(const struct littrie *t, size_t list, littrie_fn fn, void *ctx)
{
	size_t k;

	for (k = t->off[list]; k < t->off[list + 1]; k++)
		fn(ctx, t->ids[k]);
}

void
littrie_tail(const struct littrie *t, const uint8_t *subj, size_t len,
    size_t from, littrie_fn fn, void *ctx)
{
	size_t i, k;
	int32_t n;

	if (!t->sealed)
		return;
	for (i = from; i < len; i++) {
		if ((n = t->root[fold(t, subj[i])]) == NONE)
			continue;
		for (k = i + 1;; k++) {
			emit(t, 2 * (size_t)n, fn, ctx);
			if (k == len) {
				emit(t, 2 * (size_t)n + 1, fn, ctx);
				break;
			}
			if ((n = child_of(t, n, fold(t, subj[k]))) == NONE)
				break;
		}
	}
}

size_t
littrie_count(const struct littrie *t)
{
	return t->count;
}

size_t
littrie_nodes(const struct littrie *t)
{
	return t->nnodes - 1;
}
