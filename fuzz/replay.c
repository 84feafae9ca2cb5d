/* replay.c: runs a harness on saved inputs without libFuzzer, for make check. */

/*
 * Usage: replay_NAME FILE...
 *
 * Linked with one fuzz/fuzz_NAME.c in place of libFuzzer's main, with the
 * project's compiler and sanitizers (make SANITIZER=address check), so
 * that the regression inputs of fuzz/regress/ are replayed where clang is
 * not installed. A violated property aborts, as under libFuzzer.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs are small; a larger file is not one of ours. */
#define REPLAY_MAX (16 * 1024 * 1024)

int
main(int argc, char **argv)
{
	uint8_t *buf;
	size_t n;
	FILE *fp;
	int i;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if ((buf = malloc(REPLAY_MAX)) == NULL)
		err(1, "malloc");
	for (i = 1; i < argc; i++) {
		if ((fp = fopen(argv[i], "rb")) == NULL)
			err(1, "%s", argv[i]);
		n = fread(buf, 1, REPLAY_MAX, fp);
		if (ferror(fp))
			err(1, "%s", argv[i]);
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, n);
	}
	free(buf);
	return 0;
}
