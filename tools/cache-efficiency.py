#!/usr/bin/env python3
"""Client side of tools/cache-efficiency.sh: the workloads, the lookups through a resolver and
the check of every answer against the lists read with Python's ipaddress module.

  cache-efficiency.py check LISTS...            prints the prefixes, exits 1 if one is wrong
  cache-efficiency.py run HOST PORT WORKLOAD N ZONE SEED LISTS... [--ad]
        WORKLOAD: listed (N random addresses in each listed /64), unlisted (in each /48) or
        unlisted-ent (in each of six unlisted /48s whose lookups branch at empty non-terminals);
        one query per lookup (A, RD=1, AD=1 so the resolver reports validation, no EDNS, as a
        stub client sends it); prints one line "lookups right ad wrong" and up to 5 wrong answers.
"""
import ipaddress
import random
import socket
import struct
import sys

# Six listed /64s (inside Spamhaus DROPv6 /48, /32 and /40 entries and fullbogons /32, /48 and
# /64 entries) and six unlisted /48s (allocated space, in neither list).
LISTED = ["2001:678:254:17::/64", "2a05:f682:1:2::/64", "2a12:dd47:8500:3::/64",
          "2001:d41:5:6::/64", "2001:df6:d201:9::/64", "2001:7fa:0:5::/64"]
UNLISTED = ["2a00:1450:4001::/48", "2001:4860:4860::/48", "2a03:2880:f003::/48",
            "2606:4700:4700::/48", "2400:cb00:2049::/48", "2a01:4f8:c17::/48"]
# Six unlisted /48s where BIND 9.18's aggressive NXDOMAIN fails without an RRset at each empty
# non-terminal (DNSBL article "DNSSEC"): two groups of three under one empty non-terminal B
# each (2a02:2800::/24 and 2c0f:f200::/28, no wildcard at B). The first /48 of a group sorts
# before every name below B, so the NSEC covering it is owned by a name outside B; the other
# two lie under two different children of B, so once their NSECs are cached BIND's tree of
# cached NSEC owners branches at B, an empty node: looking for the first /48's covering NSEC
# it lands on B, finds no NSEC there and asks upstream, every time. Found by simulating that
# lookup over the export's names (tools/cache-efficiency.sh measures it with the real BIND).
UNLISTED_ENT = ["2a02:283e:b50::/48", "2a02:285b:8143::/48", "2a02:28a9:4386::/48",
                "2c0f:f202:4029::/48", "2c0f:f218:7efa::/48", "2c0f:f24e:bf9c::/48"]


def read_lists(paths):
    nets = []
    for p in paths:
        with open(p) as f:
            for line in f:
                t = line.split(";")[0].split("#")[0].strip()
                if t and not t.startswith("$") and not t.startswith(":"):
                    nets.append(ipaddress.ip_network(t.split()[0], strict=False))
    return nets


def listed(nets, addr):
    return any(addr in n for n in nets)


class Listed:
    """`listed` by binary search over the lists' blocks (sorted by first address, with the
    greatest last address so far), as fast per lookup as the resolver answers."""

    def __init__(self, nets):
        import bisect
        self.bisect = bisect
        iv = sorted((int(n.network_address), int(n.broadcast_address)) for n in nets if n.version == 6)
        self.firsts = [a for a, _ in iv]
        self.reach, top = [], -1
        for _, b in iv:
            top = max(top, b)
            self.reach.append(top)

    def __contains__(self, addr):
        i = self.bisect.bisect_right(self.firsts, int(addr)) - 1
        return i >= 0 and self.reach[i] >= int(addr)


def check(nets):
    ok = True
    for p in LISTED:
        n = ipaddress.ip_network(p)
        if not any(n.subnet_of(x) for x in nets if x.version == 6):
            print(f"listed /64 {p} is not inside one listed block"); ok = False
    for p in UNLISTED + UNLISTED_ENT:
        n = ipaddress.ip_network(p)
        if any(n.overlaps(x) for x in nets if x.version == 6):
            print(f"unlisted /48 {p} overlaps the lists"); ok = False
    return ok


