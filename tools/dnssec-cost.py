#!/usr/bin/env python3
"""Helpers of tools/dnssec-cost.sh (stdlib only).

  dnssec-cost.py ttfa CPUS NAME -- SERVE-COMMAND...
        starts the command (pinned with taskset -c CPUS), sends a DO=1 A query for NAME to the
        --listen port every 2 ms and prints "ttfa_ms=X signed=0|1 ready_ms=Y" at the first
        answer with an RRSIG (ready_ms: when its log first said " serving"); stops the server.
  dnssec-cost.py latency PORT QUERYFILE N
        DO=1 round trips, one query at a time: N names of QUERYFILE never asked before
        (their RRsets mostly unsigned yet), then the same N names again (signatures cached);
        prints "first_us=MEDIAN cached_us=MEDIAN".
  dnssec-cost.py metric URL NAME-PREFIX    sum of the samples whose line starts with NAME-PREFIX
"""
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.request


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype=1, qid=1, do=True):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 1) + wire_name(name) + struct.pack(">HH", qtype, 1)
    return q + b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000 if do else 0, 0)


def has_rrsig(m):
    """Whether a response holds an RRSIG (type 46) in any section."""
    try:
        qd, an, ns, ar = struct.unpack(">HHHH", m[4:12])
        i = 12

        def skip(i):
            while True:
                n = m[i]
                if n == 0:
                    return i + 1
                if n & 0xC0 == 0xC0:
                    return i + 2
                i += n + 1
        for _ in range(qd):
            i = skip(i) + 4
        for _ in range(an + ns + ar):
            i = skip(i)
            t, _, _, rdl = struct.unpack(">HHIH", m[i:i + 10])
            if t == 46:
                return True
            i += 10 + rdl
    except (IndexError, struct.error):
        pass
    return False


def ttfa(cpus, name, cmd):
    port = int(cmd[cmd.index("--listen") + 1].rsplit(":", 1)[1])
    t0 = time.monotonic()
    p = subprocess.Popen(["taskset", "-c", cpus] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.002)
    q = query(name)
    result = None
    ready = None
    import threading

    def reader():
        nonlocal ready
        for line in p.stdout:
            if ready is None and b" serving" in line:
                ready = (time.monotonic() - t0) * 1000
    threading.Thread(target=reader, daemon=True).start()
    while time.monotonic() - t0 < 300 and p.poll() is None:
        try:
            s.sendto(q, ("127.0.0.1", port))
            m, _ = s.recvfrom(4096)
            result = ((time.monotonic() - t0) * 1000, has_rrsig(m))
            break
        except (socket.timeout, ConnectionRefusedError):
            continue
    p.terminate()
    p.wait()
    if result is None:
        print("ttfa_ms=n/a signed=0 ready_ms=n/a")
        return 1
    print(f"ttfa_ms={result[0]:.0f} signed={int(result[1])} ready_ms={ready if ready is None else round(ready)}")
    return 0


def latency(port, qfile, n):
    names = []
    with open(qfile) as f:
        for line in f:
            parts = line.split()
            if parts and parts[1] == "A":
                names.append(parts[0])
            if len(names) >= n:
                break
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    out = []
    for rnd in range(2):
        times = []
        for i, name in enumerate(names):
            q = query(name, qid=i)
            t = time.perf_counter()
            s.sendto(q, ("127.0.0.1", port))
            s.recvfrom(65535)
            times.append((time.perf_counter() - t) * 1e6)
        out.append(statistics.median(times))
    print(f"first_us={out[0]:.0f} cached_us={out[1]:.0f}")


def metric(url, prefix):
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(prefix):
            total += float(line.rsplit(" ", 1)[1])
    print(int(total) if total.is_integer() else total)


if __name__ == "__main__":
    if sys.argv[1] == "ttfa":
        sys.exit(ttfa(sys.argv[2], sys.argv[3], sys.argv[sys.argv.index("--") + 1:]))
    if sys.argv[1] == "latency":
        latency(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "metric":
        metric(sys.argv[2], sys.argv[3])
