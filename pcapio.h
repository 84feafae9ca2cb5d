/* pcapio.h: capture input (classic pcap, pcapng, stdin), BPF, pcap output. */
#ifndef FLOWGREP_PCAPIO_H
#define FLOWGREP_PCAPIO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define PCAPIO_ERRBUF_SIZE 512
#define PCAPIO_FILE_HEADER_LEN 24
#define PCAPIO_RECORD_HEADER_LEN 16
/* Largest record accepted, as libpcap: anything bigger is damage. */
#define PCAPIO_MAX_CAPLEN 262144

/* Link types flowgrep decodes (LINKTYPE_* values of the pcap format). */
#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LOOP 108
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

/*
 * One record. hdr is the 16-byte classic pcap record header to write for it:
 * the bytes as read for classic pcap input (so output is byte-identical), or
 * one built in host byte order at the input's precision for pcapng. data and
 * hdr stay valid until the next pcapio_next() on the same input.
 */
struct pcap_rec {
	uint64_t ts_ns;		/* capture time, ns since the epoch */
	uint32_t caplen;
	uint32_t wirelen;
	const uint8_t *data;
	uint8_t hdr[PCAPIO_RECORD_HEADER_LEN];
	uint64_t index;		/* 0-based, counting records that passed the filter */
	uint64_t offset;	/* of the record header in the file (pcap files) */
	/*
	 * True when hdr also lies just before data in the same buffer (classic
	 * pcap): a keeper of the record may refer to both rather than copy.
	 */
	bool raw_hdr;
};

struct pcapio_in;
struct pcapio_out;

/*
 * Opens a capture file, or standard input for "-". Reads and checks the file
 * header (pcap: either byte order, usec or nsec; pcapng: section header and
 * the first interface). Returns NULL with errbuf set ("not a pcap or pcapng
 * file", "unsupported pcap version 1.0", ...) on failure; nothing is left open.
 */
struct pcapio_in *pcapio_open(const char *path, struct stats *st, char *errbuf);

/*
 * Opens a live capture on device (NULL: the default device) in immediate
 * mode, promiscuous unless promisc is false, with the given snap length.
 * Returns NULL with errbuf set for an unknown device ("no such device") or
 * missing privileges ("permission denied: capturing needs root or
 * CAP_NET_RAW"). Records get host-order headers at microsecond precision.
 */
struct pcapio_in *pcapio_open_live(const char *device, uint32_t snaplen,
    uint32_t buffer_kib, bool promisc, struct stats *st, char *errbuf);

/* True for a live capture; its device name (NULL for files). */
bool pcapio_is_live(const struct pcapio_in *in);
const char *pcapio_device(const struct pcapio_in *in);

/*
 * Joins the live capture's socket to PACKET_FANOUT group in hash mode, with
 * IP fragments reassembled by the kernel first, so that the processes of a
 * group each see whole flows. Returns -1 with errbuf set on failure (files
 * have no socket).
 */
int pcapio_set_fanout(struct pcapio_in *in, int group, char *errbuf);

/* Updates st->kernel_drops from the capture (live only). */
void pcapio_update_drops(struct pcapio_in *in);

/* Closes the input; NULL is ignored. */
void pcapio_close(struct pcapio_in *in);

/* The link type, snap length and precision (true: nanoseconds) of the input. */
int pcapio_linktype(const struct pcapio_in *in);
uint32_t pcapio_snaplen(const struct pcapio_in *in);
bool pcapio_nano(const struct pcapio_in *in);
/* libpcap's name and description of a link type ("EN10MB", "Ethernet"). */
void pcapio_linktype_names(int linktype, const char **name, const char **desc);

/* The 24-byte pcap file header output files get (the input's own, for pcap). */
const uint8_t *pcapio_file_header(const struct pcapio_in *in);

/* True when the input is a regular file that can be read a second time. */
bool pcapio_rewindable(const struct pcapio_in *in);

/*
 * Compiles a BPF filter expression for the input's link type and applies it
 * to every later record. Returns -1 with errbuf set if it does not compile.
 */
int pcapio_set_filter(struct pcapio_in *in, const char *expr, char *errbuf);

/* pcapio_next's answer when a live capture had no packet for a while. */
#define PCAPIO_IDLE 2

/*
 * Reads the next record that passes the filter. Returns 1 and fills rec; 0 at
 * the clean end of the input; -1 when the input is damaged or unreadable, with
 * errbuf describing where and why (the records before it were all returned).
 * A live capture returns PCAPIO_IDLE after PCAPIO_LIVE_TIMEOUT_MS without a
 * packet, so the caller can attend to signals.
 */
