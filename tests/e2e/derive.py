#!/usr/bin/env python3
"""derive.py: the flows flowgrep should select in a capture, worked out with tshark.

Usage: derive.py [-i] [-v] FILE (-a RE | -c RE | -s RE)...
       derive.py --table tests/corpus.tsv [CORPUS_DIR]

Prints, sorted and one per line, the TCP and UDP flows in which a pattern
matches, in the form flowgrep's report uses ("tcp [vlan A,B] CLIENT ->
SERVER"). It is how the expectations of tests/corpus.tsv were derived, so
that they do not come from flowgrep itself. -v prints the tshark commands on
standard error. --table derives every line of the table again and prints
"same" or "differs" for each (the table's comments explain the lines where
flowgrep's rules and tshark's view differ); it takes a minute or two.

TCP: each direction's bytes come from tshark's own reassembly,
    tshark -r FILE -q -z follow,tcp,raw,N
for every tcp.stream N; a match never spans a "[n bytes missing in capture
file]" gap. tshark puts the same 5-tuple in different VLANs into one
tcp.stream; such a stream is split per VLAN ID set first
(tshark -r FILE -Y 'frame.number in {...}' -w PART), as flowgrep keys flows
by VLAN IDs.
UDP: every datagram is matched on its own (tshark reassembles IP fragments):
    tshark -r FILE -Y udp -T fields -e udp.stream -e udp.payload ...
Client (DESIGN.md section 2): the sender of a SYN without ACK, else the
receiver of a SYN+ACK, else the endpoint with the higher port (equal ports:
the first sender). For UDP, the first sender.

Known differences from flowgrep's rules, which the tables note where they
matter: tshark's follow keeps the bytes that fill a hole even when they
overlap bytes seen earlier (flowgrep keeps the first seen) and shows payload
carried on RST segments (flowgrep drops it).
"""

import os
import re
import subprocess
import sys
import tempfile

VERBOSE = False
GAP = re.compile(rb"^\[\d+ bytes missing in capture file\]\x00?$")


def tshark(args):
    cmd = ["tshark"] + args
    if VERBOSE:
        print(" ".join(cmd), file=sys.stderr)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.decode("utf-8", "replace")


def endpoint(addr, port):
    if ":" in addr:
        return "[%s]:%s" % (addr, port)
    return "%s:%s" % (addr, port)


def last(field):
    """The innermost value of a field that tunnels repeat (IP in IP)."""
    return field.split(",")[-1] if field else ""


def tcp_packets(path):
    out = tshark(["-r", path, "-Y", "tcp && !icmp && !icmpv6", "-T",
                  "fields", "-E", "separator=/t", "-e", "frame.number",
                  "-e", "tcp.stream", "-e", "vlan.id", "-e", "ieee8021ad.id",
                  "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                  "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                  "-e", "tcp.flags.syn", "-e", "tcp.flags.ack"])
    pkts = []
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 12 or not f[1]:
            continue
        vl = [v for v in (f[3].split(",") if f[3] else []) +
              (f[2].split(",") if f[2] else [])]
        src = endpoint(last(f[5]) or last(f[4]), last(f[6]))
        dst = endpoint(last(f[8]) or last(f[7]), last(f[9]))
        pkts.append({"frame": int(f[0]), "stream": int(last(f[1])),
                     "vlan": ",".join(vl), "src": src, "dst": dst,
                     "sport": int(last(f[6])), "dport": int(last(f[9])),
                     "syn": last(f[10]) in ("1", "True"),
                     "ack": last(f[11]) in ("1", "True")})
    return pkts


def client_of(pkts):
    """Returns (client, server) endpoints of one flow's packets."""
    for p in pkts:
        if p["syn"] and not p["ack"]:
            return p["src"], p["dst"]
    for p in pkts:
        if p["syn"] and p["ack"]:
            return p["dst"], p["src"]
    p = pkts[0]
    if p["sport"] > p["dport"] or p["sport"] == p["dport"]:
        return p["src"], p["dst"]
    return p["dst"], p["src"]


def follow(path, stream):
    """Returns {node endpoint: [gap-free byte runs]} of a TCP stream."""
    out = tshark(["-r", path, "-q", "-z", "follow,tcp,raw,%d" % stream])
    nodes = {}
    runs = {0: [b""], 1: [b""]}
    for line in out.splitlines():
        m = re.match(r"^Node ([01]): (.*)$", line)
        if m:
            nodes[int(m.group(1))] = m.group(2)
            continue
        if not line.strip() or line.startswith(("=", "Follow", "Filter")):
            continue
        d = 1 if line.startswith("\t") else 0
        try:
            chunk = bytes.fromhex(line.strip())
        except ValueError:
            continue
        if GAP.match(chunk):
            runs[d].append(b"")
        else:
            runs[d][-1] += chunk
    return {nodes.get(0): runs[0], nodes.get(1): runs[1]}


