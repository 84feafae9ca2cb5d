#!/usr/bin/env python3
"""props.py: random pattern sets and the checks of tests/e2e_props.sh.

"Nothing lost": every record flowgrep reads ends up in exactly one of the
outputs of a run and of the same run with -v, except what it says it
dropped. Records are (timestamp, captured length, original length, bytes),
read as tests/e2e/pcapset.py reads them; timestamps are compared at the
coarser precision of the two files.

  patterns CAP SEED N      N random option lists for CAP, one a line, as
                           shell words: patterns drawn from CAP's TCP/UDP
                           payloads (3-8 byte slices as regex literals, some
                           generalised with classes, alternation or a gap),
                           patterns not in CAP, -a/-c/-s, sometimes -i,
                           --depth N, --window N. Same SEED, same lists.
  partition CAP DIR        checks DIR/sets.tsv (part 1), see check_sets
  hold CAP DIR [strict]    checks DIR/hold.tsv (part 2), see check_hold;
                           strict: some run must have dropped records it
                           selected, with and without -v
  feed FILE CMD...         runs CMD with a pipe on standard input that
                           already holds all of FILE, its writing end
                           closed, so that every read gets what it asks
                           for, however busy the machine: stream input
                           whose reads do not depend on timing. Exits with
                           CMD's status (128+N for signal N), 125 when FILE
                           is larger than a pipe can hold.
  genlong OUT              writes a capture of long, interleaved TCP flows
                           (a token late in two of them), UDP and ARP
  tongng IN OUT            rewrites classic pcap IN as pcapng (SHB, IDB, EPBs)
  truncpick CAP            two literals for the truncation loop: one in an
                           early flow, one late in the flow of the last
                           record; each occurs once in CAP (records and
                           streams)
  truncplan CAP TAIL SAMPLE SEED
                           the cut offsets: every byte within the last TAIL
                           records, 24 random record boundaries, a few bytes
                           into 8 random records, a few file header bytes
                           and SAMPLE random others;
                           prints "OFFSET K RECSTART" (K whole records before
                           the cut, RECSTART where record K+1 starts)
  trunc CAP DIR CUT LIT... checks DIR/trunc.tsv (part 3), see check_trunc;
                           CUT is the cut file's name as flowgrep got it;
                           no LIT: the runs were -a ''.

Each check prints one line per problem and exits 1 if there were any.
"""

import fcntl
import json
import os
import random
import re
import shlex
import signal
import struct
import subprocess
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapset  # noqa: E402

NG_MAGIC = b"\x0a\x0d\x0d\x0a"
# How flowgrep names itself in messages: err(3) uses its file name.
PROG = os.environ.get("FLOWGREP_NAME", "flowgrep")


# ---- reading ----

def read_any(path):
    """(linktype, nsec, records, damage) of a classic pcap or pcapng file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == NG_MAGIC:
        lt, recs, damage = pcapset.read_pcapng(path)
        return lt if lt is not None else -1, True, recs, damage
    lt, _, nsec, recs = pcapset.read_pcap(path)
    return lt, nsec, recs, None


def read_out(path):
    """(nsec, records) of a flowgrep output; no file or no header: none."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return True, []
    _, _, nsec, recs = pcapset.read_pcap(path)
    return nsec, recs


def keyed(recs, nsec, coarse):
    return pcapset.keys(recs, nsec, coarse)


def stats_of(errpath):
    """The --stats-json object on standard error, and the other lines."""
    obj, other = None, []
    try:
        with open(errpath, "rb") as f:
            lines = f.read().decode("latin-1").splitlines()
    except OSError:
        return None, ["no standard error file"]
    for line in lines:
        if line.startswith("{") and obj is None:
            try:
                obj = json.loads(line)
                continue
            except ValueError:
                pass
        other.append(line)
    return obj, other


# ---- a small decoder: payloads and flow keys ----

def ip_layer(lt, d):
    """(vlans, IP packet bytes) or None, for the link types flowgrep reads."""
    vlans = []
    if lt == 1:
        off, et = 14, d[12:14]
    elif lt == 113:
        off, et = 16, d[14:16]
    elif lt == 276:
        off, et = 20, d[0:2]
    elif lt in (12, 14, 101):
        return (), d
    elif lt in (228, 229):
        if not d or d[0] >> 4 != (4 if lt == 228 else 6):
            return None
        return (), d
    elif lt in (0, 108):
        if len(d) < 4:
            return None
        return (), d[4:]
    else:
        return None
    if len(et) < 2:
        return None
    t = struct.unpack(">H", et)[0]
    while t in (0x8100, 0x88a8, 0x9100):
        if len(d) < off + 4:
            return None
        if len(vlans) < 2:
            vlans.append(struct.unpack(">H", d[off:off + 2])[0] & 0xfff)
        t = struct.unpack(">H", d[off + 2:off + 4])[0]
        off += 4
    if t not in (0x0800, 0x86dd):
        return None
    return tuple(vlans), d[off:]


