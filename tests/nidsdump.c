/* nidsdump.c: libnids' TCP streams of a capture, as canonical lines. */

/*
 * The reference half of the differential test (tests/diff_nids.sh): libnids
 * reassembles every IPv4 TCP connection whose handshake it sees, and this
 * prints, sorted, one line per connection and direction:
 *
 *	CLIENT_IP:PORT SERVER_IP:PORT DIR LENGTH SHA256
 *
 * DIR is c for the bytes the client sent and s for the server's; LENGTH and
 * SHA256 cover every byte libnids delivered for that direction. tests/
 * streamdump.c prints the same lines from flowgrep's own engine.
 *
 * What libnids 1.26 does, read from its src/tcp.c and src/libnids.c, which the
 * comparison has to allow for:
 *  - A connection exists only after a SYN (without ACK or RST), a SYN+ACK that
 *    acknowledges it and the client's ACK of that; payload on the SYN (TCP
 *    Fast Open) is never delivered. IPv4 only.
 *  - Data after a hole is queued and never delivered: libnids has no notion
 *    of a gap, so each direction is the bytes before its first hole. When
 *    the queue passes 64 KiB it is thrown away.
 *  - Bytes already delivered are never replaced (first wins), but queued
 *    out-of-order segments are delivered in sequence order, so where two
 *    of them overlap with different bytes the lower sequence number wins,
 *    whichever came first.
 *  - A segment is dropped unless it starts inside the receiver's last
 *    advertised window; segments older than the timestamp last seen are
 *    dropped (PAWS).
 *  - Any RST in that window ends the connection; its payload is dropped.
 *  - Bytes marked urgent (URG) are taken out of the stream and handed over
 *    separately. They are put back here, in sequence order, because
 *    flowgrep keeps them in the stream.
 *  - IP and TCP checksums are verified unless a nids_chksum_ctl rule says
 *    not to; one rule for 0.0.0.0/0 turns them off, as flowgrep does.
 *  - An IP packet shorter than its total length (cut by the snap length) is
 *    dropped whole. Ethernet frames are read as IPv4 (type 0x0800) or with
 *    one 802.1Q tag, whose inner type is not checked; VLAN IDs are not part
 *    of the key, and QinQ (0x88a8) frames are ignored.
 *  - Link types: Ethernet, NULL, raw IP, Linux SLL, PPP, Token Ring, FDDI,
 *    802.11; anything else (SLL2, LINKTYPE_IPV4) fails in nids_init().
 *  - At the end of the file, nids_run() calls nids_exit(), which reports each
 *    connection still open as NIDS_EXITING.
 *
 * Usage: nidsdump [-v] [-o DIR] FILE
 *	-v	reasons connections ended and libnids' warnings, on stderr
 *	-o DIR	also write each direction's bytes to DIR/CLIENT-SERVER-DIR
 *		(for finding the first differing byte)
 *
 * Exit status: 0 done, 1 usage or I/O error, 2 libnids could not open the
 * file, 3 link type libnids does not know.
 *
 * libnids hands its callbacks no context pointer, so the run's state is one
 * file-scope struct; this is a test tool, not a module.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nids.h>

/* ---- SHA-256 (FIPS 180-4), small and slow enough for test captures ---- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed */
	uint8_t buf[64];
	uint32_t fill;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
	s->fill = 0;
}

static void
sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + w[i - 7] +
		    (ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^
			(w[i - 15] >> 3)) +
		    (ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^
			(w[i - 2] >> 10));
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) +
		    ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		h = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void
sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
	size_t k;

	s->len += n;
	while (n > 0) {
		k = 64 - s->fill;
		if (k > n)
			k = n;
		memcpy(s->buf + s->fill, p, k);
		s->fill += k;
		p += k;
		n -= k;
		if (s->fill == 64) {
			sha256_block(s, s->buf);
			s->fill = 0;
		}
	}
}

/* Writes the 64 hex digits and a NUL to out; s is left finished. */
static void
sha256_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80;
	int i;

	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->fill != 56)
		sha256_update(s, &pad, 1);
	for (i = 7; i >= 0; i--) {
		pad = (uint8_t)(bits >> (8 * i));
		sha256_update(s, &pad, 1);
	}
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x",
		    (unsigned)(s->h[i / 4] >> (24 - 8 * (i % 4))) & 0xff);
}

