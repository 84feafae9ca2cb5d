#!/usr/bin/env python3
"""sidefx.py: checks flowgrep's side effects (-l files, -k RSTs) against tshark.

Used by tests/cases.tsv and tests/e2e_live.sh; needs tshark.

  sidefx.py follow [--tcp LIST] [--udp LIST] [--times N] [--xlist FILE]
                   [--length-only STREAM:NODE]... CAPTURE DIR
      DIR must hold exactly the -l files flowgrep writes for the streams
      LIST (tshark's tcp.stream / udp.stream numbers, comma-separated, or
      "all"; default: every TCP stream, no UDP stream), and each file's bytes
      must be what tshark's "follow,tcp,raw" (or "follow,udp,raw") shows:
        TCP  one file per direction that carries bytes, named
             TIME-SRC-SPORT-DST-DPORT-tcp, SRC being that direction's
             sender; streams with the same name (port reuse within a second)
             are one file, appended in stream order;
        UDP  one file, both directions in order, named after tshark's node 0
             (the first sender) as SRC, ending in -udp.
      TIME is the stream's first packet, whole seconds since the epoch;
      addresses are in their canonical text form (RFC 5952 for IPv6).
      --times N: DIR was written by N identical runs, so each file must hold
      its bytes N times (appended, never truncated). --xlist FILE: FILE (what
      -x printed) must name each file of DIR exactly once, as DIR/NAME.
      --length-only S:N: for node N of stream S, compare lengths only (a
      stream where tshark's bytes are known to differ, e.g. overlapping
      segments, where tshark keeps the later copy and flowgrep the first).
      Prints "N files equal tshark's streams" and exits 0, or prints each
      difference and exits 1.

  sidefx.py rsts FILE
      One line per packet of FILE (a --kill-dry-run output), for the tables:
        +MSms [SRCMAC>DSTMAC [vlan OUTER,INNER]|raw] SRC:PORT>DST:PORT seq S ack A FLAGS
        cksum ok|BAD [len N]
      MS is milliseconds since 2024-01-01T00:00:00Z (the time of the first
      packet of every tests/mkcap.c capture, 1 ms per packet); FLAGS as
      "RST+ACK"; IPv6 addresses in brackets; "len N" only when a RST
      carries payload. Then "tshark: N RSTs".
"""

import argparse
import ipaddress
import os
import subprocess
import sys

T0 = 1704067200  # tests/mkcap.c's first packet, 2024-01-01T00:00:00Z


