/*
 * pipecat.c: the least a reader of a pipe can do, the floor under
 * flowgrep's time on standard input.
 *
 *   cat CAPTURE | pipecat
 *
 * Grows the pipe on standard input to 1 MiB, as flowgrep does
 * (pcapio.c, PCAPIO_PIPE_SIZE), then read()s it to its end into a reused
 * 1 MiB buffer and prints the bytes read. Nothing is decoded or kept.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BUF_SIZE ((size_t)1 << 20)

int
main(void)
{
	static char buf[BUF_SIZE];
	unsigned long long total = 0;
	ssize_t r;

	(void)fcntl(0, F_SETPIPE_SZ, (int)BUF_SIZE);
	while ((r = read(0, buf, sizeof(buf))) > 0)
		total += (unsigned long long)r;
	if (r < 0) {
		perror("pipecat: standard input");
		return 2;
	}
	printf("%llu bytes\n", total);
	return 0;
}
