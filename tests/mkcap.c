/* mkcap.c: writes the deterministic captures of flowgrep's end-to-end tests. */

/*
 * Usage: mkcap SCENARIO OUT.pcap, or mkcap --list.
 *
 * Every scenario is a small, hand-built conversation whose expected result
 * is stated in the comment above its function; tests/cases.tsv holds the
 * cases that check flowgrep against it. The files are identical on every
 * run: packet times start at 2024-01-01T00:00:00Z and advance 1 ms per
 * packet (the nano scenario adds 1 ns more per packet so that the
 * nanosecond digits matter). Checksums (IPv4, TCP, UDP, ICMP, ICMPv6) are
 * correct so that tshark and tcpdump show no complaints.
 *
 * Addresses: each scenario uses its own 10.0.N.0/24 and fd00:N::/64, and
 * each flow its own client address where that lets a BPF host filter name
 * exactly the packets of one flow (fragments carry no ports).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <err.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2024-01-01T00:00:00Z, the time of every scenario's first packet. */
#define T0_SEC 1704067200U
#define STEP_NS 1000000U /* 1 ms between packets */

/* The largest frame a scenario builds; no scenario comes close. */
#define FRAME_MAX 2048
#define SNAPLEN 65535

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_FRAG6_ 44

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP_ 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8

/* An open output file and the time of its next packet. */
struct cap {
	pcap_t *p;
	pcap_dumper_t *d;
	int linktype;
	bool nsec;
	uint64_t t_ns; /* since T0_SEC */
	uint64_t step_ns;
	uint32_t count;
};

struct host {
	int af; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
	uint8_t mac[6];
};

/* Both ends of a conversation and how its frames are framed. */
struct path {
	struct host h[2]; /* 0 client, 1 server */
	uint16_t vlan[2]; /* outer first */
	int nvlan;        /* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	uint32_t ipid;    /* next IP identification */
};

/* A TCP connection: dir 0 is client to server, 1 server to client. */
struct conn {
	struct path pa;
	uint32_t isn[2];
	uint32_t nxt[2]; /* next sequence number each side sends */
};

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 1071 one's complement sum; every chunk but the last is even. */
static uint32_t
sum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- output ---- */

static void
cap_open(struct cap *c, const char *path, int linktype, bool nsec)
{
	memset(c, 0, sizeof(*c));
	c->linktype = linktype;
	c->nsec = nsec;
	c->step_ns = STEP_NS;
	c->p = pcap_open_dead_with_tstamp_precision(linktype, SNAPLEN,
	    nsec ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	if (c->p == NULL)
		errx(1, "pcap_open_dead failed");
	c->d = pcap_dump_open(c->p, path);
	if (c->d == NULL)
		errx(1, "%s: %s", path, pcap_geterr(c->p));
}

static void
cap_close(struct cap *c)
{
	if (pcap_dump_flush(c->d) == -1)
		errx(1, "write failed");
	pcap_dump_close(c->d);
	pcap_close(c->p);
}

/* Writes one frame at the current time and advances the clock. */
static void
cap_write(struct cap *c, const uint8_t *b, size_t len)
{
	struct pcap_pkthdr h;
	uint64_t frac = c->t_ns % 1000000000U;

	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(T0_SEC + c->t_ns / 1000000000U);
	/* A nanosecond dumper takes nanoseconds in tv_usec. */
	h.ts.tv_usec = (suseconds_t)(c->nsec ? frac : frac / 1000);
	h.caplen = h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)c->d, &h, b);
	c->t_ns += c->step_ns;
	c->count++;
}

/* ---- addresses ---- */

static struct host
host(const char *addr, uint16_t port, uint8_t macid)
{
	struct host h;

	memset(&h, 0, sizeof(h));
	if (inet_pton(AF_INET, addr, h.addr) == 1)
		h.af = AF_INET;
	else if (inet_pton(AF_INET6, addr, h.addr) == 1)
		h.af = AF_INET6;
	else
		errx(1, "bad address %s", addr);
	h.port = port;
	h.mac[0] = 0x02;
	h.mac[5] = macid;
	return h;
}

static struct path
path(const char *caddr, uint16_t cport, const char *saddr, uint16_t sport)
{
	struct path pa;

	memset(&pa, 0, sizeof(pa));
	pa.h[0] = host(caddr, cport, 1);
	pa.h[1] = host(saddr, sport, 2);
	pa.ipid = 0x100;
	return pa;
}

/* ---- frame building ---- */

/* Writes the link-layer header of a frame sent by side dir of pa. */
static size_t
put_l2(const struct cap *c, const struct path *pa, int dir, uint16_t etype,
    uint8_t *b)
{
	const struct host *src = &pa->h[dir], *dst = &pa->h[!dir];
	size_t n = 0;

	switch (c->linktype) {
	case DLT_EN10MB:
		memcpy(b, dst->mac, 6);
		memcpy(b + 6, src->mac, 6);
		n = 12;
		if (pa->nvlan == 2) {
			put16(b + n, ETHERTYPE_8021AD);
			put16(b + n + 2, pa->vlan[0]);
			put16(b + n + 4, ETHERTYPE_8021Q);
			put16(b + n + 6, pa->vlan[1]);
			n += 8;
		} else if (pa->nvlan == 1) {
			put16(b + n, ETHERTYPE_8021Q);
			put16(b + n + 2, pa->vlan[0]);
			n += 4;
		}
		put16(b + n, etype);
		return n + 2;
	case DLT_LINUX_SLL:
		/* The capturing host is the client: 4 outgoing, 0 to us. */
		put16(b, dir == 0 ? 4 : 0);
		put16(b + 2, 1); /* ARPHRD_ETHER */
		put16(b + 4, 6);
		memset(b + 6, 0, 8);
		memcpy(b + 6, src->mac, 6);
		put16(b + 14, etype);
		return 16;
	case DLT_LINUX_SLL2:
		put16(b, etype);
		put16(b + 2, 0);
		put32(b + 4, 2); /* interface index */
		put16(b + 8, 1); /* ARPHRD_ETHER */
		b[10] = dir == 0 ? 4 : 0;
		b[11] = 6;
		memset(b + 12, 0, 8);
		memcpy(b + 12, src->mac, 6);
		return 20;
	}
	errx(1, "linktype %d not supported", c->linktype);
}

/*
 * Sets the checksum of a transport segment (TCP, UDP, ICMP, ICMPv6) of len
 * bytes whose checksum field is at csum_off. ICMP for IPv4 has no pseudo
 * header (RFC 792); the others use RFC 793/768 and RFC 8200 section 8.1.
 */
static void
l4_checksum(const struct path *pa, int dir, uint8_t proto, uint8_t *l4,
    size_t len, size_t csum_off)
{
	const struct host *src = &pa->h[dir], *dst = &pa->h[!dir];
	uint8_t ph[40];
	uint32_t sum = 0;
	uint16_t ck;

	l4[csum_off] = l4[csum_off + 1] = 0;
	if (proto != IPPROTO_ICMP_) {
		memset(ph, 0, sizeof(ph));
		if (src->af == AF_INET) {
			memcpy(ph, src->addr, 4);
			memcpy(ph + 4, dst->addr, 4);
			ph[9] = proto;
			put16(ph + 10, (uint32_t)len);
			sum = sum_add(sum, ph, 12);
		} else {
			memcpy(ph, src->addr, 16);
			memcpy(ph + 16, dst->addr, 16);
			put32(ph + 32, (uint32_t)len);
			ph[39] = proto;
			sum = sum_add(sum, ph, 40);
		}
	}
	ck = sum_fold(sum_add(sum, l4, len));
	if (proto == IPPROTO_UDP_ && ck == 0)
		ck = 0xffff;
	put16(l4 + csum_off, ck);
}

/*
 * Writes one IP packet sent by side dir of pa carrying l4[off, off + len) of
 * a transport segment of l4len bytes. With frag, it is a fragment (IPv4
 * offset/MF, or an IPv6 Fragment header, RFC 8200 section 4.5) of datagram
 * id; off must then be a multiple of 8.
 */