def tshark(args):
    r = subprocess.run(["tshark"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=False)
    if r.returncode != 0:
        sys.exit("tshark %s failed (%d)" % (" ".join(args), r.returncode))
    return r.stdout.decode("latin-1")


def canon(addr):
    return str(ipaddress.ip_address(addr.strip("[]")))


def split_node(text):
    """'[::1]:80' or '10.0.0.1:80' -> ('::1', '80')."""
    host, _, port = text.rpartition(":")
    return canon(host), port


def stream_list(spec, present):
    if spec == "all":
        return sorted(present)
    if spec == "":
        return []
    return [int(s) for s in spec.split(",")]


def first_times(capture, proto):
    """Stream number -> time of its first packet, whole seconds."""
    out = tshark(["-r", capture, "-Y", proto, "-T", "fields",
                  "-e", proto + ".stream", "-e", "frame.time_epoch"])
    t = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 2 or f[0] == "":
            continue
        s, sec = int(f[0]), int(float(f[1]))
        if s not in t or sec < t[s]:
            t[s] = sec
    return t


def follow(capture, proto, streams):
    """Stream -> (node0, node1, bytes from node 0, from node 1, in order)."""
    if not streams:
        return {}
    args = ["-r", capture, "-q"]
    for s in streams:
        args += ["-z", "follow,%s,raw,%d" % (proto, s)]
    out = tshark(args)
    res = {}
    cur = None
    for line in out.splitlines():
        if line.startswith("Filter: "):
            cur = {"s": int(line.rsplit(" ", 1)[1]), "node": [None, None],
                   "data": [bytearray(), bytearray()], "all": bytearray()}
            res[cur["s"]] = cur
        elif cur is None or line.startswith("==="):
            continue
        elif line.startswith("Node 0: ") or line.startswith("Node 1: "):
            # A stream tshark does not have shows as ":0".
            if not line[8:].startswith(":"):
                cur["node"][int(line[5])] = split_node(line[8:])
        elif line.startswith("Follow: "):
            continue
        elif line.strip():
            n = 1 if line.startswith("\t") else 0
            b = bytes.fromhex(line.strip())
            cur["data"][n] += b
            cur["all"] += b
    return res


def cmd_follow(a):
    problems = []
    want = {}  # name -> bytes
    loose = set()
    length_only = set()
    for spec in a.length_only:
        s, n = spec.split(":")
        length_only.add((int(s), int(n)))
    for proto, spec in (("tcp", a.tcp), ("udp", a.udp)):
        times = first_times(a.capture, proto)
        streams = stream_list(spec, times.keys())
        got = follow(a.capture, proto, streams)
        for s in streams:
            if s not in got or s not in times:
                problems.append("tshark has no %s stream %d" % (proto, s))
                continue
            st = got[s]
            if None in st["node"]:
                problems.append("tshark names no nodes for %s stream %d"
                                % (proto, s))
                continue
            if proto == "tcp":
                dirs = [(0, st["data"][0]), (1, st["data"][1])]
            else:
                dirs = [(0, st["all"])]
            for n, data in dirs:
                if not data:
                    continue
                (src, sport), (dst, dport) = st["node"][n], st["node"][1 - n]
                name = "%d-%s-%s-%s-%s-%s" % (times[s], src, sport, dst,
                                              dport, proto)
                want[name] = want.get(name, b"") + bytes(data)
                if (s, n) in length_only:
                    loose.add(name)
    have = set(os.listdir(a.dir))
    for name in sorted(set(want) - have):
        problems.append("missing file %s (%d bytes)" % (name, len(want[name])))
    for name in sorted(have - set(want)):
        problems.append("unexpected file %s" % name)
    for name in sorted(set(want) & have):
        with open(os.path.join(a.dir, name), "rb") as f:
            got = f.read()
        exp = want[name] * a.times
        if name in loose:
            if len(got) != len(exp):
                problems.append("%s: %d bytes, tshark %d" % (name, len(got),
                                                            len(exp)))
            continue
        if got != exp:
            i = 0
            while i < min(len(got), len(exp)) and got[i] == exp[i]:
                i += 1
            problems.append("%s: %d bytes, tshark %d, first difference at "
                            "offset %d: %r vs %r" % (
                                name, len(got), len(exp), i,
                                got[i:i + 16], exp[i:i + 16]))
    if a.xlist is not None:
        with open(a.xlist, encoding="latin-1") as f:
            lines = f.read().splitlines()
        paths = [os.path.join(a.dir, n) for n in sorted(want)]
        if sorted(lines) != sorted(paths):
            problems.append("-x printed %d lines, expected one per file: %s"
                            % (len(lines), " ".join(lines[:6])))
    if problems:
        for p in problems:
            print(p)
        return 1
    note = " (%d by length only)" % len(loose) if loose else ""
    print("%d files equal tshark's streams%s" % (len(want), note))
    return 0


def cmd_rsts(a):
    fields = ["frame.time_epoch", "eth.src", "eth.dst", "ieee8021ad.id",
              "vlan.id", "ip.src",
              "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
              "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags",
              "ip.checksum.status", "tcp.checksum.status", "tcp.len"]
    args = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            "-r", a.file, "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    n = 0
    for line in tshark(args).splitlines():
        v = dict(zip(fields, line.split("\t")))
        n += 1
        sec, _, frac = v["frame.time_epoch"].partition(".")
        ms = (int(sec) - T0) * 1000 + int((frac + "000")[:3])
        if v["eth.src"]:
            l2 = "%s>%s" % (v["eth.src"], v["eth.dst"])
            tags = [t for t in (v["ieee8021ad.id"], v["vlan.id"]) if t]
            if tags:
                l2 += " vlan " + ",".join(tags)
        else:
            l2 = "raw"
        if v["ip.src"]:
            src, dst = v["ip.src"], v["ip.dst"]
        else:
            src, dst = "[%s]" % v["ipv6.src"], "[%s]" % v["ipv6.dst"]
        flags = int(v["tcp.flags"] or "0", 16)
        names = [nm for bit, nm in ((0x02, "SYN"), (0x01, "FIN"),
                                   (0x04, "RST"), (0x08, "PSH"),
                                   (0x10, "ACK")) if flags & bit]
        ok = v["tcp.checksum.status"] == "1" and \
            v["ip.checksum.status"] in ("", "1")
        s = "+%dms %s %s:%s>%s:%s seq %s ack %s %s cksum %s" % (
            ms, l2, src, v["tcp.srcport"], dst, v["tcp.dstport"],
            v["tcp.seq_raw"], v["tcp.ack_raw"], "+".join(names) or "none",
            "ok" if ok else "BAD")
        if v["tcp.len"] not in ("", "0"):
            s += " len " + v["tcp.len"]
        print(s)
    print("tshark: %d RSTs" % n)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("follow")
    f.add_argument("--tcp", default="all")
    f.add_argument("--udp", default="")
    f.add_argument("--times", type=int, default=1)
    f.add_argument("--xlist")
    f.add_argument("--length-only", action="append", default=[])
    f.add_argument("capture")
    f.add_argument("dir")
    r = sub.add_parser("rsts")
    r.add_argument("file")
    a = p.parse_args()
    return cmd_follow(a) if a.cmd == "follow" else cmd_rsts(a)


if __name__ == "__main__":
    sys.exit(main())
