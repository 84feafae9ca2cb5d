#!/usr/bin/env python3
"""gen-patterns.py: a deterministic IOC-like pattern list for flowgrep -f.

Usage: gen-patterns.py N [SEED] > patterns.txt

Writes N patterns, one per line: N-1 indicators of compromise in the shapes
that threat feeds publish (domains, IPv4 addresses, file hashes, URL paths,
user agents, mutex and pipe names), about 70% plain literals (escaped for
PCRE2) and 30% simple regexes (classes, counted repeats, alternation), and
last the benchmark canary 'X-Flowgrep-Canary', so that the set selects
exactly the canary flows of a gen-bench-pcap.py capture and its output is
comparable with a one-pattern run.  Every pattern carries a literal of at
least 6 random characters, so none matches the generator's traffic by
chance.  The same N and SEED give the same file (random.Random only).
"""

import random
import re
import sys

TLDS = ["com", "net", "org", "ru", "xyz", "top", "info", "biz", "cn", "io"]
WORDS = ["update", "cdn", "login", "secure", "mail", "api", "static",
         "panel", "gate", "track", "sync", "auth", "files", "img"]
LOWER = "abcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"


def escape(s):
    """Escapes the PCRE2 metacharacters of a literal, and only those."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", s)


def token(rng, n, alphabet=LOWER):
    return "".join(rng.choice(alphabet) for _ in range(n))


def literal(rng):
    kind = rng.randrange(7)
    if kind == 0:
        return "%s-%s.%s" % (rng.choice(WORDS), token(rng, rng.randint(6, 12)),
                             rng.choice(TLDS))
    if kind == 1:
        # Dotted quads are written with the port a C2 beacon uses, so the
        # literal is long enough to be selective.
        return "%d.%d.%d.%d:%d" % (rng.randint(1, 223), rng.randint(0, 255),
                                   rng.randint(0, 255), rng.randint(1, 254),
                                   rng.choice([4444, 8443, 1337, 6667, 9001]))
    if kind == 2:
        return token(rng, rng.choice([32, 40, 64]), HEX)
    if kind == 3:
        return "/%s/%s.php?id=%s" % (token(rng, 5), rng.choice(WORDS),
                                     token(rng, 8, HEX))
    if kind == 4:
        return "User-Agent: %s/%d.%d" % (token(rng, 8).capitalize(),
                                         rng.randint(1, 9), rng.randint(0, 9))
    if kind == 5:
        return "Global\\%s_%s" % (token(rng, 6).upper(), token(rng, 6, HEX))
    return "\\\\.\\pipe\\%s%s" % (rng.choice(WORDS), token(rng, 7))


def regex(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return "%s[0-9]{2,4}\\.(%s)" % (token(rng, rng.randint(6, 9)),
                                        "|".join(rng.sample(TLDS, 3)))
    if kind == 1:
        return "/%s/[a-z]{3,8}\\.php\\?(id|uid|sid)=[0-9a-f]{8}" % token(rng, 7)
    if kind == 2:
        return "%s(or)?d=[^&\\s]{4,32}" % token(rng, 6)
    if kind == 3:
        return "User-Agent: [A-Za-z]+/%s[0-9]{1,3}" % token(rng, 7)
    if kind == 4:
        return "(GET|POST) /%s[a-z0-9_]*\\.(exe|dll|ps1) HTTP" % token(rng, 6)
    return "%s-[0-9a-f]{4}-[0-9a-f]{4}" % token(rng, 8, HEX)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: gen-patterns.py N [SEED]")
    n = int(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else 1
    if n < 1:
        sys.exit("gen-patterns.py: N must be at least 1")
    rng = random.Random(seed)
    seen = set()
    out = []
    while len(out) < n - 1:
        if rng.random() < 0.7:
            p = escape(literal(rng))
        else:
            p = regex(rng)
        if p not in seen:
            seen.add(p)
            out.append(p)
    out.append("X-Flowgrep-Canary")
    sys.stdout.write("".join(p + "\n" for p in out))


if __name__ == "__main__":
    main()