static void
emit_ip(struct cap *c, const struct path *pa, int dir, uint8_t proto,
    const uint8_t *l4, size_t l4len, size_t off, size_t len, bool frag,
    uint32_t id)
{
	const struct host *src = &pa->h[dir], *dst = &pa->h[!dir];
	uint8_t b[FRAME_MAX];
	size_t n;
	bool more = frag && off + len < l4len;

	if (len > FRAME_MAX - 128)
		errx(1, "frame too large");
	if (src->af == AF_INET) {
		n = put_l2(c, pa, dir, ETHERTYPE_IPV4, b);
		b[n] = 0x45;
		b[n + 1] = 0;
		put16(b + n + 2, (uint32_t)(20 + len));
		put16(b + n + 4, id & 0xffff);
		put16(b + n + 6, (more ? 0x2000 : 0) | (uint32_t)(off / 8));
		b[n + 8] = 64;
		b[n + 9] = proto;
		put16(b + n + 10, 0);
		memcpy(b + n + 12, src->addr, 4);
		memcpy(b + n + 16, dst->addr, 4);
		put16(b + n + 10, sum_fold(sum_add(0, b + n, 20)));
		n += 20;
	} else {
		n = put_l2(c, pa, dir, ETHERTYPE_IPV6, b);
		put32(b + n, 0x60000000);
		put16(b + n + 4, (uint32_t)(len + (frag ? 8 : 0)));
		b[n + 6] = frag ? IPPROTO_FRAG6_ : proto;
		b[n + 7] = 64;
		memcpy(b + n + 8, src->addr, 16);
		memcpy(b + n + 24, dst->addr, 16);
		n += 40;
		if (frag) {
			b[n] = proto;
			b[n + 1] = 0;
			put16(b + n + 2, (uint32_t)off | (more ? 1 : 0));
			put32(b + n + 4, id);
			n += 8;
		}
	}
	memcpy(b + n, l4 + off, len);
	cap_write(c, b, n + len);
}

/* Writes a whole transport segment in one IP packet. */
static void
emit_l4(struct cap *c, struct path *pa, int dir, uint8_t proto,
    const uint8_t *l4, size_t len)
{
	emit_ip(c, pa, dir, proto, l4, len, 0, len, false, pa->ipid++);
}

/* A fragment of a datagram, as its byte range in the transport segment. */
struct piece {
	size_t off;
	size_t len;
};

/* Writes a transport segment as the fragments listed, in the order listed. */
static void
emit_frags(struct cap *c, struct path *pa, int dir, uint8_t proto,
    const uint8_t *l4, size_t len, const struct piece *pc, int npc)
{
	uint32_t id = pa->ipid++;
	int i;

	for (i = 0; i < npc; i++)
		emit_ip(
		    c, pa, dir, proto, l4, len, pc[i].off, pc[i].len, true, id);
}

static size_t
build_tcp(const struct path *pa, int dir, uint32_t seq, uint32_t ack,
    uint8_t flags, const char *data, size_t len, uint8_t *l4)
{
	put16(l4, pa->h[dir].port);
	put16(l4 + 2, pa->h[!dir].port);
	put32(l4 + 4, seq);
	put32(l4 + 8, (flags & TH_ACK) ? ack : 0);
	l4[12] = 5 << 4;
	l4[13] = flags;
	put16(l4 + 14, 65535);
	put16(l4 + 16, 0);
	put16(l4 + 18, 0);
	if (len > 0)
		memcpy(l4 + 20, data, len);
	l4_checksum(pa, dir, IPPROTO_TCP_, l4, 20 + len, 16);
	return 20 + len;
}

static size_t
build_udp(
    const struct path *pa, int dir, const char *data, size_t len, uint8_t *l4)
{
	put16(l4, pa->h[dir].port);
	put16(l4 + 2, pa->h[!dir].port);
	put16(l4 + 4, (uint32_t)(8 + len));
	memcpy(l4 + 8, data, len);
	l4_checksum(pa, dir, IPPROTO_UDP_, l4, 8 + len, 6);
	return 8 + len;
}

/* ---- TCP conversation helpers ---- */

static struct conn
conn(const char *caddr, uint16_t cport, const char *saddr, uint16_t sport,
    uint32_t cisn, uint32_t sisn)
{
	struct conn k;

	memset(&k, 0, sizeof(k));
	k.pa = path(caddr, cport, saddr, sport);
	k.isn[0] = cisn;
	k.isn[1] = sisn;
	k.nxt[0] = cisn + 1;
	k.nxt[1] = sisn + 1;
	return k;
}

/* Sends one segment with an explicit sequence number; acks what dir saw. */
static void
tcp_raw(struct cap *c, struct conn *k, int dir, uint32_t seq, uint8_t flags,
    const char *data, size_t len)
{
	uint8_t l4[FRAME_MAX];
	size_t n =
	    build_tcp(&k->pa, dir, seq, k->nxt[!dir], flags, data, len, l4);

	emit_l4(c, &k->pa, dir, IPPROTO_TCP_, l4, n);
}

/* Sends data at stream offset off of direction dir (0 = first byte). */
static void
tcp_at(struct cap *c, struct conn *k, int dir, uint32_t off, const char *data)
{
	tcp_raw(c, k, dir, k->isn[dir] + 1 + off, TH_PSH | TH_ACK, data,
	    strlen(data));
}

static void
tcp_syn(struct cap *c, struct conn *k)
{
	tcp_raw(c, k, 0, k->isn[0], TH_SYN, NULL, 0);
}

static void
tcp_synack(struct cap *c, struct conn *k)
{
	tcp_raw(c, k, 1, k->isn[1], TH_SYN | TH_ACK, NULL, 0);
}

static void
tcp_ack(struct cap *c, struct conn *k, int dir)
{
	tcp_raw(c, k, dir, k->nxt[dir], TH_ACK, NULL, 0);
}

static void
tcp_handshake(struct cap *c, struct conn *k)
{
	tcp_syn(c, k);
	tcp_synack(c, k);
	tcp_ack(c, k, 0);
}

/* Sends the next bytes of direction dir in one segment. */
static void
tcp_send(struct cap *c, struct conn *k, int dir, const char *data)
{
	size_t len = strlen(data);

	tcp_raw(c, k, dir, k->nxt[dir], TH_PSH | TH_ACK, data, len);
	k->nxt[dir] += (uint32_t)len;
}

static void
tcp_fin(struct cap *c, struct conn *k, int dir)
{
	tcp_raw(c, k, dir, k->nxt[dir], TH_FIN | TH_ACK, NULL, 0);
	k->nxt[dir]++;
}

/* Client FIN, server FIN, client ACK: three frames. */
static void
tcp_close(struct cap *c, struct conn *k)
{
	tcp_fin(c, k, 0);
	tcp_fin(c, k, 1);
	tcp_ack(c, k, 0);
}

/* Handshake, the request in the given pieces, one response, close. */
static void
tcp_exchange(struct cap *c, struct conn *k, const char *const *req, int nreq,
    const char *resp)
{
	int i;

	tcp_handshake(c, k);
	for (i = 0; i < nreq; i++)
		tcp_send(c, k, 0, req[i]);
	tcp_send(c, k, 1, resp);
	tcp_close(c, k);
}

static const char http_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* ---- scenarios ---- */

/*
 * split-match: three HTTP connections, one after the other, 10.0.1.1 to
 * 10.0.1.2:80, each: handshake, request, "200 OK" response, FIN both ways.
 *   frames  1-9   A 10.0.1.1:40001: "GET /secret-token HTTP/1.1" sent as
 *                 "GET /secret-" + "token HTTP/1.1..." (the token straddles
 *                 2 segments; it is complete at frame 5, client offset 5).
 *   frames 10-19  B 10.0.1.1:40002: "GET /other/secret-token ..." sent as
 *                 "GET /other/sec" + "ret-to" + "ken ..." (3 segments).
 *   frames 20-27  C 10.0.1.1:40003: "GET /index.html ...", no token.
 * flowgrep: -a secret-token selects A and B; 'GET /secret-token' A alone,
 * 'other/secret-token' B alone; -s secret-token and 'secret-tokens' select
 * nothing; -v -a secret-token selects C.
 */
