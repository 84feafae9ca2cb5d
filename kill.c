/* kill.c: RST packets built with libnet, injected or written to a pcap file. */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libnet.h>

#include "kill.h"
#include "pcapio.h"

/*
 * An RST carries no payload and no options: 20 bytes of TCP behind 20
 * (IPv4) or 40 (IPv6) bytes of IP.
 */
#define KILL_TCP_LEN LIBNET_TCP_H
#define KILL_IP_MAX (LIBNET_IPV6_H + KILL_TCP_LEN)

/*
 * The link header copied from an observed frame: Ethernet with at most as
 * many 802.1Q/802.1ad tags as decode.c reads. A frame with more tags, or with
 * anything else between Ethernet and IP, is refused rather than guessed at.
 */
#define KILL_ETH_LEN 14
#define KILL_VLAN_MAX 2
#define KILL_LINK_MAX (KILL_ETH_LEN + 4 * KILL_VLAN_MAX)
#define KILL_FRAME_MAX (KILL_LINK_MAX + KILL_IP_MAX)

#define KILL_ETHERTYPE_IPV4 0x0800
#define KILL_ETHERTYPE_IPV6 0x86dd

/* TCP header flags (RFC 9293, section 3.1). */
#define KILL_TH_RST 0x04
#define KILL_TH_ACK 0x10

/* What an operating system would use; a receiver does not check it. */
#define KILL_TTL 64

/* Classic pcap file header of the dry run (microsecond, host order). */
#define KILL_PCAP_MAGIC 0xa1b2c3d4U
#define KILL_PCAP_SNAPLEN 65535

#define KILL_LINK_ERROR "link-layer kill needs an Ethernet capture " \
	"(use --kill-via ip)"

/*
 * A libnet context that only assembles packets (LIBNET_NONE: no socket, so
 * no privileges), with the protocol tags of its TCP and IP blocks: building
 * again with those tags rewrites the blocks in place instead of allocating
 * new ones for every RST.
 */
struct kill_builder {
	libnet_t *l;
	libnet_ptag_t tcp;
	libnet_ptag_t ip;
};

/* One RST to build: the endpoint it claims to come from and the one it hits. */
struct kill_rst {
	const uint8_t *src;
	const uint8_t *dst;
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	bool ack_known;
	bool to_server;
};

struct killer {
	bool frames;			/* link-layer frames, else IP packets */
	struct kill_builder b4;
	struct kill_builder b6;
	libnet_t *link;			/* KILL_VIA_LINK, live */
	uint8_t own_mac[6];		/* of the device, when not loopback */
	bool own_mac_known;
	libnet_t *raw4;			/* KILL_VIA_IP, or own_mac_known */
	libnet_t *raw6;			/* NULL when the host has no IPv6 */
	char raw6_err[KILL_ERRBUF_SIZE];
	FILE *dry;			/* dry run */
	int dry_errno;			/* of its first failed write */
	uint16_t ip_id;			/* IPv4 ID of the last RST */
	uint64_t sent;
	uint8_t frame[KILL_FRAME_MAX];
};