/* ---- connections ---- */

/* Callback states by name, for -v. */
static const char *const nids_state_name[] = {
	"?", "just-established", "data", "close", "reset", "timed-out",
	"exiting",
};

struct conn {
	struct tuple4 addr;	/* source is the client */
	struct sha256 sha[2];	/* 0: client -> server, 1: server -> client */
	uint64_t len[2];
	int end;		/* NIDS_CLOSE...NIDS_EXITING; 0 while open */
	struct conn *next;
};

struct run {
	struct conn *conns;	/* every connection, newest first */
	size_t nconns;
	int verbose;
	const char *outdir;
	unsigned long warnings[16];	/* libnids warnings by type */
	int io_error;
};

static struct run run;

static void
endpoint(char *buf, size_t size, u_int addr, u_short port)
{
	char a[INET_ADDRSTRLEN];
	struct in_addr in;

	in.s_addr = addr;
	inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(buf, size, "%s:%u", a, (unsigned)port);
}

/*
 * Appends bytes to the -o file of a direction, opened for each write so that
 * many concurrent connections need no descriptor each. Port reuse gives two
 * connections one name: both are kept, in order.
 */
static void
dump_write(const struct tuple4 *t, int dir, const uint8_t *p, size_t n)
{
	char c[32], s[32], path[4096];
	FILE *fp;

	endpoint(c, sizeof(c), t->saddr, t->source);
	endpoint(s, sizeof(s), t->daddr, t->dest);
	snprintf(path, sizeof(path), "%s/%s-%s-%c", run.outdir, c, s,
	    dir == 0 ? 'c' : 's');
	if ((fp = fopen(path, "ab")) == NULL) {
		if (!run.io_error)
			fprintf(stderr, "nidsdump: %s: %s\n", path,
			    strerror(errno));
		run.io_error = 1;
		return;
	}
	if (fwrite(p, 1, n, fp) != n)
		run.io_error = 1;
	if (fclose(fp) != 0)
		run.io_error = 1;
}

static void
conn_add(struct conn *c, int dir, const uint8_t *p, size_t n)
{
	sha256_update(&c->sha[dir], p, n);
	c->len[dir] += n;
	if (run.outdir != NULL && n > 0)
		dump_write(&c->addr, dir, p, n);
}

/*
 * a_tcp->server is what the server receives, so its new bytes were sent by
 * the client; a_tcp->client holds what the server sent.
 */
static void
tcp_callback(struct tcp_stream *a_tcp, void **param)
{
	struct conn *c = *param;
	char cl[32], sv[32];
	int dir;

	switch (a_tcp->nids_state) {
	case NIDS_JUST_EST:
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			fprintf(stderr, "nidsdump: out of memory\n");
			exit(1);
		}
		c->addr = a_tcp->addr;
		for (dir = 0; dir < 2; dir++)
			sha256_init(&c->sha[dir]);
		c->next = run.conns;
		run.conns = c;
		run.nconns++;
		*param = c;
		a_tcp->client.collect++;
		a_tcp->server.collect++;
		a_tcp->client.collect_urg++;
		a_tcp->server.collect_urg++;
		return;
	case NIDS_DATA:
		/*
		 * An urgent byte comes in a call of its own, between the
		 * bytes before and after it (add_from_skb()); appending it
		 * here keeps sequence order.
		 */
		if (a_tcp->server.count_new_urg)
			conn_add(c, 0, &a_tcp->server.urgdata, 1);
		else if (a_tcp->client.count_new_urg)
			conn_add(c, 1, &a_tcp->client.urgdata, 1);
		else if (a_tcp->server.count_new)
			conn_add(c, 0, (const uint8_t *)a_tcp->server.data,
			    (size_t)a_tcp->server.count_new);
		else if (a_tcp->client.count_new)
			conn_add(c, 1, (const uint8_t *)a_tcp->client.data,
			    (size_t)a_tcp->client.count_new);
		return;
	case NIDS_CLOSE:
	case NIDS_RESET:
	case NIDS_TIMED_OUT:
	case NIDS_EXITING:
		if (c == NULL)
			return;
		c->end = a_tcp->nids_state;
		if (run.verbose) {
			endpoint(cl, sizeof(cl), c->addr.saddr, c->addr.source);
			endpoint(sv, sizeof(sv), c->addr.daddr, c->addr.dest);
			fprintf(stderr, "nidsdump: %s %s %s\n", cl, sv,
			    nids_state_name[c->end]);
		}
		/* Evictions happen only past n_tcp_streams: say so. */
		if (c->end == NIDS_TIMED_OUT)
			fprintf(stderr, "nidsdump: warning: a connection "
			    "was evicted (too many streams)\n");
		return;
	default:
		return;
	}
}