static void
sc_split_match(struct cap *c)
{
	struct conn a = conn("10.0.1.1", 40001, "10.0.1.2", 80, 1000, 5000);
	struct conn b = conn("10.0.1.1", 40002, "10.0.1.2", 80, 2000, 6000);
	struct conn d = conn("10.0.1.1", 40003, "10.0.1.2", 80, 3000, 7000);
	static const char *const ra[] = {
	    "GET /secret-", "token HTTP/1.1\r\nHost: example\r\n\r\n"};
	static const char *const rb[] = {"GET /other/sec", "ret-to",
	    "ken HTTP/1.1\r\nHost: example\r\n\r\n"};
	static const char *const rc[] = {
	    "GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n"};

	tcp_exchange(c, &a, ra, 2, http_ok);
	tcp_exchange(c, &b, rb, 3, http_ok);
	tcp_exchange(c, &d, rc, 1, http_ok);
}

/*
 * ooo: one connection 10.0.2.1:40010 -> 10.0.2.2:80 whose client stream is
 *   "GET /ooo-secret-token HTTP/1.1\r\nHost: example\r\n"
 *   "X-Tail: first-copy-wins\r\n\r\n"            (74 bytes)
 * sent as (stream offsets):
 *   frame  4  [0,12)  "GET /ooo-sec"
 *   frame  5  [24,47) ahead of a hole
 *   frame  6  [12,24) "ret-token HT" fills the hole (out of order)
 *   frame  7  [12,24) the same again (retransmission)
 *   frame  8  [55,74) "first-copy-wins\r\n\r\n", ahead of a hole (queued)
 *   frame  9  [47,74) "X-Tail: later-copy-wins\r\n\r\n": fills the hole and
 *             overlaps the queued segment with different bytes
 *   frame 10  [0,12)  "GET /EVIL-se": overlaps delivered bytes, differs
 * then the server's response (frame 11, the first ACK of the client data)
 * and FIN both ways (12-14). First wins: the stream holds "ooo-secret-token"
 * and "first-copy-wins"; "later-copy" and "EVIL" must not match. (tshark's
 * follow,tcp shows "later-copy-wins": it keeps the segment that fills the
 * hole, not the queued bytes seen first.)
 */
static void
sc_ooo(struct cap *c)
{
	struct conn k = conn("10.0.2.1", 40010, "10.0.2.2", 80, 11000, 12000);

	tcp_handshake(c, &k);
	tcp_at(c, &k, 0, 0, "GET /ooo-sec");
	tcp_at(c, &k, 0, 24, "TP/1.1\r\nHost: example\r\n");
	tcp_at(c, &k, 0, 12, "ret-token HT");
	tcp_at(c, &k, 0, 12, "ret-token HT");
	tcp_at(c, &k, 0, 55, "first-copy-wins\r\n\r\n");
	tcp_at(c, &k, 0, 47, "X-Tail: later-copy-wins\r\n\r\n");
	tcp_at(c, &k, 0, 0, "GET /EVIL-se");
	k.nxt[0] += 74;
	tcp_send(c, &k, 1, http_ok);
	tcp_close(c, &k);
}

/* A 64-byte UDP payload with text at offset at, padded with dots. */
static void
udp_payload(char *buf, size_t at, const char *text)
{
	memset(buf, '.', 64);
	buf[64] = '\0';
	memcpy(buf + at, text, strlen(text));
}

/*
 * Shared by frag4 and frag6 (a = the address prefix "10.0.3." or
 * "fd00:3::"), in order of frames:
 *   U1 a1:40020 -> a2:9   UDP, 64-byte payload "frag-udp-secret" at payload
 *      offset 12, as 3 fragments of 24 transport bytes in order (the
 *      pattern straddles fragments 1 and 2), then an unfragmented reply.
 *   U2 a3:40021 -> a2:9   the same with "frag-ooo-secret", fragments sent
 *      3, 1, 2, then a reply.
 *   T  a4:40022 -> a2:80  TCP: handshake, "GET /frag-tcp-secret HTTP/1.1.."
 *      as one segment in 3 fragments sent 3, 1, 2 (pattern straddles
 *      fragments 2 and 3), a response, FIN both ways.
 *   L  a5:40023 -> a2:9   UDP "frag-lost-secret" at payload offset 0 (inside
 *      the first fragment), fragments 1 and 3 only: never completes.
 * flowgrep: each of the three patterns selects exactly its flow (all the
 * packets of host a1, a3 or a4); "frag-lost-secret" matches nothing; the
 * two lone fragments of L are units of their own (selected by -a '' and,
 * with -v, by any pattern).
 */
static void
frag_common(struct cap *c, const char *pfx)
{
	static const struct piece inorder[] = {{0, 24}, {24, 24}, {48, 24}};
	static const struct piece shuffled[] = {{48, 24}, {0, 24}, {24, 24}};
	static const struct piece lost[] = {{0, 24}, {48, 24}};
	static const struct piece tcpfr[] = {{32, 21}, {0, 16}, {16, 16}};
	char a[5][64], pl[65];
	uint8_t l4[FRAME_MAX];
	struct path u1, u2, ul;
	struct conn t;
	size_t n;
	int i;

	for (i = 0; i < 5; i++)
		snprintf(a[i], sizeof(a[i]), "%s%d", pfx, i + 1);

	u1 = path(a[0], 40020, a[1], 9);
	udp_payload(pl, 12, "frag-udp-secret");
	n = build_udp(&u1, 0, pl, 64, l4);
	emit_frags(c, &u1, 0, IPPROTO_UDP_, l4, n, inorder, 3);
	n = build_udp(&u1, 1, "udp-reply", 9, l4);
	emit_l4(c, &u1, 1, IPPROTO_UDP_, l4, n);

	u2 = path(a[2], 40021, a[1], 9);
	udp_payload(pl, 12, "frag-ooo-secret");
	n = build_udp(&u2, 0, pl, 64, l4);
	emit_frags(c, &u2, 0, IPPROTO_UDP_, l4, n, shuffled, 3);
	n = build_udp(&u2, 1, "udp-reply", 9, l4);
	emit_l4(c, &u2, 1, IPPROTO_UDP_, l4, n);

	t = conn(a[3], 40022, a[1], 80, 21000, 22000);
	tcp_handshake(c, &t);
	{
		const char *req = "GET /frag-tcp-secret HTTP/1.1\r\n\r\n";
		size_t len = strlen(req);

		n = build_tcp(&t.pa, 0, t.nxt[0], t.nxt[1], TH_PSH | TH_ACK,
		    req, len, l4);
		if (n != 53)
			errx(1, "frag: TCP segment is %zu bytes", n);
		emit_frags(c, &t.pa, 0, IPPROTO_TCP_, l4, n, tcpfr, 3);
		t.nxt[0] += (uint32_t)len;
	}
	tcp_send(c, &t, 1, http_ok);
	tcp_close(c, &t);

	ul = path(a[4], 40023, a[1], 9);
	udp_payload(pl, 0, "frag-lost-secret");
	n = build_udp(&ul, 0, pl, 64, l4);
	emit_frags(c, &ul, 0, IPPROTO_UDP_, l4, n, lost, 2);
}

/* frag4: frag_common over IPv4 (10.0.3.1 ... 10.0.3.5), 20 frames. */
static void
sc_frag4(struct cap *c)
{
	frag_common(c, "10.0.3.");
}

/* frag6: frag_common over IPv6 Fragment headers (fd00:3::1 ...). */
static void
sc_frag6(struct cap *c)
{
	frag_common(c, "fd00:3::");
}

/*
 * vlan: the same 5-tuple 10.0.4.1:40030 -> 10.0.4.2:80 three times, with
 * the same sequence numbers, interleaved packet by packet: untagged, in
 * VLAN 10, and in QinQ (802.1ad S-tag 100, 802.1Q C-tag 200). Each: SYN,
 * SYN+ACK, ACK, a request, a response, FIN both ways (8 frames, 24 in all).
 * Only the VLAN 10 flow requests "/vlan-secret"; the others "/public-page",
 * of the same length. flowgrep must keep three flows: -a vlan-secret
 * selects the VLAN 10 one alone ("tcp vlan 10 ..."); a flow key without
 * the VLAN IDs would merge them and, first copy winning, miss it.
 */
