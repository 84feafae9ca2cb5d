#!/usr/bin/env python3
"""pcapflows.py: counts records and lists TCP flows of a pcap, for bench/run.sh.

Usage:
  pcapflows.py count FILE   number of records in FILE
  pcapflows.py flows FILE   distinct TCP flows with a packet in FILE,
                            one 'A:port B:port' key a line
                            (endpoints sorted, so both directions give one key)
  pcapflows.py truth TSV    the same keys for the flows of a gen-bench-pcap.py
                            ground-truth TSV

Classic pcap (either byte order, micro- or nanosecond magic) or pcapng, Ethernet
with any number of 802.1Q/802.1ad tags, IPv4 and IPv6 (extension headers
skipped).  The VLAN IDs are not part of the key: the benchmark capture never
reuses an address and port pair across VLANs.  Python 3 standard library only.
"""

import ipaddress
import struct
import sys

LINKTYPE_ETHERNET = 1
IPV6_EXT = {0, 43, 60}  # hop-by-hop, routing, destination options
IPV6_FRAG = 44


def open_pcap(path):
    """Opens a classic pcap file: (file, byte order, link type)."""
    f = open(path, "rb")
    hdr = f.read(24)
    if len(hdr) < 24:
        sys.exit("pcapflows.py: %s: not a pcap file" % path)
    magic = struct.unpack("<I", hdr[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        f.close()
        return None, None, None
    linktype = struct.unpack(endian + "I", hdr[20:24])[0] & 0x0FFFFFFF
    return f, endian, linktype


def pcapng_records(path):
    """Yields (link type, frame) from a pcapng file (tshark's default)."""
    with open(path, "rb") as f:
        endian = "<"
        links = []
        while True:
            h = f.read(8)
            if len(h) < 8:
                return
            btype = struct.unpack(endian + "I", h[:4])[0]
            if btype == 0x0A0D0D0A:
                bom = f.read(4)
                endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(endian + "I", h[4:8])[0]
                f.seek(blen - 12, 1)
                links = []
                continue
            blen = struct.unpack(endian + "I", h[4:8])[0]
            if blen < 12:
                sys.exit("pcapflows.py: %s: bad pcapng block" % path)
            body = f.read(blen - 8)
            if btype == 1:
                links.append(struct.unpack_from(endian + "H", body, 0)[0])
            elif btype == 6:
                ifc, _, _, incl = struct.unpack_from(endian + "IIII", body, 0)
                yield links[ifc], body[20:20 + incl]
            elif btype == 3:
                yield links[0], body[4:blen - 12]


def records(path):
    f, endian, linktype = open_pcap(path)
    if f is None:
        yield from pcapng_records(path)
        return
    rec = struct.Struct(endian + "IIII")
    with f:
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            incl = rec.unpack(h)[2]
            yield linktype, f.read(incl)


def count(path):
    f, endian, _ = open_pcap(path)
    if f is None:
        return sum(1 for _ in pcapng_records(path))
    rec = struct.Struct(endian + "IIII")
    n = 0
    with f:
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            f.seek(rec.unpack(h)[2], 1)
            n += 1
    return n


def tcp_key(frame):
    """Returns the sorted endpoint key of a TCP frame, or None."""
    off = 12
    if len(frame) < 14:
        return None
    etype = struct.unpack_from("!H", frame, off)[0]
    off += 2
    while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
        etype = struct.unpack_from("!H", frame, off + 2)[0]
        off += 4
    if etype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        fragoff = struct.unpack_from("!H", frame, off + 6)[0] & 0x1FFF
        if frame[off + 9] != 6 or fragoff != 0:
            return None
        src = ipaddress.IPv4Address(frame[off + 12:off + 16])
        dst = ipaddress.IPv4Address(frame[off + 16:off + 20])
        off += ihl
    elif etype == 0x86DD and len(frame) >= off + 40:
        nh = frame[off + 6]
        src = ipaddress.IPv6Address(frame[off + 8:off + 24])
        dst = ipaddress.IPv6Address(frame[off + 24:off + 40])
        off += 40
        while nh in IPV6_EXT or nh == IPV6_FRAG:
            if len(frame) < off + 8:
                return None
            if nh == IPV6_FRAG:
                if struct.unpack_from("!H", frame, off + 2)[0] & 0xFFF8:
                    return None
                nh, off = frame[off], off + 8
            else:
                nh, off = frame[off], off + (frame[off + 1] + 1) * 8
        if nh != 6:
            return None
    else:
        return None
    if len(frame) < off + 4:
        return None
    sport, dport = struct.unpack_from("!HH", frame, off)
    return endpoints("%s:%d" % (src, sport), "%s:%d" % (dst, dport))


def endpoints(a, b):
    return " ".join(sorted((a, b)))


def flows(path):
    keys = set()
    for linktype, frame in records(path):
        if linktype != LINKTYPE_ETHERNET:
            sys.exit("pcapflows.py: %s: link type %d is not Ethernet" %
                     (path, linktype))
        k = tcp_key(frame)
        if k is not None:
            keys.add(k)
    return keys


def truth(path):
    keys = set()
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        col = {name: i for i, name in enumerate(head)}
        for line in f:
            v = line.rstrip("\n").split("\t")
            if len(v) < len(head):
                continue
            c = "%s:%s" % (ipaddress.ip_address(v[col["client_ip"]]),
                           v[col["client_port"]])
            s = "%s:%s" % (ipaddress.ip_address(v[col["server_ip"]]),
                           v[col["server_port"]])
            keys.add(endpoints(c, s))
    return keys


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("count", "flows", "truth"):
        sys.exit(__doc__.split("\n\n")[1])
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "count":
        print(count(path))
        return
    keys = flows(path) if cmd == "flows" else truth(path)
    sys.stdout.write("".join(k + "\n" for k in sorted(keys)))


if __name__ == "__main__":
    main()
