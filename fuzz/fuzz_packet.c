/* fuzz_packet.c: libFuzzer harness: packets through decode, reassembly, flows, matching. */

/*
 * The input is a few packets, each given to the engine as a record of the
 * link type the first byte selects:
 *
 *   byte 0      bits 0-2  link type: Ethernet, NULL, raw, loop, SLL, IPv4,
 *                         IPv6, SLL2 (every type decode knows)
 *               bit 3     tight limits: 3 flows, 4 KiB of held packets
 *               bit 4     context -C 1
 *               bit 5     full streams (the -l log engine's mode)
 *               bit 6     a pattern matching the empty string too
 *               bit 7     --window 32 --depth 300
 *   then records, each:
 *     2 bytes   length (big-endian); a length past the end takes the rest
 *     1 byte    bits 0-2: time step (0, 1 us, 1 ms, 1 s, 31 s, 61 s, 301 s,
 *               1 s back), past the fragment, UDP and TCP timeouts;
 *               bit 3: the wire length exceeds the captured length
 *     length bytes of packet
 *
 * When the input's size is a multiple of 3, the two-pass engine also runs
 * as every shard of --shard K/2 (size / 3 even) or K/3 (odd).
 *
 * A fresh engine per input, not a persistent one: every finding then
 * reproduces from its input alone. State bugs still show because an input
 * carries up to PACKETS_MAX packets through one engine, which is where
 * flows, reassembly queues and fragments live; libFuzzer's crossover joins
 * the packets of two inputs into one.
 *
 * Each packet is copied into an allocation of exactly its length, so ASan
 * sees a read one byte past it. The engines and checks are harness.c's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzpat.h"
#include "harness.h"
#include "pcapio.h"

#define PACKETS_MAX 256
/* 2024-01-01T00:00:00Z */
#define T0_NS (1704067200ULL * 1000000000ULL)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[8] = {
	LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_RAW, LINKTYPE_LOOP,
	LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2,
};

static const int64_t steps_ns[8] = {
	0, 1000, 1000000, 1000000000LL, 31000000000LL, 61000000000LL,
	301000000000LL, -1000000000LL,
};

/* The compiled pattern sets, built once: compiling is not what is tested. */
static struct fuzzpat *pats;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((pats = fuzzpat_new()) == NULL)
		abort();
	return 0;
}

static void
put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_opts o;
	struct harness *h;
	struct pcap_rec rec;
	uint64_t ts = T0_NS;
	size_t pos = 1, len;
	uint8_t cfg, step;
	uint8_t *pkt;
	int n;

	if (size < 1)
		return 0;
	cfg = data[0];
	memset(&o, 0, sizeof(o));
	o.linktype = linktypes[cfg & 7];
	o.ms = fuzzpat_set(pats, (cfg & 0x40) != 0, (cfg & 0x80) != 0);
	o.max_flows = (cfg & 0x08) ? 3 : 1000;
	o.hold_mem = (cfg & 0x08) ? 4096 : 64U * 1024 * 1024;
	o.context = (cfg & 0x10) ? 1 : 0;
	o.full_streams = (cfg & 0x20) != 0;
	o.tcp_timeout_ns = 300ULL * 1000000000ULL;
	o.udp_timeout_ns = 60ULL * 1000000000ULL;
	if (size % 3 == 0)
		o.shards = (size / 3) % 2 == 0 ? 2 : 3;
	if ((h = harness_new(&o)) == NULL)
		return 0;
	for (n = 0; n < PACKETS_MAX && pos + 3 <= size; n++) {
		len = (size_t)data[pos] << 8 | data[pos + 1];
		step = data[pos + 2];
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		ts += (uint64_t)steps_ns[step & 7];
		if ((pkt = malloc(len)) == NULL && len > 0)
			break;
		if (len > 0)
			memcpy(pkt, data + pos, len);
		pos += len;
		memset(&rec, 0, sizeof(rec));
		rec.ts_ns = ts;
		rec.caplen = (uint32_t)len;
		rec.wirelen = (uint32_t)len + ((step & 8) ? 1000 : 0);
		rec.data = pkt;
		rec.index = (uint64_t)n;
		put32le(rec.hdr, (uint32_t)(ts / 1000000000ULL));
		put32le(rec.hdr + 4, (uint32_t)(ts % 1000000000ULL / 1000));
		put32le(rec.hdr + 8, rec.caplen);
		put32le(rec.hdr + 12, rec.wirelen);
		harness_packet(h, &rec);
		free(pkt);
	}
	harness_finish(h);
	harness_free(h);
	return 0;
}