static void
sc_vlan(struct cap *c)
{
	struct conn k[3];
	const char *req[3] = {"GET /public-page HTTP/1.1\r\n\r\n",
	    "GET /vlan-secret HTTP/1.1\r\n\r\n",
	    "GET /public-page HTTP/1.1\r\n\r\n"};
	int i, step;

	for (i = 0; i < 3; i++)
		k[i] = conn("10.0.4.1", 40030, "10.0.4.2", 80, 31000, 32000);
	k[1].pa.nvlan = 1;
	k[1].pa.vlan[0] = 10;
	k[2].pa.nvlan = 2;
	k[2].pa.vlan[0] = 100;
	k[2].pa.vlan[1] = 200;
	for (step = 0; step < 8; step++) {
		for (i = 0; i < 3; i++) {
			switch (step) {
			case 0:
				tcp_syn(c, &k[i]);
				break;
			case 1:
				tcp_synack(c, &k[i]);
				break;
			case 2:
				tcp_ack(c, &k[i], 0);
				break;
			case 3:
				tcp_send(c, &k[i], 0, req[i]);
				break;
			case 4:
				tcp_send(c, &k[i], 1, http_ok);
				break;
			case 5:
				tcp_fin(c, &k[i], 0);
				break;
			case 6:
				tcp_fin(c, &k[i], 1);
				break;
			case 7:
				tcp_ack(c, &k[i], 0);
				break;
			}
		}
	}
}

/*
 * sll2 (LINKTYPE_LINUX_SLL2): frames 1-8 [fd00:5::1]:40040 ->
 * [fd00:5::2]:80 requesting "/sll2-secret", frames 9-16 10.0.5.3:40042 ->
 * 10.0.5.4:80 requesting "/other". -a sll2-secret selects the first alone.
 */
static void
sc_sll2(struct cap *c)
{
	struct conn a = conn("fd00:5::1", 40040, "fd00:5::2", 80, 41000, 42000);
	struct conn b = conn("10.0.5.3", 40042, "10.0.5.4", 80, 43000, 44000);
	static const char *const ra[] = {"GET /sll2-secret HTTP/1.1\r\n\r\n"};
	static const char *const rb[] = {"GET /other HTTP/1.1\r\n\r\n"};

	tcp_exchange(c, &a, ra, 1, http_ok);
	tcp_exchange(c, &b, rb, 1, http_ok);
}

/*
 * sll (LINKTYPE_LINUX_SLL): frames 1-8 10.0.5.1:40041 -> 10.0.5.2:80
 * requesting "/sll-secret", frames 9-16 [fd00:5::3]:40043 ->
 * [fd00:5::4]:80 requesting "/other". -a sll-secret selects the first.
 */
static void
sc_sll(struct cap *c)
{
	struct conn a = conn("10.0.5.1", 40041, "10.0.5.2", 80, 45000, 46000);
	struct conn b = conn("fd00:5::3", 40043, "fd00:5::4", 80, 47000, 48000);
	static const char *const ra[] = {"GET /sll-secret HTTP/1.1\r\n\r\n"};
	static const char *const rb[] = {"GET /other HTTP/1.1\r\n\r\n"};

	tcp_exchange(c, &a, ra, 1, http_ok);
	tcp_exchange(c, &b, rb, 1, http_ok);
}

/*
 * midstream: two connections already open when the capture starts (no
 * SYN), one after the other.
 *   frames 1-8   10.0.6.1:45000 <-> 10.0.6.2:80. The first packet is server
 *                data "HTTP/1.1 200 OK\r\nX-Note: mid", then a client ACK,
 *                then "stream-secret\r\n\r\n" (frame 3): "midstream-secret"
 *                is in the server stream at offset 25 across 2 segments.
 *                Then a client request "GET /next", FIN both ways.
 *   frames 9-13  10.0.6.3:50000 <-> 10.0.6.4:60000. The first packet is
 *                "ports-secret" from port 50000; ACK; FIN both ways.
 * Without a SYN the higher port is the client: flowgrep reports
 * "tcp 10.0.6.1:45000 -> 10.0.6.2:80 server /midstream-secret/ @25" and
 * "tcp 10.0.6.4:60000 -> 10.0.6.3:50000 server /ports-secret/ @0"; -c
 * with either pattern selects nothing.
 */
static void
sc_midstream(struct cap *c)
{
	struct conn a = conn("10.0.6.1", 45000, "10.0.6.2", 80, 51000, 52000);
	struct conn b =
	    conn("10.0.6.4", 60000, "10.0.6.3", 50000, 53000, 54000);

	tcp_send(c, &a, 1, "HTTP/1.1 200 OK\r\nX-Note: mid");
	tcp_ack(c, &a, 0);
	tcp_send(c, &a, 1, "stream-secret\r\n\r\n");
	tcp_send(c, &a, 0, "GET /next HTTP/1.1\r\n\r\n");
	tcp_ack(c, &a, 1);
	tcp_close(c, &a);

	tcp_send(c, &b, 1, "ports-secret");
	tcp_ack(c, &b, 0);
	tcp_close(c, &b);
}

/*
 * portreuse: two connections on 10.0.7.1:40050 -> 10.0.7.2:80, one after the
 * other: frames 1-8 the first (ISNs 1000/2000) requests "/first-page" and
 * closes with FIN both ways and the last ACK; frames 9-16 a new SYN (ISNs
 * 5000000/7000000) opens the second, which requests "/reuse-secret". Two
 * flows: -a reuse-secret selects frames 9-16 alone, -v frames 1-8, -a ''
 * reports two flows with the same tuple.
 */
static void
sc_portreuse(struct cap *c)
{
	struct conn a = conn("10.0.7.1", 40050, "10.0.7.2", 80, 1000, 2000);
	struct conn b =
	    conn("10.0.7.1", 40050, "10.0.7.2", 80, 5000000, 7000000);
	static const char *const ra[] = {"GET /first-page HTTP/1.1\r\n\r\n"};
	static const char *const rb[] = {"GET /reuse-secret HTTP/1.1\r\n\r\n"};

	tcp_exchange(c, &a, ra, 1, http_ok);
	tcp_exchange(c, &b, rb, 1, http_ok);
}

static void
emit_icmp(struct cap *c, struct path *pa, int dir, bool v6, uint8_t type,
    const char *data)
{
	uint8_t l4[FRAME_MAX];
	size_t len = strlen(data);

	l4[0] = type;
	l4[1] = 0;
	put16(l4 + 4, 0x1234); /* identifier */
	put16(l4 + 6, 1);      /* sequence */
	memcpy(l4 + 8, data, len);
	l4_checksum(
	    pa, dir, v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_, l4, 8 + len, 2);
	emit_l4(c, pa, dir, v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_, l4, 8 + len);
}

static void
emit_udp(struct cap *c, struct path *pa, int dir, const char *data)
{
	uint8_t l4[FRAME_MAX];
	size_t n = build_udp(pa, dir, data, strlen(data), l4);

	emit_l4(c, pa, dir, IPPROTO_UDP_, l4, n);
}

/* An ARP request (RFC 826): who has 10.0.8.2, tell 10.0.8.1. */
static void
emit_arp(struct cap *c)
{
	struct path pa = path("10.0.8.1", 0, "10.0.8.2", 0);
	uint8_t b[64];
	size_t n;

	n = put_l2(c, &pa, 0, ETHERTYPE_ARP_, b);
	memset(b, 0xff, 6); /* broadcast */
	put16(b + n, 1);    /* Ethernet */
	put16(b + n + 2, ETHERTYPE_IPV4);
	b[n + 4] = 6;
	b[n + 5] = 4;
	put16(b + n + 6, 1); /* request */
	memcpy(b + n + 8, pa.h[0].mac, 6);
	memcpy(b + n + 14, pa.h[0].addr, 4);
	memset(b + n + 18, 0, 6);
	memcpy(b + n + 24, pa.h[1].addr, 4);
	cap_write(c, b, n + 28);
}

/*
 * An IPv4 packet 10.0.8.7 -> 10.0.8.8 saying TCP whose datagram ends 10
 * bytes into the TCP header (IP total length 30): too short to key a flow.
 */
static void
emit_truncated_tcp(struct cap *c)
{
	struct path pa = path("10.0.8.7", 40064, "10.0.8.8", 80);
	uint8_t l4[64];

	build_tcp(&pa, 0, 1, 0, TH_SYN, NULL, 0, l4);
	emit_ip(c, &pa, 0, IPPROTO_TCP_, l4, 10, 0, 10, false, 0x77);
}

