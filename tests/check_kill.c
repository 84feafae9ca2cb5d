/* check_kill.c: dry-run RSTs checked field by field; live kills in netns. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kill.h"

#define LT_ETHERNET 1
#define LT_RAW 101
#define LT_SLL 113

#define TH_RST_ 0x04
#define TH_ACK_ 0x10

/* Records a test file may hold, and bytes per record: RSTs are small. */
#define RD_MAX_RECS 64
#define RD_MAX_LEN 128

/* ---- reading a dry-run file back (classic pcap, host byte order) ---- */

struct rd_rec {
	uint32_t ts_sec;
	uint32_t ts_usec;
	uint32_t caplen;
	uint32_t len;
	uint8_t data[RD_MAX_LEN];
};

struct rd_file {
	uint32_t magic;
	uint16_t vmajor;
	uint16_t vminor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
	int nrec;
	struct rd_rec rec[RD_MAX_RECS];
};

static uint32_t
h32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t
h16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Reads the whole file; fails the test on any malformation. */
static struct rd_file *
rd_read(const char *path)
{
	struct rd_file *f = calloc(1, sizeof(*f));
	uint8_t h[24];
	FILE *fp;
	struct rd_rec *r;
	size_t n;

	ck_assert_ptr_nonnull(f);
	fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fread(h, 1, 24, fp), 24);
	f->magic = h32(h);
	f->vmajor = h16(h + 4);
	f->vminor = h16(h + 6);
	f->thiszone = (int32_t)h32(h + 8);
	f->sigfigs = h32(h + 12);
	f->snaplen = h32(h + 16);
	f->linktype = h32(h + 20);
	for (;;) {
		n = fread(h, 1, 16, fp);
		if (n == 0)
			break;
		ck_assert_uint_eq(n, 16);
		ck_assert_int_lt(f->nrec, RD_MAX_RECS);
		r = &f->rec[f->nrec++];
		r->ts_sec = h32(h);
		r->ts_usec = h32(h + 4);
		r->caplen = h32(h + 8);
		r->len = h32(h + 12);
		ck_assert_uint_le(r->caplen, RD_MAX_LEN);
		ck_assert_uint_eq(fread(r->data, 1, r->caplen, fp), r->caplen);
	}
	fclose(fp);
	return f;
}

static char *
tmp_path(void)
{
	char *p = strdup("/tmp/check_kill.XXXXXX");
	int fd;

	ck_assert_ptr_nonnull(p);
	fd = mkstemp(p);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return p;
}

/* ---- checksums, recomputed independently of libnet (RFC 1071) ---- */

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += be16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t
fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* A correct checksum makes the sum over the covered bytes 0xffff. */
static bool
tcp_sum_ok(uint8_t ipver, const uint8_t *ip, const uint8_t *tcp,
    uint32_t tcplen)
{
	uint32_t acc = 0;

	if (ipver == 4)
		acc = sum16(ip + 12, 8, 0);
	else
		acc = sum16(ip + 8, 32, 0);
	acc += 6 + tcplen;
	acc = sum16(tcp, tcplen, acc);
	return fold(acc) == 0xffff;
}

/* ---- the cases ---- */

static const uint8_t C4[16] = { 192, 168, 10, 84 };
static const uint8_t S4[16] = { 10, 0, 0, 1 };
static const uint8_t C6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0x84 };
static const uint8_t S6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
	0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55 };
static const uint8_t CMAC[6] = { 0x02, 0x00, 0x00, 0xc1, 0xc2, 0xc3 };
static const uint8_t SMAC[6] = { 0x00, 0x1b, 0x21, 0x5a, 0x5b, 0x5c };

/* VLAN tag layouts of the observed frame: TPID/TCI pairs, outer first. */
enum tags { UNTAGGED, DOT1Q, QINQ };

struct kcase {
	const char *name;
	uint8_t ipver;
	uint16_t cport;
	uint16_t sport;
	uint32_t cnext;
	uint32_t snext;
	bool cknown;
	bool sknown;
	enum tags tags;
	bool from_client;
	int want;		/* RSTs killer_kill returns */
};

