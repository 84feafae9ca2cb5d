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

START_TEST(test_hold_drops_oldest_past_cap)
{
	struct stats st = { 0 };
	/* Each 100-byte packet takes a 256-byte block: room for three. */
	struct hold *h = hold_new(3 * 256, &st);
	struct unit a = { 0 }, b = { 0 };
	struct written w = { .n = 0 };

	add(h, &a, 'a');
	add(h, &b, 'b');
	add(h, &a, 'c');
	add(h, &b, 'd');	/* drops 'a' */
	add(h, &b, 'e');	/* drops 'b' */
	ck_assert_uint_eq(st.packets_dropped, 2);
	hold_release(h, &a, on_write, &w);
	ck_assert_str_eq(w.bytes, "c");
	hold_release(h, &b, on_write, &w);
	ck_assert_str_eq(w.bytes, "cde");
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
	tcase_add_test(tc, test_max_flows_evicts_least_recent);
	tcase_add_test(tc, test_many_flows_grow);
	tcase_add_test(tc, test_unit_decide);
	suite_add_tcase(s, tc);
	tc = tcase_create("hold");
	tcase_add_test(tc, test_hold_order_and_merge);
	tcase_add_test(tc, test_hold_drops_oldest_past_cap);
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
