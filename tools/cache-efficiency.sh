#!/usr/bin/env bash
# cache-efficiency.sh — how many queries reach `prefixbl serve` per client lookup made through
# a validating resolver, signed (serve --dnssec-key) against unsigned, in one run (issue 12).
#
# usage: tools/cache-efficiency.sh [--prefixbl BIN] [--lookups N] [--work DIR] [--no-named]
#                                  [--seed S] [--algorithm ECDSAP256SHA256|ED25519]
#                                  [--ent-workload] [--ent-rrset] [--only-signed] [--resolvers LIST]
#
#   --prefixbl BIN  the binary to measure (default .build/release/prefixbl; nothing is built)
#   --lookups N     lookups per /64 or /48 (default 200)
#   --work DIR      keys, configurations, logs and results (default /tmp/prefixbl-cache-eff)
#   --no-named      skip BIND even when `named` is installed
#   --no-nsd        skip the reference column: the same zone through `prefixbl export`,
#                   `ldns-signzone` (NSEC, the same keys) and NSD (counted by a UDP relay,
#                   NSD having no query log)
#   --ent-workload  add the workload "unlisted-ent": six unlisted /48s whose lookups branch at
#                   empty non-terminals, where BIND 9.18 fails to synthesise NXDOMAIN from
#                   its cache (tools/cache-efficiency.py says how they were chosen)
#   --ent-rrset     add the mode "signed-ent": serve --dnssec-key --dnssec-ent-rrset (and for
#                   the NSD column, export --dnssec-ent-rrset before ldns-signzone)
#   --only-signed   leave out the unsigned mode
#   --resolvers L   comma-separated: unbound, named (default both, named when installed)
#
# Data: zone bl.example = ../shared/realdata/fullbogons-ipv6.txt + spamhaus-dropv6.txt (read in
# place, ip6trie) and an SOA file; compiled once into a store both servers serve.
# Workloads (tools/cache-efficiency.py): "listed" = N random addresses in each of six listed /64s,
# "unlisted" = N random addresses in each of six unlisted /48s, taken in rotation
# ("unlisted-ent" with --ent-workload: six other unlisted /48s, see above). Each
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
PBL="$ROOT/.build/release/prefixbl" N=200 WORK=/tmp/prefixbl-cache-eff NAMED=1 NSD=1 SEED=12 ALG=ECDSAP256SHA256
ENT_WL=0 ENT_RR=0 ONLY_SIGNED=0 RESOLVER_LIST=unbound,named
while [ $# -gt 0 ]; do
    case "$1" in
        --prefixbl) PBL=$(realpath "$2"); shift ;;
        --lookups) N=$2; shift ;;
        --work) WORK=$2; shift ;;
        --no-named) NAMED=0 ;;
        --no-nsd) NSD=0 ;;
        --seed) SEED=$2; shift ;;
        --algorithm) ALG=$2; shift ;;
        --ent-workload) ENT_WL=1 ;;
        --ent-rrset) ENT_RR=1 ;;
        --only-signed) ONLY_SIGNED=1 ;;
        --resolvers) RESOLVER_LIST=$2; shift ;;
        -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
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
command -v nsd >/dev/null && command -v ldns-signzone >/dev/null || NSD=0
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
if [ "$NSD" = 1 ]; then
    "$PBL" export "$WORK/zone.pfxbl" --zone $ZONE -o "$WORK/export.zone" 2>> compile.log &&
        ldns-signzone -o $ZONE "$WORK/export.zone" "$KSK" "$ZSK" || { echo "export or ldns-signzone failed"; exit 1; }
    log "NSD reference: $(grep -c NSEC export.zone.signed) NSEC lines in the signed export"
    if [ "$ENT_RR" = 1 ]; then
        "$PBL" export "$WORK/zone.pfxbl" --zone $ZONE --dnssec-ent-rrset -o "$WORK/export-ent.zone" 2>> compile.log &&
            ldns-signzone -o $ZONE "$WORK/export-ent.zone" "$KSK" "$ZSK" || { echo "export --dnssec-ent-rrset or ldns-signzone failed"; exit 1; }
        log "NSD reference with --dnssec-ent-rrset: $(grep -c NSEC export-ent.zone.signed) NSEC lines"
    fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_answer() { # host port name: until something answers (no query to serve: a local name)
    for _ in $(seq 100); do
        dig +time=1 +tries=1 -p "$2" @"$1" "$3" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
SERVE_PID="" RES_PID="" NSD_PID="" PROXY_PIDS=""
stop_all() {
    [ -n "$RES_PID" ] && kill "$RES_PID" 2>/dev/null && wait "$RES_PID" 2>/dev/null
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    for p in $PROXY_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ -n "$NSD_PID" ]; then  # NSD forks: its children too
        local kids k; kids=$(ps -o pid= --ppid "$NSD_PID"; for k in $(ps -o pid= --ppid "$NSD_PID"); do ps -o pid= --ppid "$k"; done)
        kill "$NSD_PID" 2>/dev/null; sleep 1; kill $kids 2>/dev/null; wait "$NSD_PID" 2>/dev/null
    fi
    RES_PID="" SERVE_PID="" NSD_PID="" PROXY_PIDS=""
}
trap stop_all EXIT

