/* decode.c: link layers, IPv4/IPv6 and TCP/UDP headers into a packet view. */
#include <stdbool.h>
#include <string.h>

#include "decode.h"
#include "pcapio.h"

/* Ethertypes (IEEE 802) and the VLAN tag protocol identifiers. */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
/* Below this an Ethernet type field is an 802.3 length (LLC follows). */
#define ETHERTYPE_MIN 0x0600

#define ETH_HDR_LEN 14
#define VLAN_TAG_LEN 4
/*
 * VLAN tags skipped before giving up on a frame: real stacks have two or
 * three, and the walk must end on a frame made of nothing but tags.
 */
#define DECODE_MAX_VLAN_TAGS 8

/* Linux cooked capture headers (LINKTYPE_LINUX_SLL and _SLL2). */
#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
/* With this ARPHRD_ type, the protocol is a netlink family. */
#define ARPHRD_NETLINK 824

/* DLT values that some files carry for raw IP instead of LINKTYPE_RAW. */
#define DLT_RAW_BSD 12
#define DLT_RAW_OPENBSD 14

/* Address families in NULL / LOOP headers (each OS numbers AF_INET6 anew). */
#define BSD_AF_INET 2
#define LINUX_AF_INET6 10
#define NETBSD_AF_INET6 24
#define FREEBSD_AF_INET6 28
#define DARWIN_AF_INET6 30
#define NULL_HDR_LEN 4

#define IPV4_MIN_HDR 20
#define IPV4_MF 0x2000
#define IPV4_OFFMASK 0x1fff
#define IPV6_HDR_LEN 40
#define IPV6_FRAG_HDR_LEN 8
#define IPV6_FRAG_OFFMASK 0xfff8
#define IPV6_FRAG_MORE 0x0001

/* IPv6 next-header values (IANA "Assigned Internet Protocol Numbers"). */
#define IP6_HOPOPTS 0
#define IP6_ROUTING 43
#define IP6_FRAGMENT 44
#define IP6_AH 51
#define IP6_NONXT 59
#define IP6_DSTOPTS 60
#define IP6_MOBILITY 135
#define IP6_HIP 139
#define IP6_SHIM6 140
#define IP6_EXP1 253
#define IP6_EXP2 254
/*
 * Extension headers walked before a packet is called bad. RFC 8200 expects
 * a handful; the cap bounds the work a crafted chain of tiny headers costs.
 */
#define DECODE_MAX_EXT_HDRS 16

#define TCP_MIN_HDR 20
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_WSCALE 3
/* RFC 7323 section 2.3: a shift above 14 is used as 14. */
#define TCP_MAX_WSCALE 14
#define UDP_HDR_LEN 8

/*
 * Bounds-checked readers: each fails, leaving *v alone, unless len holds
 * the whole field at off. Every packet byte is read through them.
 */
static bool
get_u8(const uint8_t *p, uint32_t len, uint32_t off, uint8_t *v)
{
	if (off >= len)
		return false;
	*v = p[off];
	return true;
}

static bool
get_be16(const uint8_t *p, uint32_t len, uint32_t off, uint16_t *v)
{
	if (off > len || len - off < 2)
		return false;
	*v = (uint16_t)(p[off] << 8 | p[off + 1]);
	return true;
}

static bool
get_be32(const uint8_t *p, uint32_t len, uint32_t off, uint32_t *v)
{
	if (off > len || len - off < 4)
		return false;
	*v = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
	    (uint32_t)p[off + 2] << 8 | p[off + 3];
	return true;
}

static bool
get_bytes(const uint8_t *p, uint32_t len, uint32_t off, uint8_t *dst,
    uint32_t n)
{
	if (off > len || len - off < n)
		return false;
	memcpy(dst, p + off, n);
	return true;
}

