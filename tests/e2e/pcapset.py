#!/usr/bin/env python3
"""pcapset.py: compares the packets of classic pcap files for tests/e2e.sh.

A record is identified by its timestamp, captured and original lengths and
bytes. REF is the input as a reference reader gets it, in a nanosecond
classic pcap: classic pcap input rewritten by libpcap
(`tcpdump --time-stamp-precision=nano -r IN -w REF`, so damaged files end
where libpcap stops), pcapng input by `ngref` below; OUT is what flowgrep
wrote. Timestamps are compared at the coarser precision of the two
files. Frame numbers count REF's records from 1, as tshark does.

  count F                  number of records
  frames REF OUT [-s]      REF frame numbers of OUT's records, in OUT's order
                           ("1-9,20"; "?" for a record not in REF; -s sorts)
  ordered REF OUT          exit 1 unless OUT's records appear in REF's order
  same REF OUT             exit 1 unless OUT holds REF's records, in order
  partition REF A B [-o]   exit 1 unless A and B are disjoint and together
                           hold every record of REF; -o: each in REF's order
  header F                 "linktype snaplen usec|nsec"
  ngref IN OUT             rewrites pcapng IN as a nanosecond classic pcap
                           (the first interface's link type); exit 1 when
                           IN is damaged (OUT holds the packets before the
                           damage), 2 when no interface could be read (OUT
                           is then empty)

Version 2.0-2.2 pcap files have caplen and len swapped, 2.3 files maybe;
they are read as libpcap reads them (sf-pcap.c, lengths_swapped).

Otherwise, exit status 2 and a message for a file that is not a readable
classic pcap.
"""

import struct
import sys


class PcapError(Exception):
    pass


def read_pcap(path):
    """Returns (linktype, snaplen, nsec, [(sec, frac, caplen, len, data)])."""
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise PcapError("%s: %s" % (path, e.strerror))
    if len(buf) < 24:
        raise PcapError("%s: %d bytes, not a pcap file" % (path, len(buf)))
    magic = buf[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
             b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True)}
    if magic not in table:
        raise PcapError("%s: not a classic pcap file (magic %s)" %
                        (path, magic.hex()))
    e, nsec = table[magic]
    major, minor, _, _, snaplen, linktype = struct.unpack(e + "HHiIII",
                                                          buf[4:24])
    swapped = major == 2 and minor < 3
    maybe_swapped = major == 2 and minor == 3
    recs = []
    off = 24
    while off < len(buf):
        if off + 16 > len(buf):
            raise PcapError("%s: truncated record header at %d" % (path, off))
        sec, frac, caplen, olen = struct.unpack(e + "IIII", buf[off:off + 16])
        if swapped or (maybe_swapped and caplen > olen):
            caplen, olen = olen, caplen
        off += 16
        if off + caplen > len(buf):
            raise PcapError("%s: truncated record at %d" % (path, off))
        recs.append((sec, frac, caplen, olen, buf[off:off + caplen]))
        off += caplen
    return linktype & 0xffff, snaplen, nsec, recs


def read_pcapng(path):
    """Returns (linktype, [(sec, nsec, caplen, len, data)], damage or None).

    Enhanced, simple and obsolete packet blocks are read; interfaces give
    each packet its time resolution and offset (if_tsresol, if_tsoffset).
    """
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"\x0a\x0d\x0d\x0a":
        raise PcapError("%s: not a pcapng file" % path)
    recs = []
    ifaces = []
    linktype = None
    e = "<"
    off = 0
    while off < len(buf):
        if off + 12 > len(buf):
            return linktype, recs, "truncated block at %d" % off
        btype = struct.unpack(e + "I", buf[off:off + 4])[0]
        if btype == 0x0a0d0d0a:
            bom = buf[off + 8:off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                e = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                e = ">"
            else:
                return linktype, recs, "bad byte-order magic at %d" % off
            ifaces = []
        blen = struct.unpack(e + "I", buf[off + 4:off + 8])[0]
        if blen < 12 or blen % 4 or off + blen > len(buf):
            return linktype, recs, "bad block length %d at %d" % (blen, off)
        if struct.unpack(e + "I", buf[off + blen - 4:off + blen])[0] != blen:
            return linktype, recs, "block lengths differ at %d" % off
        body = buf[off + 8:off + blen - 4]
        if btype == 0x0a0d0d0a:
            major, minor = struct.unpack(e + "HH", body[4:8])
            if major != 1:
                return linktype, recs, "pcapng version %d.%d" % (major, minor)
        elif btype == 1:
            lt, _, snap = struct.unpack(e + "HHI", body[:8])
            res, tsoff = (10, 6), 0
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[o:o + 4])
                val = body[o + 4:o + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    res = (2, val[0] & 0x7f) if val[0] & 0x80 else (10, val[0])
                elif code == 14 and olen >= 8:
                    tsoff = struct.unpack(e + "q", val[:8])[0]
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((lt, snap, res, tsoff))
            if linktype is None:
                linktype = lt
        elif btype in (2, 6):
            if btype == 6:
                ifn, hi, lo, caplen, olen = struct.unpack(e + "IIIII",
                                                          body[:20])
            else:
                ifn, _, hi, lo, caplen, olen = struct.unpack(e + "HHIIII",
                                                             body[:20])
            if ifn >= len(ifaces) or 20 + caplen > len(body):
                return linktype, recs, "bad packet block at %d" % off
            base, exp = ifaces[ifn][2]
            units = (hi << 32) | lo
            if base == 10:
                ns = units * 10 ** (9 - exp) if exp <= 9 else \
                    units // 10 ** (exp - 9)
            else:
                ns = units * 10 ** 9 >> exp
            ns += ifaces[ifn][3] * 10 ** 9
            recs.append((ns // 10 ** 9, ns % 10 ** 9, caplen, olen,
                         body[20:20 + caplen]))
        elif btype == 3:
            if not ifaces:
                return linktype, recs, "simple packet block without interface"
            olen = struct.unpack(e + "I", body[:4])[0]
            caplen = min(olen, len(body) - 4)
            if ifaces[0][1]:
                caplen = min(caplen, ifaces[0][1])
            recs.append((0, 0, caplen, olen, body[4:4 + caplen]))
        off += blen
    return linktype, recs, None


def cmd_ngref(inp, out):
    linktype, recs, damage = read_pcapng(inp)
    if linktype is None:
        # Not even an interface: nothing a reader could open.
        open(out, "wb").close()
        print("%s: %s" % (inp, damage or "no interface description block"))
        return 2
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144,
                            linktype or 0))
        for sec, ns, caplen, olen, data in recs:
            f.write(struct.pack("<IIII", sec, ns, caplen, olen))
            f.write(data)
    if damage:
        print("%s: %s" % (inp, damage))
        return 1
    return 0


