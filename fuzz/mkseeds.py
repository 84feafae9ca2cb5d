#!/usr/bin/env python3
# mkseeds.py: cuts captures into small seeds for the fuzzers, and writes pattern seeds.
#
# Usage: mkseeds.py OUTDIR CAPTURE...
#
# For each capture (pcap or pcapng, any damage):
#   OUTDIR/capture/NAME   the file header and its first PACKETS records (the
#                         whole file when it is small or cannot be parsed);
#   OUTDIR/packet/NAME    its first PACKETS packets in fuzz_packet's input
#                         format (fuzz/fuzz_packet.c), when its link type is
#                         one decode knows.
# And OUTDIR/patterns/N: pattern files in fuzz_patterns' format.
# Seeds stay small (a few KiB each) so that libFuzzer's -max_len fits them.

import os
import struct
import sys

PACKETS = int(os.environ.get("SEED_PACKETS", "12"))
WHOLE_MAX = 4096        # smaller files are taken whole
SEED_MAX = 16384        # no seed is larger

# fuzz_packet's link type index (byte 0, bits 0-2).
LINKTYPES = {1: 0, 0: 1, 101: 2, 108: 3, 113: 4, 228: 5, 229: 6, 276: 7}

# fuzz_packet's time steps, in ns (record byte 2, bits 0-2).
STEPS = [0, 1000, 1000000, 10**9, 31 * 10**9, 61 * 10**9, 301 * 10**9]


def step_code(delta_ns):
    if delta_ns < 0:
        return 7
    code = 0
    for i, s in enumerate(STEPS):
        if delta_ns >= s:
            code = i
    return code


def parse_pcap(data):
    """(linktype, [(ts_ns, bytes, end_offset)]) of a classic pcap, or None."""
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xffff
    recs = []
    off = 24
    while off + 16 <= len(data) and len(recs) < PACKETS:
        sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        if caplen > 262144 or off + 16 + caplen > len(data):
            break
        ts = sec * 10**9 + (frac if nano else frac * 1000)
        recs.append((ts, data[off + 16:off + 16 + caplen], off + 16 + caplen))
        off += 16 + caplen
    return linktype, recs


def parse_pcapng(data):
    """(linktype, [(ts_ns, bytes, end_offset)]) of a pcapng file, or None."""
    if len(data) < 28 or data[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    bom = data[8:12]
    e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
    linktype = None
    recs = []
    off = 0
    while off + 12 <= len(data) and len(recs) < PACKETS:
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1 and linktype is None and len(body) >= 2:
            linktype = struct.unpack(e + "H", body[:2])[0]
        elif btype == 6 and len(body) >= 20:
            _, hi, lo, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            ts = ((hi << 32) | lo) * 1000   # usec, the default tsresol
            recs.append((ts, body[20:20 + caplen], off + blen))
        elif btype == 3 and len(body) >= 4:
            recs.append((0, body[4:], off + blen))
        off += blen
    if linktype is None:
        return None
    return linktype, recs


def swap_options(body, e):
    """The options of a block body, their code and length in big-endian."""
    out = bytearray()
    off = 0
    while off + 4 <= len(body):
        code, olen = struct.unpack(e + "HH", body[off:off + 4])
        pad = (olen + 3) & ~3
        out += struct.pack(">HH", code, olen) + body[off + 4:off + 4 + pad]
        off += 4 + pad
        if code == 0:
            break
    return bytes(out + body[off:])


def pcapng_big_endian(data):
    """A little-endian pcapng file rewritten big-endian, block by block."""
    if data[:4] != b"\x0a\x0d\x0d\x0a" or data[8:12] != b"\x4d\x3c\x2b\x1a":
        return None
    e = "<"
    out = bytearray()
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 0x0a0d0d0a and len(body) >= 16:
            major, minor, slen = struct.unpack(e + "HHq", body[4:16])
            nb = b"\x1a\x2b\x3c\x4d" + struct.pack(">HHq", major, minor,
                                                   slen)
            nb += swap_options(body[16:], e)
        elif btype == 1 and len(body) >= 8:
            lt, res, snap = struct.unpack(e + "HHI", body[:8])
            nb = struct.pack(">HHI", lt, res, snap) + swap_options(body[8:], e)
        elif btype == 6 and len(body) >= 20:
            f = struct.unpack(e + "IIIII", body[:20])
            pad = (f[3] + 3) & ~3
            nb = (struct.pack(">IIIII", *f) + body[20:20 + pad] +
                  swap_options(body[20 + pad:], e))
        elif btype == 3 and len(body) >= 4:
            nb = struct.pack(">I", struct.unpack(e + "I", body[:4])[0]) + \
                body[4:]
        else:
            nb = body
        out += struct.pack(">II", btype, blen) + nb + struct.pack(">I", blen)
        off += blen
    return bytes(out)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data[:SEED_MAX])


