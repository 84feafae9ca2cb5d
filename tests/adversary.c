/* adversary.c: writes hostile captures for tests/e2e_adversary.sh, of any size. */

/*
 * Usage: adversary CASE OUT.pcap [N [M]], or adversary --list.
 * OUT.pcap may be "-" (standard output): every case is written as it is
 * generated, packet by packet, so a capture of many GB needs no memory.
 *
 * Each case floods one of flowgrep's tables or queues and plants, among the
 * flood, flows that carry PLANT ("secret-token"). On standard error it
 * prints one line:
 *
 *   adversary: CASE records=R planted=P
 *
 * R is the number of records written, P the number of them that belong to
 * the flows carrying PLANT: what `flowgrep -a secret-token -w` must write,
 * whatever the flood did to its tables. Nothing else in a case contains
 * PLANT. N and M size the flood (see cases[] for their meaning and
 * defaults). Packet times start at 2024-01-01T00:00:00Z and advance 1 us
 * per packet, so no flow times out: only the caps can end them early.
 * Checksums are left zero: flowgrep does not verify them (DESIGN.md 3).
 */

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0_SEC 1704067200U
#define STEP_NS 1000U
#define SNAPLEN 65535
#define FRAME_MAX 2048
#define MSS 1448
#define PLANT "secret-token"
#define PLANT_LEN (sizeof(PLANT) - 1)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_FRAG6 44

/* The output and the time of its next packet. */
struct out {
	pcap_t *p;
	pcap_dumper_t *d;
	uint64_t t_ns;
	uint64_t records;
	uint64_t planted;
	bool plant;		/* records written now are planted ones */
};

/* An endpoint: IPv4 (the first 4 bytes of addr) or IPv6. */
struct ep {
	int ipver;
	uint8_t addr[16];
	uint16_t port;
};

