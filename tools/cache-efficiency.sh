#!/usr/bin/env bash
# cache-efficiency.sh — how many queries reach `prefixbl serve` per client lookup made through
# a validating resolver, signed (serve --dnssec-key) against unsigned, in one run (issue 12).
#
# usage: tools/cache-efficiency.sh [--prefixbl BIN] [--lookups N] [--work DIR] [--no-named]
#                                  [--seed S] [--algorithm ECDSAP256SHA256|ED25519]
#
#   --prefixbl BIN  the binary to measure (default .build/release/prefixbl; nothing is built)
#   --lookups N     lookups per /64 or /48 (default 200)
#   --work DIR      keys, configurations, logs and results (default /tmp/prefixbl-cache-eff)
#   --no-named      skip BIND even when `named` is installed
#
# Data: zone bl.example = ../shared/realdata/fullbogons-ipv6.txt + spamhaus-dropv6.txt (read in
# place, ip6trie) and an SOA file; compiled once into a store both servers serve.
# Workloads (tools/cache-efficiency.py): "listed" = N random addresses in each of six listed /64s,
# "unlisted" = N random addresses in each of six unlisted /48s, taken in rotation. Each
# (resolver, signed|unsigned, workload) gets a fresh resolver (empty cache) and a fresh serve; the
# queries reaching serve are the lines of its --query-log, all of them counted (DNSKEY and
# minimised queries included). Every answer is checked (listed: NOERROR A 127.0.0.2,
# unlisted: NXDOMAIN) and, signed, must carry AD.
# Resolvers: Unbound as installed (Debian defaults: QNAME minimisation, aggressive NSEC on) with
# our DS as trust anchor and a stub zone to serve; BIND 9 `named` (defaults: qname-minimization
# relaxed, synth-from-dnssec yes) with a static-stub zone, when installed. BIND's static-stub
# cannot name a port, so serve also listens on 127.0.0.71:53 (signed) / 127.0.0.72:53
# (unsigned) for it.
# Output: a table on stdout; WORK/results.tsv; WORK/querylog-*.txt for what reached serve.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PBL="$ROOT/.build/release/prefixbl" N=200 WORK=/tmp/prefixbl-cache-eff NAMED=1 SEED=12 ALG=ECDSAP256SHA256
while [ $# -gt 0 ]; do
    case "$1" in
        --prefixbl) PBL=$(realpath "$2"); shift ;;
        --lookups) N=$2; shift ;;
        --work) WORK=$2; shift ;;
        --no-named) NAMED=0 ;;
        --seed) SEED=$2; shift ;;
        --algorithm) ALG=$2; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
REAL=$(realpath "$ROOT/../shared/realdata")
LISTS=("$REAL/fullbogons-ipv6.txt" "$REAL/spamhaus-dropv6.txt")
ZONE=bl.example
CLIENT="$ROOT/tools/cache-efficiency.py"
for tool in unbound ldns-keygen python3; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ -x "$PBL" ] || { echo "no prefixbl binary at $PBL (swift build -c release, or --prefixbl)" >&2; exit 1; }
command -v named >/dev/null || NAMED=0
rm -rf "$WORK"; mkdir -p "$WORK"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
python3 "$CLIENT" check "${LISTS[@]}" || exit 1

# Keys (a KSK and a ZSK) and the DS; the SOA: NSEC TTL = min(3600, 3600), longer than a run.
cd "$WORK"
KSK=$(ldns-keygen -a "$ALG" -k $ZONE) ZSK=$(ldns-keygen -a "$ALG" $ZONE)
DS=$("$PBL" dnssec-ds "$WORK/$KSK")
printf '$SOA 3600 ns.example.net hostmaster.example.net 1 3600 600 604800 3600\n$NS 3600 ns.example.net\n' > soa.txt
"$PBL" compile "$ZONE:ip6trie:soa.txt" "$ZONE:ip6trie:${LISTS[0]}" "$ZONE:ip6trie:${LISTS[1]}" -o "$WORK/zone.pfxbl" \
    2> compile.log || { cat compile.log; exit 1; }