def decode(lt, d):
    """(flow key or None, payload bytes) of one record.

    The key is what flowgrep keys a flow by (VLAN IDs, protocol, the two
    endpoints, either order); fragments, damaged headers and non-IP packets
    get None, as they may be units of their own or join a datagram's flow.
    """
    r = ip_layer(lt, d)
    if r is None:
        return None, b""
    vlans, p = r
    if len(p) < 1:
        return None, b""
    ver = p[0] >> 4
    if ver == 4:
        if len(p) < 20:
            return None, b""
        hl = (p[0] & 15) * 4
        total = struct.unpack(">H", p[2:4])[0] or len(p)
        frag = struct.unpack(">H", p[6:8])[0]
        if hl < 20 or hl > len(p) or total < hl or frag & 0x3fff:
            return None, b""
        proto = p[9]
        src, dst = p[12:16], p[16:20]
        l4 = p[hl:min(total, len(p))]
    elif ver == 6:
        if len(p) < 40:
            return None, b""
        plen = struct.unpack(">H", p[4:6])[0]
        nh = p[6]
        src, dst = p[8:24], p[24:40]
        l4 = p[40:40 + plen] if plen else p[40:]
        while nh in (0, 43, 60, 135, 139, 140, 253, 254, 51):
            if len(l4) < 8:
                return None, b""
            hlen = (l4[1] + 2) * 4 if nh == 51 else (l4[1] + 1) * 8
            nh = l4[0]
            l4 = l4[hlen:]
        if nh in (44, 59):
            return None, b""
        proto = nh
    else:
        return None, b""
    if proto == 6:
        if len(l4) < 20 or (l4[12] >> 4) * 4 < 20 or \
                (l4[12] >> 4) * 4 > len(l4):
            return None, b""
        a, b = (src, l4[0:2]), (dst, l4[2:4])
        pay = l4[(l4[12] >> 4) * 4:]
    elif proto == 17:
        if len(l4) < 8:
            return None, b""
        ulen = struct.unpack(">H", l4[4:6])[0]
        if 0 < ulen < 8:
            return None, b""
        a, b = (src, l4[0:2]), (dst, l4[2:4])
        pay = l4[8:ulen] if ulen else l4[8:]
    else:
        a, b = (src, b""), (dst, b"")
        pay = b""
    return (vlans, proto, frozenset((a, b))), pay


# ---- patterns ----

def lit(bs):
    """bs as a PCRE2 literal in printable ASCII."""
    return "".join(chr(c) if chr(c).isalnum() and c < 128 else "\\x%02x" % c
                   for c in bs)


def cls(c):
    if 48 <= c <= 57:
        return "\\d"
    if 65 <= c <= 90 or 97 <= c <= 122:
        return "[A-Za-z]"
    if c in (9, 10, 13, 32):
        return "\\s"
    return "[\\x00-\\xff]"


def make_sets(path, seed, n):
    lt, _, recs, _ = read_any(path)
    pays = []
    for r in recs:
        _, pay = decode(lt, r[4])
        if pay:
            pays.append(pay)
    if not pays:
        # Nothing decodable: draw from whole records instead.
        pays = [r[4] for r in recs if r[4]] or [b"flowgrep"]
    blob = b"\x00".join(pays)
    low = blob.lower()
    rng = random.Random("%s:%s" % (seed, os.path.basename(path)))

    def slice_(lo, hi):
        p = rng.choice(pays)
        ln = min(len(p), rng.randint(lo, hi))
        o = rng.randint(0, len(p) - ln)
        return p, o, ln

    def one():
        k = rng.random()
        if k < 0.45:
            p, o, ln = slice_(3, 8)
            return lit(p[o:o + ln])
        if k < 0.58:
            p, o, ln = slice_(4, 8)
            s = [lit(p[o + i:o + i + 1]) for i in range(ln)]
            for _ in range(rng.randint(1, 2)):
                i = rng.randrange(ln)
                s[i] = cls(p[o + i])
            return "".join(s)
        if k < 0.70:
            alts = []
            for _ in range(rng.randint(2, 3)):
                p, o, ln = slice_(3, 6)
                alts.append(lit(p[o:o + ln]))
            if rng.random() < 0.5:
                return "|".join(alts)
            return "(?:%s)%s" % ("|".join(alts[1:]), alts[0])
        if k < 0.80:
            p, o, ln = slice_(8, 40)
            a = rng.randint(2, 4)
            b = rng.randint(2, 4)
            if ln < a + b + 1:
                return lit(p[o:o + ln])
            return "(?s)%s.{0,%d}%s" % (lit(p[o:o + a]), ln + 4,
                                       lit(p[o + ln - b:o + ln]))
        if k < 0.92:
            while True:
                ln = rng.randint(6, 10)
                bs = bytes(rng.randrange(256) for _ in range(ln))
                if bs not in blob and bs.lower() not in low:
                    return lit(bs)
        if k < 0.97:
            p = rng.choice(pays)
            return "^" + lit(p[:rng.randint(2, 6)])
        return ""

    out = []
    for _ in range(n):
        args = []
        if rng.random() < 0.25:
            args.append("-i")
        if rng.random() < 0.20:
            args += ["--depth", str(rng.choice([1, 8, 64, 512, 4096]))]
        if rng.random() < 0.10:
            args += ["--window", str(rng.choice([16, 100, 1000]))]
        for _ in range(rng.randint(1, 5)):
            args += [rng.choice(["-a", "-a", "-c", "-s"]), one()]
        out.append(" ".join(shlex.quote(a) for a in args))
    return out