def nibble_name(addr, zone):
    h = addr.exploded.replace(":", "")
    return ".".join(reversed(h)) + "." + zone


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def ask(sock, addr, name, qid):
    # RD=1, AD=1 (RFC 6840 §5.7: the client asks to be told whether the answer validated).
    q = struct.pack(">HHHHHH", qid, 0x0120, 1, 0, 0, 0) + wire_name(name) + struct.pack(">HH", 1, 1)
    for _ in range(3):
        sock.sendto(q, addr)
        try:
            while True:
                m, _ = sock.recvfrom(4096)
                if struct.unpack(">H", m[:2])[0] == qid:
                    break
        except socket.timeout:
            continue
        flags, qd, an = struct.unpack(">HHH", m[2:8])
        i = 12
        for _ in range(qd):
            i = skip_name(m, i) + 4
        addrs = []
        for _ in range(an):
            i = skip_name(m, i)
            t, c, ttl, rdl = struct.unpack(">HHIH", m[i:i + 10])
            i += 10
            if t == 1 and rdl == 4:
                addrs.append(socket.inet_ntoa(m[i:i + 4]))
            i += rdl
        return flags & 0xF, bool(flags & 0x20), addrs
    return None


def run(host, port, workload, n, zone, seed, nets, want_ad):
    rng = random.Random(seed)
    blocks = [ipaddress.ip_network(p) for p in {"listed": LISTED, "unlisted": UNLISTED, "unlisted-ent": UNLISTED_ENT}[workload]]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    lookups = right = ad = 0
    wrong = []
    index = Listed(nets)
    for k in range(n):
        for b in blocks:  # rotate over the blocks, a new address each time
            a = b.network_address + rng.getrandbits(128 - b.prefixlen)
            name = nibble_name(a, zone)
            lookups += 1
            r = ask(sock, (host, port), name, (lookups * 7919) & 0xFFFF)
            expect_listed = a in index
            if r is None:
                wrong.append(f"{name}: no answer"); continue
            rcode, is_ad, addrs = r
            ok = (rcode == 0 and addrs == ["127.0.0.2"]) if expect_listed else (rcode == 3 and not addrs)
            if ok:
                right += 1
            else:
                wrong.append(f"{name}: rcode {rcode} {addrs} (expected {'listed' if expect_listed else 'NXDOMAIN'})")
            if is_ad:
                ad += 1
    print(lookups, right, ad, len(wrong))
    for w in wrong[:5]:
        print("  wrong:", w, file=sys.stderr)
    return 0


def question_key(m):
    i = 12
    while i < len(m) and m[i] != 0:
        i += m[i] + 1
    return m[:2] + m[12:i + 5]


def proxy(listen_host, listen_port, up_port, count_file):
    """A UDP relay in front of NSD (which has no query log): counts the queries it forwards,
    writing the count to count_file after each one."""
    import select
    down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    down.bind((listen_host, listen_port))
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    waiting, n = {}, 0
    while True:
        ready, _, _ = select.select([down, up], [], [])
        if down in ready:
            m, client = down.recvfrom(65535)
            waiting[question_key(m)] = client
            up.sendto(m, ("127.0.0.1", up_port))
            n += 1
            with open(count_file, "w") as f:
                f.write(f"{n}\n")
        if up in ready:
            m, _ = up.recvfrom(65535)
            # The answer echoes the ID and the question (case kept): match on both.
            client = waiting.pop(question_key(m), None)
            if client is None:
                for k in list(waiting):
                    if k[:2] == m[:2]:
                        client = waiting.pop(k); break
            if client:
                down.sendto(m, client)


if __name__ == "__main__":
    if sys.argv[1] == "proxy":
        proxy(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        sys.exit(0)
    if sys.argv[1] == "check":
        sys.exit(0 if check(read_lists(sys.argv[2:])) else 1)
    args = [a for a in sys.argv[2:] if a != "--ad"]
    host, port, workload, n, zone, seed = args[:6]
    sys.exit(run(host, int(port), workload, int(n), zone, int(seed), read_lists(args[6:]), "--ad" in sys.argv))
