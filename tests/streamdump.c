/* streamdump.c: flowgrep's TCP streams of a capture, as canonical lines. */

/*
 * The flowgrep half of the differential test (tests/diff_nids.sh): runs the
 * engine over a capture with no patterns (so nothing is decided early) and
 * full_streams, and prints, sorted, one line per TCP flow and direction in
 * the form tests/nidsdump.c prints for libnids:
 *
 *	CLIENT_IP:PORT SERVER_IP:PORT DIR LENGTH SHA256[ gap@OFF][ vlan=ID[,ID]]
 *
 * DIR is c for the bytes the client sent, s for the server's. IPv6 endpoints
 * are written [addr]:port. The annotations follow the canonical part:
 *	gap@OFF		the direction had a gap; OFF is the number of bytes
 *			delivered before the first one
 *	vlan=...	the flow's VLAN IDs (libnids does not key on them)
 *
 * LENGTH and SHA256 cover every byte delivered, gaps skipped; with -p they
 * cover only the bytes before the first gap, which is what libnids delivers:
 * it never skips a hole, so data after one is never handed over.
 *
 * Usage: streamdump [-pv] [-o DIR] FILE
 *	-p	prefix mode: stop each direction at its first gap
 *	-v	the run's TCP counters and each flow's end, on stderr
 *	-o DIR	also write each direction's bytes (as counted) to
 *		DIR/CLIENT-SERVER-DIR, appending (port reuse)
 *
 * Exit status: 0 done, 1 usage, I/O or memory error, 2 the capture could
 * not be opened, 3 it is damaged (what came before the damage is printed).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "flow.h"
#include "match.h"
#include "pcapio.h"
#include "stats.h"

#include "sha256.h"

/* ---- flows ---- */

/* Serials index a table of flow states; more than this is not a test file. */
#define DUMP_MAX_SERIALS (64U * 1024 * 1024)
/* Lines are collected and sorted at the end. */
#define DUMP_LINE_MAX 256

struct dump_flow {
	char key[2 * (INET6_ADDRSTRLEN + 10) + 2];	/* "CLIENT SERVER" */
	char vlan[32];		/* " vlan=..." or "" */
	struct sha256 sha[2];	/* 0: client -> server, 1: server -> client */
	uint64_t len[2];	/* bytes hashed */
	bool gap[2];		/* a gap was seen */
	uint64_t gap_at[2];	/* bytes delivered before the first gap */
};

struct dump {
	struct dump_flow **flows;	/* by unit serial */
	size_t nflows;			/* slots in flows */
	char **lines;
	size_t nlines, linecap;
	bool prefix;			/* -p */
	bool verbose;			/* -v */
	const char *outdir;		/* -o */
	uint64_t untracked;		/* callbacks for serials past the cap */
	bool error;
};

static void
endpoint(char *buf, size_t size, const uint8_t *addr, uint16_t port,
    int ipver)
{
	char a[INET6_ADDRSTRLEN];

	if (ipver == 6) {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, (unsigned)port);
	} else {
		inet_ntop(AF_INET, addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, (unsigned)port);
	}
}

/*
 * Appends bytes to the -o file of a direction. The file is opened for each
 * write so that thousands of concurrent flows need no descriptor each.
 */
static void
dump_write(struct dump *d, const struct dump_flow *df, int dir,
    const uint8_t *p, uint32_t len)
{
	char path[4096], name[sizeof(df->key)];
	char *sp;
	FILE *fp;

	snprintf(name, sizeof(name), "%s", df->key);
	if ((sp = strchr(name, ' ')) != NULL)
		*sp = '-';
	snprintf(path, sizeof(path), "%s/%s-%c", d->outdir, name,
	    dir == 0 ? 'c' : 's');
	if ((fp = fopen(path, "ab")) == NULL) {
		if (!d->error)
			fprintf(stderr, "streamdump: %s: %s\n", path,
			    strerror(errno));
		d->error = true;
		return;
	}
	if (fwrite(p, 1, len, fp) != len)
		d->error = true;
	if (fclose(fp) != 0)
		d->error = true;
}