static const struct kcase cases[] = {
	{ "v4 established", 4, 28318, 22, 1000, 5000, true, true,
	    UNTAGGED, true, 2 },
	{ "v4 from server, wrapping numbers", 4, 65535, 80, 0xffffffffU, 0,
	    true, true, UNTAGGED, false, 2 },
	{ "v6 802.1Q from server", 6, 40000, 443, 0x80000000U, 0x7fffffffU,
	    true, true, DOT1Q, false, 2 },
	{ "v6 QinQ from client", 6, 1, 65535, 123456789, 987654321, true,
	    true, QINQ, true, 2 },
	{ "v4 QinQ from server", 4, 5555, 25, 42, 43, true, true, QINQ,
	    false, 2 },
	{ "v4 client next unknown", 4, 1234, 80, 0, 777, false, true,
	    DOT1Q, true, 1 },
	{ "v6 server next unknown", 6, 1234, 80, 888, 0, true, false,
	    UNTAGGED, false, 1 },
	{ "v4 both unknown", 4, 1234, 80, 0, 0, false, false, UNTAGGED,
	    true, 0 },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Link header bytes of one observed frame for a case; returns its length. */
static uint32_t
make_link(const struct kcase *c, uint8_t *l)
{
	uint32_t n = 12;

	memcpy(l, c->from_client ? SMAC : CMAC, 6);
	memcpy(l + 6, c->from_client ? CMAC : SMAC, 6);
	if (c->tags == QINQ) {
		memcpy(l + n, "\x88\xa8\x00\x0a", 4);	/* S-tag, VID 10 */
		n += 4;
	}
	if (c->tags != UNTAGGED) {
		memcpy(l + n, "\x81\x00\x20\x64", 4);	/* PCP 1, VID 100 */
		n += 4;
	}
	l[n++] = c->ipver == 4 ? 0x08 : 0x86;
	l[n++] = c->ipver == 4 ? 0x00 : 0xdd;
	return n;
}

static uint64_t
case_ts(size_t i)
{
	return 1600000000ULL * 1000000000ULL + i * 1000000000ULL +
	    123456789ULL;
}

static void
make_target(const struct kcase *c, size_t i, uint8_t *link,
    struct kill_target *t)
{
	memset(t, 0, sizeof(*t));
	t->ts_ns = case_ts(i);
	t->ipver = c->ipver;
	t->client_addr = c->ipver == 4 ? C4 : C6;
	t->server_addr = c->ipver == 4 ? S4 : S6;
	t->client_port = c->cport;
	t->server_port = c->sport;
	t->client_next = c->cnext;
	t->server_next = c->snext;
	t->client_next_known = c->cknown;
	t->server_next_known = c->sknown;
	t->linktype = LT_ETHERNET;
	t->link = link;
	t->link_len = make_link(c, link);
	t->link_from_client = c->from_client;
}

/*
 * Checks every field of one RST record against the case: link header (when
 * eth), IP header, TCP header, checksums. to_server says which of the two.
 * ip_id is the IPv4 ID expected (the killer numbers them 1, 2, ...).
 */
static void
check_rst(const struct rd_rec *r, const struct kcase *c, size_t ci,
    bool eth, bool to_server, uint16_t ip_id)
{
	const uint8_t *p = r->data, *ip, *tcp;
	const uint8_t *csrc = c->ipver == 4 ? C4 : C6;
	const uint8_t *ssrc = c->ipver == 4 ? S4 : S6;
	uint8_t link[32];
	uint32_t linklen = 0, iphl = c->ipver == 4 ? 20 : 40;
	uint8_t flags;

	ck_assert_uint_eq(r->ts_sec, case_ts(ci) / 1000000000ULL);
	ck_assert_uint_eq(r->ts_usec, 123456);
	ck_assert_uint_eq(r->caplen, r->len);
	if (eth) {
		linklen = make_link(c, link);
		/* Addresses as a frame toward that endpoint carries them. */
		ck_assert_mem_eq(p, to_server ? SMAC : CMAC, 6);
		ck_assert_mem_eq(p + 6, to_server ? CMAC : SMAC, 6);
		/* Tags and ethertype exactly as observed. */
		ck_assert_mem_eq(p + 12, link + 12, linklen - 12);
		ck_assert_uint_eq(be16(p + linklen - 2),
		    c->ipver == 4 ? 0x0800 : 0x86dd);
	}
	ck_assert_uint_eq(r->len, linklen + iphl + 20);
	ip = p + linklen;
	tcp = ip + iphl;
	if (c->ipver == 4) {
		ck_assert_uint_eq(ip[0], 0x45);		/* version, IHL */
		ck_assert_uint_eq(ip[1], 0);		/* DSCP/ECN */
		ck_assert_uint_eq(be16(ip + 2), 40);	/* total length */
		ck_assert_uint_eq(be16(ip + 4), ip_id);
		ck_assert_uint_eq(be16(ip + 6), 0);	/* flags, offset */
		ck_assert_uint_eq(ip[8], 64);		/* TTL */
		ck_assert_uint_eq(ip[9], 6);		/* TCP */
		ck_assert_uint_eq(fold(sum16(ip, 20, 0)), 0xffff);
		ck_assert_uint_ne(be16(ip + 10), 0);
		ck_assert_mem_eq(ip + 12, to_server ? csrc : ssrc, 4);
		ck_assert_mem_eq(ip + 16, to_server ? ssrc : csrc, 4);
	} else {
		/* Version 6, traffic class 0, flow label 0. */
		ck_assert_uint_eq(be32(ip), 0x60000000U);
		ck_assert_uint_eq(be16(ip + 4), 20);	/* payload length */
		ck_assert_uint_eq(ip[6], 6);		/* next header TCP */
		ck_assert_uint_eq(ip[7], 64);		/* hop limit */
		ck_assert_mem_eq(ip + 8, to_server ? csrc : ssrc, 16);
		ck_assert_mem_eq(ip + 24, to_server ? ssrc : csrc, 16);
	}
	ck_assert_uint_eq(be16(tcp), to_server ? c->cport : c->sport);
	ck_assert_uint_eq(be16(tcp + 2), to_server ? c->sport : c->cport);
	ck_assert_uint_eq(be32(tcp + 4), to_server ? c->cnext : c->snext);
	/* ACK set, with the peer's next number, only when that is known. */
	if (to_server ? c->sknown : c->cknown) {
		flags = TH_RST_ | TH_ACK_;
		ck_assert_uint_eq(be32(tcp + 8),
		    to_server ? c->snext : c->cnext);
	} else {
		flags = TH_RST_;
		ck_assert_uint_eq(be32(tcp + 8), 0);
	}
	ck_assert_uint_eq(tcp[12], 0x50);	/* data offset 5, reserved 0 */
	ck_assert_uint_eq(tcp[13], flags);
	ck_assert_uint_eq(be16(tcp + 14), 0);	/* window */
	ck_assert_uint_eq(be16(tcp + 18), 0);	/* urgent pointer */
	ck_assert_msg(tcp_sum_ok(c->ipver, ip, tcp, 20),
	    "%s: bad TCP checksum", c->name);
}

/*
 * Kills every case through a dry run and checks the file: header, then the
 * records in order (to the server first), every field of each.
 */
static void
run_cases(enum kill_via via, int capture_linktype, bool eth)
{
	char errbuf[KILL_ERRBUF_SIZE] = "";
	struct kill_target t;
	struct killer *k;
	struct rd_file *f;
	uint8_t link[32];
	char *path = tmp_path();
	uint16_t id = 0;
	uint64_t total = 0;
	size_t i;
	int n, rec = 0;

	k = killer_open_dry_run(path, via, capture_linktype, errbuf);
	ck_assert_msg(k != NULL, "%s", errbuf);
	for (i = 0; i < NCASES; i++) {
		make_target(&cases[i], i, link, &t);
		if (!eth)
			t.linktype = capture_linktype;
		n = killer_kill(k, &t, errbuf);
		ck_assert_msg(n == cases[i].want, "%s: %d (%s)",
		    cases[i].name, n, errbuf);
		total += (uint64_t)n;
		ck_assert_uint_eq(killer_sent(k), total);
	}
	ck_assert_int_eq(killer_close(k, errbuf), 0);

	f = rd_read(path);
	ck_assert_uint_eq(f->magic, 0xa1b2c3d4U);
	ck_assert_uint_eq(f->vmajor, 2);
	ck_assert_uint_eq(f->vminor, 4);
	ck_assert_int_eq(f->thiszone, 0);
	ck_assert_uint_eq(f->sigfigs, 0);
	ck_assert_uint_eq(f->snaplen, 65535);
	ck_assert_uint_eq(f->linktype, eth ? LT_ETHERNET : LT_RAW);
	ck_assert_uint_eq((uint64_t)f->nrec, total);
	for (i = 0; i < NCASES; i++) {
		const struct kcase *c = &cases[i];

		if (c->cknown) {
			if (c->ipver == 4)
				id++;
			check_rst(&f->rec[rec++], c, i, eth, true, id);
		}
		if (c->sknown) {
			if (c->ipver == 4)
				id++;
			check_rst(&f->rec[rec++], c, i, eth, false, id);
		}
	}
	free(f);
	unlink(path);
	free(path);
}

START_TEST(test_dry_run_ethernet)
{
	run_cases(KILL_VIA_LINK, LT_ETHERNET, true);
}
END_TEST

/* Raw IP: asked for (--kill-via ip), or forced by a non-Ethernet capture. */
START_TEST(test_dry_run_raw)
{
	run_cases(KILL_VIA_IP, LT_ETHERNET, false);
	run_cases(KILL_VIA_IP, LT_SLL, false);
	run_cases(KILL_VIA_LINK, LT_SLL, false);
	run_cases(KILL_VIA_LINK, LT_RAW, false);
}
END_TEST

/* Observed link headers a link-layer kill must refuse, and why. */
static const struct {
	const char *name;
	uint8_t ipver;
	int linktype;
	const char *link;
	uint32_t len;
	const char *err;
} bad_links[] = {
	{ "SLL capture", 4, LT_SLL,
	    "\x00\x00\x00\x01\x00\x06\x02\x00\x00\xc1\xc2\xc3\x00\x00\x08\x00",
	    16, "link-layer kill needs an Ethernet capture "
	    "(use --kill-via ip)" },
	{ "raw IP capture", 6, LT_RAW, "", 0,
	    "link-layer kill needs an Ethernet capture (use --kill-via ip)" },
	{ "no header", 4, LT_ETHERNET, "\x00\x1b\x21", 3,
	    "link-layer kill: no Ethernet header observed for this "
	    "connection" },
	{ "ARP ethertype", 4, LT_ETHERNET,
	    "\x00\x1b\x21\x5a\x5b\x5c\x02\x00\x00\xc1\xc2\xc3\x08\x06", 14,
	    "link-layer kill: the observed frame does not carry IPv4 right "
	    "after Ethernet (ethertype 0x0806; use --kill-via ip)" },
	{ "IPv4 ethertype for IPv6", 6, LT_ETHERNET,
	    "\x00\x1b\x21\x5a\x5b\x5c\x02\x00\x00\xc1\xc2\xc3\x08\x00", 14,
	    "link-layer kill: the observed frame does not carry IPv6 right "
	    "after Ethernet (ethertype 0x0800; use --kill-via ip)" },
	{ "PPPoE between", 4, LT_ETHERNET,
	    "\x00\x1b\x21\x5a\x5b\x5c\x02\x00\x00\xc1\xc2\xc3\x88\x64"
	    "\x11\x00\x00\x01\x00\x2a\x00\x21", 22,
	    "link-layer kill: the observed frame does not carry IPv4 right "
	    "after Ethernet (ethertype 0x8864; use --kill-via ip)" },
	{ "three tags", 4, LT_ETHERNET,
	    "\x00\x1b\x21\x5a\x5b\x5c\x02\x00\x00\xc1\xc2\xc3"
	    "\x88\xa8\x00\x01\x81\x00\x00\x02\x81\x00\x00\x03\x08\x00", 26,
	    "link-layer kill: more than 2 VLAN tags (use --kill-via ip)" },
	{ "truncated tag", 4, LT_ETHERNET,
	    "\x00\x1b\x21\x5a\x5b\x5c\x02\x00\x00\xc1\xc2\xc3\x81\x00\x00",
	    15, "link-layer kill: truncated VLAN tag in the observed frame" },
	{ "bytes after ethertype", 4, LT_ETHERNET,
	    "\x00\x1b\x21\x5a\x5b\x5c\x02\x00\x00\xc1\xc2\xc3\x08\x00\x45",
	    15, "link-layer kill: the observed frame does not carry IPv4 "
	    "right after Ethernet (ethertype 0x0800; use --kill-via ip)" },
};

START_TEST(test_bad_link)
{
	char errbuf[KILL_ERRBUF_SIZE];
	struct kill_target t;
	struct killer *k;
	struct rd_file *f;
	char *path = tmp_path();
	uint8_t link[32];
	size_t i;

	k = killer_open_dry_run(path, KILL_VIA_LINK, LT_ETHERNET, errbuf);
	ck_assert_msg(k != NULL, "%s", errbuf);
	for (i = 0; i < sizeof(bad_links) / sizeof(bad_links[0]); i++) {
		make_target(&cases[0], 0, link, &t);
		t.ipver = bad_links[i].ipver;
		t.client_addr = t.ipver == 4 ? C4 : C6;
		t.server_addr = t.ipver == 4 ? S4 : S6;
		t.linktype = bad_links[i].linktype;
		t.link = (const uint8_t *)bad_links[i].link;
		t.link_len = bad_links[i].len;
		errbuf[0] = '\0';
		ck_assert_msg(killer_kill(k, &t, errbuf) == -1, "%s",
		    bad_links[i].name);
		ck_assert_str_eq(errbuf, bad_links[i].err);
	}
	/* Not IP at all. */
	make_target(&cases[0], 0, link, &t);
	t.ipver = 0;
	ck_assert_int_eq(killer_kill(k, &t, errbuf), -1);
	ck_assert_str_eq(errbuf, "kill: not an IPv4 or IPv6 connection");
	ck_assert_uint_eq(killer_sent(k), 0);
	ck_assert_int_eq(killer_close(k, errbuf), 0);
	f = rd_read(path);
	ck_assert_int_eq(f->nrec, 0);
	ck_assert_uint_eq(f->linktype, LT_ETHERNET);
	free(f);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_open_errors)
{
	char errbuf[KILL_ERRBUF_SIZE];

	ck_assert_ptr_null(killer_open_dry_run("/nonexistent/dir/x.pcap",
	    KILL_VIA_LINK, LT_ETHERNET, errbuf));
	ck_assert_str_eq(errbuf,
	    "/nonexistent/dir/x.pcap: No such file or directory");
	/* The device is checked before privileges: a typo is named. */
	ck_assert_ptr_null(killer_open("nosuchdev0", KILL_VIA_LINK, errbuf));
	ck_assert_str_eq(errbuf, "no such device: nosuchdev0");
	ck_assert_ptr_null(killer_open(NULL, KILL_VIA_LINK, errbuf));
	ck_assert_str_eq(errbuf,
	    "link-layer kill needs a capture device (use --kill-via ip)");
	ck_assert_int_eq(killer_close(NULL, errbuf), 0);
}
END_TEST

/* A dry run whose file cannot be written fails, at the latest on close. */
START_TEST(test_write_error)
{
	char errbuf[KILL_ERRBUF_SIZE];
	struct kill_target t;
	struct killer *k;
	uint8_t link[32];
	int i, rc = 0;

	if (access("/dev/full", W_OK) != 0) {
		printf("check_kill: /dev/full absent, write error skipped\n");
		return;
	}
	k = killer_open_dry_run("/dev/full", KILL_VIA_LINK, LT_ETHERNET,
	    errbuf);
	ck_assert_msg(k != NULL, "%s", errbuf);
	make_target(&cases[0], 0, link, &t);
	/* stdio buffers: enough RSTs to make it write. */
	for (i = 0; i < 200 && rc != -1; i++)
		rc = killer_kill(k, &t, errbuf);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(errbuf,
	    "writing the dry-run file: No space left on device");
	ck_assert_int_eq(killer_close(k, errbuf), -1);
	ck_assert_str_eq(errbuf,
	    "writing the dry-run file: No space left on device");
}
END_TEST

/*
 * tshark as an independent oracle: it parses every RST of the Ethernet dry
 * run (VLAN tags included) and finds the IP and TCP checksums good.
 */
START_TEST(test_tshark)
{
	static const char *want[] = {
		"192.168.10.84,,28318,22,1000,5000,0x0014,0,1,1",
		"10.0.0.1,,22,28318,5000,1000,0x0014,0,1,1",
		"192.168.10.84,,65535,80,4294967295,0,0x0014,0,1,1",
		"10.0.0.1,,80,65535,0,4294967295,0x0014,0,1,1",
		",2001:db8::84,40000,443,2147483648,2147483647,0x0014,0,,1",
		",2001:db8:0:1:211:22ff:fe33:4455,443,40000,2147483647,"
		    "2147483648,0x0014,0,,1",
		",2001:db8::84,1,65535,123456789,987654321,0x0014,0,,1",
		",2001:db8:0:1:211:22ff:fe33:4455,65535,1,987654321,"
		    "123456789,0x0014,0,,1",
		"192.168.10.84,,5555,25,42,43,0x0014,0,1,1",
		"10.0.0.1,,25,5555,43,42,0x0014,0,1,1",
		"10.0.0.1,,80,1234,777,0,0x0004,0,1,1",
		",2001:db8::84,1234,80,888,0,0x0004,0,,1",
	};
	char errbuf[KILL_ERRBUF_SIZE], cmd[1024], line[512];
	struct kill_target t;
	struct killer *k;
	uint8_t link[32];
	char *path;
	FILE *p;
	size_t i, n = 0;

	if (system("tshark -v >/dev/null 2>&1") != 0) {
		printf("check_kill: tshark absent, tshark oracle skipped\n");
		return;
	}
	path = tmp_path();
	k = killer_open_dry_run(path, KILL_VIA_LINK, LT_ETHERNET, errbuf);
	ck_assert_msg(k != NULL, "%s", errbuf);
	for (i = 0; i < NCASES; i++) {
		make_target(&cases[i], i, link, &t);
		ck_assert_int_eq(killer_kill(k, &t, errbuf), cases[i].want);
	}
	ck_assert_int_eq(killer_close(k, errbuf), 0);
	/* Checksum status 1 is "Good" in tshark 4.0 (0 bad, 2 unverified). */
	snprintf(cmd, sizeof(cmd), "tshark -n -r %s "
	    "-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE "
	    "-T fields -E separator=, -e ip.src -e ipv6.src "
	    "-e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw "
	    "-e tcp.flags -e tcp.window_size_value -e ip.checksum.status "
	    "-e tcp.checksum.status 2>/dev/null", path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		ck_assert_uint_lt(n, sizeof(want) / sizeof(want[0]));
		ck_assert_str_eq(line, want[n]);
		n++;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	unlink(path);
	free(path);
}
END_TEST

/* ---- privileges ---- */

/* Exit codes of the children below. */
#define CHILD_OK 0
#define CHILD_SKIP 77

/*
 * As an ordinary user: injection is refused with the permission message,
 * and a dry run still works. Runs in a child that gives up root.
 */
static int
unprivileged_child(void)
{
	char errbuf[KILL_ERRBUF_SIZE];
	char path[] = "/tmp/check_kill.nobody.XXXXXX";
	struct kill_target t;
	struct killer *k;
	struct stat st;
	uint8_t link[32];
	int fd;

	if (geteuid() == 0 && (setgroups(0, NULL) == -1 ||
	    setgid(65534) == -1 || setuid(65534) == -1))
		return 10;
	k = killer_open("lo", KILL_VIA_LINK, errbuf);
	if (k != NULL)
		return CHILD_SKIP;	/* this user holds CAP_NET_RAW */
	if (strcmp(errbuf,
	    "permission denied: killing needs root or CAP_NET_RAW") != 0)
		return 11;
	if (killer_open(NULL, KILL_VIA_IP, errbuf) != NULL ||
	    strcmp(errbuf,
	    "permission denied: killing needs root or CAP_NET_RAW") != 0)
		return 12;
	if ((fd = mkstemp(path)) == -1)
		return 13;
	close(fd);
	k = killer_open_dry_run(path, KILL_VIA_LINK, LT_ETHERNET, errbuf);
	if (k == NULL)
		return 14;
	make_target(&cases[2], 2, link, &t);
	if (killer_kill(k, &t, errbuf) != 2 || killer_close(k, errbuf) != 0)
		return 15;
	if (stat(path, &st) != 0 || st.st_size != 24 + 2 * (16 + 18 + 60))
		return 16;
	unlink(path);
	return CHILD_OK;
}

START_TEST(test_unprivileged)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(unprivileged_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == CHILD_SKIP) {
		printf("check_kill: user has CAP_NET_RAW, permission error "
		    "not tested\n");
		return;
	}
	ck_assert_int_eq(WEXITSTATUS(status), CHILD_OK);
}
END_TEST

/* ---- live kills in private network namespaces ---- */

/*
 * A real TCP connection in a fresh network namespace (nothing outside it is
 * touched), its sequence numbers read from a packet socket as flowgrep would
 * see them; then RSTs are sent and both ends must see the connection reset.
 * First come RSTs one number off, which RFC 5961 receivers must not accept.
 * Either over loopback, or with the server in a second namespace across a
 * veth pair: there the RST to the client, whose frame is addressed to the
 * injecting device itself, must find its way to the local stack. The
 * killer is opened as root and used after giving root up, as with -u.
 */
struct live {
	int ipver;
	enum kill_via via;
	bool from_client;	/* which observed frame addresses the RSTs */
	bool veth;
};

static const struct live lives[] = {
	{ 4, KILL_VIA_LINK, true, false },
	{ 6, KILL_VIA_LINK, false, false },
	{ 4, KILL_VIA_IP, false, false },
	{ 6, KILL_VIA_IP, true, false },
	{ 4, KILL_VIA_LINK, true, true },
	{ 4, KILL_VIA_LINK, false, true },
	{ 6, KILL_VIA_LINK, true, true },
	{ 6, KILL_VIA_LINK, false, true },
	{ 4, KILL_VIA_IP, true, true },
	{ 6, KILL_VIA_IP, false, true },
};

/* Exit codes of a live child that could not set up. */
#define CHILD_NO_NETNS 77
#define CHILD_NO_IP_TOOL 78

struct sniffed {
	uint32_t cnext;
	uint32_t snext;
	bool cknown;
	bool sknown;
	uint8_t link[14];
	bool have_link;
};

static int
lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = -1;

	if (fd == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) == 0)
			rc = 0;
	}
	close(fd);
	return rc;
}