/* A TCP connection: c[0] the client, c[1] the server, nxt what each sends next. */
struct tcpc {
	struct ep e[2];
	uint32_t nxt[2];
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

/* ---- output ---- */

static void
out_open(struct out *o, const char *path, int snaplen)
{
	memset(o, 0, sizeof(*o));
	if ((o->p = pcap_open_dead(DLT_EN10MB, snaplen)) == NULL)
		errx(1, "pcap_open_dead failed");
	if ((o->d = pcap_dump_open(o->p, path)) == NULL)
		errx(1, "%s: %s", path, pcap_geterr(o->p));
}

static void
out_close(struct out *o)
{
	if (pcap_dump_flush(o->d) == -1)
		errx(1, "write failed");
	pcap_dump_close(o->d);
	pcap_close(o->p);
}

/* Writes a record of caplen bytes of a frame of wirelen; advances the clock. */
static void
out_cut(struct out *o, const uint8_t *b, uint32_t caplen, uint32_t wirelen)
{
	struct pcap_pkthdr h;

	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(T0_SEC + o->t_ns / 1000000000U);
	h.ts.tv_usec = (suseconds_t)(o->t_ns % 1000000000U / 1000);
	h.caplen = caplen;
	h.len = wirelen;
	pcap_dump((u_char *)o->d, &h, b);
	o->t_ns += STEP_NS;
	o->records++;
	if (o->plant)
		o->planted++;
}

static void
out_frame(struct out *o, const uint8_t *b, size_t len)
{
	out_cut(o, b, (uint32_t)len, (uint32_t)len);
}

/* ---- frames ---- */

static struct ep
ep4(uint32_t a, uint16_t port)
{
	struct ep e;

	memset(&e, 0, sizeof(e));
	e.ipver = 4;
	put32(e.addr, a);
	e.port = port;
	return e;
}

static struct ep
ep6(uint32_t a, uint16_t port)
{
	struct ep e;

	memset(&e, 0, sizeof(e));
	e.ipver = 6;
	e.addr[0] = 0xfd;
	e.addr[1] = 0x0a;
	put32(e.addr + 12, a);
	e.port = port;
	return e;
}

/*
 * Ethernet and IP headers of a packet from s to d whose IP payload is
 * plen bytes; with frag, a fragment at byte off of datagram id (more: MF).
 * Returns the header length.
 */
static size_t
put_ip(uint8_t *b, const struct ep *s, const struct ep *d, uint8_t proto,
    size_t plen, bool frag, size_t off, bool more, uint32_t id)
{
	size_t n = 12;

	memset(b, 0, 12);
	b[0] = b[6] = 0x02;
	b[5] = 1;
	b[11] = 2;
	if (s->ipver == 4) {
		put16(b + n, 0x0800);
		n += 2;
		b[n] = 0x45;
		b[n + 1] = 0;
		put16(b + n + 2, (uint32_t)(20 + plen));
		put16(b + n + 4, id & 0xffff);
		put16(b + n + 6, frag ? ((more ? 0x2000 : 0) |
		    (uint32_t)(off / 8)) : 0x4000);
		b[n + 8] = 64;
		b[n + 9] = proto;
		put16(b + n + 10, 0);
		memcpy(b + n + 12, s->addr, 4);
		memcpy(b + n + 16, d->addr, 4);
		return n + 20;
	}
	put16(b + n, 0x86dd);
	n += 2;
	put32(b + n, 0x60000000);
	put16(b + n + 4, (uint32_t)(plen + (frag ? 8 : 0)));
	b[n + 6] = frag ? PROTO_FRAG6 : proto;
	b[n + 7] = 64;
	memcpy(b + n + 8, s->addr, 16);
	memcpy(b + n + 24, d->addr, 16);
	n += 40;
	if (frag) {
		b[n] = proto;
		b[n + 1] = 0;
		put16(b + n + 2, (uint32_t)off | (more ? 1 : 0));
		put32(b + n + 4, id);
		n += 8;
	}
	return n;
}

static size_t
put_tcp(uint8_t *b, const struct ep *s, const struct ep *d, uint32_t seq,
    uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	put16(b, s->port);
	put16(b + 2, d->port);
	put32(b + 4, seq);
	put32(b + 8, (flags & TH_ACK) ? ack : 0);
	b[12] = 5 << 4;
	b[13] = flags;
	put16(b + 14, 65535);
	put16(b + 16, 0);
	put16(b + 18, 0);
	if (len > 0)
		memcpy(b + 20, data, len);
	return 20 + len;
}

/* A TCP segment from s to d; caplen cut to snap bytes when snap > 0. */
static void
tcp_cut(struct out *o, const struct ep *s, const struct ep *d, uint32_t seq,
    uint32_t ack, uint8_t flags, const void *data, size_t len, size_t snap)
{
	uint8_t b[FRAME_MAX];
	size_t n;

	if (len > MSS)
		errx(1, "segment too large");
	n = put_ip(b, s, d, PROTO_TCP, 20 + len, false, 0, false, 1);
	n += put_tcp(b + n, s, d, seq, ack, flags, data, len);
	out_cut(o, b, (uint32_t)(snap > 0 && snap < n ? snap : n),
	    (uint32_t)n);
}

static void
tcp(struct out *o, const struct ep *s, const struct ep *d, uint32_t seq,
    uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	tcp_cut(o, s, d, seq, ack, flags, data, len, 0);
}

/* A fragment at byte off of datagram id, carrying len bytes of data. */
static void
frag_raw(struct out *o, const struct ep *s, const struct ep *d,
    uint8_t proto, const uint8_t *data, size_t off, size_t len, bool more,
    uint32_t id)
{
	uint8_t b[FRAME_MAX];
	size_t n;

	if (len > MSS)
		errx(1, "fragment too large");
	n = put_ip(b, s, d, proto, len, true, off, more, id);
	memcpy(b + n, data, len);
	out_frame(o, b, n + len);
}

/* One fragment: bytes [off, off + len) of an IP payload of total bytes. */
static void
fragment(struct out *o, const struct ep *s, const struct ep *d,
    uint8_t proto, const uint8_t *payload, size_t total, size_t off,
    size_t len, uint32_t id)
{
	frag_raw(o, s, d, proto, payload + off, off, len, off + len < total,
	    id);
}

/* A UDP header and data, as the IP payload to fragment. */
static size_t
put_udp(uint8_t *b, const struct ep *s, const struct ep *d, const void *data,
    size_t len)
{
	put16(b, s->port);
	put16(b + 2, d->port);
	put16(b + 4, (uint32_t)(8 + len));
	put16(b + 6, 0);
	memcpy(b + 8, data, len);
	return 8 + len;
}

/* ---- TCP conversations ---- */

static struct tcpc
tcpc(struct ep c, struct ep s, uint32_t cisn, uint32_t sisn)
{
	struct tcpc k;

	k.e[0] = c;
	k.e[1] = s;
	k.nxt[0] = cisn;
	k.nxt[1] = sisn;
	return k;
}

static void
handshake(struct out *o, struct tcpc *k)
{
	tcp(o, &k->e[0], &k->e[1], k->nxt[0], 0, TH_SYN, NULL, 0);
	k->nxt[0]++;
	tcp(o, &k->e[1], &k->e[0], k->nxt[1], k->nxt[0], TH_SYN | TH_ACK,
	    NULL, 0);
	k->nxt[1]++;
	tcp(o, &k->e[0], &k->e[1], k->nxt[0], k->nxt[1], TH_ACK, NULL, 0);
}

/* Data from side dir, in order, acknowledging what the other side sent. */
static void
send_data(struct out *o, struct tcpc *k, int dir, const void *data,
    size_t len)
{
	tcp(o, &k->e[dir], &k->e[!dir], k->nxt[dir], k->nxt[!dir],
	    TH_ACK | TH_PSH, data, len);
	k->nxt[dir] += (uint32_t)len;
}

static void
ack(struct out *o, struct tcpc *k, int dir)
{
	tcp(o, &k->e[dir], &k->e[!dir], k->nxt[dir], k->nxt[!dir], TH_ACK,
	    NULL, 0);
}

/* FIN from both sides and the last ACK. */
static void
close_both(struct out *o, struct tcpc *k)
{
	tcp(o, &k->e[0], &k->e[1], k->nxt[0], k->nxt[1], TH_FIN | TH_ACK,
	    NULL, 0);
	k->nxt[0]++;
	tcp(o, &k->e[1], &k->e[0], k->nxt[1], k->nxt[0], TH_FIN | TH_ACK,
	    NULL, 0);
	k->nxt[1]++;
	ack(o, k, 0);
}

/* A whole short connection whose request carries PLANT: planted. */
static void
planted_conn(struct out *o, struct ep c, struct ep s)
{
	static const char req[] = "GET /" PLANT " HTTP/1.1\r\n\r\n";
	struct tcpc k = tcpc(c, s, 1000, 5000);

	o->plant = true;
	handshake(o, &k);
	send_data(o, &k, 0, req, sizeof(req) - 1);
	ack(o, &k, 1);
	close_both(o, &k);
	o->plant = false;
}

/* Filler bytes that never contain PLANT (no '-'). */
static void
filler(uint8_t *b, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)('a' + (seed + i) % 26);
}