/* The state of TCP flow f, created on first sight; NULL for other flows. */
static struct dump_flow *
dump_flow_get(struct dump *d, const struct flow *f)
{
	struct dump_flow *df, **p;
	uint32_t serial = f->unit.serial;
	char c[INET6_ADDRSTRLEN + 10], s[INET6_ADDRSTRLEN + 10];
	size_t n;
	int dir, i, off;

	if (f->key.proto != IPPROTO_NUM_TCP)
		return NULL;
	if (serial >= DUMP_MAX_SERIALS) {
		d->untracked++;
		return NULL;
	}
	if (serial >= d->nflows) {
		n = d->nflows ? d->nflows : 1024;
		while (n <= serial)
			n *= 2;
		if ((p = realloc(d->flows, n * sizeof(*p))) == NULL) {
			d->error = true;
			return NULL;
		}
		memset(p + d->nflows, 0, (n - d->nflows) * sizeof(*p));
		d->flows = p;
		d->nflows = n;
	}
	if ((df = d->flows[serial]) != NULL)
		return df;
	if ((df = calloc(1, sizeof(*df))) == NULL) {
		d->error = true;
		return NULL;
	}
	endpoint(c, sizeof(c), flow_addr(f, 0), flow_port(f, 0), f->key.ipver);
	endpoint(s, sizeof(s), flow_addr(f, 1), flow_port(f, 1), f->key.ipver);
	snprintf(df->key, sizeof(df->key), "%s %s", c, s);
	if (f->key.vlan_count > 0) {
		off = snprintf(df->vlan, sizeof(df->vlan), " vlan=");
		for (i = 0; i < f->key.vlan_count && i < 2; i++)
			off += snprintf(df->vlan + off, sizeof(df->vlan) - off,
			    "%s%u", i > 0 ? "," : "", (unsigned)f->key.vlan[i]);
	}
	for (dir = 0; dir < 2; dir++)
		sha256_init(&df->sha[dir]);
	d->flows[serial] = df;
	return df;
}

static void
on_stream(void *ctx, const struct flow *f, int dir, const uint8_t *p,
    uint32_t len)
{
	struct dump *d = ctx;
	struct dump_flow *df = dump_flow_get(d, f);

	if (df == NULL || dir < 0 || dir > 1)
		return;
	/* In prefix mode a direction's bytes stop at its first gap. */
	if (d->prefix && df->gap[dir])
		return;
	sha256_update(&df->sha[dir], p, len);
	df->len[dir] += len;
	if (d->outdir != NULL && len > 0)
		dump_write(d, df, dir, p, len);
}

static void
on_gap(void *ctx, const struct flow *f, int dir, uint32_t len)
{
	struct dump *d = ctx;
	struct dump_flow *df = dump_flow_get(d, f);

	(void)len;
	if (df == NULL || dir < 0 || dir > 1 || df->gap[dir])
		return;
	df->gap[dir] = true;
	df->gap_at[dir] = df->len[dir];
}

static int
add_line(struct dump *d, char *line)
{
	char **p;
	size_t n;

	if (d->nlines == d->linecap) {
		n = d->linecap ? 2 * d->linecap : 256;
		if ((p = realloc(d->lines, n * sizeof(*p))) == NULL)
			return -1;
		d->lines = p;
		d->linecap = n;
	}
	d->lines[d->nlines++] = line;
	return 0;
}

/* Turns a flow's state into its two lines and frees it. */
static void
dump_flow_finish(struct dump *d, struct dump_flow *df)
{
	char hex[65], gap[32], *line;
	int dir;

	for (dir = 0; dir < 2; dir++) {
		sha256_hex(&df->sha[dir], hex);
		gap[0] = '\0';
		if (df->gap[dir])
			snprintf(gap, sizeof(gap), " gap@%llu",
			    (unsigned long long)df->gap_at[dir]);
		if ((line = malloc(DUMP_LINE_MAX)) == NULL) {
			d->error = true;
			continue;
		}
		snprintf(line, DUMP_LINE_MAX, "%s %c %llu %s%s%s", df->key,
		    dir == 0 ? 'c' : 's', (unsigned long long)df->len[dir],
		    hex, gap, df->vlan);
		if (add_line(d, line) == -1) {
			free(line);
			d->error = true;
		}
	}
	free(df);
}

static void
on_flow_end(void *ctx, const struct flow *f)
{
	struct dump *d = ctx;
	struct dump_flow *df;

	/* A flow that never carried a byte still gets its two lines. */
	if ((df = dump_flow_get(d, f)) == NULL)
		return;
	if (d->verbose)
		fprintf(stderr, "streamdump: %s ends (%s, %llu packets)\n",
		    df->key, f->state == FLOW_CLOSED ? "closed" : "open",
		    (unsigned long long)f->packets);
	dump_flow_finish(d, df);
	d->flows[f->unit.serial] = NULL;
}

