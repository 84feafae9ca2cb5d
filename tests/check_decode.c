/* check_decode.c: link layers, IP, TCP/UDP: tables, truncation, corpus. */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pcapio.h"
#include "testutil.h"

/* ---- frame pieces, as byte lists ---- */

#define MACS 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, \
	0xaa, 0xbb
#define ETH(hi, lo) MACS, hi, lo
#define VLAN(tci_hi, tci_lo, hi, lo) tci_hi, tci_lo, hi, lo
/* IPv4 192.0.2.1 -> 198.51.100.2, id 0x1234; len and flags/offset given. */
#define IP4_ADDRS 192, 0, 2, 1, 198, 51, 100, 2
#define IP4(len_hi, len_lo, fl_hi, fl_lo, proto) 0x45, 0, len_hi, len_lo, \
	0x12, 0x34, fl_hi, fl_lo, 64, proto, 0, 0, IP4_ADDRS
/* IPv6 2001:db8::1 -> 2001:db8::2. */
#define IP6_ADDRS 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, \
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2
#define IP6(len_hi, len_lo, nh) 0x60, 0, 0, 0, len_hi, len_lo, nh, 64, IP6_ADDRS
/* TCP 12345 -> 80, seq 0x01020304, ack 0x05060708, window 0xfaf0. */
#define TCP(doff, flags) 0x30, 0x39, 0x00, 0x50, 1, 2, 3, 4, 5, 6, 7, 8, \
	(doff) << 4, flags, 0xfa, 0xf0, 0, 0, 0, 0
/* UDP 53 -> 5000. */
#define UDP(len_hi, len_lo) 0x00, 0x35, 0x13, 0x88, len_hi, len_lo, 0, 0
#define HELLO 'h', 'e', 'l', 'l', 'o'
/* An 8-octet IPv6 extension header (no options, PadN). */
#define EXT8(nh) nh, 0, 1, 4, 0, 0, 0, 0
/* Linux cooked v1 (16 bytes) and v2 (20 bytes) headers. */
#define SLL(hatype_lo, hi, lo) 0, 0, 0, hatype_lo, 0, 6, MACS_6, 0, 0, hi, lo
#define SLL_NETLINK(hi, lo) 0, 4, 0x03, 0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
	hi, lo
#define MACS_6 0x00, 0x11, 0x22, 0x33, 0x44, 0x55
#define SLL2(hi, lo) hi, lo, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, MACS_6, 0, 0

#define TCP4_HELLO IP4(0, 45, 0, 0, 6), TCP(5, 0x18), HELLO
#define TCP6_HELLO IP6(0, 25, 6), TCP(5, 0x18), HELLO

enum { F_TCP = 1, F_V4ADDR = 2, F_V6ADDR = 4 };

struct dcase {
	const char *name;
	int linktype;
	const uint8_t *pkt;
	uint32_t len;
	/* expected */
	enum decode_status status;
	uint8_t ipver;
	uint8_t proto;
	uint8_t vlan_count;
	uint16_t vlan0, vlan1;
	uint16_t sport, dport;
	int payload_off;	/* offset of payload (or frag_data); -1 NULL */
	uint32_t payload_len, payload_wire_len;
	uint8_t tcp_flags;
	int8_t wscale;
	int flags;		/* F_*: check TCP numbers, addresses */
	uint32_t frag_id, frag_offset;
	uint8_t frag_more;
};

#define P(...) (const uint8_t[]){ __VA_ARGS__ }, \
	sizeof((const uint8_t[]){ __VA_ARGS__ })

/* Expected result shorthands. */
#define NOFRAG 0, 0, 0
#define OK4_TCP(off, pl, wire) DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, off, \
	pl, wire, 0x18, -1, F_TCP | F_V4ADDR, NOFRAG
#define OK6_TCP(off, pl, wire) DECODE_OK, 6, 6, 0, 0, 0, 12345, 80, off, \
	pl, wire, 0x18, -1, F_TCP | F_V6ADDR, NOFRAG
/* Not TCP: version, protocol, ports, payload offset and lengths, address. */
#define OKX(ver, proto, sp, dp, off, pl, wire, addr) DECODE_OK, ver, proto, \
	0, 0, 0, sp, dp, off, pl, wire, 0, -1, addr, NOFRAG
#define NOT_IP DECODE_NOT_IP, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, -1, 0, NOFRAG
#define BAD(s) s, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, -1, 0, NOFRAG
/* A bad transport header still has its IP fields. */
#define BADT4(proto) DECODE_BAD_TRANSPORT, 4, proto, 0, 0, 0, 0, 0, -1, 0, 0, \
	0, -1, F_V4ADDR, NOFRAG

