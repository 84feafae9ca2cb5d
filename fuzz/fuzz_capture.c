/* fuzz_capture.c: libFuzzer harness: a whole capture file through pcapio and the engine. */

/*
 * The input is a capture file (pcap or pcapng, any damage). It is written to
 * a memfd and opened by path (/proc/self/fd/N) with pcapio_open, as -r opens
 * a file, then read as flowgrep reads a regular file:
 *
 *   pass 1   every record into harness.c's four engines (two-pass and hold
 *            mode, each normal and -v), which check each other;
 *   pass 2   pcapio_rewind and the same records again, which must be
 *            identical; the selected ones written to a second memfd, by
 *            offset (pcapio_copy_records) for classic pcap, else record by
 *            record, and the output checked byte for byte.
 *
 * The size of the input picks the options, so that one file is always run
 * the same way: size & 3 is 0 defaults, 1 tight limits (3 flows, 4 KiB
 * held), 2 -C 1, 3 full streams; (size & 15) == 15 adds a pattern matching
 * the empty string; (size & 31) == 7 a BPF filter; a multiple of 3 runs the
 * two-pass engine as every shard of --shard K/2 (size / 3 even) or K/3 too.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzpat.h"
#include "harness.h"
#include "pcapio.h"
#include "stats.h"

#define FILTER "not arp and (tcp or udp or ip[6:2] & 0x3fff != 0 or ip6)"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzzpat *pats;
/* The input file and the output file, reused by every run. */
static int in_fd = -1;
static int out_fd = -1;

/* Where each record of pass 1 was, and its hash. */
static struct {
	uint64_t offset;
	uint32_t caplen;
	uint64_t hash;
} recs[HARNESS_RECORDS_MAX];

static void __attribute__((noreturn))
violation(const char *what, uint32_t i)
{
	fprintf(stderr, "fuzz_capture: property violated: %s (record %u)\n",
	    what, i);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((pats = fuzzpat_new()) == NULL)
		abort();
	in_fd = memfd_create("fuzz_capture_in", MFD_CLOEXEC);
	out_fd = memfd_create("fuzz_capture_out", MFD_CLOEXEC);
	if (in_fd < 0 || out_fd < 0)
		abort();
	return 0;
}

static void
check_errbuf(const char *errbuf, size_t size)
{
	if (memchr(errbuf, '\0', size) == NULL || errbuf[0] == '\0')
		violation("error without a message", 0);
}

/* The output memfd must hold exactly the file header and these records. */
static void
check_output(struct pcapio_in *in, const uint8_t *data, size_t size,
    const struct harness *h, uint32_t n, bool raw)
{
	uint8_t *got, *want, *w;
	off_t end = lseek(out_fd, 0, SEEK_END);
	size_t wlen = PCAPIO_FILE_HEADER_LEN;
	uint32_t i;

	for (i = 0; i < n; i++)
		if (harness_selected(h, i))
			wlen += PCAPIO_RECORD_HEADER_LEN + recs[i].caplen;
	if (end < 0 || (size_t)end != wlen)
		violation("output length", n);
	if (!raw)
		return;
	got = malloc(wlen);
	want = malloc(wlen);
	if (got == NULL || want == NULL)
		abort();
	if (pread(out_fd, got, wlen, 0) != (ssize_t)wlen)
		abort();
	memcpy(want, pcapio_file_header(in), PCAPIO_FILE_HEADER_LEN);
	w = want + PCAPIO_FILE_HEADER_LEN;
	for (i = 0; i < n; i++) {
		size_t rl = PCAPIO_RECORD_HEADER_LEN + recs[i].caplen;

		if (!harness_selected(h, i))
			continue;
		if (recs[i].offset > size || rl > size - recs[i].offset)
			violation("record offset outside the file", i);
		memcpy(w, data + recs[i].offset, rl);
		w += rl;
	}
	if (memcmp(got, want, wlen) != 0)
		violation("copied records differ from the input's", n);
	free(got);
	free(want);
}