/*
 * mixed: interleaved IPv4/IPv6 TCP, UDP, ICMP flows plus two packets that
 * are units of their own, 27 frames:
 *   T4  10.0.8.1:40060 -> 10.0.8.2:80 "GET /mixed-http ..." + response
 *   T6  [fd00:8::1]:40061 -> [fd00:8::2]:443 "hello-v6-tcp", "bye-v6-tcp"
 *   U4  10.0.8.3:40062 -> 10.0.8.4:9 "udp-query-v4", "udp-answer-v4",
 *       then "split-" and "udp" as two more datagrams
 *   U6  [fd00:8::3]:40063 -> [fd00:8::4]:9 "udp-query-v6"
 *   I4  ICMP echo 10.0.8.5 -> 10.0.8.6 "ping-payload" and its reply
 *   I6  ICMPv6 echo fd00:8::5 -> fd00:8::6 "ping6-payload" and its reply
 *   frame 4: an ARP request; frame 14: a truncated TCP header (10.0.8.7).
 * flowgrep: each pattern selects its flow; "split-udp" matches nothing (UDP
 * datagrams are matched one by one); -a '' reports 8 units and writes all
 * 27 frames; the ARP and truncated packets go with -v for any pattern.
 */
static void
sc_mixed(struct cap *c)
{
	struct conn t4 = conn("10.0.8.1", 40060, "10.0.8.2", 80, 61000, 62000);
	struct conn t6 =
	    conn("fd00:8::1", 40061, "fd00:8::2", 443, 63000, 64000);
	struct path u4 = path("10.0.8.3", 40062, "10.0.8.4", 9);
	struct path u6 = path("fd00:8::3", 40063, "fd00:8::4", 9);
	struct path i4 = path("10.0.8.5", 0, "10.0.8.6", 0);
	struct path i6 = path("fd00:8::5", 0, "fd00:8::6", 0);

	tcp_syn(c, &t4);                                         /* 1 */
	emit_udp(c, &u4, 0, "udp-query-v4");                     /* 2 */
	tcp_synack(c, &t4);                                      /* 3 */
	emit_arp(c);                                             /* 4 */
	tcp_syn(c, &t6);                                         /* 5 */
	tcp_ack(c, &t4, 0);                                      /* 6 */
	emit_icmp(c, &i4, 0, false, 8, "ping-payload");          /* 7 */
	tcp_synack(c, &t6);                                      /* 8 */
	emit_udp(c, &u4, 1, "udp-answer-v4");                    /* 9 */
	tcp_send(c, &t4, 0, "GET /mixed-http HTTP/1.1\r\n\r\n"); /* 10 */
	tcp_ack(c, &t6, 0);                                      /* 11 */
	emit_icmp(c, &i4, 1, false, 0, "ping-payload");          /* 12 */
	emit_udp(c, &u6, 0, "udp-query-v6");                     /* 13 */
	emit_truncated_tcp(c);                                   /* 14 */
	tcp_send(c, &t6, 0, "hello-v6-tcp");                     /* 15 */
	tcp_send(c, &t4, 1, http_ok);                            /* 16 */
	emit_icmp(c, &i6, 0, true, 128, "ping6-payload");        /* 17 */
	emit_udp(c, &u4, 0, "split-");                           /* 18 */
	emit_udp(c, &u4, 0, "udp");                              /* 19 */
	tcp_send(c, &t6, 1, "bye-v6-tcp");                       /* 20 */
	tcp_close(c, &t4);                                       /* 21-23 */
	emit_icmp(c, &i6, 1, true, 129, "ping6-payload");        /* 24 */
	tcp_close(c, &t6);                                       /* 25-27 */
}

/*
 * wrap: 10.0.12.1:40100 -> 10.0.12.2:80 with client ISN 2^32-10 and server
 * ISN 2^32-3, so both streams cross sequence number 0. The client stream
 * "GET /wrap-secret-token HTTP/1.1\r\n\r\n" goes out as [9,35) at sequence
 * 0 (frame 4) before [0,9) "GET /wrap" at 0xfffffff7 (frame 5): the
 * pattern crosses both the wrap and the segment boundary, out of order.
 * Then a second request "GET /after-wrap" (frame 6), the server response
 * "HTTP/1.1 200 OK\r\n\r\nwrap-reply" which itself crosses 0 (frame 7),
 * FIN both ways. -c wrap-secret-token and -s wrap-reply select the flow.
 */
static void
sc_wrap(struct cap *c)
{
	struct conn k =
	    conn("10.0.12.1", 40100, "10.0.12.2", 80, 0xfffffff6U, 0xfffffffdU);

	tcp_handshake(c, &k);
	tcp_at(c, &k, 0, 9, "-secret-token HTTP/1.1\r\n\r\n");
	tcp_at(c, &k, 0, 0, "GET /wrap");
	k.nxt[0] += 35;
	tcp_send(c, &k, 0, "GET /after-wrap HTTP/1.1\r\n\r\n");
	tcp_send(c, &k, 1, "HTTP/1.1 200 OK\r\n\r\nwrap-reply");
	tcp_close(c, &k);
}

/*
 * rst:
 *   frames 1-11   R1 10.0.9.1:40070 -> 10.0.9.2:80: handshake, "GET /rst-"
 *                 (4), a spoofed RST to the client with a sequence number
 *                 2^30 past the server's (5), a spoofed RST to the server
 *                 2^30 before the client's (6), "secret HTTP/1.1.." (7),
 *                 response, FIN both ways. Both RSTs are out of window
 *                 (RFC 5961): "rst-secret" must still match.
 *   frames 12-17  R2 10.0.9.3:40071 -> 10.0.9.2:80: handshake, "GET
 *                 /reset-" (15), the server's RST|ACK at exactly its next
 *                 sequence number (16, ends the flow), then a stray client
 *                 ACK (17) that belongs to the ended flow, not a new one.
 *   frames 18-27  R3 10.0.9.5:40072 -> 10.0.9.2:80: handshake, "GET /inser"
 *                 (21), a RST|ACK from the client at exactly its next
 *                 sequence number (22) that the server never got (an
 *                 insertion: the connection goes on), "ted-secret
 *                 HTTP/1.1.." (23), response (24), FIN both ways (25-27).
 * flowgrep: -a rst-secret selects host 10.0.9.1; -a 'GET /reset-' selects
 * host 10.0.9.3 (all six frames); -a inserted-secret selects host 10.0.9.5;
 * -a '' reports three flows.
 */
static void
sc_rst(struct cap *c)
{
	struct conn a = conn("10.0.9.1", 40070, "10.0.9.2", 80, 71000, 72000);
	struct conn b = conn("10.0.9.3", 40071, "10.0.9.2", 80, 73000, 74000);
	struct conn d = conn("10.0.9.5", 40072, "10.0.9.2", 80, 75000, 76000);

	tcp_handshake(c, &a);
	tcp_send(c, &a, 0, "GET /rst-");
	tcp_raw(c, &a, 1, a.nxt[1] + 0x40000000U, TH_RST, NULL, 0);
	tcp_raw(c, &a, 0, a.nxt[0] - 0x40000000U, TH_RST, NULL, 0);
	tcp_send(c, &a, 0, "secret HTTP/1.1\r\n\r\n");
	tcp_send(c, &a, 1, http_ok);
	tcp_close(c, &a);

	tcp_handshake(c, &b);
	tcp_send(c, &b, 0, "GET /reset-");
	tcp_raw(c, &b, 1, b.nxt[1], TH_RST | TH_ACK, NULL, 0);
	tcp_ack(c, &b, 0);

	tcp_handshake(c, &d);
	tcp_send(c, &d, 0, "GET /inser");
	tcp_raw(c, &d, 0, d.nxt[0], TH_RST | TH_ACK, NULL, 0);
	tcp_send(c, &d, 0, "ted-secret HTTP/1.1\r\n\r\n");
	tcp_send(c, &d, 1, http_ok);
	tcp_close(c, &d);
}

