#!/usr/bin/env python3
"""reseg.py: cuts every TCP segment of a capture into small ones.

Usage: reseg.py IN.pcap OUT.pcap [SIZES]

Copies a classic pcap capture (Ethernet with 802.1Q/QinQ, Linux cooked
v1/v2, BSD loopback or raw IP; IPv4 without fragments, IPv6 with TCP right after the
fixed header) and cuts the payload
of each TCP segment into pieces of the sizes in SIZES (comma-separated,
used in turn across the whole capture; default 1,3,7,2,13), each a packet
of its own with the same headers, the IP length fields fixed and the
sequence number advanced. Checksums are left as they were (flowgrep does
not check them). Every other record is copied unchanged. A pattern then
meets every cut: a match must be found across segments, and a match in
progress at the end of a segment must be carried into the next.
"""

import struct
import sys


# Link types: where the EtherType is and where the network header starts
# (None: IP at the offset given, its version tells).
LINKS = {1: (12, 14), 113: (14, 16), 276: (0, 20), 101: (None, 0),
         12: (None, 0), 14: (None, 0), 228: (None, 0), 229: (None, 0),
         0: (None, 4), 108: (None, 4)}


def network(frame, link):
    """The EtherType-like type of frame's network header and its offset."""
    off, ip = LINKS[link]
    if off is None:
        if len(frame) <= ip:
            return 0, 0
        return {4: 0x0800, 6: 0x86DD}.get(frame[ip] >> 4, 0), ip
    if len(frame) < ip:
        return 0, 0
    etype = struct.unpack_from("!H", frame, off)[0]
    if link == 1:
        while etype in (0x8100, 0x88a8) and len(frame) >= ip + 4:
            off += 4
            ip += 4
            etype = struct.unpack_from("!H", frame, off)[0]
    return etype, ip


def cut(frame, link, sizes, turn):
    """The frames frame is cut into, and the next turn in sizes."""
    etype, ip = network(frame, link)
    if etype == 0x0800 and len(frame) >= ip + 20:
        ihl = (frame[ip] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, ip + 2)[0]
        flags = struct.unpack_from("!H", frame, ip + 6)[0]
        if frame[ip + 9] != 6 or flags & 0x3FFF or total > len(frame) - ip:
            return [frame], turn
        tcp, end = ip + ihl, ip + total
    elif etype == 0x86DD and len(frame) >= ip + 40:
        plen = struct.unpack_from("!H", frame, ip + 4)[0]
        if frame[ip + 6] != 6 or 40 + plen > len(frame) - ip:
            return [frame], turn
        tcp, end = ip + 40, ip + 40 + plen
    else:
        return [frame], turn
    if len(frame) < tcp + 20:
        return [frame], turn
    data = tcp + (frame[tcp + 12] >> 4) * 4
    if data >= end:
        return [frame], turn
    seq = struct.unpack_from("!I", frame, tcp + 4)[0]
    out, at = [], data
    while at < end:
        n = min(sizes[turn % len(sizes)], end - at)
        turn += 1
        f = bytearray(frame[:data]) + frame[at:at + n]
        if etype == 0x0800:
            struct.pack_into("!H", f, ip + 2, data - ip + n)
        else:
            struct.pack_into("!H", f, ip + 4, data - ip - 40 + n)
        struct.pack_into("!I", f, tcp + 4, (seq + at - data) & 0xFFFFFFFF)
        out.append(bytes(f))
        at += n
    return out, turn


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    sizes = [int(s) for s in (argv[3] if len(argv) == 4 else
                              "1,3,7,2,13").split(",")]
    with open(argv[1], "rb") as f:
        raw = f.read()
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        sys.stderr.write("reseg.py: %s: not a classic pcap file\n" % argv[1])
        return 2
    link = struct.unpack_from(order + "I", raw, 20)[0] & 0xFFFF
    if link not in LINKS:
        sys.stderr.write("reseg.py: %s: link type %d\n" % (argv[1], link))
        return 2
    out, at, turn = [raw[:24]], 24, 0
    while at + 16 <= len(raw):
        sec, frac, caplen, wirelen = struct.unpack_from(order + "IIII", raw, at)
        frame = raw[at + 16:at + 16 + caplen]
        at += 16 + caplen
        # Only whole frames are cut: a truncated one is copied.
        pieces, turn = cut(frame, link, sizes, turn) if caplen == wirelen else \
            ([frame], turn)
        for p in pieces:
            out.append(struct.pack(order + "IIII", sec, frac, len(p), len(p)))
            out.append(p)
    with open(argv[2], "wb") as f:
        f.write(b"".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