/* ---- cases ---- */

/*
 * synflood N: N SYNs from distinct client addresses and ports to one
 * server, as many concurrent TCP flows that never go further. Planted: a
 * whole connection halfway through, and one whose 9 packets are spread 500
 * flood packets apart (N/20 for small N) from a quarter on: it stays among
 * the recently active in an LRU table of more than 500 flows, and its SYN
 * among the newest 2,000 held packets until its request decides it.
 */
static void
sc_synflood(struct out *o, uint64_t n, uint64_t m)
{
	static const char req[] = "POST /login HTTP/1.1\r\n\r\nuser=" PLANT;
	struct ep srv = ep4(0x0aff0001, 80);
	struct tcpc b = tcpc(ep4(0x0afe0001, 40000), srv, 7000, 9000);
	uint64_t i, spread = n / 4, apart = n / 20 < 500 ? n / 20 : 500;
	int step = 0;

	(void)m;
	if (n < 40)
		errx(1, "synflood needs N >= 40");
	for (i = 0; i < n; i++) {
		struct ep c = ep4(0x0b000000 + (uint32_t)(i / 60000),
		    (uint16_t)(1024 + i % 60000));

		tcp(o, &c, &srv, (uint32_t)(i * 2654435761U), 0, TH_SYN, NULL,
		    0);
		if (i == n / 2)
			planted_conn(o, ep4(0x0afe0002, 40001), srv);
		if (i >= spread && (i - spread) % apart == 0 && step < 9) {
			o->plant = true;
			switch (step++) {
			case 0:
				tcp(o, &b.e[0], &b.e[1], b.nxt[0], 0, TH_SYN,
				    NULL, 0);
				b.nxt[0]++;
				break;
			case 1:
				tcp(o, &b.e[1], &b.e[0], b.nxt[1], b.nxt[0],
				    TH_SYN | TH_ACK, NULL, 0);
				b.nxt[1]++;
				break;
			case 2:
			case 5:
				ack(o, &b, 0);
				break;
			case 3:
				send_data(o, &b, 0, req, sizeof(req) - 1);
				break;
			case 4:
				send_data(o, &b, 1, "HTTP/1.1 200 OK\r\n\r\n",
				    19);
				break;
			case 6:
				tcp(o, &b.e[0], &b.e[1], b.nxt[0], b.nxt[1],
				    TH_FIN | TH_ACK, NULL, 0);
				b.nxt[0]++;
				break;
			case 7:
				tcp(o, &b.e[1], &b.e[0], b.nxt[1], b.nxt[0],
				    TH_FIN | TH_ACK, NULL, 0);
				b.nxt[1]++;
				break;
			case 8:
				ack(o, &b, 0);
				break;
			}
			o->plant = false;
		}
	}
}