static const struct dcase cases[] = {
	/* Ethernet */
	{ "eth ipv4 tcp", LINKTYPE_ETHERNET, P(ETH(8, 0), TCP4_HELLO),
	    OK4_TCP(54, 5, 5) },
	{ "eth padding cut by ip length", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), TCP4_HELLO, 0, 0, 0, 0, 0, 0), OK4_TCP(54, 5, 5) },
	{ "eth snap length cut", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), IP4(0, 100, 0, 0, 6), TCP(5, 0x18), HELLO),
	    OK4_TCP(54, 5, 60) },
	{ "ipv4 options", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), 0x46, 0, 0, 49, 0x12, 0x34, 0, 0, 64, 6, 0, 0,
	    IP4_ADDRS, 1, 1, 1, 0, TCP(5, 0x18), HELLO), OK4_TCP(58, 5, 5) },
	{ "ipv4 df is no fragment", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), IP4(0, 45, 0x40, 0, 6), TCP(5, 0x18), HELLO),
	    OK4_TCP(54, 5, 5) },
	{ "ipv4 total length 0 (offload)", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), IP4(0, 0, 0, 0, 6), TCP(5, 0x18), HELLO),
	    OK4_TCP(54, 5, 5) },
	{ "802.1Q", LINKTYPE_ETHERNET,
	    P(ETH(0x81, 0), VLAN(0, 100, 8, 0), TCP4_HELLO),
	    DECODE_OK, 4, 6, 1, 100, 0, 12345, 80, 58, 5, 5, 0x18, -1,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "802.1Q priority bits", LINKTYPE_ETHERNET,
	    P(ETH(0x81, 0), VLAN(0xe0, 10, 0x86, 0xdd), TCP6_HELLO),
	    DECODE_OK, 6, 6, 1, 10, 0, 12345, 80, 78, 5, 5, 0x18, -1,
	    F_TCP | F_V6ADDR, NOFRAG },
	{ "802.1ad QinQ", LINKTYPE_ETHERNET,
	    P(ETH(0x88, 0xa8), VLAN(0, 200, 0x81, 0), VLAN(1, 44, 8, 0),
	    TCP4_HELLO),
	    DECODE_OK, 4, 6, 2, 200, 300, 12345, 80, 62, 5, 5, 0x18, -1,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "three tags, outer two kept", LINKTYPE_ETHERNET,
	    P(ETH(0x91, 0), VLAN(0, 1, 0x81, 0), VLAN(0, 2, 0x81, 0),
	    VLAN(0, 3, 8, 0), TCP4_HELLO),
	    DECODE_OK, 4, 6, 2, 1, 2, 12345, 80, 66, 5, 5, 0x18, -1,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "vlan arp", LINKTYPE_ETHERNET,
	    P(ETH(0x81, 0), VLAN(0, 7, 8, 6), 0, 1, 8, 0, 6, 4, 0, 1),
	    DECODE_NOT_IP, 0, 0, 1, 7, 0, 0, 0, -1, 0, 0, 0, -1, 0, NOFRAG },
	{ "vlan tag cut", LINKTYPE_ETHERNET, P(ETH(0x81, 0), 0, 5, 8),
	    BAD(DECODE_BAD_LINK) },
	{ "nine tags", LINKTYPE_ETHERNET,
	    P(ETH(0x81, 0), VLAN(0, 1, 0x81, 0), VLAN(0, 1, 0x81, 0),
	    VLAN(0, 1, 0x81, 0), VLAN(0, 1, 0x81, 0), VLAN(0, 1, 0x81, 0),
	    VLAN(0, 1, 0x81, 0), VLAN(0, 1, 0x81, 0), VLAN(0, 1, 0x81, 0),
	    VLAN(0, 1, 8, 0), TCP4_HELLO),
	    DECODE_BAD_LINK, 0, 0, 2, 1, 1, 0, 0, -1, 0, 0, 0, -1, 0, NOFRAG },
	{ "arp", LINKTYPE_ETHERNET, P(ETH(8, 6), 0, 1, 8, 0, 6, 4, 0, 1),
	    NOT_IP },
	{ "lldp", LINKTYPE_ETHERNET, P(ETH(0x88, 0xcc), 2, 7, 4),
	    NOT_IP },
	{ "802.3 length + llc", LINKTYPE_ETHERNET,
	    P(ETH(0, 6), 0x42, 0x42, 3, 0, 0, 0), NOT_IP },
	{ "eth header only", LINKTYPE_ETHERNET, P(ETH(8, 0)),
	    BAD(DECODE_BAD_IP) },
	{ "eth cut", LINKTYPE_ETHERNET, P(MACS, 8), BAD(DECODE_BAD_LINK) },

	/* Linux cooked captures */
	{ "sll ipv4", LINKTYPE_LINUX_SLL, P(SLL(1, 8, 0), TCP4_HELLO),
	    OK4_TCP(56, 5, 5) },
	{ "sll vlan", LINKTYPE_LINUX_SLL,
	    P(SLL(1, 0x81, 0), VLAN(0, 9, 0x86, 0xdd), TCP6_HELLO),
	    DECODE_OK, 6, 6, 1, 9, 0, 12345, 80, 80, 5, 5, 0x18, -1,
	    F_TCP | F_V6ADDR, NOFRAG },
	{ "sll 802.2", LINKTYPE_LINUX_SLL, P(SLL(1, 0, 4), 0x42, 0x42, 3),
	    NOT_IP },
	{ "sll netlink", LINKTYPE_LINUX_SLL, P(SLL_NETLINK(8, 0), TCP4_HELLO),
	    NOT_IP },
	{ "sll other hatype", LINKTYPE_LINUX_SLL,
	    P(SLL(0x0a, 8, 0), TCP4_HELLO),
	    OK4_TCP(56, 5, 5) },
	{ "sll cut", LINKTYPE_LINUX_SLL, P(0, 0, 0, 1, 0, 6, MACS_6, 0, 0, 8),
	    BAD(DECODE_BAD_LINK) },
	{ "sll2 ipv6", LINKTYPE_LINUX_SLL2, P(SLL2(0x86, 0xdd), TCP6_HELLO),
	    OK6_TCP(80, 5, 5) },
	{ "sll2 arp", LINKTYPE_LINUX_SLL2, P(SLL2(8, 6), 0, 1, 8, 0),
	    NOT_IP },
	{ "sll2 cut", LINKTYPE_LINUX_SLL2, P(SLL2(8, 0)) - 1,
	    BAD(DECODE_BAD_LINK) },

	/* Raw IP */
	{ "raw ipv4", LINKTYPE_RAW, P(TCP4_HELLO), OK4_TCP(40, 5, 5) },
	{ "raw ipv6", LINKTYPE_RAW, P(TCP6_HELLO), OK6_TCP(60, 5, 5) },
	{ "dlt 12 raw", 12, P(TCP4_HELLO), OK4_TCP(40, 5, 5) },
	{ "dlt 14 raw", 14, P(TCP6_HELLO), OK6_TCP(60, 5, 5) },
	{ "raw version 5", LINKTYPE_RAW, P(0x55, 0, 0, 20),
	    BAD(DECODE_BAD_IP) },
	{ "raw empty", LINKTYPE_RAW, (const uint8_t *)"", 0,
	    BAD(DECODE_BAD_IP) },
	{ "linktype ipv4", LINKTYPE_IPV4, P(TCP4_HELLO), OK4_TCP(40, 5, 5) },
	{ "linktype ipv4 holding ipv6", LINKTYPE_IPV4, P(TCP6_HELLO),
	    BAD(DECODE_BAD_IP) },
	{ "linktype ipv6", LINKTYPE_IPV6, P(TCP6_HELLO), OK6_TCP(60, 5, 5) },
	{ "linktype ipv6 holding ipv4", LINKTYPE_IPV6, P(TCP4_HELLO),
	    BAD(DECODE_BAD_IP) },

	/* BSD loopback: the family in either byte order, or network order */
	{ "null af 2 le", LINKTYPE_NULL, P(2, 0, 0, 0, TCP4_HELLO),
	    OK4_TCP(44, 5, 5) },
	{ "null af 2 be", LINKTYPE_NULL, P(0, 0, 0, 2, TCP4_HELLO),
	    OK4_TCP(44, 5, 5) },
	{ "null af 10 linux", LINKTYPE_NULL, P(10, 0, 0, 0, TCP6_HELLO),
	    OK6_TCP(64, 5, 5) },
	{ "null af 24 be", LINKTYPE_NULL, P(0, 0, 0, 24, TCP6_HELLO),
	    OK6_TCP(64, 5, 5) },
	{ "null af 28", LINKTYPE_NULL, P(28, 0, 0, 0, TCP6_HELLO),
	    OK6_TCP(64, 5, 5) },
	{ "null af 30 darwin", LINKTYPE_NULL, P(30, 0, 0, 0, TCP6_HELLO),
	    OK6_TCP(64, 5, 5) },
	{ "null af 7", LINKTYPE_NULL, P(7, 0, 0, 0, 1, 2, 3), NOT_IP },
	{ "null cut", LINKTYPE_NULL, P(2, 0, 0), BAD(DECODE_BAD_LINK) },
	{ "loop af 2", LINKTYPE_LOOP, P(0, 0, 0, 2, TCP4_HELLO),
	    OK4_TCP(44, 5, 5) },
	{ "loop af 30", LINKTYPE_LOOP, P(0, 0, 0, 30, TCP6_HELLO),
	    OK6_TCP(64, 5, 5) },
	{ "loop little-endian is not ip", LINKTYPE_LOOP,
	    P(2, 0, 0, 0, TCP4_HELLO), NOT_IP },
	{ "unknown link type", 105, P(TCP4_HELLO), BAD(DECODE_BAD_LINK) },

	/* IPv4 damage */
	{ "ipv4 ihl 4", LINKTYPE_RAW,
	    P(0x44, 0, 0, 45, 0x12, 0x34, 0, 0, 64, 6, 0, 0, IP4_ADDRS,
	    TCP(5, 0x18), HELLO), BAD(DECODE_BAD_IP) },
	{ "ipv4 total length < header", LINKTYPE_RAW,
	    P(IP4(0, 19, 0, 0, 6), TCP(5, 0x18)), BAD(DECODE_BAD_IP) },
	{ "ipv4 options not captured", LINKTYPE_RAW,
	    P(0x4f, 0, 0, 80, 0x12, 0x34, 0, 0, 64, 6, 0, 0, IP4_ADDRS, 1, 1),
	    BAD(DECODE_BAD_IP) },
	{ "ipv4 header cut", LINKTYPE_RAW, P(IP4(0, 45, 0, 0, 6)) - 1,
	    BAD(DECODE_BAD_IP) },

	/* IPv4 fragments (RFC 791) */
	{ "ipv4 first fragment", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), IP4(0, 45, 0x20, 0, 6), TCP(5, 0x18), HELLO),
	    DECODE_FRAGMENT, 4, 6, 0, 0, 0, 0, 0, 34, 25, 25, 0, -1, F_V4ADDR,
	    0x1234, 0, 1 },
	{ "ipv4 last fragment", LINKTYPE_ETHERNET,
	    P(ETH(8, 0), IP4(0, 45, 0x00, 185, 17), HELLO, HELLO, HELLO,
	    HELLO, HELLO, 0, 0),
	    DECODE_FRAGMENT, 4, 17, 0, 0, 0, 0, 0, 34, 25, 25, 0, -1,
	    F_V4ADDR, 0x1234, 1480, 0 },
	{ "ipv4 middle fragment cut", LINKTYPE_RAW,
	    P(IP4(0x05, 0xdc, 0x20, 185, 17), HELLO),
	    DECODE_FRAGMENT, 4, 17, 0, 0, 0, 0, 0, 20, 5, 1480, 0, -1,
	    F_V4ADDR, 0x1234, 1480, 1 },

	/* Transport */
	{ "udp", LINKTYPE_RAW, P(IP4(0, 33, 0, 0, 17), UDP(0, 13), HELLO),
	    OKX(4, 17, 53, 5000, 28, 5, 5, F_V4ADDR) },
	{ "udp length shorter than ip", LINKTYPE_RAW,
	    P(IP4(0, 33, 0, 0, 17), UDP(0, 11), HELLO),
	    OKX(4, 17, 53, 5000, 28, 3, 3, F_V4ADDR) },
	{ "udp length longer than ip", LINKTYPE_RAW,
	    P(IP4(0, 33, 0, 0, 17), UDP(0, 99), HELLO),
	    OKX(4, 17, 53, 5000, 28, 5, 5, F_V4ADDR) },
	{ "udp snap cut", LINKTYPE_RAW,
	    P(IP4(0, 128, 0, 0, 17), UDP(0, 108), HELLO),
	    DECODE_OK, 4, 17, 0, 0, 0, 53, 5000, 28, 5, 100, 0, -1,
	    F_V4ADDR, NOFRAG },
	{ "udp length 0", LINKTYPE_RAW,
	    P(IP4(0, 33, 0, 0, 17), UDP(0, 0), HELLO),
	    OKX(4, 17, 53, 5000, 28, 5, 5, F_V4ADDR) },
	{ "udp length 7", LINKTYPE_RAW,
	    P(IP4(0, 33, 0, 0, 17), UDP(0, 7), HELLO),
	    BADT4(17) },
	{ "udp header cut", LINKTYPE_RAW,
	    P(IP4(0, 27, 0, 0, 17), 0, 53, 0x13, 0x88, 0, 7, 0),
	    BADT4(17) },
	{ "icmp", LINKTYPE_RAW, P(IP4(0, 28, 0, 0, 1), 8, 0, 0, 0, 0, 1, 0, 1),
	    OKX(4, 1, 0, 0, 20, 8, 8, F_V4ADDR) },
	{ "ipv4 in ipv4", LINKTYPE_RAW,
	    P(IP4(0, 65, 0, 0, 4), TCP4_HELLO),
	    OKX(4, 4, 0, 0, 20, 45, 45, F_V4ADDR) },
	{ "ipv6 in ipv4", LINKTYPE_RAW,
	    P(IP4(0, 85, 0, 0, 41), TCP6_HELLO),
	    OKX(4, 41, 0, 0, 20, 65, 65, F_V4ADDR) },
	{ "tcp data offset 4", LINKTYPE_RAW,
	    P(IP4(0, 45, 0, 0, 6), TCP(4, 0x18), HELLO),
	    BADT4(6) },
	{ "tcp options not captured", LINKTYPE_RAW,
	    P(IP4(0, 80, 0, 0, 6), TCP(15, 0x18), HELLO),
	    BADT4(6) },
	{ "tcp options past ip length", LINKTYPE_RAW,
	    P(IP4(0, 43, 0, 0, 6), TCP(6, 0x18), 1, 1, 1, 1),
	    BADT4(6) },
	{ "tcp header cut", LINKTYPE_RAW, P(IP4(0, 40, 0, 0, 6), TCP(5, 2)) - 1,
	    BADT4(6) },
	{ "tcp syn wscale 7", LINKTYPE_RAW,
	    P(IP4(0, 52, 0, 0, 6), TCP(8, 0x02), 2, 4, 5, 0xb4, 1, 3, 3, 7,
	    4, 2, 0, 0),
	    DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, 52, 0, 0, 0x02, 7,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "tcp syn-ack wscale 15 clamped", LINKTYPE_RAW,
	    P(IP4(0, 44, 0, 0, 6), TCP(6, 0x12), 3, 3, 15, 0),
	    DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, 44, 0, 0, 0x12, 14,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "tcp wscale ignored without syn", LINKTYPE_RAW,
	    P(IP4(0, 44, 0, 0, 6), TCP(6, 0x10), 3, 3, 7, 0),
	    DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, 44, 0, 0, 0x10, -1,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "tcp syn option length 0", LINKTYPE_RAW,
	    P(IP4(0, 44, 0, 0, 6), TCP(6, 0x02), 8, 0, 3, 3),
	    DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, 44, 0, 0, 0x02, -1,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "tcp syn wscale cut by data offset", LINKTYPE_RAW,
	    P(IP4(0, 45, 0, 0, 6), TCP(6, 0x02), 1, 1, 3, 3, 7),
	    DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, 44, 1, 1, 0x02, -1,
	    F_TCP | F_V4ADDR, NOFRAG },
	{ "tcp syn wscale after eol", LINKTYPE_RAW,
	    P(IP4(0, 44, 0, 0, 6), TCP(6, 0x02), 0, 3, 3, 7),
	    DECODE_OK, 4, 6, 0, 0, 0, 12345, 80, 44, 0, 0, 0x02, -1,
	    F_TCP | F_V4ADDR, NOFRAG },

	/* IPv6 extension headers (RFC 8200) */
	{ "ipv6 hop-by-hop", LINKTYPE_IPV6,
	    P(IP6(0, 33, 0), EXT8(6), TCP(5, 0x18), HELLO), OK6_TCP(68, 5, 5) },
	{ "ipv6 routing", LINKTYPE_IPV6,
	    P(IP6(0, 33, 43), EXT8(6), TCP(5, 0x18), HELLO),
	    OK6_TCP(68, 5, 5) },
	{ "ipv6 destination options 16 bytes", LINKTYPE_IPV6,
	    P(IP6(0, 41, 60), 6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    TCP(5, 0x18), HELLO), OK6_TCP(76, 5, 5) },
	{ "ipv6 mobility", LINKTYPE_IPV6,
	    P(IP6(0, 33, 135), EXT8(6), TCP(5, 0x18), HELLO),
	    OK6_TCP(68, 5, 5) },
	{ "ipv6 hip", LINKTYPE_IPV6,
	    P(IP6(0, 33, 139), EXT8(6), TCP(5, 0x18), HELLO),
	    OK6_TCP(68, 5, 5) },
	{ "ipv6 shim6", LINKTYPE_IPV6,
	    P(IP6(0, 33, 140), EXT8(6), TCP(5, 0x18), HELLO),
	    OK6_TCP(68, 5, 5) },
	{ "ipv6 experimental 253 and 254", LINKTYPE_IPV6,
	    P(IP6(0, 41, 253), EXT8(254), EXT8(6), TCP(5, 0x18), HELLO),
	    OK6_TCP(76, 5, 5) },
	{ "ipv6 ah (4-octet units)", LINKTYPE_IPV6,
	    P(IP6(0, 49, 51), 6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 7, 1, 2, 3, 4,
	    5, 6, 7, 8, 9, 10, 11, 12, TCP(5, 0x18), HELLO),
	    OK6_TCP(84, 5, 5) },
	{ "ipv6 chain hbh dst rt", LINKTYPE_IPV6,
	    P(IP6(0, 49, 0), EXT8(60), EXT8(43), EXT8(6), TCP(5, 0x18), HELLO),
	    OK6_TCP(84, 5, 5) },
	{ "ipv6 atomic fragment (RFC 6946)", LINKTYPE_IPV6,
	    P(IP6(0, 33, 44), 6, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
	    TCP(5, 0x18), HELLO), OK6_TCP(68, 5, 5) },
	{ "ipv6 first fragment", LINKTYPE_IPV6,
	    P(IP6(0, 33, 44), 6, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef,
	    TCP(5, 0x18), HELLO),
	    DECODE_FRAGMENT, 6, 6, 0, 0, 0, 0, 0, 48, 25, 25, 0, -1, F_V6ADDR,
	    0xdeadbeef, 0, 1 },
	{ "ipv6 last fragment after hbh", LINKTYPE_IPV6,
	    P(IP6(0, 21, 0), EXT8(44), 17, 0, 0x05, 0xa8, 0, 0, 0, 9, HELLO),
	    DECODE_FRAGMENT, 6, 17, 0, 0, 0, 0, 0, 56, 5, 5, 0, -1, F_V6ADDR,
	    9, 1448, 0 },
	{ "ipv6 fragment cut by snap length", LINKTYPE_IPV6,
	    P(IP6(0x05, 0xb0, 44), 6, 0, 0x05, 0xa9, 0, 0, 0, 9, HELLO),
	    DECODE_FRAGMENT, 6, 6, 0, 0, 0, 0, 0, 48, 5, 1448, 0, -1, F_V6ADDR,
	    9, 1448, 1 },
	{ "ipv6 fragment header cut", LINKTYPE_IPV6,
	    P(IP6(0, 8, 44), 6, 0, 0, 1, 0, 0, 0),
	    BAD(DECODE_BAD_IP) },
	{ "ipv6 no next header", LINKTYPE_IPV6,
	    P(IP6(0, 8, 0), EXT8(59)),
	    OKX(6, 59, 0, 0, 48, 0, 0, F_V6ADDR) },
	{ "ipv6 ext header past capture", LINKTYPE_IPV6,
	    P(IP6(0, 40, 60), 6, 4, 0, 0, 0, 0, 0, 0),
	    BAD(DECODE_BAD_IP) },
	{ "ipv6 ext header past payload length", LINKTYPE_IPV6,
	    P(IP6(0, 8, 60), 6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	    BAD(DECODE_BAD_IP) },
	{ "ipv6 16 ext headers", LINKTYPE_IPV6,
	    P(IP6(0, 153, 60), EXT8(60), EXT8(60), EXT8(60), EXT8(60),
	    EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60),
	    EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(6),
	    TCP(5, 0x18), HELLO), OK6_TCP(188, 5, 5) },
	{ "ipv6 17 ext headers", LINKTYPE_IPV6,
	    P(IP6(0, 161, 60), EXT8(60), EXT8(60), EXT8(60), EXT8(60),
	    EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60),
	    EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60), EXT8(60),
	    EXT8(6), TCP(5, 0x18), HELLO), BAD(DECODE_BAD_IP) },
	{ "ipv6 header cut", LINKTYPE_IPV6, P(IP6(0, 0, 59)) - 1,
	    BAD(DECODE_BAD_IP) },
	{ "ipv6 payload length 0 (jumbo)", LINKTYPE_IPV6,
	    P(IP6(0, 0, 6), TCP(5, 0x18), HELLO), OK6_TCP(60, 5, 5) },
	{ "ipv6 snap length cut", LINKTYPE_IPV6,
	    P(IP6(0x01, 0x00, 6), TCP(5, 0x18), HELLO), OK6_TCP(60, 5, 236) },
	{ "ipv6 padding cut by payload length", LINKTYPE_ETHERNET,
	    P(ETH(0x86, 0xdd), IP6(0, 20, 6), TCP(5, 0x18), 0, 0, 0, 0),
	    OK6_TCP(74, 0, 0) },
	{ "ipv6 udp", LINKTYPE_IPV6, P(IP6(0, 13, 17), UDP(0, 13), HELLO),
	    OKX(6, 17, 53, 5000, 48, 5, 5, F_V6ADDR) },
	{ "ipv6 icmpv6", LINKTYPE_IPV6,
	    P(IP6(0, 8, 58), 128, 0, 0, 0, 0, 1, 0, 1),
	    OKX(6, 58, 0, 0, 40, 8, 8, F_V6ADDR) },
	{ "ipv6 esp is not skipped", LINKTYPE_IPV6,
	    P(IP6(0, 8, 50), 0, 0, 1, 0, 0, 0, 0, 1),
	    OKX(6, 50, 0, 0, 40, 8, 8, F_V6ADDR) },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const uint8_t v4_src[16] = { 192, 0, 2, 1 };