/*
 * gap: 10.0.10.1:40080 -> 10.0.10.2:80. The client sends "GET /gap-sec"
 * (frame 4, offset 0); the next 10 bytes (offset 12) are never captured;
 * "ret-token after-gap-secret HTTP/1.1\r\n\r\n" follows at offset 22
 * (frame 5). The server acknowledges all of it (frame 6, past the missing
 * bytes), responds (7), FIN both ways (8-10). "gap-secret-token" exists
 * only if the gap were bridged: no match; "after-gap-secret" matches.
 */
static void
sc_gap(struct cap *c)
{
	struct conn k = conn("10.0.10.1", 40080, "10.0.10.2", 80, 81000, 82000);
	const char *tail = "ret-token after-gap-secret HTTP/1.1\r\n\r\n";

	tcp_handshake(c, &k);
	tcp_at(c, &k, 0, 0, "GET /gap-sec");
	tcp_at(c, &k, 0, 22, tail);
	k.nxt[0] += 22 + (uint32_t)strlen(tail);
	tcp_ack(c, &k, 1);
	tcp_send(c, &k, 1, http_ok);
	tcp_close(c, &k);
}

/*
 * nano: a nanosecond-precision file (packets 1,000,001 ns apart, so packet
 * k is at k ms + k ns). Frames 1-8 10.0.11.1:40090 -> 10.0.11.2:80
 * requesting "/nano-secret" (frame 4, at 00:00:00.003000003); frames 9-16
 * 10.0.11.3:40091 requesting "/other". flowgrep reports the match with
 * nanosecond time and -a '' -w rewrites the file byte for byte.
 */
static void
sc_nano(struct cap *c)
{
	struct conn a = conn("10.0.11.1", 40090, "10.0.11.2", 80, 91000, 92000);
	struct conn b = conn("10.0.11.3", 40091, "10.0.11.2", 80, 93000, 94000);
	static const char *const ra[] = {"GET /nano-secret HTTP/1.1\r\n\r\n"};
	static const char *const rb[] = {"GET /other HTTP/1.1\r\n\r\n"};

	c->step_ns = STEP_NS + 1;
	tcp_exchange(c, &a, ra, 1, http_ok);
	tcp_exchange(c, &b, rb, 1, http_ok);
}

/* Gives the two ends of k the MAC addresses 02:00:00:00:net:cid/sid. */
static void
conn_macs(struct conn *k, uint8_t net, uint8_t cid, uint8_t sid)
{
	k->pa.h[0].mac[4] = net;
	k->pa.h[0].mac[5] = cid;
	k->pa.h[1].mac[4] = net;
	k->pa.h[1].mac[5] = sid;
}

/*
 * kill4: two interleaved connections to 10.0.13.2:80, for -k
 * --kill-dry-run (DESIGN.md section 6: RSTs at exactly the next expected
 * sequence number, RFC 5961 section 3.2). MACs: A's client
 * 02:00:00:00:13:01, B's client 02:00:00:00:13:03, server 02:00:00:00:13:02.
 *   A 10.0.13.1:40110, ISNs 130000/140000; B 10.0.13.3:40111, 150000/160000.
 *   frames  1-3   A handshake          4-6  B handshake
 *   frame   7     A client "HELO one\r\n"   (10 bytes, client next 130011)
 *   frame   8     A server "250 hello\r\n"  (11, server next 140012)
 *   frame   9     B client "HELO two\r\n"
 *   frame  10     A client "DATA kill-"     (10, 130021)
 *   frame  11     A client "secret\r\n"     (8, 130029): "kill-secret"
 *                 completes here, across two segments; A is decided.
 *   frame  12     B server "250 hello\r\n"
 *   frame  13     A server "250 ok\r\n"     (8, server next 140020)
 *   frame  14     A client FIN at 130029    (client next 130030)
 *   frame  15     A server "bye\r\n" after the client's FIN (half close;
 *                 5 bytes, server next 140025)
 *   frame  16     A client ACK at 130030 (no data, no FIN: still 130030)
 *   frame  17     A server FIN at 140025    (server next 140026)
 *   frame  18     A client ACK at 130030    (still 130030/140026)
 *   frames 19-23  B client "QUIT\r\n", server "221 bye\r\n", FIN both ways
 *                 and the last ACK (B ends at frame 23: client next
 *                 150017, server next 160021).
 * -k -a kill-secret: one RST pair (client->server seq = client next, ack =
 * server next; server->client the reverse) at frame 11 and after each of
 * A's frames 13-18, i.e. 7 pairs with the values above. -v -c '^HELO one'
 * --depth 10 (an allow-list) kills B alone, at frame 9 (client next 150011,
 * server next 160001) and after each of its later frames.
 */
static void
sc_kill4(struct cap *c)
{
	struct conn a =
	    conn("10.0.13.1", 40110, "10.0.13.2", 80, 130000, 140000);
	struct conn b =
	    conn("10.0.13.3", 40111, "10.0.13.2", 80, 150000, 160000);

	conn_macs(&a, 0x13, 1, 2);
	conn_macs(&b, 0x13, 3, 2);
	tcp_handshake(c, &a);                 /* 1-3 */
	tcp_handshake(c, &b);                 /* 4-6 */
	tcp_send(c, &a, 0, "HELO one\r\n");   /* 7 */
	tcp_send(c, &a, 1, "250 hello\r\n");  /* 8 */
	tcp_send(c, &b, 0, "HELO two\r\n");   /* 9 */
	tcp_send(c, &a, 0, "DATA kill-");     /* 10 */
	tcp_send(c, &a, 0, "secret\r\n");     /* 11 */
	tcp_send(c, &b, 1, "250 hello\r\n");  /* 12 */
	tcp_send(c, &a, 1, "250 ok\r\n");     /* 13 */
	tcp_fin(c, &a, 0);                    /* 14 */
	tcp_send(c, &a, 1, "bye\r\n");        /* 15 */
	tcp_ack(c, &a, 0);                    /* 16 */
	tcp_fin(c, &a, 1);                    /* 17 */
	tcp_ack(c, &a, 0);                    /* 18 */
	tcp_send(c, &b, 0, "QUIT\r\n");       /* 19 */
	tcp_send(c, &b, 1, "221 bye\r\n");    /* 20 */
	tcp_close(c, &b);                     /* 21-23 */
}

/*
 * kill6: kill4's shape over IPv6, the pattern in the server stream.
 * Server [fd00:14::2]:443 02:00:00:00:14:02.
 *   A [fd00:14::1]:40120 (02:00:00:00:14:01), ISNs 0xfffffff0/200000: the
 *     client's sequence numbers wrap.
 *   B [fd00:14::3]:40121 (02:00:00:00:14:03), ISNs 210000/220000.
 *   frames  1-3   A handshake          4-6  B handshake
 *   frame   7     A client "hello\n"          (6, client next 0xfffffff7)
 *   frame   8     A server "welcome\n"        (8, server next 200009)
 *   frame   9     A client "fetch wrap-it\n"  (14, client next 5: wrapped)
 *   frame  10     B client "hello\n"
 *   frame  11     A server "v6-kill-"         (8, 200017)
 *   frame  12     A server "secret\n"         (7, 200024): the server
 *                 stream holds "v6-kill-secret"; A is decided here.
 *   frame  13     B server "welcome\n"
 *   frame  14     A client ACK                (5/200024)
 *   frames 15-17  A FIN both ways and the last ACK (client next 6,
 *                 server next 200025)
 *   frames 18-20  B FIN both ways and the last ACK
 * -k -s v6-kill-secret: RST pairs at frame 12, 14, 15, 16, 17.
 */
static void
sc_kill6(struct cap *c)
{
	struct conn a =
	    conn("fd00:14::1", 40120, "fd00:14::2", 443, 0xfffffff0U, 200000);
	struct conn b =
	    conn("fd00:14::3", 40121, "fd00:14::2", 443, 210000, 220000);

	conn_macs(&a, 0x14, 1, 2);
	conn_macs(&b, 0x14, 3, 2);
	tcp_handshake(c, &a);                   /* 1-3 */
	tcp_handshake(c, &b);                   /* 4-6 */
	tcp_send(c, &a, 0, "hello\n");          /* 7 */
	tcp_send(c, &a, 1, "welcome\n");        /* 8 */
	tcp_send(c, &a, 0, "fetch wrap-it\n");  /* 9 */
	tcp_send(c, &b, 0, "hello\n");          /* 10 */
	tcp_send(c, &a, 1, "v6-kill-");         /* 11 */
	tcp_send(c, &a, 1, "secret\n");         /* 12 */
	tcp_send(c, &b, 1, "welcome\n");        /* 13 */
	tcp_ack(c, &a, 0);                      /* 14 */
	tcp_close(c, &a);                       /* 15-17 */
	tcp_close(c, &b);                       /* 18-20 */
}