# ---- comparisons ----

def multiset_problems(what, want, got):
    """Problems when the lists of keys want and got differ as multisets."""
    out = []
    w, g = Counter(want), Counter(got)
    if w == g:
        return out
    miss = w - g
    extra = g - w
    if miss:
        out.append("%s: %d records missing (first at %s)" %
                   (what, sum(miss.values()), show(min(miss))))
    if extra:
        out.append("%s: %d records too many (first at %s)" %
                   (what, sum(extra.values()), show(min(extra))))
    return out


def show(k):
    """A record key for people: time (seconds and fraction), lengths."""
    return "time %d s + %d, %d/%d bytes" % k[:4]


def subsequence(seq, of):
    """True when seq is a subsequence of of (each in the other's order)."""
    it = iter(of)
    return all(any(x == y for y in it) for x in seq)


def first_disorder(seq, of):
    """Index of the first record of seq that breaks of's order."""
    it = iter(of)
    for i, x in enumerate(seq):
        if not any(x == y for y in it):
            return i
    return -1


def flow_order_problems(what, lt, out, inp):
    """Within each flow key, out must keep inp's order."""
    groups_in, groups_out = {}, {}
    for k in inp:
        fk = decode(lt, k[4])[0]
        if fk is not None:
            groups_in.setdefault(fk, []).append(k)
    for k in out:
        fk = decode(lt, k[4])[0]
        if fk is not None:
            groups_out.setdefault(fk, []).append(k)
    bad = 0
    first = None
    for fk, seq in groups_out.items():
        if not subsequence(seq, groups_in.get(fk, [])):
            bad += 1
            if first is None:
                first = seq[first_disorder(seq, groups_in.get(fk, []))]
    if bad:
        return ["%s: %d flows not in input order (first at %s)" %
                (what, bad, show(first))]
    return []


class Capture:
    """An input's link type, precision and records."""

    def __init__(self, path):
        self.lt, self.nsec, self.raw, self.damage = read_any(path)


def load(cap, path):
    """Records of output path, keyed as cap's, and cap's keys."""
    try:
        nsec, recs = read_out(path)
    except pcapset.PcapError as e:
        raise pcapset.PcapError("flowgrep wrote a damaged pcap: %s" % e)
    coarse = not (cap.nsec and nsec)
    return keyed(recs, nsec, coarse), keyed(cap.raw, cap.nsec, coarse)


def run_problems(what, rc, errpath, written, dropped=0):
    """Exit status and statistics of one run; returns (problems, stats)."""
    out = []
    st, other = stats_of(errpath)
    if other:
        out.append("%s: standard error: %s" % (what, " | ".join(other[:3])))
    if rc not in ("0", "1"):
        out.append("%s: exit status %s" % (what, rc))
    if st is None:
        out.append("%s: no --stats-json line" % what)
        return out, {}
    if st.get("packets_written") != written:
        out.append("%s: packets_written %s, the output holds %d" %
                   (what, st.get("packets_written"), written))
    if dropped is not None and st.get("packets_dropped") != dropped:
        out.append("%s: packets_dropped %s, want %d" %
                   (what, st.get("packets_dropped"), dropped))
    sel = st.get("units_selected", 0)
    if rc in ("0", "1") and (rc == "0") != (sel > 0):
        out.append("%s: exit status %s with %d units selected" %
                   (what, rc, sel))
    return out, st


def rows(path):
    with open(path) as f:
        for line in f:
            yield line.rstrip("\n").split("\t")