/* libnids' warnings are counted, not sent to syslog as by default. */
static void
nids_warn(int type, int errnum, struct ip *iph, void *data)
{
	(void)iph;
	(void)data;
	if (errnum >= 0 && errnum < 16)
		run.warnings[errnum]++;
	if (run.verbose)
		fprintf(stderr, "nidsdump: libnids warning %d: %s\n", type,
		    errnum >= 0 && errnum <= NIDS_WARN_TCP_BADFLAGS ?
			nids_warnings[errnum] : "?");
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints two sorted lines per connection; frees the connections. */
static int
print_conns(void)
{
	char **lines, cl[32], sv[32], hex[65];
	struct conn *c, *next;
	size_t n = 0, i;
	int dir;

	if ((lines = calloc(2 * run.nconns + 1, sizeof(*lines))) == NULL)
		return -1;
	for (c = run.conns; c != NULL; c = next) {
		next = c->next;
		endpoint(cl, sizeof(cl), c->addr.saddr, c->addr.source);
		endpoint(sv, sizeof(sv), c->addr.daddr, c->addr.dest);
		for (dir = 0; dir < 2; dir++) {
			sha256_hex(&c->sha[dir], hex);
			if (asprintf(&lines[n++], "%s %s %c %llu %s", cl, sv,
				dir == 0 ? 'c' : 's',
				(unsigned long long)c->len[dir], hex) < 0)
				return -1;
		}
		free(c);
	}
	qsort(lines, n, sizeof(*lines), line_cmp);
	for (i = 0; i < n; i++) {
		puts(lines[i]);
		free(lines[i]);
	}
	free(lines);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: nidsdump [-v] [-o DIR] FILE\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	/* One rule for 0.0.0.0/0: checksums are never verified. */
	static struct nids_chksum_ctl nochk = { 0, 0, NIDS_DONT_CHKSUM, 0 };
	int ch, i;

	while ((ch = getopt(argc, argv, "o:v")) != -1) {
		switch (ch) {
		case 'o':
			run.outdir = optarg;
			break;
		case 'v':
			run.verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();

	nids_params.filename = argv[optind];
	nids_params.device = NULL;
	nids_params.pcap_filter = NULL;
	/* Scan detection only logs; 0 turns it off. */
	nids_params.scan_num_hosts = 0;
	/*
	 * libnids evicts the oldest connection past 3/4 of n_tcp_streams
	 * (reported below as a warning); 2^16 is far above what a test
	 * capture holds and costs ~15 MB of preallocated table.
	 */
	nids_params.n_tcp_streams = 1 << 16;
	nids_params.one_loop_less = 0;
	nids_params.multiproc = 0;
	nids_params.syslog = nids_warn;
	nids_register_chksum_ctl(&nochk, 1);

	if (!nids_init()) {
		fprintf(stderr, "nidsdump: %s: %s\n", argv[optind],
		    nids_errbuf);
		return strcmp(nids_errbuf, "link type unknown") == 0 ? 3 : 2;
	}
	nids_register_tcp(tcp_callback);
	nids_run();
	/*
	 * nids_run() leaves "loop: " and libpcap's error in nids_errbuf: a
	 * damaged file was read up to the damage, as flowgrep reads it.
	 */
	if (strcmp(nids_errbuf, "loop: ") != 0)
		fprintf(stderr, "nidsdump: %s: %s\n", argv[optind],
		    nids_errbuf);
	if (run.verbose)
		for (i = 1; i <= NIDS_WARN_TCP_BADFLAGS; i++)
			if (run.warnings[i] > 0)
				fprintf(stderr, "nidsdump: %lu x %s\n",
				    run.warnings[i], nids_warnings[i]);
	if (print_conns() == -1) {
		fprintf(stderr, "nidsdump: out of memory\n");
		return 1;
	}
	if (fflush(stdout) != 0 || run.io_error) {
		fprintf(stderr, "nidsdump: write error\n");
		return 1;
	}
	return 0;
}