static void
set_status(struct pkt_view *v, enum decode_status s, struct stats *st)
{
	v->status = s;
	if (st == NULL)
		return;
	switch (s) {
	case DECODE_NOT_IP:
		st->not_ip++;
		break;
	case DECODE_BAD_LINK:
		st->bad_link++;
		break;
	case DECODE_BAD_IP:
		st->bad_ip++;
		break;
	case DECODE_BAD_TRANSPORT:
		st->bad_transport++;
		break;
	default:
		break;
	}
}

/* Clears the transport part of the view. */
static void
clear_transport(struct pkt_view *v)
{
	v->sport = v->dport = 0;
	v->seq = v->ack = 0;
	v->tcp_flags = 0;
	v->window = 0;
	v->wscale = -1;
	v->payload = NULL;
	v->payload_len = v->payload_wire_len = 0;
}

/* Reads the window scale option of a SYN (RFC 7323 section 2.2). */
static int8_t
tcp_wscale(const uint8_t *opt, uint32_t len)
{
	uint32_t off = 0;
	uint8_t kind, olen, shift;

	while (get_u8(opt, len, off, &kind)) {
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			off++;
			continue;
		}
		if (!get_u8(opt, len, off + 1, &olen) || olen < 2)
			break;
		if (kind == TCP_OPT_WSCALE && olen == 3 &&
		    get_u8(opt, len, off + 2, &shift))
			return (int8_t)(shift > TCP_MAX_WSCALE ?
			    TCP_MAX_WSCALE : shift);
		off += olen;
	}
	return -1;
}

/* TCP (RFC 9293), UDP (RFC 768) or, for other protocols, the bare payload. */
void
decode_transport(struct pkt_view *v, const uint8_t *l4, uint32_t len,
    uint32_t wire_len, struct stats *st)
{
	uint32_t hlen, body;
	uint16_t ulen;
	uint8_t b;

	clear_transport(v);
	/* What was captured never exceeds what the headers declare. */
	if (len > wire_len)
		len = wire_len;
	switch (v->proto) {
	case IPPROTO_NUM_TCP:
		if (!get_be16(l4, len, 0, &v->sport) ||
		    !get_be16(l4, len, 2, &v->dport) ||
		    !get_be32(l4, len, 4, &v->seq) ||
		    !get_be32(l4, len, 8, &v->ack) ||
		    !get_u8(l4, len, 12, &b) ||
		    !get_u8(l4, len, 13, &v->tcp_flags) ||
		    !get_be16(l4, len, 14, &v->window))
			goto bad;
		hlen = (uint32_t)(b >> 4) * 4;
		/* The whole header, options included, must be captured. */
		if (hlen < TCP_MIN_HDR || hlen > len)
			goto bad;
		if (v->tcp_flags & TCP_SYN)
			v->wscale = tcp_wscale(l4 + TCP_MIN_HDR,
			    hlen - TCP_MIN_HDR);
		v->payload = l4 + hlen;
		v->payload_len = len - hlen;
		v->payload_wire_len = wire_len - hlen;
		break;
	case IPPROTO_NUM_UDP:
		if (!get_be16(l4, len, 0, &v->sport) ||
		    !get_be16(l4, len, 2, &v->dport) ||
		    !get_be16(l4, len, 4, &ulen) || len < UDP_HDR_LEN)
			goto bad;
		/*
		 * A UDP length of 0 is a jumbogram (RFC 2675) or a segment
		 * offload artefact: the IP length bounds the datagram then.
		 */
		if (ulen == 0)
			body = wire_len - UDP_HDR_LEN;
		else if (ulen < UDP_HDR_LEN)
			goto bad;
		else
			body = (ulen < wire_len ? ulen : wire_len) -
			    UDP_HDR_LEN;
		v->payload = l4 + UDP_HDR_LEN;
		v->payload_wire_len = body;
		v->payload_len = len - UDP_HDR_LEN < body ?
		    len - UDP_HDR_LEN : body;
		break;
	default:
		v->payload = l4;
		v->payload_len = len;
		v->payload_wire_len = wire_len;
		break;
	}
	if (v->payload_len < v->payload_wire_len && st != NULL)
		st->truncated_payload++;
	v->status = DECODE_OK;
	return;
bad:
	clear_transport(v);
	set_status(v, DECODE_BAD_TRANSPORT, st);
}

