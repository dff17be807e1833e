#!/usr/bin/env bash
# User-space instructions per UDP answer of `prefixbl serve`, measured with callgrind.
#
# Usage: tools/callgrind-answer.sh BINARY MODE [QUERIES]
#   MODE  plain   UDP queries without EDNS
#         cookie  UDP queries with EDNS and a client cookie plus the valid server cookie the
#                 first answer handed out (RFC 7873)
#         aclkey  as plain, the zone with an aclkey dataset of 1,000 keys and every name
#                 carrying one of them (a 26-character key, Spamhaus DQS style) below the apex
#         edns    UDP queries with EDNS, DO=0, no cookie (the zone signed: DO=0 takes the
#                 unsigned path)
#         dnssec  the same with DO=1: signed answers, signatures from the cache (the warm-up
#                 made them)
#         dnssec-nocache  DO=1 with --dnssec-signature-cache 1: nearly every RRset signed
#                 anew; prints the signatures made while counting (from /metrics)
#         dnssec-new  DO=1, every counted name asked once and never before: random addresses
#                 under a fixed set of gaps — listed IPv6 wildcard ranges (/36, /40, /47, /48,
#                 /64), an excluded /64, unlisted IPv6 ranges, and in an extra IPv4 dataset
#                 (ip4trie: 10.0.0.0/8 and 172.16.0.0/16 listed, 10.9.0.0/16 excluded) listed,
#                 excluded and unlisted IPv4 addresses — A and TXT, seeded; the warm-up asks
#                 1,000 other names of the same gaps (the gaps are warm, the names are not):
#                 what a DNSBL behind caching resolvers sees from bots rotating addresses
#         edns-new  the same names and data with DO=0 (the baseline for dnssec-new)
#         dnssec-gaps-proof  DO=1, every counted name in an NSEC gap whose proof is not in the
#                 proof cache: the MISS path (StoreZoneView.wireProof) with warm signatures,
#                 as tools/dnssec-cost.sh --queries mix sees it. Extra datasets of GAPS
#                 (default 50,000) random IPv6 prefixes (/29-/64, lengths not multiple of 4
#                 included) and GAPS random IPv4 prefixes (/20-/32), seeded; each name is a
#                 random address strictly between two neighbouring listed ranges, one name per
#                 gap, half IPv6 half IPv4, A. The warm-up asks every counted name once (their
#                 NSECs signed and cached) and then EVICT (default 12,000) names of other
#                 gaps, which evict the counted names' proofs from the 4,096-entry per-thread
#                 proof cache
#         dnssec-gaps  as dnssec-gaps-proof with a warm-up of 1,000 names of other gaps only:
#                 each counted name's proof AND its NSEC signatures are new (proof plus signing)
#         edns-gaps  the names, data and warm-up of dnssec-gaps-proof with DO=0 (the baseline)
#         dnset   a domain list (DNSET_FILE, default the real phishing list
#                 ../shared/realdata/blocklistproject-phishing-nl.txt, read in place) compiled
#                 into a store and served as dnset zone dn.example with a $SOA; the names are
#                 made from the list with a fixed seed as tools/compare-rbldnsd.sh --dnset makes
#                 them: 1/3 listed, 1/3 a new label under a listed name, 1/3 not listed
#   QUERIES  how many queries to count (default 4000)
#
# Serves the bundled zones/ with `--threads 1` under valgrind, collection toggled on the UDP
# worker loop (UDPServer.serve(fd:): recvmmsg, the whole answer path, sendmmsg). A client
# waits for the server, learns the server cookie and sends 200 warm-up queries (first answers
# build whatever is built lazily); the counters are then zeroed and the counted queries sent
# from one socket, 16 in flight (names cycle over a listed A, a listed TXT, an unlisted name
# and an IPv6 name). Prints the collected instructions divided by the answers received.
# Needs valgrind, objcopy and python3. Loopback only.
#
# KEEP=PATH keeps the callgrind output for `callgrind_annotate` (e.g. `callgrind_annotate
# --inclusive=yes PATH`): written to PATH, or to PATH/callgrind.out.MODE when PATH is a
# directory. Without it the work directory, output included, is deleted.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?binary}; mode=${2:?mode: plain, cookie, aclkey, edns, dnssec, dnssec-nocache, dnssec-new, edns-new, dnssec-gaps, dnssec-gaps-proof, edns-gaps or dnset}; n=${3:-4000}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
# Valgrind 3.19 cannot read the DWARF 5 of a Swift build; the symbol table is enough.
objcopy --strip-debug "$bin" "$work/prefixbl"
extra=()
if [ "$mode" = aclkey ]; then
  # 1,000 keys, the one queried among them; unknown keys get no reply.
  { echo ":ignore"; for i in $(seq 1 999); do printf 'key%023d :pass\n' "$i"; done
    echo "dqskey0123456789abcdefghij :pass"; } >"$work/keys"
  extra=("bl.example:aclkey:$work/keys")