static const uint8_t v4_dst[16] = { 198, 51, 100, 2 };
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 1 };
static const uint8_t v6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 2 };

/* Copies the packet into a buffer of exactly its size, for ASan. */
static uint8_t *
exact_copy(const uint8_t *p, uint32_t len)
{
	uint8_t *q = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(q);
	if (len)
		memcpy(q, p, len);
	return q;
}

START_TEST(test_decode_table)
{
	const struct dcase *c = &cases[_i];
	struct stats st = { 0 };
	struct pkt_view v;
	uint8_t *pkt = exact_copy(c->pkt, c->len);
	const uint8_t *got;

	/* Garbage in the view must not survive decoding. */
	memset(&v, 0xa5, sizeof(v));
	decode_packet(c->linktype, pkt, c->len, &v, &st);
	ck_assert_msg(v.status == c->status, "%s: status %d, want %d",
	    c->name, v.status, c->status);
	ck_assert_msg(v.ipver == c->ipver, "%s: ipver %u", c->name, v.ipver);
	ck_assert_msg(v.proto == c->proto, "%s: proto %u", c->name, v.proto);
	ck_assert_msg(v.vlan_count == c->vlan_count, "%s: %u vlans", c->name,
	    v.vlan_count);
	ck_assert_msg(v.vlan[0] == c->vlan0 && v.vlan[1] == c->vlan1,
	    "%s: vlan %u %u", c->name, v.vlan[0], v.vlan[1]);
	ck_assert_msg(v.sport == c->sport && v.dport == c->dport,
	    "%s: ports %u %u", c->name, v.sport, v.dport);
	ck_assert_msg(v.tcp_flags == c->tcp_flags, "%s: flags %02x", c->name,
	    v.tcp_flags);
	ck_assert_msg(v.wscale == c->wscale, "%s: wscale %d", c->name,
	    v.wscale);
	if (c->status == DECODE_FRAGMENT) {
		got = v.frag_data;
		ck_assert_msg(v.frag_len == c->payload_len &&
		    v.frag_wire_len == c->payload_wire_len,
		    "%s: frag len %u/%u", c->name, v.frag_len, v.frag_wire_len);
		ck_assert_msg(v.frag_id == c->frag_id, "%s: id %" PRIx32,
		    c->name, v.frag_id);
		ck_assert_uint_eq(v.frag_offset, c->frag_offset);
		ck_assert_uint_eq(v.frag_more, c->frag_more);
		ck_assert_ptr_null(v.payload);
	} else {
		got = v.payload;
		ck_assert_msg(v.payload_len == c->payload_len &&
		    v.payload_wire_len == c->payload_wire_len,
		    "%s: payload %u/%u", c->name, v.payload_len,
		    v.payload_wire_len);
		ck_assert_ptr_null(v.frag_data);
		ck_assert_uint_eq(v.frag_len, 0);
	}
	if (c->payload_off < 0)
		ck_assert_ptr_null(got);
	else
		ck_assert_msg(got == pkt + c->payload_off, "%s: payload at %td",
		    c->name, got - pkt);
	if (c->flags & F_TCP) {
		ck_assert_uint_eq(v.seq, 0x01020304);
		ck_assert_uint_eq(v.ack, 0x05060708);
		ck_assert_uint_eq(v.window, 0xfaf0);
	} else {
		ck_assert_uint_eq(v.seq, 0);
		ck_assert_uint_eq(v.ack, 0);
		ck_assert_uint_eq(v.window, 0);
	}
	if (c->flags & F_V4ADDR) {
		ck_assert_mem_eq(v.src, v4_src, 16);
		ck_assert_mem_eq(v.dst, v4_dst, 16);
	} else if (c->flags & F_V6ADDR) {
		ck_assert_mem_eq(v.src, v6_src, 16);
		ck_assert_mem_eq(v.dst, v6_dst, 16);
	} else {
		ck_assert_mem_eq(v.src, (uint8_t[16]){ 0 }, 16);
		ck_assert_mem_eq(v.dst, (uint8_t[16]){ 0 }, 16);
	}
	/* Exactly the counter of the status, and truncation, moved. */
	ck_assert_uint_eq(st.not_ip, c->status == DECODE_NOT_IP);
	ck_assert_uint_eq(st.bad_link, c->status == DECODE_BAD_LINK);
	ck_assert_uint_eq(st.bad_ip, c->status == DECODE_BAD_IP);
	ck_assert_uint_eq(st.bad_transport, c->status == DECODE_BAD_TRANSPORT);
	ck_assert_uint_eq(st.truncated_payload, c->status == DECODE_OK &&
	    c->payload_len < c->payload_wire_len);
	/* And the same without a stats struct. */
	decode_packet(c->linktype, pkt, c->len, &v, NULL);
	ck_assert_int_eq(v.status, c->status);
	free(pkt);
}
END_TEST