/*
 * Reads every queued frame and keeps each direction's next sequence number
 * (RSTs, ours, are not the endpoints' own segments), and the link header of
 * a frame sent by the side from_client names.
 */
static void
sniff_drain(int ps, const struct live *lv, uint16_t cport, struct sniffed *s)
{
	uint8_t buf[2048];
	struct sockaddr_ll sll;
	socklen_t sl;
	ssize_t n;
	const uint8_t *ip, *tcp;
	uint32_t iphl, plen, end;
	bool c2s;

	for (;;) {
		sl = sizeof(sll);
		n = recvfrom(ps, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&sll, &sl);
		if (n < 0)
			return;
		/* Loopback shows each frame leaving and arriving. */
		if ((!lv->veth && sll.sll_pkttype == PACKET_OUTGOING) ||
		    n < 14 + 40 ||
		    be16(buf + 12) != (lv->ipver == 4 ? 0x0800 : 0x86dd))
			continue;
		ip = buf + 14;
		if (lv->ipver == 4) {
			iphl = (uint32_t)(ip[0] & 0x0f) * 4;
			if (ip[9] != 6)
				continue;
			plen = be16(ip + 2) - iphl;
		} else {
			iphl = 40;
			if (ip[6] != 6)
				continue;
			plen = be16(ip + 4);
		}
		if ((ssize_t)(14 + iphl + 20) > n)
			continue;
		tcp = ip + iphl;
		if (tcp[13] & TH_RST_)
			continue;
		end = be32(tcp + 4) + plen - (uint32_t)(tcp[12] >> 4) * 4;
		end += (tcp[13] & 0x02) != 0;		/* SYN */
		end += (tcp[13] & 0x01) != 0;		/* FIN */
		c2s = be16(tcp) == cport;
		if (c2s) {
			s->cnext = end;
			s->cknown = true;
		} else {
			s->snext = end;
			s->sknown = true;
		}
		if (c2s == lv->from_client) {
			memcpy(s->link, buf, 14);
			s->have_link = true;
		}
	}
}