# ---- part 1 ----

def check_sets(capath, d):
    """Per row of d/sets.tsv: I, exit statuses of the four runs, options.

    I.fa/I.fb: -r CAP and -v -r CAP; I.sa/I.sb: the same from standard
    input. Each has .pcap and .err (--stats-json). Checks: the file runs
    partition CAP's records, each in CAP's order; the stdin runs hold the
    same records as the file runs (within a flow in CAP's order; byte for
    byte when nothing was held); every run reads every record, drops
    nothing, and its exit status and counters agree with its output.
    """
    cap = Capture(capath)
    probs = []
    held_none = same = 0
    nsets = 0
    for f in rows(os.path.join(d, "sets.tsv")):
        i, rcs, args = f[0], f[1:5], f[5]
        nsets += 1
        p = []
        base = os.path.join(d, i)
        try:
            outs = {m: load(cap, "%s.%s.pcap" % (base, m))
                    for m in ("fa", "fb", "sa", "sb")}
        except pcapset.PcapError as e:
            probs.append("set %s (%s): %s" % (i, args, e))
            continue
        inp = outs["fa"][1]
        fa, fb, sa, sb = (outs[m][0] for m in ("fa", "fb", "sa", "sb"))
        p += multiset_problems("-w and -v -w together vs the input",
                               inp, fa + fb)
        for name, o in (("-w", fa), ("-v -w", fb)):
            j = first_disorder(o, inp)
            if j >= 0:
                p.append("%s: record %d (%s) out of input order" %
                         (name, j + 1, show(o[j])))
        stats = {}
        for m, rc, o in zip(("fa", "fb", "sa", "sb"), rcs, (fa, fb, sa, sb)):
            q, st = run_problems(m, rc, "%s.%s.err" % (base, m), len(o))
            p += q
            stats[m] = st
            if st and st.get("packets_read") != len(cap.raw):
                p.append("%s: packets_read %s, the input has %d records" %
                         (m, st.get("packets_read"), len(cap.raw)))
        for fm, sm, fo, so in (("fa", "sa", fa, sa), ("fb", "sb", fb, sb)):
            p += multiset_problems("stdin %s vs file %s" % (sm, fm), fo, so)
            p += flow_order_problems("stdin " + sm, cap.lt, so, inp)
            if rcs[("fa", "fb").index(fm)] != rcs[("sa", "sb").index(sm)]:
                p.append("stdin %s exit status %s, file %s" %
                         (sm, rcs[("sa", "sb").index(sm)],
                          rcs[("fa", "fb").index(fm)]))
            a = "%s.%s.pcap" % (base, fm)
            b = "%s.%s.pcap" % (base, sm)
            ba = open(a, "rb").read() if os.path.exists(a) else b""
            bb = open(b, "rb").read() if os.path.exists(b) else b""
            if ba[:24] != bb[:24]:
                p.append("stdin %s: file header differs from file %s's" %
                         (sm, fm))
            same += ba == bb
            if stats.get(sm, {}).get("packets_held") == 0:
                held_none += 1
                if ba != bb:
                    p.append("stdin %s held nothing, yet differs from file "
                             "%s byte for byte" % (sm, fm))
        probs += ["set %s (%s): %s" % (i, args, x) for x in p]
    print("%d sets, %d records; stdin as file byte for byte: %d of %d runs, "
          "%d holding nothing" % (nsets, len(cap.raw), same, 2 * nsets,
                                  held_none))
    if nsets == 0:
        probs.append("no option set was run")
    return probs


# ---- part 2 ----

