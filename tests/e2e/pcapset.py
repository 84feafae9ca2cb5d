#!/usr/bin/env python3
"""pcapset.py: compares the packets of classic pcap files for tests/e2e.sh.

A record is identified by its timestamp, captured and original lengths and
bytes. REF is the input as libpcap reads it, rewritten by
`tcpdump --time-stamp-precision=nano -r IN -w REF` (so damaged files end
where libpcap stops, and any input format becomes classic pcap); OUT is what
flowgrep wrote. Timestamps are compared at the coarser precision of the two
files. Frame numbers count REF's records from 1, as tshark does.

  count F                  number of records
  frames REF OUT [-s]      REF frame numbers of OUT's records, in OUT's order
                           ("1-9,20"; "?" for a record not in REF; -s sorts)
  ordered REF OUT          exit 1 unless OUT's records appear in REF's order
  same REF OUT             exit 1 unless OUT holds REF's records, in order
  partition REF A B [-o]   exit 1 unless A and B are disjoint and together
                           hold every record of REF; -o: each in REF's order
  header F                 "linktype snaplen usec|nsec"

Exit status 2 and a message for a file that is not a readable pcap.
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
    _, _, _, _, snaplen, linktype = struct.unpack(e + "HHiIII", buf[4:24])
    recs = []
    off = 24
    while off < len(buf):
        if off + 16 > len(buf):
            raise PcapError("%s: truncated record header at %d" % (path, off))
        sec, frac, caplen, olen = struct.unpack(e + "IIII", buf[off:off + 16])
        off += 16
        if off + caplen > len(buf):
            raise PcapError("%s: truncated record at %d" % (path, off))
        recs.append((sec, frac, caplen, olen, buf[off:off + caplen]))
        off += caplen
    return linktype & 0xffff, snaplen, nsec, recs


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
    except PcapError as e:
        print(e)
        return 2
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
