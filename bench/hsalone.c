/*
 * hsalone.c: Vectorscan alone over every TCP payload of a capture, the floor
 * under flowgrep's time for a pattern file.
 *
 *   hsalone PATTERNS CAPTURE
 *
 * Compiles PATTERNS (one per line, as flowgrep -f reads them) into one
 * block-mode database for the implementation flowgrep calls (SSE4.2 where
 * the processor has AVX2, see match.c's hs_runtime()), then read()s the
 * classic pcap CAPTURE into a reused 1 MiB buffer and scans the payload of
 * every TCP segment over Ethernet, 802.1Q, IPv4 and IPv6 (no flows, no
 * reassembly, no PCRE2). Prints the seconds it compiled and scanned, the
 * payload bytes and the matches.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE ((size_t)1 << 20)
#define PATTERNS_MAX 100000

typedef hs_error_t (*scan_fn)(const hs_database_t *, const char *,
    unsigned int, unsigned int, hs_scratch_t *, match_event_handler, void *);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	++*(unsigned long *)ctx;
	return 0;
}

/* The TCP payload of an Ethernet frame, or NULL. */
static const uint8_t *
tcp_payload(const uint8_t *p, uint32_t caplen, uint32_t *len)
{
	uint32_t off = 14, ip, tcp;
	unsigned type;

	if (caplen < off)
		return NULL;
	type = (unsigned)p[12] << 8 | p[13];
	while (type == 0x8100 && caplen >= off + 4) {
		type = (unsigned)p[off + 2] << 8 | p[off + 3];
		off += 4;
	}
	if (type == 0x0800 && caplen >= off + 20 && p[off + 9] == 6 &&
	    (p[off + 6] & 0x3f) == 0 && p[off + 7] == 0)	/* no fragment */
		ip = (uint32_t)(p[off] & 15) * 4;
	else if (type == 0x86dd && caplen >= off + 40 && p[off + 6] == 6)
		ip = 40;
	else
		return NULL;
	if (caplen < off + ip + 20)
		return NULL;
	tcp = (uint32_t)(p[off + ip + 12] >> 4) * 4;
	if (caplen <= off + ip + tcp)
		return NULL;
	*len = caplen - off - ip - tcp;
	return p + off + ip + tcp;
}

int
main(int argc, char **argv)
{
	static const char *exprs[PATTERNS_MAX];
	static unsigned flags[PATTERNS_MAX], ids[PATTERNS_MAX];
	hs_platform_info_t plat, *platp = NULL;
	hs_compile_error_t *err = NULL;
	hs_database_t *db = NULL;
	hs_scratch_t *scratch = NULL;
	scan_fn scan = hs_scan;
	unsigned long matches = 0;
	uint64_t bytes = 0;
	size_t have = 0, at, n = 0;
	uint8_t *buf = malloc(BUF_SIZE);
	char line[65536];
	double t0, t_compile, t_scan;
	ssize_t r;
	FILE *f;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: hsalone PATTERNS CAPTURE\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	while (n < PATTERNS_MAX && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		exprs[n] = strdup(line);
		ids[n] = (unsigned)n;
		n++;
	}
	fclose(f);
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") &&
	    hs_populate_platform(&plat) == HS_SUCCESS &&
	    dlsym(RTLD_DEFAULT, "corei7_hs_scan") != NULL) {
		*(void **)&scan = dlsym(RTLD_DEFAULT, "corei7_hs_scan");
		plat.cpu_features = 0;
		platp = &plat;
	}
	t0 = now();
	if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK,
	    platp, &db, &err) != HS_SUCCESS) {
		fprintf(stderr, "hsalone: pattern %d: %s\n", err->expression,
		    err->message);
		return 2;
	}
	t_compile = now() - t0;
	if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS || buf == NULL ||
	    (fd = open(argv[2], O_RDONLY)) == -1) {
		perror(argv[2]);
		return 2;
	}
	t0 = now();
	if ((r = read(fd, buf, BUF_SIZE)) < 24) {
		fprintf(stderr, "hsalone: %s: no pcap file header\n", argv[2]);
		return 2;
	}
	have = (size_t)r;
	at = 24;	/* past the file header */
	for (;;) {
		uint32_t caplen = 0, plen;
		const uint8_t *pl;

		if (have - at >= 16)
			caplen = buf[at + 8] | (uint32_t)buf[at + 9] << 8 |
			    (uint32_t)buf[at + 10] << 16 |
			    (uint32_t)buf[at + 11] << 24;
		if (have - at < 16 || have - at < 16 + (size_t)caplen) {
			memmove(buf, buf + at, have - at);
			have -= at;
			at = 0;
			r = read(fd, buf + have, BUF_SIZE - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			continue;
		}
		pl = tcp_payload(buf + at + 16, caplen, &plen);
		if (pl != NULL) {
			bytes += plen;
			scan(db, (const char *)pl, plen, 0, scratch, on_match,
			    &matches);
		}
		at += 16 + caplen;
	}
	t_scan = now() - t0;
	printf("%zu patterns: compile %.3f s, scan %.3f s, %llu payload bytes, "
	    "%lu matches\n", n, t_compile, t_scan, (unsigned long long)bytes,
	    matches);
	return 0;
}