static void kill_seterr(char *errbuf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
kill_seterr(char *errbuf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, KILL_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

/* libnet ends some of its messages with a newline; ours never do. */
static void
kill_chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* The dry-run file is in host byte order, as libpcap writes it. */
static void
kill_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void
kill_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint16_t
kill_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Explains why libnet_init failed to open a socket of this domain. libnet
 * clobbers errno while it cleans up, so the call that failed is repeated here
 * to learn the reason: lack of privilege is what users meet most. Returns
 * the errno of that repetition (0 if it now succeeds).
 */
static int
kill_open_error(int domain, const char *lerr, char *errbuf)
{
	char msg[LIBNET_ERRBUF_SIZE];
	int fd, e = 0;

	fd = socket(domain, SOCK_RAW, domain == AF_PACKET ? 0 : IPPROTO_RAW);
	if (fd == -1)
		e = errno;
	else
		close(fd);
	if (e == EPERM || e == EACCES) {
		kill_seterr(errbuf,
		    "permission denied: killing needs root or CAP_NET_RAW");
		return e;
	}
	snprintf(msg, sizeof(msg), "%s", lerr);
	kill_chomp(msg);
	kill_seterr(errbuf, "cannot open RST injection: %s", msg);
	return e;
}

static int
kill_builder_init(struct kill_builder *b, char *errbuf)
{
	char lerr[LIBNET_ERRBUF_SIZE] = "";

	b->tcp = 0;
	b->ip = 0;
	b->l = libnet_init(LIBNET_NONE, NULL, lerr);
	if (b->l == NULL) {
		kill_chomp(lerr);
		kill_seterr(errbuf, "libnet: %s", lerr);
		return -1;
	}
	return 0;
}

/* Frees everything; fields never set are NULL and skipped. */
static void
kill_free(struct killer *k)
{
	if (k->b4.l != NULL)
		libnet_destroy(k->b4.l);
	if (k->b6.l != NULL)
		libnet_destroy(k->b6.l);
	if (k->link != NULL)
		libnet_destroy(k->link);
	if (k->raw4 != NULL)
		libnet_destroy(k->raw4);
	if (k->raw6 != NULL)
		libnet_destroy(k->raw6);
	if (k->dry != NULL)
		fclose(k->dry);
	free(k);
}

static struct killer *
kill_new(char *errbuf)
{
	struct killer *k;

	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		kill_seterr(errbuf, "out of memory");
		return NULL;
	}
	if (kill_builder_init(&k->b4, errbuf) == -1 ||
	    kill_builder_init(&k->b6, errbuf) == -1) {
		kill_free(k);
		return NULL;
	}
	return k;
}

/*
 * Opens the raw IP sockets. A kernel without IPv6 still lets IPv4
 * connections be killed; IPv6 kills then fail one by one with the reason.
 */
static int
kill_open_raw(struct killer *k, char *errbuf)
{
	char lerr[LIBNET_ERRBUF_SIZE] = "";

	k->raw4 = libnet_init(LIBNET_RAW4, NULL, lerr);
	if (k->raw4 == NULL) {
		kill_open_error(AF_INET, lerr, errbuf);
		return -1;
	}
	k->raw6 = libnet_init(LIBNET_RAW6, NULL, lerr);
	if (k->raw6 == NULL &&
	    kill_open_error(AF_INET6, lerr, k->raw6_err) != EAFNOSUPPORT) {
		kill_seterr(errbuf, "%s", k->raw6_err);
		return -1;
	}
	return 0;
}

/*
 * Every socket is opened here, before flowgrep gives up root (-u): none can
 * be opened later.
 */
struct killer *
killer_open(const char *device, enum kill_via via, char *errbuf)
{
	char lerr[LIBNET_ERRBUF_SIZE] = "";
	static const uint8_t zero[6];
	struct libnet_ether_addr *mac;
	struct killer *k;

	if (via == KILL_VIA_LINK) {
		if (device == NULL) {
			kill_seterr(errbuf, "link-layer kill needs a capture "
			    "device (use --kill-via ip)");
			return NULL;
		}
		if (if_nametoindex(device) == 0) {
			kill_seterr(errbuf, "no such device: %s", device);
			return NULL;
		}
	}
	if ((k = kill_new(errbuf)) == NULL)
		return NULL;
	k->frames = via == KILL_VIA_LINK;
	if (via == KILL_VIA_IP) {
		if (kill_open_raw(k, errbuf) == -1)
			goto fail;
		return k;
	}
	k->link = libnet_init(LIBNET_LINK, device, lerr);
	if (k->link == NULL) {
		kill_open_error(AF_PACKET, lerr, errbuf);
		goto fail;
	}
	/*
	 * A frame sent on a device leaves the host: one addressed to the
	 * device itself (flowgrep runs on an endpoint of the connection)
	 * would never reach the local stack, so such RSTs go to it as raw IP.
	 * Loopback (address zero) loops every frame back and needs no help.
	 */
	mac = libnet_get_hwaddr(k->link);
	if (mac != NULL && memcmp(mac->ether_addr_octet, zero, 6) != 0) {
		memcpy(k->own_mac, mac->ether_addr_octet, 6);
		k->own_mac_known = true;
		if (kill_open_raw(k, errbuf) == -1)
			goto fail;
	}
	return k;
fail:
	kill_free(k);
	return NULL;
}

struct killer *
killer_open_dry_run(const char *path, enum kill_via via,
    int capture_linktype, char *errbuf)
{
	struct killer *k;
	uint8_t hdr[PCAPIO_FILE_HEADER_LEN];

	if ((k = kill_new(errbuf)) == NULL)
		return NULL;
	k->frames = via == KILL_VIA_LINK &&
	    capture_linktype == LINKTYPE_ETHERNET;
	k->dry = fopen(path, "wb");
	if (k->dry == NULL) {
		kill_seterr(errbuf, "%s: %s", path, strerror(errno));
		goto fail;
	}
	kill_put32(hdr, KILL_PCAP_MAGIC);
	kill_put16(hdr + 4, 2);		/* version 2.4 */
	kill_put16(hdr + 6, 4);
	kill_put32(hdr + 8, 0);		/* thiszone */
	kill_put32(hdr + 12, 0);		/* sigfigs */
	kill_put32(hdr + 16, KILL_PCAP_SNAPLEN);
	kill_put32(hdr + 20, k->frames ? LINKTYPE_ETHERNET : LINKTYPE_RAW);
	if (fwrite(hdr, sizeof(hdr), 1, k->dry) != 1) {
		kill_seterr(errbuf, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return k;
fail:
	kill_free(k);
	return NULL;
}

/*
 * Checks that the observed link header is Ethernet, optionally tagged, with
 * the ethertype of t's IP version right before the IP header.
 */
static int
kill_link_check(const struct kill_target *t, char *errbuf)
{
	uint32_t off = 12, tags = 0;
	uint16_t type;

	if (t->linktype != LINKTYPE_ETHERNET) {
		kill_seterr(errbuf, KILL_LINK_ERROR);
		return -1;
	}
	if (t->link == NULL || t->link_len < KILL_ETH_LEN) {
		kill_seterr(errbuf, "link-layer kill: no Ethernet header "
		    "observed for this connection");
		return -1;
	}
	type = kill_be16(t->link + off);
	while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
		if (++tags > KILL_VLAN_MAX) {
			kill_seterr(errbuf, "link-layer kill: more than %d "
			    "VLAN tags (use --kill-via ip)", KILL_VLAN_MAX);
			return -1;
		}
		off += 4;
		if (off + 2 > t->link_len) {
			kill_seterr(errbuf, "link-layer kill: truncated VLAN "
			    "tag in the observed frame");
			return -1;
		}
		type = kill_be16(t->link + off);
	}
	if (off + 2 != t->link_len ||
	    type != (t->ipver == 4 ? KILL_ETHERTYPE_IPV4 :
	    KILL_ETHERTYPE_IPV6)) {
		kill_seterr(errbuf, "link-layer kill: the observed frame "
		    "does not carry IPv%u right after Ethernet (ethertype "
		    "0x%04x; use --kill-via ip)", t->ipver, type);
		return -1;
	}
	return 0;
}

/*
 * Writes the link header for an RST into out: the observed one, with the
 * MAC addresses swapped when the RST goes the other way than that frame
 * went. VLAN tags are kept: both directions of a connection share them.
 */
static uint32_t
kill_link_header(const struct kill_target *t, bool to_server, uint8_t *out)
{
	memcpy(out, t->link, t->link_len);
	if (to_server != t->link_from_client) {
		memcpy(out, t->link + 6, 6);
		memcpy(out + 6, t->link, 6);
	}
	return t->link_len;
}

/*
 * Assembles the IP packet of one RST with libnet into out (cap bytes),
 * checksums included. Returns its length, or 0 with errbuf set.
 */
static uint32_t
kill_build_ip(struct killer *k, uint8_t ipver, const struct kill_rst *r,
    uint8_t *out, uint32_t cap, char *errbuf)
{
	struct kill_builder *b = ipver == 4 ? &k->b4 : &k->b6;
	struct libnet_in6_addr s6, d6;
	uint32_t s4, d4, len = 0;
	uint8_t *pkt = NULL;
	uint8_t flags;

	/*
	 * RFC 5961 section 3.2: in a synchronized state a receiver resets only
	 * when the sequence number is exactly the next one it expects; the
	 * acknowledgment number is not checked. In SYN-SENT the ACK must be
	 * set and acceptable (RFC 9293 section 3.10.7.3); Linux accepts RST|ACK
	 * in every state. So ACK is set, with the peer's next number, whenever
	 * that is known. When it is not, the flag stays off: a receiver in
	 * SYN-RECEIVED drops an RST whose ACK is wrong.
	 */
	flags = KILL_TH_RST | (r->ack_known ? KILL_TH_ACK : 0);
	b->tcp = libnet_build_tcp(r->sport, r->dport, r->seq,
	    r->ack_known ? r->ack : 0, flags, 0, 0, 0, KILL_TCP_LEN, NULL, 0,
	    b->l, b->tcp);
	if (b->tcp == -1)
		goto fail;
	if (ipver == 4) {
		memcpy(&s4, r->src, 4);
		memcpy(&d4, r->dst, 4);
		/* Deterministic and never 0, which the kernel would replace. */
		if (++k->ip_id == 0)
			k->ip_id = 1;
		b->ip = libnet_build_ipv4(LIBNET_IPV4_H + KILL_TCP_LEN, 0,
		    k->ip_id, 0, KILL_TTL, IPPROTO_TCP, 0, s4, d4, NULL, 0,
		    b->l, b->ip);
	} else {
		memcpy(&s6, r->src, 16);
		memcpy(&d6, r->dst, 16);
		b->ip = libnet_build_ipv6(0, 0, KILL_TCP_LEN, IPPROTO_TCP,
		    KILL_TTL, s6, d6, NULL, 0, b->l, b->ip);
	}
	if (b->ip == -1)
		goto fail;
	/* Assembles the blocks and computes the checksums. */
	if (libnet_pblock_coalesce(b->l, &pkt, &len) < 0 || pkt == NULL)
		goto fail;
	if (len > cap) {
		libnet_adv_free_packet(b->l, pkt);
		kill_seterr(errbuf, "libnet built a %u-byte RST", len);
		return 0;
	}
	memcpy(out, pkt, len);
	libnet_adv_free_packet(b->l, pkt);
	return len;
fail:
	kill_seterr(errbuf, "building RST: %s", libnet_geterror(b->l));
	kill_chomp(errbuf);
	return 0;
}

static int
kill_dry_write(struct killer *k, uint64_t ts_ns, uint32_t len, char *errbuf)
{
	uint8_t rec[PCAPIO_RECORD_HEADER_LEN];

	kill_put32(rec, (uint32_t)(ts_ns / 1000000000U));
	kill_put32(rec + 4, (uint32_t)(ts_ns % 1000000000U / 1000U));
	kill_put32(rec + 8, len);
	kill_put32(rec + 12, len);
	if (fwrite(rec, sizeof(rec), 1, k->dry) != 1 ||
	    fwrite(k->frame, len, 1, k->dry) != 1) {
		if (k->dry_errno == 0)
			k->dry_errno = errno != 0 ? errno : EIO;
		kill_seterr(errbuf, "writing the dry-run file: %s",
		    strerror(k->dry_errno));
		return -1;
	}
	return 0;
}

/* Builds one RST in k->frame and sends or writes it. */
static int
kill_one(struct killer *k, const struct kill_target *t,
    const struct kill_rst *r, char *errbuf)
{
	uint32_t off = 0, len;
	libnet_t *l;
	int c;

	if (k->frames)
		off = kill_link_header(t, r->to_server, k->frame);
	len = kill_build_ip(k, t->ipver, r, k->frame + off,
	    sizeof(k->frame) - off, errbuf);
	if (len == 0)
		return -1;
	len += off;
	if (k->dry != NULL) {
		if (kill_dry_write(k, t->ts_ns, len, errbuf) == -1)
			return -1;
		k->sent++;
		return 0;
	}
	/*
	 * The bytes go out exactly as built (and as a dry run writes them),
	 * through libnet's writers for a prebuilt packet.
	 */
	if (k->frames && !(k->own_mac_known &&
	    memcmp(k->frame, k->own_mac, 6) == 0)) {
		l = k->link;
		c = libnet_write_link(l, k->frame, len);
	} else {
		/* Raw IP: without the link header, if any. */
		len -= off;
		l = t->ipver == 4 ? k->raw4 : k->raw6;
		if (l == NULL) {
			kill_seterr(errbuf, "%s", k->raw6_err);
			return -1;
		}
		if (t->ipver == 4)
			c = libnet_write_raw_ipv4(l, k->frame + off, len);
		else
			c = libnet_write_raw_ipv6(l, k->frame + off, len);
	}
	if (c != (int)len) {
		kill_seterr(errbuf, "sending RST: %s", libnet_geterror(l));
		kill_chomp(errbuf);
		return -1;
	}
	k->sent++;
	return 0;
}

int
killer_kill(struct killer *k, const struct kill_target *t, char *errbuf)
{
	struct kill_rst r[2];
	int i, n = 0;

	if ((t->ipver != 4 && t->ipver != 6) || t->client_addr == NULL ||
	    t->server_addr == NULL) {
		kill_seterr(errbuf, "kill: not an IPv4 or IPv6 connection");
		return -1;
	}
	if (k->frames && kill_link_check(t, errbuf) == -1)
		return -1;

	/* To the server as if from the client. */
	r[0].src = t->client_addr;
	r[0].dst = t->server_addr;
	r[0].sport = t->client_port;
	r[0].dport = t->server_port;
	r[0].seq = t->client_next;
	r[0].ack = t->server_next;
	r[0].ack_known = t->server_next_known;
	r[0].to_server = true;
	/* To the client as if from the server. */
	r[1].src = t->server_addr;
	r[1].dst = t->client_addr;
	r[1].sport = t->server_port;
	r[1].dport = t->client_port;
	r[1].seq = t->server_next;
	r[1].ack = t->client_next;
	r[1].ack_known = t->client_next_known;
	r[1].to_server = false;

	for (i = 0; i < 2; i++) {
		/* An RST with a guessed sequence number is only noise. */
		if (!(i == 0 ? t->client_next_known : t->server_next_known))
			continue;
		if (kill_one(k, t, &r[i], errbuf) == -1)
			return -1;
		n++;
	}
	return n;
}

uint64_t
killer_sent(const struct killer *k)
{
	return k->sent;
}

int
killer_close(struct killer *k, char *errbuf)
{
	int rc = 0;

	if (k == NULL)
		return 0;
	if (k->dry != NULL) {
		/* A write that failed in killer_kill fails the close too. */
		if (fclose(k->dry) != 0 && k->dry_errno == 0)
			k->dry_errno = errno != 0 ? errno : EIO;
		k->dry = NULL;
		if (k->dry_errno != 0) {
			kill_seterr(errbuf, "writing the dry-run file: %s",
			    strerror(k->dry_errno));
			rc = -1;
		}
	}
	kill_free(k);
	return rc;
}