/*
 * A datagram of 3,000 bytes of UDP carrying PLANT, in three fragments sent
 * last, first, middle: it completes only when all three are in.
 */
static void
planted_frags(struct out *o, int ipver)
{
	uint8_t data[3000], payload[3100];
	struct ep s = ipver == 4 ? ep4(0x0afd0001, 5353) : ep6(0xfd01, 5353);
	struct ep d = ipver == 4 ? ep4(0x0afd0002, 53) : ep6(0xfd02, 53);
	size_t len;

	filler(data, sizeof(data), 7);
	memcpy(data + 1500, PLANT, PLANT_LEN);
	len = put_udp(payload, &s, &d, data, sizeof(data));
	o->plant = true;
	fragment(o, &s, &d, PROTO_UDP, payload, len, 2048, len - 2048, 77);
	fragment(o, &s, &d, PROTO_UDP, payload, len, 0, 1024, 77);
	fragment(o, &s, &d, PROTO_UDP, payload, len, 1024, 1024, 77);
	o->plant = false;
}

/*
 * frag4 N SIZE / frag6 N SIZE: N fragments of SIZE bytes (default 200) of
 * distinct datagrams that never complete: first fragments (more to come),
 * middle ones, last ones, from 256 source addresses. Past 65,536 pending
 * datagrams or 64 MiB of fragment data, the oldest are evicted. Planted: a
 * fragmented datagram halfway through.
 */
static void
fragflood(struct out *o, int ipver, uint64_t n, uint64_t size)
{
	uint8_t payload[MSS + 8];
	struct ep d = ipver == 4 ? ep4(0x0a640001, 53) : ep6(0x640001, 53);
	uint64_t i;

	if (size == 0)
		size = 200;
	size &= ~(uint64_t)7;
	if (size < 8 || size > MSS)
		errx(1, "fragment size must be 8..%d", MSS);
	filler(payload, sizeof(payload), 3);
	for (i = 0; i < n; i++) {
		struct ep s = ipver == 4 ? ep4(0x0a650000 + (uint32_t)(i & 255),
		    1000) : ep6(0x650000 + (uint32_t)(i & 255), 1000);
		/* A first, middle or last fragment of a datagram never whole. */
		size_t off = (i % 3) * (size + 8);

		frag_raw(o, &s, &d, PROTO_UDP, payload, off, size, i % 3 != 2,
		    (uint32_t)(i / 256 + 1));
		if (i == n / 2)
			planted_frags(o, ipver);
	}
}

static void
sc_frag4(struct out *o, uint64_t n, uint64_t m)
{
	fragflood(o, 4, n, m);
}

static void
sc_frag6(struct out *o, uint64_t n, uint64_t m)
{
	fragflood(o, 6, n, m);
}

/*
 * overlap N: N datagrams each sent as overlapping fragments whose common
 * bytes differ, and N TCP connections with retransmissions that differ.
 * Planted: a datagram and a connection in which PLANT is whole only if the
 * bytes that came first win (DESIGN.md 3), each overwritten by a later
 * fragment or segment.
 */
