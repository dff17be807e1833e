#!/usr/bin/env python3
"""Ask two DNS servers the same queries and report where their answers differ.

usage: dns-diff.py QUERYFILE HOST:PORT HOST:PORT [--count N] [--seed S] [--ttl]

QUERYFILE is dnsperf-style (`NAME TYPE` per line). N queries (default 2000) are sampled with a
fixed seed, sent over UDP to both servers (2 tries, 1 s timeout each) and compared on: RCODE,
the AA bit, the ANSWER RRset (type + RDATA, as a set; TTLs too with --ttl), and whether an SOA
is in AUTHORITY. Prints a summary line `DIFF compared=N differ=N timeouts=N` (last line) and
up to 10 differing queries. Exit status 0 = identical, 1 = differences, 2 = usage error.
Standard library only; loopback use, a few seconds for 2000 queries.
"""

import argparse
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
         "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def build(qid, name, qtype):
    q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


def skip_name(m, o):
    while True:
        ln = m[o]
        if ln == 0:
            return o + 1
        if ln & 0xC0 == 0xC0:
            return o + 2
        o += 1 + ln


def parse(m):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", m[:12])
    o = 12
    for _ in range(qd):
        o = skip_name(m, o) + 4
    answers, auth_types = [], []
    for i in range(an + ns):
        o = skip_name(m, o)
        t, c, ttl, rdl = struct.unpack("!HHIH", m[o:o + 10])
        rd = m[o + 10:o + 10 + rdl]
        o += 10 + rdl
        if i < an:
            answers.append((t, rd.hex(), ttl))
        else:
            auth_types.append(t)
    return {"rcode": flags & 0xF, "aa": bool(flags & 0x400), "tc": bool(flags & 0x200),
            "answers": answers, "soa_in_auth": 6 in auth_types}


def ask(sock, addr, name, qtype, qid):
    pkt = build(qid, name, qtype)
    for _ in range(2):
        sock.sendto(pkt, addr)
        try:
            while True:
                m, _ = sock.recvfrom(4096)
                if len(m) >= 12 and struct.unpack("!H", m[:2])[0] == qid:
                    return parse(m)
        except socket.timeout:
            continue
    return None


def norm(r, ttl):
    if r is None:
        return None
    ans = sorted((t, rd, ttl_) if ttl else (t, rd) for t, rd, ttl_ in r["answers"])
    return (RCODES.get(r["rcode"], r["rcode"]), r["aa"], tuple(ans), r["soa_in_auth"])


def hostport(s):
    h, p = s.rsplit(":", 1)
    return (h.strip("[]"), int(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("queries")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ttl", action="store_true", help="compare TTLs too")
    a = ap.parse_args()
    lines = [l.split() for l in open(a.queries) if l.strip() and not l.startswith("#")]
    rng = random.Random(a.seed)
    sample = rng.sample(lines, min(a.count, len(lines)))
    sa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sa.settimeout(1.0)
    sb.settimeout(1.0)
    A, B = hostport(a.a), hostport(a.b)
    differ, timeouts, shown = 0, 0, 0
    for i, q in enumerate(sample):
        name, qtype = q[0], TYPES.get(q[1].upper() if len(q) > 1 else "A", 1)
        ra = norm(ask(sa, A, name, qtype, (i * 2 + 1) & 0xFFFF), a.ttl)
        rb = norm(ask(sb, B, name, qtype, (i * 2 + 2) & 0xFFFF), a.ttl)
        if ra is None or rb is None:
            timeouts += 1
        if ra != rb:
            differ += 1
            if shown < 10:
                shown += 1
                print("  %s %s\n    %s: %s\n    %s: %s" % (name, q[1] if len(q) > 1 else "A",
                      a.a, ra, a.b, rb))
    print("DIFF compared=%d differ=%d timeouts=%d" % (len(sample), differ, timeouts))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
