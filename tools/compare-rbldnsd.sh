#!/usr/bin/env bash
# compare-rbldnsd.sh — prefixbl and rbldnsd serving the same data on loopback, measured in one
# run, alternating, printed side by side with the ratio prefixbl/rbldnsd.
#
# usage: tools/compare-rbldnsd.sh [--quick] [--runs N] [--no-build] [--prefixbl PATH]
#                                 [--rbldnsd-only] [--work DIR] [--budget SECONDS] [--window N]
#                                 [--report RESULTS.tsv] [--nice N] [--parse-only]
#                                 [--dnset FILE]
#
#   --quick          one run, 3 s per measurement, three open-loop rates (about 2 minutes)
#   --runs N         repetitions of the serving measurements (default 3; medians are printed)
#   --no-build       do not run `swift build -c release`; use --prefixbl or .build/release
#   --prefixbl PATH  the prefixbl binary to measure
#   --rbldnsd-only   measure rbldnsd alone (prefixbl columns print n/a)
#   --work DIR       data, binaries, logs and results (default /tmp/prefixbl-bench)
#   --budget S       stop starting new repetitions after S seconds (default 600, quick 120)
#   --window N       queries in flight for the capacity runs (default 256)
#   --report FILE    only print the table for an earlier results file
#   --parse-only     only the parse/compile figures (issue 2: compile throughput vs rbldnsd)
#   --dnset FILE     only a domain list (issue 13): FILE served as dnset zone dn.example by
#                    both; parse/compile, cpu/q at dnsperf -Q 50000 (RUNS runs) and rss, with
#                    queries made from FILE (1/3 listed names, 1/3 a new label under a listed
#                    name, 1/3 unlisted names); the generated IP data is not used
#   --nice N         run in a session of its own whose scheduler autogroup has nice N (e.g.
#                    -10 on a machine where other jobs compete; both servers get the same
#                    treatment). Plain nice does nothing against other sessions when
#                    /proc/sys/kernel/sched_autogroup_enabled is 1; this slows the others.
#
# What it measures (servers on 127.0.0.1 only; the server pinned to core 0 and the load on
# core 1 unless said otherwise; data: tools/gen-data.py, 1M IPv6 + 1M IPv4 lines, zone
# bl.example, and the real files in ../shared/realdata):
#   parse/compile  rbldnsd: start to first answer with one data set (it parses before it
#                  answers) and its own "zones reloaded, time Xe" figure; prefixbl: wall time of
#                  `prefixbl compile`, and lines/s; store bytes.
#   ttfa           start to first answered query (NOERROR with an answer), 1M+1M set; prefixbl
#                  from a compiled store (--store) and from source specs (compiled at start).
#   cpu/q          server utime+stime (/proc/PID/stat) ÷ answers, at dnsperf -Q 50000 and 100000.
#   capacity       answered qps with tools/loadgen (sendmmsg/recvmmsg, -w in flight): pinned
#                  (server core 0, loadgen core 1) and unpinned (both share both cores).
#   loss/latency   tools/loadgen open loop at fixed rates: loss %, p50 and p99 µs.
#   tcp            pipelined TCP qps (rbldnsd has no TCP).
#   rss            VmRSS of the server after the measurements (prefixbl's mapped store pages
#                  count once touched), and VmHWM.
#   diff           tools/dns-diff.py: answers of both servers compared on 2000 sampled queries.
# Every command run is appended to WORK/commands.log; results to WORK/results-*.tsv.
set -uo pipefail

QUICK=0 RUNS=3 BUILD=1 PBL="" ONLY_RBL=0 WORK=${PREFIXBL_BENCH_DIR:-/tmp/prefixbl-bench}
BUDGET="" WINDOW=256 REPORT_ONLY="" NICE=0 PARSE_ONLY=0 DNSET=""
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; RUNS=1 ;;
        --runs) RUNS=$2; shift ;;
        --no-build) BUILD=0 ;;
        --prefixbl) PBL=$2; shift ;;
        --rbldnsd-only) ONLY_RBL=1 ;;
        --work) WORK=$2; shift ;;
        --budget) BUDGET=$2; shift ;;
        --window) WINDOW=$2; shift ;;
        --report) REPORT_ONLY=$2; shift ;;
        --nice) NICE=$2; shift ;;
        --parse-only) PARSE_ONLY=1 ;;
        --dnset) DNSET=$(realpath "$2"); shift ;;
        -h|--help) sed -n '2,45p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$NICE" != 0 ] && [ -z "${PREFIXBL_BENCH_SESSION:-}" ]; then
    PREFIXBL_BENCH_SESSION=1 exec setsid -w "$0" "${ARGS[@]}"
fi
if [ "$NICE" != 0 ]; then
    echo "$NICE" > /proc/self/autogroup 2>/dev/null || echo "could not set autogroup nice" >&2
fi
if [ "$QUICK" = 1 ]; then
    QUIET_WAIT=${QUIET_WAIT:-1}
    D_CPU=3 D_CAP=3 D_LAT=2 D_TCP=2 RATES="40000 100000 150000" PARSE_RUNS=1
    BUDGET=${BUDGET:-120}
