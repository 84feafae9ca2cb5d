/* check_flow.c: the flow table (keys, roles, lifetimes, limits) and held packets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

#define S(x) ((uint64_t)(x) * 1000000000ULL)

/* Flows ended through the callback, in order. */
struct ended {
	uint32_t serial[64];
	enum flow_end_reason why[64];
	int n;
};

static void
on_end(void *ctx, struct flow *f, enum flow_end_reason why)
{
	struct ended *e = ctx;

	if (e->n < 64) {
		e->serial[e->n] = f->unit.serial;
		e->why[e->n++] = why;
	}
}

/* A TCP or UDP view from 10.0.0.a:sport to 10.0.0.b:dport. */
static struct pkt_view
view(uint8_t proto, uint8_t a, uint16_t sport, uint8_t b, uint16_t dport,
    uint8_t flags)
{
	struct pkt_view v;

	memset(&v, 0, sizeof(v));
	v.status = DECODE_OK;
	v.ipver = 4;
	v.proto = proto;
	v.src[0] = 10;
	v.src[3] = a;
	v.dst[0] = 10;
	v.dst[3] = b;
	v.sport = sport;
	v.dport = dport;
	v.tcp_flags = flags;
	return v;
}

/* Role cases: the first packet's shape decides which side is the client. */
static const struct {
	const char *name;
	uint8_t proto, a, b, flags;
	uint16_t sport, dport;
	int want_dir;		/* dir of that first packet: 0 = from client */
} role_cases[] = {
	{ "SYN sender is client", 6, 1, 2, TCP_SYN, 40000, 80, 0 },
	{ "SYN sender with the lower port", 6, 1, 2, TCP_SYN, 80, 40000, 0 },
	{ "SYN+ACK receiver is client", 6, 2, 1, TCP_SYN | TCP_ACK, 80, 40000, 1 },
	{ "mid-stream: higher port is client", 6, 2, 1, TCP_ACK, 80, 40000, 1 },
	{ "mid-stream: higher port sends", 6, 1, 2, TCP_ACK, 40000, 80, 0 },
	{ "mid-stream equal ports: first sender", 6, 2, 1, TCP_ACK, 5000, 5000, 0 },
	{ "UDP: first sender is client", 17, 2, 1, 0, 53, 40000, 0 },
	{ "other IP: first sender", 47, 9, 3, 0, 0, 0, 0 },
};

START_TEST(test_roles)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(100, S(300), S(60), &st, on_end,
	    &ended);
	struct pkt_view v = view(role_cases[_i].proto, role_cases[_i].a,
	    role_cases[_i].sport, role_cases[_i].b, role_cases[_i].dport,
	    role_cases[_i].flags);
	struct pkt_view back = view(role_cases[_i].proto, role_cases[_i].b,
	    role_cases[_i].dport, role_cases[_i].a, role_cases[_i].sport,
	    TCP_ACK);
	uint32_t serial = 0;
	struct flow *f, *g;
	bool created;
	int dir;

	f = flow_lookup(t, &v, S(1), &serial, &dir, &created);
	ck_assert_msg(f != NULL && created, "%s", role_cases[_i].name);
	ck_assert_msg(dir == role_cases[_i].want_dir, "%s: dir %d",
	    role_cases[_i].name, dir);
	/* The reverse direction finds the same flow, other dir. */
	g = flow_lookup(t, &back, S(2), &serial, &dir, &created);
	ck_assert_ptr_eq(f, g);
	ck_assert(!created);
	ck_assert_int_eq(dir, 1 - role_cases[_i].want_dir);
	ck_assert_uint_eq(serial, 1);
	/* Client address/port come out as the role says. */
	ck_assert_uint_eq(flow_port(f, role_cases[_i].want_dir),
	    role_cases[_i].sport);
	ck_assert_uint_eq(flow_addr(f, role_cases[_i].want_dir)[3],
	    role_cases[_i].a);
	flow_table_free(t);
	ck_assert_int_eq(ended.n, 1);
	ck_assert_int_eq(ended.why[0], FLOW_END_FINISH);
}
END_TEST

START_TEST(test_vlan_separates_flows)
{
	struct stats st = { 0 };
	struct flow_table *t = flow_table_new(100, S(300), S(60), &st, NULL,
	    NULL);
	struct pkt_view v = view(6, 1, 40000, 2, 80, TCP_SYN);
	struct flow *plain, *tagged, *qinq;
	uint32_t serial = 0;
	bool created;
	int dir;

	plain = flow_lookup(t, &v, S(1), &serial, &dir, &created);
	v.vlan_count = 1;
	v.vlan[0] = 42;
	tagged = flow_lookup(t, &v, S(1), &serial, &dir, &created);
	v.vlan_count = 2;
	v.vlan[0] = 10;
	v.vlan[1] = 20;
	qinq = flow_lookup(t, &v, S(1), &serial, &dir, &created);
	ck_assert(plain != tagged && tagged != qinq && plain != qinq);
	ck_assert_uint_eq(flow_count(t), 3);
	ck_assert_uint_eq(st.flows_tcp, 3);
	flow_table_free(t);
}
END_TEST