fi
zones=(bl.example:ip4set:zones/bl.example.ip4set bl.example:ip6trie:zones/bl.example.ip6trie)
: >"$work/names"
if [ "$mode" = dnset ]; then
  dfile=$(realpath "${DNSET_FILE:-../shared/realdata/blocklistproject-phishing-nl.txt}")
  echo '$SOA 3600 ns1.example.net hostmaster.example.net 2026113001 600 300 86400 300' >"$work/soa"
  "$work/prefixbl" compile "dn.example:dnset:$work/soa,$dfile" -o "$work/dn.store" >"$work/compile.log" 2>&1
  zones=(--store "$work/dn.store")
  # The recipe and seed of compare-rbldnsd.sh --dnset; the first $n + 200 names.
  python3 - "$dfile" "$work/names" "$((n + 200))" <<'PY'
import random, sys
src, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = [l.strip() for l in open(src) if l.strip() and l[0] not in "#;:!.*$"]
listed = set(names)
rnd = random.Random(5782)
def label(): return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randint(3, 12)))
qs = []
for i in range(count):
    n = rnd.choice(names)
    k = i % 3
    if k == 1:
        n = label() + "." + n
    elif k == 2:
        n = label() + "." + n.split(".", 1)[-1] if "." in n else label() + "." + n
        while n in listed:
            n = label() + "." + n
    q = n + ".dn.example"
    if len(q) > 250:
        q = names[0] + ".dn.example"
    qs.append(q + "\n")
open(out, "w").writelines(qs)
PY
fi
case "$mode" in
  dnssec-new|edns-new)
    printf '%s\n' '$SOA 3600 ns1.bl.example hostmaster.example.org 1 3600 600 604800 300' \
      ':127.0.0.2:Listed, see https://bl.example/lookup?ip=$' 10.0.0.0/8 '!10.9.0.0/16' 172.16.0.0/16 >"$work/new.ip4trie"
    zones+=("bl.example:ip4trie:$work/new.ip4trie")
    # The first $n names are counted, the last 1,000 are the warm-up; all distinct.
    python3 - "$work/names" "$((n + 1000))" <<'PY'
import ipaddress, random, sys
out, count = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1207)
gaps = [  # (network, what)
    ("2001:db8:c000::/36", "listed"), ("3fff:0:a00::/40", "listed"), ("2001:db8:abcc::/47", "listed"),
    ("2001:db8:1::/52", "listed"), ("2001:db8:0:1::/64", "listed"), ("2001:db8:1:5::/64", "excluded"),
    ("2001:db9::/32", "unlisted"), ("2001:db8:3::/48", "unlisted"), ("3fff:1::/32", "unlisted"),
    ("2001:db8:9000::/36", "unlisted"),
    ("10.0.0.0/8", "listed"), ("172.16.0.0/16", "listed"), ("10.9.0.0/16", "excluded"),
    ("11.0.0.0/8", "unlisted"), ("172.17.0.0/16", "unlisted"), ("203.0.114.0/24", "unlisted"),
]
def name(net, a):
    if net.version == 6:
        return ".".join(reversed(ipaddress.IPv6Address(a).exploded.replace(":", ""))) + ".bl.example"
    return ".".join(reversed(str(ipaddress.IPv4Address(a)).split("."))) + ".bl.example"
seen, lines = set(), []
while len(lines) < count:
    net = ipaddress.ip_network(rnd.choice(gaps)[0])
    a = int(net.network_address) + rnd.randrange(net.num_addresses)
    if net.prefixlen < 16 and (a >> 24) == 10 and ((a >> 16) & 0xFF) == 9:
        continue  # 10.9/16 is its own gap
    q = name(net, a)
    if q in seen:
        continue
    seen.add(q)
    lines.append("%s %d\n" % (q, 16 if rnd.random() < 0.25 else 1))