else
    D_CPU=8 D_CAP=8 D_LAT=5 D_TCP=5 RATES="40000 60000 80000 100000 120000 150000" PARSE_RUNS=3
    BUDGET=${BUDGET:-600}
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
T0=$SECONDS
DATA=$WORK/data
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=$WORK/results-$STAMP.tsv
CMDLOG=$WORK/commands.log
PORT_R=${PORT_R:-5391}
PORT_P=${PORT_P:-5392}
ZONE=bl.example
CLK=$(getconf CLK_TCK)
mkdir -p "$WORK" "$DATA"
: > "$RES"

log() { printf '%s\n' "$*" >&2; }
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RES"; }  # metric, server, value
run() { printf '%s\n' "$*" >> "$CMDLOG"; "$@"; }             # logged command
now_us() { echo "${EPOCHREALTIME/./}"; }
left() { echo $(( BUDGET - (SECONDS - T0) )); }

realdata=${PREFIXBL_REALDATA:-}
if [ -z "$realdata" ]; then
    d=$ROOT
    while [ "$d" != / ]; do
        if [ -d "$d/shared/realdata" ]; then realdata=$d/shared/realdata; break; fi
        d=$(dirname "$d")
    done
fi

# report RESULTS.tsv LOAD_START LOAD_END SECONDS: the side-by-side table of medians
report() {
python3 - "$1" "$2" "$3" "$4" "$D_CPU" "$D_CAP" "$D_LAT" "$WINDOW" <<'EOF'
import sys, statistics, collections, os
res, ls, le, secs, dcpu, dcap, dlat, win = sys.argv[1:9]
vals = collections.defaultdict(list)
order = []
for line in open(res):
    m, s, v = line.rstrip("\n").split("\t")
    if m not in order:
        order.append(m)
    try:
        vals[(m, s)].append(float(v))
    except ValueError:
        pass
LABEL = {  # metric prefix -> (label, unit); "@" suffix says which data set / rate / mode
    "lines": ("source lines", ""), "parse_ttfa_ms": ("parse: start→first answer", "ms"),
    "parse_self_s": ("parse: rbldnsd's own timer", "s"), "compile_s": ("compile wall time", "s"),
    "parse_lines_per_s": ("parse/compile throughput", "lines/s"),
    "parse_cpu_s": ("parse/compile CPU (user+sys)", "s"),
    "parse_lines_per_cpu_s": ("parse/compile per CPU-second", "lines/s"),
    "store_bytes": ("store file size", "bytes"), "names": ("names listed", ""),
    "store_bytes_per_name": ("store bytes per name", "bytes"), "loadavg1": ("load average (1 min)", ""),
    "ttfa_ms": ("start→1st answer (pbl: --store)", "ms"),
    "ttfa_specs_ms": ("start→1st answer (pbl specs)", "ms"),
    "rss_start_kib": ("RSS after start", "KiB"), "rss_kib": ("RSS after the runs", "KiB"),
    "hwm_kib": ("peak RSS (VmHWM)", "KiB"), "diff_differ": ("answers that differ", "of 2000/1000"),
    "cpu_us_per_q": ("server CPU per answer", "µs"), "server_cpu_pct": ("server CPU", "%"),
    "dnsperf_qps": ("dnsperf answered", "qps"), "dnsperf_lost_pct": ("dnsperf lost", "%"),
    "qps": ("answered", "qps"), "loss_pct": ("lost", "%"), "p50_us": ("latency p50", "µs"),
    "p99_us": ("latency p99", "µs"), "bg_cpu_pct": ("other processes' CPU", "% core"),
}
def med(m, s):
    v = vals.get((m, s))
    return (statistics.median(v), len(v)) if v else (None, 0)
def fmt(x):
    if x is None: return "n/a"
    if x == int(x) or abs(x) >= 100: return "{:,.0f}".format(x)
    return "%.3g" % x
print()
print("prefixbl vs rbldnsd on 127.0.0.1 — medians of n runs; ratio = prefixbl / rbldnsd")
print("load average at start %s, at end %s; %s s; %d cores (%s)" % (ls, le, secs, os.cpu_count(),
      open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")))
print("cpu@RATE: dnsperf -Q RATE -c 8, %s s; pinned/unpinned: loadgen -Q 0 -w %s, %s s;"
      " openRATE: loadgen open loop, %s s; tcp: 8 conns x 32 pipelined" % (dcpu, win, dcap, dlat))
print("%-44s %12s %12s %7s" % ("metric @ set/rate/mode", "rbldnsd", "prefixbl", "ratio"))
for m in order:
    base, _, at = m.partition("@")
    label, unit = LABEL.get(base, (base, ""))
    name = "%s%s @%s" % (label, " (%s)" % unit if unit else "", at)
    if vals.get((m, "-")):
        v, n = med(m, "-")
        print("%-44s %12s   (n=%d)" % (name, fmt(v), n))
        continue
    r, nr = med(m, "rbldnsd"); p, np_ = med(m, "prefixbl")
    ratio = "%.2f" % (p / r) if (r and p is not None) else "n/a"
    print("%-44s %12s %12s %7s  n=%d/%d" % (name, fmt(r), fmt(p), ratio, nr, np_))
    if base == "cpu_us_per_q" and at in ("pinned", "unpinned"):
        # capacity on a CPU-time basis: robust when other jobs take CPU from the server
        r2 = 1e6 / r if r else None; p2 = 1e6 / p if p else None
        ratio = "%.2f" % (p2 / r2) if (r2 and p2) else "n/a"
        print("%-44s %12s %12s %7s" % ("answers per server CPU-second @%s" % at, fmt(r2), fmt(p2), ratio))
print("results: %s" % res)
EOF
}

if [ -n "$REPORT_ONLY" ]; then report "$REPORT_ONLY" "?" "?" "?"; exit 0; fi

# ---------------------------------------------------------------------------- setup
echo "# $STAMP compare-rbldnsd $([ $QUICK = 1 ] && echo quick || echo full), runs=$RUNS, nice=$NICE" >> "$CMDLOG"
need=()
command -v rbldnsd >/dev/null || need+=(rbldnsd)
command -v dnsperf >/dev/null || need+=(dnsperf)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} with apt (tools/install-test-deps.sh: rbldnsd's service held back)"
    run "$ROOT/tools/install-test-deps.sh" "${need[@]}" >/dev/null || { log "apt-get install failed"; exit 1; }
fi
for t in taskset python3 cc; do command -v $t >/dev/null || { log "$t is required"; exit 1; }; done
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 cores; pinned runs share the core"

if [ -z "$DNSET" ]; then
    run python3 "$ROOT/tools/gen-data.py" --out "$DATA" ${realdata:+--realdata "$realdata"} || exit 1
fi
chmod -R a+rX "$WORK"  # rbldnsd reads as user rbldns
LOADGEN=$WORK/loadgen
run cc -O2 -Wall -o "$LOADGEN" "$ROOT/tools/loadgen.c" || exit 1

HAVE_SERVE=0 HAVE_COMPILE=0
if [ "$ONLY_RBL" = 0 ]; then
    if [ -z "$PBL" ]; then
        if [ "$BUILD" = 1 ]; then
            log "building prefixbl (swift build -c release) ..."
            (cd "$ROOT" && run timeout 900 swift build -c release --product prefixbl >"$WORK/build.log" 2>&1) ||
                log "swift build failed, see $WORK/build.log"
        fi
        PBL=$ROOT/.build/release/prefixbl
    fi
    if [ -x "$PBL" ]; then
        "$PBL" serve --help >/dev/null 2>&1 && HAVE_SERVE=1
        "$PBL" compile --help >/dev/null 2>&1 && HAVE_COMPILE=1
    fi
    [ "$HAVE_SERVE" = 1 ] || log "prefixbl serve not available ($PBL): prefixbl serving figures are n/a"
    [ "$HAVE_COMPILE" = 1 ] || log "prefixbl compile not available ($PBL): compile figures are n/a"
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------- servers
SRV_PID=""
cleanup() {
    for p in ${ALL_PIDS:-}; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT
ALL_PIDS=""

# SRV_CPUS: the cores a server starts on (prefixbl sizes its threads from its affinity).
SRV_CPUS=0
# start_server rbldnsd|prefixbl PORT PROBEFILE SPEC... ; sets SRV_PID and TTFA (ms from start to
# the first answered probe). Not to be called in $(...): it keeps the PID.
# A SPEC is ZONE:TYPE:FILE (absolute FILE); for prefixbl a single "store:PATH" serves a store.
start_server() {
    local kind=$1 port=$2 probe=$3; shift 3
    local cmd
    if [ "$kind" = rbldnsd ]; then
        local specs=() s
        for s in "$@"; do specs+=("${s%%:*}:$(echo "$s" | cut -d: -f2):$(basename "${s#*:*:}")"); done
        # -n foreground, -f serve during reloads, -a minimal answers like prefixbl's default,
        # -u drop to rbldns (it refuses root), -w the data directory; it parses, then answers
        cmd=(rbldnsd -n -f -a -b "127.0.0.1/$port" -u rbldns -w "$(dirname "${1#*:*:}")" "${specs[@]}")
    elif [ "${1%%:*}" = store ]; then
        cmd=("$PBL" serve --listen "127.0.0.1:$port" --store "${1#store:}")
    else
        cmd=("$PBL" serve --listen "127.0.0.1:$port" "$@")
    fi
    local t0; t0=$(now_us)
    printf 'nice -n %s taskset -c %s %s\n' "$NICE" "$SRV_CPUS" "${cmd[*]}" >> "$CMDLOG"
    nice -n "$NICE" taskset -c "$SRV_CPUS" "${cmd[@]}" > "$WORK/$kind-$port.log" 2>&1 &
    SRV_PID=$!
    ALL_PIDS="$ALL_PIDS $SRV_PID"
    local out rt
    out=$(timeout 40 taskset -c 1 "$LOADGEN" -p "$port" -d "$probe" -P 2 -l 30 -q)
    rt=$(echo "$out" | sed -n 's/.*realtime_ns=\([0-9]*\).*/\1/p')
    if [ -z "$rt" ]; then
        log "$kind did not answer within 30 s (log: $WORK/$kind-$port.log)"
        stop_server "$SRV_PID"; SRV_PID=""
        return 1
    fi
    TTFA=$(( (rt / 1000 - t0) / 1000 ))
}

stop_server() {
    local p=$1 i
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    ALL_PIDS=${ALL_PIDS// $p/}
}

# Other helpers may be building on this machine: before each measurement wait (up to
# QUIET_WAIT s) until the machine is nearly idle, and record what else ran during it
# (bg_cpu_pct: machine busy − server − generator, in % of one core).
QUIET_WAIT=${QUIET_WAIT:-5} QUIET_PCT=${QUIET_PCT:-30} NCPU=$(nproc) QUIET_FAILS=0
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
wait_quiet() {  # after 3 waits in vain in a row the machine is taken as busy: 0.5 s only
    local i b0 t0 b1 t1 n=$((QUIET_WAIT * 2))
    [ "$QUIET_FAILS" -ge 3 ] && n=1
    for i in $(seq $n); do
        read -r b0 t0 < <(busy_jiffies); sleep 0.5; read -r b1 t1 < <(busy_jiffies)
        if [ $(( (b1 - b0) * 100 * NCPU / (t1 - t0 + 1) )) -lt "$QUIET_PCT" ]; then
            QUIET_FAILS=0; return 0
        fi
    done
    QUIET_FAILS=$((QUIET_FAILS + 1))
}
MB0="" MT0=""
mark_busy() { wait_quiet; read -r MB0 MT0 < <(busy_jiffies); }
# bg_pct SERVER_TICKS GEN_CPU_S SECS: background CPU since mark_busy, % of one core
bg_pct() {
    local b1 t1; read -r b1 t1 < <(busy_jiffies)
    python3 -c "print(round(max(0.0, ($b1-$MB0)*100*$NCPU/($t1-$MT0+1) - ($1)*100/$CLK/$3 - $2*100/$3), 1))"
}

rbl_time() { awk -F. 'NF==2 && length($2)==1 {printf "%d.0%s\n", $1, $2; next} {print}'; }

ticks() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }; s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# cpu_per_query SERVER PID PORT RATE QUERYFILE: dnsperf on core 1 at a fixed rate
cpu_per_query() {
    local name=$1 pid=$2 port=$3 rate=$4 q=$5 c0 c1 out done qps lost gen TIMEFORMAT='GEN_CPU %U %S'
    mark_busy
    c0=$(ticks "$pid")
    printf '%s\n' "nice -n $NICE taskset -c 1 dnsperf -s 127.0.0.1 -p $port -d $q -Q $rate -l $D_CPU -c 8" >> "$CMDLOG"
    out=$( { time timeout $((D_CPU + 20)) nice -n "$NICE" taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$q" -Q "$rate" -l "$D_CPU" -c 8 ; } 2>&1)
    c1=$(ticks "$pid")
    gen=$(echo "$out" | awk '/^GEN_CPU/{print $2+$3}')
    done=$(echo "$out" | sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p')
    lost=$(echo "$out" | sed -n 's/^ *Queries lost: *[0-9]* (\([0-9.]*\)%).*/\1/p')
    qps=$(echo "$out" | sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p')
    if [ -n "$done" ] && [ "$done" -gt 0 ]; then
        rec "cpu_us_per_q@$rate" "$name" "$(python3 -c "print(round(($c1-$c0)*1e6/$CLK/$done,3))")"
        rec "server_cpu_pct@$rate" "$name" "$(python3 -c "print(round(($c1-$c0)*100/$CLK/$D_CPU,1))")"
        rec "dnsperf_qps@$rate" "$name" "${qps%.*}"
        rec "dnsperf_lost_pct@$rate" "$name" "$lost"
        rec "bg_cpu_pct@$rate" "$name" "$(bg_pct "$((c1 - c0))" "${gen:-0}" "$D_CPU")"
    fi
}

# loadgen_run SERVER PID PORT TAG CPUSET ARGS... : records qps, loss, latency (+ server CPU %)
loadgen_run() {
    local name=$1 pid=$2 port=$3 tag=$4 cpus=$5; shift 5
    local c0 c1 out secs
    mark_busy
    c0=$(ticks "$pid")
    out=$(run timeout 60 nice -n "$NICE" taskset -c "$cpus" "$LOADGEN" -p "$port" -q "$@")
    c1=$(ticks "$pid")
    echo "$out" | grep -q '^RESULT' || { log "loadgen failed: $out"; return; }
    secs=$(echo "$out" | field secs)
    rec "qps@$tag" "$name" "$(echo "$out" | field qps)"
    rec "loss_pct@$tag" "$name" "$(echo "$out" | field loss_pct)"
    rec "p50_us@$tag" "$name" "$(echo "$out" | field p50_us)"
    rec "p99_us@$tag" "$name" "$(echo "$out" | field p99_us)"
    rec "server_cpu_pct@$tag" "$name" "$(python3 -c "print(round(($c1-$c0)*100/$CLK/$secs,1))")"
    rec "bg_cpu_pct@$tag" "$name" "$(bg_pct "$((c1 - c0))" "$(echo "$out" | field cpu_s)" "$secs")"
    local ans; ans=$(echo "$out" | field answered)
    [ "${ans:-0}" -gt 0 ] && rec "cpu_us_per_q@$tag" "$name" "$(python3 -c "print(round(($c1-$c0)*1e6/$CLK/$ans,3))")"
}

# ---------------------------------------------------------------------------- dnset (--dnset)
if [ -n "$DNSET" ]; then
    DZ=dn.example
    DFILE=$DATA/$(basename "$DNSET")
    cp "$DNSET" "$DFILE"  # a copy rbldnsd (user rbldns) can read
    # the same $SOA as the IP data, in a file of its own, so both servers put the SOA in the
    # authority section of NXDOMAIN (without one rbldnsd sends none: less work per answer)
    SOAF=$DATA/dnset-soa.txt
    echo '$SOA 3600 ns1.example.net hostmaster.example.net 2026113001 600 300 86400 300' > "$SOAF"
    chmod a+r "$DFILE" "$SOAF"
    DSPEC_R="$DZ:dnset:$SOAF,$(basename "$DFILE")"  # rbldnsd: names relative to -w DIR
    DSPEC_P="$DZ:dnset:$SOAF,$DFILE"
    DQ=$DATA/queries-dnset.txt DPROBE=$DATA/probe-dnset.txt
    # 150,000 queries, seeded: listed names, a new label under a listed name (a plain dnset
    # entry lists the name only: both answer NXDOMAIN), and names that are not listed
    run python3 - "$DFILE" "$DZ" "$DQ" "$DPROBE" <<'PY'
import random, sys
src, zone, out, probe = sys.argv[1:5]
names = [l.strip() for l in open(src) if l.strip() and l[0] not in "#;:!.*$"]
listed = set(names)
rnd = random.Random(5782)
def label(): return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randint(3, 12)))
qs = []
for i in range(150_000):
    n = rnd.choice(names)
    k = i % 3
    if k == 1:
        n = label() + "." + n
    elif k == 2:
        n = label() + "." + n.split(".", 1)[-1] if "." in n else label() + "." + n
        while n in listed:
            n = label() + "." + n
    q = n + "." + zone
    if len(q) > 250:
        q = names[0] + "." + zone
    qs.append(q + " A\n")
open(out, "w").writelines(qs)
open(probe, "w").write(names[0] + "." + zone + " A\n")
PY
    [ -s "$DQ" ] || { log "query generation failed"; exit 1; }
    lines=$(wc -l < "$DFILE")
    names=$(grep -cv '^\(#\|$\)' "$DFILE")
    rec "lines@dnset" "-" "$lines"
    rec "names@dnset" "-" "$names"
    for r in $(seq "$PARSE_RUNS"); do
        if start_server rbldnsd "$PORT_R" "$DPROBE" "$DSPEC_R"; then
            rec "parse_ttfa_ms@dnset" rbldnsd "$TTFA"
            rec "parse_lines_per_s@dnset" rbldnsd "$(python3 -c "print(round($lines/($TTFA/1000)))")"
            self=$(sed -n 's/.*zones reloaded, time \([0-9.]*\)e.*/\1/p' "$WORK/rbldnsd-$PORT_R.log" | head -1 | rbl_time)
            [ -n "$self" ] && rec "parse_self_s@dnset" rbldnsd "$self"
            selfu=$(sed -n 's/.*zones reloaded, time [0-9.]*e\/\([0-9.]*\)u.*/\1/p' "$WORK/rbldnsd-$PORT_R.log" | head -1 | rbl_time)
            [ -n "$selfu" ] && rec "parse_cpu_s@dnset" rbldnsd "$selfu"
            rec "rss_start_kib@dnset" rbldnsd "$(awk '/^VmRSS/{print $2}' /proc/$SRV_PID/status)"
            stop_server "$SRV_PID"
        fi
        [ "$HAVE_COMPILE" = 1 ] || continue
        t0=$(now_us)
        printf '%s\n' "$PBL compile $DSPEC_P -o $WORK/dnset.store" >> "$CMDLOG"
        if cpu=$( { TIMEFORMAT='%U %S'; time timeout 120 nice -n "$NICE" "$PBL" compile "$DSPEC_P" -o "$WORK/dnset.store" > "$WORK/compile-dnset.log" 2>&1; } 2>&1 ); then
            t1=$(now_us)
            cpu=$(echo "$cpu" | tail -1 | awk '{print $1+$2}')
            rec "compile_s@dnset" prefixbl "$(python3 -c "print(round(($t1-$t0)/1e6,3))")"
            rec "parse_cpu_s@dnset" prefixbl "$cpu"
            rec "parse_lines_per_s@dnset" prefixbl "$(python3 -c "print(round($lines/(($t1-$t0)/1e6)))")"
            rec "parse_lines_per_cpu_s@dnset" prefixbl "$(python3 -c "print(round($lines/max($cpu,0.01)))")"
            rec "store_bytes@dnset" prefixbl "$(stat -c %s "$WORK/dnset.store")"
            rec "store_bytes_per_name@dnset" prefixbl "$(python3 -c "print(round($(stat -c %s "$WORK/dnset.store")/$names,1))")"
        else
            log "prefixbl compile dnset failed (see $WORK/compile-dnset.log)"
        fi
    done
    declare -A PID PORT
    if start_server rbldnsd "$PORT_R" "$DPROBE" "$DSPEC_R"; then PID[rbldnsd]=$SRV_PID PORT[rbldnsd]=$PORT_R; fi
    if [ "$HAVE_SERVE" = 1 ] && [ -f "$WORK/dnset.store" ] &&
        start_server prefixbl "$PORT_P" "$DPROBE" "store:$WORK/dnset.store"; then
        PID[prefixbl]=$SRV_PID PORT[prefixbl]=$PORT_P
        rec "ttfa_ms@dnset" prefixbl "$TTFA"
        rec "rss_start_kib@dnset" prefixbl "$(awk '/^VmRSS/{print $2}' /proc/$SRV_PID/status)"
    fi
    if [ -n "${PID[rbldnsd]:-}" ] && [ -n "${PID[prefixbl]:-}" ]; then
        out=$(run timeout 60 python3 "$ROOT/tools/dns-diff.py" "$DQ" "127.0.0.1:$PORT_R" "127.0.0.1:$PORT_P" --count 2000)
        echo "$out" | head -31 > "$WORK/diff-dnset.txt"
        rec "diff_differ@dnset" "-" "$(echo "$out" | field differ)"
    fi
    for r in $(seq "$RUNS"); do  # alternating order
        order=(rbldnsd prefixbl); [ $((r % 2)) = 0 ] && order=(prefixbl rbldnsd)
        for s in "${order[@]}"; do
            [ -n "${PID[$s]:-}" ] && cpu_per_query "$s" "${PID[$s]}" "${PORT[$s]}" 50000 "$DQ"
        done
    done
    for s in rbldnsd prefixbl; do
        [ -n "${PID[$s]:-}" ] || continue
        rec "rss_kib@dnset" "$s" "$(awk '/^VmRSS/{print $2}' /proc/${PID[$s]}/status)"
        rec "hwm_kib@dnset" "$s" "$(awk '/^VmHWM/{print $2}' /proc/${PID[$s]}/status)"
        stop_server "${PID[$s]}"
    done
    report "$RES" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$((SECONDS - T0))"
    log "commands: $CMDLOG; logs and diffs in $WORK"
    exit 0
fi

# ---------------------------------------------------------------------------- parse / compile
V6=$DATA/v6.ip6trie V4=$DATA/v4.ip4set
SETS=("v6:$ZONE:ip6trie:$V6:$DATA/probe-v6.txt" "v4:$ZONE:ip4set:$V4:$DATA/probe-v4.txt")
if [ -n "$realdata" ] && [ -f "$realdata/fullbogons-ipv6.txt" ]; then
    SETS+=("fullbogons:fullbogons.example:ip6trie:$realdata/fullbogons-ipv6.txt:$DATA/probe-real-fullbogons.txt")
fi
log "parse/compile: ${#SETS[@]} data sets × $PARSE_RUNS"
for set in "${SETS[@]}"; do
    IFS=: read -r tag zone type file probe <<<"$set"
    lines=$(wc -l < "$file")
    rec "lines@$tag" "-" "$lines"
    for r in $(seq "$PARSE_RUNS"); do
        start_server rbldnsd "$PORT_R" "$probe" "$zone:$type:$file" || continue; ms=$TTFA
        rec "parse_ttfa_ms@$tag" rbldnsd "$ms"
        # rbldnsd prints centiseconds without zero padding ("0.9e" is 0.09 s: its start to
        # first answer agrees), so a one-digit fraction is read as hundredths
        self=$(sed -n 's/.*zones reloaded, time \([0-9.]*\)e.*/\1/p' "$WORK/rbldnsd-$PORT_R.log" | head -1 | rbl_time)
        [ -n "$self" ] && rec "parse_self_s@$tag" rbldnsd "$self"
        # rbldnsd's own CPU figure ("time 0.57e/0.51u sec": u = user CPU): robust under load
        selfu=$(sed -n 's/.*zones reloaded, time [0-9.]*e\/\([0-9.]*\)u.*/\1/p' "$WORK/rbldnsd-$PORT_R.log" | head -1 | rbl_time)
        [ -n "$selfu" ] && rec "parse_cpu_s@$tag" rbldnsd "$selfu" &&
            rec "parse_lines_per_cpu_s@$tag" rbldnsd "$(python3 -c "print(round($lines/max($selfu,0.01)))")"
        rec "parse_lines_per_s@$tag" rbldnsd "$(python3 -c "print(round($lines/($ms/1000)))")"
        stop_server "$SRV_PID"
        if [ "$HAVE_COMPILE" = 1 ]; then
            t0=$(now_us)
            printf '%s\n' "$PBL compile $zone:$type:$file -o $WORK/$tag.store" >> "$CMDLOG"
            if cpu=$( { TIMEFORMAT='%U %S'; time timeout 120 nice -n "$NICE" "$PBL" compile "$zone:$type:$file" -o "$WORK/$tag.store" > "$WORK/compile-$tag.log" 2>&1; } 2>&1 ); then
                t1=$(now_us)
                cpu=$(echo "$cpu" | tail -1 | awk '{print $1+$2}')
                rec "parse_cpu_s@$tag" prefixbl "$cpu"
                rec "parse_lines_per_cpu_s@$tag" prefixbl "$(python3 -c "print(round($lines/max($cpu,0.01)))")"
                rec "compile_s@$tag" prefixbl "$(python3 -c "print(round(($t1-$t0)/1e6,3))")"
                rec "parse_lines_per_s@$tag" prefixbl "$(python3 -c "print(round($lines/(($t1-$t0)/1e6)))")"
                rec "store_bytes@$tag" prefixbl "$(stat -c %s "$WORK/$tag.store")"
            else
                log "prefixbl compile $tag failed (see $WORK/compile-$tag.log)"
            fi
        fi
    done
done

STORE=$WORK/v6v4.store
SPECS=("$ZONE:ip6trie:$V6" "$ZONE:ip4set:$V4")
if [ "$HAVE_COMPILE" = 1 ]; then
    t0=$(now_us)
    run timeout 120 nice -n "$NICE" "$PBL" compile "${SPECS[@]}" -o "$STORE" > "$WORK/compile-v6v4.log" 2>&1 &&
        rec "compile_s@v6+v4" prefixbl "$(python3 -c "print(round(($(now_us)-$t0)/1e6,3))")" &&
        rec "store_bytes@v6+v4" prefixbl "$(stat -c %s "$STORE")"
fi

QMIX=$DATA/queries-mix.txt
PROBE=$DATA/probe-v4.txt

# prefixbl compiling its sources at start (drop-in mode), and the real files side by side
# (short; before the serving runs, which the budget may cut)
if [ "$HAVE_SERVE" = 1 ] && [ "$PARSE_ONLY" = 0 ]; then
    for r in $(seq "$PARSE_RUNS"); do
        start_server prefixbl "$PORT_P" "$PROBE" "${SPECS[@]}" || break; ms=$TTFA
        rec "ttfa_specs_ms@v6+v4" prefixbl "$ms"
        stop_server "$SRV_PID"
    done
fi
if [ -n "$realdata" ] && [ "$PARSE_ONLY" = 0 ]; then
    RSPECS=("fullbogons.example:ip6trie:$realdata/fullbogons-ipv6.txt"
            "uce1.example:ip4set:$realdata/dnsbl-1.uceprotect.net.rbldnsd"
            "uce2.example:ip4set:$realdata/dnsbl-2.uceprotect.net.rbldnsd")
    if start_server rbldnsd "$PORT_R" "$DATA/probe-real-uce1.txt" "${RSPECS[@]}"; then
        rp=$TTFA
        RPID=$SRV_PID
        rec "ttfa_ms@real" rbldnsd "$rp"
        rec "rss_kib@real" rbldnsd "$(awk '/^VmRSS/{print $2}' /proc/$RPID/status)"
        if [ "$HAVE_SERVE" = 1 ] && start_server prefixbl "$PORT_P" "$DATA/probe-real-uce1.txt" "${RSPECS[@]}"; then
            pp=$TTFA
            PPID_=$SRV_PID
            rec "ttfa_specs_ms@real" prefixbl "$pp"
            rec "rss_kib@real" prefixbl "$(awk '/^VmRSS/{print $2}' /proc/$PPID_/status)"
            : > "$WORK/diff-real.txt"
            for f in fullbogons uce1 uce2; do
                out=$(run timeout 60 python3 "$ROOT/tools/dns-diff.py" "$DATA/queries-real-$f.txt" "127.0.0.1:$PORT_R" "127.0.0.1:$PORT_P" --count 1000)
                echo "$out" | head -31 >> "$WORK/diff-real.txt"
                rec "diff_differ@real-$f" "-" "$(echo "$out" | field differ)"
            done
            stop_server "$PPID_"
        fi
        stop_server "$RPID"
    fi
fi

# ---------------------------------------------------------------------------- serving runs
servers=(rbldnsd)
[ "$HAVE_SERVE" = 1 ] && [ -f "$STORE" ] && servers+=(prefixbl)
# measurement time, plus quiet gates, probes and restarts (measured: about 1.3x + 30 s)
per_run=$(( (4 * D_CPU + 4 * D_CAP + 2 * D_LAT * $(echo $RATES | wc -w) + D_TCP) * 13 / 10 + 30 ))
[ "$PARSE_ONLY" = 1 ] && RUNS=0
for r in $(seq "$RUNS"); do
    if [ "$(left)" -lt "$per_run" ] && [ "$r" -gt 1 ]; then
        log "budget: stopping after $((r - 1)) runs ($(left) s left, a run takes ~$per_run s)"
        break
    fi
    order=("${servers[@]}")
    if [ $((r % 2)) = 0 ] && [ ${#servers[@]} = 2 ]; then order=(prefixbl rbldnsd); fi
    log "run $r/$RUNS (order: ${order[*]}), load $(cut -d' ' -f1 /proc/loadavg)"
    rec "loadavg1@run$r" "-" "$(cut -d' ' -f1 /proc/loadavg)"
    declare -A PID PORT
    for s in "${order[@]}"; do
        if [ "$s" = rbldnsd ]; then
            start_server rbldnsd "$PORT_R" "$PROBE" "${SPECS[@]}" || continue; ms=$TTFA
            PID[$s]=$SRV_PID PORT[$s]=$PORT_R
        else
            if ! start_server prefixbl "$PORT_P" "$PROBE" "store:$STORE"; then
                log "prefixbl serve does not answer: its serving figures are n/a"
                HAVE_SERVE=0 servers=(rbldnsd)
                continue
            fi
            ms=$TTFA
            PID[$s]=$SRV_PID PORT[$s]=$PORT_P
        fi
        rec "ttfa_ms@v6+v4" "$s" "$ms"
        rec "rss_start_kib@v6+v4" "$s" "$(awk '/^VmRSS/{print $2}' /proc/${PID[$s]}/status)"
    done
    active=()
    for s in "${order[@]}"; do [ -n "${PID[$s]:-}" ] && active+=("$s"); done
    if [ "$r" = 1 ] && [ ${#active[@]} = 2 ]; then
        out=$(run timeout 60 python3 "$ROOT/tools/dns-diff.py" "$QMIX" "127.0.0.1:${PORT[rbldnsd]}" "127.0.0.1:${PORT[prefixbl]}" --count 2000)
        echo "$out" | head -31 > "$WORK/diff-v6v4.txt"
        rec "diff_differ@v6+v4" "-" "$(echo "$out" | field differ)"
    fi
    for rate in 50000 100000; do
        for s in "${active[@]}"; do cpu_per_query "$s" "${PID[$s]}" "${PORT[$s]}" "$rate" "$QMIX"; done
    done
    for s in "${active[@]}"; do
        loadgen_run "$s" "${PID[$s]}" "${PORT[$s]}" pinned 1 -d "$QMIX" -Q 0 -w "$WINDOW" -t 0.2 -l "$D_CAP"
    done
    for rate in $RATES; do
        for s in "${active[@]}"; do
            loadgen_run "$s" "${PID[$s]}" "${PORT[$s]}" "open$rate" 1 -d "$QMIX" -Q "$rate" -l "$D_LAT"
        done
    done
    for s in "${active[@]}"; do
        [ "$s" = prefixbl ] && loadgen_run "$s" "${PID[$s]}" "${PORT[$s]}" tcp 1 -d "$QMIX" -T 8 -D 32 -l "$D_TCP"
        rec "rss_kib@v6+v4" "$s" "$(awk '/^VmRSS/{print $2}' /proc/${PID[$s]}/status)"
        rec "hwm_kib@v6+v4" "$s" "$(awk '/^VmHWM/{print $2}' /proc/${PID[$s]}/status)"
        stop_server "${PID[$s]}"
    done
    # both cores serving (a new start: prefixbl sizes its threads from its affinity); the
    # generator shares the cores with the server
    SRV_CPUS=0,1
    for s in "${active[@]}"; do
        if [ "$s" = rbldnsd ]; then
            start_server rbldnsd "$PORT_R" "$PROBE" "${SPECS[@]}" || continue
        elif [ "$HAVE_SERVE" = 1 ]; then
            start_server prefixbl "$PORT_P" "$PROBE" "store:$STORE" || continue
        else
            continue
        fi
        loadgen_run "$s" "$SRV_PID" "${PORT[$s]}" unpinned 0,1 -d "$QMIX" -Q 0 -w "$WINDOW" -t 0.2 -l "$D_CAP"
        stop_server "$SRV_PID"
    done
    SRV_CPUS=0
    unset PID PORT
done

# ---------------------------------------------------------------------------- report
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
report "$RES" "$LOAD_START" "$LOAD_END" "$((SECONDS - T0))"
log "commands: $CMDLOG; logs and diffs in $WORK"
