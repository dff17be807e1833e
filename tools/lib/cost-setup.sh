# cost-setup.sh — sourced by tools/dnssec-cost.sh and tools/start-cost.sh: the set-up both share.
# The caller sets ROOT (the repository), WORK (data, keys, logs) and RES (its results file,
# emptied here), then calls cost_setup BIN. Defines log, run, rec, median and free_port.
# cost_setup BIN: tools/gen-data.py's 1M IPv6 + 1M IPv4 set (zone bl.example, seeded) in
# WORK/data, compiled once with BIN into WORK/zone.pfxbl, a KSK and a ZSK (ECDSAP256SHA256)
# made once with ldns-keygen; everything kept in WORK and reused. Afterwards the working
# directory is WORK, and DATA, KEYS (the --dnssec-key arguments) and PROBE (the first listed
# IPv6 A name of queries-v6.txt) are set. Every command run is appended to WORK/commands.log.
HELP="$ROOT/tools/dnssec-cost.py"
mkdir -p "$WORK"
CMDLOG=$WORK/commands.log
: > "$RES"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
run() { printf '%s\n' "$*" >> "$CMDLOG"; "$@"; }
rec() { printf '%s\t%s\n' "$1" "$2" >> "$RES"; log "$1 = $2"; }
median() { python3 -c "import statistics,sys; print(statistics.median([float(x) for x in sys.argv[1:]]))" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cost_setup() { # BIN
    DATA=$WORK/data
    mkdir -p "$DATA"
    [ -s "$DATA/v6.ip6trie" ] && [ -s "$DATA/queries-v6.txt" ] && [ -s "$DATA/queries-mix.txt" ] \
        || run python3 "$ROOT/tools/gen-data.py" --out "$DATA" || exit 1
    if [ ! -s "$WORK/zone.pfxbl" ]; then
        run "$1" compile "bl.example:ip6trie:$DATA/v6.ip6trie" "bl.example:ip4set:$DATA/v4.ip4set" -o "$WORK/zone.pfxbl" \
            2> "$WORK/compile.log" || { cat "$WORK/compile.log"; exit 1; }
    fi
    cd "$WORK" || exit 1
    if [ ! -s keys.txt ]; then
        echo "$(ldns-keygen -a ECDSAP256SHA256 -k bl.example) $(ldns-keygen -a ECDSAP256SHA256 bl.example)" > keys.txt
    fi
    read -r KSK ZSK < keys.txt
    KEYS=(--dnssec-key "$WORK/$KSK" --dnssec-key "$WORK/$ZSK")
    PROBE=$(awk '$2=="A"{print $1; exit}' "$DATA/queries-v6.txt")
}