def search(pats, runs, which):
    for where, rx in pats:
        if where in ("a", which):
            for r in runs:
                if rx.search(r):
                    return True
    return False


def derive_tcp(path, pats):
    pkts = tcp_packets(path)
    groups = {}
    for p in pkts:
        groups.setdefault((p["stream"], p["vlan"]), []).append(p)
    per_stream = {}
    for s, v in groups:
        per_stream[s] = per_stream.get(s, 0) + 1
    found = []
    for (s, v), gp in sorted(groups.items()):
        client, server = client_of(gp)
        if per_stream[s] == 1:
            dirs = follow(path, s)
        else:
            with tempfile.TemporaryDirectory() as td:
                part = os.path.join(td, "part.pcap")
                frames = ",".join(str(p["frame"]) for p in gp)
                tshark(["-r", path, "-Y", "frame.number in {%s}" % frames,
                        "-F", "pcap", "-w", part])
                dirs = follow(part, 0)
        c = dirs.get(client, [b""])
        sv = dirs.get(server, [b""])
        if search(pats, c, "c") or search(pats, sv, "s"):
            found.append("tcp %s%s -> %s" % ("vlan %s " % v if v else "",
                                             client, server))
    return found


def derive_udp(path, pats):
    out = tshark(["-r", path, "-Y", "udp && !icmp && !icmpv6", "-T",
                  "fields", "-E", "separator=/t", "-e", "udp.stream",
                  "-e", "vlan.id", "-e", "ieee8021ad.id", "-e", "ip.src",
                  "-e", "ipv6.src", "-e", "udp.srcport", "-e", "ip.dst",
                  "-e", "ipv6.dst", "-e", "udp.dstport", "-e", "udp.payload"])
    flows = {}
    hit = set()
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 10 or not f[0]:
            continue
        vl = ",".join((f[2].split(",") if f[2] else []) +
                      (f[1].split(",") if f[1] else []))
        key = (last(f[0]), vl)
        src = endpoint(last(f[4]) or last(f[3]), last(f[5]))
        dst = endpoint(last(f[7]) or last(f[6]), last(f[8]))
        if key not in flows:
            flows[key] = (src, dst)
        client, server = flows[key]
        which = "c" if src == client else "s"
        data = bytes.fromhex(last(f[9]).replace(":", ""))
        if search(pats, [data], which):
            hit.add("udp %s%s -> %s" % ("vlan %s " % vl if vl else "",
                                        client, server))
    return sorted(hit)


def derive(path, pats, flags):
    """The sorted flows of path in which one of pats ((where, re)) matches."""
    # Patterns are bytes regexes: payload is bytes, not UTF-8, as in flowgrep.
    cpats = [(w, re.compile(p.encode("latin-1"), flags)) for w, p in pats]
    return sorted(derive_tcp(path, cpats) + derive_udp(path, cpats))


def check_table(table, corpus):
    import shlex
    for line in open(table):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        fields = [f for f in line.split("\t") if f]
        if len(fields) != 3:
            print("malformed: %s" % line)
            continue
        name, args, expected = fields
        words = shlex.split(args)
        flags = re.IGNORECASE if "-i" in words else 0
        pats = [(words[i][1], words[i + 1]) for i in range(len(words) - 1)
                if words[i] in ("-a", "-c", "-s")]
        want = [] if expected == "none" else sorted(expected.split(" | "))
        got = derive(os.path.join(corpus, name), pats, flags)
        if got == want:
            print("same     %s %s" % (name, args))
        else:
            print("differs  %s %s: tshark says %s" %
                  (name, args, " | ".join(got) or "none"))


def main(argv):
    global VERBOSE
    if argv and argv[0] == "--table" and len(argv) in (2, 3):
        check_table(argv[1], argv[2] if len(argv) == 3 else
                    os.environ.get("FLOWGREP_CORPUS", "../shared/corpus"))
        return
    flags = 0
    pats = []
    path = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-i":
            flags |= re.IGNORECASE
        elif a == "-v":
            VERBOSE = True
        elif a in ("-a", "-c", "-s") and i + 1 < len(argv):
            pats.append((a[1], argv[i + 1]))
            i += 1
        elif path is None:
            path = a
        else:
            sys.exit(__doc__)
        i += 1
    if path is None or not pats:
        sys.exit(__doc__)
    for line in derive(path, pats, flags):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
