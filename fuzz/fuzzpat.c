/* fuzzpat.c: the fixed pattern sets the packet and capture harnesses match with. */
#include <stdlib.h>
#include <string.h>

#include "fuzzpat.h"

/*
 * Literals and regexes in each direction, chosen to reach every path of the
 * streaming matcher: anchors (^ at the stream start only), lookbehind (bytes
 * kept before a partial match), (?m), \b, a match that may span many
 * segments, NUL bytes, caseless matching, and unbounded patterns that
 * Vectorscan gates. The literals also occur in the
 * seeds (fuzz/mkseeds.sh) and dictionaries, so flows that match are common.
 */
static const struct {
	const char *text;
	size_t len;		/* 0: strlen */
	unsigned dirs;
} patterns[] = {
	{ "GET /", 0, MATCH_CLIENT | MATCH_SERVER },
	{ "^(EHLO|HELO) evil", 0, MATCH_CLIENT },
	{ "HTTP/1\\.[01] 500", 0, MATCH_SERVER },
	{ "secret-token", 0, MATCH_CLIENT | MATCH_SERVER },
	{ "(?i)passw(or)?d\\s*[:=]", 0, MATCH_CLIENT },
	{ "\\x00\\x01\\x02\\x03", 0, MATCH_CLIENT | MATCH_SERVER },
	{ "(?<=user=)admin", 0, MATCH_SERVER },
	{ "(?m)^X-Evil:", 0, MATCH_CLIENT | MATCH_SERVER },
	{ "\\bfoo\\d{2,4}bar\\b", 0, MATCH_CLIENT | MATCH_SERVER },
	{ "(?s)BEGIN.{0,100}END", 0, MATCH_CLIENT | MATCH_SERVER },
	{ "ab\0cd", 5, MATCH_SERVER },
	/* Unbounded: searched where Vectorscan finds their heads (gated). */
	{ "User-Agent: [A-Za-z]+/[0-9]+\\.", 0, MATCH_CLIENT },
	{ "(GET|POST) /[a-z_]*\\.(php|exe)", 0, MATCH_CLIENT | MATCH_SERVER },
};
#define NPATTERNS (sizeof(patterns) / sizeof(patterns[0]))

/* Indexed by empty * 2 + tight. */
struct fuzzpat {
	struct match_set *set[4];
};

struct fuzzpat *
fuzzpat_new(void)
{
	struct fuzzpat *fp = calloc(1, sizeof(*fp));
	char errbuf[MATCH_ERRBUF_SIZE];
	size_t i;
	int s;

	if (fp == NULL)
		return NULL;
	for (s = 0; s < 4; s++) {
		if ((fp->set[s] = match_set_new()) == NULL)
			goto fail;
		for (i = 0; i < NPATTERNS; i++)
			if (match_set_add(fp->set[s], patterns[i].text,
			    patterns[i].len ? patterns[i].len :
			    strlen(patterns[i].text), patterns[i].dirs, false,
			    "fuzz", errbuf) == -1)
				goto fail;
		if ((s & 2) && match_set_add(fp->set[s], "z*", 2,
		    MATCH_CLIENT | MATCH_SERVER, false, "fuzz", errbuf) == -1)
			goto fail;
		if (s & 1)
			match_set_limits(fp->set[s], 32, 300);
	}
	return fp;
fail:
	fuzzpat_free(fp);
	return NULL;
}

struct match_set *
fuzzpat_set(struct fuzzpat *fp, bool empty, bool tight)
{
	return fp->set[(empty ? 2 : 0) + (tight ? 1 : 0)];
}

void
fuzzpat_free(struct fuzzpat *fp)
{
	int s;

	if (fp == NULL)
		return;
	for (s = 0; s < 4; s++)
		match_set_free(fp->set[s]);
	free(fp);
}
