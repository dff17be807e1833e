#!/usr/bin/env bash
# Soak test on loopback: mixed UDP and TCP load (tools/loadgen.c) at about half of the
# measured maximum while the served store is replaced every 5 s, alternating two stores
# compiled from real data (../shared/realdata) and now and then a corrupt candidate (which the
# server must refuse while it keeps serving). Every second it records the server's RSS, open
# file descriptors and threads, and probes known answers over UDP and TCP: a canary zone whose
# data never changes must answer exactly as expected, and the replaced zone must answer
# NOERROR or NXDOMAIN. A wrong answer is any mismatch; a lost one is a probe with no answer
# after a retry. Exits 1 on any wrong answer, on a server that died, or on an fd leak.
#
# usage: tools/soak.sh [--seconds N] [--bin PATH] [--workdir DIR] [--realdata DIR]
#   --seconds N   load duration (default 600; at most 600 per loadgen run)
#   --bin PATH    prefixbl binary (default .build/release/prefixbl, else .build/debug/prefixbl)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=600
BIN=""
WORK=""
# ../shared/realdata beside the repository (or beside a parent, for worktrees); PREFIXBL_REALDATA wins.
REALDATA="${PREFIXBL_REALDATA:-}"
if [ -z "$REALDATA" ]; then
  d=$(pwd)
  while [ "$d" != "/" ]; do
    if [ -d "$(dirname "$d")/shared/realdata" ]; then REALDATA="$(dirname "$d")/shared/realdata"; break; fi
    d=$(dirname "$d")
  done
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_TOTAL="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --workdir) WORK="$2"; shift 2 ;;
    --realdata) REALDATA="$2"; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$SECONDS_TOTAL" -gt 600 ]; then echo "soak: --seconds is at most 600" >&2; exit 2; fi
if [ -z "$BIN" ]; then
  if [ -x .build/release/prefixbl ]; then BIN=.build/release/prefixbl; else BIN=.build/debug/prefixbl; fi
fi
[ -x "$BIN" ] || { echo "soak: no binary at $BIN (swift build --product prefixbl)" >&2; exit 2; }
[ -d "$REALDATA" ] || { echo "soak: real data not found at $REALDATA" >&2; exit 2; }
WORK="${WORK:-$(mktemp -d /tmp/prefixbl-soak.XXXXXX)}"
mkdir -p "$WORK"
echo "soak: binary $BIN, work dir $WORK, ${SECONDS_TOTAL}s"

cc -O2 -Wall -o "$WORK/loadgen" tools/loadgen.c

# Two real-data stores for bl.example and a corrupt candidate.
"$BIN" compile "bl.example:ip4set:$REALDATA/spamhaus-drop.txt" "bl.example:ip6trie:$REALDATA/spamhaus-dropv6.txt" \
  -o "$WORK/a.pfxbl" 2>"$WORK/compile-a.log"
"$BIN" compile "bl.example:ip4set:$REALDATA/dnsbl-2.uceprotect.net.rbldnsd" -o "$WORK/b.pfxbl" 2>"$WORK/compile-b.log"
head -c $(( $(stat -c %s "$WORK/a.pfxbl") / 2 )) "$WORK/a.pfxbl" > "$WORK/corrupt.pfxbl"
cp "$WORK/a.pfxbl" "$WORK/serve.pfxbl"
# The canary zone never changes: its answers are checked exactly.
printf ':127.0.0.2:canary $\n192.0.2.1\n198.51.100.0/24\n' > "$WORK/canary.txt"

# Query mix: addresses from both real stores, plus canary names.
python3 - "$REALDATA" "$WORK/queries.txt" <<'PY'
import sys, random, ipaddress
real, out = sys.argv[1], sys.argv[2]
names = []
def v4names(path, n):
    got = []
    for line in open(path, errors="replace"):
        t = line.split(";")[0].split()
        if not t or t[0][0] in "#:$!": continue
        try: net = ipaddress.ip_network(t[0], strict=False)
        except ValueError: continue
        if net.version != 4: continue
        a = net.network_address + (1 if net.num_addresses > 1 else 0)
        got.append(".".join(reversed(str(a).split("."))) + ".bl.example")
    random.seed(7); random.shuffle(got); return got[:n]