START_TEST(test_port_reuse)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(100, S(300), S(60), &st, on_end,
	    &ended);
	struct pkt_view syn = view(6, 1, 40000, 2, 80, TCP_SYN);
	struct pkt_view ack = view(6, 1, 40000, 2, 80, TCP_ACK);
	struct flow *f, *g;
	uint32_t serial = 0;
	bool created;
	int dir;

	f = flow_lookup(t, &syn, S(1), &serial, &dir, &created);
	/* A SYN on an open flow is a retransmission, not a new flow. */
	g = flow_lookup(t, &syn, S(2), &serial, &dir, &created);
	ck_assert_ptr_eq(f, g);
	flow_close(t, f);
	/* A stray ACK after the close still belongs to it. */
	g = flow_lookup(t, &ack, S(3), &serial, &dir, &created);
	ck_assert_ptr_eq(f, g);
	ck_assert_int_eq(ended.n, 0);
	g = flow_lookup(t, &syn, S(4), &serial, &dir, &created);
	ck_assert(created);
	ck_assert_int_eq(ended.n, 1);
	ck_assert_int_eq(ended.why[0], FLOW_END_REUSED);
	ck_assert_uint_eq(ended.serial[0], 0);
	ck_assert_uint_eq(g->unit.serial, 1);
	ck_assert_uint_eq(flow_count(t), 1);
	flow_table_free(t);
}
END_TEST

START_TEST(test_timeouts)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(100, S(300), S(60), &st, on_end,
	    &ended);
	struct pkt_view tcp = view(6, 1, 40000, 2, 80, TCP_SYN);
	struct pkt_view udp = view(17, 1, 40000, 2, 53, 0);
	struct pkt_view tcp2 = view(6, 3, 40001, 2, 80, TCP_SYN);
	struct flow *closed;
	uint32_t serial = 0;
	bool created;
	int dir;

	flow_lookup(t, &tcp, S(0), &serial, &dir, &created);	/* 0 */
	flow_lookup(t, &udp, S(0), &serial, &dir, &created);	/* 1 */
	closed = flow_lookup(t, &tcp2, S(0), &serial, &dir, &created);
	flow_close(t, closed);					/* 2 */
	flow_expire(t, S(10));		/* exactly at the closed timeout */
	ck_assert_int_eq(ended.n, 0);
	flow_expire(t, S(11));
	ck_assert_int_eq(ended.n, 1);
	ck_assert_uint_eq(ended.serial[0], 2);
	flow_expire(t, S(61));
	ck_assert_int_eq(ended.n, 2);
	ck_assert_uint_eq(ended.serial[1], 1);
	/* Activity keeps a flow alive. */
	flow_lookup(t, &tcp, S(250), &serial, &dir, &created);
	flow_expire(t, S(301));
	ck_assert_int_eq(ended.n, 2);
	flow_expire(t, S(551));
	ck_assert_int_eq(ended.n, 3);
	ck_assert_int_eq(ended.why[2], FLOW_END_TIMEOUT);
	ck_assert_uint_eq(st.flows_timed_out, 2);	/* closed ones don't count */
	flow_table_free(t);
}
END_TEST

/*
 * A reset flow lingers FLOW_RESET_TIMEOUT_NS after its last packet, with
 * its packets (the connection may have outlived the RST), then ends without
 * counting as idle; a later packet on the tuple is a new flow, and so is a
 * SYN while it lingers (port reuse).
 */