START_TEST(test_linktype_supported)
{
	static const struct {
		int lt;
		int yes;
	} c[] = {
		{ LINKTYPE_NULL, 1 }, { LINKTYPE_ETHERNET, 1 },
		{ LINKTYPE_RAW, 1 }, { 12, 1 }, { 14, 1 },
		{ LINKTYPE_LOOP, 1 }, { LINKTYPE_LINUX_SLL, 1 },
		{ LINKTYPE_IPV4, 1 }, { LINKTYPE_IPV6, 1 },
		{ LINKTYPE_LINUX_SLL2, 1 }, { 105, 0 }, { 127, 0 },
		{ 274, 0 }, { -1, 0 }, { 0x10001, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(decode_linktype_supported(c[i].lt) == c[i].yes,
		    "link type %d", c[i].lt);
}
END_TEST

/* decode_transport on reassembled payloads keeps the network fields. */
START_TEST(test_decode_transport)
{
	static const uint8_t tcp[] = { TCP(6, 0x02), 3, 3, 2, 0, HELLO };
	static const uint8_t udp[] = { UDP(0, 13), HELLO };
	struct stats st = { 0 };
	struct pkt_view v;

	memset(&v, 0, sizeof(v));
	v.ipver = 4;
	v.proto = 6;
	memcpy(v.src, v4_src, 16);
	v.sport = 999;
	decode_transport(&v, tcp, sizeof(tcp), sizeof(tcp), &st);
	ck_assert_int_eq(v.status, DECODE_OK);
	ck_assert_uint_eq(v.ipver, 4);
	ck_assert_mem_eq(v.src, v4_src, 16);
	ck_assert_uint_eq(v.sport, 12345);
	ck_assert_uint_eq(v.dport, 80);
	ck_assert_int_eq(v.wscale, 2);
	ck_assert_ptr_eq(v.payload, tcp + 24);
	ck_assert_uint_eq(v.payload_len, 5);
	ck_assert_uint_eq(v.payload_wire_len, 5);

	/* A datagram whose last fragment was cut by the snap length. */
	decode_transport(&v, tcp, sizeof(tcp), 3000, &st);
	ck_assert_int_eq(v.status, DECODE_OK);
	ck_assert_uint_eq(v.payload_len, 5);
	ck_assert_uint_eq(v.payload_wire_len, 3000 - 24);
	ck_assert_uint_eq(st.truncated_payload, 1);

	decode_transport(&v, tcp, 23, 23, &st);
	ck_assert_int_eq(v.status, DECODE_BAD_TRANSPORT);
	ck_assert_uint_eq(v.sport, 0);
	ck_assert_ptr_null(v.payload);
	ck_assert_uint_eq(st.bad_transport, 1);

	v.proto = 17;
	decode_transport(&v, udp, sizeof(udp), sizeof(udp), &st);
	ck_assert_int_eq(v.status, DECODE_OK);
	ck_assert_uint_eq(v.sport, 53);
	ck_assert_int_eq(v.wscale, -1);
	ck_assert_ptr_eq(v.payload, udp + 8);
	ck_assert_uint_eq(v.payload_len, 5);

	v.proto = 47;
	decode_transport(&v, udp, sizeof(udp), sizeof(udp), NULL);
	ck_assert_int_eq(v.status, DECODE_OK);
	ck_assert_uint_eq(v.sport, 0);
	ck_assert_ptr_eq(v.payload, udp);
	ck_assert_uint_eq(v.payload_len, sizeof(udp));

	/* More captured than declared: the declared length bounds it. */
	v.proto = 6;
	decode_transport(&v, tcp, sizeof(tcp), 26, &st);
	ck_assert_uint_eq(v.payload_len, 2);
	ck_assert_uint_eq(v.payload_wire_len, 2);
}
END_TEST

/* ---- truncation at every byte ---- */

static const uint8_t frame_tcp4[] = {
	ETH(8, 0), IP4(0, 62, 0, 0, 6), TCP(8, 0x02),
	2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0,
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
};

static const uint8_t frame_tcp6[] = {
	ETH(0x86, 0xdd), IP6(0, 50, 0), EXT8(6), TCP(8, 0x02),
	2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0,
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
};

static const uint8_t frame_qinq_frag6[] = {
	ETH(0x88, 0xa8), VLAN(0, 5, 0x81, 0), VLAN(0, 6, 0x86, 0xdd),
	IP6(0, 18, 44), 17, 0, 0, 1, 0, 0, 0, 1, '0', '1', '2', '3', '4',
	'5', '6', '7', '8', '9',
};

static const uint8_t frame_udp4_sll[] = {
	SLL(1, 8, 0), IP4(0, 38, 0, 0, 17), UDP(0, 18),
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
};

/*
 * A frame, the offsets where its network and transport headers begin and
 * where the payload begins: cut shorter than each, decoding must say so.
 */
static const struct cut_case {
	const char *name;
	int linktype;
	const uint8_t *frame;
	uint32_t len;
	uint32_t ip_at, l4_at, data_at;
	enum decode_status whole;
} cut_cases[] = {
	{ "tcp/ipv4/ethernet", LINKTYPE_ETHERNET, frame_tcp4,
	    sizeof(frame_tcp4), 14, 34, 66, DECODE_OK },
	{ "tcp/ipv6+hbh/ethernet", LINKTYPE_ETHERNET, frame_tcp6,
	    sizeof(frame_tcp6), 14, 62, 94, DECODE_OK },
	{ "fragment/ipv6/qinq", LINKTYPE_ETHERNET, frame_qinq_frag6,
	    sizeof(frame_qinq_frag6), 22, 70, 70, DECODE_FRAGMENT },
	{ "udp/ipv4/sll", LINKTYPE_LINUX_SLL, frame_udp4_sll,
	    sizeof(frame_udp4_sll), 16, 36, 44, DECODE_OK },
};

START_TEST(test_truncate_every_byte)
{
	const struct cut_case *c = &cut_cases[_i];
	enum decode_status want;
	struct stats st = { 0 };
	struct pkt_view v;
	uint8_t *pkt;
	uint32_t cut;

	for (cut = 0; cut <= c->len; cut++) {
		pkt = exact_copy(c->frame, cut);
		decode_packet(c->linktype, pkt, cut, &v, &st);
		if (cut < c->ip_at)
			want = DECODE_BAD_LINK;
		else if (cut < c->l4_at)
			want = DECODE_BAD_IP;
		else if (cut < c->data_at)
			want = DECODE_BAD_TRANSPORT;
		else
			want = c->whole;
		ck_assert_msg(v.status == want, "%s cut at %u: status %d, "
		    "want %d", c->name, cut, v.status, want);
		if (want == DECODE_OK) {
			ck_assert_ptr_eq(v.payload, pkt + c->data_at);
			ck_assert_uint_eq(v.payload_len, cut - c->data_at);
			ck_assert_uint_eq(v.payload_wire_len,
			    c->len - c->data_at);
			if (v.proto == IPPROTO_NUM_TCP)
				ck_assert_int_eq(v.wscale, 7);
		} else if (want == DECODE_FRAGMENT) {
			ck_assert_uint_eq(v.frag_len, cut - c->data_at);
			ck_assert_uint_eq(v.frag_wire_len, c->len - c->data_at);
		}
		free(pkt);
	}
	ck_assert_uint_eq(st.bad_link, c->ip_at);
	ck_assert_uint_eq(st.bad_ip, c->l4_at - c->ip_at);
	ck_assert_uint_eq(st.bad_transport, c->data_at - c->l4_at);
	ck_assert_uint_eq(st.truncated_payload, c->whole == DECODE_OK ?
	    c->len - c->data_at : 0);
}
END_TEST

/*
 * Random bytes and randomly mutated frames for every link type: decoding
 * must stay inside the buffer (ASan watches) and keep its invariants.
 */
START_TEST(test_fuzz)
{
	static const int lts[] = { LINKTYPE_NULL, LINKTYPE_ETHERNET,
		LINKTYPE_RAW, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL, LINKTYPE_IPV4,
		LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2, 12, 14 };
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	struct pkt_view v;
	uint8_t *pkt;
	uint32_t len, i, k;
	int n, bad = -1;

	for (n = 0; n < 100000; n++) {
		const struct cut_case *c = &cut_cases[n % 4];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (n % 2) {
			len = (uint32_t)(x % 200);
			pkt = malloc(len ? len : 1);
			ck_assert_ptr_nonnull(pkt);
			for (i = 0; i < len; i++)
				pkt[i] = (uint8_t)(x >> (i % 56)) ^ (uint8_t)i;
		} else {
			len = c->len;
			pkt = exact_copy(c->frame, len);
			for (k = 0; k < 3; k++)
				pkt[(x >> (k * 16)) % len] =
				    (uint8_t)(x >> (k * 8));
			len -= (uint32_t)(x >> 60) % 8;
		}
		decode_packet(n % 2 ? lts[(x >> 32) % 10] : c->linktype, pkt,
		    len, &v, NULL);
		/* Check's assertions are slow; note the first bad round. */
		if (v.status == DECODE_OK && (v.payload_len >
		    v.payload_wire_len || (v.payload_len > 0 &&
		    (v.payload < pkt ||
		    v.payload + v.payload_len > pkt + len))))
			bad = bad < 0 ? n : bad;
		if (v.status == DECODE_FRAGMENT && (v.frag_len >
		    v.frag_wire_len || v.frag_data < pkt ||
		    v.frag_data + v.frag_len > pkt + len))
			bad = bad < 0 ? n : bad;
		if (v.vlan_count > 2)
			bad = bad < 0 ? n : bad;
		free(pkt);
	}
	ck_assert_msg(bad < 0, "round %d broke an invariant", bad);
}
END_TEST

/* ---- the corpus ---- */

struct tally {
	uint64_t packets;
	uint64_t status[DECODE_BAD_TRANSPORT + 1];
	uint64_t tcp, tcp_wire, udp, udp_wire, v4, v6;
	uint64_t vlan_none, vlan_one, vlan_two;
	uint64_t vlan_first[4096];
	struct stats st;
};

static void
tally_file(const char *name, struct tally *t)
{
	char err[PCAPIO_ERRBUF_SIZE];
	struct pcapio_in *in;
	struct pcap_rec rec;
	struct pkt_view v;
	int rc;

	memset(t, 0, sizeof(*t));
	in = pcapio_open(test_corpus_file(name), NULL, err);
	ck_assert_msg(in != NULL, "%s: %s", name, err);
	ck_assert(decode_linktype_supported(pcapio_linktype(in)));
	while ((rc = pcapio_next(in, &rec, err)) == 1) {
		uint8_t *pkt = exact_copy(rec.data, rec.caplen);

		decode_packet(pcapio_linktype(in), pkt, rec.caplen, &v, &t->st);
		t->packets++;
		t->status[v.status]++;
		if (v.status == DECODE_OK && v.proto == IPPROTO_NUM_TCP) {
			t->tcp++;
			t->tcp_wire += v.payload_wire_len;
		}
		if (v.status == DECODE_OK && v.proto == IPPROTO_NUM_UDP) {
			t->udp++;
			t->udp_wire += v.payload_wire_len;
		}
		if (v.ipver == 4)
			t->v4++;
		if (v.ipver == 6)
			t->v6++;
		if (v.vlan_count == 0)
			t->vlan_none++;
		else
			t->vlan_first[v.vlan[0]]++;
		if (v.vlan_count == 1)
			t->vlan_one++;
		if (v.vlan_count == 2)
			t->vlan_two++;
		free(pkt);
	}
	ck_assert_msg(rc == 0, "%s: %s", name, err);
	pcapio_close(in);
}

/*
 * Counts checked against tshark -o ip.defragment:FALSE -o
 * ipv6.defragment:FALSE -T fields -e tcp.len -e udp.length ...:
 * TCP and UDP packets (not fragments) and the sums of their declared
 * payload lengths, IP versions, fragments, non-IP frames, VLANs.
 */
static const struct corpus_case {
	const char *name;
	uint64_t packets, ok, frag, not_ip, bad_transport;
	uint64_t tcp, tcp_wire, udp, udp_wire, v4, v6;
	uint64_t vlan_none, vlan_one, vlan_two, truncated;
} corpus_cases[] = {
	/* 2 ARP, 2 ICMP, 2 ICMPv6 */
	{ "zeek--linux_dlt_sll2.pcap", 6, 4, 0, 2, 0,
	    0, 0, 0, 0, 2, 2, 6, 0, 0, 0 },
	{ "suricata-verify--decode-sll2-01_input.pcap", 5, 5, 0, 0, 0,
	    5, 82, 0, 0, 5, 0, 5, 0, 0, 0 },
	/* LINKTYPE_RAW holding IPv6 */
	{ "tcpflow--test4.pcap", 115, 115, 0, 0, 0,
	    115, 44653, 0, 0, 0, 115, 115, 0, 0, 0 },
	/* LINKTYPE_IPV4 */
	{ "zeek--basic-auth-with-colon.pcap", 12, 12, 0, 0, 0,
	    12, 984, 0, 0, 12, 0, 12, 0, 0, 0 },
	/* LINKTYPE_NULL: 8 with AF_INET, 98 with Darwin's AF_INET6 (30) */
	{ "tcpflow--local.pcap", 106, 106, 0, 0, 0,
	    106, 8550, 0, 0, 8, 98, 106, 0, 0, 0 },
	{ "suricata-verify--http-ipv6_input.pcap", 14, 14, 0, 0, 0,
	    14, 791, 0, 0, 0, 14, 14, 0, 0, 0 },
	/* The same connection untagged, in VLAN 42, and in QinQ 10/20 */
	{ "zeek--vlan-collisions.pcap", 42, 42, 0, 0, 0,
	    42, 15429, 0, 0, 42, 0, 14, 14, 14, 0 },
	/* 5 TCP packets carry an atomic fragment header: not fragments */
	{ "zeek--ipv6-http-atomic-frag.pcap", 38, 38, 0, 0, 0,
	    36, 412, 0, 0, 0, 38, 38, 0, 0, 0 },
	/* 802.1ad 200 + 802.1Q 2001 around ARP */
	{ "tcpdump--802.1ad_QinQ.pcap", 2, 0, 0, 2, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 2, 0 },
	{ "zeek--fragmented-4.pcap", 6, 2, 4, 0, 0,
	    2, 0, 0, 0, 6, 0, 6, 0, 0, 0 },
	/* tshark counts 39 UDP: 7 of them are first fragments */
	{ "nDPI--dns_fragmented.pcap", 66, 52, 14, 0, 0,
	    20, 3572, 32, 4097, 22, 44, 66, 0, 0, 0 },
	{ "suricata-verify--frag-ip-tcp.pcap", 3, 0, 3, 0, 0,
	    0, 0, 0, 0, 0, 3, 3, 0, 0, 0 },
	{ "tcpflow--udp.pcap", 35, 35, 0, 0, 0,
	    0, 0, 35, 6577, 33, 2, 35, 0, 0, 0 },
	/* 691 of 878 frames cut short of the payload their headers declare */
	{ "zeek--timestamp.pcap", 878, 878, 0, 0, 0,
	    878, 1000000, 0, 0, 878, 0, 878, 0, 0, 691 },
	/* Snap length 40: no TCP header is whole */
	{ "tcpflow--simson.pcap", 303, 0, 0, 0, 303,
	    0, 0, 0, 0, 303, 0, 303, 0, 0, 0 },
	/* pcapng, all 18 packets on interface 48: VLAN 80 and 81 */
	{ "zeek--gap-data-missing.pcapng", 18, 18, 0, 0, 0,
	    18, 3529, 0, 0, 0, 18, 0, 18, 0, 0 },
};

#define NCORPUS (sizeof(corpus_cases) / sizeof(corpus_cases[0]))

START_TEST(test_corpus_counts)
{
	const struct corpus_case *c = &corpus_cases[_i];
	struct tally *t;

	if (test_corpus_dir() == NULL) {
		printf("test_corpus_counts: skipped (no corpus)\n");
		return;
	}
	t = malloc(sizeof(*t));
	ck_assert_ptr_nonnull(t);
	tally_file(c->name, t);
#define EQ(field, want) ck_assert_msg((field) == (want),                \
	"%s: " #field " %" PRIu64 ", want %" PRIu64, c->name,            \
	(uint64_t)(field), (uint64_t)(want))
	EQ(t->packets, c->packets);
	EQ(t->status[DECODE_OK], c->ok);
	EQ(t->status[DECODE_FRAGMENT], c->frag);
	EQ(t->status[DECODE_NOT_IP], c->not_ip);
	EQ(t->status[DECODE_BAD_LINK], 0);
	EQ(t->status[DECODE_BAD_IP], 0);
	EQ(t->status[DECODE_BAD_TRANSPORT], c->bad_transport);
	EQ(t->st.not_ip, c->not_ip);
	EQ(t->st.bad_transport, c->bad_transport);
	EQ(t->tcp, c->tcp);
	EQ(t->tcp_wire, c->tcp_wire);
	EQ(t->udp, c->udp);
	EQ(t->udp_wire, c->udp_wire);
	EQ(t->v4, c->v4);
	EQ(t->v6, c->v6);
	EQ(t->vlan_none, c->vlan_none);
	EQ(t->vlan_one, c->vlan_one);
	EQ(t->vlan_two, c->vlan_two);
	EQ(t->st.truncated_payload, c->truncated);
#undef EQ
	free(t);
}
END_TEST

/* Per-VLAN counts, as tshark -T fields -e vlan.id gives them. */
START_TEST(test_corpus_vlans)
{
	static const struct {
		const char *name;
		uint16_t vid;
		uint64_t n;
	} c[] = {
		{ "zeek--vlan-collisions.pcap", 42, 14 },
		{ "zeek--vlan-collisions.pcap", 10, 14 },
		{ "suricata-verify--eve-flow-vlan-02_input.pcap", 6, 1 },
		{ "suricata-verify--eve-flow-vlan-02_input.pcap", 1, 2 },
		{ "suricata-verify--frag-eth-vlan-ip-tcp-syn.pcap", 6, 3 },
		{ "tcpdump--802.1ad_QinQ.pcap", 200, 2 },
		{ "zeek--gap-data-missing.pcapng", 80, 8 },
		{ "zeek--gap-data-missing.pcapng", 81, 10 },
	};
	struct tally *t;
	size_t i;

	if (test_corpus_dir() == NULL) {
		printf("test_corpus_vlans: skipped (no corpus)\n");
		return;
	}
	t = malloc(sizeof(*t));
	ck_assert_ptr_nonnull(t);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		tally_file(c[i].name, t);
		ck_assert_msg(t->vlan_first[c[i].vid] == c[i].n,
		    "%s vlan %u: %" PRIu64, c[i].name, c[i].vid,
		    t->vlan_first[c[i].vid]);
	}
	free(t);
}
END_TEST