names += v4names(f"{real}/spamhaus-drop.txt", 300)
names += v4names(f"{real}/dnsbl-2.uceprotect.net.rbldnsd", 300)
names += [f"{i}.{j}.0.203.bl.example" for i in range(10) for j in range(10)]  # mostly unlisted
names += ["1.2.0.192.canary.example", "7.100.51.198.canary.example", "9.9.0.192.canary.example"]
with open(out, "w") as f:
    for n in names: f.write(f"{n} A\n")
PY

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" --store "$WORK/serve.pfxbl" "canary.example:ip4set:$WORK/canary.txt" \
  --check-interval 1 --settle-delay 0.2 --force-reload --log-level info > "$WORK/server.log" 2>&1 &
PID=$!
# Every kill may find its process already gone: `|| true` on each, or set -e inside this EXIT trap
# turns that into the script's exit status (a clean soak then exited 1).
cleanup() {
  for p in "${PID:-}" "${LG1:-}" "${LG2:-}" "${CHK:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
"$WORK/loadgen" -p "$PORT" -d "$WORK/queries.txt" -P 50 -l 20 -q > /dev/null || { echo "soak: server did not answer"; cat "$WORK/server.log"; exit 1; }

# Maximum, then about half of it: UDP open loop at 40 % plus light pipelined TCP.
"$WORK/loadgen" -p "$PORT" -d "$WORK/queries.txt" -l 3 -Q 0 -q > "$WORK/max.txt" 2>&1 || true
MAX=$(grep -o 'qps=[0-9.]*' "$WORK/max.txt" | tail -1 | cut -d= -f2 | cut -d. -f1)
MAX=${MAX:-10000}
RATE=$(( MAX * 4 / 10 ))
echo "soak: measured maximum ${MAX} qps (UDP); offering ${RATE} qps UDP + 1 TCP connection (depth 1, as fast as answered)"

sample() {  # rss_kb fds threads
  local rss fds thr
  rss=$(awk '/^VmRSS/{print $2}' /proc/$PID/status 2>/dev/null || echo 0)
  fds=$(ls /proc/$PID/fd 2>/dev/null | wc -l)
  thr=$(awk '/^Threads/{print $2}' /proc/$PID/status 2>/dev/null || echo 0)
  echo "$rss $fds $thr"
}
read RSS0 FD0 THR0 < <(sample)

"$WORK/loadgen" -p "$PORT" -d "$WORK/queries.txt" -l "$SECONDS_TOTAL" -Q "$RATE" -t 2 -q > "$WORK/udp.txt" 2>&1 &
LG1=$!
"$WORK/loadgen" -p "$PORT" -d "$WORK/queries.txt" -l "$SECONDS_TOTAL" -T 1 -D 1 -t 2 -q > "$WORK/tcp.txt" 2>&1 &
LG2=$!

# The prober: every second, UDP and TCP, exact canary answers and sane bl.example answers.
python3 - "$PORT" "$SECONDS_TOTAL" "$WORK/probe.log" <<'PY' &
import socket, struct, sys, time, random
port, secs, log = int(sys.argv[1]), float(sys.argv[2]), open(sys.argv[3], "w")
def q(name, qid):
    m = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for l in name.split("."): m += bytes([len(l)]) + l.encode()
    return m + b"\x00" + struct.pack(">HH", 1, 1)
def parse(r):
    qid, flags, qd, an = struct.unpack(">HHHH", r[:8]); rc = flags & 15
    p = 12
    while r[p]: p += 1 + r[p]
    p += 5; addrs = []
    for _ in range(an):
        p += 2 if r[p] & 0xC0 == 0xC0 else 0
        t, c, ttl, rdl = struct.unpack(">HHIH", r[p:p+10]); p += 10
        if t == 1: addrs.append(".".join(map(str, r[p:p+4])))
        p += rdl
    return qid, rc, addrs
def ask(name, tcp):
    qid = random.randrange(65536); m = q(name, qid)
    for attempt in range(2):
        try:
            if tcp:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.sendall(struct.pack(">H", len(m)) + m)
                ln = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]; r = s.recv(ln, socket.MSG_WAITALL); s.close()
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
                s.sendto(m, ("127.0.0.1", port)); r = s.recv(4096); s.close()
            got = parse(r)
            if got[0] == qid: return got[1:]
        except Exception:
            pass
    return None
checks = [("1.2.0.192.canary.example", (0, ["127.0.0.2"])), ("7.100.51.198.canary.example", (0, ["127.0.0.2"])),
          ("9.9.0.192.canary.example", (3, []))]