def check_hold(capath, d, strict):
    """Per row of d/hold.tsv: I, F, --hold-mem, the exit statuses of F.fa,
    F.fb, I.sa, I.sb, I.warn, I.pa and I.pb, and the options.

    F.fa/F.fb: -r FILE, without and with -v: the reference (nothing held).
    I.sa/I.sb: the same from standard input with --hold-mem, fed so that
    reads do not depend on timing (props.py feed); I.pa/I.pb: the same
    through cat. Each stdin output holds only records its file run wrote,
    within a flow in input order, and misses at most packets_dropped of
    them; exactly that many when the other file run selected nothing
    (every held packet was then one it selects).
    Fed runs hold the same packets with and without -v, so drop the same:
    the records in neither output number exactly packets_dropped of each.
    I.warn.err is the fed -v run without --stats-json: one warning line
    naming that number. Some run must drop something (strict: something it
    selected, with -v and without), else the check would be vacuous.
    """
    cap = Capture(capath)
    probs = []
    total_drop = lost_a = lost_b = 0
    for f in rows(os.path.join(d, "hold.tsv")):
        i, fi, mem, rcs, args = f[0], f[1], f[2], f[3:10], f[10]
        rc = dict(zip(("fa", "fb", "sa", "sb", "warn", "pa", "pb"), rcs))
        p = []
        base = os.path.join(d, i)
        fbase = os.path.join(d, fi)
        modes = ("fa", "fb", "sa", "sb", "pa", "pb")
        try:
            outs = {m: load(cap, "%s.%s.pcap" %
                            (fbase if m[0] == "f" else base, m))
                    for m in modes}
        except pcapset.PcapError as e:
            probs.append("set %s (--hold-mem %s %s): %s" % (i, mem, args, e))
            continue
        inp = outs["fa"][1]
        o = {m: outs[m][0] for m in modes}
        p += multiset_problems("file -w and -v -w vs the input", inp,
                               o["fa"] + o["fb"])
        st = {}
        for m in modes:
            q, st[m] = run_problems(m, rc[m], "%s.%s.err" %
                                    (fbase if m[0] == "f" else base, m),
                                    len(o[m]), 0 if m[0] == "f" else None)
            p += q
        lost = {}
        for m in ("sa", "sb", "pa", "pb"):
            ref = o["f" + m[1]]
            extra = Counter(o[m]) - Counter(ref)
            if extra:
                p.append("%s: %d records its file run did not write "
                         "(first at %s)" % (m, sum(extra.values()),
                                            show(min(extra))))
            p += flow_order_problems(m, cap.lt, o[m], inp)
            lost[m] = sum((Counter(ref) - Counter(o[m])).values())
            dropped = st[m].get("packets_dropped")
            if dropped is None:
                continue
            # Every held packet is selected when the other run selects
            # nothing: then every drop is a loss.
            other = o["f" + ("b" if m[1] == "a" else "a")]
            if lost[m] > dropped or (not other and lost[m] != dropped):
                p.append("%s: %d selected records missing, packets_dropped "
                         "%d" % (m, lost[m], dropped))
            if rc[m] != rc["f" + m[1]]:
                p.append("%s: exit status %s, file run %s" %
                         (m, rc[m], rc["f" + m[1]]))
        da = st["sa"].get("packets_dropped")
        db = st["sb"].get("packets_dropped")
        if not (lost["sa"] + lost["sb"] == da == db):
            p.append("fed: %d records in neither output; packets_dropped "
                     "%s and, with -v, %s" % (lost["sa"] + lost["sb"], da,
                                              db))
        want = "%s: warning: %s held packets dropped: raise " \
            "--hold-mem" % (PROG, db)
        try:
            with open(base + ".warn.err", "rb") as fh:
                got = fh.read().decode("latin-1").splitlines()
        except OSError:
            got = ["(no file)"]
        if rc["warn"] != rc["fb"]:
            p.append("fed -v without --stats-json: exit status %s, file "
                     "run %s" % (rc["warn"], rc["fb"]))
        if db and got != [want]:
            p.append("fed -v without --stats-json: standard error %r, want "
                     "%r" % (" | ".join(got[:3]), want))
        if not db and got:
            p.append("fed -v without --stats-json: nothing dropped, yet "
                     "standard error %r" % " | ".join(got[:3]))
        total_drop += da or 0
        lost_a += lost["sa"]
        lost_b += lost["sb"]
        probs += ["set %s (--hold-mem %s %s): %s" % (i, mem, args, x)
                  for x in p]
    print("fed runs dropped %d records, with -v as without: %d selected, "
          "%d selected by -v" % (total_drop, lost_a, lost_b))
    if total_drop == 0 or (strict and (lost_a == 0 or lost_b == 0)):
        probs.append("no run dropped a record it selected (-w: %d, -v -w: "
                     "%d): the check is vacuous" % (lost_a, lost_b))
    return probs


# ---- generated captures ----

def pcap_writer(path, linktype=1):
    f = open(path, "wb")
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, linktype))
    return f


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ether_ip(src, dst, proto, l4):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64,
                     proto, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + l4


def tcp(sport, dport, seq, ack, flags, data):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff,
                       ack & 0xffffffff, 0x50, flags, 65535, 0, 0) + data


