/* check_shard.c: the flow hash behind --shard K/N (symmetric, VLAN-aware, pinned). */
#include <check.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "engine.h"

/* Deterministic views for the property tests (xorshift64*, fixed seed). */
#define RANDOM_VIEWS 10000

/*
 * A flow as the hash sees it. Addresses are 16 bytes, IPv4 in the first 4
 * and the rest zero, as decode.c fills them.
 */
struct flow_case {
	const char *name;
	uint8_t ipver;
	uint8_t proto;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t vlan_count;
	uint16_t vlan[2];
	/*
	 * engine_flow_hash() of this view. These values are part of flowgrep's
	 * interface: shards started by different flowgrep versions, or on
	 * machines of different byte order, split a capture exactly only when
	 * they hash alike. A change to the hash that changes one of these
	 * values breaks cross-version shard compatibility; if it is meant,
	 * update the values here and say so in the release notes (all shards
	 * of one capture must then run the same version).
	 *
	 * The values were checked against an independent implementation (a
	 * few lines of Python) of this layout: 64-bit FNV-1a (offset basis
	 * 0xcbf29ce484222325, prime 0x100000001b3) over the lower endpoint
	 * then the higher one, each the 16 address bytes and the port in
	 * network order, compared as those 18 bytes; then the protocol, the
	 * VLAN count and both VLAN IDs in network order; the result then
	 * goes through murmur3's 64-bit finaliser (fmix64), without which
	 * FNV's low bits follow the low bits of each byte and even addresses
	 * all fall in one of two shards.
	 */
	uint64_t hash;
};

#define V4(a, b, c, d) { a, b, c, d }
#define V6_DB8(x, y) \
	{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x, y }

static const struct flow_case pinned[] = {
	{ "IPv4 TCP", 4, 6, V4(192, 168, 10, 84), V4(192, 168, 10, 190),
	    22, 28318, 0, { 0, 0 }, 0xda51ff37e05aa82cULL },
	{ "IPv4 TCP, HTTP", 4, 6, V4(128, 2, 6, 136), V4(173, 194, 75, 103),
	    46562, 80, 0, { 0, 0 }, 0x737abd5d78fa7260ULL },
	{ "IPv4 UDP, DNS", 4, 17, V4(10, 0, 0, 1), V4(8, 8, 8, 8),
	    53000, 53, 0, { 0, 0 }, 0xafb30079b9770034ULL },
	{ "IPv4 ICMP (no ports)", 4, 1, V4(10, 0, 0, 1), V4(10, 0, 0, 2),
	    0, 0, 0, { 0, 0 }, 0xaa7a7fa8530d48f9ULL },
	{ "IPv4 TCP in VLAN 10", 4, 6, V4(10, 0, 0, 1), V4(10, 0, 0, 2),
	    40000, 80, 1, { 10, 0 }, 0x26aaf2919f710b4eULL },
	{ "IPv4 TCP in QinQ 100/200", 4, 6, V4(10, 0, 0, 1), V4(10, 0, 0, 2),
	    40000, 80, 2, { 100, 200 }, 0x41f586003eeb702bULL },
	{ "IPv6 TCP", 6, 6, V6_DB8(0, 1), V6_DB8(0, 2),
	    40000, 443, 0, { 0, 0 }, 0xfdbcc61e81fa19b5ULL },
	{ "IPv6 UDP", 6, 17, V6_DB8(0x12, 0x34), V6_DB8(0xab, 0xcd),
	    5353, 5353, 0, { 0, 0 }, 0xe0c59c38cf9c57ccULL },
	{ "IPv6 ICMPv6 in VLAN 4094", 6, 58, V6_DB8(0, 1), V6_DB8(0, 2),
	    0, 0, 1, { 4094, 0 }, 0x7d621c816e9bc057ULL },
};

static struct pkt_view
case_view(const struct flow_case *c)
{
	struct pkt_view v;

	memset(&v, 0, sizeof(v));
	v.status = DECODE_OK;
	v.ipver = c->ipver;
	v.proto = c->proto;
	memcpy(v.src, c->src, 16);
	memcpy(v.dst, c->dst, 16);
	v.sport = c->sport;
	v.dport = c->dport;
	v.vlan_count = c->vlan_count;
	v.vlan[0] = c->vlan[0];
	v.vlan[1] = c->vlan[1];
	return v;
}

/* The same flow seen from the other endpoint. */
static struct pkt_view
swapped(const struct pkt_view *v)
{
	struct pkt_view w = *v;

	memcpy(w.src, v->dst, 16);
	memcpy(w.dst, v->src, 16);
	w.sport = v->dport;
	w.dport = v->sport;
	return w;
}

START_TEST(test_pinned)
{
	const struct flow_case *c = &pinned[_i];
	struct pkt_view v = case_view(c);
	uint64_t h = engine_flow_hash(&v);

	ck_assert_msg(h == c->hash,
	    "%s: engine_flow_hash is 0x%016" PRIx64 "ULL, pinned 0x%016"
	    PRIx64 "ULL (a changed hash breaks cross-version shards)",
	    c->name, h, c->hash);
}
END_TEST

START_TEST(test_pinned_symmetric)
{
	struct pkt_view v = case_view(&pinned[_i]);
	struct pkt_view w = swapped(&v);

	ck_assert_uint_eq(engine_flow_hash(&w), engine_flow_hash(&v));
}
END_TEST