START_TEST(test_reset_lingers)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(100, S(300), S(60), &st, on_end,
	    &ended);
	struct pkt_view syn = view(6, 1, 40000, 2, 80, TCP_SYN);
	struct pkt_view data = view(6, 2, 80, 1, 40000, TCP_ACK);
	struct pkt_view syn2 = view(6, 3, 40001, 2, 80, TCP_SYN);
	struct flow *f, *g;
	uint32_t serial = 0;
	bool created;
	int dir;

	f = flow_lookup(t, &syn, S(0), &serial, &dir, &created);	/* 0 */
	flow_reset(t, f);
	ck_assert_int_eq(f->state, FLOW_RESET);
	flow_reset(t, f);	/* a second RST changes nothing */
	/* The server's data half a second later joins it. */
	g = flow_lookup(t, &data, S(0) + S(1) / 2, &serial, &dir, &created);
	ck_assert_ptr_eq(f, g);
	ck_assert(!created);
	ck_assert_int_eq(dir, 1);
	/* The lingering time counts from the last packet. */
	flow_expire(t, S(1) + S(1) / 2);
	ck_assert_int_eq(ended.n, 0);
	flow_expire(t, S(1) + S(1) / 2 + 1);
	ck_assert_int_eq(ended.n, 1);
	ck_assert_int_eq(ended.why[0], FLOW_END_TIMEOUT);
	ck_assert_uint_eq(st.flows_timed_out, 0);
	g = flow_lookup(t, &data, S(2), &serial, &dir, &created);
	ck_assert(created);
	ck_assert_uint_eq(g->unit.serial, 1);

	f = flow_lookup(t, &syn2, S(3), &serial, &dir, &created);	/* 2 */
	flow_reset(t, f);
	g = flow_lookup(t, &syn2, S(3), &serial, &dir, &created);
	ck_assert(created);
	ck_assert_int_eq(ended.n, 2);
	ck_assert_int_eq(ended.why[1], FLOW_END_REUSED);
	ck_assert_uint_eq(ended.serial[1], 2);
	/* A FIN handshake after the RST closes it as usual. */
	flow_reset(t, g);
	flow_close(t, g);
	ck_assert_int_eq(g->state, FLOW_CLOSED);
	flow_expire(t, S(13));
	ck_assert_int_eq(ended.n, 2);
	flow_table_free(t);
}
END_TEST

/*
 * A packet older than the capture clock (timestamps that go back, as in
 * merged or damaged captures) counts as activity at the clock: whether a
 * flow times out must not depend on the flows ahead of it in its list,
 * or a shard (which holds fewer flows) would end it when one run does not
 * (fuzz/regress/capture/shard-disagree-time-backwards).
 */
START_TEST(test_old_timestamp_is_activity_now)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(100, S(300), S(60), &st, on_end,
	    &ended);
	struct pkt_view tcp = view(6, 1, 40000, 2, 80, TCP_SYN);
	struct pkt_view tcp2 = view(6, 3, 40001, 2, 80, TCP_SYN);
	struct flow *f;
	uint32_t serial = 0;
	bool created;
	int dir;

	flow_expire(t, S(1000));
	f = flow_lookup(t, &tcp, S(10), &serial, &dir, &created);
	ck_assert(created);
	ck_assert_uint_eq(f->first_ts, S(10));	/* reports keep its own time */
	ck_assert_uint_eq(f->last_ts, S(1000));
	flow_expire(t, S(1001));
	ck_assert_int_eq(ended.n, 0);
	/* An old packet of a known flow: activity now, too. */
	flow_expire(t, S(1200));
	flow_lookup(t, &tcp, S(20), &serial, &dir, &created);
	ck_assert(!created);
	ck_assert_uint_eq(f->last_ts, S(1200));
	flow_lookup(t, &tcp2, S(1250), &serial, &dir, &created);
	flow_expire(t, S(1501));
	ck_assert_int_eq(ended.n, 1);
	ck_assert_uint_eq(ended.serial[0], 0);
	flow_expire(t, S(1551));
	ck_assert_int_eq(ended.n, 2);
	ck_assert_uint_eq(st.flows_timed_out, 2);
	flow_table_free(t);
}
END_TEST

START_TEST(test_max_flows_evicts_least_recent)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(3, S(300), S(60), &st, on_end,
	    &ended);
	uint32_t serial = 0;
	bool created;
	int dir, i;

	for (i = 0; i < 3; i++) {
		struct pkt_view v = view(6, 1, (uint16_t)(1000 + i), 2, 80,
		    TCP_SYN);

		flow_lookup(t, &v, S(i), &serial, &dir, &created);
	}
	{
		/* Touch flow 0 so that flow 1 is the least recently active. */
		struct pkt_view v = view(6, 1, 1000, 2, 80, TCP_ACK);
		struct pkt_view n = view(6, 1, 2000, 2, 80, TCP_SYN);

		flow_lookup(t, &v, S(5), &serial, &dir, &created);
		flow_lookup(t, &n, S(6), &serial, &dir, &created);
	}
	ck_assert_int_eq(ended.n, 1);
	ck_assert_uint_eq(ended.serial[0], 1);
	ck_assert_int_eq(ended.why[0], FLOW_END_EVICTED);
	ck_assert_uint_eq(st.flows_evicted, 1);
	ck_assert_uint_eq(flow_count(t), 3);
	flow_table_free(t);
	/* The rest end in order of their first packet. */
	ck_assert_int_eq(ended.n, 4);
	ck_assert_uint_eq(ended.serial[1], 0);
	ck_assert_uint_eq(ended.serial[2], 2);
	ck_assert_uint_eq(ended.serial[3], 3);
}
END_TEST