log "store: $(tail -1 compile.log)"
log "DS: $DS"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_answer() { # host port name: until something answers (no query to serve: a local name)
    for _ in $(seq 100); do
        dig +time=1 +tries=1 -p "$2" @"$1" "$3" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
SERVE_PID="" RES_PID=""
stop_all() {
    [ -n "$RES_PID" ] && kill "$RES_PID" 2>/dev/null && wait "$RES_PID" 2>/dev/null
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    RES_PID="" SERVE_PID=""
}
trap stop_all EXIT

start_serve() { # mode tag → SERVE_PORT
    local mode=$1 tag=$2 keys=() extra=()
    SERVE_PORT=$(free_port)
    [ "$mode" = signed ] && keys=(--dnssec-key "$WORK/$KSK" --dnssec-key "$WORK/$ZSK")
    if [ "$NAMED" = 1 ]; then
        [ "$mode" = signed ] && extra=(--listen 127.0.0.71:53) || extra=(--listen 127.0.0.72:53)
    fi
    rm -f "querylog-$tag.txt"
    "$PBL" serve --listen "127.0.0.1:$SERVE_PORT" "${extra[@]}" --store "$WORK/zone.pfxbl" "${keys[@]}" \
        --query-log "querylog-$tag.txt" > "serve-$tag.log" 2>&1 &
    SERVE_PID=$!
    for _ in $(seq 200); do grep -qs " serving" "serve-$tag.log" && return 0; sleep 0.1; done
    echo "serve did not start:"; cat "serve-$tag.log"; return 1
}

start_unbound() { # mode tag
    local mode=$1 tag=$2 port anchor=""
    port=$(free_port)
    [ "$mode" = signed ] && anchor="    trust-anchor: \"$DS\""
    cat > "unbound-$tag.conf" <<EOF
server:
    interface: 127.0.0.1
    port: $port
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$WORK"
    pidfile: "$WORK/unbound-$tag.pid"
    use-syslog: no
    logfile: "$WORK/unbound-$tag.log"
    verbosity: 1
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    extended-statistics: yes
$anchor
remote-control:
    control-enable: no
stub-zone:
    name: "$ZONE"
    stub-addr: 127.0.0.1@$SERVE_PORT
EOF
    unbound -d -c "unbound-$tag.conf" > "unbound-$tag.out" 2>&1 &
    RES_PID=$! RES_PORT=$port
    wait_answer 127.0.0.1 "$port" localhost || { echo "unbound did not start"; cat "unbound-$tag.out"; return 1; }
}

start_named() { # mode tag
    local mode=$1 tag=$2 port addr anchor=""
    port=$(free_port)
    [ "$mode" = signed ] && addr=127.0.0.71 || addr=127.0.0.72
    if [ "$mode" = signed ]; then
        read -r _ _ _ tag_ alg dt digest <<< "$DS"
        anchor="trust-anchors { $ZONE. static-ds $tag_ $alg $dt \"$digest\"; };"
    fi
    mkdir -p "named-$tag"
    cat > "named-$tag/named.conf" <<EOF
options {
    directory "$WORK/named-$tag";
    pid-file "$WORK/named-$tag/named.pid";
    listen-on port $port { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { 127.0.0.0/8; };
    allow-recursion { 127.0.0.0/8; };
    dnssec-validation yes;
};
$anchor
zone "$ZONE" { type static-stub; server-addresses { $addr; }; };
zone "localhost" { type primary; file "/etc/bind/db.local"; };
EOF
    named -g -c "$WORK/named-$tag/named.conf" > "named-$tag.out" 2>&1 &
    RES_PID=$! RES_PORT=$port
    wait_answer 127.0.0.1 "$port" localhost || { echo "named did not start"; cat "named-$tag.out"; return 1; }
}

printf 'resolver\tmode\tworkload\tlookups\tright\tad\twrong\tauth_queries\tper_lookup\n' > results.tsv
RESOLVERS=(unbound); [ "$NAMED" = 1 ] && RESOLVERS+=(named)
for res in "${RESOLVERS[@]}"; do
    for mode in unsigned signed; do
        for wl in listed unlisted; do
            tag="$res-$mode-$wl"
            start_serve "$mode" "$tag" || exit 1
            "start_$res" "$mode" "$tag" || exit 1
            ad=(); [ "$mode" = signed ] && ad=(--ad)
            out=$(python3 "$CLIENT" run 127.0.0.1 "$RES_PORT" "$wl" "$N" "$ZONE" "$SEED" "${LISTS[@]}" "${ad[@]}" 2>"client-$tag.err")
            stop_all   # serve writes its query log at exit
            read -r lookups right adn wrong <<< "$out"
            auth=$(wc -l < "querylog-$tag.txt")
            per=$(python3 -c "print(f'{$auth/$lookups:.3f}')")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$res" "$mode" "$wl" "$lookups" "$right" "$adn" "$wrong" "$auth" "$per" >> results.tsv
            log "$tag: $lookups lookups, $right right, $adn AD, $wrong wrong; $auth queries reached serve ($per per lookup)"
            [ -s "client-$tag.err" ] && sed 's/^/    /' "client-$tag.err" >&2
        done
    done
done

echo
echo "authoritative queries per lookup ($N lookups in each of six listed /64s and six unlisted /48s; $(basename "$PBL") $("$PBL" --version 2>/dev/null | head -1)):"
python3 - "$WORK/results.tsv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("| resolver | serve | listed /64 | unlisted /48 | answers right | AD |")
print("|---|---|---|---|---|---|")
for res in dict.fromkeys(r["resolver"] for r in rows):
    for mode in ("unsigned", "signed"):
        rs = {r["workload"]: r for r in rows if r["resolver"] == res and r["mode"] == mode}
        if not rs: continue
        l, u = rs["listed"], rs["unlisted"]
        right = int(l["right"]) + int(u["right"]); total = int(l["lookups"]) + int(u["lookups"])
        ad = int(l["ad"]) + int(u["ad"])
        print(f"| {res} | {mode} | {l['per_lookup']} ({l['auth_queries']}) | {u['per_lookup']} ({u['auth_queries']}) | {right}/{total} | {ad}/{total} |")
EOF
echo "(queries reaching serve per lookup, in brackets the total; query logs: $WORK/querylog-*.txt)"
