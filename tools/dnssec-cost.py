#!/usr/bin/env python3
"""Helpers of tools/dnssec-cost.sh (stdlib only).

  dnssec-cost.py ttfa CPUS NAME -- SERVE-COMMAND...
        starts the command (pinned with taskset -c CPUS), sends a DO=1 A query for NAME to the
        --listen port every 2 ms and prints "ttfa_ms=X signed=0|1 ready_ms=Y" at the first
        answer with an RRSIG (ready_ms: when its log first said " serving"); stops the server.
        With "--do 0" before "--": a DO=0 query, and the first answer of any kind counts.
        Also prints rss_kib (the server's VmRSS at that answer).
  dnssec-cost.py reload CPUS NAME RELOADS -- SERVE-COMMAND...
        starts the command, waits for its first answer, then sends SIGHUP RELOADS times, each
        after the previous "reloaded" log line, while a thread asks NAME (DO=1) one query at a
        time; prints "start_ms=X reload_ms=A,B,... max_gap_ms=G unanswered=U rss_kib=R
        hwm_kib=H" (reload_ms: the log's total-ms per reload; max_gap_ms: the longest time
        between two answers while reloading; unanswered: queries that got no answer in 1 s;
        rss_kib after the reloads, hwm_kib the peak).
  dnssec-cost.py latency PORT QUERYFILE N
        DO=1 round trips, one query at a time: N names of QUERYFILE never asked before
        (their RRsets mostly unsigned yet), then the same N names again (signatures cached);
        prints "first_us=MEDIAN cached_us=MEDIAN".
  dnssec-cost.py metric URL NAME-PREFIX    sum of the samples whose line starts with NAME-PREFIX
  dnssec-cost.py rotating DATA OUT [COUNT]
        a dnsperf query list of COUNT (default 200,000) distinct names, bots rotating
        addresses: 1,200 "gaps" drawn (seed 1207) from the generated set in DATA — 300 listed
        IPv6 prefixes (/40 to /64) of v6.ip6trie, 300 random /48s of 2000::/3 (unlisted as
        good as always), 300 listed IPv4 CIDRs of /24 or shorter of v4.ip4set, 300 random IPv4
        /24s (most unlisted, some holding listed /32s) — then for each name a random gap and a
        random address inside it; 85% A, 15% TXT.
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


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def ttfa(cpus, name, cmd, do=True):
    port = int(cmd[cmd.index("--listen") + 1].rsplit(":", 1)[1])
    t0 = time.monotonic()
    p = subprocess.Popen(["taskset", "-c", cpus] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.002)
    q = query(name, do=do)
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
    rss = status_kib(p.pid, "VmRSS")
    p.terminate()
    p.wait()
    if result is None:
        print("ttfa_ms=n/a signed=0 ready_ms=n/a rss_kib=n/a")
        return 1
    print(f"ttfa_ms={result[0]:.0f} signed={int(result[1])} ready_ms={ready if ready is None else round(ready)}"
          f" rss_kib={rss}")
    return 0


def reload(cpus, name, count, cmd):
    import re
    import signal
    import threading
    port = int(cmd[cmd.index("--listen") + 1].rsplit(":", 1)[1])
    t0 = time.monotonic()
    p = subprocess.Popen(["taskset", "-c", cpus] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reloads = []
    lines = threading.Condition()

    def reader():
        for line in p.stdout:
            m = re.search(rb"total-ms=(\d+)", line) if b" reloaded" in line else None
            if m or b"reload refused" in line:
                with lines:
                    reloads.append(int(m.group(1)) if m else -1)
                    lines.notify_all()
    threading.Thread(target=reader, daemon=True).start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.002)
    q = query(name)
    start_ms = None
    while time.monotonic() - t0 < 300 and p.poll() is None:
        try:
            s.sendto(q, ("127.0.0.1", port))
            s.recvfrom(4096)
            start_ms = (time.monotonic() - t0) * 1000
            break
        except (socket.timeout, ConnectionRefusedError):
            continue
    if start_ms is None:
        p.terminate()
        p.wait()
        print("start_ms=n/a")
        return 1
    stop = threading.Event()
    gaps = {"max": 0.0, "unanswered": 0}

    def asker():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(1.0)
        last = time.monotonic()
        qid = 0
        while not stop.is_set():
            qid = (qid + 1) & 0xFFFF
            try:
                c.sendto(query(name, qid=qid), ("127.0.0.1", port))
                while True:
                    m = c.recv(4096)
                    if m[:2] == struct.pack(">H", qid):
                        break
                now = time.monotonic()
                gaps["max"] = max(gaps["max"], (now - last) * 1000)
                last = now
            except socket.timeout:
                gaps["unanswered"] += 1
    t = threading.Thread(target=asker, daemon=True)
    t.start()
    for i in range(count):
        p.send_signal(signal.SIGHUP)
        with lines:
            lines.wait_for(lambda: len(reloads) > i, timeout=300)
    stop.set()
    t.join()
    rss, hwm = status_kib(p.pid, "VmRSS"), status_kib(p.pid, "VmHWM")
    p.terminate()
    p.wait()
    print(f"start_ms={start_ms:.0f} reload_ms={','.join(map(str, reloads))} max_gap_ms={gaps['max']:.1f}"
          f" unanswered={gaps['unanswered']} rss_kib={rss} hwm_kib={hwm}")
    return 0 if len(reloads) == count and -1 not in reloads else 1


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


def rotating(data, out, count):
    import ipaddress
    import random
    rnd = random.Random(1207)
    v6, v4 = [], []
    for line in open(data + "/v6.ip6trie"):
        w = line.split()
        if w and "/" in w[0] and w[0][0] not in "!#:$" and 40 <= int(w[0].split("/")[1]) <= 64:
            v6.append(w[0])
    for line in open(data + "/v4.ip4set"):
        w = line.split()
        if w and "/" in w[0] and w[0][0] not in "!#:$" and int(w[0].split("/")[1]) <= 24:
            v4.append(w[0])
    gaps = [ipaddress.ip_network(p, strict=False) for p in rnd.sample(v6, 300) + rnd.sample(v4, 300)]
    gaps += [ipaddress.IPv6Network(((0x2000 << 112) | (rnd.getrandbits(45) << 80), 48)) for _ in range(300)]
    gaps += [ipaddress.IPv4Network((rnd.getrandbits(24) << 8, 24)) for _ in range(300)]
    seen, lines = set(), []
    while len(lines) < count:
        net = rnd.choice(gaps)
        a = int(net.network_address) + rnd.randrange(net.num_addresses)
        if net.version == 6:
            q = ".".join(reversed(ipaddress.IPv6Address(a).exploded.replace(":", ""))) + ".bl.example"
        else:
            q = ".".join(reversed(str(ipaddress.IPv4Address(a)).split("."))) + ".bl.example"
        if q not in seen:
            seen.add(q)
            lines.append("%s %s\n" % (q, "TXT" if rnd.random() < 0.15 else "A"))
    open(out, "w").writelines(lines)


if __name__ == "__main__":
    if sys.argv[1] == "rotating":
        rotating(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 200000)
        sys.exit(0)
    if sys.argv[1] == "ttfa":
        cut = sys.argv.index("--")
        opts = sys.argv[4:cut]
        do = not (len(opts) == 2 and opts[0] == "--do" and opts[1] == "0")
        sys.exit(ttfa(sys.argv[2], sys.argv[3], sys.argv[cut + 1:], do=do))
    if sys.argv[1] == "reload":
        sys.exit(reload(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[sys.argv.index("--") + 1:]))
    if sys.argv[1] == "latency":
        latency(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "metric":
        metric(sys.argv[2], sys.argv[3])