START_TEST(test_many_flows_grow)
{
	struct stats st = { 0 };
	struct flow_table *t = flow_table_new(100000, S(300), S(60), &st, NULL,
	    NULL);
	uint32_t serial = 0, i;
	bool created;
	int dir;

	for (i = 0; i < 50000; i++) {
		struct pkt_view v = view(17, (uint8_t)(i >> 16), (uint16_t)i,
		    2, 53, 0);

		ck_assert_ptr_nonnull(flow_lookup(t, &v, S(1), &serial, &dir,
		    &created));
		ck_assert(created);
	}
	for (i = 0; i < 50000; i++) {
		struct pkt_view v = view(17, 2, 53, (uint8_t)(i >> 16),
		    (uint16_t)i, 0);
		struct flow *f = flow_lookup(t, &v, S(2), &serial, &dir,
		    &created);

		ck_assert(!created);
		ck_assert_uint_eq(f->unit.serial, i);
		ck_assert_int_eq(dir, 1);
	}
	flow_table_free(t);
}
END_TEST

/*
 * Flows leaving the table from all over its slots (timeouts) while others
 * come: the ones left are still found, each exactly once, and the ones gone
 * are new flows when they come back.
 */
START_TEST(test_table_removals_keep_lookups)
{
	struct stats st = { 0 };
	struct ended ended = { 0 };
	struct flow_table *t = flow_table_new(100000, S(300), S(10), &st,
	    on_end, &ended);
	uint32_t serial = 0, i, want;
	struct flow *f;
	bool created;
	int dir, round;

	/*
	 * Each round adds 6000 UDP flows a second apart in time steps, then
	 * keeps every third one alive; the rest time out, scattered across
	 * the table.
	 */
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 6000; i++) {
			struct pkt_view v = view(17, (uint8_t)round,
			    (uint16_t)(1000 + i), 9, 53, 0);

			f = flow_lookup(t, &v, S(100 * round + 1), &serial,
			    &dir, &created);
			ck_assert_ptr_nonnull(f);
			ck_assert(created);
		}
		for (i = 0; i < 6000; i += 3) {
			struct pkt_view v = view(17, (uint8_t)round,
			    (uint16_t)(1000 + i), 9, 53, 0);

			f = flow_lookup(t, &v, S(100 * round + 9), &serial,
			    &dir, &created);
			ck_assert(!created);
			ck_assert_uint_eq(f->unit.serial, 6000 * round + i);
		}
		/* Past the timeout of the others, within the third's. */
		flow_expire(t, S(100 * round + 15));
		ck_assert_uint_eq(flow_count(t), 2000);
		for (i = 0; i < 6000; i++) {
			struct pkt_view v = view(17, (uint8_t)round,
			    (uint16_t)(1000 + i), 9, 53, 0);

			want = serial;
			f = flow_lookup(t, &v, S(100 * round + 16), &serial,
			    &dir, &created);
			ck_assert_ptr_nonnull(f);
			ck_assert_int_eq(created, i % 3 != 0);
			ck_assert_uint_eq(f->unit.serial, i % 3 == 0 ?
			    6000 * round + i : want);
		}
		/* Every flow of the round goes before the next one. */
		flow_expire(t, S(100 * round + 50));
		ck_assert_uint_eq(flow_count(t), 0);
		serial = 6000 * (uint32_t)(round + 1);
	}
	ck_assert_uint_eq(st.flows_udp, 4 * (6000 + 4000));
	flow_table_free(t);
}
END_TEST

START_TEST(test_unit_decide)
{
	struct unit u = { 0 };

	ck_assert(unit_decide(&u, VERDICT_MATCH, false));
	ck_assert(!unit_decide(&u, VERDICT_NOMATCH, false));
	ck_assert(unit_decide(&u, VERDICT_NOMATCH, true));
	ck_assert(!unit_decide(&u, VERDICT_MATCH, true));
}
END_TEST

/* Collects written packets' first data byte. */
struct written {
	char bytes[64];
	int n;
};

static void
on_write(void *ctx, const struct pcap_rec *rec)
{
	struct written *w = ctx;

	ck_assert_uint_eq(rec->caplen, 100);
	ck_assert_uint_eq(rec->ts_ns, (uint64_t)rec->data[0] * 1000);
	w->bytes[w->n++] = (char)rec->data[0];
	w->bytes[w->n] = '\0';
}