/*
 * IPv4 (RFC 791). p/len are the packet from the IP header on. The IP total
 * length cuts link-layer padding; when it exceeds what was captured, the
 * snap length cut the packet and the payload is what is there.
 */
static void
decode_ipv4(const uint8_t *p, uint32_t len, struct pkt_view *v,
    struct stats *st)
{
	uint8_t vhl, proto;
	uint16_t total, fragw, id;
	uint32_t hlen, wire, cap;

	v->l3 = p;
	if (!get_u8(p, len, 0, &vhl) || (vhl >> 4) != 4 ||
	    !get_be16(p, len, 2, &total) || !get_be16(p, len, 4, &id) ||
	    !get_be16(p, len, 6, &fragw) || !get_u8(p, len, 9, &proto) ||
	    !get_bytes(p, len, 12, v->src, 4) ||
	    !get_bytes(p, len, 16, v->dst, 4))
		goto bad;
	hlen = (uint32_t)(vhl & 0x0f) * 4;
	if (hlen < IPV4_MIN_HDR || hlen > len)
		goto bad;
	/*
	 * A total length of 0 is what segmentation offload leaves in packets
	 * captured on the sending host (as Wireshark notes): the packet is
	 * what was captured.
	 */
	if (total == 0)
		total = len > 0xffff ? 0xffff : (uint16_t)len;
	if (total < hlen)
		goto bad;
	v->ipver = 4;
	v->proto = proto;
	wire = total - hlen;
	cap = (total < len ? total : len) - hlen;
	if ((fragw & IPV4_MF) || (fragw & IPV4_OFFMASK)) {
		v->status = DECODE_FRAGMENT;
		v->frag_id = id;
		v->frag_offset = (uint32_t)(fragw & IPV4_OFFMASK) * 8;
		v->frag_more = (fragw & IPV4_MF) != 0;
		v->frag_data = p + hlen;
		v->frag_len = cap;
		v->frag_wire_len = wire;
		return;
	}
	decode_transport(v, p + hlen, cap, wire, st);
	return;
bad:
	memset(v->src, 0, sizeof(v->src));
	memset(v->dst, 0, sizeof(v->dst));
	v->ipver = 0;
	set_status(v, DECODE_BAD_IP, st);
}

/*
 * IPv6 (RFC 8200), walking the extension headers to the upper layer. off
 * and the lengths below are relative to the IPv6 payload.
 */
static void
decode_ipv6(const uint8_t *p, uint32_t len, struct pkt_view *v,
    struct stats *st)
{
	const uint8_t *pl;
	uint32_t wire, cap, off = 0, hlen, fword;
	uint16_t plen, fragw;
	uint8_t vb, nh, hl;
	int n = 0;

