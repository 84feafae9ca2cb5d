/* report.c: per-flow text lines and end-of-run statistics. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "report.h"

static const char *
proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 1: return "icmp";
	case 2: return "igmp";
	case 4: return "ipip";
	case 6: return "tcp";
	case 17: return "udp";
	case 41: return "ipv6";
	case 47: return "gre";
	case 50: return "esp";
	case 51: return "ah";
	case 58: return "icmp6";
	case 59: return "ipv6-nonxt";
	case 89: return "ospf";
	case 103: return "pim";
	case 112: return "vrrp";
	case 132: return "sctp";
	default:
		snprintf(buf, len, "ip-proto-%u", proto);
		return buf;
	}
}

void
report_addr(char *buf, size_t len, int ipver, const uint8_t *addr)
{
	if (inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, addr, buf,
	    (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* An endpoint: a.b.c.d:port, [v6]:port, or the bare address without ports. */
static void
endpoint(FILE *out, int ipver, const uint8_t *addr, uint16_t port,
    bool ports)
{
	char a[INET6_ADDRSTRLEN];

	report_addr(a, sizeof(a), ipver, addr);
	if (!ports)
		fputs(a, out);
	else if (ipver == 6)
		fprintf(out, "[%s]:%u", a, port);
	else
		fprintf(out, "%s:%u", a, port);
}

/* Bytes as a quoted string with C escapes: safe on any terminal. */
static void
escaped(FILE *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c > 0x7e)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

/*
 * A pattern between slashes: as given, so it can be pasted back, except
 * that '/' becomes "\/" and unprintable bytes \xHH (both mean the same in
 * PCRE2).
 */
static void
pattern_text(FILE *out, const char *p)
{
	for (; *p != '\0'; p++) {
		uint8_t c = (uint8_t)*p;

		if (c == '/')
			fputs("\\/", out);
		else if (c < 0x20 || c > 0x7e)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void
timestamp(FILE *out, uint64_t ts_ns, bool nano)
{
	time_t sec = (time_t)(ts_ns / 1000000000ULL);
	struct tm tm;
	char buf[32];

	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (nano)
		fprintf(out, "%s.%09" PRIu64 "Z", buf, (uint64_t)(ts_ns % 1000000000ULL));
	else
		fprintf(out, "%s.%06" PRIu64 "Z", buf,
		    (uint64_t)(ts_ns % 1000000000ULL / 1000));
}

void
report_line(FILE *out, const struct engine_report *r, bool nano)
{
	char pbuf[16];
	bool ports = r->is_flow && (r->proto == 6 || r->proto == 17);

	timestamp(out, r->ts_ns, nano);
	if (!r->is_flow)
		fputs(" packet", out);
	if (r->ipver != 0) {
		fprintf(out, " %s", proto_name(r->proto, pbuf, sizeof(pbuf)));
		if (r->vlan_count == 1)
			fprintf(out, " vlan %u", r->vlan[0]);
		else if (r->vlan_count > 1)
			fprintf(out, " vlan %u,%u", r->vlan[0], r->vlan[1]);
		fputc(' ', out);
		endpoint(out, r->ipver, r->client_addr, r->client_port, ports);
		fputs(" -> ", out);
		endpoint(out, r->ipver, r->server_addr, r->server_port, ports);
	}
	if (r->matched && r->hit != NULL) {
		/* A unit that is not a flow has no direction. */
		if (r->is_flow)
			fprintf(out, " %s", r->hit->dir == 0 ? "client" :
			    "server");
		fputs(" /", out);
		pattern_text(out, r->pattern);
		fprintf(out, "/ @%" PRIu64 " \"", r->hit->offset);
		escaped(out, r->hit->excerpt, r->hit->excerpt_len);
		fputs("\"\n", out);
	} else
		fputs(" no-match\n", out);
}

/* One "name value" pair, printed only when the value is not zero. */
struct counter {
	const char *name;
	uint64_t value;
};

static void
anomalies(FILE *out, const char *title, const struct counter *c, size_t n)
{
	size_t i;
	bool any = false;

	for (i = 0; i < n; i++) {
		if (c[i].value == 0)
			continue;
		fprintf(out, "%s%s %" PRIu64 " %s", any ? "," : "flowgrep: ",
		    any ? "" : title, c[i].value, c[i].name);
		any = true;
	}
	if (any)
		fputc('\n', out);
}

#define NCOUNTERS(a) (sizeof(a) / sizeof((a)[0]))

void
report_stats(FILE *out, const struct stats *st, bool stream_input)
{
	uint64_t flows = st->flows_tcp + st->flows_udp + st->flows_other;
	const struct counter skipped[] = {
		{ "not IP", st->not_ip },
		{ "bad link header", st->bad_link },
		{ "bad IP header", st->bad_ip },
		{ "bad TCP/UDP header", st->bad_transport },
		{ "on an interface of another link type", st->other_linktype },
	};
	const struct counter tcp[] = {
		{ "gaps", st->tcp_gaps },
		{ "gap bytes", st->tcp_gap_bytes },
		{ "retransmitted bytes", st->tcp_retransmitted_bytes },
		{ "overlap conflicts", st->overlap_conflicts },
		{ "out-of-order segments", st->ooo_segments },
		{ "queue cap hits", st->ooo_cap_hits },
		{ "out-of-window RSTs ignored", st->rst_ignored },
		{ "RST payload bytes ignored", st->rst_payload_bytes },
		{ "mid-stream pickups", st->flows_midstream },
	};
	const struct counter frag[] = {
		{ "fragments", st->fragments },
		{ "datagrams reassembled", st->datagrams_reassembled },
		{ "incomplete", st->datagrams_incomplete },
		{ "overlapping", st->fragment_overlaps },
		{ "evicted for memory", st->fragment_mem_evictions },
	};
	const struct counter limits[] = {
		{ "flows timed out", st->flows_timed_out },
		{ "flows ended early by --max-flows", st->flows_evicted },
		{ "partial matches longer than --window", st->window_overflows },
		{ "directions cut at --depth", st->depth_reached },
		{ "packets truncated by the snap length",
		    st->truncated_payload },
	};

	fprintf(out, "flowgrep: %" PRIu64 " packets read, %" PRIu64
	    " written", st->packets_read, st->packets_written);
	if (st->packets_filtered > 0)
		fprintf(out, ", %" PRIu64 " filtered out", st->packets_filtered);
	fputc('\n', out);
	fprintf(out, "flowgrep: %" PRIu64 " flows (%" PRIu64 " tcp, %" PRIu64
	    " udp, %" PRIu64 " other), %" PRIu64 " matched, %" PRIu64
	    " selected\n", flows, st->flows_tcp, st->flows_udp, st->flows_other,
	    st->flows_matched, st->flows_selected);
	if (st->single_units > 0)
		fprintf(out, "flowgrep: %" PRIu64
		    " packets not part of a flow\n", st->single_units);
	anomalies(out, "skipped:", skipped, NCOUNTERS(skipped));
	anomalies(out, "tcp:", tcp, NCOUNTERS(tcp));
	anomalies(out, "ip:", frag, NCOUNTERS(frag));
	anomalies(out, "limits:", limits, NCOUNTERS(limits));
	if (stream_input)
		fprintf(out, "flowgrep: %" PRIu64 " packets held (peak %" PRIu64
		    " bytes), %" PRIu64 " dropped\n", st->packets_held,
		    st->hold_peak_bytes, st->packets_dropped);
	if (st->kernel_drops > 0)
		fprintf(out, "flowgrep: %" PRIu64 " packets dropped by the "
		    "kernel\n", st->kernel_drops);
}