open(out, "w").writelines(lines)
PY
    ;;
  dnssec-gaps|dnssec-gaps-proof|edns-gaps)
    # Random listed prefixes; names: one random address inside each of n + EVICT distinct gaps.
    python3 - "$work/names" "$n" "${GAPS:-50000}" "$work/gaps.ip6trie" "$work/gaps.ip4trie" "${EVICT:-12000}" <<'PY'
import ipaddress, random, sys
out, n, g, f6, f4, evict = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
rnd = random.Random(1213)
def ranges(bits, lo, hi, lens, count):
    rs = []
    for _ in range(count):
        l = rnd.choice(lens)
        a = rnd.randrange(lo, hi) >> (bits - l) << (bits - l)
        rs.append((a, a | ((1 << (bits - l)) - 1), l))
    return rs
def merged(rs):
    m = []
    for a, b, _ in sorted(rs):
        if m and a <= m[-1][1] + 1:
            m[-1][1] = max(m[-1][1], b)
        else:
            m.append([a, b])
    return m
r6 = ranges(128, 0x2000 << 112, 0x3fff << 112, [29, 32, 36, 40, 47, 48, 52, 56, 61, 63, 64], g)
r4 = ranges(32, 1 << 24, 224 << 24, [20, 22, 24, 27, 29, 30, 31, 32], g)
with open(f6, "w") as f:
    f.write(":127.0.0.2:v6\n")
    f.writelines("%s/%d\n" % (ipaddress.IPv6Address(a), l) for a, _, l in r6)
with open(f4, "w") as f:
    f.write(":127.0.0.3:v4\n")
    f.writelines("%s/%d\n" % (ipaddress.IPv4Address(a), l) for a, _, l in r4)
def gaps(m):
    return [(m[i][1] + 1, m[i + 1][0] - 1) for i in range(len(m) - 1) if m[i + 1][0] - m[i][1] > 1]
g6, g4 = gaps(merged(r6)), gaps(merged(r4))
rnd.shuffle(g6); rnd.shuffle(g4)
def name(a, v6):
    if v6:
        return ".".join(reversed(ipaddress.IPv6Address(a).exploded.replace(":", ""))) + ".bl.example"
    return ".".join(reversed(str(ipaddress.IPv4Address(a)).split("."))) + ".bl.example"
need = n + max(1000, evict)
if need > 2 * min(len(g6), len(g4)):
    sys.exit("GAPS too small for %d names" % need)
lines = []
for i in range(need):
    v6 = i % 2 == 0
    a, b = (g6 if v6 else g4)[i // 2]
    lines.append("%s 1\n" % name(rnd.randint(a, b), v6))
open(out, "w").writelines(lines)
PY
    zones+=("bl.example:ip6trie:$work/gaps.ip6trie" "bl.example:ip4trie:$work/gaps.ip4trie")
    ;;
esac
signing=()
mport=$((port + 1))
case "$mode" in
  edns|dnssec|dnssec-nocache|dnssec-new|edns-new|dnssec-gaps|dnssec-gaps-proof|edns-gaps)
    # A KSK and a ZSK for bl.example (ldns-keygen, ldnsutils).
    ksk=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 -k bl.example)
    zsk=$(cd "$work" && ldns-keygen -a ECDSAP256SHA256 bl.example)
    signing=(--dnssec-key "$work/$ksk" --dnssec-key "$work/$zsk" --metrics "127.0.0.1:$mport")
    [ "$mode" = dnssec-nocache ] && signing+=(--dnssec-signature-cache 1)
    ;;
esac
valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*UDPServerC5serve*' \
  --callgrind-out-file="$work/cg.out" "$work/prefixbl" serve --threads 1 --listen "127.0.0.1:$port" \
  "${zones[@]}" "${extra[@]}" "${signing[@]}" \
  >"$work/serve.log" 2>&1 &