	v->l3 = p;
	if (!get_u8(p, len, 0, &vb) || (vb >> 4) != 6 ||
	    !get_be16(p, len, 4, &plen) || !get_u8(p, len, 6, &nh) ||
	    !get_bytes(p, len, 8, v->src, 16) ||
	    !get_bytes(p, len, 24, v->dst, 16))
		goto bad;
	v->ipver = 6;
	pl = p + IPV6_HDR_LEN;
	cap = len - IPV6_HDR_LEN;
	/*
	 * A payload length of 0 means a jumbogram (RFC 2675) or offload: the
	 * captured bytes are the payload.
	 */
	wire = plen != 0 ? plen : cap;
	if (cap > wire)
		cap = wire;
	for (;;) {
		switch (nh) {
		case IP6_HOPOPTS:
		case IP6_ROUTING:
		case IP6_DSTOPTS:
		case IP6_MOBILITY:
		case IP6_HIP:
		case IP6_SHIM6:
		case IP6_EXP1:
		case IP6_EXP2:
		case IP6_AH:
			if (++n > DECODE_MAX_EXT_HDRS ||
			    !get_u8(pl, cap, off, &vb) ||
			    !get_u8(pl, cap, off + 1, &hl))
				goto bad;
			/*
			 * AH counts 4-octet units minus 2 (RFC 4302), the
			 * others 8-octet units minus 1 (RFC 8200 4.3-4.6).
			 */
			hlen = nh == IP6_AH ? ((uint32_t)hl + 2) * 4 :
			    ((uint32_t)hl + 1) * 8;
			if (hlen > cap - off)
				goto bad;
			nh = vb;
			off += hlen;
			continue;
		case IP6_FRAGMENT:
			if (++n > DECODE_MAX_EXT_HDRS ||
			    !get_u8(pl, cap, off, &vb) ||
			    !get_be16(pl, cap, off + 2, &fragw) ||
			    !get_be32(pl, cap, off + 4, &fword))
				goto bad;
			off += IPV6_FRAG_HDR_LEN;
			nh = vb;
			/*
			 * An atomic fragment (offset 0, no more fragments) is a
			 * whole packet (RFC 6946): go on to what it carries.
			 */
			if ((fragw & IPV6_FRAG_OFFMASK) == 0 &&
			    !(fragw & IPV6_FRAG_MORE))
				continue;
			v->proto = nh;
			v->status = DECODE_FRAGMENT;
			v->frag_id = fword;
			v->frag_offset = fragw & IPV6_FRAG_OFFMASK;
			v->frag_more = (fragw & IPV6_FRAG_MORE) != 0;
			v->frag_data = pl + off;
			v->frag_len = cap - off;
			v->frag_wire_len = wire - off;
			return;
		case IP6_NONXT:
			/* Nothing follows (RFC 8200 section 4.7). */
			v->proto = nh;
			clear_transport(v);
			v->payload = pl + off;
			v->status = DECODE_OK;
			return;
		default:
			v->proto = nh;
			decode_transport(v, pl + off, cap - off, wire - off,
			    st);
			return;
		}
	}
bad:
	memset(v->src, 0, sizeof(v->src));
	memset(v->dst, 0, sizeof(v->dst));
	v->ipver = 0;
	v->proto = 0;
	set_status(v, DECODE_BAD_IP, st);
}

/* Dispatches on the IP version nibble (raw IP link types). */
static void
decode_ip(const uint8_t *p, uint32_t len, struct pkt_view *v,
    struct stats *st)
{
	uint8_t b;

	if (!get_u8(p, len, 0, &b)) {
		set_status(v, DECODE_BAD_IP, st);
		return;
	}
	if ((b >> 4) == 6)
		decode_ipv6(p, len, v, st);
	else
		decode_ipv4(p, len, v, st);
}

/*
 * Decodes what follows an ethertype at off, skipping VLAN tags (802.1Q,
 * 802.1ad and the pre-standard 0x9100) and recording the outer two IDs.
 */
static void
decode_ethertype(const uint8_t *data, uint32_t caplen, uint32_t off,
    uint16_t type, struct pkt_view *v, struct stats *st)
{
	uint16_t tci;
	int tags = 0;

	while (type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD ||
	    type == ETHERTYPE_QINQ_OLD) {
		if (++tags > DECODE_MAX_VLAN_TAGS ||
		    !get_be16(data, caplen, off, &tci) ||
		    !get_be16(data, caplen, off + 2, &type)) {
			set_status(v, DECODE_BAD_LINK, st);
			return;
		}
		if (v->vlan_count < 2)
			v->vlan[v->vlan_count++] = tci & 0x0fff;
		off += VLAN_TAG_LEN;
	}
	if (type == ETHERTYPE_IPV4)
		decode_ipv4(data + off, caplen - off, v, st);
	else if (type == ETHERTYPE_IPV6)
		decode_ipv6(data + off, caplen - off, v, st);
	else
		set_status(v, DECODE_NOT_IP, st);
}

