#!/usr/bin/env python3
"""Writes the committed seed corpora under tools/fuzz/seeds/ (deterministic; rerun after edits).

wire:   real queries for the bundled zone bl.example (A, TXT, ANY, SOA, NS, partial names, IPv6
        nibble names, 0x20 case, EDNS with NSID), one query per bug case (C1-C23) and the
        malformed set of the hostile corpus (pointer loops, long labels and names, bad counts,
        misplaced or doubled OPT, RDLENGTH past the end, odd classes, opcodes, QR=1), plus a
        few TCP streams of several frames.
source: the bundled zone files and each bug case's data, one file per seed.
store:  not written here: images made once with `prefixbl compile` (bundled zones; a C7-like
        IPv6 set) and committed as seeds/store/*.store.
"""
import ipaddress, os, struct

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))

def name(text):
    out = b""
    for label in [l for l in text.split(".") if l]:
        out += bytes([len(label)]) + label.encode("latin-1")
    return out + b"\0"

def hdr(id=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", id, flags, qd, an, ns, ar)

def question(n, qtype=1, qclass=1):
    return name(n) + struct.pack(">HH", qtype, qclass)

def opt(size=1232, ttl=0, rdata=b""):
    return b"\0" + struct.pack(">HHIH", 41, size, ttl, len(rdata)) + rdata

def query(n, qtype=1, qclass=1, edns=None, id=0x1234, flags=0x0100):
    m = hdr(id=id, flags=flags, ar=1 if edns is not None else 0) + question(n, qtype, qclass)
    return m + (opt(edns) if edns is not None else b"")

def v4(a, zone="bl.example"):
    return ".".join(reversed(a.split("."))) + "." + zone

def v6(a, zone="bl.example", nibbles=32):
    h = ipaddress.IPv6Address(a).exploded.replace(":", "")
    return ".".join(reversed(h[:nibbles])) + "." + zone

A, NS, SOA, TXT, AAAA, ANY, MX, PTR = 1, 2, 6, 16, 28, 255, 15, 12
wire = {}
def add(label, m): wire[label] = m

# Real queries for the bundled zone.
for t, tn in [(A, "a"), (TXT, "txt"), (ANY, "any"), (AAAA, "aaaa")]:
    add(f"bundled-127.0.0.2-{tn}", query(v4("127.0.0.2"), t))
    add(f"bundled-192.0.2.200-{tn}", query(v4("192.0.2.200"), t, edns=1232))
add("bundled-127.0.0.1-a", query(v4("127.0.0.1")))
add("bundled-apex-soa", query("bl.example", SOA))
add("bundled-apex-ns", query("bl.example", NS, edns=4096))
add("bundled-apex-any", query("bl.example", ANY))
add("bundled-ns1", query("ns1.bl.example", A))
add("bundled-partial-v4", query("2.0.192.bl.example", A))
add("bundled-v6-test-point", query(v6("::2"), TXT, edns=1232))
add("bundled-v6-mapped", query(v6("::ffff:7f00:2"), A))
add("bundled-v6-partial", query(v6("2001:db8::", nibbles=12), A))
add("bundled-0x20", query("2.0.0.127.Bl.ExAmPlE", A))
add("bundled-nsid", hdr(ar=1) + question(v4("127.0.0.2"), TXT) + opt(1232, 0x8000, struct.pack(">HH", 3, 0)))
add("bundled-ch-version", query("version.bind", TXT, 3))
add("bundled-outside", query("example.org", A))
# Bug cases (queries; the fixed store of the wire target differs, the shapes matter).
add("C1-partial", query("2.0.192.bl.example"))
add("C1-listed-txt", query("10.2.0.192.bl.example", TXT))
add("C2-nibbles", query(v6("2001:db8:abcd::5", nibbles=12), A))
add("C2-full", query(v6("2001:db8:abcd::5"), A))
add("C3-nx-below", query("b.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"))
add("C4-nodata", query("20.2.0.192.bl.example", MX))
add("C6-excluded", query("130.2.0.192.bl.example"))
add("C7-long-txt", query(v6("2001:db8:5::1"), TXT))
add("C7-long-txt-edns", query(v6("2001:db8:5::1"), TXT, edns=1232))
add("C8-six-txt", query("66.2.0.192.bl.example", TXT))
add("C10-two-a", query("44.2.0.192.bl.example", A))
add("C12-test-entry", query(v6("::2"), A))
add("C13-21-labels", query("2.d.0.5.e.f.f.f.1.9.c.3.0.f.8.b.d.1.0.0.2.bl.example"))
add("C13-33-nibbles", query("0." + v6("2001:db8::f03c:91ff:fe50:d2")))
add("C16-short-form", query(v6("2001:db8:0:1::25"), TXT))
add("C18-nested", query(v6("2001:db8::a"), TXT))
add("C21-case", query(v6("2001:db8::a").upper().replace("BL.EXAMPLE", "Bl.ExAmPlE"), A))
add("C23-rfc5952", query(v6("2001:db8:0:1::abc"), TXT))
# Malformed set (the hostile corpus, see Robustness.md).
tc = struct.pack(">HH", 1, 1)
add("bad-ptr-self", hdr() + b"\xc0\x0c" + tc)
add("bad-ptr-loop2", hdr() + b"\x01a\xc0\x0c" + tc)
add("bad-ptr-forward", hdr() + b"\xc0\x12" + tc + b"\x01a\0")
add("bad-ptr-oob", hdr() + b"\xff\xff" + tc)
q = question(v4("127.0.0.2"))
own = 12 + len(q)
add("bad-ptr-loop-in-answer", hdr(an=1) + q + struct.pack(">H", 0xC000 | own) + struct.pack(">HHIH", 1, 1, 0, 4) + b"\1\2\3\4")
add("bad-label-64", hdr() + b"\x40" + b"a" * 64 + name("bl.example") + tc)
add("bad-name-256", hdr() + (b"\x3f" + b"a" * 63) * 4 + b"\0" + tc)
add("bad-qdcount-0", hdr(qd=0))
add("bad-qdcount-2", hdr(qd=2) + q + q)
add("bad-header-11", hdr()[:11])
add("bad-header-only", hdr())
add("bad-question-truncated", hdr() + b"\x07bl")
add("bad-no-qclass", hdr() + name("bl.example") + b"\0\1")
add("bad-opt-in-answer", hdr(an=1) + q + opt())
add("bad-opt-in-authority", hdr(ns=1) + q + opt())
add("bad-two-opt", hdr(ar=2) + q + opt() + opt())
add("bad-opt-rdlength", hdr(ar=1) + q + b"\0" + struct.pack(">HHIH", 41, 1232, 0, 100))
add("bad-rr-rdlength", hdr(ar=1) + q + b"\0" + struct.pack(">HHIH", 1, 1, 0, 100) + b"\1\2")
add("edns-0", query(v4("127.0.0.2"), TXT, edns=0))
add("edns-65535", query(v4("127.0.0.2"), TXT, edns=65535))
add("edns-version-1", hdr(ar=1) + q + opt(1232, 0x00010000))
add("type-65280", query(v4("127.0.0.2"), 65280))
add("class-42", query(v4("127.0.0.2"), A, 42))
add("class-any", query(v4("127.0.0.2"), A, 255))
for op in (1, 2, 4, 5, 15):
    add(f"opcode-{op}", query("bl.example", SOA, flags=0x0100 | op << 11))
add("qr-1", query("bl.example", SOA, flags=0x8100))
add("axfr", query("bl.example", 252))
# TCP streams: several frames in one input (the wire target also splits its input as a stream).
def framed(m): return struct.pack(">H", len(m)) + m
add("stream-three", framed(query(v4("127.0.0.2"))) + framed(query("bl.example", SOA)) + framed(query(v6("::2"), TXT)))
add("stream-zero-frame", framed(query(v4("127.0.0.2"))) + b"\0\0" + framed(query("bl.example", SOA)))
add("stream-lying-length", b"\x01\x00" + query(v4("127.0.0.2")))

def write(target, files):
    d = os.path.join(here, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for label, data in files.items():
        with open(os.path.join(d, label), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} seeds")

write("wire", wire)

source = {}
for f in ("bl.example.ip4set", "bl.example.ip6trie"):
    with open(os.path.join(root, "zones", f), "rb") as fh:
        source["bundled-" + f] = fh.read()
source["C1"] = b":127.0.0.2:Listed, see https://bl.example/q?$\n192.0.2.10\n"
source["C2"] = b":127.0.0.2:Listed\n2001:db8:abcc::/47\n"
source["C4"] = b":127.0.0.2:\n192.0.2.20\n"
source["C6-v4"] = b"!198.51.100.0/24\n:127.0.0.2:Listed $\n198.51.100.7\n192.0.2.0/24\n!192.0.2.128/25\n192.0.2.200\n"
source["C6-v6"] = b"!2001:db8:1::/48\n:127.0.0.2:Listed $\n2001:db8::/32\n2001:db8:1:2::/64\n"
source["C7"] = b"2001:db8::/32 :127.0.0.2:" + b"x" * 400 + b" $\n2001:db8:5::/48 :127.0.0.3:" + b"y" * 200 + b" $\n"
source["C12"] = b"::2 :127.0.10.0:test entry\n::2/128\n0:0:0:0:0:0:0:2\n"
source["C16"] = b":127.0.0.2:Listed $\n2001:db8:0:1\n2001:db8:c000/36\n!2001:db8:0:1::25\n"
source["C18"] = b"2001:db8::/32      :127.0.0.4:broad $\n2001:db8::a/128    :127.0.0.5:specific $\n"
source["C23"] = b":127.0.0.2:Listed, see https://bl.example/q?ip=$\n2001:db8:0:1::/64\n"
source["specials"] = (b"$SOA 1h ns1.bl.example hostmaster.example.org 0 1h 15m 1w 5m\n$NS 1d ns1.bl.example\n"
                      b"$TTL 35m\n$TIMESTAMP 2026:11:01 2027:01:01\n$MAXRANGE4 /16\n$0 zero\n$= base [$] $0\n"
                      b"#$TTL 1h\n:$TTL 2h\n192.0.2.0-192.0.2.77 :7:range\n10.1\n192.0.2\n203.0.113.5 5\n")
source["latin1-comment"] = b"# caf\xe9 \xff\xfe\n192.0.2.1 ; comment\n\t 198.51.100.1  trailing  \r\n"
write("source", source)