static uint64_t
next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A view with random addresses, ports, protocol and VLANs. */
static struct pkt_view
random_view(uint64_t *s)
{
	struct pkt_view v;
	uint64_t r = next_random(s);
	int i;

	memset(&v, 0, sizeof(v));
	v.status = DECODE_OK;
	v.ipver = (r & 1) ? 6 : 4;
	v.proto = (r & 2) ? 6 : 17;
	for (i = 0; i < (v.ipver == 4 ? 4 : 16); i++) {
		v.src[i] = (uint8_t)next_random(s);
		v.dst[i] = (uint8_t)next_random(s);
	}
	if (r & 4)
		memcpy(v.dst, v.src, 16);	/* same host, ports decide */
	v.sport = (uint16_t)(r >> 16);
	v.dport = (r & 8) ? v.sport : (uint16_t)(r >> 32);
	v.vlan_count = (uint8_t)((r >> 48) % 3);
	if (v.vlan_count > 0)
		v.vlan[0] = (uint16_t)((r >> 50) & 0xfff);
	if (v.vlan_count > 1)
		v.vlan[1] = (uint16_t)((r >> 51) & 0xfff);
	return v;
}

/*
 * Both directions of a flow hash alike, also when the endpoints share an
 * address (the ports decide the order) or a port, or are the same.
 */
START_TEST(test_symmetric)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	int i;

	for (i = 0; i < RANDOM_VIEWS; i++) {
		struct pkt_view v = random_view(&s);
		struct pkt_view w = swapped(&v);

		ck_assert_msg(engine_flow_hash(&v) == engine_flow_hash(&w),
		    "view %d is not symmetric", i);
	}
}
END_TEST

/*
 * What is not part of the flow key does not move a packet to another
 * shard: TCP state, payload, the link, the decode status (fragments and
 * their reassembled datagram).
 */
START_TEST(test_ignores_non_key_fields)
{
	static const uint8_t payload[] = "GET / HTTP/1.1\r\n";
	struct pkt_view v = case_view(&pinned[0]);
	struct pkt_view w = v;
	uint64_t h = engine_flow_hash(&v);

	w.status = DECODE_FRAGMENT;
	w.seq = 0x12345678;
	w.ack = 0x9abcdef0;
	w.tcp_flags = TCP_SYN | TCP_ACK;
	w.window = 65535;
	w.wscale = 7;
	w.payload = payload;
	w.payload_len = w.payload_wire_len = sizeof(payload) - 1;
	w.frag_id = 4242;
	w.frag_offset = 1480;
	w.frag_more = 1;
	w.l3 = payload;
	ck_assert_uint_eq(engine_flow_hash(&w), h);
}
END_TEST

/*
 * The VLAN IDs are part of the flow key (DESIGN.md 2), so the same
 * addresses in different VLANs are different flows, free to land in
 * different shards: their hashes differ.
 */
START_TEST(test_vlans_differ)
{
	static const struct {
		uint8_t count;
		uint16_t id[2];
	} tags[] = {
		{ 0, { 0, 0 } },
		{ 1, { 1, 0 } },
		{ 1, { 10, 0 } },
		{ 1, { 11, 0 } },
		{ 1, { 256, 0 } },
		{ 1, { 4094, 0 } },
		{ 2, { 10, 0 } },
		{ 2, { 100, 200 } },
		{ 2, { 200, 100 } },
		{ 2, { 100, 201 } },
	};
	enum { NTAGS = sizeof(tags) / sizeof(tags[0]) };
	uint64_t h[NTAGS];
	struct pkt_view v;
	size_t i, j;

	for (i = 0; i < NTAGS; i++) {
		v = case_view(&pinned[0]);
		v.vlan_count = tags[i].count;
		v.vlan[0] = tags[i].id[0];
		v.vlan[1] = tags[i].id[1];
		h[i] = engine_flow_hash(&v);
		for (j = 0; j < i; j++)
			ck_assert_msg(h[i] != h[j],
			    "tags %zu and %zu hash alike", i, j);
		/* Still symmetric inside the VLAN. */
		v = swapped(&v);
		ck_assert_uint_eq(engine_flow_hash(&v), h[i]);
	}
}
END_TEST

/* Distinct 5-tuples, one field apart, hash apart. */
START_TEST(test_key_fields_matter)
{
	struct pkt_view base = case_view(&pinned[1]);
	uint64_t h = engine_flow_hash(&base);
	struct pkt_view v;

	v = base;
	v.sport++;
	ck_assert_uint_ne(engine_flow_hash(&v), h);
	v = base;
	v.dport++;
	ck_assert_uint_ne(engine_flow_hash(&v), h);
	v = base;
	v.src[3]++;
	ck_assert_uint_ne(engine_flow_hash(&v), h);
	v = base;
	v.dst[15] = 1;
	ck_assert_uint_ne(engine_flow_hash(&v), h);
	v = base;
	v.proto = IPPROTO_NUM_UDP;
	ck_assert_uint_ne(engine_flow_hash(&v), h);
	/* Ports swapped without the addresses: another flow. */
	v = base;
	v.sport = base.dport;
	v.dport = base.sport;
	ck_assert_uint_ne(engine_flow_hash(&v), h);
}
END_TEST

static Suite *
shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("hash");
	int npinned = (int)(sizeof(pinned) / sizeof(pinned[0]));

	tcase_add_loop_test(tc, test_pinned, 0, npinned);
	tcase_add_loop_test(tc, test_pinned_symmetric, 0, npinned);
	tcase_add_test(tc, test_symmetric);
	tcase_add_test(tc, test_ignores_non_key_fields);
	tcase_add_test(tc, test_vlans_differ);
	tcase_add_test(tc, test_key_fields_matter);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(shard_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