/* Pass 2: the same records again, the selected ones written out. */
static void
pass2(struct pcapio_in *in, const uint8_t *data, size_t size,
    const struct harness *h, uint32_t n, struct stats *st)
{
	char errbuf[PCAPIO_ERRBUF_SIZE], path[64];
	struct pcapio_out *out;
	struct pcap_rec rec;
	bool raw = pcapio_raw_records(in);
	uint64_t off = 0, len = 0, k = 0;
	uint32_t i;

	if (ftruncate(out_fd, 0) == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", out_fd);
	if ((out = pcapio_out_open(path, in, false, st, errbuf)) == NULL) {
		check_errbuf(errbuf, sizeof(errbuf));
		violation("cannot open the output", 0);
	}
	if (raw) {
		/* As flowgrep.c's copy_selected: adjacent runs at once. */
		for (i = 0; i < n; i++) {
			if (!harness_selected(h, i))
				continue;
			if (k > 0 && recs[i].offset == off + len) {
				len += PCAPIO_RECORD_HEADER_LEN + recs[i].caplen;
				k++;
				continue;
			}
			if (k > 0 && pcapio_copy_records(in, out, off, len, k,
			    errbuf) == -1)
				violation("pcapio_copy_records failed", i);
			off = recs[i].offset;
			len = PCAPIO_RECORD_HEADER_LEN + recs[i].caplen;
			k = 1;
		}
		if (k > 0 && pcapio_copy_records(in, out, off, len, k,
		    errbuf) == -1)
			violation("pcapio_copy_records failed", n);
	} else {
		if (pcapio_rewind(in, errbuf) == -1)
			violation("pcapio_rewind failed", 0);
		for (i = 0; i < n; i++) {
			if (pcapio_next(in, &rec, errbuf) != 1)
				violation("pass 2 ends early", i);
			if (harness_rec_hash(&rec) != recs[i].hash ||
			    rec.index != i)
				violation("pass 2 reads another record", i);
			if (harness_selected(h, i) && pcapio_write(out, rec.hdr,
			    rec.data, rec.caplen) == -1)
				violation("pcapio_write failed", i);
		}
	}
	if (pcapio_out_close(out, errbuf) == -1)
		violation("pcapio_out_close failed", n);
	check_output(in, data, size, h, n, raw);

	/* A raw run did not read: check the rewind too. */
	if (raw) {
		if (pcapio_rewind(in, errbuf) == -1)
			violation("pcapio_rewind failed", 0);
		for (i = 0; i < n; i++)
			if (pcapio_next(in, &rec, errbuf) != 1 ||
			    harness_rec_hash(&rec) != recs[i].hash ||
			    rec.offset != recs[i].offset)
				violation("pass 2 reads another record", i);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[PCAPIO_ERRBUF_SIZE], path[64];
	struct harness_opts o;
	struct harness *h;
	struct pcapio_in *in;
	struct pcap_rec rec, copy;
	struct stats st;
	uint8_t *pkt;
	uint32_t n = 0;
	int r = 0;

	if (ftruncate(in_fd, 0) == -1 ||
	    (size > 0 && pwrite(in_fd, data, size, 0) != (ssize_t)size))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", in_fd);
	memset(&st, 0, sizeof(st));
	memset(errbuf, 0, sizeof(errbuf));
	if ((in = pcapio_open(path, &st, errbuf)) == NULL) {
		check_errbuf(errbuf, sizeof(errbuf));
		return 0;
	}
	if (!pcapio_rewindable(in))
		violation("a memfd is not rewindable", 0);
	if ((size & 31) == 7 && pcapio_set_filter(in, FILTER, errbuf) == -1)
		check_errbuf(errbuf, sizeof(errbuf));

	memset(&o, 0, sizeof(o));
	o.linktype = pcapio_linktype(in);
	o.ms = fuzzpat_set(pats, (size & 15) == 15, false);
	o.max_flows = (size & 3) == 1 ? 3 : 1000;
	o.hold_mem = (size & 3) == 1 ? 4096 : 64U * 1024 * 1024;
	o.context = (size & 3) == 2 ? 1 : 0;
	o.full_streams = (size & 3) == 3;
	o.tcp_timeout_ns = 300ULL * 1000000000ULL;
	o.udp_timeout_ns = 60ULL * 1000000000ULL;
	if (size % 3 == 0)
		o.shards = (size / 3) % 2 == 0 ? 2 : 3;
	if ((h = harness_new(&o)) == NULL) {
		pcapio_close(in);
		return 0;
	}
	while (n < HARNESS_RECORDS_MAX &&
	    (r = pcapio_next(in, &rec, errbuf)) == 1) {
		if (rec.caplen > PCAPIO_MAX_CAPLEN || rec.index != n)
			violation("record caplen or index", n);
		/* A copy of exactly its length, for ASan. */
		if ((pkt = malloc(rec.caplen)) == NULL && rec.caplen > 0)
			abort();
		if (rec.caplen > 0)
			memcpy(pkt, rec.data, rec.caplen);
		copy = rec;
		copy.data = pkt;
		recs[n].offset = rec.offset;
		recs[n].caplen = rec.caplen;
		recs[n].hash = harness_rec_hash(&rec);
		harness_packet(h, &copy);
		free(pkt);
		n++;
	}
	if (n < HARNESS_RECORDS_MAX && r == -1)
		check_errbuf(errbuf, sizeof(errbuf));
	harness_finish(h);
	pass2(in, data, size, h, n, &st);
	harness_free(h);
	pcapio_close(in);
	return 0;
}