/* Decodes a NULL or LOOP address family header. */
static void
decode_family(uint32_t fam, const uint8_t *data, uint32_t caplen,
    struct pkt_view *v, struct stats *st)
{
	switch (fam) {
	case BSD_AF_INET:
		decode_ipv4(data + NULL_HDR_LEN, caplen - NULL_HDR_LEN, v, st);
		break;
	case LINUX_AF_INET6:
	case NETBSD_AF_INET6:
	case FREEBSD_AF_INET6:
	case DARWIN_AF_INET6:
		decode_ipv6(data + NULL_HDR_LEN, caplen - NULL_HDR_LEN, v, st);
		break;
	default:
		set_status(v, DECODE_NOT_IP, st);
		break;
	}
}

int
decode_linktype_supported(int linktype)
{
	switch (linktype) {
	case LINKTYPE_NULL:
	case LINKTYPE_ETHERNET:
	case LINKTYPE_RAW:
	case DLT_RAW_BSD:
	case DLT_RAW_OPENBSD:
	case LINKTYPE_LOOP:
	case LINKTYPE_LINUX_SLL:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
	case LINKTYPE_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

void
decode_packet(int linktype, const uint8_t *data, uint32_t caplen,
    struct pkt_view *v, struct stats *st)
{
	uint32_t fam;
	uint16_t type, hatype;

	memset(v, 0, sizeof(*v));
	v->wscale = -1;
	switch (linktype) {
	case LINKTYPE_ETHERNET:
		if (!get_be16(data, caplen, 12, &type))
			break;
		if (type < ETHERTYPE_MIN) {
			/* An 802.3 length: LLC follows, not IP for us. */
			set_status(v, DECODE_NOT_IP, st);
			return;
		}
		decode_ethertype(data, caplen, ETH_HDR_LEN, type, v, st);
		return;
	case LINKTYPE_LINUX_SLL:
		if (!get_be16(data, caplen, 2, &hatype) ||
		    !get_be16(data, caplen, 14, &type))
			break;
		/*
		 * For most ARPHRD_ types the protocol is an ethertype; for
		 * netlink it is a netlink family, and values below 0x0600
		 * are Linux's own (802.2, CAN...), none of them IP.
		 */
		if (hatype == ARPHRD_NETLINK || type < ETHERTYPE_MIN) {
			set_status(v, DECODE_NOT_IP, st);
			return;
		}
		decode_ethertype(data, caplen, SLL_HDR_LEN, type, v, st);
		return;
	case LINKTYPE_LINUX_SLL2:
		if (!get_be16(data, caplen, 0, &type) ||
		    !get_be16(data, caplen, 8, &hatype) ||
		    caplen < SLL2_HDR_LEN)
			break;
		if (hatype == ARPHRD_NETLINK || type < ETHERTYPE_MIN) {
			set_status(v, DECODE_NOT_IP, st);
			return;
		}
		decode_ethertype(data, caplen, SLL2_HDR_LEN, type, v, st);
		return;
	case LINKTYPE_RAW:
	case DLT_RAW_BSD:
	case DLT_RAW_OPENBSD:
		decode_ip(data, caplen, v, st);
		return;
	case LINKTYPE_IPV4:
		decode_ipv4(data, caplen, v, st);
		return;
	case LINKTYPE_IPV6:
		decode_ipv6(data, caplen, v, st);
		return;
	case LINKTYPE_NULL:
		/*
		 * The family is in the capturing host's byte order. Families
		 * are small, so a value with high bits set is byte-swapped.
		 */
		if (!get_be32(data, caplen, 0, &fam))
			break;
		fam = __builtin_bswap32(fam);
		if (fam & 0xffff0000U)
			fam = __builtin_bswap32(fam);
		decode_family(fam, data, caplen, v, st);
		return;
	case LINKTYPE_LOOP:
		/* As NULL, but always in network byte order. */
		if (!get_be32(data, caplen, 0, &fam))
			break;
		decode_family(fam, data, caplen, v, st);
		return;
	default:
		break;
	}
	set_status(v, DECODE_BAD_LINK, st);
}