static void
sc_overlap(struct out *o, uint64_t n, uint64_t m)
{
	uint8_t a[256], bb[256], payload[512];
	struct ep d = ep4(0x0a660001, 53);
	uint64_t i;
	size_t len;

	(void)m;
	memset(a, 'A', sizeof(a));
	memset(bb, 'B', sizeof(bb));
	for (i = 0; i < n; i++) {
		struct ep s = ep4(0x0a670000 + (uint32_t)(i & 0xffff), 1000);
		struct ep c = ep4(0x0a680000 + (uint32_t)(i & 0xffff),
		    (uint16_t)(2000 + i / 0x10000));
		struct tcpc k = tcpc(c, d, 100, 200);
		uint32_t id = (uint32_t)i + 1;

		/* [0,64) A, [32,96) B over it, [96,128) last. */
		len = put_udp(payload, &s, &d, a, 120);
		fragment(o, &s, &d, PROTO_UDP, payload, len, 0, 64, id);
		memcpy(payload + 32, bb, 64);
		fragment(o, &s, &d, PROTO_UDP, payload, len, 32, 64, id);
		fragment(o, &s, &d, PROTO_UDP, payload, len, 96, 32, id);
		/* A segment, then a retransmission of it with other bytes. */
		handshake(o, &k);
		tcp(o, &k.e[0], &k.e[1], k.nxt[0], k.nxt[1], TH_ACK, a, 100);
		tcp(o, &k.e[0], &k.e[1], k.nxt[0], k.nxt[1], TH_ACK, bb, 100);
		k.nxt[0] += 100;
		close_both(o, &k);
		if (i == n / 2) {
			static const char dg[] =
			    "AAAAAAAAAAAAAAAAAAAA" PLANT "ZZZZZZZZ";
			static const char first[] = "AAAAAAAAAAAAAAAAAAAA";
			struct ep ps = ep4(0x0a690001, 999);
			struct tcpc p = tcpc(ep4(0x0a690002, 4444), d, 300,
			    400);

			/*
			 * UDP header (8) and 32 bytes, [0,40); then [24,48)
			 * last, whose first 16 bytes would erase PLANT.
			 */
			len = put_udp(payload, &ps, &d, dg, 40);
			o->plant = true;
			fragment(o, &ps, &d, PROTO_UDP, payload, 48, 0, 40, 9);
			memset(payload + 24, 'X', 24);
			fragment(o, &ps, &d, PROTO_UDP, payload, 48, 24, 24, 9);
			/*
			 * PLANT at stream offset 20 arrives out of order; then
			 * bytes [0,32) with X where PLANT waits.
			 */
			handshake(o, &p);
			tcp(o, &p.e[0], &p.e[1], p.nxt[0] + 20, p.nxt[1],
			    TH_ACK, PLANT, PLANT_LEN);
			memcpy(payload, first, 20);
			memset(payload + 20, 'X', 12);
			tcp(o, &p.e[0], &p.e[1], p.nxt[0], p.nxt[1], TH_ACK,
			    payload, 32);
			p.nxt[0] += 32;
			close_both(o, &p);
			o->plant = false;
		}
	}
}

/*
 * ooo FLOWS SEGS: FLOWS connections (default 20) whose first data segment
 * is lost, followed by SEGS (default 800) segments of 1,448 bytes sent
 * round robin across the flows and never acknowledged: every queue grows
 * to its cap (1 MiB a direction, 128 MiB in all). Planted: a connection
 * whose lost first segment is skipped when the server acknowledges past it,
 * and one whose gap is skipped only when it closes; both carry PLANT after
 * the gap.
 */
static void
sc_ooo(struct out *o, uint64_t flows, uint64_t segs)
{
	uint8_t data[MSS];
	struct ep srv = ep4(0x0a6a0001, 443);
	struct tcpc *k;
	uint64_t f, s;

	if (flows == 0)
		flows = 20;
	if (segs == 0)
		segs = 800;
	if ((k = calloc(flows, sizeof(*k))) == NULL)
		err(1, "calloc");
	for (f = 0; f < flows; f++) {
		k[f] = tcpc(ep4(0x0a6b0000 + (uint32_t)f, 5000), srv,
		    (uint32_t)(f * 1000003), 1);
		handshake(o, &k[f]);
		k[f].nxt[0] += MSS;	/* the lost segment */
	}
	filler(data, sizeof(data), 11);
	for (s = 0; s < segs; s++) {
		for (f = 0; f < flows; f++) {
			tcp(o, &k[f].e[0], &k[f].e[1], k[f].nxt[0], 1,
			    TH_ACK, data, MSS);
			k[f].nxt[0] += MSS;
		}
		if (s == segs / 2) {
			static const char msg[] = "after the gap: " PLANT;
			struct tcpc p = tcpc(ep4(0x0a6c0001, 6000), srv, 10,
			    20);
			struct tcpc q = tcpc(ep4(0x0a6c0002, 6001), srv, 10,
			    20);

			o->plant = true;
			handshake(o, &p);
			p.nxt[0] += 100;
			send_data(o, &p, 0, msg, sizeof(msg) - 1);
			/* The server has all: the 100 bytes were lost. */
			ack(o, &p, 1);
			close_both(o, &p);
			handshake(o, &q);
			q.nxt[0] += 100;
			send_data(o, &q, 0, msg, sizeof(msg) - 1);
			close_both(o, &q);
			o->plant = false;
		}
	}
	free(k);
}

/*
 * tiny N: one connection of N 1-byte segments in order, PLANT in its last
 * hundred bytes (planted); and one of N 1-byte segments sent in reverse
 * order in blocks of 8,192, which the queue's segment cap (4,096) cuts.
 */
