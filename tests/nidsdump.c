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

#include "sha256.h"

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
