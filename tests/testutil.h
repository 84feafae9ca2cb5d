/* testutil.h: small helpers shared by the Check tests. */
#ifndef FLOWGREP_TESTUTIL_H
#define FLOWGREP_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The shared corpus, as CI lays it out (../shared/corpus beside the clone);
 * FLOWGREP_CORPUS overrides it. Returns NULL when it is absent, and the test
 * then reports itself skipped.
 */
static inline const char *
test_corpus_dir(void)
{
	const char *d = getenv("FLOWGREP_CORPUS");

	if (d == NULL)
		d = "../shared/corpus";
	return access(d, R_OK | X_OK) == 0 ? d : NULL;
}

/* Joins the corpus directory and a file name into a static buffer. */
static inline const char *
test_corpus_file(const char *name)
{
	static char path[4096];
	const char *d = test_corpus_dir();

	if (d == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", d, name);
	return path;
}

#endif