def packet_seed(linktype, recs, cfg):
    out = bytearray([cfg | LINKTYPES[linktype]])
    prev = recs[0][0] if recs else 0
    for ts, pkt, _ in recs:
        pkt = pkt[:0xffff]
        out += struct.pack(">HB", len(pkt), step_code(ts - prev))
        out += pkt
        prev = ts
    return bytes(out)


PATTERN_SEEDS = [
    b"\x00GET /\nsecret-token\n",
    b"\x01passw(or)?d\\s*[:=]\n(?i)authorization: basic\n",
    b"\x00^(EHLO|HELO) evil\nHTTP/1\\.[01] 500\n",
    b"\x10(?<=user=)admin\n(?<!x)secret\n\\bfoo\\d{2,4}bar\\b\n",
    b"\x20(?s)BEGIN.{0,100}END\n(?m)^X-Evil:\n",
    b"\x30a+b\n(a|ab)(c|bcd)(d*)\n[[:alpha:]]{3}\\d+\n",
    b"\x02\\x00\\x01\\x02\\x03\n\\xff\\xfe\n",
    b"\x08\\Qa.b\\E\nz*\n",
    b"\x40a\\Kb\n(?=abc)abc\nabc$\n",
    b"\x80(?|(a)|(b))\\1\n(*ANYCRLF)(?m)^user\n",
    b"\x00\\R\\X\\h\\v\n(?x) a b # comment\n",
    b"\x06(a)(?1)(?R)?\n(?<n>a)\\k<n>\n(*UCP)\\w\n",
    b"\x00\\p{L}\\P{N}\n[\\x{80}-\\x{ff}]+\n\xff\xfe\x00bytes\r\n",
    b"\x00a{0,65535}\n(?>a+)b\na++b\n(*COMMIT)a|b\n",
    b"\x00User-Agent: [A-Za-z]+/x\\d\n(GET|POST) /[a-z_]*\\.exe\n"
    b"id[0-9]=[a-z]+;\nUser-Agent: [A-Za-z]+/x\\d\n",
]


def main():
    outdir = sys.argv[1]
    for sub in ("capture", "packet", "patterns"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)
    for path in sys.argv[2:]:
        name = os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read()
        parsed = parse_pcap(data) or parse_pcapng(data)
        if len(data) <= WHOLE_MAX or parsed is None or not parsed[1]:
            cut = data
        else:
            cut = data[:parsed[1][-1][2]]
        write(os.path.join(outdir, "capture", name), cut)
        # pcapng in the other byte order: no capture of the corpus has it.
        big = pcapng_big_endian(cut)
        if big:
            write(os.path.join(outdir, "capture", name + ".be"), big)
        if parsed is None or not parsed[1] or parsed[0] not in LINKTYPES:
            continue
        write(os.path.join(outdir, "packet", name),
              packet_seed(parsed[0], parsed[1], 0))
        # The same packets with tight limits and full streams.
        write(os.path.join(outdir, "packet", name + ".tight"),
              packet_seed(parsed[0], parsed[1], 0x28))
    for i, s in enumerate(PATTERN_SEEDS):
        write(os.path.join(outdir, "patterns", "seed%02d" % i), s)


main()