def gen_long(path):
    """Six TCP flows sending 40 segments each, round robin, so that every
    flow is undecided for most of the capture; "LATE-MATCH-TOKEN" in the
    36th segment of flows 1 and 4, "EARLY-TOKEN" in the 2nd of flow 2, a
    UDP conversation and ARP packets in between."""
    rng = random.Random(6)
    f = pcap_writer(path)
    t = [1704067200, 0]

    def put(frame):
        f.write(struct.pack("<IIII", t[0], t[1], len(frame), len(frame)))
        f.write(frame)
        t[1] += 1000
        if t[1] >= 1000000:
            t[0] += 1
            t[1] -= 1000000

    flows = []
    for n in range(6):
        c, s = (10, 1, 0, 10 + n), (10, 1, 0, 200)
        flows.append({"c": c, "s": s, "cp": 40000 + n, "sp": 80,
                      "cs": 1000 * (n + 1), "ss": 500000 * (n + 1)})
    for fl in flows:
        put(ether_ip(fl["c"], fl["s"], 6, tcp(fl["cp"], fl["sp"], fl["cs"],
                                               0, 0x02, b"")))
        put(ether_ip(fl["s"], fl["c"], 6, tcp(fl["sp"], fl["cp"], fl["ss"],
                                               fl["cs"] + 1, 0x12, b"")))
        fl["cs"] += 1
        fl["ss"] += 1
        put(ether_ip(fl["c"], fl["s"], 6, tcp(fl["cp"], fl["sp"], fl["cs"],
                                               fl["ss"], 0x10, b"")))
    words = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot",
             b"golf", b"hotel", b"india", b"juliet", b"kilo", b"lima"]
    for seg in range(40):
        for n, fl in enumerate(flows):
            body = b" ".join(rng.choice(words)
                             for _ in range(rng.randint(150, 220)))
            if seg == 35 and n in (1, 4):
                body = body[:500] + b"LATE-MATCH-TOKEN" + body[500:]
            if seg == 1 and n == 2:
                body = body[:100] + b"EARLY-TOKEN" + body[100:]
            put(ether_ip(fl["c"], fl["s"], 6, tcp(fl["cp"], fl["sp"],
                                                   fl["cs"], fl["ss"], 0x18,
                                                   body)))
            fl["cs"] += len(body)
            put(ether_ip(fl["s"], fl["c"], 6, tcp(fl["sp"], fl["cp"],
                                                   fl["ss"], fl["cs"], 0x10,
                                                   b"")))
        if seg % 8 == 3:
            udp = struct.pack("!HHHH", 5353, 5353, 8 + 40, 0) + bytes(40)
            put(ether_ip((10, 1, 0, 50), (10, 1, 0, 51), 17, udp))
            put(b"\xff" * 6 + b"\x02\0\0\0\0\x09\x08\x06" + bytes(28))
    for fl in flows:
        put(ether_ip(fl["c"], fl["s"], 6, tcp(fl["cp"], fl["sp"], fl["cs"],
                                               fl["ss"], 0x11, b"")))
        put(ether_ip(fl["s"], fl["c"], 6, tcp(fl["sp"], fl["cp"], fl["ss"],
                                               fl["cs"] + 1, 0x11, b"")))
        put(ether_ip(fl["c"], fl["s"], 6, tcp(fl["cp"], fl["sp"],
                                               fl["cs"] + 1, fl["ss"] + 1,
                                               0x10, b"")))
    f.close()


def to_pcapng(src, dst):
    lt, snap, nsec, recs = pcapset.read_pcap(src)
    with open(dst, "wb") as f:
        shb = struct.pack("<IIIHHq", 0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0, -1)
        f.write(shb + struct.pack("<I", 28))
        opt = b""
        if nsec:
            opt = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
        body = struct.pack("<HHI", lt, 0, snap) + opt
        f.write(struct.pack("<II", 1, 12 + len(body)) + body +
                struct.pack("<I", 12 + len(body)))
        for sec, frac, caplen, olen, data in recs:
            ts = sec * (10 ** 9 if nsec else 10 ** 6) + frac
            pad = (-caplen) % 4
            blen = 32 + caplen + pad
            f.write(struct.pack("<IIIIIII", 6, blen, 0, ts >> 32,
                                ts & 0xffffffff, caplen, olen))
            f.write(data + bytes(pad) + struct.pack("<I", blen))


# ---- part 3 ----

