/* check_pcapio.c: pcap/pcapng input, damage, BPF, stdin, live, the writer. */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_tun.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libpcap is the oracle the records are compared with, nothing more. */
#include <pcap.h>

#include "pcapio.h"
#include "testutil.h"

#define NS 1000000000ULL

/* Returns from a test that needs the corpus when it is absent. */
#define NEED_CORPUS()                                                   \
	do {                                                            \
		if (test_corpus_dir() == NULL) {                        \
			printf("%.*s: skipped (no corpus)\n",          \
			    (int)strlen(__func__) - 3, __func__);       \
			return;                                         \
		}                                                       \
	} while (0)

/* ---- helpers ---- */

struct bytes {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static void
b_put(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
b_u16(struct bytes *b, uint16_t v, bool be)
{
	uint8_t x[2];

	if (be) {
		x[0] = (uint8_t)(v >> 8);
		x[1] = (uint8_t)v;
	} else {
		x[0] = (uint8_t)v;
		x[1] = (uint8_t)(v >> 8);
	}
	b_put(b, x, 2);
}

static void
b_u32(struct bytes *b, uint32_t v, bool be)
{
	b_u16(b, (uint16_t)(be ? v >> 16 : v), be);
	b_u16(b, (uint16_t)(be ? v : v >> 16), be);
}

static void
b_zero(struct bytes *b, size_t n)
{
	static const uint8_t z[64];

	while (n > 0) {
		size_t k = n < sizeof(z) ? n : sizeof(z);

		b_put(b, z, k);
		n -= k;
	}
}

/* Deterministic packet bytes. */
static void
b_pattern(struct bytes *b, size_t n, unsigned seed)
{
	size_t i, at = b->len;

	if (b->len + n > b->cap) {
		b->cap = b->len + n + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	for (i = 0; i < n; i++)
		b->p[at + i] = (uint8_t)(i * 7 + seed * 13);
	b->len += n;
}

static void
pcap_hdr(struct bytes *b, bool be, bool nano, uint16_t major, uint16_t minor,
    uint32_t snaplen, uint32_t ltfield)
{
	b_u32(b, nano ? 0xa1b23c4dU : 0xa1b2c3d4U, be);
	b_u16(b, major, be);
	b_u16(b, minor, be);
	b_u32(b, 0, be);
	b_u32(b, 0, be);
	b_u32(b, snaplen, be);
	b_u32(b, ltfield, be);
}

static void
pcap_recd(struct bytes *b, bool be, uint32_t sec, uint32_t frac,
    uint32_t caplen, uint32_t wirelen, unsigned seed)
{
	b_u32(b, sec, be);
	b_u32(b, frac, be);
	b_u32(b, caplen, be);
	b_u32(b, wirelen, be);
	b_pattern(b, caplen, seed);
}

static char *
tmp_path(void)
{
	char *p = strdup("/tmp/check_pcapio.XXXXXX");
	int fd;

	ck_assert_ptr_nonnull(p);
	fd = mkstemp(p);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return p;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static uint8_t *
read_whole(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(read(fd, p, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*n = (size_t)sb.st_size;
	return p;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n-- > 0)
		h = (h ^ *c++) * 1099511628211ULL;
	return h;
}

/* The outcome of reading an input to its end. */
struct result {
	uint64_t n;
	int rc;
	char err[PCAPIO_ERRBUF_SIZE];
	uint64_t digest;
};

static void
result_init(struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->digest = 1469598103934665603ULL;
}

/* Counts a record read and adds what was read of it to the digest. */
static void
result_add(struct result *r, const struct pcap_rec *rec)
{
	r->n++;
	r->digest = fnv(r->digest, rec->hdr, sizeof(rec->hdr));
	r->digest = fnv(r->digest, rec->data, rec->caplen);
	r->digest = fnv(r->digest, &rec->ts_ns, sizeof(rec->ts_ns));
	r->digest = fnv(r->digest, &rec->wirelen, sizeof(rec->wirelen));
}

/* r read every record want did, with no error. */
#define ASSERT_SAME_RECORDS(r, want) do {			\
	ck_assert_int_eq((r).rc, 0);				\
	ck_assert_uint_eq((r).n, (want).n);			\
	ck_assert_uint_eq((r).digest, (want).digest);		\
} while (0)

static void
read_all(struct pcapio_in *in, struct result *r)
{
	struct pcap_rec rec;

	result_init(r);
	while ((r->rc = pcapio_next(in, &rec, r->err)) == 1) {
		ck_assert_uint_eq(rec.index, r->n);
		result_add(r, &rec);
	}
}

/* Opens path (which must open) and reads it to the end. */
static void
read_path(const char *path, struct stats *st, struct result *r)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in = pcapio_open(path, st, err);

	ck_assert_msg(in != NULL, "%s: %s", path, err);
	read_all(in, r);
	pcapio_close(in);
}

/* Expects pcapio_open to fail with exactly msg. */
static void
expect_open_error(const char *path, const char *msg)
{
	char err[PCAPIO_ERRBUF_SIZE] = "";
	struct pcapio_in *in = pcapio_open(path, NULL, err);

	ck_assert_msg(in == NULL, "%s opened", path);
	ck_assert_str_eq(err, msg);
}

static void
expect_bytes_open_error(const struct bytes *b, const char *msg)
{
	char *path = tmp_path();

	write_file(path, b->p, b->len);
	expect_open_error(path, msg);
	unlink(path);
	free(path);
}

/* ---- file headers and open errors ---- */

struct open_case {
	const char *name;
	bool be;
	uint16_t major;
	uint16_t minor;
	uint32_t ltfield;
	size_t cut;		/* 0: whole header */
	const char *err;	/* NULL: opens */
};

static const struct open_case open_cases[] = {
	{ "ok le", false, 2, 4, 1, 0, NULL },
	{ "ok be", true, 2, 4, 1, 0, NULL },
	{ "fcs bits allowed", false, 2, 4, 0x14000001U, 0, NULL },
	{ "major 1", false, 1, 0, 1, 0, "unsupported pcap version 1.0" },
	{ "major 3", true, 3, 2, 1, 0, "unsupported pcap version 3.2" },
	{ "reserved bits", false, 2, 4, 0x00010001U, 0,
	    "link type field has reserved bits set (0x00010001)" },
	{ "reserved bit 25", true, 2, 4, 0x02000071U, 0,
	    "link type field has reserved bits set (0x02000071)" },
	{ "cut 2", false, 2, 4, 1, 2, "file ends inside the pcap file header" },
	{ "cut 10", false, 2, 4, 1, 10,
	    "file ends inside the pcap file header" },
	{ "cut 23", true, 2, 4, 1, 23,
	    "file ends inside the pcap file header" },
};

START_TEST(test_open_header)
{
	const struct open_case *c = &open_cases[_i];
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct pcapio_in *in;
	char *path = tmp_path();

	pcap_hdr(&b, c->be, false, c->major, c->minor, 65535, c->ltfield);
	write_file(path, b.p, c->cut ? c->cut : b.len);
	in = pcapio_open(path, NULL, err);
	if (c->err != NULL) {
		ck_assert_msg(in == NULL, "%s", c->name);
		ck_assert_str_eq(err, c->err);
	} else {
		ck_assert_msg(in != NULL, "%s: %s", c->name, err);
		ck_assert_int_eq(pcapio_linktype(in),
		    (int)(c->ltfield & 0xffff));
		ck_assert_uint_eq(pcapio_snaplen(in), 65535);
		ck_assert_mem_eq(pcapio_file_header(in), b.p, 24);
		pcapio_close(in);
	}
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

START_TEST(test_open_misc_errors)
{
	struct bytes b = { 0 };
	char dir[] = "/tmp/check_pcapio.d.XXXXXX";

	expect_open_error("/nonexistent/x.pcap", "No such file or directory");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	expect_open_error(dir, "Is a directory");
	rmdir(dir);
	expect_bytes_open_error(&b, "file is empty");
	b_put(&b, "abc", 3);
	expect_bytes_open_error(&b, "not a pcap or pcapng file");
	b.len = 0;
	b_put(&b, "GET / HTTP/1.1\r\nHost: example\r\n\r\n", 33);
	expect_bytes_open_error(&b, "not a pcap or pcapng file");
	b.len = 0;
	b_put(&b, "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", 8);
	expect_bytes_open_error(&b,
	    "file ends inside the pcapng section header block");
	free(b.p);
}
END_TEST

/* ---- classic pcap records ---- */

/* Three records: plain, cut by the snap length, and caplen > wirelen. */
static void
build_three(struct bytes *b, bool be, bool nano, uint16_t minor)
{
	pcap_hdr(b, be, nano, 2, minor, 1600, 1);
	pcap_recd(b, be, 1000, nano ? 999999999 : 999999, 60, 60, 1);
	pcap_recd(b, be, 2000, 5, 100, 1500, 2);
	pcap_recd(b, be, 3000, 0, 70, 50, 3);
}

/* Variants: little/big endian times usec/nsec. */
START_TEST(test_pcap_variants)
{
	static const uint32_t rec_off[] = { 24, 24 + 16 + 60, 24 + 32 + 160 };
	static const uint32_t caplen[] = { 60, 100, 70 };
	static const uint32_t wirelen[] = { 60, 1500, 50 };
	bool be = _i & 1, nano = _i & 2;
	uint64_t ts[3];
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 }, d = { 0 };
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct pcap_rec rec;
	char *path = tmp_path();
	int k;

	ts[0] = 1000 * NS + (nano ? 999999999 : 999999000);
	ts[1] = 2000 * NS + (nano ? 5 : 5000);
	ts[2] = 3000 * NS;
	build_three(&b, be, nano, 4);
	write_file(path, b.p, b.len);
	in = pcapio_open(path, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_nano(in), nano);
	ck_assert_int_eq(pcapio_linktype(in), 1);
	ck_assert_uint_eq(pcapio_snaplen(in), 1600);
	ck_assert_int_eq(pcapio_rewindable(in), 1);
	ck_assert_mem_eq(pcapio_file_header(in), b.p, 24);
	for (k = 0; k < 3; k++) {
		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		ck_assert_uint_eq(rec.index, k);
		ck_assert_uint_eq(rec.ts_ns, ts[k]);
		ck_assert_uint_eq(rec.caplen, caplen[k]);
		ck_assert_uint_eq(rec.wirelen, wirelen[k]);
		/* The header is the file's own 16 bytes, in its byte order. */
		ck_assert_mem_eq(rec.hdr, b.p + rec_off[k], 16);
		d.len = 0;
		b_pattern(&d, caplen[k], (unsigned)k + 1);
		ck_assert_mem_eq(rec.data, d.p, caplen[k]);
	}
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	ck_assert_uint_eq(st.packets_read, 3);
	ck_assert_uint_eq(st.bytes_read, 230);
	pcapio_close(in);
	unlink(path);
	free(path);
	free(b.p);
	free(d.p);
}
END_TEST

/*
 * Files of versions 2.0-2.2 have caplen and len swapped; 2.3 files only
 * sometimes (swap when caplen > len), as libpcap reads them.
 */
START_TEST(test_pcap_lengths_swapped)
{
	static const struct {
		uint16_t minor;
		uint32_t f_cap, f_len;	/* as in the file */
		uint32_t caplen, wirelen;	/* as read */
	} c[] = {
		{ 2, 1500, 60, 60, 1500 },
		{ 0, 1500, 60, 60, 1500 },
		{ 3, 1500, 60, 60, 1500 },
		{ 3, 60, 1500, 60, 1500 },
		{ 4, 60, 1500, 60, 1500 },
		{ 4, 70, 50, 70, 50 },
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcap_rec rec;
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct bytes b = { 0 };
		char *path = tmp_path();

		pcap_hdr(&b, false, false, 2, c[i].minor, 65535, 1);
		b_u32(&b, 1, false);
		b_u32(&b, 2, false);
		b_u32(&b, c[i].f_cap, false);
		b_u32(&b, c[i].f_len, false);
		b_pattern(&b, c[i].caplen, 0);
		write_file(path, b.p, b.len);
		in = pcapio_open(path, NULL, err);
		ck_assert_ptr_nonnull(in);
		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		ck_assert_uint_eq(rec.caplen, c[i].caplen);
		ck_assert_uint_eq(rec.wirelen, c[i].wirelen);
		ck_assert_mem_eq(rec.hdr, b.p + 24, 16);
		ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
		pcapio_close(in);
		unlink(path);
		free(path);
		free(b.p);
	}
}
END_TEST

/*
 * The largest record is max(snap length, PCAPIO_MAX_CAPLEN), the snap
 * length believed up to 16 MiB. Records larger than the 1 MiB read buffer
 * make it grow.
 */
START_TEST(test_pcap_caplen_limit)
{
	static const struct {
		uint32_t snaplen;
		uint32_t caplen;
		const char *err;
	} c[] = {
		{ 65535, 262144, NULL },
		{ 65535, 262145, "record 2 at byte offset 140: capture length "
		    "262145 exceeds the maximum 262144" },
		{ 0, 262145, "record 2 at byte offset 140: capture length "
		    "262145 exceeds the maximum 262144" },
		{ 300000, 300000, NULL },
		{ 300000, 300001, "record 2 at byte offset 140: capture length "
		    "300001 exceeds the maximum 300000" },
		{ 3000000, 2500000, NULL },
		{ 0xffffffffU, 16777216, NULL },
		{ 0xffffffffU, 16777217, "record 2 at byte offset 140: capture "
		    "length 16777217 exceeds the maximum 16777216" },
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcap_rec rec;
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct bytes b = { 0 }, d = { 0 };
		char *path = tmp_path();

		pcap_hdr(&b, false, false, 2, 4, c[i].snaplen, 1);
		pcap_recd(&b, false, 1, 0, 100, 100, 1);
		b_u32(&b, 2, false);
		b_u32(&b, 0, false);
		b_u32(&b, c[i].caplen, false);
		b_u32(&b, c[i].caplen, false);
		/* The data of a rejected record is never read: leave it out. */
		if (c[i].err == NULL)
			b_pattern(&b, c[i].caplen, 2);
		pcap_recd(&b, false, 3, 0, 10, 10, 3);
		write_file(path, b.p, b.len);
		in = pcapio_open(path, NULL, err);
		ck_assert_ptr_nonnull(in);
		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		if (c[i].err != NULL) {
			ck_assert_int_eq(pcapio_next(in, &rec, err), -1);
			ck_assert_str_eq(err, c[i].err);
			/* Damage is final. */
			err[0] = '\0';
			ck_assert_int_eq(pcapio_next(in, &rec, err), -1);
			ck_assert_str_eq(err, c[i].err);
		} else {
			ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
			ck_assert_uint_eq(rec.caplen, c[i].caplen);
			b_pattern(&d, c[i].caplen, 2);
			ck_assert_mem_eq(rec.data, d.p, c[i].caplen);
			ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
			ck_assert_uint_eq(rec.caplen, 10);
			ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
		}
		pcapio_close(in);
		unlink(path);
		free(path);
		free(b.p);
		free(d.p);
	}
}
END_TEST

/*
 * Cuts a file at offset cut (writing it to path) and checks that the
 * whole records before the cut are returned, then -1 (cut inside a record)
 * or 0 (cut at a record boundary), with the exact message. recs[] are the
 * record offsets; nrec of them, the last entry being the file length.
 */
static void
check_cut(const uint8_t *file, size_t len, const size_t *recs, size_t nrec,
    size_t cut, bool ng, const char *path)
{
	char err[PCAPIO_ERRBUF_SIZE], want[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct result r;
	size_t k;

	ck_assert_uint_le(cut, len);
	write_file(path, file, cut);
	in = pcapio_open(path, NULL, err);
	ck_assert_msg(in != NULL, "cut %zu: %s", cut, err);
	read_all(in, &r);
	pcapio_close(in);
	for (k = 0; k < nrec && recs[k + 1] <= cut; k++)
		;
	ck_assert_msg(r.n == k, "cut %zu: %" PRIu64 " records, want %zu", cut,
	    r.n, k);
	if (k == nrec || recs[k] == cut) {
		ck_assert_msg(r.rc == 0, "cut %zu: %s", cut, r.err);
		return;
	}
	ck_assert_int_eq(r.rc, -1);
	if (ng && cut - recs[k] < 4)
		snprintf(want, sizeof(want), "block at byte offset %zu: "
		    "file ends in the middle of a block (truncated capture)",
		    recs[k]);
	else
		snprintf(want, sizeof(want), "record %zu at byte offset %zu: "
		    "file ends in the middle of a record (truncated capture)",
		    k + 1, recs[k]);
	ck_assert_str_eq(r.err, want);
}

/* check_cut() at every offset from "from" to the end. */
static void
check_cuts(const uint8_t *file, size_t len, const size_t *recs, size_t nrec,
    size_t from, bool ng)
{
	char *path = tmp_path();
	size_t cut;

	for (cut = from; cut <= len; cut++)
		check_cut(file, len, recs, nrec, cut, ng, path);
	unlink(path);
	free(path);
}

START_TEST(test_pcap_truncated_synthetic)
{
	struct bytes b = { 0 };
	size_t recs[4] = { 24, 24 + 76, 24 + 76 + 116, 0 };

	build_three(&b, true, false, 4);
	recs[3] = b.len;
	check_cuts(b.p, b.len, recs, 3, 24, false);
	free(b.p);
}
END_TEST

/* ---- pcapng ---- */

static void
ng_block_begin(struct bytes *b, bool be, uint32_t type, size_t *at)
{
	*at = b->len;
	b_u32(b, type, be);
	b_u32(b, 0, be);	/* patched in ng_block_end */
}

static void
ng_block_end(struct bytes *b, bool be, size_t at)
{
	uint32_t len;
	struct bytes t = { 0 };

	while ((b->len - at) % 4 != 0)
		b_zero(b, 1);
	len = (uint32_t)(b->len - at + 4);
	b_u32(&t, len, be);
	memcpy(b->p + at + 4, t.p, 4);
	b_put(b, t.p, 4);
	free(t.p);
}

static void
ng_shb(struct bytes *b, bool be, uint16_t major, uint16_t minor)
{
	size_t at;

	ng_block_begin(b, be, 0x0a0d0d0aU, &at);
	b_u32(b, 0x1a2b3c4dU, be);
	b_u16(b, major, be);
	b_u16(b, minor, be);
	b_u32(b, 0xffffffffU, be);
	b_u32(b, 0xffffffffU, be);
	/* An shb_userappl option, then opt_endofopt. */
	b_u16(b, 4, be);
	b_u16(b, 5, be);
	b_put(b, "check\0\0\0", 8);
	b_u32(b, 0, be);
	ng_block_end(b, be, at);
}

/* tsresol < 0: no option; tsoff_set: an if_tsoffset option. */
static void
ng_idb(struct bytes *b, bool be, uint16_t lt, uint32_t snaplen, int tsresol,
    bool tsoff_set, int64_t tsoff)
{
	size_t at;

	ng_block_begin(b, be, 1, &at);
	b_u16(b, lt, be);
	b_u16(b, 0, be);
	b_u32(b, snaplen, be);
	b_u16(b, 2, be);	/* if_name */
	b_u16(b, 3, be);
	b_put(b, "eth\0", 4);
	if (tsresol >= 0) {
		uint8_t v = (uint8_t)tsresol;

		b_u16(b, 9, be);
		b_u16(b, 1, be);
		b_put(b, &v, 1);
		b_zero(b, 3);
	}
	if (tsoff_set) {
		b_u16(b, 14, be);
		b_u16(b, 8, be);
		b_u32(b, (uint32_t)((uint64_t)tsoff >> 32), be);
		b_u32(b, (uint32_t)tsoff, be);
	}
	b_u32(b, 0, be);
	ng_block_end(b, be, at);
}

static void
ng_epb(struct bytes *b, bool be, uint32_t ifid, uint64_t ts, uint32_t caplen,
    uint32_t wirelen, unsigned seed)
{
	size_t at;

	ng_block_begin(b, be, 6, &at);
	b_u32(b, ifid, be);
	b_u32(b, (uint32_t)(ts >> 32), be);
	b_u32(b, (uint32_t)ts, be);
	b_u32(b, caplen, be);
	b_u32(b, wirelen, be);
	b_pattern(b, caplen, seed);
	ng_block_end(b, be, at);
}

/* The obsolete Packet Block (type 2): 16-bit interface and drops count. */
static void
ng_pb(struct bytes *b, bool be, uint16_t ifid, uint64_t ts, uint32_t caplen,
    uint32_t wirelen, unsigned seed)
{
	size_t at;

	ng_block_begin(b, be, 2, &at);
	b_u16(b, ifid, be);
	b_u16(b, 0, be);
	b_u32(b, (uint32_t)(ts >> 32), be);
	b_u32(b, (uint32_t)ts, be);
	b_u32(b, caplen, be);
	b_u32(b, wirelen, be);
	b_pattern(b, caplen, seed);
	ng_block_end(b, be, at);
}

static void
ng_spb(struct bytes *b, bool be, uint32_t wirelen, uint32_t stored,
    unsigned seed)
{
	size_t at;

	ng_block_begin(b, be, 3, &at);
	b_u32(b, wirelen, be);
	b_pattern(b, stored, seed);
	ng_block_end(b, be, at);
}

static void
ng_other(struct bytes *b, bool be, uint32_t type, size_t bodylen)
{
	size_t at;

	ng_block_begin(b, be, type, &at);
	b_pattern(b, bodylen, 9);
	ng_block_end(b, be, at);
}

/*
 * Section 1 (little-endian): interface 0 SLL with ns resolution, interface
 * 1 Ethernet (default us); packets on 1, 0, 1; an SPB (interface 0, so
 * SLL: skipped); a name resolution block. Section 2 (big-endian): its own
 * interface 0 is Ethernet with 2^-20 s units and an offset of 100 s, one
 * EPB and one obsolete PB. Output: Ethernet in microseconds.
 */
static void
build_mixed(struct bytes *b)
{
	ng_shb(b, false, 1, 0);
	ng_idb(b, false, 113, 0, 9, false, 0);
	ng_idb(b, false, 1, 1514, -1, false, 0);
	ng_epb(b, false, 1, 1500000000ULL * 1000000 + 123456, 60, 60, 1);
	ng_epb(b, false, 0, 1500000001ULL * NS + 1, 44, 44, 2);
	ng_epb(b, false, 1, 1500000002ULL * 1000000 + 1, 70, 1400, 3);
	ng_spb(b, false, 64, 64, 4);
	ng_other(b, false, 4, 20);
	ng_shb(b, true, 1, 0);
	ng_other(b, true, 0x40000bad, 7);
	ng_idb(b, true, 1, 0, 0x80 | 20, true, 100);
	ng_epb(b, true, 0, (1600000000ULL << 20) + (1U << 19), 80, 80, 5);
	ng_pb(b, true, 0, (1600000001ULL << 20) + 1, 90, 90, 6);
}

START_TEST(test_pcapng_mixed)
{
	static const struct {
		uint64_t ts_ns;
		uint32_t caplen, wirelen, frac;
		unsigned seed;
	} want[] = {
		{ 1500000000ULL * NS + 123456000, 60, 60, 123456, 1 },
		{ 1500000002ULL * NS + 1000, 70, 1400, 1, 3 },
		{ 1600000100ULL * NS + 500000000, 80, 80, 500000, 5 },
		/* 1/2^20 s is 953.67 ns: truncated to 953 ns, then 0 us. */
		{ 1600000101ULL * NS + 953, 90, 90, 0, 6 },
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 }, d = { 0 };
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct pcap_rec rec;
	uint32_t f[4], h[6];
	char *path = tmp_path();
	size_t k;

	build_mixed(&b);
	write_file(path, b.p, b.len);
	in = pcapio_open(path, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_linktype(in), 1);
	ck_assert_int_eq(pcapio_nano(in), 0);
	ck_assert_uint_eq(pcapio_snaplen(in), 1514);
	/* A host-order classic header: usec magic, 2.4, snap, link type. */
	memcpy(h, pcapio_file_header(in), 24);
	ck_assert_uint_eq(h[0], 0xa1b2c3d4U);
	ck_assert_uint_eq(h[1], 2 | 4U << 16);
	ck_assert_uint_eq(h[2], 0);
	ck_assert_uint_eq(h[3], 0);
	ck_assert_uint_eq(h[4], 1514);
	ck_assert_uint_eq(h[5], 1);
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		ck_assert_uint_eq(rec.index, k);
		ck_assert_uint_eq(rec.ts_ns, want[k].ts_ns);
		ck_assert_uint_eq(rec.caplen, want[k].caplen);
		ck_assert_uint_eq(rec.wirelen, want[k].wirelen);
		memcpy(f, rec.hdr, 16);
		ck_assert_uint_eq(f[0], want[k].ts_ns / NS);
		ck_assert_uint_eq(f[1], want[k].frac);
		ck_assert_uint_eq(f[2], want[k].caplen);
		ck_assert_uint_eq(f[3], want[k].wirelen);
		d.len = 0;
		b_pattern(&d, want[k].caplen, want[k].seed);
		ck_assert_mem_eq(rec.data, d.p, want[k].caplen);
	}
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	ck_assert_uint_eq(st.other_linktype, 2);
	ck_assert_uint_eq(st.packets_read, 4);
	pcapio_close(in);
	unlink(path);
	free(path);
	free(b.p);
	free(d.p);
}
END_TEST

/*
 * Output parameters come from the interface of the first packet, else the
 * first interface; nanoseconds when that interface is finer than us.
 */
START_TEST(test_pcapng_output_interface)
{
	static const struct {
		int tsresol0, tsresol1;
		int first_if;		/* -1: no packets */
		bool nano;
		int linktype;
		uint32_t snaplen;
	} c[] = {
		{ 9, 6, 0, true, 113, 262144 },
		{ 9, 6, 1, false, 1, 9000 },
		{ 6, 0x80 | 20, 1, true, 1, 9000 },
		{ 6, 0x80 | 19, 1, false, 1, 9000 },
		{ 7, 6, -1, true, 113, 262144 },
		{ 3, 6, -1, false, 113, 262144 },
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct result r;
	uint32_t magic;
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct bytes b = { 0 };
		char *path = tmp_path();

		ng_shb(&b, i % 2, 1, 2);
		ng_idb(&b, i % 2, 113, 0, c[i].tsresol0, false, 0);
		ng_idb(&b, i % 2, 1, 9000, c[i].tsresol1, false, 0);
		if (c[i].first_if >= 0) {
			uint32_t f = (uint32_t)c[i].first_if;

			ng_epb(&b, i % 2, f, 5, 10, 10, 1);
			ng_epb(&b, i % 2, !f, 6, 10, 10, 2);
		}
		write_file(path, b.p, b.len);
		in = pcapio_open(path, NULL, err);
		ck_assert_msg(in != NULL, "%zu: %s", i, err);
		ck_assert_int_eq(pcapio_nano(in), c[i].nano);
		ck_assert_int_eq(pcapio_linktype(in), c[i].linktype);
		ck_assert_uint_eq(pcapio_snaplen(in), c[i].snaplen);
		memcpy(&magic, pcapio_file_header(in), 4);
		ck_assert_uint_eq(magic, c[i].nano ? 0xa1b23c4dU : 0xa1b2c3d4U);
		read_all(in, &r);
		ck_assert_int_eq(r.rc, 0);
		ck_assert_uint_eq(r.n, c[i].first_if >= 0 ? 1 : 0);
		pcapio_close(in);
		unlink(path);
		free(path);
		free(b.p);
	}
}
END_TEST

/* Damaged pcapng: the records before the damage, then exact messages. */
START_TEST(test_pcapng_damage)
{
	char err[PCAPIO_ERRBUF_SIZE], want[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct pcapio_in *in;
	struct result r;
	char *path = tmp_path();
	size_t mark;
	int kind;

	for (kind = 0; kind < 7; kind++) {
		b.len = 0;
		ng_shb(&b, false, 1, 0);
		ng_idb(&b, false, 1, 0, -1, false, 0);
		ng_epb(&b, false, 0, 1, 10, 10, 1);
		mark = b.len;
		switch (kind) {
		case 0:	/* unknown interface */
			ng_epb(&b, false, 3, 1, 10, 10, 1);
			snprintf(want, sizeof(want),
			    "record 2 at byte offset "
			    "%zu: packet on interface 3, which has no "
			    "interface description block", mark);
			break;
		case 1:	/* trailing length differs */
			ng_epb(&b, false, 0, 1, 10, 10, 1);
			b.p[b.len - 4] ^= 0x40;
			snprintf(want, sizeof(want),
			    "block at byte offset %zu: "
			    "trailing block length 108 differs from the "
			    "leading 44 (corrupt block)", mark);
			break;
		case 2:	/* capture length beyond the block */
			ng_epb(&b, false, 0, 1, 10, 10, 1);
			b.p[mark + 20] = 13;
			snprintf(want, sizeof(want),
			    "block at byte offset %zu: "
			    "capture length 13 does not fit in its block "
			    "(corrupt block)", mark);
			break;
		case 3:	/* absurd capture length */
			ng_epb(&b, false, 0, 1, 10, 10, 1);
			memcpy(b.p + mark + 20, "\x00\x00\xff\x00", 4);
			snprintf(want, sizeof(want),
			    "record 2 at byte offset "
			    "%zu: capture length 16711680 exceeds the maximum "
			    "262144", mark);
			break;
		case 4:	/* block length not a multiple of 4 */
			ng_epb(&b, false, 0, 1, 10, 10, 1);
			b.p[mark + 4] = 45;
			snprintf(want, sizeof(want),
			    "block at byte offset %zu: "
			    "invalid block length 45 (corrupt block)", mark);
			break;
		case 5:	/* an option running past its block */
			ng_idb(&b, false, 1, 0, 6, false, 0);
			/* The if_name option's length, at 16 + 2. */
			b.p[mark + 18] = 200;
			snprintf(want, sizeof(want),
			    "block at byte offset %zu: "
			    "option 2 of length 200 runs past the end of its "
			    "block (corrupt block)", mark);
			break;
		case 6:	/* a later section of an unknown version */
			ng_shb(&b, true, 2, 0);
			snprintf(want, sizeof(want),
			    "block at byte offset %zu: "
			    "unsupported pcapng version 2.0", mark);
			break;
		}
		write_file(path, b.p, b.len);
		in = pcapio_open(path, NULL, err);
		ck_assert_msg(in != NULL, "%d: %s", kind, err);
		read_all(in, &r);
		pcapio_close(in);
		ck_assert_uint_eq(r.n, 1);
		ck_assert_int_eq(r.rc, -1);
		ck_assert_str_eq(r.err, want);
	}
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

START_TEST(test_pcapng_open_errors)
{
	struct bytes b = { 0 };

	ng_shb(&b, false, 2, 0);
	expect_bytes_open_error(&b, "unsupported pcapng version 2.0");
	b.len = 0;
	ng_shb(&b, true, 0, 1);
	expect_bytes_open_error(&b, "unsupported pcapng version 0.1");
	b.len = 0;
	ng_shb(&b, false, 1, 0);
	expect_bytes_open_error(&b,
	    "pcapng file has no interface description block");
	b.p[8] = 0x99;
	expect_bytes_open_error(&b, "block at byte offset 0: section header "
	    "has a bad byte-order magic (corrupt block)");
	b.len = 0;
	ng_shb(&b, false, 1, 0);
	b.p[4] = 13;
	expect_bytes_open_error(&b,
	    "block at byte offset 0: invalid block length 13 (corrupt block)");
	/* Damage before any interface is described fails the open. */
	b.len = 0;
	ng_shb(&b, false, 1, 0);
	ng_idb(&b, false, 1, 0, 20, false, 0);
	expect_bytes_open_error(&b,
	    "block at byte offset 44: unsupported if_tsresol 0x14 (corrupt "
	    "block)");
	free(b.p);
}
END_TEST

START_TEST(test_pcapng_truncated_synthetic)
{
	struct bytes b = { 0 };
	size_t recs[4];

	ng_shb(&b, false, 1, 0);
	ng_idb(&b, false, 1, 0, -1, false, 0);
	recs[0] = b.len;
	ng_epb(&b, false, 0, 1, 33, 33, 1);
	recs[1] = b.len;
	ng_epb(&b, false, 0, 2, 40, 40, 2);
	recs[2] = b.len;
	ng_epb(&b, false, 0, 3, 1, 1, 3);
	recs[3] = b.len;
	check_cuts(b.p, b.len, recs, 3, recs[0], true);
	free(b.p);
}
END_TEST

/* ---- standard input, pipes, rewinding ---- */

/*
 * Forks a child that writes p to a pipe in chunks of chunk bytes, pausing
 * first_pause_us after the first and pause_us after each other. Returns the
 * read end.
 */
static int
pipe_feed(const uint8_t *p, size_t n, size_t chunk, unsigned first_pause_us,
    unsigned pause_us, pid_t *pid)
{
	int fds[2];
	size_t off;
	ssize_t w;

	ck_assert_int_eq(pipe(fds), 0);
	*pid = fork();
	ck_assert_int_ge(*pid, 0);
	if (*pid == 0) {
		close(fds[0]);
		for (off = 0; off < n; off += (size_t)w) {
			w = write(fds[1], p + off, n - off < chunk ? n - off :
			    chunk);
			if (w <= 0)
				_exit(1);
			if (off == 0 && first_pause_us)
				usleep(first_pause_us);
			else if (pause_us)
				usleep(pause_us);
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

static void
reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Makes fd standard input. pipe(2) may have handed out fd 0 itself when
 * standard input was closed.
 */
static void
make_stdin(int fd)
{
	if (fd == STDIN_FILENO)
		return;
	ck_assert_int_eq(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
}

/* Points standard input back at /dev/null. */
static void
reset_stdin(void)
{
	make_stdin(open("/dev/null", O_RDONLY));
}

/* Reads bytes through a pipe as standard input ("-") and as /dev/fd/N. */
static void
check_pipe(const uint8_t *p, size_t n, size_t chunk, const struct result *want)
{
	char err[PCAPIO_ERRBUF_SIZE], path[64];
	struct pcapio_in *in;
	struct result r;
	pid_t pid;
	int fd;

	fd = pipe_feed(p, n, chunk, 0, 0, &pid);
	make_stdin(fd);
	in = pcapio_open("-", NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_rewindable(in), 0);
	read_all(in, &r);
	ck_assert_int_eq(pcapio_rewind(in, err), -1);
	ck_assert_str_eq(err, "input cannot be read twice (not a regular "
	    "file)");
	pcapio_close(in);
	reap(pid);
	ck_assert_uint_eq(r.n, want->n);
	ck_assert_int_eq(r.rc, want->rc);
	ck_assert_uint_eq(r.digest, want->digest);
	reset_stdin();

	fd = pipe_feed(p, n, chunk, 0, 0, &pid);
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	in = pcapio_open(path, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	read_all(in, &r);
	pcapio_close(in);
	close(fd);
	reap(pid);
	ck_assert_uint_eq(r.n, want->n);
	ck_assert_uint_eq(r.digest, want->digest);
}

START_TEST(test_pipe_synthetic)
{
	static const size_t chunks[] = { 1, 3, 16, 4096, 1 << 20 };
	struct bytes b = { 0 };
	struct result want;
	char *path = tmp_path();
	size_t i;

	for (i = 0; i < 4; i++) {
		b.len = 0;
		if (i < 2)
			build_three(&b, i == 1, i == 1, 4);
		else
			build_mixed(&b);
		write_file(path, b.p, b.len);
		read_path(path, NULL, &want);
		ck_assert_int_eq(want.rc, 0);
		check_pipe(b.p, b.len, chunks[i], &want);
	}
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

/* A chunk provider for pcapio_set_chunks: four small chunks in turn. */
#define TEST_CHUNK 512
#define TEST_NCHUNKS 4

struct test_chunks {
	uint8_t mem[TEST_NCHUNKS][TEST_CHUNK];
	bool taken[TEST_NCHUNKS];
	int next;
	int gets;
	int puts;
	int refused;
};

static uint8_t *
test_chunk_get(void *ctx, size_t min, size_t *size)
{
	struct test_chunks *t = ctx;
	int i = t->next;

	if (min > TEST_CHUNK) {
		t->refused++;
		return NULL;
	}
	ck_assert(!t->taken[i]);
	t->taken[i] = true;
	t->next = (i + 1) % TEST_NCHUNKS;
	t->gets++;
	*size = TEST_CHUNK;
	return t->mem[i];
}

static void
test_chunk_put(void *ctx, uint8_t *chunk)
{
	struct test_chunks *t = ctx;
	int i = (int)((chunk - &t->mem[0][0]) / TEST_CHUNK);

	ck_assert_int_ge(i, 0);
	ck_assert_int_lt(i, TEST_NCHUNKS);
	ck_assert(chunk == t->mem[i] && t->taken[i]);
	t->taken[i] = false;
	t->puts++;
}

/*
 * A pipe read into a provider's chunks: the same records as from the file,
 * each that fits a chunk read into one, its header just before its data;
 * a record larger than a chunk goes through pcapio's own buffer.
 */
START_TEST(test_pipe_chunks)
{
	static const uint32_t sizes[] = { 60, 300, 100, 700, 40, 480, 1 };
	struct test_chunks t;
	struct pcapio_chunks ops = { test_chunk_get, test_chunk_put, &t };
	struct bytes b = { 0 };
	struct result want, r;
	struct pcap_rec rec;
	struct pcapio_in *in;
	char err[PCAPIO_ERRBUF_SIZE], *path = tmp_path();
	size_t at = PCAPIO_FILE_HEADER_LEN, len;
	int fds[2], i, in_chunk = 0, big = 0;

	memset(&t, 0, sizeof(t));
	pcap_hdr(&b, false, false, 2, 4, 1600, 1);
	for (i = 0; i < 70; i++)
		pcap_recd(&b, false, 1000 + (uint32_t)i, 0, sizes[i % 7],
		    sizes[i % 7], (unsigned)i);
	write_file(path, b.p, b.len);
	read_path(path, NULL, &want);
	ck_assert_uint_eq(want.n, 70);

	/*
	 * The test writes the pipe itself, one record before each read, so
	 * every read(2) returns exactly that record, however loaded the
	 * machine (a writer running ahead would fill the own buffer).
	 */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], b.p, at), (ssize_t)at);
	make_stdin(fds[0]);
	in = pcapio_open("-", NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	pcapio_set_chunks(in, &ops);
	ck_assert_int_eq(t.gets, 1);
	result_init(&r);
	for (i = 0;; i++) {
		bool inside;

		if (i < 70) {
			len = PCAPIO_RECORD_HEADER_LEN + sizes[i % 7];
			ck_assert_int_eq(write(fds[1], b.p + at, len),
			    (ssize_t)len);
			at += len;
		} else
			close(fds[1]);
		if ((r.rc = pcapio_next(in, &rec, r.err)) != 1)
			break;
		inside = rec.data >= &t.mem[0][0] &&
		    rec.data < &t.mem[0][0] + sizeof(t.mem);
		result_add(&r, &rec);
		ck_assert(rec.raw_hdr);
		ck_assert_mem_eq(rec.data - PCAPIO_RECORD_HEADER_LEN, rec.hdr,
		    PCAPIO_RECORD_HEADER_LEN);
		if (rec.caplen + PCAPIO_RECORD_HEADER_LEN > TEST_CHUNK) {
			ck_assert(!inside);
			big++;
		} else {
			/* Back in a chunk right after a big record. */
			ck_assert_msg(inside, "record %d", i);
			/* The whole record lies in one chunk. */
			ck_assert_uint_le((size_t)((rec.data - &t.mem[0][0]) %
			    TEST_CHUNK) + rec.caplen, TEST_CHUNK);
			in_chunk++;
		}
	}
	ck_assert_uint_eq(at, b.len);
	pcapio_close(in);
	reset_stdin();
	ASSERT_SAME_RECORDS(r, want);
	ck_assert_int_eq(big, 10);
	ck_assert_int_eq(in_chunk, 60);
	ck_assert_int_gt(t.refused, 0);
	/* Every chunk but the last was handed back. */
	ck_assert_int_eq(t.puts, t.gets - 1);
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

/*
 * A provider of chunks large enough for pcapio's reading thread
 * (pipefill.c): BIG_NCHUNKS of BIG_CHUNK bytes, refusing after `limit`
 * gets when limit is not 0. It notes the most chunks out at once.
 */
#define BIG_CHUNK ((size_t)256 << 10)
#define BIG_NCHUNKS 8

struct big_chunks {
	uint8_t *mem;
	bool taken[BIG_NCHUNKS];
	int gets;
	int puts;
	int limit;
	int most_out;
	/* The records read when each chunk was asked for. */
	const uint64_t *nread;
	uint64_t at[64];
};

static uint8_t *
big_chunk_get(void *ctx, size_t min, size_t *size)
{
	struct big_chunks *t = ctx;
	int i;

	if (min > BIG_CHUNK || (t->limit != 0 && t->gets >= t->limit))
		return NULL;
	for (i = 0; i < BIG_NCHUNKS && t->taken[i]; i++)
		;
	ck_assert_int_lt(i, BIG_NCHUNKS);
	t->taken[i] = true;
	if (t->gets < 64)
		t->at[t->gets] = *t->nread;
	t->gets++;
	if (t->gets - t->puts > t->most_out)
		t->most_out = t->gets - t->puts;
	*size = BIG_CHUNK;
	return t->mem + (size_t)i * BIG_CHUNK;
}

static void
big_chunk_put(void *ctx, uint8_t *chunk)
{
	struct big_chunks *t = ctx;
	size_t off = (size_t)(chunk - t->mem);
	int i = (int)(off / BIG_CHUNK);

	ck_assert(chunk >= t->mem && off % BIG_CHUNK == 0);
	ck_assert_int_lt(i, BIG_NCHUNKS);
	ck_assert(t->taken[i]);
	t->taken[i] = false;
	t->puts++;
}

/* Record sizes: most small, some over the thread's 16 KiB reserve. */
static uint32_t
thread_rec_size(int i)
{
	static const uint32_t sizes[] = { 60, 1500, 9000, 20000, 70, 1200,
	    5000, 16000 };

	return i % 97 == 50 ? 300000 : sizes[i % 8];
}

/*
 * A pipe read into large chunks, by the reading thread: the same records
 * as from the file, however the writer cuts its writes, with records that
 * lie in a chunk whole, chunks given ahead and handed back once, each
 * asked for after the same record whatever the writes (the pool drops
 * held packets to give one: which must not depend on timing). With a
 * provider that runs dry, reading goes on in the caller.
 */
START_TEST(test_pipe_chunks_thread)
{
	static const size_t writes[] = { 1 << 20, 4093, 65536 };
	static const int limits[] = { 0, 0, 5 };
	struct big_chunks t;
	struct pcapio_chunks ops = { big_chunk_get, big_chunk_put, &t };
	struct bytes b = { 0 };
	struct result want, r;
	struct pcap_rec rec;
	struct pcapio_in *in;
	char err[PCAPIO_ERRBUF_SIZE], *path = tmp_path();
	uint8_t *mem = aligned_alloc(4096, BIG_NCHUNKS * BIG_CHUNK);
	uint64_t first_at[64];
	int first_gets = 0;
	int c, i, inside, outside_late, n = 900;
	size_t at;
	pid_t pid;

	ck_assert_ptr_nonnull(mem);
	pcap_hdr(&b, false, false, 2, 4, 400000, 1);
	for (i = 0; i < n; i++)
		pcap_recd(&b, false, 1000 + (uint32_t)i, 0, thread_rec_size(i),
		    thread_rec_size(i), (unsigned)i);
	write_file(path, b.p, b.len);
	read_path(path, NULL, &want);
	ck_assert_uint_eq(want.n, (uint64_t)n);

	for (c = 0; c < 3; c++) {
		memset(&t, 0, sizeof(t));
		result_init(&r);
		t.mem = mem;
		t.limit = limits[c];
		t.nread = &r.n;
		make_stdin(pipe_feed(b.p, b.len, writes[c], 0, 0, &pid));
		in = pcapio_open("-", NULL, err);
		ck_assert_msg(in != NULL, "%s", err);
		pcapio_set_chunks(in, &ops);
		inside = outside_late = 0;
		at = PCAPIO_FILE_HEADER_LEN;
		while ((r.rc = pcapio_next(in, &rec, r.err)) == 1) {
			const uint8_t *h = rec.data - PCAPIO_RECORD_HEADER_LEN;
			size_t off = (size_t)(h - mem);
			bool late = at > ((size_t)3 << 19);

			result_add(&r, &rec);
			ck_assert(rec.raw_hdr);
			ck_assert_mem_eq(h, rec.hdr, PCAPIO_RECORD_HEADER_LEN);
			at += PCAPIO_RECORD_HEADER_LEN + rec.caplen;
			if (h < mem || off >= BIG_NCHUNKS * BIG_CHUNK) {
				if (late && rec.caplen < 300000)
					outside_late++;
				continue;
			}
			/* In a chunk, the whole record, in one taken. */
			ck_assert_uint_le(off % BIG_CHUNK +
			    PCAPIO_RECORD_HEADER_LEN + rec.caplen, BIG_CHUNK);
			ck_assert(t.taken[off / BIG_CHUNK]);
			ck_assert_uint_lt(rec.caplen, 300000);
			inside++;
		}
		pcapio_close(in);
		reap(pid);
		reset_stdin();
		ASSERT_SAME_RECORDS(r, want);
		/* The thread had chunks given ahead of the one read from. */
		ck_assert_int_ge(t.most_out, 3);
		ck_assert_int_le(t.most_out, 4);
		ck_assert_int_le(t.gets - t.puts, 4);
		if (t.limit == 0) {
			/*
			 * Past the first read (into pcapio's own buffer, up
			 * to 1 MiB), a record is copied only when it is over
			 * a chunk or a chunk's end cut it past the reserve:
			 * one a chunk at most. Each is read in place again.
			 */
			ck_assert_int_ge(inside, n / 2);
			ck_assert_int_le(outside_late, t.gets);
			ck_assert_int_ge(t.gets, (int)(b.len / BIG_CHUNK));
			if (c == 0) {
				first_gets = t.gets;
				memcpy(first_at, t.at, sizeof(first_at));
			} else {
				ck_assert_int_eq(t.gets, first_gets);
				ck_assert_int_le(t.gets, 64);
				for (i = 0; i < t.gets; i++)
					ck_assert_msg(t.at[i] == first_at[i],
					    "chunk %d: after record %" PRIu64
					    ", not %" PRIu64, i, t.at[i],
					    first_at[i]);
			}
		} else
			ck_assert_int_eq(t.gets, t.limit);
	}
	unlink(path);
	free(path);
	free(mem);
	free(b.p);
}
END_TEST

/*
 * A pipe read ahead into pcapio's own chunks (no provider): the same
 * records as from the file, with records cut past the reserve and larger
 * than a chunk, whatever the writes.
 */
START_TEST(test_pipe_read_ahead)
{
	static const size_t writes[] = { 1 << 20, 4093, 65537 };
	struct bytes b = { 0 };
	struct result want, r;
	struct pcapio_in *in;
	char err[PCAPIO_ERRBUF_SIZE], *path = tmp_path();
	int c, i, n = 600;
	pid_t pid;

	pcap_hdr(&b, false, false, 2, 4, 2000000, 1);
	for (i = 0; i < n; i++)
		pcap_recd(&b, false, 1000 + (uint32_t)i, 0,
		    i == 300 ? 1500000 : thread_rec_size(i),
		    thread_rec_size(i), (unsigned)i);
	write_file(path, b.p, b.len);
	read_path(path, NULL, &want);
	ck_assert_uint_eq(want.n, (uint64_t)n);
	for (c = 0; c < 3; c++) {
		make_stdin(pipe_feed(b.p, b.len, writes[c], 0, 0, &pid));
		in = pcapio_open("-", NULL, err);
		ck_assert_msg(in != NULL, "%s", err);
		pcapio_read_ahead(in);
		read_all(in, &r);
		pcapio_close(in);
		reap(pid);
		reset_stdin();
		ASSERT_SAME_RECORDS(r, want);
	}
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

static void
on_alarm(int sig)
{
	(void)sig;
}

/* Reads from a slow pipe while a timer interrupts read(2) with EINTR. */
START_TEST(test_pipe_eintr)
{
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	struct sigaction sa;
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct pcapio_in *in;
	struct result r;
	pid_t pid;
	int fd, k;

	pcap_hdr(&b, false, false, 2, 4, 65535, 1);
	for (k = 0; k < 40; k++)
		pcap_recd(&b, false, (uint32_t)k, 0, 50, 50, (unsigned)k);
	fd = pipe_feed(b.p, b.len, 23, 1000, 1000, &pid);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: read(2) gets EINTR */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	make_stdin(fd);
	in = pcapio_open("-", NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	read_all(in, &r);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	pcapio_close(in);
	reap(pid);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.n, 40);
	free(b.p);
}
END_TEST

/*
 * Standard input redirected from a file can be rewound; a second pass
 * yields the same records and does not count them again.
 */
START_TEST(test_stdin_file_rewind)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct result r1, r2;
	char *path = tmp_path();
	int k;

	for (k = 0; k < 2; k++) {
		b.len = 0;
		memset(&st, 0, sizeof(st));
		if (k == 0)
			build_three(&b, false, false, 4);
		else
			build_mixed(&b);
		write_file(path, b.p, b.len);
		make_stdin(open(path, O_RDONLY));
		in = pcapio_open("-", &st, err);
		ck_assert_msg(in != NULL, "%s", err);
		ck_assert_int_eq(pcapio_rewindable(in), 1);
		read_all(in, &r1);
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
		read_all(in, &r2);
		ck_assert_int_eq(r1.rc, 0);
		ck_assert_int_eq(r2.rc, 0);
		ck_assert_uint_eq(r1.n, r2.n);
		ck_assert_uint_eq(r1.digest, r2.digest);
		ck_assert_uint_eq(st.packets_read, r1.n);
		ck_assert_uint_eq(st.other_linktype, k == 0 ? 0 : 2);
		/* A rewind in the middle of a pass counts nothing twice. */
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
		ck_assert_int_eq(pcapio_next(in, &(struct pcap_rec){ 0 }, err),
		    1);
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
		read_all(in, &r2);
		ck_assert_uint_eq(r1.digest, r2.digest);
		ck_assert_uint_eq(st.packets_read, r1.n);
		pcapio_close(in);
		reset_stdin();
	}
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

/*
 * A file larger than pcapio's buffer is read ahead by a second thread in
 * blocks of 1 MiB: records cut by a block's end, records longer than the
 * reserve the cut part is copied into (260 KiB) and longer than a block,
 * damage past the first block, and a rewind mid-pass must read exactly as
 * the same bytes read through a pipe (one thread, no blocks).
 */
START_TEST(test_readahead_synthetic)
{
	static const uint32_t big[] = { 0, 1, 60, 1514, 9000, 65535, 262144,
	    266223, 266224, 266225, 270000, 1048576, 1048577, 1500000, 37 };
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct pcap_rec rec;
	struct result want, r;
	char *path = tmp_path();
	uint32_t sizes[4000];
	size_t cuts[5], i, n = 0, k;

	pcap_hdr(&b, false, false, 2, 4, 2U << 20, 1);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
			sizes[n++] = big[i];
		/* Small records end blocks at every offset of a header. */
		for (i = 0; i < 1500; i++)
			sizes[n++] = (uint32_t)((i * 37 + k * 11) % 1601);
	}
	for (i = 0; i < n; i++)
		pcap_recd(&b, false, (uint32_t)i, 0, sizes[i], sizes[i] + 1,
		    (unsigned)i);
	ck_assert_uint_gt(b.len, 5U << 20);
	write_file(path, b.p, b.len);

	read_path(path, &st, &want);
	ck_assert_int_eq(want.rc, 0);
	ck_assert_uint_eq(want.n, n);
	ck_assert_uint_eq(st.packets_read, n);
	check_pipe(b.p, b.len, 1 << 20, &want);

	/* Each record's length and bytes, as written. */
	in = pcapio_open(path, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	for (i = 0; i < n; i++) {
		struct bytes e = { 0 };

		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		ck_assert_uint_eq(rec.caplen, sizes[i]);
		ck_assert_uint_eq(rec.wirelen, sizes[i] + 1);
		ck_assert_uint_eq(rec.ts_ns, (uint64_t)i * NS);
		b_pattern(&e, sizes[i], (unsigned)i);
		if (sizes[i] > 0)
			ck_assert_mem_eq(rec.data, e.p, sizes[i]);
		free(e.p);
		/* Rewound mid-pass, twice, the pass starts over. */
		if (i == 1700 || i == 1800) {
			ck_assert_int_eq(pcapio_rewind(in, err), 0);
			read_all(in, &r);
			ASSERT_SAME_RECORDS(r, want);
			ck_assert_int_eq(pcapio_rewind(in, err), 0);
			for (k = 0; k <= i; k++)
				ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		}
	}
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	pcapio_close(in);

	/* Cut inside a long record, inside headers, one byte short. */
	cuts[0] = b.len - 1;
	cuts[1] = (3U << 20) + 5;
	cuts[2] = (1U << 20) + 3;
	cuts[3] = b.len - 400000;
	cuts[4] = (5U << 20) + 1;
	for (i = 0; i < 5; i++) {
		write_file(path, b.p, cuts[i]);
		read_path(path, NULL, &r);
		ck_assert_int_eq(r.rc, -1);
		ck_assert_msg(strstr(r.err, "truncated") != NULL, "%s", r.err);
		check_pipe(b.p, cuts[i], 65536, &r);
	}
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

/* Reads bytes through a pipe as standard input (one thread, no blocks). */
static void
read_pipe(const uint8_t *p, size_t n, struct result *r)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	pid_t pid;

	make_stdin(pipe_feed(p, n, 65536, 0, 0, &pid));
	in = pcapio_open("-", NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	read_all(in, r);
	pcapio_close(in);
	/*
	 * Damage may end the reading early: the writer then dies of SIGPIPE
	 * once the pipe is closed, which is not a failure.
	 */
	reset_stdin();
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Random captures over 1 MiB, pcap of either byte order and precision and
 * pcapng (other blocks and new sections among the packets), with records
 * of up to 300 KB, most of them damaged past the first block (four bytes
 * overwritten, a length among them, or cut short). Read ahead from a file
 * and read through a pipe, they must give the same records, the same
 * status and the same message.
 */
START_TEST(test_readahead_random)
{
	struct bytes b = { 0 };
	struct result want, r;
	char *path = tmp_path();
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int iter, damaged = 0, failed = 0;

	for (iter = 0; iter < 48; iter++) {
		size_t target = (1U << 20) + xorshift(&x) % (2U << 20), len;
		size_t starts[4096], nstarts = 0, late = 0;
		uint32_t i = 0, size;
		bool be = iter & 1, nano = iter & 2, ng = iter >= 24;

		b.len = 0;
		if (ng) {
			ng_shb(&b, be, 1, 0);
			ng_idb(&b, be, 1, 300000, nano ? 9 : -1, false, 0);
		} else
			pcap_hdr(&b, be, nano, 2, 4, 300000, 1);
		while (b.len < target) {
			uint64_t kind = xorshift(&x) % 64;

			if (nstarts < 4096)
				starts[nstarts++] = b.len;
			/* One call per statement: the order is then defined. */
			size = xorshift(&x) % 8 == 0 ? 300000 : 1600;
			size = (uint32_t)(xorshift(&x) % size);
			if (!ng)
				pcap_recd(&b, be, i, i % 1000, size, size + 4,
				    i);
			else if (kind == 0) {
				ng_shb(&b, be, 1, 0);
				ng_idb(&b, be, 1, 300000, -1, false, 0);
			} else if (kind == 1)
				ng_other(&b, be, 5, size % 200);
			else if (kind == 2)
				ng_spb(&b, be, size + 4, size, i);
			else
				ng_epb(&b, be, 0, (uint64_t)i * 1000, size,
				    size + 4, i);
			i++;
		}
		len = b.len;
		switch (iter % 4) {
		case 0:
			break;
		case 1:
			/* Cut anywhere past the first megabyte. */
			len = (1U << 20) + xorshift(&x) % (b.len - (1U << 20));
			damaged++;
			break;
		case 2: {
			/* Anywhere past the first megabyte: most likely data. */
			size_t at = (1U << 20) - 4096 + xorshift(&x) %
			    (b.len - (1U << 20));
			uint32_t v = (uint32_t)xorshift(&x);

			memcpy(b.p + at, &v, 4);
			damaged++;
			break;
		}
		default: {
			/*
			 * A length: a record's caplen or wirelen, a block's
			 * total length or an EPB's caplen, given a random
			 * value or one a little off.
			 */
			static const size_t field[2][2] = { { 8, 12 },
			    { 4, 20 } };
			uint32_t v = (uint32_t)xorshift(&x), old_v;
			size_t at;

			while (late < nstarts && starts[late] < (1U << 20) -
			    4096)
				late++;
			/* A long record may run from before it to the end. */
			if (late == nstarts)
				late--;
			at = starts[late + xorshift(&x) % (nstarts - late)];
			at += field[ng][xorshift(&x) % 2];
			memcpy(&old_v, b.p + at, 4);
			if (v % 2 == 0)
				v = old_v + 4 * (v % 5) - 8;
			memcpy(b.p + at, &v, 4);
			damaged++;
			break;
		}
		}
		write_file(path, b.p, len);
		read_path(path, NULL, &want);
		read_pipe(b.p, len, &r);
		ck_assert_msg(r.n == want.n && r.rc == want.rc &&
		    r.digest == want.digest && strcmp(r.err, want.err) == 0,
		    "capture %d: file %" PRIu64 " records, %d, '%s'; pipe %"
		    PRIu64 " records, %d, '%s'", iter, want.n, want.rc,
		    want.err, r.n, r.rc, r.err);
		failed += want.rc != 0;
	}
	/* The damage was seen, not only skipped over. */
	ck_assert_int_eq(damaged, 36);
	ck_assert_int_ge(failed, 20);
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

/* ---- BPF ---- */

/* An Ethernet/IPv4 frame with protocol proto, ports 1000 -> 80. */
static void
eth_frame(struct bytes *d, uint8_t proto)
{
	static const uint8_t eth[14] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	    11, 0x08, 0x00 };
	uint8_t ip[20] = { 0x45, 0, 0, 48, 0, 1, 0, 0, 64, 0, 0, 0, 10, 0, 0,
	    1, 10, 0, 0, 2 };
	uint8_t l4[28] = { 0x03, 0xe8, 0x00, 0x50 };

	ip[9] = proto;
	d->len = 0;
	b_put(d, eth, sizeof(eth));
	b_put(d, ip, sizeof(ip));
	b_put(d, l4, sizeof(l4));
}

START_TEST(test_filter_synthetic)
{
	static const uint8_t protos[] = { 6, 17, 6, 1, 6, 17 };
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 }, d = { 0 };
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct pcap_rec rec;
	struct result r;
	char *path = tmp_path();
	size_t k;

	/* Snap length 0: the filter must still accept packets. */
	pcap_hdr(&b, false, false, 2, 4, 0, 1);
	for (k = 0; k < sizeof(protos); k++) {
		eth_frame(&d, protos[k]);
		b_u32(&b, (uint32_t)k, false);
		b_u32(&b, 0, false);
		b_u32(&b, (uint32_t)d.len, false);
		b_u32(&b, (uint32_t)d.len, false);
		b_put(&b, d.p, d.len);
	}
	write_file(path, b.p, b.len);
	in = pcapio_open(path, &st, err);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(pcapio_set_filter(in, "tcp port", err), -1);
	ck_assert_str_eq(err, "can't parse filter expression: syntax error");
	ck_assert_int_eq(pcapio_set_filter(in, "tcp and dst port 80", err), 0);
	for (k = 0; k < 3; k++) {
		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		ck_assert_uint_eq(rec.index, k);
		/* Records 0, 2, 4 of the file pass. */
		ck_assert_uint_eq(rec.ts_ns, 2 * k * NS);
	}
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	ck_assert_uint_eq(st.packets_read, 3);
	ck_assert_uint_eq(st.packets_filtered, 3);
	ck_assert_uint_eq(st.bytes_read, 3 * 62);
	/* A second pass returns the same and counts nothing. */
	ck_assert_int_eq(pcapio_rewind(in, err), 0);
	read_all(in, &r);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_uint_eq(st.packets_read, 3);
	ck_assert_uint_eq(st.packets_filtered, 3);
	/* Replacing the filter. */
	ck_assert_int_eq(pcapio_rewind(in, err), 0);
	ck_assert_int_eq(pcapio_set_filter(in, "udp", err), 0);
	read_all(in, &r);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_int_eq(pcapio_set_filter(in, "vlan and ", err), -1);
	ck_assert_str_eq(err, "can't parse filter expression: syntax error");
	pcapio_close(in);
	unlink(path);
	free(path);
	free(b.p);
	free(d.p);
}
END_TEST

/* ---- writer ---- */

START_TEST(test_write_roundtrip_synthetic)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct pcapio_out *out;
	struct pcap_rec rec;
	char *path = tmp_path(), *opath = tmp_path();
	uint8_t *got;
	size_t n;
	int be;

	for (be = 0; be < 2; be++) {
		b.len = 0;
		memset(&st, 0, sizeof(st));
		build_three(&b, be, be, 4);
		write_file(path, b.p, b.len);
		in = pcapio_open(path, &st, err);
		ck_assert_ptr_nonnull(in);
		out = pcapio_out_open(opath, in, false, &st, err);
		ck_assert_msg(out != NULL, "%s", err);
		while (pcapio_next(in, &rec, err) == 1)
			ck_assert_int_eq(pcapio_write(out, rec.hdr, rec.data,
			    rec.caplen), 0);
		ck_assert_int_eq(pcapio_out_close(out, err), 0);
		pcapio_close(in);
		ck_assert_uint_eq(st.packets_written, 3);
		got = read_whole(opath, &n);
		ck_assert_uint_eq(n, b.len);
		ck_assert_mem_eq(got, b.p, n);
		free(got);
	}
	unlink(path);
	unlink(opath);
	free(path);
	free(opath);
	free(b.p);
}
END_TEST

/*
 * Copies the records marked in sel (runs of adjacent ones at once, as
 * flowgrep's pass 2 does) from in to path, from the blocks read ahead when
 * ahead. Returns what pcapio_copy_records() last returned; err is set.
 */
static int
copy_marked(struct pcapio_in *in, const char *path, const uint64_t *off,
    const uint32_t *len, const bool *sel, size_t n, bool ahead, char *err)
{
	struct pcapio_out *out;
	char cerr[PCAPIO_ERRBUF_SIZE];
	uint64_t at = 0, run = 0, nrec = 0;
	size_t i;
	int rc = 0;

	out = pcapio_out_open(path, in, false, NULL, cerr);
	ck_assert_msg(out != NULL, "%s", cerr);
	for (i = 0; i < n && !sel[i]; i++)
		;
	if (ahead && i < n)
		ck_assert(pcapio_copy_ahead(in, off[i]));
	for (; i < n && rc == 0; i++) {
		if (!sel[i])
			continue;
		if (nrec > 0 && off[i] == at + run) {
			run += len[i];
			nrec++;
			continue;
		}
		if (nrec > 0)
			rc = pcapio_copy_records(in, out, at, run, nrec, err);
		at = off[i];
		run = len[i];
		nrec = 1;
	}
	if (rc == 0 && nrec > 0)
		rc = pcapio_copy_records(in, out, at, run, nrec, err);
	ck_assert_int_eq(pcapio_out_close(out, cerr), 0);
	return rc;
}

/*
 * Pass 2 copying from the blocks read ahead (pcapio_copy_ahead) writes
 * exactly what it writes reading each run itself: every record, every
 * other, a random third, runs cut by blocks, records far apart (sought
 * over), the last alone. A rewind then reads the file from the start. A
 * file cut after pass 1 gives the same message both ways, and a write
 * error its own; a small file and pcapng are not read ahead.
 */
START_TEST(test_copy_ahead)
{
	char err[PCAPIO_ERRBUF_SIZE], err2[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 }, e = { 0 };
	struct pcapio_in *in;
	struct pcap_rec rec;
	struct result want, r;
	char *path = tmp_path(), *opath = tmp_path();
	enum { NREC = 3000 };
	static uint64_t off[NREC];
	static uint32_t len[NREC];
	static bool sel[NREC];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint8_t *got, *got2;
	size_t i, n, n2, k, mode;

	pcap_hdr(&b, false, false, 2, 4, 2U << 20, 1);
	for (i = 0; i < NREC; i++) {
		uint32_t c = (uint32_t)(xorshift(&x) % 1600);

		if (i % 100 == 7)
			c = 300000 + (uint32_t)i;	/* longer than the reserve */
		else if (i % 97 == 3)
			c = 65535;
		pcap_recd(&b, false, (uint32_t)i, 0, c, c, (unsigned)i);
	}
	ck_assert_uint_gt(b.len, 12U << 20);
	write_file(path, b.p, b.len);
	in = pcapio_open(path, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	for (i = 0; i < NREC; i++) {
		ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
		off[i] = rec.offset;
		len[i] = PCAPIO_RECORD_HEADER_LEN + rec.caplen;
	}
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	read_path(path, NULL, &want);

	for (mode = 0; mode < 7; mode++) {
		for (i = 0; i < NREC; i++) {
			switch (mode) {
			case 0: sel[i] = true; break;
			case 1: sel[i] = i % 2 == 1; break;
			case 2: sel[i] = xorshift(&x) % 3 == 0; break;
			case 3: sel[i] = xorshift(&x) % 20 < 3; break;
			/* Gaps far longer than the blocks read ahead. */
			case 4: sel[i] = i == 2 || i == 1400 || i == 1401 ||
			    i == NREC - 2; break;
			case 5: sel[i] = i == NREC - 1; break;
			default: sel[i] = i < 40 || (i > 1000 && i < 1100);
			}
		}
		/* The expected bytes: the output header, then the records. */
		e.len = 0;
		b_put(&e, b.p, PCAPIO_FILE_HEADER_LEN);
		for (i = 0; i < NREC; i++)
			if (sel[i])
				b_put(&e, b.p + off[i], len[i]);
		ck_assert_int_eq(copy_marked(in, opath, off, len, sel, NREC,
		    false, err), 0);
		got = read_whole(opath, &n);
		ck_assert_int_eq(copy_marked(in, opath, off, len, sel, NREC,
		    true, err), 0);
		got2 = read_whole(opath, &n2);
		ck_assert_uint_eq(n, e.len);
		ck_assert_uint_eq(n2, e.len);
		ck_assert_mem_eq(got, e.p, e.len);
		ck_assert_msg(memcmp(got2, e.p, e.len) == 0, "mode %zu", mode);
		free(got);
		free(got2);
		/* A rewind ends copying: the records from the start. */
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
		read_all(in, &r);
		ASSERT_SAME_RECORDS(r, want);
	}

	/* A write error ends copying with its message. */
	if (access("/dev/full", W_OK) == 0) {
		struct pcapio_out *out = pcapio_out_open("/dev/full", in, false,
		    NULL, err);

		ck_assert_msg(out != NULL, "%s", err);
		ck_assert(pcapio_copy_ahead(in, off[0]));
		ck_assert_int_eq(pcapio_copy_records(in, out, off[0],
		    off[NREC - 1] - off[0], NREC - 1, err), -1);
		ck_assert_str_eq(err, strerror(ENOSPC));
		ck_assert_int_eq(pcapio_out_close(out, err), -1);
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
	}

	/* Cut after pass 1: inside a record, and before the records copied. */
	for (k = 0; k < 2; k++) {
		ck_assert_int_eq(truncate(path, k == 0 ? (off_t)off[2000] + 9 :
		    (off_t)off[10]), 0);
		for (i = 0; i < NREC; i++)
			sel[i] = i >= 1500;
		ck_assert_int_eq(copy_marked(in, opath, off, len, sel, NREC,
		    false, err), -1);
		ck_assert_int_eq(copy_marked(in, opath, off, len, sel, NREC,
		    true, err2), -1);
		ck_assert_str_eq(err, "changed while it was read");
		ck_assert_str_eq(err2, err);
	}
	pcapio_close(in);

	/* Not read ahead: a file of a megabyte or less, pcapng, a pipe. */
	write_file(path, b.p, off[20]);
	in = pcapio_open(path, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert(!pcapio_copy_ahead(in, off[0]));
	pcapio_close(in);
	e.len = 0;
	ng_shb(&e, false, 1, 0);
	ng_idb(&e, false, 1, 0, -1, false, 0);
	for (i = 0; i < 3000; i++)
		ng_epb(&e, false, 0, i, 1000, 1000, (unsigned)i);
	write_file(path, e.p, e.len);
	in = pcapio_open(path, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert(!pcapio_copy_ahead(in, 0));
	pcapio_close(in);
	unlink(path);
	unlink(opath);
	free(path);
	free(opath);
	free(b.p);
	free(e.p);
}
END_TEST

/*
 * A pipe read as standard input, and one written as standard output (-w -),
 * is asked to hold 1 MiB rather than 64 KiB, so that neither end waits on
 * the other every 64 KiB; what goes through is unchanged.
 */
START_TEST(test_pipe_size)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct pcapio_in *in;
	struct pcapio_out *out;
	struct pcap_rec rec;
	uint8_t got[128];
	int ip[2], op[2], saved;

	build_three(&b, false, false, 4);
	ck_assert_int_eq(pipe(ip), 0);
	ck_assert_int_eq(fcntl(ip[1], F_GETPIPE_SZ), 65536);
	ck_assert_int_eq(write(ip[1], b.p, b.len), (ssize_t)b.len);
	close(ip[1]);
	make_stdin(ip[0]);
	in = pcapio_open("-", NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(fcntl(STDIN_FILENO, F_GETPIPE_SZ), 1 << 20);

	ck_assert_int_eq(pipe(op), 0);
	saved = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(op[1], STDOUT_FILENO), STDOUT_FILENO);
	out = pcapio_out_open("-", in, false, NULL, err);
	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_int_eq(fcntl(op[0], F_GETPIPE_SZ), 1 << 20);
	ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
	ck_assert_int_eq(pcapio_write(out, rec.hdr, rec.data, rec.caplen), 0);
	ck_assert_int_eq(pcapio_out_close(out, err), 0);
	ck_assert_int_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	close(op[1]);
	ck_assert_int_eq(read(op[0], got, sizeof(got)), 24 + 16 + 60);
	ck_assert_mem_eq(got, b.p, 24 + 16 + 60);
	close(op[0]);
	pcapio_close(in);
	reset_stdin();
	free(b.p);
}
END_TEST

/* Unbuffered output reaches the file at each record; buffered at close. */
START_TEST(test_write_unbuffered_and_big)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 }, big = { 0 };
	struct pcapio_in *in;
	struct pcapio_out *out;
	struct stat sb;
	uint8_t hdr[16] = { 0 };
	char *path = tmp_path(), *opath = tmp_path();
	uint8_t *got;
	size_t n;

	build_three(&b, false, false, 4);
	write_file(path, b.p, b.len);
	in = pcapio_open(path, NULL, err);
	ck_assert_ptr_nonnull(in);

	out = pcapio_out_open(opath, in, true, NULL, err);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(stat(opath, &sb), 0);
	ck_assert_int_eq(sb.st_size, 24);
	ck_assert_int_eq(pcapio_write(out, hdr, b.p, 10), 0);
	ck_assert_int_eq(stat(opath, &sb), 0);
	ck_assert_int_eq(sb.st_size, 24 + 16 + 10);
	ck_assert_int_eq(pcapio_out_close(out, err), 0);

	/* Buffered, with a record three times the size of the buffer. */
	out = pcapio_out_open(opath, in, false, NULL, err);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(pcapio_write(out, hdr, b.p, 10), 0);
	ck_assert_int_eq(stat(opath, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	b_pattern(&big, 3 << 20, 7);
	ck_assert_int_eq(pcapio_write(out, hdr, big.p, (uint32_t)big.len), 0);
	ck_assert_int_eq(pcapio_out_close(out, err), 0);
	got = read_whole(opath, &n);
	ck_assert_uint_eq(n, 24 + 16 + 10 + 16 + big.len);
	ck_assert_mem_eq(got, b.p, 24);
	ck_assert_mem_eq(got + 24 + 16 + 16 + 10, big.p, big.len);
	free(got);

	pcapio_close(in);
	unlink(path);
	unlink(opath);
	free(path);
	free(opath);
	free(b.p);
	free(big.p);
}
END_TEST

START_TEST(test_write_errors)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct bytes b = { 0 };
	struct pcapio_in *in;
	struct pcapio_out *out;
	uint8_t hdr[16] = { 0 };
	char *path = tmp_path();
	int fds[2], master, slave, saved_stdout = dup(STDOUT_FILENO);

	build_three(&b, false, false, 4);
	write_file(path, b.p, b.len);
	in = pcapio_open(path, NULL, err);
	ck_assert_ptr_nonnull(in);

	ck_assert_ptr_null(pcapio_out_open("/nonexistent/out.pcap", in, false,
	    NULL, err));
	ck_assert_str_eq(err, "No such file or directory");

	/* A full disk shows at close when buffered, at once when not. */
	if (access("/dev/full", W_OK) == 0) {
		out = pcapio_out_open("/dev/full", in, false, NULL, err);
		ck_assert_ptr_nonnull(out);
		ck_assert_int_eq(pcapio_write(out, hdr, b.p, 10), 0);
		ck_assert_int_eq(pcapio_out_close(out, err), -1);
		ck_assert_str_eq(err, "No space left on device");
		ck_assert_ptr_null(pcapio_out_open("/dev/full", in, true, NULL,
		    err));
		ck_assert_str_eq(err, "No space left on device");
	}

	/* A closed pipe: EPIPE, not death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(dup2(fds[1], STDOUT_FILENO), STDOUT_FILENO);
	close(fds[1]);
	out = pcapio_out_open("-", in, true, NULL, err);
	ck_assert_ptr_nonnull(out);
	close(fds[0]);
	ck_assert_int_eq(pcapio_write(out, hdr, b.p, 10), -1);
	ck_assert_int_eq(pcapio_write(out, hdr, b.p, 10), -1);
	ck_assert_int_eq(pcapio_out_close(out, err), -1);
	ck_assert_str_eq(err, "Broken pipe");

	/* Terminals are refused, as standard output and by name. */
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0) {
		const char *name = ptsname(master);

		ck_assert_ptr_nonnull(name);
		/* Some containers have no usable pseudo-terminals. */
		if ((slave = open(name, O_RDWR | O_NOCTTY)) < 0)
			goto no_tty;
		ck_assert_int_eq(dup2(slave, STDOUT_FILENO), STDOUT_FILENO);
		ck_assert_ptr_null(pcapio_out_open("-", in, false, NULL, err));
		ck_assert_str_eq(err, "refusing to write pcap to a terminal");
		ck_assert_ptr_null(pcapio_out_open(name, in, false, NULL, err));
		ck_assert_str_eq(err, "refusing to write pcap to a terminal");
		close(slave);
	}
no_tty:
	if (master >= 0)
		close(master);
	ck_assert_int_eq(dup2(saved_stdout, STDOUT_FILENO), STDOUT_FILENO);
	close(saved_stdout);
	ck_assert_int_eq(pcapio_out_close(NULL, err), 0);
	pcapio_close(in);
	pcapio_close(NULL);
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

/* ---- the corpus ---- */

enum outcome { OPEN_FAILS, READ_OK, READ_DAMAGED };

/*
 * Every corpus file: link type, records, and how reading ends. Counts are
 * capinfos -c's. One exception: suricata-verify--bug-6875-01_fuzz.pcap,
 * where capinfos guesses a non-standard record layout and reads 2 records;
 * libpcap (tcpdump -r) and flowgrep read 1 and stop at the absurd length.
 */
static const struct corpus_case {
	const char *name;
	int linktype;
	uint64_t records;
	enum outcome outcome;
	const char *err;
} corpus_cases[] = {
	{ "libpcap--linktype-reserved-field-not-zero.pcap",
	    -1, 0, OPEN_FAILS,
	    "link type field has reserved bits set (0x00300000)" },
	{ "libpcap--pcap-invalid-version-1.pcap",
	    -1, 0, OPEN_FAILS,
	    "unsupported pcap version 1.4" },
	{ "nDPI--WebattackRCE.pcap",
	    1, 797, READ_OK, NULL },
	{ "nDPI--dns_fragmented.pcap",
	    1, 66, READ_OK, NULL },
	{ "nDPI--fuzz-2006-09-29-28586.pcap",
	    1, 131, READ_OK, NULL },
	{ "nDPI--fuzz-2021-10-13.pcap",
	    0, 1, READ_DAMAGED,
	    "record 2 at byte offset 237: file ends in the middle of a "
	    "record (truncated capture)" },
	{ "nDPI--ip_fragmented_garbage.pcap",
	    1, 1252, READ_OK, NULL },
	{ "nDPI--log4j-webapp-exploit.pcap",
	    113, 426, READ_OK, NULL },
	{ "nDPI--synscan.pcap",
	    1, 2011, READ_OK, NULL },
	{ "suricata-verify--TLPW1-tcp-174.56.47.59-10.3.11.101-tcp-80-49309"
	    ".pcap",
	    1, 75, READ_OK, NULL },
	{ "suricata-verify--alert-testmyids-async_input.pcap",
	    1, 4, READ_OK, NULL },
	{ "suricata-verify--alert-testmyids-midstream_input.pcap",
	    1, 5, READ_OK, NULL },
	{ "suricata-verify--bug-130_input.pcap",
	    1, 14, READ_OK, NULL },
	{ "suricata-verify--bug-6875-01_fuzz.pcap",
	    1, 1, READ_DAMAGED,
	    "record 2 at byte offset 228: capture length 1409179648 "
	    "exceeds the maximum 262144" },
	{ "suricata-verify--decode-sll2-01_input.pcap",
	    276, 5, READ_OK, NULL },
	{ "suricata-verify--eve-flow-vlan-02_input.pcap",
	    1, 3, READ_OK, NULL },
	{ "suricata-verify--frag-eth-vlan-ip-tcp-syn.pcap",
	    1, 3, READ_OK, NULL },
	{ "suricata-verify--frag-ip-tcp.pcap",
	    229, 3, READ_OK, NULL },
	{ "suricata-verify--gre-sample.pcap",
	    1, 40, READ_OK, NULL },
	{ "suricata-verify--http-ipv6_input.pcap",
	    0, 14, READ_OK, NULL },
	{ "suricata-verify--ipv4_over_ipv4.pcap",
	    1, 1, READ_OK, NULL },
	{ "suricata-verify--ipv4_over_ipv6.pcap",
	    1, 1, READ_OK, NULL },
	{ "suricata-verify--ipv6_over_ipv6.pcap",
	    1, 1, READ_OK, NULL },
	{ "suricata-verify--no-3whs.pcap",
	    1, 4, READ_OK, NULL },
	{ "suricata-verify--pcap-file-stdin_input.pcap",
	    228, 1, READ_OK, NULL },
	{ "suricata-verify--split-handshake-4whs.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp-fastopen-05_tfo.pcap",
	    113, 16, READ_OK, NULL },
	{ "suricata-verify--tcp-leading-gap.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp-overlap.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp-overlap2.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp-rst-unacked-stream-03-gap_input.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp-rst-unacked-stream-07-http_input.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp-rst-with-data.pcap",
	    1, 8, READ_OK, NULL },
	{ "suricata-verify--tcp-simple-gap2.pcap",
	    1, 7, READ_OK, NULL },
	{ "suricata-verify--tcp_fastopen_segmentation.pcap",
	    1, 20, READ_OK, NULL },
	{ "suricata-verify--tls_DER-incomplete-header.pcap",
	    1, 6, READ_DAMAGED,
	    "record 7 at byte offset 5035: capture length 4325376 exceeds "
	    "the maximum 262144" },
	{ "suricata-verify--with_evasion_linux.pcap",
	    1, 10, READ_OK, NULL },
	{ "suricata-verify--with_evasion_windows.pcap",
	    1, 9, READ_OK, NULL },
	{ "suricata-verify--without_evasion.pcap",
	    1, 7, READ_OK, NULL },
	{ "tcpdump--802.1ad_QinQ.pcap",
	    1, 2, READ_OK, NULL },
	{ "tcpdump--pptp.pcap",
	    1, 23, READ_OK, NULL },
	{ "tcpdump--tcp-handshake-nano.pcap",
	    113, 3, READ_OK, NULL },
	{ "tcpdump--timestamp_invalid_nano.pcap",
	    113, 3, READ_OK, NULL },
	{ "tcpflow--bug3.pcap",
	    1, 40, READ_OK, NULL },
	{ "tcpflow--bug6.pcap",
	    1, 52, READ_OK, NULL },
	{ "tcpflow--local.pcap",
	    0, 106, READ_OK, NULL },
	{ "tcpflow--simson.pcap",
	    1, 303, READ_OK, NULL },
	{ "tcpflow--test3.pcap",
	    1, 55, READ_OK, NULL },
	{ "tcpflow--test4.pcap",
	    101, 115, READ_OK, NULL },
	{ "tcpflow--test5-lines.pcap",
	    1, 11, READ_OK, NULL },
	{ "tcpflow--udp.pcap",
	    1, 35, READ_OK, NULL },
	{ "zeek--basic-auth-with-colon.pcap",
	    228, 12, READ_OK, NULL },
	{ "zeek--fragmented-4.pcap",
	    1, 6, READ_OK, NULL },
	{ "zeek--get-to-ssh-server.pcap",
	    1, 9, READ_OK, NULL },
	{ "zeek--http-post-large.pcap",
	    1, 38, READ_OK, NULL },
	{ "zeek--ipv6-http-atomic-frag.pcap",
	    1, 38, READ_OK, NULL },
	{ "zeek--linux_dlt_sll2.pcap",
	    276, 6, READ_OK, NULL },
	{ "zeek--methods.pcap",
	    1, 655, READ_OK, NULL },
	{ "zeek--timestamp.pcap",
	    1, 878, READ_OK, NULL },
	{ "zeek--truncated-header.pcap",
	    1, 24, READ_OK, NULL },
	{ "zeek--vlan-collisions.pcap",
	    1, 42, READ_OK, NULL },
	{ "zeek--workshop_2011_browse.pcap",
	    1, 121, READ_OK, NULL },
	{ "libpcap--pcapng-invalid-vers-1.pcapng",
	    -1, 0, OPEN_FAILS,
	    "unsupported pcapng version 0.1" },
	{ "libpcap--shb-option-too-long.pcapng",
	    -1, 0, OPEN_FAILS,
	    "block at byte offset 0: trailing block length 808464432 "
	    "differs from the leading 52 (corrupt block)" },
	{ "nDPI--steam.pcapng",
	    1, 48, READ_OK, NULL },
	{ "zeek--gap-data-missing.pcapng",
	    1, 18, READ_OK, NULL },
	{ "zeek--irc-dcc-send.pcapng",
	    1, 1184, READ_OK, NULL },
	{ "zeek--pcapng-multi-interface.pcapng",
	    1, 6, READ_OK, NULL },
	{ "tcpflow--jpegs.cap",
	    1, 483, READ_OK, NULL },
	{ "zeek--dssetup_DsRoleGetPrimaryDomainInformation_standalone_"
	    "workstation.cap",
	    1, 9, READ_OK, NULL },
};

#define NCORPUS (sizeof(corpus_cases) / sizeof(corpus_cases[0]))

START_TEST(test_corpus_each)
{
	const struct corpus_case *c = &corpus_cases[_i];
	char err[PCAPIO_ERRBUF_SIZE];
	struct stats st = { 0 };
	struct pcapio_in *in;
	struct result r;

	NEED_CORPUS();
	in = pcapio_open(test_corpus_file(c->name), &st, err);
	if (c->outcome == OPEN_FAILS) {
		ck_assert_msg(in == NULL, "%s opened", c->name);
		ck_assert_str_eq(err, c->err);
		return;
	}
	ck_assert_msg(in != NULL, "%s: %s", c->name, err);
	ck_assert_int_eq(pcapio_linktype(in), c->linktype);
	read_all(in, &r);
	pcapio_close(in);
	ck_assert_msg(r.n == c->records, "%s: %" PRIu64 " records", c->name,
	    r.n);
	ck_assert_uint_eq(st.packets_read, c->records);
	ck_assert_uint_eq(st.other_linktype, 0);
	if (c->outcome == READ_OK) {
		ck_assert_msg(r.rc == 0, "%s: %s", c->name, r.err);
	} else {
		ck_assert_int_eq(r.rc, -1);
		ck_assert_str_eq(r.err, c->err);
	}
}
END_TEST

/* The table above names every capture in the corpus. */
START_TEST(test_corpus_table_complete)
{
	struct dirent *de;
	const char *dot;
	DIR *d;
	size_t i, n = 0;

	NEED_CORPUS();
	d = opendir(test_corpus_dir());
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		dot = strrchr(de->d_name, '.');
		if (dot == NULL || (strcmp(dot, ".pcap") != 0 &&
		    strcmp(dot, ".pcapng") != 0 && strcmp(dot, ".cap") != 0))
			continue;
		for (i = 0; i < NCORPUS; i++)
			if (strcmp(corpus_cases[i].name, de->d_name) == 0)
				break;
		ck_assert_msg(i < NCORPUS, "%s is not in corpus_cases",
		    de->d_name);
		n++;
	}
	closedir(d);
	ck_assert_uint_eq(n, NCORPUS);
}
END_TEST

/*
 * Every record of every corpus file libpcap can read equals libpcap's:
 * time in ns, lengths, bytes; and both stop at the same place.
 */
START_TEST(test_corpus_vs_libpcap)
{
	const struct corpus_case *c = &corpus_cases[_i];
	char err[PCAPIO_ERRBUF_SIZE], perr[PCAP_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcap_pkthdr *h;
	const u_char *pd;
	struct pcap_rec rec;
	pcap_t *p;
	int rc, prc;

	NEED_CORPUS();
	if (c->outcome == OPEN_FAILS)
		return;
	/* libpcap cannot read pcapng with mixed link types. */
	if (strcmp(c->name, "zeek--gap-data-missing.pcapng") == 0)
		return;
	p = pcap_open_offline_with_tstamp_precision(test_corpus_file(c->name),
	    PCAP_TSTAMP_PRECISION_NANO, perr);
	ck_assert_msg(p != NULL, "%s: %s", c->name, perr);
	in = pcapio_open(test_corpus_file(c->name), NULL, err);
	ck_assert_ptr_nonnull(in);
	for (;;) {
		rc = pcapio_next(in, &rec, err);
		prc = pcap_next_ex(p, &h, &pd);
		if (rc != 1 || prc != 1)
			break;
		/*
		 * libpcap reads the fraction as signed 32 bits; the format
		 * says unsigned (tcpdump--timestamp_invalid_nano.pcap has
		 * 2147483648 ns in one).
		 */
		ck_assert_uint_eq(rec.ts_ns, (uint64_t)h->ts.tv_sec * NS +
		    (uint32_t)h->ts.tv_usec);
		ck_assert_uint_eq(rec.caplen, h->caplen);
		ck_assert_uint_eq(rec.wirelen, h->len);
		ck_assert_mem_eq(rec.data, pd, rec.caplen);
	}
	ck_assert_msg((rc == 0 && prc == PCAP_ERROR_BREAK) ||
	    (rc == -1 && prc == PCAP_ERROR), "%s: %d %d", c->name, rc, prc);
	pcap_close(p);
	pcapio_close(in);
}
END_TEST

/* Writing every record of a classic pcap reproduces the file exactly. */
START_TEST(test_corpus_roundtrip)
{
	static const char *files[] = {
		"nDPI--fuzz-2006-09-29-28586.pcap",	/* big-endian */
		"tcpdump--pptp.pcap",			/* big-endian */
		("zeek--dssetup_DsRoleGetPrimaryDomainInformation_"
		    "standalone_workstation.cap"),	/* big-endian */
		"tcpdump--timestamp_invalid_nano.pcap",	/* ns >= 1e9 */
		"zeek--get-to-ssh-server.pcap",		/* nanoseconds */
		"zeek--http-post-large.pcap",
		"nDPI--synscan.pcap",
		"tcpflow--local.pcap",
		"tcpflow--jpegs.cap",
		"zeek--timestamp.pcap",			/* caplen < len */
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcapio_out *out;
	struct pcap_rec rec;
	char *opath;
	uint8_t *want, *got;
	size_t i, nw, ng, off;
	int rc;

	NEED_CORPUS();
	opath = tmp_path();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		in = pcapio_open(test_corpus_file(files[i]), NULL, err);
		ck_assert_msg(in != NULL, "%s: %s", files[i], err);
		want = read_whole(test_corpus_file(files[i]), &nw);
		ck_assert_mem_eq(pcapio_file_header(in), want, 24);
		out = pcapio_out_open(opath, in, false, NULL, err);
		ck_assert_ptr_nonnull(out);
		off = 24;
		while ((rc = pcapio_next(in, &rec, err)) == 1) {
			/* Header and data are the file's bytes, in place. */
			ck_assert_mem_eq(rec.hdr, want + off, 16);
			ck_assert_mem_eq(rec.data, want + off + 16, rec.caplen);
			off += 16 + rec.caplen;
			ck_assert_int_eq(pcapio_write(out, rec.hdr, rec.data,
			    rec.caplen), 0);
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(pcapio_out_close(out, err), 0);
		pcapio_close(in);
		got = read_whole(opath, &ng);
		ck_assert_msg(ng == nw && memcmp(got, want, nw) == 0,
		    "%s differs after a round trip", files[i]);
		free(want);
		free(got);
	}
	unlink(opath);
	free(opath);
}
END_TEST

/* Timestamps: big-endian microseconds, nanoseconds, ns fields >= 1e9. */
START_TEST(test_corpus_timestamps)
{
	static const struct {
		const char *name;
		bool nano;
		uint64_t ts[3];
	} c[] = {
		{ "nDPI--fuzz-2006-09-29-28586.pcap", false,
		    { 1031854484481540000ULL, 1031854484481558000ULL,
		    1031854484481933000ULL } },
		{ "tcpdump--tcp-handshake-nano.pcap", true,
		    { 1418145369924505488ULL, 1418145370052027262ULL,
		    1418145370052115157ULL } },
		/* Fields 999999999, 1000000000, 2147483648 are added as is. */
		{ "tcpdump--timestamp_invalid_nano.pcap", true,
		    { 1418145369999999999ULL, 1418145371000000000ULL,
		    1418145372147483648ULL } },
		/* pcapng, interface 0 in ns, interface 1 in us. */
		{ "zeek--pcapng-multi-interface.pcapng", true,
		    { 1767663089500330493ULL, 1767663089514291940ULL,
		    1767663437111897000ULL } },
		{ "zeek--gap-data-missing.pcapng", false,
		    { 1725966494956327000ULL, 1725966494956542000ULL,
		    1725966494960406000ULL } },
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcap_rec rec;
	size_t i, k;

	NEED_CORPUS();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		in = pcapio_open(test_corpus_file(c[i].name), NULL, err);
		ck_assert_msg(in != NULL, "%s", err);
		ck_assert_int_eq(pcapio_nano(in), c[i].nano);
		for (k = 0; k < 3; k++) {
			ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
			ck_assert_uint_eq(rec.ts_ns, c[i].ts[k]);
		}
		pcapio_close(in);
	}
}
END_TEST

/* pcapng read as classic pcap: header fields, and libpcap can read it back. */
START_TEST(test_corpus_pcapng_output)
{
	static const struct {
		const char *name;
		bool nano;
		uint32_t snaplen;
		uint64_t records;
	} c[] = {
		{ "nDPI--steam.pcapng", true, 262144, 48 },
		{ "zeek--irc-dcc-send.pcapng", false, 524288, 1184 },
		{ "zeek--pcapng-multi-interface.pcapng", true, 262144, 6 },
		{ "zeek--gap-data-missing.pcapng", false, 65535, 18 },
	};
	char err[PCAPIO_ERRBUF_SIZE], perr[PCAP_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcapio_out *out;
	struct pcap_pkthdr *h;
	const u_char *pd;
	struct pcap_rec rec;
	struct stats st;
	uint32_t fh[6];
	char *opath;
	uint64_t n;
	pcap_t *p;
	size_t i;

	NEED_CORPUS();
	opath = tmp_path();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&st, 0, sizeof(st));
		in = pcapio_open(test_corpus_file(c[i].name), &st, err);
		ck_assert_msg(in != NULL, "%s", err);
		memcpy(fh, pcapio_file_header(in), 24);
		ck_assert_uint_eq(fh[0], c[i].nano ? 0xa1b23c4dU : 0xa1b2c3d4U);
		ck_assert_uint_eq(fh[1], 2 | 4U << 16);
		ck_assert_uint_eq(fh[4], c[i].snaplen);
		ck_assert_uint_eq(fh[5], 1);
		out = pcapio_out_open(opath, in, false, &st, err);
		ck_assert_ptr_nonnull(out);
		while (pcapio_next(in, &rec, err) == 1)
			ck_assert_int_eq(pcapio_write(out, rec.hdr, rec.data,
			    rec.caplen), 0);
		ck_assert_int_eq(pcapio_out_close(out, err), 0);
		ck_assert_uint_eq(st.packets_written, c[i].records);
		ck_assert_uint_eq(st.other_linktype, 0);

		/* Read back by libpcap, the output equals the input. */
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
		p = pcap_open_offline_with_tstamp_precision(opath,
		    PCAP_TSTAMP_PRECISION_NANO, perr);
		ck_assert_msg(p != NULL, "%s", perr);
		for (n = 0; pcap_next_ex(p, &h, &pd) == 1; n++) {
			ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
			ck_assert_uint_eq(rec.ts_ns, (uint64_t)h->ts.tv_sec *
			    NS + (uint64_t)h->ts.tv_usec);
			ck_assert_uint_eq(rec.caplen, h->caplen);
			ck_assert_uint_eq(rec.wirelen, h->len);
			ck_assert_mem_eq(rec.data, pd, h->caplen);
		}
		ck_assert_uint_eq(n, c[i].records);
		pcap_close(p);
		pcapio_close(in);
	}
	unlink(opath);
	free(opath);
}
END_TEST

/* Walks a capture and lists where its records start (and its length). */
static size_t
record_offsets(const uint8_t *d, size_t len, bool ng, size_t *offs,
    size_t max)
{
	size_t off = ng ? 0 : 24, n = 0;
	uint32_t v, t;

	while (off + 12 <= len && n + 1 < max) {
		if (ng) {
			memcpy(&t, d + off, 4);
			memcpy(&v, d + off + 4, 4);
			if (t == 6 || t == 3 || t == 2)
				offs[n++] = off;
			off += v;
		} else {
			memcpy(&v, d + off + 8, 4);
			offs[n++] = off;
			off += 16 + v;
		}
	}
	offs[n] = len;
	return n;
}

/* Cuts corpus captures at every byte offset of their last two records. */
START_TEST(test_corpus_truncated)
{
	static const struct {
		const char *name;
		bool ng;
	} c[] = {
		{ "suricata-verify--tcp-rst-with-data.pcap", false },
		{ "zeek--get-to-ssh-server.pcap", false },
		{ "zeek--pcapng-multi-interface.pcapng", true },
	};
	size_t offs[4096], n, len, i;
	uint8_t *d;

	NEED_CORPUS();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		d = read_whole(test_corpus_file(c[i].name), &len);
		n = record_offsets(d, len, c[i].ng, offs, 4096);
		ck_assert_uint_ge(n, 2);
		check_cuts(d, len, offs, n, offs[n - 2], c[i].ng);
		free(d);
	}
}
END_TEST

/*
 * pcapng over 1 MiB, read ahead in 1 MiB blocks: cut around the records
 * that straddle the first block's end and near the end of the file, in a
 * block's header and in its body.
 */
START_TEST(test_corpus_truncated_read_ahead)
{
	static const size_t deltas[] = { 0, 1, 3, 4, 5, 9, 27, 28, 100 };
	const char *name = "zeek--irc-dcc-send.pcapng";
	size_t offs[4096], n, len, k, j;
	char *path = tmp_path();
	uint32_t v;
	uint8_t *d;

	NEED_CORPUS();
	d = read_whole(test_corpus_file(name), &len);
	ck_assert_uint_gt(len, (1U << 20) + 65536);
	n = record_offsets(d, len, true, offs, 4096);
	ck_assert_uint_ge(n, 10);
	/* An interface statistics block follows the last packet: cut before. */
	memcpy(&v, d + offs[n - 1] + 4, 4);
	len = offs[n] = offs[n - 1] + v;
	for (k = 0; k < n; k++) {
		bool near_block = offs[k + 1] > (1U << 20) - 4096 &&
		    offs[k] < (1U << 20) + 4096;

		if (!near_block && k + 3 < n)
			continue;
		for (j = 0; j < sizeof(deltas) / sizeof(deltas[0]); j++)
			if (offs[k] + deltas[j] <= offs[k + 1])
				check_cut(d, len, offs, n, offs[k] + deltas[j],
				    true, path);
	}
	check_cut(d, len, offs, n, (1U << 20), true, path);
	check_cut(d, len, offs, n, (1U << 20) + 1, true, path);
	unlink(path);
	free(path);
	free(d);
}
END_TEST

START_TEST(test_corpus_filter)
{
	static const struct {
		const char *name;
		const char *expr;
		uint64_t read, filtered;
		const char *err;
	} c[] = {
		/* Counts are tcpdump -r FILE EXPR's. */
		{ "zeek--vlan-collisions.pcap", "tcp", 14, 28, NULL },
		{ "zeek--vlan-collisions.pcap", "vlan 42", 14, 28, NULL },
		/* DLT_NULL with Darwin's AF_INET6 (30) on 98 packets. */
		{ "tcpflow--local.pcap", "tcp", 106, 0, NULL },
		{ "tcpflow--local.pcap", "ip6", 98, 8, NULL },
		{ "nDPI--steam.pcapng", "tcp", 40, 8, NULL },
		{ "nDPI--log4j-webapp-exploit.pcap", "tcp", 422, 4, NULL },
		{ "tcpflow--test4.pcap", "tcp", 115, 0, NULL },
		{ "zeek--linux_dlt_sll2.pcap", "tcp", 0, 6, NULL },
		{ "zeek--basic-auth-with-colon.pcap", "tcp", 12, 0, NULL },
		{ "nDPI--fuzz-2006-09-29-28586.pcap", "tcp", 121, 10, NULL },
		{ "tcpflow--udp.pcap", "udp port 53", 14, 21, NULL },
		{ "tcpflow--test4.pcap", "vlan 5", 0, 0,
		    "no VLAN support for Raw IP" },
		{ "tcpflow--test4.pcap", "tcp port", 0, 0,
		    "can't parse filter expression: syntax error" },
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct stats st;
	struct result r;
	size_t i;

	NEED_CORPUS();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&st, 0, sizeof(st));
		in = pcapio_open(test_corpus_file(c[i].name), &st, err);
		ck_assert_ptr_nonnull(in);
		if (c[i].err != NULL) {
			ck_assert_int_eq(pcapio_set_filter(in, c[i].expr, err),
			    -1);
			ck_assert_str_eq(err, c[i].err);
			pcapio_close(in);
			continue;
		}
		ck_assert_int_eq(pcapio_set_filter(in, c[i].expr, err), 0);
		read_all(in, &r);
		ck_assert_int_eq(r.rc, 0);
		ck_assert_msg(r.n == c[i].read, "%s %s: %" PRIu64, c[i].name,
		    c[i].expr, r.n);
		ck_assert_uint_eq(st.packets_read, c[i].read);
		ck_assert_uint_eq(st.packets_filtered, c[i].filtered);
		pcapio_close(in);
	}
}
END_TEST

/* Corpus captures through a pipe, in odd chunk sizes. */
START_TEST(test_corpus_pipe)
{
	static const char *files[] = {
		"zeek--irc-dcc-send.pcapng",	/* 1.4 MB: buffer refills */
		"tcpflow--jpegs.cap",
		"nDPI--fuzz-2006-09-29-28586.pcap",
		"zeek--gap-data-missing.pcapng",
		"suricata-verify--tls_DER-incomplete-header.pcap",
	};
	struct result want;
	uint8_t *d;
	size_t i, len;

	NEED_CORPUS();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		read_path(test_corpus_file(files[i]), NULL, &want);
		d = read_whole(test_corpus_file(files[i]), &len);
		check_pipe(d, len, 1000 + i * 777, &want);
		free(d);
	}
}
END_TEST

START_TEST(test_corpus_rewind)
{
	static const char *files[] = {
		"zeek--irc-dcc-send.pcapng",
		"zeek--gap-data-missing.pcapng",
		"tcpflow--jpegs.cap",
		"suricata-verify--tls_DER-incomplete-header.pcap",
	};
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct stats st;
	struct result r1, r2;
	size_t i;

	NEED_CORPUS();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		memset(&st, 0, sizeof(st));
		in = pcapio_open(test_corpus_file(files[i]), &st, err);
		ck_assert_ptr_nonnull(in);
		ck_assert_int_eq(pcapio_rewindable(in), 1);
		read_all(in, &r1);
		ck_assert_int_eq(pcapio_rewind(in, err), 0);
		read_all(in, &r2);
		ck_assert_uint_eq(r1.n, r2.n);
		ck_assert_int_eq(r1.rc, r2.rc);
		ck_assert_str_eq(r1.err, r2.err);
		ck_assert_uint_eq(r1.digest, r2.digest);
		ck_assert_uint_eq(st.packets_read, r1.n);
		pcapio_close(in);
	}
}
END_TEST

/* ---- live capture ---- */

/*
 * Live tests capture in a network namespace of their own, made fresh for
 * each test by the fixture (unshare(CLONE_NEWNET), the same as "ip netns
 * add" without a name to clean up): it holds only a loopback device and
 * the tun devices a test creates, and it vanishes with the process. Traffic
 * goes to 127.0.0.1 only; the host's interfaces are never touched. The
 * fixture returns to the original namespace after each test, so the suite
 * also runs with CK_FORK=no.
 */
struct live_env {
	int orig_ns;		/* the namespace to return to, -1 if none */
	char skip[256];		/* why live tests are skipped, "" if they run */
};

/* The fixture's state: Check fixtures take no argument. */
static struct live_env live;

/* Set by the SIGALRM handler of the interrupt test. */
static volatile sig_atomic_t live_stop;

#define NEED_LIVE()                                                     \
	do {                                                            \
		if (live.skip[0] != '\0') {                             \
			printf("%.*s: skipped (%s)\n",                  \
			    (int)strlen(__func__) - 3, __func__,        \
			    live.skip);                                 \
			return;                                         \
		}                                                       \
	} while (0)

/* Sets or clears IFF_UP on an interface of the current namespace. */
static int
link_set_up(const char *name, bool up)
{
	struct ifreq ifr;
	int s, r = -1;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		if (up)
			ifr.ifr_flags |= IFF_UP;
		else
			ifr.ifr_flags &= ~IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return r;
}

static void
live_setup(void)
{
	live.orig_ns = -1;
	live.skip[0] = '\0';
	if (geteuid() != 0) {
		snprintf(live.skip, sizeof(live.skip),
		    "live capture tests need root");
		return;
	}
	if ((live.orig_ns = open("/proc/self/ns/net", O_RDONLY |
	    O_CLOEXEC)) < 0 || unshare(CLONE_NEWNET) < 0) {
		snprintf(live.skip, sizeof(live.skip),
		    "network namespaces unavailable: %s", strerror(errno));
		if (live.orig_ns >= 0)
			close(live.orig_ns);
		live.orig_ns = -1;
		return;
	}
	if (link_set_up("lo", true) < 0)
		snprintf(live.skip, sizeof(live.skip),
		    "cannot bring up lo in a new namespace: %s",
		    strerror(errno));
}

static void
live_teardown(void)
{
	if (live.orig_ns < 0)
		return;
	ck_assert_int_eq(setns(live.orig_ns, CLONE_NEWNET), 0);
	close(live.orig_ns);
	live.orig_ns = -1;
}

/* Wall-clock time in ns, to bracket capture timestamps. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Monotonic milliseconds, to time reads. */
static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A UDP socket bound to 127.0.0.1:port. */
static int
udp_bound(uint16_t port)
{
	struct sockaddr_in a;
	int s;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	return s;
}

#define LIVE_MAX_PAYLOAD 2048

static void
live_payload(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Sends len pattern bytes from socket s to 127.0.0.1:port, and no further. */
static void
udp_send(int s, uint16_t port, size_t len, unsigned seed)
{
	uint8_t buf[LIVE_MAX_PAYLOAD];
	struct sockaddr_in a;

	ck_assert_uint_le(len, sizeof(buf));
	live_payload(buf, len, seed);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(sendto(s, buf, len, 0, (struct sockaddr *)&a,
	    sizeof(a)), (ssize_t)len);
}

/*
 * Reads the next record, allowing a few idle timeouts: on lo a datagram
 * reaches the capture before sendto returns, so none are expected.
 */
static int
live_read(struct pcapio_in *in, struct pcap_rec *rec, char *err)
{
	int r, idle = 0;

	while ((r = pcapio_next(in, rec, err)) == PCAPIO_IDLE && idle++ < 4)
		;
	return r;
}

/* Expects nothing more to arrive: the next read times out. */
static void
expect_idle(struct pcapio_in *in)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;

	ck_assert_int_eq(pcapio_next(in, &rec, err), PCAPIO_IDLE);
}

static uint32_t
rec_u32(const struct pcap_rec *rec, size_t i)
{
	uint32_t v;

	memcpy(&v, rec->hdr + 4 * i, sizeof(v));
	return v;
}

static uint16_t
be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Checks a captured 127.0.0.1 -> 127.0.0.1 UDP datagram on lo (Ethernet
 * framing: 14 + 20 + 8 bytes of headers) and its record header: host byte
 * order, microseconds, stamped between t0 and t1.
 */
static void
check_lo_udp(const struct pcap_rec *rec, uint32_t snaplen, uint16_t sport,
    uint16_t dport, size_t len, unsigned seed, uint64_t t0, uint64_t t1)
{
	static const uint8_t lo_ip[4] = { 127, 0, 0, 1 };
	uint8_t want[LIVE_MAX_PAYLOAD];
	uint32_t wirelen = (uint32_t)(42 + len);
	uint32_t caplen = wirelen < snaplen ? wirelen : snaplen;

	ck_assert_uint_eq(rec->wirelen, wirelen);
	ck_assert_uint_eq(rec->caplen, caplen);
	ck_assert_uint_eq(rec_u32(rec, 0), rec->ts_ns / NS);
	ck_assert_uint_eq(rec_u32(rec, 1), rec->ts_ns % NS / 1000);
	ck_assert_uint_eq(rec_u32(rec, 2), caplen);
	ck_assert_uint_eq(rec_u32(rec, 3), wirelen);
	ck_assert_uint_eq(rec->ts_ns % 1000, 0);
	ck_assert_uint_ge(rec->ts_ns + 1000, t0);
	ck_assert_uint_le(rec->ts_ns, t1);
	if (caplen < 42)
		return;
	ck_assert_uint_eq(be16_at(rec->data + 12), 0x0800);
	ck_assert_uint_eq(rec->data[14], 0x45);
	ck_assert_uint_eq(be16_at(rec->data + 16), 28 + len);
	ck_assert_uint_eq(rec->data[23], 17);
	ck_assert_mem_eq(rec->data + 26, lo_ip, 4);
	ck_assert_mem_eq(rec->data + 30, lo_ip, 4);
	ck_assert_uint_eq(be16_at(rec->data + 34), sport);
	ck_assert_uint_eq(be16_at(rec->data + 36), dport);
	ck_assert_uint_eq(be16_at(rec->data + 38), 8 + len);
	live_payload(want, len, seed);
	if (caplen > 42)
		ck_assert_mem_eq(rec->data + 42, want, caplen - 42);
}

/* Checks the 24-byte file header of a live input, field by field. */
static void
check_live_fhdr(const struct pcapio_in *in, uint32_t snaplen,
    uint32_t linktype)
{
	const uint8_t *h = pcapio_file_header(in);
	uint32_t magic, zone, sigfigs, snap, lt;
	uint16_t major, minor;

	memcpy(&magic, h, 4);
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	memcpy(&zone, h + 8, 4);
	memcpy(&sigfigs, h + 12, 4);
	memcpy(&snap, h + 16, 4);
	memcpy(&lt, h + 20, 4);
	ck_assert_uint_eq(magic, 0xa1b2c3d4U);
	ck_assert_uint_eq(major, 2);
	ck_assert_uint_eq(minor, 4);
	ck_assert_uint_eq(zone, 0);
	ck_assert_uint_eq(sigfigs, 0);
	ck_assert_uint_eq(snap, snaplen);
	ck_assert_uint_eq(lt, linktype);
}

static const struct {
	uint32_t snaplen;	/* asked for (0: libpcap's default) */
	uint32_t in_effect;	/* what pcapio_snaplen reports */
	bool promisc;
	size_t len;		/* UDP payload of each datagram */
} lo_cases[] = {
	{ 262144, 262144, true, 0 },
	{ 262144, 262144, true, 1000 },
	{ 65535, 65535, false, 1400 },
	{ 100, 100, true, 58 },		/* exactly the snap length */
	{ 64, 64, false, 200 },		/* cut inside the payload */
	{ 40, 40, true, 10 },		/* cut inside the UDP header */
	{ 0, 262144, true, 300 },
};

/*
 * Captures datagrams on lo at several snap lengths: link type, file header,
 * record headers, bytes, indexes and counters.
 */
START_TEST(test_live_lo)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;
	struct pcapio_in *in;
	struct stats st;
	uint64_t t0, t1, bytes = 0;
	int tx, rx;
	unsigned k;

	NEED_LIVE();
	memset(&st, 0, sizeof(st));
	in = pcapio_open_live("lo", lo_cases[_i].snaplen, 0,
	    lo_cases[_i].promisc, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_is_live(in), 1);
	ck_assert_str_eq(pcapio_device(in), "lo");
	ck_assert_int_eq(pcapio_linktype(in), LINKTYPE_ETHERNET);
	ck_assert_uint_eq(pcapio_snaplen(in), lo_cases[_i].in_effect);
	ck_assert_int_eq(pcapio_nano(in), 0);
	ck_assert_int_eq(pcapio_rewindable(in), 0);
	check_live_fhdr(in, lo_cases[_i].in_effect, LINKTYPE_ETHERNET);
	ck_assert_int_eq(pcapio_rewind(in, err), -1);
	ck_assert_str_eq(err,
	    "input cannot be read twice (not a regular file)");

	tx = udp_bound(40000);
	rx = udp_bound(9999);
	t0 = now_ns();
	for (k = 0; k < 3; k++)
		udp_send(tx, 9999, lo_cases[_i].len, k);
	t1 = now_ns();
	for (k = 0; k < 3; k++) {
		ck_assert_int_eq(live_read(in, &rec, err), 1);
		ck_assert_uint_eq(rec.index, k);
		check_lo_udp(&rec, lo_cases[_i].in_effect, 40000, 9999,
		    lo_cases[_i].len, k, t0, t1);
		bytes += rec.caplen;
	}
	expect_idle(in);
	ck_assert_uint_eq(st.packets_read, 3);
	ck_assert_uint_eq(st.bytes_read, bytes);
	ck_assert_uint_eq(st.packets_filtered, 0);
	close(tx);
	close(rx);
	pcapio_close(in);
}
END_TEST

/* Without traffic a read returns PCAPIO_IDLE after the timeout, no sooner. */
START_TEST(test_live_idle)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;
	struct pcapio_in *in;
	uint64_t t;
	int tx, rx, k;

	NEED_LIVE();
	in = pcapio_open_live("lo", 262144, 0, true, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	for (k = 0; k < 2; k++) {
		t = mono_ms();
		ck_assert_int_eq(pcapio_next(in, &rec, err), PCAPIO_IDLE);
		t = mono_ms() - t;
		ck_assert_uint_ge(t, PCAPIO_LIVE_TIMEOUT_MS - 10);
		ck_assert_uint_le(t, PCAPIO_LIVE_TIMEOUT_MS + 500);
	}
	/* A packet after idle periods is still delivered, and at once. */
	tx = udp_bound(40001);
	rx = udp_bound(9999);
	udp_send(tx, 9999, 5, 1);
	t = mono_ms();
	ck_assert_int_eq(pcapio_next(in, &rec, err), 1);
	ck_assert_uint_lt(mono_ms() - t, 100);
	ck_assert_uint_eq(rec.index, 0);
	ck_assert_uint_eq(rec.wirelen, 47);
	expect_idle(in);
	close(tx);
	close(rx);
	pcapio_close(in);
}
END_TEST

static void
on_live_alarm(int sig)
{
	(void)sig;
	live_stop = 1;
}

/*
 * A signal that sets the interrupt flag ends a blocked read (0, like the
 * end of a file) within the timeout; a signal that does not set it is
 * ignored; a set flag ends the input even with packets waiting.
 */
START_TEST(test_live_interrupt)
{
	static const volatile sig_atomic_t never = 0;
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	char err[PCAPIO_ERRBUF_SIZE];
	struct sigaction sa;
	struct pcap_rec rec;
	struct pcapio_in *in;
	uint64_t t;
	int tx, rx;

	NEED_LIVE();
	in = pcapio_open_live("lo", 262144, 0, true, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_live_alarm;	/* no SA_RESTART, as flowgrep */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);

	/* The flag of another input: the signal alone ends nothing. */
	pcapio_set_interrupt(in, &never);
	live_stop = 0;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(pcapio_next(in, &rec, err), PCAPIO_IDLE);
	ck_assert_int_eq(live_stop, 1);

	pcapio_set_interrupt(in, &live_stop);
	live_stop = 0;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	t = mono_ms();
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	t = mono_ms() - t;
	ck_assert_int_eq(live_stop, 1);
	ck_assert_uint_le(t, 50 + PCAPIO_LIVE_TIMEOUT_MS + 200);

	/* Once stopped, it stays stopped, though packets are waiting. */
	tx = udp_bound(40002);
	rx = udp_bound(9999);
	udp_send(tx, 9999, 5, 1);
	t = mono_ms();
	ck_assert_int_eq(pcapio_next(in, &rec, err), 0);
	ck_assert_uint_lt(mono_ms() - t, 50);
	live_stop = 0;
	ck_assert_int_eq(live_read(in, &rec, err), 1);
	ck_assert_uint_eq(rec.wirelen, 47);
	signal(SIGALRM, SIG_DFL);
	close(tx);
	close(rx);
	pcapio_close(in);
}
END_TEST

/* What a filter on lo lets through of datagrams to these ports, in order. */
static const uint16_t filter_ports[] = { 9997, 9998, 9999, 9999, 9998 };

static const struct {
	const char *expr;
	unsigned n;
	uint16_t ports[5];
} live_filter_cases[] = {
	{ "udp port 9999", 2, { 9999, 9999 } },
	{ "udp dst port 9998 or udp dst port 9997", 3, { 9997, 9998, 9998 } },
	{ "tcp", 0, { 0 } },
	{ "ip broadcast", 0, { 0 } },	/* lo's netmask is known */
	{ "udp", 5, { 9997, 9998, 9999, 9999, 9998 } },
};

/*
 * The filter runs in the kernel: only matching packets reach flowgrep, so
 * none are counted as filtered by pcapio.
 */
START_TEST(test_live_filter)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;
	struct pcapio_in *in;
	struct stats st;
	int tx, rx[3];
	size_t k;

	NEED_LIVE();
	memset(&st, 0, sizeof(st));
	in = pcapio_open_live("lo", 262144, 0, true, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_msg(pcapio_set_filter(in, live_filter_cases[_i].expr, err)
	    == 0, "%s", err);
	tx = udp_bound(40003);
	for (k = 0; k < 3; k++)
		rx[k] = udp_bound((uint16_t)(9997 + k));
	for (k = 0; k < sizeof(filter_ports) / sizeof(filter_ports[0]); k++)
		udp_send(tx, filter_ports[k], 16, (unsigned)k);
	for (k = 0; k < live_filter_cases[_i].n; k++) {
		ck_assert_int_eq(live_read(in, &rec, err), 1);
		ck_assert_uint_eq(rec.index, k);
		ck_assert_uint_eq(rec.caplen, 58);
		ck_assert_uint_eq(be16_at(rec.data + 36),
		    live_filter_cases[_i].ports[k]);
	}
	expect_idle(in);
	ck_assert_uint_eq(st.packets_read, live_filter_cases[_i].n);
	ck_assert_uint_eq(st.packets_filtered, 0);
	close(tx);
	for (k = 0; k < 3; k++)
		close(rx[k]);
	pcapio_close(in);
}
END_TEST

/*
 * Creates tun device name, up, in the test namespace; returns its fd (the
 * device lives while it is open) or -1 with a reason printed.
 */
static int
tun_create(const char *name)
{
	struct ifreq ifr;
	int fd;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0) {
		printf("tun device: skipped (/dev/net/tun: %s)\n",
		    strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || link_set_up(name, true) < 0) {
		printf("tun device: skipped (%s: %s)\n", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Writes an IPv4/UDP datagram to 127.0.0.1 into the tun device, which the
 * kernel receives on it (and drops: 127/8 is not routed from outside lo).
 * Returns its length; the bytes are left in pkt.
 */
static size_t
tun_inject(int fd, uint8_t *pkt, size_t len, unsigned seed)
{
	static const uint8_t head[28] = {
		0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0,
		127, 0, 0, 1, 127, 0, 0, 1,
		0x9c, 0x40, 0x27, 0x0f, 0, 0, 0, 0,
	};
	uint32_t sum = 0;
	size_t i, n = sizeof(head) + len;

	memcpy(pkt, head, sizeof(head));
	pkt[2] = (uint8_t)(n >> 8);
	pkt[3] = (uint8_t)n;
	pkt[24] = (uint8_t)((8 + len) >> 8);
	pkt[25] = (uint8_t)(8 + len);
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	pkt[10] = (uint8_t)(~sum >> 8);
	pkt[11] = (uint8_t)~sum;
	live_payload(pkt + sizeof(head), len, seed);
	ck_assert_int_eq(write(fd, pkt, n), (ssize_t)n);
	return n;
}

/*
 * A tun device has no link layer: libpcap reports DLT_RAW (12 on Linux),
 * which files must carry as LINKTYPE_RAW (101). It is also the default
 * device once it exists, since lo does not count. An interface taken down
 * and up again pauses the capture; one that disappears ends it with an
 * error naming it.
 */
START_TEST(test_live_tun)
{
	char err[PCAPIO_ERRBUF_SIZE];
	uint8_t pkt[LIVE_MAX_PAYLOAD];
	struct pcap_rec rec;
	struct pcapio_in *in;
	struct stats st;
	uint64_t t;
	size_t n;
	int fd, k;

	NEED_LIVE();
	ck_assert_ptr_null(pcapio_open_live(NULL, 262144, 0, true, NULL, err));
	ck_assert_str_eq(err, "no capture device found");
	if ((fd = tun_create("fgtun0")) < 0)
		return;
	memset(&st, 0, sizeof(st));
	in = pcapio_open_live(NULL, 262144, 0, true, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_str_eq(pcapio_device(in), "fgtun0");
	ck_assert_int_eq(pcapio_linktype(in), LINKTYPE_RAW);
	check_live_fhdr(in, 262144, LINKTYPE_RAW);
	/* No IPv4 address on it: the netmask is unknown. */
	ck_assert_int_eq(pcapio_set_filter(in, "ip broadcast", err), -1);
	ck_assert_str_eq(err,
	    "netmask not known, so 'ip broadcast' not supported");
	ck_assert_int_eq(pcapio_set_filter(in, "udp dst port 9999", err), 0);

	n = tun_inject(fd, pkt, 100, 7);
	ck_assert_int_eq(live_read(in, &rec, err), 1);
	ck_assert_uint_eq(rec.caplen, n);
	ck_assert_uint_eq(rec.wirelen, n);
	ck_assert_mem_eq(rec.data, pkt, n);
	ck_assert_uint_eq(rec_u32(&rec, 2), n);
	ck_assert_uint_eq(st.packets_read, 1);

	/* Down is a pause (as in tcpdump): reads idle, then resume. */
	ck_assert_int_eq(link_set_up("fgtun0", false), 0);
	for (k = 0; k < 2; k++) {
		t = mono_ms();
		ck_assert_int_eq(pcapio_next(in, &rec, err), PCAPIO_IDLE);
		ck_assert_uint_ge(mono_ms() - t, PCAPIO_LIVE_TIMEOUT_MS - 10);
	}
	ck_assert_int_eq(link_set_up("fgtun0", true), 0);
	n = tun_inject(fd, pkt, 50, 8);
	ck_assert_int_eq(live_read(in, &rec, err), 1);
	ck_assert_mem_eq(rec.data, pkt, n);
	ck_assert_uint_eq(rec.index, 1);

	/* A device that goes away ends the capture, and for good. */
	close(fd);
	ck_assert_int_eq(live_read(in, &rec, err), -1);
	ck_assert_str_eq(err, "fgtun0: The interface disappeared");
	err[0] = '\0';
	ck_assert_int_eq(pcapio_next(in, &rec, err), -1);
	ck_assert_str_eq(err, "fgtun0: The interface disappeared");
	pcapio_close(in);
}
END_TEST

/*
 * The "any" pseudo device: Linux cooked headers (DLT_LINUX_SLL), which it
 * never picks as the default device. In this namespace it sees only lo.
 */
START_TEST(test_live_any)
{
	static const uint8_t lo_ip[4] = { 127, 0, 0, 1 };
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcap_rec rec;
	struct pcapio_in *in;
	int tx, rx;

	NEED_LIVE();
	in = pcapio_open_live("any", 262144, 0, false, NULL, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_linktype(in), LINKTYPE_LINUX_SLL);
	check_live_fhdr(in, 262144, LINKTYPE_LINUX_SLL);
	tx = udp_bound(40005);
	rx = udp_bound(9999);
	udp_send(tx, 9999, 10, 3);
	ck_assert_int_eq(live_read(in, &rec, err), 1);
	ck_assert_uint_eq(rec.caplen, 16 + 28 + 10);
	ck_assert_uint_eq(be16_at(rec.data + 14), 0x0800);
	ck_assert_mem_eq(rec.data + 16 + 16, lo_ip, 4);
	ck_assert_uint_eq(be16_at(rec.data + 16 + 22), 9999);
	expect_idle(in);
	close(tx);
	close(rx);
	pcapio_close(in);
}
END_TEST

/*
 * Kernel drops: packets that arrive while nobody reads overflow the capture
 * ring. On a tun device each injected packet is seen once, so every one is
 * either read or counted as dropped. On lo the counter moves too, but not
 * per datagram: the outgoing copy of each one also reaches the ring before
 * libpcap discards it.
 */
START_TEST(test_live_drops)
{
	enum { SENT = 400 };
	char err[PCAPIO_ERRBUF_SIZE];
	uint8_t pkt[LIVE_MAX_PAYLOAD];
	struct pcap_rec rec;
	struct pcapio_in *in;
	struct stats st;
	uint64_t n = 0;
	int tx, rx, fd, k, r;

	NEED_LIVE();
	memset(&st, 0, sizeof(st));
	st.kernel_drops = 12345;
	in = pcapio_open_live("lo", 262144, 0, true, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_set_filter(in, "udp port 9999", err), 0);
	pcapio_update_drops(in);
	ck_assert_uint_eq(st.kernel_drops, 0);
	tx = udp_bound(40004);
	rx = udp_bound(9999);
	for (k = 0; k < SENT; k++)
		udp_send(tx, 9999, 100, (unsigned)k);
	pcapio_update_drops(in);
	ck_assert_uint_gt(st.kernel_drops, 0);
	close(tx);
	close(rx);
	pcapio_close(in);

	if ((fd = tun_create("fgtun0")) < 0)
		return;
	memset(&st, 0, sizeof(st));
	in = pcapio_open_live("fgtun0", 262144, 0, true, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	for (k = 0; k < SENT; k++)
		tun_inject(fd, pkt, 100, (unsigned)k);
	pcapio_update_drops(in);
	ck_assert_uint_gt(st.kernel_drops, 0);
	ck_assert_uint_lt(st.kernel_drops, SENT);
	while ((r = pcapio_next(in, &rec, err)) == 1) {
		ck_assert_uint_eq(rec.caplen, 128);
		n++;
	}
	ck_assert_int_eq(r, PCAPIO_IDLE);
	ck_assert_uint_eq(st.packets_read, n);
	pcapio_update_drops(in);
	ck_assert_uint_eq(n + st.kernel_drops, SENT);
	/* Reading the counters again adds nothing. */
	pcapio_update_drops(in);
	ck_assert_uint_eq(n + st.kernel_drops, SENT);
	pcapio_close(in);
	close(fd);
}
END_TEST

/* Files have no device and no kernel counters. */
START_TEST(test_live_file_is_not_live)
{
	struct bytes b = { 0 };
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct stats st;
	char *path = tmp_path();

	pcap_hdr(&b, false, false, 2, 4, 65535, 1);
	write_file(path, b.p, b.len);
	memset(&st, 0, sizeof(st));
	st.kernel_drops = 7;
	in = pcapio_open(path, &st, err);
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_int_eq(pcapio_is_live(in), 0);
	ck_assert_ptr_null(pcapio_device(in));
	pcapio_update_drops(in);
	ck_assert_uint_eq(st.kernel_drops, 7);
	pcapio_close(in);
	unlink(path);
	free(path);
	free(b.p);
}
END_TEST

#define NOBODY 65534

static const struct {
	const char *device;
	uid_t uid;
	const char *err;
} live_open_cases[] = {
	{ "nosuchdev0", 0, "nosuchdev0: no such device" },
	{ "averyveryverylongdevicename0", 0,
	    "averyveryverylongdevicename0: no such device" },
	{ "", 0, "empty device name" },
	{ "lo", NOBODY,
	    "lo: permission denied: capturing needs root or CAP_NET_RAW" },
	{ "nosuchdev0", NOBODY, "nosuchdev0: permission denied: "
	    "capturing needs root or CAP_NET_RAW" },
};

/*
 * Open errors, as root and as nobody. The open runs in a child, which
 * drops to the case's user first and reports its error text on a pipe.
 */
START_TEST(test_live_open_errors)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	ssize_t n;
	size_t got = 0;
	pid_t pid;
	int fds[2];

	NEED_LIVE();
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (live_open_cases[_i].uid != 0 && (setgroups(0, NULL) < 0 ||
		    setgid(live_open_cases[_i].uid) < 0 ||
		    setuid(live_open_cases[_i].uid) < 0))
			snprintf(err, sizeof(err), "setuid: %s",
			    strerror(errno));
		else if ((in = pcapio_open_live(live_open_cases[_i].device,
		    262144, 0, true, NULL, err)) != NULL) {
			snprintf(err, sizeof(err), "opened");
			pcapio_close(in);
		}
		n = write(fds[1], err, strlen(err));
		_exit(n < 0);
	}
	close(fds[1]);
	while ((n = read(fds[0], err + got, sizeof(err) - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(fds[0]);
	reap(pid);
	ck_assert_str_eq(err, live_open_cases[_i].err);
}
END_TEST

static Suite *
pcapio_suite(void)
{
	Suite *s = suite_create("pcapio");
	TCase *tc;

	tc = tcase_create("synthetic");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_open_header, 0,
	    (int)(sizeof(open_cases) / sizeof(open_cases[0])));
	tcase_add_test(tc, test_open_misc_errors);
	tcase_add_loop_test(tc, test_pcap_variants, 0, 4);
	tcase_add_test(tc, test_pcap_lengths_swapped);
	tcase_add_test(tc, test_pcap_caplen_limit);
	tcase_add_test(tc, test_pcap_truncated_synthetic);
	tcase_add_test(tc, test_pcapng_mixed);
	tcase_add_test(tc, test_pcapng_output_interface);
	tcase_add_test(tc, test_pcapng_damage);
	tcase_add_test(tc, test_pcapng_open_errors);
	tcase_add_test(tc, test_pcapng_truncated_synthetic);
	tcase_add_test(tc, test_pipe_synthetic);
	tcase_add_test(tc, test_pipe_chunks);
	tcase_add_test(tc, test_pipe_chunks_thread);
	tcase_add_test(tc, test_pipe_read_ahead);
	tcase_add_test(tc, test_pipe_eintr);
	tcase_add_test(tc, test_pipe_size);
	tcase_add_test(tc, test_stdin_file_rewind);
	tcase_add_test(tc, test_readahead_synthetic);
	tcase_add_test(tc, test_readahead_random);
	tcase_add_test(tc, test_copy_ahead);
	tcase_add_test(tc, test_filter_synthetic);
	tcase_add_test(tc, test_write_roundtrip_synthetic);
	tcase_add_test(tc, test_write_unbuffered_and_big);
	tcase_add_test(tc, test_write_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("corpus");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_corpus_table_complete);
	tcase_add_loop_test(tc, test_corpus_each, 0, (int)NCORPUS);
	tcase_add_loop_test(tc, test_corpus_vs_libpcap, 0, (int)NCORPUS);
	tcase_add_test(tc, test_corpus_roundtrip);
	tcase_add_test(tc, test_corpus_timestamps);
	tcase_add_test(tc, test_corpus_pcapng_output);
	tcase_add_test(tc, test_corpus_truncated);
	tcase_add_test(tc, test_corpus_truncated_read_ahead);
	tcase_add_test(tc, test_corpus_filter);
	tcase_add_test(tc, test_corpus_pipe);
	tcase_add_test(tc, test_corpus_rewind);
	suite_add_tcase(s, tc);

	tc = tcase_create("live");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, live_setup, live_teardown);
	tcase_add_loop_test(tc, test_live_lo, 0,
	    (int)(sizeof(lo_cases) / sizeof(lo_cases[0])));
	tcase_add_test(tc, test_live_idle);
	tcase_add_test(tc, test_live_interrupt);
	tcase_add_loop_test(tc, test_live_filter, 0,
	    (int)(sizeof(live_filter_cases) / sizeof(live_filter_cases[0])));
	tcase_add_test(tc, test_live_tun);
	tcase_add_test(tc, test_live_any);
	tcase_add_test(tc, test_live_drops);
	tcase_add_test(tc, test_live_file_is_not_live);
	tcase_add_loop_test(tc, test_live_open_errors, 0,
	    (int)(sizeof(live_open_cases) / sizeof(live_open_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pcapio_suite());
	int failed;

	if (test_corpus_dir() == NULL)
		printf("check_pcapio: corpus absent, corpus tests skipped\n");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