/* Every packet of every readable corpus file decodes without harm. */
START_TEST(test_corpus_all)
{
	static const char *files[] = {
		"nDPI--WebattackRCE.pcap", "nDPI--fuzz-2006-09-29-28586.pcap",
		"nDPI--ip_fragmented_garbage.pcap",
		"nDPI--log4j-webapp-exploit.pcap", "nDPI--synscan.pcap",
		"nDPI--steam.pcapng", "suricata-verify--gre-sample.pcap",
		"suricata-verify--ipv4_over_ipv4.pcap",
		"suricata-verify--ipv4_over_ipv6.pcap",
		"suricata-verify--ipv6_over_ipv6.pcap",
		"suricata-verify--tcp-fastopen-05_tfo.pcap",
		"tcpdump--pptp.pcap", "tcpflow--jpegs.cap",
		"zeek--irc-dcc-send.pcapng", "zeek--truncated-header.pcap",
		"zeek--pcapng-multi-interface.pcapng", "zeek--methods.pcap",
	};
	struct tally *t;
	size_t i;

	if (test_corpus_dir() == NULL) {
		printf("test_corpus_all: skipped (no corpus)\n");
		return;
	}
	t = malloc(sizeof(*t));
	ck_assert_ptr_nonnull(t);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		tally_file(files[i], t);
		ck_assert_uint_gt(t->packets, 0);
		ck_assert_uint_eq(t->status[DECODE_BAD_LINK], 0);
	}
	free(t);
}
END_TEST

static Suite *
decode_suite(void)
{
	Suite *s = suite_create("decode");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_decode_table, 0, (int)NCASES);
	tcase_add_test(tc, test_linktype_supported);
	tcase_add_test(tc, test_decode_transport);
	tcase_add_loop_test(tc, test_truncate_every_byte, 0,
	    (int)(sizeof(cut_cases) / sizeof(cut_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fuzz);
	suite_add_tcase(s, tc);

	tc = tcase_create("corpus");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_corpus_counts, 0, (int)NCORPUS);
	tcase_add_test(tc, test_corpus_vlans);
	tcase_add_test(tc, test_corpus_all);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(decode_suite());
	int failed;

	if (test_corpus_dir() == NULL)
		printf("check_decode: corpus absent, corpus tests skipped\n");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