pid=$!
cat >"$work/client.py" <<'PY'
import os, socket, struct, sys, time
step, port, mode, n, state, namefile = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
names = ["10.2.0.192.bl.example", "2.0.0.127.bl.example", "1.0.0.127.bl.example",
         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"]
types = [1, 16, 1, 1]
if mode == "aclkey":
    names = [n.replace(".bl.example", ".dqskey0123456789abcdefghij.bl.example") for n in names]
if mode == "dnset":
    # warm-up: the last 200 names; counted: the first n, each once
    names = [l.strip() for l in open(namefile)]
    names = names[n:] + names[:n] if step == "warm" else names[:n]
    types = [1]
warm = 200
# Seconds to wait for an answer (valgrind signing a batch of new NSECs on a loaded machine
# can take longer than 2 s; a timed-out name is not counted and, in the warm-up, not warmed).
timeout = 20 if mode in ("dnssec-gaps", "dnssec-gaps-proof", "edns-gaps") else 2
if mode in ("dnssec-new", "edns-new"):
    # warm-up: the last 1,000 names; counted: the first n, each once
    pairs = [l.split() for l in open(namefile)]
    pairs = pairs[n:] if step == "warm" else pairs[:n]
    names, types, warm = [p[0] for p in pairs], [int(p[1]) for p in pairs], 1000
if mode in ("dnssec-gaps", "dnssec-gaps-proof", "edns-gaps"):
    pairs = [l.split() for l in open(namefile)]
    if step == "warm":
        pairs = pairs[n:n + 1000] if mode == "dnssec-gaps" else pairs[:n] + pairs[n:]
    else:
        pairs = pairs[:n]
    names, types, warm = [p[0] for p in pairs], [int(p[1]) for p in pairs], len(pairs)
def wire(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
def query(i, cookie):
    name, qtype = names[i % len(names)], types[i % len(types)]
    edns = mode in ("cookie", "edns", "dnssec", "dnssec-nocache", "dnssec-new", "edns-new", "dnssec-gaps",
                    "dnssec-gaps-proof", "edns-gaps")
    m = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 1 if edns else 0)
    m += wire(name) + struct.pack(">HH", qtype, 1)
    if mode in ("edns", "dnssec", "dnssec-nocache", "dnssec-new", "edns-new", "dnssec-gaps", "dnssec-gaps-proof",
                "edns-gaps"):
        m += b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000 if mode not in ("edns", "edns-new", "edns-gaps") else 0, 0)
    elif mode == "cookie":
        opt = struct.pack(">HH", 10, len(cookie)) + cookie
        m += b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(opt)) + opt
    return m
def send(s, addr, count, cookie):
    got = 0
    for start in range(0, count, 16):
        stop = min(count, start + 16)
        for i in range(start, stop):
            s.sendto(query(i, cookie), addr)
        for i in range(start, stop):
            try:
                s.recvfrom(4096); got += 1
            except socket.timeout:
                break
    return got
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = ("127.0.0.1", port)
if step == "warm":
    s.settimeout(timeout)
    client = os.urandom(8)
    deadline = time.time() + 300
    while True:
        try:
            s.sendto(query(0, client), addr)
            r, _ = s.recvfrom(4096)
            break
        except (socket.timeout, ConnectionRefusedError):
            if time.time() > deadline:
                sys.exit("no answer from the server")
            time.sleep(0.5)
    i = r.rfind(b"\x00\x0a\x00\x18")
    cookie = r[i + 4:i + 28] if mode == "cookie" and i >= 0 else client
    open(state, "wb").write(cookie)
    s.settimeout(timeout)
    send(s, addr, warm, cookie)
else:
    s.settimeout(timeout)
    print(send(s, addr, n, open(state, "rb").read()))
PY
python3 "$work/client.py" warm "$port" "$mode" "$n" "$work/cookie" "$work/names"
signed() {
  [ ${#signing[@]} -gt 0 ] || { echo 0; return; }
  python3 - "$mport" <<'PY'
import sys, urllib.request
page = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=30).read().decode()
print(sum(float(l.split()[-1]) for l in page.splitlines() if l.startswith("prefixbl_dnssec_signatures_made_total")))
PY
}
callgrind_control -z "$pid" >/dev/null 2>&1
before=$(signed)
answered=$(python3 "$work/client.py" run "$port" "$mode" "$n" "$work/cookie" "$work/names")
after=$(signed)
kill -INT "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""
if [ -n "${KEEP:-}" ]; then
  if [ -d "$KEEP" ]; then cp "$work/cg.out" "$KEEP/callgrind.out.$mode"; else cp "$work/cg.out" "$KEEP"; fi
fi
ir=$(grep -E '^(summary|totals):' "$work/cg.out" | head -1 | awk '{print $2}')
echo "mode=$mode answered=$answered instructions=$ir per_answer=$(python3 -c "print(round($ir / max($answered, 1), 1))") signatures_made=$(python3 -c "print(int($after - $before))")"