/* Sends the next len bytes of direction dir in one segment (NULs allowed). */
static void
tcp_sendn(struct cap *c, struct conn *k, int dir, const char *data,
    size_t len)
{
	tcp_raw(c, k, dir, k->nxt[dir], TH_PSH | TH_ACK, data, len);
	k->nxt[dir] += (uint32_t)len;
}

/* Sends one UDP datagram of len bytes (NULs allowed). */
static void
emit_udpn(struct cap *c, struct path *pa, int dir, const char *data,
    size_t len)
{
	uint8_t l4[FRAME_MAX];
	size_t n = build_udp(pa, dir, data, len, l4);

	emit_l4(c, pa, dir, IPPROTO_UDP_, l4, n);
}

/*
 * context: ten flows and two packets that are not flows, for -A/-B/-C.
 * Flow n (numbered in order of its first packet) has client 10.0.20.n, so
 * "host 10.0.20.n" names exactly its packets; every TCP server is
 * 10.0.20.100:80 and each TCP client port is 41000 + n.
 *   n1   T1  10.0.20.1:41001   "GET /page-1"            frames  1-8
 *        an ARP request (10.0.8.1 asks for 10.0.8.2)     frame   9
 *   n2   T2  10.0.20.2:41002   "GET /page-2"            frames 10-17
 *   n3   T3  10.0.20.3:41003   "GET /page-3"            frames 18, 22-28
 *   n4   L   10.0.20.4:41004   handshake inside T3, then idle until the
 *            end: "GET /ctx-secret-long" (72), close     frames 19-21, 72-76
 *   n5   T4  10.0.20.5:41005   "GET /page-4"            frames 29-36
 *   n6   U   10.0.20.6:41006 -> 10.0.20.100:9, UDP "udp-query" and,
 *            inside T6, "udp-answer"                    frames 37, 51
 *   n7   T5  10.0.20.7:41007   "GET /page-5"            frames 38-45
 *        the first fragment (24 bytes) of a 72-byte UDP datagram
 *        10.0.20.50:41050 -> 10.0.20.100:9 that never completes: frame 46
 *   n8   T6  10.0.20.8:41008   "GET /ctx-secret-short"  frames 47-50, 52-55
 *   n9   T7  10.0.20.9:41009   "GET /page-7"; T8 starts before T7 answers
 *                                                       frames 56-59, 68-71
 *   n10  T8  10.0.20.10:41010  "GET /page-8", ends before T7
 *                                                       frames 60-67
 * 76 frames. -a ctx-secret matches n4 (decided last, at frame 72, long
 * after the flows around it ended) and n8 (at frame 50). Context counts the
 * ten flows only, never the ARP or fragment units:
 *   -A 1  n4 n5 n8 n9          -B 1  n3 n4 n7 n8
 *   -C 1  n3-n5 n7-n9          -C 2  n2-n10 (the runs n2-n6 and n6-n10
 *                                    overlap in n6)
 *   -A 100  n4-n10             -B 100  n1-n8
 * -v -a 'GET /page' selects n4, n6, n8 and both units; -v -A 1 adds n5, n7
 * and n9.
 */
static void
sc_context(struct cap *c)
{
	static const char *const req[11] = {NULL,
	    "GET /page-1 HTTP/1.1\r\n\r\n", "GET /page-2 HTTP/1.1\r\n\r\n",
	    "GET /page-3 HTTP/1.1\r\n\r\n",
	    "GET /ctx-secret-long HTTP/1.1\r\n\r\n",
	    "GET /page-4 HTTP/1.1\r\n\r\n", NULL,
	    "GET /page-5 HTTP/1.1\r\n\r\n",
	    "GET /ctx-secret-short HTTP/1.1\r\n\r\n",
	    "GET /page-7 HTTP/1.1\r\n\r\n", "GET /page-8 HTTP/1.1\r\n\r\n"};
	static const struct piece first[] = {{0, 24}};
	struct conn t[11];
	struct path u, fr;
	char a[32], pl[65];
	uint8_t l4[FRAME_MAX];
	size_t n;
	int i;

	for (i = 1; i <= 10; i++) {
		snprintf(a, sizeof(a), "10.0.20.%d", i);
		t[i] = conn(a, (uint16_t)(41000 + i), "10.0.20.100", 80,
		    (uint32_t)i * 100000U, (uint32_t)i * 100000U + 50000U);
	}
	u = path("10.0.20.6", 41006, "10.0.20.100", 9);
	fr = path("10.0.20.50", 41050, "10.0.20.100", 9);

	tcp_exchange(c, &t[1], &req[1], 1, http_ok);    /* 1-8 */
	emit_arp(c);                                    /* 9 */
	tcp_exchange(c, &t[2], &req[2], 1, http_ok);    /* 10-17 */
	tcp_syn(c, &t[3]);                              /* 18 */
	tcp_handshake(c, &t[4]);                        /* 19-21 */
	tcp_synack(c, &t[3]);                           /* 22 */
	tcp_ack(c, &t[3], 0);                           /* 23 */
	tcp_send(c, &t[3], 0, req[3]);                  /* 24 */
	tcp_send(c, &t[3], 1, http_ok);                 /* 25 */
	tcp_close(c, &t[3]);                            /* 26-28 */
	tcp_exchange(c, &t[5], &req[5], 1, http_ok);    /* 29-36 */
	emit_udp(c, &u, 0, "udp-query");                /* 37 */
	tcp_exchange(c, &t[7], &req[7], 1, http_ok);    /* 38-45 */
	udp_payload(pl, 0, "lost-fragment");
	n = build_udp(&fr, 0, pl, 64, l4);
	emit_frags(c, &fr, 0, IPPROTO_UDP_, l4, n, first, 1); /* 46 */
	tcp_handshake(c, &t[8]);                        /* 47-49 */
	tcp_send(c, &t[8], 0, req[8]);                  /* 50 */
	emit_udp(c, &u, 1, "udp-answer");               /* 51 */
	tcp_send(c, &t[8], 1, http_ok);                 /* 52 */
	tcp_close(c, &t[8]);                            /* 53-55 */
	tcp_handshake(c, &t[9]);                        /* 56-58 */
	tcp_send(c, &t[9], 0, req[9]);                  /* 59 */
	tcp_exchange(c, &t[10], &req[10], 1, http_ok);  /* 60-67 */
	tcp_send(c, &t[9], 1, http_ok);                 /* 68 */
	tcp_close(c, &t[9]);                            /* 69-71 */
	tcp_send(c, &t[4], 0, req[4]);                  /* 72 */
	tcp_send(c, &t[4], 1, http_ok);                 /* 73 */
	tcp_close(c, &t[4]);                            /* 74-76 */
}

/*
 * hostile: payloads that a JSON or text writer must escape.
 *   H1 TCP 10.0.21.1:42001 -> 10.0.21.2:80, frames 1-10: handshake;
 *     frame 4, client: 'GET /q?a="quoted"&b=back\slash\ HTTP/1.1\r\n'
 *       'X-Text: \u0000 and \" and \\\r\n' (backslashes and "\u0000" as
 *       text) 'X-Bin: ' then the bytes 00 01 07 08 09 0a 0b 0c 0d 1b 1f
 *       7f 80 9f a0 c3 28 ff fe, then ' end\r\n\r\n';
 *     frame 5, server: 'HTTP/1.1 200 OK\r\n\r\n' 'lone ' c3 ' here, cut '
 *       e2 82 ', surrogate ' ed a0 80 ', overlong ' c0 af
 *       ', </script><!-- end';
 *     frame 6, client: 'POST /long?' and one 1400-byte line without
 *       spaces (the 14 bytes '0123456789"\' 00 ff, 100 times), then
 *       ' HTTP/1.1\r\n\r\n';
 *     frame 7, server "ok"; FIN both ways (8-10).
 *   H2 UDP 10.0.21.3:42002 -> 10.0.21.4:9: frame 11, a datagram holding
 *     every byte value 00..ff in order; frame 12, the reply
 *     '"\"\u0000\' 00 '"' (quotes, backslashes, NUL).
 * Every --json line of any run on it must be valid JSON whose excerpt,
 * read as Latin-1, is the first bytes of the match.
 */