start_nsd() { # tag [zonefile] → SERVE_PORT (a counting relay in front of NSD; also 127.0.0.73:53 for BIND)
    local tag=$1 file=${2:-export.zone.signed} port
    port=$(free_port) SERVE_PORT=$(free_port)
    printf '%s\n' "server:" "  ip-address: 127.0.0.1@$port" "  port: $port" '  username: ""' '  chroot: ""' \
        '  database: ""' "  zonesdir: \"$WORK\"" "  xfrdir: \"$WORK\"" "  pidfile: \"$WORK/nsd-$tag.pid\"" \
        "  xfrdfile: \"$WORK/xfrd-$tag.state\"" "  zonelistfile: \"$WORK/zone-$tag.list\"" "  server-count: 1" \
        "remote-control:" "  control-enable: no" "zone:" "  name: $ZONE" "  zonefile: $file" > "nsd-$tag.conf"
    nsd -d -c "nsd-$tag.conf" > "nsd-$tag.log" 2>&1 &
    NSD_PID=$!
    echo 0 > "querylog-$tag.count"
    python3 "$CLIENT" proxy 127.0.0.1 "$SERVE_PORT" "$port" "querylog-$tag.count" &
    PROXY_PIDS=$!
    if [ "$NAMED" = 1 ]; then
        python3 "$CLIENT" proxy 127.0.0.73 53 "$port" "querylog-$tag.count53" &
        PROXY_PIDS="$PROXY_PIDS $!"
    fi
    for _ in $(seq 100); do
        dig +time=1 +tries=1 +norec -p "$port" @127.0.0.1 $ZONE SOA 2>/dev/null | grep -q "status: NOERROR" && return 0
        sleep 0.2
    done
    echo "nsd did not start:"; cat "nsd-$tag.log"; return 1
}