static void
sc_tiny(struct out *o, uint64_t n, uint64_t m)
{
	struct ep srv = ep4(0x0a6d0001, 25);
	struct tcpc k = tcpc(ep4(0x0a6d0002, 7000), srv, 0x10000, 0x20000);
	struct tcpc r = tcpc(ep4(0x0a6d0003, 7001), srv, 0x30000, 0x40000);
	uint64_t i, j, blk, at = n > 100 ? n - 100 : 0;
	uint8_t c;

	(void)m;
	if (n < PLANT_LEN)
		errx(1, "tiny needs N >= %zu", PLANT_LEN);
	o->plant = true;
	handshake(o, &k);
	for (i = 0; i < n; i++) {
		c = i >= at && i < at + PLANT_LEN ? (uint8_t)PLANT[i - at] :
		    (uint8_t)('a' + i % 26);
		send_data(o, &k, 0, &c, 1);
	}
	close_both(o, &k);
	o->plant = false;
	handshake(o, &r);
	for (blk = 0; blk < n; blk += 8192) {
		uint64_t end = blk + 8192 < n ? blk + 8192 : n;

		for (j = end; j > blk; j--) {
			c = (uint8_t)('a' + j % 26);
			tcp(o, &r.e[0], &r.e[1], r.nxt[0] + (uint32_t)(j - 1),
			    r.nxt[1], TH_ACK, &c, 1);
		}
	}
	r.nxt[0] += (uint32_t)n;
	close_both(o, &r);
}

/*
 * wrap N: connections whose sequence numbers wrap: N bytes (default 1 MB)
 * each way from ISNs just below 2^32, PLANT straddling the client's wrap,
 * two segments swapped across it (planted); and one with a gap across the
 * wrap, acknowledged, without PLANT.
 */
static void
sc_wrap(struct out *o, uint64_t n, uint64_t m)
{
	uint8_t data[1000];
	struct ep srv = ep4(0x0a6e0001, 80);
	struct tcpc k = tcpc(ep4(0x0a6e0002, 8000), srv, 0xffffffffU - 5005,
	    0xffffff00U);
	struct tcpc g = tcpc(ep4(0x0a6e0003, 8001), srv, 0xfffffff0U, 7);
	uint64_t off;

	(void)m;
	if (n == 0)
		n = 1000000;
	n -= n % 1000;
	if (n < 20000)
		errx(1, "wrap needs N >= 20000");
	o->plant = true;
	handshake(o, &k);
	/* Client bytes from 0; the wrap comes at stream offset 5004. */
	for (off = 0; off < n; off += 1000) {
		filler(data, sizeof(data), off);
		if (off == 4000)
			memcpy(data + 998, PLANT, 2);
		if (off == 5000)
			memcpy(data, PLANT + 2, PLANT_LEN - 2);
		if (off == 6000) {
			/* 7000 before 6000: out of order across the wrap. */
			uint8_t d2[1000];

			filler(d2, sizeof(d2), off + 1000);
			tcp(o, &k.e[0], &k.e[1], k.nxt[0] + 1000, k.nxt[1],
			    TH_ACK, d2, 1000);
			send_data(o, &k, 0, data, 1000);
			k.nxt[0] += 1000;
			off += 1000;
			continue;
		}
		send_data(o, &k, 0, data, 1000);
		if (off % 10000 == 0) {
			filler(data, sizeof(data), off + 5);
			send_data(o, &k, 1, data, 1000);
		}
	}
	close_both(o, &k);
	o->plant = false;
	handshake(o, &g);
	filler(data, sizeof(data), 1);
	send_data(o, &g, 0, data, 100);
	g.nxt[0] += 100;	/* lost, across the wrap */
	send_data(o, &g, 0, data, 100);
	ack(o, &g, 1);
	close_both(o, &g);
}

/*
 * rstsyn N: N connections each hit mid-flow by a RST outside the window
 * (flowgrep must ignore it, RFC 5961) and a stray SYN, then closed by an
 * in-window RST and reopened on the same ports by a new connection
 * (port reuse). Planted: one connection whose PLANT comes after three
 * spoofed RSTs and a SYN; and the second connection of a reused tuple,
 * whose first connection (not planted) ended with an in-window RST.
 */