static void
sc_hostile(struct cap *c)
{
	static const char req1[] =
	    "GET /q?a=\"quoted\"&b=back\\slash\\ HTTP/1.1\r\n"
	    "X-Text: \\u0000 and \\\" and \\\\\r\n"
	    "X-Bin: \x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f\x80\x9f"
	    "\xa0\xc3\x28\xff\xfe end\r\n\r\n";
	static const char resp1[] = "HTTP/1.1 200 OK\r\n\r\n"
	    "lone \xc3 here, cut \xe2\x82, surrogate \xed\xa0\x80, "
	    "overlong \xc0\xaf, </script><!-- end";
	static const char unit[] = "0123456789\"\\\x00\xff";
	static const char reply[] = "\"\\\"\\u0000\\\x00\"";
	struct conn k =
	    conn("10.0.21.1", 42001, "10.0.21.2", 80, 210000, 220000);
	struct path u = path("10.0.21.3", 42002, "10.0.21.4", 9);
	char buf[1500];
	size_t n = 0;
	int i;

	tcp_handshake(c, &k);                            /* 1-3 */
	tcp_sendn(c, &k, 0, req1, sizeof(req1) - 1);     /* 4 */
	tcp_sendn(c, &k, 1, resp1, sizeof(resp1) - 1);   /* 5 */
	memcpy(buf, "POST /long?", 11);
	n = 11;
	for (i = 0; i < 100; i++) {
		memcpy(buf + n, unit, sizeof(unit) - 1);
		n += sizeof(unit) - 1;
	}
	memcpy(buf + n, " HTTP/1.1\r\n\r\n", 13);
	n += 13;
	tcp_sendn(c, &k, 0, buf, n);                     /* 6 */
	tcp_send(c, &k, 1, "ok");                        /* 7 */
	tcp_close(c, &k);                                /* 8-10 */
	for (i = 0; i < 256; i++)
		buf[i] = (char)i;
	emit_udpn(c, &u, 0, buf, 256);                   /* 11 */
	emit_udpn(c, &u, 1, reply, sizeof(reply) - 1);   /* 12 */
}

struct scenario {
	const char *name;
	int linktype;
	bool nsec;
	void (*fn)(struct cap *);
	const char *what;
};

/*
 * bulk: 48 TCP connections 10.0.9.1:41000+i to 10.0.9.2:80, interleaved a
 * segment at a time, 2.9 MB in all: over a megabyte, so flowgrep reads it
 * ahead, and its pass 2 copies scattered records from the blocks read
 * ahead (pcapio_copy_ahead). After the handshakes each client sends
 * "GET /bulk/I" (every fourth: "hello bulk I"); then 40 rounds of 1400
 * bytes of lowercase filler, client and server in turn; then every
 * connection closes. Every third connection's server sends "HTTP/1.1 200
 * OK" across two segments ("...HT" + "TP/1.1 200 OK..."), in rounds 21
 * and 23: -a HTTP selects those 16 flows, a third of the bytes.
 */
static void
sc_bulk(struct cap *c)
{
	enum { NCONN = 48, ROUNDS = 40, SEG = 1400 };
	static struct conn k[NCONN];
	char buf[SEG + 1];
	int i, r, j;

	for (i = 0; i < NCONN; i++) {
		k[i] = conn("10.0.9.1", (uint16_t)(41000 + i), "10.0.9.2", 80,
		    0x10000000U + (uint32_t)i * 7919, 0x20000000U +
		    (uint32_t)i * 104729);
		tcp_handshake(c, &k[i]);
	}
	for (i = 0; i < NCONN; i++) {
		snprintf(buf, sizeof(buf), i % 4 == 0 ? "hello bulk %d\r\n" :
		    "GET /bulk/%d\r\n\r\n", i);
		tcp_send(c, &k[i], 0, buf);
	}
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < NCONN; i++) {
			for (j = 0; j < SEG; j++)
				buf[j] = (char)('a' + (i + r + j) % 26);
			buf[SEG] = '\0';
			if (i % 3 == 0 && r == 21)
				memcpy(buf + SEG - 2, "HT", 2);
			if (i % 3 == 0 && r == 23)
				memcpy(buf, "TP/1.1 200 OK\r\n", 15);
			tcp_send(c, &k[i], r % 2, buf);
		}
	for (i = 0; i < NCONN; i++)
		tcp_close(c, &k[i]);
}

static const struct scenario scenarios[] = {
    {"split-match", DLT_EN10MB, false, sc_split_match,
	"token straddling 2 and 3 TCP segments"},
    {"ooo", DLT_EN10MB, false, sc_ooo,
	"out of order, retransmission, overlaps with different bytes"},
    {"frag4", DLT_EN10MB, false, sc_frag4,
	"UDP/TCP over IPv4 fragments, in and out of order, incomplete"},
    {"frag6", DLT_EN10MB, false, sc_frag6,
	"UDP/TCP over IPv6 fragments, in and out of order, incomplete"},
    {"vlan", DLT_EN10MB, false, sc_vlan,
	"one 5-tuple untagged, in VLAN 10 and in QinQ 100/200"},
    {"sll2", DLT_LINUX_SLL2, false, sc_sll2,
	"LINKTYPE_LINUX_SLL2, IPv6 and IPv4 TCP"},
    {"sll", DLT_LINUX_SLL, false, sc_sll,
	"LINKTYPE_LINUX_SLL, IPv4 and IPv6 TCP"},
    {"midstream", DLT_EN10MB, false, sc_midstream,
	"TCP without handshake, data in the server direction"},
    {"portreuse", DLT_EN10MB, false, sc_portreuse,
	"two connections on one 5-tuple, one after the other"},
    {"mixed", DLT_EN10MB, false, sc_mixed,
	"interleaved TCP/UDP/ICMP over IPv4/IPv6, ARP, truncated TCP"},
    {"wrap", DLT_EN10MB, false, sc_wrap,
	"sequence numbers wrapping in both directions"},
    {"rst", DLT_EN10MB, false, sc_rst,
	"out-of-window RSTs; in-window RST then a stray ACK"},
    {"gap", DLT_EN10MB, false, sc_gap, "bytes lost but acknowledged"},
    {"nano", DLT_EN10MB, true, sc_nano, "nanosecond timestamps"},
    {"kill4", DLT_EN10MB, false, sc_kill4,
	"two IPv4 connections, one to kill mid-stream, half close"},
    {"kill6", DLT_EN10MB, false, sc_kill6,
	"two IPv6 connections, a server-side match, wrapping seq"},
    {"context", DLT_EN10MB, false, sc_context,
	"ten flows, ARP, a lone fragment: -A/-B/-C"},
    {"hostile", DLT_EN10MB, false, sc_hostile,
	"quotes, backslashes, NUL, control bytes, bad UTF-8, long line"},
    {"bulk", DLT_EN10MB, false, sc_bulk,
	"48 interleaved TCP connections, 2.9 MB: read ahead, copied ahead"},
};

#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void
usage(void)
{
	fprintf(stderr, "usage: mkcap SCENARIO OUT.pcap | mkcap --list\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct scenario *sc = NULL;
	struct cap c;
	size_t i;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < NSCENARIOS; i++)
			printf(
			    "%-12s %s\n", scenarios[i].name, scenarios[i].what);
		return 0;
	}
	if (argc != 3)
		usage();
	for (i = 0; i < NSCENARIOS; i++)
		if (strcmp(argv[1], scenarios[i].name) == 0)
			sc = &scenarios[i];
	if (sc == NULL)
		errx(2, "unknown scenario %s (see mkcap --list)", argv[1]);
	cap_open(&c, argv[2], sc->linktype, sc->nsec);
	sc->fn(&c);
	cap_close(&c);
	return 0;
}