start_serve() { # mode tag → SERVE_PORT
    local mode=$1 tag=$2 keys=() extra=()
    [ "$mode" = nsd ] && { start_nsd "$tag"; return; }
    [ "$mode" = nsd-ent ] && { start_nsd "$tag" export-ent.zone.signed; return; }
    SERVE_PORT=$(free_port)
    [ "$mode" != unsigned ] && keys=(--dnssec-key "$WORK/$KSK" --dnssec-key "$WORK/$ZSK")
    [ "$mode" = signed-ent ] && keys+=(--dnssec-ent-rrset)
    if [ "$NAMED" = 1 ]; then
        [ "$mode" != unsigned ] && extra=(--listen 127.0.0.71:53) || extra=(--listen 127.0.0.72:53)
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
    [ "$mode" != unsigned ] && anchor="    trust-anchor: \"$DS\""
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
    case $mode in signed|signed-ent) addr=127.0.0.71 ;; unsigned) addr=127.0.0.72 ;; *) addr=127.0.0.73 ;; esac
    if [ "$mode" != unsigned ]; then
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
RESOLVERS=()
case ",$RESOLVER_LIST," in *,unbound,*) RESOLVERS+=(unbound) ;; esac
case ",$RESOLVER_LIST," in *,named,*) [ "$NAMED" = 1 ] && RESOLVERS+=(named) ;; esac
WORKLOADS=(listed unlisted); [ "$ENT_WL" = 1 ] && WORKLOADS+=(unlisted-ent)
for res in "${RESOLVERS[@]}"; do
    MODES=(); [ "$ONLY_SIGNED" = 1 ] || MODES+=(unsigned)
    MODES+=(signed); [ "$ENT_RR" = 1 ] && MODES+=(signed-ent)
    [ "$NSD" = 1 ] && MODES+=(nsd); [ "$NSD" = 1 ] && [ "$ENT_RR" = 1 ] && MODES+=(nsd-ent)
    for mode in "${MODES[@]}"; do
        for wl in "${WORKLOADS[@]}"; do
            tag="$res-$mode-$wl"
            start_serve "$mode" "$tag" || exit 1
            "start_$res" "$mode" "$tag" || exit 1
            ad=(); [ "$mode" != unsigned ] && ad=(--ad)
            out=$(python3 "$CLIENT" run 127.0.0.1 "$RES_PORT" "$wl" "$N" "$ZONE" "$SEED" "${LISTS[@]}" "${ad[@]}" 2>"client-$tag.err")
            stop_all   # serve writes its query log at exit
            read -r lookups right adn wrong <<< "$out"
            if [ "${mode%-ent}" = nsd ]; then
                auth=$(( $(cat "querylog-$tag.count") + $(cat "querylog-$tag.count53" 2>/dev/null || echo 0) ))
            else
                auth=$(wc -l < "querylog-$tag.txt")
            fi
            per=$(python3 -c "print(f'{$auth/$lookups:.3f}')")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$res" "$mode" "$wl" "$lookups" "$right" "$adn" "$wrong" "$auth" "$per" >> results.tsv
            log "$tag: $lookups lookups, $right right, $adn AD, $wrong wrong; $auth queries reached the server ($per per lookup)"
            [ -s "client-$tag.err" ] && sed 's/^/    /' "client-$tag.err" >&2
        done
    done
done

echo
echo "authoritative queries per lookup ($N lookups in each of six listed /64s and six unlisted /48s; $(basename "$PBL") $("$PBL" --version 2>/dev/null | head -1)):"
python3 - "$WORK/results.tsv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
wls = list(dict.fromkeys(r["workload"] for r in rows))
names = {"listed": "listed /64", "unlisted": "unlisted /48", "unlisted-ent": "unlisted /48 at ENTs"}
print("| resolver | server | " + " | ".join(names[w] for w in wls) + " | answers right | AD |")
print("|---|---|" + "---|" * len(wls) + "---|---|")
for res in dict.fromkeys(r["resolver"] for r in rows):
    for mode in ("unsigned", "signed", "signed-ent", "nsd", "nsd-ent"):
        rs = {r["workload"]: r for r in rows if r["resolver"] == res and r["mode"] == mode}
        if not rs: continue
        right = sum(int(r["right"]) for r in rs.values()); total = sum(int(r["lookups"]) for r in rs.values())
        ad = sum(int(r["ad"]) for r in rs.values())
        label = {"unsigned": "serve", "signed": "serve --dnssec-key", "signed-ent": "serve --dnssec-key --dnssec-ent-rrset",
                 "nsd": "NSD, ldns-signzone of the export", "nsd-ent": "NSD, ldns-signzone of export --dnssec-ent-rrset"}[mode]
        cells = " | ".join(f"{rs[w]['per_lookup']} ({rs[w]['auth_queries']})" if w in rs else "-" for w in wls)
        print(f"| {res} | {label} | {cells} | {right}/{total} | {ad}/{total} |")
EOF
echo "(queries reaching the authoritative server per lookup, in brackets the total; logs and counts: $WORK/querylog-*)"