/* The counters that explain a difference in reassembly. */
static void
print_counters(const struct stats *st)
{
	const struct {
		const char *name;
		uint64_t v;
	} c[] = {
		{ "packets_read", st->packets_read },
		{ "bad_ip", st->bad_ip },
		{ "bad_transport", st->bad_transport },
		{ "truncated_payload", st->truncated_payload },
		{ "fragments", st->fragments },
		{ "datagrams_reassembled", st->datagrams_reassembled },
		{ "datagrams_incomplete", st->datagrams_incomplete },
		{ "flows_tcp", st->flows_tcp },
		{ "flows_midstream", st->flows_midstream },
		{ "tcp_gaps", st->tcp_gaps },
		{ "tcp_gap_bytes", st->tcp_gap_bytes },
		{ "tcp_retransmitted_bytes", st->tcp_retransmitted_bytes },
		{ "overlap_conflicts", st->overlap_conflicts },
		{ "ooo_segments", st->ooo_segments },
		{ "ooo_cap_hits", st->ooo_cap_hits },
		{ "rst_ignored", st->rst_ignored },
		{ "rst_payload_bytes", st->rst_payload_bytes },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		fprintf(stderr, "streamdump: %s %llu\n", c[i].name,
		    (unsigned long long)c[i].v);
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
usage(void)
{
	fprintf(stderr, "usage: streamdump [-pv] [-o DIR] FILE\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	char errbuf[PCAPIO_ERRBUF_SIZE];
	struct engine_config cfg;
	struct dump d;
	struct stats st;
	struct pcapio_in *in;
	struct pcap_rec rec;
	struct engine *e;
	size_t i;
	int ch, r, status = 0;

	memset(&d, 0, sizeof(d));
	memset(&st, 0, sizeof(st));
	while ((ch = getopt(argc, argv, "o:pv")) != -1) {
		switch (ch) {
		case 'o':
			d.outdir = optarg;
			break;
		case 'p':
			d.prefix = true;
			break;
		case 'v':
			d.verbose = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();

	if ((in = pcapio_open(argv[optind], &st, errbuf)) == NULL) {
		fprintf(stderr, "streamdump: %s: %s\n", argv[optind], errbuf);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.linktype = pcapio_linktype(in);
	cfg.max_flows = 1000000;
	cfg.tcp_timeout_ns = 300ULL * 1000000000ULL;
	cfg.udp_timeout_ns = 60ULL * 1000000000ULL;
	cfg.hold_mem = 256U * 1024 * 1024;
	/* No patterns: no flow is decided before it ends. */
	cfg.ms = match_set_new();
	cfg.st = &st;
	cfg.stream = on_stream;
	cfg.stream_gap = on_gap;
	cfg.flow_end = on_flow_end;
	cfg.full_streams = true;
	cfg.ctx = &d;
	if (cfg.ms == NULL || (e = engine_new(&cfg)) == NULL) {
		fprintf(stderr, "streamdump: out of memory\n");
		return 1;
	}
	while ((r = pcapio_next(in, &rec, errbuf)) == 1)
		engine_packet(e, &rec);
	if (r == -1) {
		fprintf(stderr, "streamdump: %s: %s\n", argv[optind], errbuf);
		status = 3;
	}
	engine_finish(e);
	engine_free(e);
	match_set_free(cfg.ms);
	pcapio_close(in);

	/* Every flow should have ended in engine_finish(); say if not. */
	for (i = 0; i < d.nflows; i++)
		if (d.flows[i] != NULL) {
			fprintf(stderr, "streamdump: %s: no flow_end\n",
			    d.flows[i]->key);
			dump_flow_finish(&d, d.flows[i]);
		}
	free(d.flows);
	if (d.verbose)
		print_counters(&st);
	if (d.untracked > 0)
		fprintf(stderr, "streamdump: %llu callbacks past %u flows "
		    "ignored\n", (unsigned long long)d.untracked,
		    DUMP_MAX_SERIALS);

	if (d.nlines > 0)
		qsort(d.lines, d.nlines, sizeof(*d.lines), line_cmp);
	for (i = 0; i < d.nlines; i++) {
		puts(d.lines[i]);
		free(d.lines[i]);
	}
	free(d.lines);
	if (fflush(stdout) != 0)
		d.error = true;
	if (d.error) {
		fprintf(stderr, "streamdump: output or memory error\n");
		return 1;
	}
	return status;
}