static void
add(struct hold *h, struct unit *u, char tag)
{
	uint8_t data[100];
	struct pcap_rec rec = { .ts_ns = (uint64_t)tag * 1000, .caplen = 100,
	    .data = data };

	memset(data, tag, sizeof(data));
	ck_assert_int_eq(hold_add(h, u, &rec), 0);
}

/* hold_add of a 100-byte packet of tag; returns what hold_add does. */
static int
hold_add_tagged(struct hold *h, struct unit *u, char tag)
{
	uint8_t data[100];
	struct pcap_rec rec = { .ts_ns = (uint64_t)(uint8_t)tag * 1000,
	    .caplen = 100, .data = data };

	memset(data, tag, sizeof(data));
	return hold_add(h, u, &rec);
}

/* As struct written and on_write, with room for many. */
struct written_many {
	char bytes[512];
	int n;
};

static void
on_write_many(void *ctx, const struct pcap_rec *rec)
{
	struct written_many *w = ctx;

	ck_assert_uint_eq(rec->caplen, 100);
	ck_assert_uint_eq(rec->ts_ns, (uint64_t)rec->data[0] * 1000);
	ck_assert_int_lt(w->n, 512);
	w->bytes[w->n++] = (char)rec->data[0];
}

START_TEST(test_hold_order_and_merge)
{
	struct stats st = { 0 };
	struct hold *h = hold_new(1 << 20, &st);
	struct unit a = { 0 }, b = { 0 };
	struct written w = { .n = 0 };

	add(h, &a, '1');
	add(h, &b, '2');
	add(h, &a, '3');
	add(h, &b, '4');
	add(h, &a, '5');
	hold_merge(h, &a, &b);
	ck_assert_ptr_null(b.held_head);
	hold_release(h, &a, on_write, &w);
	ck_assert_str_eq(w.bytes, "12345");
	ck_assert_uint_eq(hold_bytes(h), 0);
	ck_assert_uint_eq(st.packets_held, 5);
	hold_free(h);
}
END_TEST

static bool
is_suffix(const char *whole, int n, const char *part, int k)
{
	return k <= n && memcmp(whole + (n - k), part, (size_t)k) == 0;
}

/*
 * Past the budget the oldest held packets go, a chunk at a time: each unit
 * then writes the latest of its packets, in order, and written plus dropped
 * is every packet added.
 */
START_TEST(test_hold_drops_oldest_past_cap)
{
	struct stats st = { 0 };
	/* 64 chunks of 256 bytes, two 116-byte records each. */
	struct hold *h = hold_new(64 * 256, &st);
	struct hold_info hi;
	struct unit u[2] = { { 0 }, { 0 } };
	struct written_many w[2] = { { .n = 0 }, { .n = 0 } };
	char given[2][512];
	int i, k, n[2] = { 0, 0 };

	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunk_size, 256);
	ck_assert_uint_eq(hi.nchunks, 64);
	for (i = 0; i < 400; i++) {
		k = i % 3 == 0;
		given[k][n[k]] = (char)('0' + i % 64);
		ck_assert_int_eq(hold_add_tagged(h, &u[k], given[k][n[k]]), 0);
		n[k]++;
	}
	ck_assert_uint_gt(st.packets_dropped, 0);
	hold_get_info(h, &hi);
	ck_assert_uint_gt(hi.chunks_dropped, 0);
	/*
	 * The dropped packets' descriptors were swept out of the lists: the
	 * memory in use is within the budget, give or take a 256-byte slab.
	 */
	ck_assert_uint_gt(hi.sweeps, 0);
	ck_assert_uint_le(hi.chunks_in_use * hi.chunk_size + hi.desc_bytes,
	    64 * 256 + 256);
	for (k = 0; k < 2; k++) {
		w[k].n = 0;
		hold_release(h, &u[k], on_write_many, &w[k]);
		ck_assert(is_suffix(given[k], n[k], w[k].bytes, w[k].n));
	}
	ck_assert_uint_eq((uint64_t)(w[0].n + w[1].n) + st.packets_dropped,
	    400);
	ck_assert_uint_eq(st.packets_held, 400);
	ck_assert_uint_eq(hold_bytes(h), 0);
	/* The copy chunk stays open for the next copies. */
	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunks_in_use, 1);
	hold_free(h);
}
END_TEST

/* Fills an input chunk at off with a record of 100 bytes of tag. */
static void
chunk_record(uint8_t *chunk, size_t off, char tag, struct pcap_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->ts_ns = (uint64_t)(uint8_t)tag * 1000;
	rec->caplen = 100;
	memset(rec->hdr, tag, sizeof(rec->hdr));
	memcpy(chunk + off, rec->hdr, sizeof(rec->hdr));
	memset(chunk + off + sizeof(rec->hdr), tag, 100);
	rec->data = chunk + off + sizeof(rec->hdr);
	rec->raw_hdr = true;
}