#define PCAPIO_LIVE_TIMEOUT_MS 250
int pcapio_next(struct pcapio_in *in, struct pcap_rec *rec, char *errbuf);

/*
 * A read interrupted by a signal (EINTR) while *flag is set ends the input
 * as if it had reached its end, so SIGINT/SIGTERM can stop a blocked read.
 */
void pcapio_set_interrupt(struct pcapio_in *in,
    const volatile sig_atomic_t *flag);

/*
 * The caller blocks its signals and gives the mask to wait for input with
 * (ppoll): a signal is then taken only while pcapio waits, never in the
 * middle of a write elsewhere. A signal with *stop set ends the input as at
 * its end; with *wake set, wake_fn(ctx) runs (e.g. printing statistics) and
 * reading goes on. wait_mask must stay valid while the input is read.
 */
void pcapio_set_signals(struct pcapio_in *in, const sigset_t *wait_mask,
    const volatile sig_atomic_t *stop, const volatile sig_atomic_t *wake,
    void (*wake_fn)(void *), void *ctx);

/*
 * Memory a stream input is read into, provided by the caller (the hold
 * pool), so that records it keeps need no copy. get returns a chunk of at
 * least min bytes and its size, or NULL (pcapio then reads into its own
 * buffer for a while); put hands back a chunk pcapio reads no more into.
 * A record's data stays valid while its chunk is the provider's to keep.
 */
struct pcapio_chunks {
	uint8_t *(*get)(void *ctx, size_t min, size_t *size);
	void (*put)(void *ctx, uint8_t *chunk);
	void *ctx;
};

/*
 * Reads the rest of a stream input (not a regular file, not a device) into
 * the provider's chunks, with a second thread when they are large enough
 * (pipefill.h), which has a few chunks given ahead. pcapio_close() does not
 * put back those or the chunk it last read into: the provider frees its
 * chunks itself, after pcapio_close() (until then the thread may write).
 */
void pcapio_set_chunks(struct pcapio_in *in, const struct pcapio_chunks *c);

/*
 * Reads the rest of a stream input (not a regular file, not a device) with
 * the second thread too, into 5 MiB of pcapio's own, for a caller that
 * keeps no record past the next call (no provider of chunks). Failing
 * costs only speed.
 */
void pcapio_read_ahead(struct pcapio_in *in);

/* Goes back to the first record for a second pass. Returns -1 on failure. */
int pcapio_rewind(struct pcapio_in *in, char *errbuf);

/*
 * Opens pcap output ("-" is standard output) and writes the file header of
 * in. Refuses a terminal. Returns NULL with errbuf set on failure.
 * With unbuffered, every record is flushed as it is written (-U).
 */
struct pcapio_out *pcapio_out_open(const char *path, const struct pcapio_in *in,
    bool unbuffered, struct stats *st, char *errbuf);

/* Writes one record: its 16-byte header then caplen bytes. -1 on error. */
int pcapio_write(struct pcapio_out *out, const uint8_t *hdr,
    const uint8_t *data, uint32_t caplen);

/*
 * True when the input is a classic pcap regular file: its records are
 * already in the output's format and can be copied by offset.
 */
bool pcapio_raw_records(const struct pcapio_in *in);

/*
 * Before pcapio_copy_records() copies much of a large file: the reading
 * thread then reads it ahead from offset on, and the records are copied
 * from its blocks, overlapping the reading with the writing. The bytes
 * between records copied are passed over, or sought over when more than
 * the blocks read ahead; the offsets given must grow. Returns false, and
 * nothing changes, when the input is not read ahead (a small file, a
 * stream) or not classic pcap. pcapio_rewind() ends it.
 */
bool pcapio_copy_ahead(struct pcapio_in *in, uint64_t offset);

/*
 * Copies len bytes of whole records (nrecords of them) from the input file
 * at offset straight to the output, without parsing them: pass 2 then costs
 * what it writes. Returns -1 with errbuf set on a read or write error.
 */
int pcapio_copy_records(struct pcapio_in *in, struct pcapio_out *out,
    uint64_t offset, uint64_t len, uint64_t nrecords, char *errbuf);

/* Flushes and closes the output. Returns -1 with errbuf set on error. */
int pcapio_out_close(struct pcapio_out *out, char *errbuf);

#endif