def layout(path):
    """(start offsets of the records, end of the last, end of the header).

    For pcapng only enhanced packet blocks after the first interface
    description are records (what tongng writes)."""
    with open(path, "rb") as f:
        buf = f.read()
    starts = []
    if buf[:4] == NG_MAGIC:
        off, hdr = 0, None
        while off + 8 <= len(buf):
            bt, bl = struct.unpack("<II", buf[off:off + 8])
            if bt == 6:
                starts.append(off)
            elif hdr is None and bt == 1:
                hdr = off + bl
            off += bl
        return starts, off, hdr
    e = "<" if buf[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    minor = struct.unpack(e + "H", buf[6:8])[0]
    off = 24
    while off + 16 <= len(buf):
        starts.append(off)
        cap, orig = struct.unpack(e + "II", buf[off + 8:off + 16])
        # Versions before 2.3 swapped the lengths, 2.3 maybe (libpcap).
        if minor < 3 or (minor == 3 and cap > orig):
            cap = orig
        off += 16 + cap
    return starts, off, 24


def trunc_plan(path, tail, sample, seed):
    starts, end, hdr = layout(path)
    rng = random.Random("%s:%s" % (seed, os.path.basename(path)))
    offs = set()
    if tail > 0 and starts:
        offs.update(range(starts[max(0, len(starts) - tail)], end + 1))
    offs.update(rng.sample(starts, min(len(starts), 24, sample)))
    # Into a few record headers: their first byte, their last, the data.
    for s in rng.sample(starts, min(len(starts), 8, sample // 3)):
        offs.update((s + 1, s + 15, s + 16, s + 17))
    offs.update((0, 1, hdr // 2, hdr - 1, end))
    offs.update(rng.randint(hdr, end) for _ in range(sample))
    bounds = starts + [end]
    for o in sorted(x for x in offs if 0 <= x <= end):
        k = sum(1 for s in bounds[1:] if s <= o)
        print(o, k, bounds[k])


def trunc_pick(path):
    """Two literals (printable, no regex syntax) as described above."""
    lt, _, recs, _ = read_any(path)
    dec = [decode(lt, r[4]) for r in recs]
    streams = {}
    for i, (fk, pay) in enumerate(dec):
        if fk is not None:
            streams.setdefault(fk, []).append((i, pay))
    whole = b"\x00".join(r[4] for r in recs)
    joined = [b"".join(p for _, p in v) for v in streams.values()]

    def unique(s):
        return whole.count(s) == 1 and sum(j.count(s) for j in joined) == 1

    def pick(i, last):
        pay = dec[i][1]
        rng = range(len(pay) - 6, -1, -1) if last else range(len(pay) - 5)
        for o in rng:
            for ln in (6, 8, 10):
                s = pay[o:o + ln]
                if len(s) == ln and re.fullmatch(rb"[A-Za-z0-9-]+", s) and \
                        unique(s):
                    return s.decode()
        return None

    out = []
    for i, (fk, pay) in enumerate(dec):
        if fk is not None and pay and len(streams[fk]) >= 3:
            s = pick(i, False)
            if s:
                out.append(s)
                break
    lastfk = dec[-1][0] if dec else None
    if lastfk is not None:
        for i, _ in reversed(streams[lastfk]):
            s = pick(i, True) if dec[i][1] else None
            if s and s not in out:
                out.append(s)
                break
    print(" ".join(out))


def check_trunc(capath, d, cutname, lits):
    """Per row of d/trunc.tsv: OFFSET K RECSTART MODE STATUS.

    The file cut at OFFSET holds K whole records. MODE fa/fv: -r CUT -a LIT
    for each LIT (no LIT: -a ''), fv with -v; sa/sv: the same from standard
    input. A run must exit 2 with exactly one line on standard error saying
    where the file ends when the cut is not at a record boundary, else 0
    or 1 with nothing there; and write what was decided from the K records:
    -a the records among them of the flows whose literal they hold (a flow
    is decided at its match), -v the other records among them.
    """
    cap = Capture(capath)
    hdr = layout(capath)[2]
    name = os.path.basename(capath)
    with open(capath, "rb") as f:
        ng = f.read(4) == NG_MAGIC
    recs = cap.raw
    dec = [decode(cap.lt, r[4])[0] for r in recs]
    # -a '' (lits empty) decides every unit at its first packet: each
    # record is its own "flow" here, decided as it is read.
    if not lits:
        dec = list(range(len(recs)))
    # Where each flow of a literal is decided: the record holding it.
    decided = {i: i for i in dec} if not lits else {}
    for s in lits:
        hits = [i for i, r in enumerate(recs) if s.encode() in r[4]]
        if len(hits) != 1 or dec[hits[0]] is None:
            return ["literal %r is in records %s of %s, want one record "
                    "of a flow (the capture changed: see truncpick)" %
                    (s, hits, name)]
        decided[dec[hits[0]]] = min(decided.get(dec[hits[0]], hits[0]),
                                    hits[0])
    probs = []
    full = os.path.join(d, "full.pcap")
    fk, ik = load(cap, full)
    want_full = [ik[i] for i in range(len(recs))
                 if dec[i] in decided]
    probs += multiset_problems("the uncut run vs the literals' flows",
                               want_full, fk)
    if probs:
        return probs
    nrows = 0
    for f in rows(os.path.join(d, "trunc.tsv")):
        off, k, recstart = int(f[0]), int(f[1]), int(f[2])
        mode, rc = f[3], f[4]
        nrows += 1
        p = []
        src = "standard input" if mode[0] == "s" else cutname
        mid = off != recstart
        base = os.path.join(d, "%d.%s" % (off, mode))
        try:
            with open(base + ".err", "rb") as fh:
                err = fh.read().decode("latin-1").splitlines()
        except OSError:
            err = ["(no standard error file)"]
        if off < hdr:
            # Cut in the file header (pcapng: before the first packet
            # block's interface): nothing to read, one line, exit 2.
            if ng:
                want_err = None
            elif off == 0:
                want_err = "%s: %s: file is empty" % (PROG, src)
            else:
                want_err = "%s: %s: file ends inside the pcap file " \
                    "header" % (PROG, src)
            if rc != "2":
                p.append("exit status %s, want 2" % rc)
            if len(err) != 1 or not err[0].startswith("%s: %s: " %
                                                      (PROG, src)) or \
                    (want_err is not None and err[0] != want_err):
                p.append("standard error %r, want one line%s" %
                         (" | ".join(err[:4]),
                          " %r" % want_err if want_err else ""))
            try:
                if read_out(base + ".pcap")[1]:
                    p.append("wrote records from a file without a header")
            except pcapset.PcapError as e:
                p.append(str(e))
        else:
            if mid:
                if ng and off - recstart < 4:
                    line = "block at byte offset %d: file ends in the " \
                        "middle of a block (truncated capture)" % recstart
                else:
                    line = "record %d at byte offset %d: file ends in the " \
                        "middle of a record (truncated capture)" % \
                        (k + 1, recstart)
                want_err = ["%s: %s: %s" % (PROG, src, line)]
            else:
                want_err = []
            sel = [i for i in range(k) if dec[i] in decided and
                   decided[dec[i]] < k]
            if mode[1] == "v":
                sel = sorted(set(range(k)) - set(sel))
            try:
                got, ik = load(cap, base + ".pcap")
            except pcapset.PcapError as e:
                got, ik = [], keyed(recs, cap.nsec, True)
                p.append(str(e))
            want = [ik[i] for i in sel]
            wrc = "2" if mid else ("0" if want else "1")
            if rc != wrc:
                p.append("exit status %s, want %s" % (rc, wrc))
            if err != want_err:
                p.append("standard error %r, want %r" %
                         (" | ".join(err[:4]), " | ".join(want_err)))
            q = multiset_problems("output vs the records decided before "
                                  "the cut", want, got)
            if not q and mode[0] == "f" and got != want:
                q.append("output not in input order")
            if not q and mode[0] == "s":
                q = flow_order_problems("output", cap.lt, got, ik)
            p += q
        probs += ["cut at %d (%d whole records), %s: %s" %
                  (off, k, mode, x) for x in p]
    print("%d runs on %d cuts" % (nrows, nrows // 4))
    if nrows == 0:
        probs.append("no cut was made")
    return probs


F_SETPIPE_SZ = 1031


def feed(path, cmd):
    with open(path, "rb") as f:
        data = f.read()
    r, w = os.pipe()
    try:
        size = fcntl.fcntl(w, F_SETPIPE_SZ, max(len(data), 4096))
    except OSError as e:
        sys.stderr.write("props.py feed: %s: a pipe cannot hold %d bytes: "
                         "%s\n" % (path, len(data), e))
        return 125
    if size < len(data):
        return 125
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]
    os.close(w)
    try:
        rc = subprocess.call(cmd, stdin=r)
    finally:
        os.close(r)
    return 128 - rc if rc < 0 else rc


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd, a = argv[0], argv[1:]
    if cmd == "patterns":
        for line in make_sets(a[0], a[1], int(a[2])):
            print(line)
        return 0
    if cmd == "feed":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return feed(a[0], a[1:])
    if cmd == "genlong":
        gen_long(a[0])
        return 0
    if cmd == "tongng":
        to_pcapng(a[0], a[1])
        return 0
    if cmd == "truncpick":
        trunc_pick(a[0])
        return 0
    if cmd == "truncplan":
        trunc_plan(a[0], int(a[1]), int(a[2]), a[3])
        return 0
    if cmd in ("partition", "hold", "trunc"):
        try:
            if cmd == "partition":
                probs = check_sets(a[0], a[1])
            elif cmd == "hold":
                probs = check_hold(a[0], a[1], a[2:] == ["strict"])
            else:
                probs = check_trunc(a[0], a[1], a[2], a[3:])
        except (pcapset.PcapError, OSError) as e:
            probs = ["%s" % e]
        for p in probs[:12]:
            print(p)
        if len(probs) > 12:
            print("... and %d more problems" % (len(probs) - 12))
        return 1 if probs else 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
