/* check_report.c: the exact text of report lines and statistics. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Formats r into a static buffer through a memory stream. */
static const char *
line(const struct engine_report *r, bool nano)
{
	static char buf[1024];
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	ck_assert_ptr_nonnull(fp);
	report_line(fp, r, nano);
	fclose(fp);
	return buf;
}

static const uint8_t v4a[16] = { 10, 0, 0, 1 };
static const uint8_t v4b[16] = { 192, 168, 1, 20 };
static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0xfe, 0x80, [14] = 0xab, [15] = 0xcd };

/* 2004-10-20T23:09:55.123456789Z */
#define TS 1098313795123456789ULL

START_TEST(test_tcp_match_line)
{
	struct match_hit hit = { .pattern = 0, .dir = 0, .offset = 17,
	    .len = 5, .excerpt = "GET /", .excerpt_len = 5 };
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 6,
	    .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .client_port = 34567, .server_port = 80, .matched = true,
	    .hit = &hit, .pattern = "GET /" };

	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z tcp "
	    "10.0.0.1:34567 -> 192.168.1.20:80 client /GET \\// @17 \"GET /\"\n");
	ck_assert_str_eq(line(&r, true), "2004-10-20T23:09:55.123456789Z tcp "
	    "10.0.0.1:34567 -> 192.168.1.20:80 client /GET \\// @17 \"GET /\"\n");
}
END_TEST

START_TEST(test_ipv6_vlan_server_escapes)
{
	struct match_hit hit = { .pattern = 1, .dir = 1, .offset = 0,
	    .len = 6, .excerpt = "a\"b\\\n\x01", .excerpt_len = 6 };
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 6,
	    .ipver = 6, .client_addr = v6a, .server_addr = v6b,
	    .client_port = 5555, .server_port = 443, .vlan = { 10, 20 },
	    .vlan_count = 2, .matched = true, .hit = &hit,
	    .pattern = "a\"b\\\\\\n/\x01" };

	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z tcp "
	    "vlan 10,20 [2001:db8::1]:5555 -> [fe80::abcd]:443 server "
	    "/a\"b\\\\\\n\\/\\x01/ @0 \"a\\\"b\\\\\\n\\x01\"\n");
}
END_TEST

START_TEST(test_no_match_and_other_protocols)
{
	struct engine_report r = { .ts_ns = TS, .is_flow = true, .proto = 1,
	    .ipver = 4, .client_addr = v4a, .server_addr = v4b,
	    .vlan = { 42 }, .vlan_count = 1 };
	struct engine_report pkt = { .ts_ns = TS };
	struct engine_report bad = { .ts_ns = TS, .proto = 6, .ipver = 4,
	    .client_addr = v4a, .server_addr = v4b };

	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z icmp "
	    "vlan 42 10.0.0.1 -> 192.168.1.20 no-match\n");
	r.proto = 200;
	r.vlan_count = 0;
	ck_assert_str_eq(line(&r, false), "2004-10-20T23:09:55.123456Z "
	    "ip-proto-200 10.0.0.1 -> 192.168.1.20 no-match\n");
	ck_assert_str_eq(line(&pkt, false),
	    "2004-10-20T23:09:55.123456Z packet no-match\n");
	/* A damaged TCP packet alone: its addresses, no ports. */
	ck_assert_str_eq(line(&bad, false), "2004-10-20T23:09:55.123456Z "
	    "packet tcp 10.0.0.1 -> 192.168.1.20 no-match\n");
}
END_TEST

START_TEST(test_stats_lines)
{
	static char buf[4096];
	struct stats st = { .packets_read = 655, .packets_written = 120,
	    .flows_tcp = 49, .flows_matched = 3, .flows_selected = 3,
	    .tcp_gaps = 2, .overlap_conflicts = 1, .bad_transport = 7 };
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	report_stats(fp, &st, false);
	fclose(fp);
	ck_assert_str_eq(buf,
	    "flowgrep: 655 packets read, 120 written\n"
	    "flowgrep: 49 flows (49 tcp, 0 udp, 0 other), 3 matched, "
	    "3 selected\n"
	    "flowgrep: skipped: 7 bad TCP/UDP header\n"
	    "flowgrep: tcp: 2 gaps, 1 overlap conflicts\n");
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_tcp_match_line);
	tcase_add_test(tc, test_ipv6_vlan_server_escapes);
	tcase_add_test(tc, test_no_match_and_other_protocols);
	tcase_add_test(tc, test_stats_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