static void
sc_rstsyn(struct out *o, uint64_t n, uint64_t m)
{
	static const char hello[] = "hello, I am a harmless request";
	struct ep srv = ep4(0x0a6f0001, 80);
	uint64_t i;
	int j;

	(void)m;
	for (i = 0; i < n; i++) {
		struct ep c = ep4(0x0a700000 + (uint32_t)(i / 60000),
		    (uint16_t)(1024 + i % 60000));
		struct tcpc k = tcpc(c, srv, (uint32_t)i * 7919, 1000);
		bool plant = i == n / 2;

		if (plant)
			o->plant = true;
		handshake(o, &k);
		send_data(o, &k, 0, hello, sizeof(hello) - 1);
		for (j = 0; j < 3; j++)
			tcp(o, &k.e[1], &k.e[0], k.nxt[1] + 0x40000000U +
			    (uint32_t)j * 12345, 0, TH_RST, NULL, 0);
		tcp(o, &k.e[0], &k.e[1], k.nxt[0] + 0x20000000U, 0, TH_SYN,
		    NULL, 0);
		if (plant)
			send_data(o, &k, 0, PLANT, PLANT_LEN);
		else
			send_data(o, &k, 0, hello, sizeof(hello) - 1);
		ack(o, &k, 1);
		/* An in-window RST ends it. */
		tcp(o, &k.e[1], &k.e[0], k.nxt[1], 0, TH_RST, NULL, 0);
		o->plant = false;
		if (i == n / 3) {
			/* Port reuse: the next connection carries PLANT. */
			struct tcpc r = tcpc(c, srv, 0x7000000, 0x8000000);

			o->plant = true;
			handshake(o, &r);
			send_data(o, &r, 0, PLANT, PLANT_LEN);
			close_both(o, &r);
			o->plant = false;
		}
	}
}

/*
 * zerolen N: N records of zero captured bytes (half of them claiming 60 on
 * the wire), each followed by one frame cut to 1..13 bytes, between the
 * packets of a planted connection.
 */
static void
sc_zerolen(struct out *o, uint64_t n, uint64_t m)
{
	static const uint8_t frame[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0,
	    2, 0x08, 0x00 };
	struct ep srv = ep4(0x0a710001, 80);
	struct tcpc k = tcpc(ep4(0x0a710002, 9000), srv, 1, 2);
	uint64_t i;
	int step = 0;

	(void)m;
	for (i = 0; i < n; i++) {
		out_cut(o, frame, 0, (i & 1) ? 60 : 0);
		out_cut(o, frame, (uint32_t)(1 + i % 13), 60);
		if (i % (n / 8 + 1) == 0 && step < 7) {
			o->plant = true;
			switch (step++) {
			case 0:
				tcp(o, &k.e[0], &k.e[1], k.nxt[0], 0, TH_SYN,
				    NULL, 0);
				k.nxt[0]++;
				break;
			case 1:
				tcp(o, &k.e[1], &k.e[0], k.nxt[1], k.nxt[0],
				    TH_SYN | TH_ACK, NULL, 0);
				k.nxt[1]++;
				break;
			case 2:
				send_data(o, &k, 0, "GET /" PLANT, 5 +
				    PLANT_LEN);
				break;
			case 3:
				ack(o, &k, 1);
				break;
			case 4:
				tcp(o, &k.e[0], &k.e[1], k.nxt[0], k.nxt[1],
				    TH_FIN | TH_ACK, NULL, 0);
				k.nxt[0]++;
				break;
			case 5:
				tcp(o, &k.e[1], &k.e[0], k.nxt[1], k.nxt[0],
				    TH_FIN | TH_ACK, NULL, 0);
				k.nxt[1]++;
				break;
			case 6:
				ack(o, &k, 0);
				break;
			}
			o->plant = false;
		}
	}
}

/*
 * snap N: a capture whose snap length is 96, with N packets of TCP
 * connections cut inside every header: Ethernet (1-13 bytes), IPv4 (14-33),
 * TCP (34-53), and payload (54-95 of 1,448). Planted: a connection with
 * PLANT in the first 42 bytes of its payload, which the snap length keeps.
 */
static void
sc_snap(struct out *o, uint64_t n, uint64_t m)
{
	static const size_t cuts[] = { 1, 6, 12, 13, 14, 20, 26, 33, 34, 40,
	    46, 53, 54, 60, 96 };
	uint8_t data[MSS];
	struct ep srv = ep4(0x0a720001, 80);
	uint64_t i;

	(void)m;
	filler(data, sizeof(data), 5);
	for (i = 0; i < n; i++) {
		struct ep c = ep4(0x0a730000 + (uint32_t)(i & 0xffff), 10000);

		tcp_cut(o, &c, &srv, (uint32_t)i, 1, TH_ACK, data, MSS,
		    cuts[i % (sizeof(cuts) / sizeof(cuts[0]))]);
		if (i == n / 2) {
			struct tcpc k = tcpc(ep4(0x0a740001, 10001), srv, 1,
			    2);

			o->plant = true;
			handshake(o, &k);
			memcpy(data, "GET /" PLANT, 5 + PLANT_LEN);
			tcp_cut(o, &k.e[0], &k.e[1], k.nxt[0], k.nxt[1],
			    TH_ACK, data, MSS, 96);
			k.nxt[0] += MSS;
			filler(data, sizeof(data), 5);
			close_both(o, &k);
			o->plant = false;
		}
	}
}