def keys(recs, nsec, coarse):
    """Record identities; coarse turns nanosecond fractions into micro."""
    div = 1000 if (nsec and coarse) else 1
    return [(r[0], r[1] // div, r[2], r[3], r[4]) for r in recs]


def load_pair(ref_path, out_path):
    _, _, rn, rrecs = read_pcap(ref_path)
    _, _, on, orecs = read_pcap(out_path)
    coarse = not (rn and on)
    return keys(rrecs, rn, coarse), keys(orecs, on, coarse)


def index_of(refkeys):
    """Maps each key to the list of its frame numbers (duplicates exist)."""
    idx = {}
    for i, k in enumerate(refkeys):
        idx.setdefault(k, []).append(i + 1)
    return idx


def frame_numbers(refkeys, outkeys):
    """REF frame numbers of OUT's records in OUT's order; 0 when unknown.

    A record that REF holds n times may be matched n times; its copies are
    numbered in REF's order.
    """
    idx = index_of(refkeys)
    used = {}
    res = []
    for k in outkeys:
        cands = idx.get(k, [])
        u = used.get(k, 0)
        if u < len(cands):
            res.append(cands[u])
            used[k] = u + 1
        else:
            res.append(0)
    return res


def ranges(nums):
    """Writes [1,2,3,5,0] as "1-3,5,?"."""
    out = []
    i = 0
    while i < len(nums):
        if nums[i] == 0:
            out.append("?")
            i += 1
            continue
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else "%d-%d" % (nums[i], nums[j]))
        i = j + 1
    return ",".join(out) if out else "-"


def cmd_partition(args):
    ordered = "-o" in args
    ref, a, b = [x for x in args if x != "-o"]
    rk, ak = load_pair(ref, a)
    _, bk = load_pair(ref, b)
    fa = frame_numbers(rk, ak)
    fb = frame_numbers(rk, bk)
    problems = []
    if 0 in fa:
        problems.append("first output has %d records not in the input" %
                        fa.count(0))
    if 0 in fb:
        problems.append("second output has %d records not in the input" %
                        fb.count(0))
    both = sorted(set(fa) & set(fb) - {0})
    if both:
        problems.append("in both outputs: frames %s" % ranges(both))
    seen = set(fa) | set(fb)
    missing = [i for i in range(1, len(rk) + 1) if i not in seen]
    if missing:
        problems.append("in neither output: frames %s" % ranges(missing))
    if ordered:
        for name, f in (("first", fa), ("second", fb)):
            g = [x for x in f if x]
            if g != sorted(g):
                problems.append("%s output is not in input order: %s" %
                                (name, ranges(f)))
    print("input %d, outputs %d + %d" % (len(rk), len(ak), len(bk)))
    for p in problems:
        print(p)
    return 1 if problems else 0


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    try:
        if cmd == "count":
            print(len(read_pcap(args[0])[3]))
            return 0
        if cmd == "header":
            lt, snap, nsec, _ = read_pcap(args[0])
            print("%d %d %s" % (lt, snap, "nsec" if nsec else "usec"))
            return 0
        if cmd == "frames":
            rk, ok = load_pair(args[0], args[1])
            f = frame_numbers(rk, ok)
            if "-s" in args[2:]:
                f = sorted(x for x in f if x) + [0] * f.count(0)
            print(ranges(f))
            return 0
        if cmd == "ordered":
            rk, ok = load_pair(args[0], args[1])
            f = frame_numbers(rk, ok)
            if 0 in f or f != sorted(f):
                print("output frames: %s" % ranges(f))
                return 1
            return 0
        if cmd == "same":
            rk, ok = load_pair(args[0], args[1])
            if rk == ok:
                return 0
            f = frame_numbers(rk, ok)
            print("input has %d records, output %d: frames %s" %
                  (len(rk), len(ok), ranges(f)))
            return 1
        if cmd == "partition":
            return cmd_partition(args)
        if cmd == "ngref":
            return cmd_ngref(args[0], args[1])
    except PcapError as e:
        print(e)
        return 2
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