sane = ["1.2.0.203.bl.example", "2.0.0.127.bl.example", "1.16.10.1.bl.example"]
probes = wrong = lost = 0
end = time.time() + secs
while time.time() < end:
    t0 = time.time()
    for tcp in (False, True):
        for name, want in checks:
            probes += 1; got = ask(name, tcp)
            if got is None: lost += 1; print(f"{time.time():.0f} LOST {'tcp' if tcp else 'udp'} {name}", file=log, flush=True)
            elif got != want: wrong += 1; print(f"{time.time():.0f} WRONG {'tcp' if tcp else 'udp'} {name} got {got} want {want}", file=log, flush=True)
        for name in sane:
            probes += 1; got = ask(name, tcp)
            if got is None: lost += 1; print(f"{time.time():.0f} LOST {'tcp' if tcp else 'udp'} {name}", file=log, flush=True)
            elif got[0] not in (0, 3): wrong += 1; print(f"{time.time():.0f} WRONG {'tcp' if tcp else 'udp'} {name} rcode {got[0]}", file=log, flush=True)
    time.sleep(max(0, 1 - (time.time() - t0)))
print(f"PROBES probes={probes} wrong={wrong} lost={lost}", file=log, flush=True)
PY
CHK=$!

# Every second: a resource sample; every 5 s: replace the store (a, b, a, corrupt, …).
echo "t rss_kb fds threads" > "$WORK/resources.txt"
i=0; swaps=0; corrupt=0
while kill -0 "$LG1" 2>/dev/null; do
  sleep 1; i=$((i + 1))
  kill -0 "$PID" 2>/dev/null || { echo "soak: SERVER DIED at ${i}s"; tail -20 "$WORK/server.log"; exit 1; }
  echo "$i $(sample)" >> "$WORK/resources.txt"
  if [ $((i % 5)) -eq 0 ]; then
    case $(( (i / 5) % 4 )) in
      0) src=a ;; 1) src=b ;; 2) src=a ;; 3) src=corrupt; corrupt=$((corrupt + 1)) ;;
    esac
    cp "$WORK/$src.pfxbl" "$WORK/serve.tmp" && mv "$WORK/serve.tmp" "$WORK/serve.pfxbl"
    swaps=$((swaps + 1))
  fi
done
wait "$LG1" || true; wait "$LG2" || true; wait "$CHK" || true
read RSS1 FD1 THR1 < <(sample)
kill -0 "$PID" 2>/dev/null || { echo "soak: SERVER DIED"; exit 1; }

field() { grep -o "$2=[0-9.]*" "$1" | tail -1 | cut -d= -f2; }
USENT=$(field "$WORK/udp.txt" sent); ULOST=$(field "$WORK/udp.txt" lost)
TSENT=$(field "$WORK/tcp.txt" sent); TLOST=$(field "$WORK/tcp.txt" lost)
PROBE=$(grep '^PROBES' "$WORK/probe.log" || echo "PROBES probes=0 wrong=0 lost=0")
WRONG=$(echo "$PROBE" | grep -o 'wrong=[0-9]*' | cut -d= -f2)
PLOST=$(echo "$PROBE" | grep -o 'lost=[0-9]*' | cut -d= -f2)
RELOADS=$(grep -c "\] reloaded" "$WORK/server.log" || true)
REFUSED=$(grep -c 'reload refused' "$WORK/server.log" || true)
echo "SOAK seconds=$SECONDS_TOTAL max_qps=$MAX offered_udp_qps=$RATE udp_sent=${USENT:-0} udp_lost=${ULOST:-0} tcp_sent=${TSENT:-0} tcp_lost=${TLOST:-0}"
echo "SOAK probes: $PROBE"
echo "SOAK store swaps=$swaps (corrupt candidates=$corrupt) reloads_logged=$RELOADS refusals_logged=$REFUSED"
echo "SOAK rss_kb start=$RSS0 end=$RSS1 fds start=$FD0 end=$FD1 threads start=$THR0 end=$THR1"
echo "SOAK details in $WORK (resources.txt, probe.log, server.log)"
status=0
if [ "${WRONG:-1}" != "0" ]; then echo "soak: FAIL: $WRONG wrong answers"; grep WRONG "$WORK/probe.log" | head; status=1; fi
if [ "$FD1" -gt $((FD0 + 4)) ]; then echo "soak: FAIL: file descriptors grew from $FD0 to $FD1"; status=1; fi
if [ "$corrupt" -gt 0 ] && [ "$REFUSED" -eq 0 ]; then echo "soak: FAIL: corrupt candidates were not refused"; status=1; fi
exit $status