/* Sends a message one way and checks it arrives. */
static bool
xfer(int from, int to, const char *msg)
{
	char buf[64];
	size_t len = strlen(msg);

	return send(from, msg, len, 0) == (ssize_t)len &&
	    len <= sizeof(buf) &&
	    recv(to, buf, len, MSG_WAITALL) == (ssize_t)len &&
	    memcmp(buf, msg, len) == 0;
}

static int
run_ip(const char *fmt, int arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, arg);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * Makes a second namespace joined to this one by the veth pair kva (here,
 * 10.201.0.1, fd00:201::1) and kvb (there, .2 and ::2). A child creates it;
 * the descriptor returned keeps it alive after the child is gone. Returns
 * -1 on failure, -2 when the ip tool is missing.
 */
static int
veth_setup(void)
{
	char path[64], c;
	int p[2], here = -1, there = -1, rc = -1;
	pid_t pid;

	if (system("ip -V >/dev/null 2>&1") != 0)
		return -2;
	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) == -1)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (read(p[0], &c, 1) == 1 &&
	    (there = open(path, O_RDONLY)) != -1 &&
	    (here = open("/proc/self/ns/net", O_RDONLY)) != -1 &&
	    run_ip("ip link add kva type veth peer name kvb netns %d && "
	    "ip addr add 10.201.0.1/24 dev kva && "
	    "ip addr add fd00:201::1/64 dev kva nodad && "
	    "ip link set kva up", (int)pid) == 0 &&
	    setns(there, CLONE_NEWNET) == 0 &&
	    run_ip("ip link set lo up && "
	    "ip addr add 10.201.0.2/24 dev kvb && "
	    "ip addr add fd00:201::2/64 dev kvb nodad && "
	    "ip link set kvb up", 0) == 0 &&
	    setns(here, CLONE_NEWNET) == 0)
		rc = there;
	/* Not left to PR_SET_PDEATHSIG: once we drop root it cannot fire. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	if (here != -1)
		close(here);
	if (rc == -1 && there != -1)
		close(there);
	return rc;
}

static void
set_sa(struct sockaddr_storage *ss, socklen_t *sl, int ipver,
    const uint8_t *addr, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ipver == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, 4);
		*sl = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
		*sl = sizeof(*s6);
	}
}

static uint16_t
sa_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ?
	    ((const struct sockaddr_in *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int
live_child(const struct live *lv)
{
	static const uint8_t lo4[16] = { 127, 0, 0, 1 };
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t va4[16] = { 10, 201, 0, 1 };
	static const uint8_t vb4[16] = { 10, 201, 0, 2 };
	static const uint8_t va6[16] = { 0xfd, 0, 2, 1, [15] = 1 };
	static const uint8_t vb6[16] = { 0xfd, 0, 2, 1, [15] = 2 };
	const uint8_t *caddr, *saddr;
	const char *dev = lv->veth ? "kva" : "lo";
	char errbuf[KILL_ERRBUF_SIZE];
	struct sockaddr_storage ss;
	struct sockaddr_ll sll;
	struct timeval tv = { 2, 0 };
	struct kill_target t;
	struct sniffed sn;
	struct killer *k;
	socklen_t sl;
	uint16_t cport, sport;
	int ps, ls, cs, as, there = -1, here;
	int fam = lv->ipver == 4 ? AF_INET : AF_INET6;
	char c;

	if (unshare(CLONE_NEWNET) == -1)
		return CHILD_NO_NETNS;
	if (lo_up() == -1)
		return 20;
	if (lv->veth) {
		there = veth_setup();
		if (there == -2)
			return CHILD_NO_IP_TOOL;
		if (there == -1)
			return 21;
		caddr = lv->ipver == 4 ? va4 : va6;
		saddr = lv->ipver == 4 ? vb4 : vb6;
	} else {
		caddr = saddr = lv->ipver == 4 ? lo4 : lo6;
	}
	ps = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(dev);
	if (ps == -1 || bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == -1)
		return 22;

	/* The server listens in the other namespace, if there is one. */
	if ((here = open("/proc/self/ns/net", O_RDONLY)) == -1 ||
	    (there != -1 && setns(there, CLONE_NEWNET) == -1))
		return 23;
	set_sa(&ss, &sl, lv->ipver, saddr, 0);
	ls = socket(fam, SOCK_STREAM, 0);
	if (ls == -1 || bind(ls, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(ls, 1) == -1 ||
	    getsockname(ls, (struct sockaddr *)&ss, &sl) == -1 ||
	    setns(here, CLONE_NEWNET) == -1)
		return 24;
	sport = sa_port(&ss);

	k = killer_open(dev, lv->via, errbuf);
	if (k == NULL) {
		fprintf(stderr, "check_kill: %s\n", errbuf);
		return 25;
	}
	if (setgroups(0, NULL) == -1 || setgid(65534) == -1 ||
	    setuid(65534) == -1)
		return 26;

	cs = socket(fam, SOCK_STREAM, 0);
	if (cs == -1 || connect(cs, (struct sockaddr *)&ss, sl) == -1 ||
	    (as = accept(ls, NULL, NULL)) == -1 ||
	    getsockname(cs, (struct sockaddr *)&ss, &sl) == -1)
		return 27;
	cport = sa_port(&ss);
	setsockopt(cs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(as, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!xfer(cs, as, "hello") || !xfer(as, cs, "world!"))
		return 28;

	memset(&sn, 0, sizeof(sn));
	sniff_drain(ps, lv, cport, &sn);
	if (!sn.cknown || !sn.sknown || !sn.have_link)
		return 29;
	memset(&t, 0, sizeof(t));
	t.ipver = (uint8_t)lv->ipver;
	t.client_addr = caddr;
	t.server_addr = saddr;
	t.client_port = cport;
	t.server_port = sport;
	t.client_next_known = true;
	t.server_next_known = true;
	t.linktype = LT_ETHERNET;
	t.link = sn.link;
	t.link_len = 14;
	t.link_from_client = lv->from_client;

	/* One past the expected number: a challenge ACK, no reset. */
	t.client_next = sn.cnext + 1;
	t.server_next = sn.snext + 1;
	if (killer_kill(k, &t, errbuf) != 2)
		return 30;
	usleep(50000);
	if (!xfer(cs, as, "ping") || !xfer(as, cs, "pong"))
		return 31;

	/* Exactly the expected numbers: both ends are reset. */
	sniff_drain(ps, lv, cport, &sn);
	t.client_next = sn.cnext;
	t.server_next = sn.snext;
	if (killer_kill(k, &t, errbuf) != 2 || killer_sent(k) != 4) {
		fprintf(stderr, "check_kill: %s\n", errbuf);
		return 32;
	}
	if (recv(cs, &c, 1, 0) != -1 || errno != ECONNRESET)
		return 33;
	if (recv(as, &c, 1, 0) != -1 || errno != ECONNRESET)
		return 34;
	if (killer_close(k, errbuf) != 0)
		return 35;
	return CHILD_OK;
}

START_TEST(test_live)
{
	const struct live *lv = &lives[_i];
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		printf("check_kill: not root, live kill %d skipped\n", _i);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(10);
		_exit(live_child(lv));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "live kill %d: killed by signal",
	    _i);
	switch (WEXITSTATUS(status)) {
	case CHILD_NO_NETNS:
		printf("check_kill: no network namespaces, live kill %d "
		    "skipped\n", _i);
		return;
	case CHILD_NO_IP_TOOL:
		printf("check_kill: no ip(8), live kill %d skipped\n", _i);
		return;
	}
	ck_assert_msg(WEXITSTATUS(status) == CHILD_OK,
	    "live kill %d (IPv%d via %s%s): step %d failed", _i, lv->ipver,
	    lv->via == KILL_VIA_LINK ? "link" : "ip",
	    lv->veth ? ", veth" : "", WEXITSTATUS(status));
}
END_TEST

static Suite *
kill_suite(void)
{
	Suite *s = suite_create("kill");
	TCase *tc = tcase_create("kill");

	/* tshark takes a second or two to start. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_dry_run_ethernet);
	tcase_add_test(tc, test_dry_run_raw);
	tcase_add_test(tc, test_bad_link);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_write_error);
	tcase_add_test(tc, test_tshark);
	tcase_add_test(tc, test_unprivileged);
	tcase_add_loop_test(tc, test_live, 0,
	    (int)(sizeof(lives) / sizeof(lives[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(kill_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