/* Collects the data pointers of written packets. */
struct where {
	const uint8_t *data[8];
	int n;
};

static void
on_write_where(void *ctx, const struct pcap_rec *rec)
{
	struct where *w = ctx;

	ck_assert_int_lt(w->n, 8);
	ck_assert_uint_eq(rec->caplen, 100);
	ck_assert_uint_eq(rec->hdr[0], rec->data[0]);
	w->data[w->n++] = rec->data;
}

/*
 * Records pcapio read into an input chunk are held where they lie: written
 * from there, and the chunk stays taken until the last one goes.
 */
START_TEST(test_hold_by_reference)
{
	struct stats st = { 0 };
	struct hold *h = hold_new(1 << 20, &st);
	struct hold_info hi;
	struct unit a = { 0 }, b = { 0 };
	struct where w = { .n = 0 };
	struct pcap_rec rec;
	uint8_t *c, stack[116];
	size_t size = 0;

	c = hold_input_chunk(h, 200, &size);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(size, 16384);
	chunk_record(c, 0, 'a', &rec);
	ck_assert_int_eq(hold_add(h, &a, &rec), 0);
	chunk_record(c, 116, 'b', &rec);
	ck_assert_int_eq(hold_add(h, &b, &rec), 0);
	chunk_record(c, 232, 'c', &rec);
	ck_assert_int_eq(hold_add(h, &a, &rec), 0);
	/* raw_hdr, but not in the arena: copied. */
	chunk_record(stack, 0, 'd', &rec);
	ck_assert_int_eq(hold_add(h, &b, &rec), 0);
	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.by_reference, 3);
	ck_assert_uint_eq(hi.copied, 1);
	ck_assert_uint_eq(hold_bytes(h), 4 * 116);
	hold_input_done(h, c);
	hold_release(h, &b, on_write_where, &w);
	ck_assert_int_eq(w.n, 2);
	ck_assert_ptr_eq(w.data[0], c + 116 + 16);
	ck_assert_ptr_ne(w.data[1], stack + 16);
	ck_assert_uint_eq(w.data[1][0], 'd');
	hold_get_info(h, &hi);
	/* The input chunk, pinned by a, and the copy chunk, open. */
	ck_assert_uint_eq(hi.chunks_in_use, 2);
	w.n = 0;
	hold_release(h, &a, on_write_where, &w);
	ck_assert_int_eq(w.n, 2);
	ck_assert_ptr_eq(w.data[0], c + 16);
	ck_assert_ptr_eq(w.data[1], c + 232 + 16);
	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunks_in_use, 1);
	ck_assert_uint_eq(hold_bytes(h), 0);
	ck_assert_uint_eq(st.packets_dropped, 0);
	hold_free(h);
}
END_TEST

/* Checks that a long-lived unit's packets come back in order, intact. */
struct sequence {
	int n;
};

static void
on_write_sequence(void *ctx, const struct pcap_rec *rec)
{
	struct sequence *q = ctx;
	uint8_t want = (uint8_t)q->n;
	uint32_t i;

	ck_assert_uint_eq(rec->caplen, 100);
	ck_assert_uint_eq(rec->ts_ns, (uint64_t)want * 1000);
	for (i = 0; i < 16; i++)
		ck_assert_uint_eq(rec->hdr[i], want);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(rec->data[i], want);
	q->n++;
}

/*
 * One long-lived packet per input chunk pins it: chunks run out, and the
 * sparse ones are compacted, the long-lived packets moved and none dropped.
 */
START_TEST(test_hold_compacts_sparse_chunks)
{
	struct stats st = { 0 };
	/* 64 chunks of 1 KiB, eight 116-byte records each. */
	struct hold *h = hold_new(64 * 1024, &st);
	struct hold_info hi;
	struct unit longlived = { 0 }, brief;
	struct sequence q = { 0 };
	struct pcap_rec rec;
	uint8_t *c;
	size_t size;
	int i, j;

	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunk_size, 1024);
	for (i = 0; i < 250; i++) {
		c = hold_input_chunk(h, 1024, &size);
		ck_assert_ptr_nonnull(c);
		memset(&brief, 0, sizeof(brief));
		for (j = 0; j < 8; j++) {
			chunk_record(c, (size_t)j * 116, (char)(j == 0 ? i :
			    0x7f), &rec);
			ck_assert_int_eq(hold_add(h, j == 0 ? &longlived :
			    &brief, &rec), 0);
		}
		hold_release(h, &brief, NULL, NULL);
		hold_input_done(h, c);
	}
	hold_get_info(h, &hi);
	ck_assert_uint_gt(hi.compactions, 0);
	ck_assert_uint_gt(hi.bytes_moved, 0);
	ck_assert_uint_eq(hi.bytes_moved % 116, 0);
	ck_assert_uint_eq(st.packets_dropped, 0);
	ck_assert_uint_eq(hold_bytes(h), 250 * 116);
	hold_release(h, &longlived, on_write_sequence, &q);
	ck_assert_int_eq(q.n, 250);
	ck_assert_uint_eq(hold_bytes(h), 0);
	/* The copy chunk stays open for the next copies. */
	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunks_in_use, 1);
	hold_free(h);
}
END_TEST