/*
 * longflow BYTES: one connection carrying BYTES bytes (default 64 MiB) from
 * the client in 1,448-byte segments, acknowledged every 16, with PLANT in
 * its last KiB: nothing decides the flow until then. Every packet is
 * planted.
 */
static void
sc_longflow(struct out *o, uint64_t bytes, uint64_t m)
{
	uint8_t data[MSS];
	struct tcpc k = tcpc(ep4(0x0a750001, 11000), ep4(0x0a750002, 80),
	    123456789, 987654321);
	uint64_t off, at, nseg = 0;
	size_t len;

	(void)m;
	if (bytes == 0)
		bytes = 64ULL << 20;
	if (bytes < 2048)
		errx(1, "longflow needs BYTES >= 2048");
	at = bytes - 1000;
	o->plant = true;
	handshake(o, &k);
	for (off = 0; off < bytes; off += len) {
		len = bytes - off < MSS ? (size_t)(bytes - off) : MSS;
		filler(data, len, off);
		if (at >= off && at < off + len) {
			size_t in = (size_t)(at - off), c = len - in;

			memcpy(data + in, PLANT, c < PLANT_LEN ? c : PLANT_LEN);
		} else if (at < off && at + PLANT_LEN > off)
			memcpy(data, PLANT + (off - at),
			    (size_t)(at + PLANT_LEN - off));
		send_data(o, &k, 0, data, len);
		if (++nseg % 16 == 0)
			ack(o, &k, 1);
	}
	close_both(o, &k);
	o->plant = false;
}

struct scase {
	const char *name;
	void (*fn)(struct out *, uint64_t, uint64_t);
	uint64_t n;		/* default N */
	int snaplen;
	const char *what;
};

static const struct scase cases[] = {
	{ "synflood", sc_synflood, 100000, SNAPLEN,
	    "N SYNs of distinct flows (default 100000)" },
	{ "frag4", sc_frag4, 100000, SNAPLEN,
	    "N IPv4 fragments of SIZE bytes that never complete" },
	{ "frag6", sc_frag6, 100000, SNAPLEN,
	    "N IPv6 fragments of SIZE bytes that never complete" },
	{ "overlap", sc_overlap, 2000, SNAPLEN,
	    "N overlapping fragment sets and retransmissions that differ" },
	{ "ooo", sc_ooo, 0, SNAPLEN,
	    "FLOWS flows with a lost segment, then SEGS segments each" },
	{ "tiny", sc_tiny, 100000, SNAPLEN,
	    "N 1-byte segments in order, N in reverse" },
	{ "wrap", sc_wrap, 0, SNAPLEN,
	    "N bytes each way across a sequence number wrap" },
	{ "rstsyn", sc_rstsyn, 10000, SNAPLEN,
	    "N flows with spoofed RSTs and SYNs mid-flow, port reuse" },
	{ "zerolen", sc_zerolen, 10000, SNAPLEN,
	    "N zero-length records and N frames cut inside Ethernet" },
	{ "snap", sc_snap, 10000, 96,
	    "N packets cut inside every header (snap length 96)" },
	{ "longflow", sc_longflow, 0, SNAPLEN,
	    "one flow of BYTES bytes (default 64 MiB), the match at its end" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* A count, with an optional K, M or G (powers of 1024 for sizes). */
static uint64_t
number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		errx(2, "bad number %s", s);
	switch (*end) {
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end != '\0')
		errx(2, "bad number %s", s);
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: adversary CASE OUT.pcap [N [M]] | "
	    "adversary --list\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct scase *sc = NULL;
	struct out o;
	uint64_t n, m = 0;
	size_t i;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < NCASES; i++)
			printf("%-10s %s\n", cases[i].name, cases[i].what);
		return 0;
	}
	if (argc < 3 || argc > 5)
		usage();
	for (i = 0; i < NCASES; i++)
		if (strcmp(argv[1], cases[i].name) == 0)
			sc = &cases[i];
	if (sc == NULL)
		errx(2, "unknown case %s (see adversary --list)", argv[1]);
	n = argc > 3 ? number(argv[3]) : sc->n;
	if (argc > 4)
		m = number(argv[4]);
	out_open(&o, argv[2], sc->snaplen);
	sc->fn(&o, n, m);
	out_close(&o);
	fprintf(stderr, "adversary: %s records=%" PRIu64 " planted=%" PRIu64
	    "\n", sc->name, o.records, o.planted);
	return 0;
}