/* Packets whose every byte says which packet they are. */
struct stress {
	uint64_t written;
	uint32_t last[4];	/* per unit, the last seq written + 1 */
	int unit;
};

static uint8_t
stress_byte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + (seq >> 8));
}

static void
on_write_stress(void *ctx, const struct pcap_rec *rec)
{
	struct stress *q = ctx;
	uint32_t seq = (uint32_t)(rec->ts_ns / 1000), i;

	ck_assert_uint_eq(rec->caplen, 60 + seq * 37 % 900);
	for (i = 0; i < 16; i++)
		ck_assert_uint_eq(rec->hdr[i], stress_byte(seq, 100000 + i));
	for (i = 0; i < rec->caplen; i++)
		ck_assert_uint_eq(rec->data[i], stress_byte(seq, i));
	/* In order within the unit. */
	ck_assert_uint_ge(seq + 1, q->last[q->unit] + 1);
	q->last[q->unit] = seq + 1;
	q->written++;
}

/*
 * Small chunks (a quarter of a page) under pressure: copies, compaction,
 * drops and sweeps all at work, units decided now and then. Every packet
 * written is intact and in its unit's order, and written and dropped add
 * up to every packet added.
 */
START_TEST(test_hold_small_chunks_stress)
{
	struct stats st = { 0 };
	struct hold *h = hold_new(64 * 1024, &st);
	struct hold_info hi;
	struct unit u[4];
	struct stress q;
	uint8_t data[1000];
	uint32_t seq, i, n, held[4] = { 0 }, rnd = 12345;
	int k;

	memset(u, 0, sizeof(u));
	memset(&q, 0, sizeof(q));
	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunk_size, 1024);
	for (seq = 0; seq < 6000; seq++) {
		struct pcap_rec rec;

		rnd = rnd * 1103515245 + 12345;
		k = (int)(rnd >> 16) % 4;
		n = 60 + seq * 37 % 900;
		memset(&rec, 0, sizeof(rec));
		rec.ts_ns = (uint64_t)seq * 1000;
		rec.caplen = n;
		for (i = 0; i < 16; i++)
			rec.hdr[i] = stress_byte(seq, 100000 + i);
		for (i = 0; i < n; i++)
			data[i] = stress_byte(seq, i);
		rec.data = data;
		if (hold_add(h, &u[k], &rec) == 0)
			held[k]++;
		/* Now and then a unit is decided: written or not. */
		if ((rnd >> 8) % 97 == 0) {
			q.unit = k;
			hold_release(h, &u[k], on_write_stress, &q);
			held[k] = 0;
		}
	}
	for (k = 0; k < 4; k++) {
		q.unit = k;
		hold_release(h, &u[k], on_write_stress, &q);
	}
	hold_get_info(h, &hi);
	ck_assert_uint_gt(hi.compactions, 0);
	ck_assert_uint_gt(st.packets_dropped, 0);
	ck_assert_uint_eq(hold_bytes(h), 0);
	ck_assert_uint_eq(q.written + st.packets_dropped, 6000);
	ck_assert_uint_eq(st.packets_held, 6000);
	hold_free(h);
}
END_TEST

/*
 * Descriptors growing into the budget give chunks' pages back, once per
 * chunk over the budget: a chunk given back is not taken again while a
 * resident one is free (it would be faulted in and given back at every
 * turn). Chunks of 1 MiB are mapped ahead with one call each.
 */
START_TEST(test_hold_gives_back_once)
{
	struct stats st = { 0 };
	size_t max = (size_t)64 << 20, size;
	struct hold *h = hold_new(max, &st);
	struct hold_info hi;
	struct unit a = { 0 };
	uint8_t *c[64];
	uint64_t over;
	int i, n;

	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunk_size, 1 << 20);
	ck_assert_uint_eq(hi.nchunks, 64);
	/* Every chunk but the one kept back for compaction made resident. */
	for (n = 0; n < 64 && (c[n] = hold_input_chunk(h, 1, &size)) != NULL;
	    n++)
		;
	ck_assert_int_eq(n, 63);
	for (i = 0; i < n; i++)
		hold_input_done(h, c[i]);
	hold_get_info(h, &hi);
	ck_assert_uint_eq(hi.chunks_resident, 63);
	ck_assert_uint_eq(hi.chunks_in_use, 0);
	ck_assert_uint_eq(hi.given_back, 0);
	ck_assert(hi.populated == 0 || hi.populated == 63);
	/* 60000 copies: descriptors take a few chunks' worth of the budget. */
	for (i = 0; i < 60000; i++)
		ck_assert_int_eq(hold_add_tagged(h, &a, (char)i), 0);
	hold_get_info(h, &hi);
	ck_assert_uint_gt(hi.desc_bytes, 2 << 20);
	over = (hi.desc_bytes + hi.chunk_size - 1) / hi.chunk_size;
	/* Chunks go round as input: each given back at most once. */
	for (i = 0; i < 1000; i++) {
		c[0] = hold_input_chunk(h, 1, &size);
		ck_assert_ptr_nonnull(c[0]);
		hold_input_done(h, c[0]);
	}
	hold_get_info(h, &hi);
	ck_assert_uint_ge(hi.given_back, 1);
	ck_assert_uint_le(hi.given_back, over);
	ck_assert_uint_le(hi.chunks_resident * hi.chunk_size + hi.desc_bytes,
	    max + ((size_t)1 << 20));
	ck_assert_uint_eq(st.packets_dropped, 0);
	hold_release(h, &a, NULL, NULL);
	ck_assert_uint_eq(hold_bytes(h), 0);
	hold_free(h);
}
END_TEST

/* A budget too small for a few chunks holds nothing, and says so. */
START_TEST(test_hold_tiny_budget)
{
	struct stats st = { 0 };
	struct hold *h = hold_new(3 * 256, &st);
	struct unit a = { 0 };
	size_t size;

	ck_assert_ptr_null(hold_input_chunk(h, 16, &size));
	ck_assert_int_eq(hold_add_tagged(h, &a, 'a'), -1);
	ck_assert_uint_eq(st.packets_dropped, 1);
	ck_assert_ptr_null(a.held_head);
	hold_free(h);
}
END_TEST

START_TEST(test_hold_drain_keeps_input_order)
{
	struct stats st = { 0 };
	struct hold *h = hold_new(1 << 20, &st);
	struct unit a = { 0 }, b = { 0 }, c = { 0 };
	struct written w = { .n = 0 };

	add(h, &a, 'a');
	add(h, &b, 'b');
	add(h, &c, 'c');
	add(h, &a, 'A');
	add(h, &b, 'B');
	add(h, &c, 'C');
	hold_detach(h, &c, true);
	hold_detach(h, &b, false);
	hold_detach(h, &a, true);
	hold_drain(h, on_write, &w);
	ck_assert_str_eq(w.bytes, "acAC");
	ck_assert_uint_eq(hold_bytes(h), 0);
	hold_free(h);
}
END_TEST

static Suite *
flow_suite(void)
{
	Suite *s = suite_create("flow");
	TCase *tc = tcase_create("table");

	tcase_add_loop_test(tc, test_roles, 0,
	    sizeof(role_cases) / sizeof(role_cases[0]));
	tcase_add_test(tc, test_vlan_separates_flows);
	tcase_add_test(tc, test_port_reuse);
	tcase_add_test(tc, test_timeouts);
	tcase_add_test(tc, test_reset_lingers);
	tcase_add_test(tc, test_old_timestamp_is_activity_now);
	tcase_add_test(tc, test_max_flows_evicts_least_recent);
	tcase_add_test(tc, test_many_flows_grow);
	tcase_add_test(tc, test_table_removals_keep_lookups);
	tcase_add_test(tc, test_unit_decide);
	suite_add_tcase(s, tc);
	tc = tcase_create("hold");
	tcase_add_test(tc, test_hold_order_and_merge);
	tcase_add_test(tc, test_hold_drops_oldest_past_cap);
	tcase_add_test(tc, test_hold_by_reference);
	tcase_add_test(tc, test_hold_compacts_sparse_chunks);
	tcase_add_test(tc, test_hold_tiny_budget);
	tcase_add_test(tc, test_hold_gives_back_once);
	tcase_add_test(tc, test_hold_small_chunks_stress);
	tcase_add_test(tc, test_hold_drain_keeps_input_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(flow_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
