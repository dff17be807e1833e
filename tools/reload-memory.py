#!/usr/bin/env python3
"""reload-memory.py — resident memory of `prefixbl serve` across SIGHUP reloads.

usage: tools/reload-memory.py RELOADS NAME [--trim] -- SERVE-COMMAND...

Starts SERVE-COMMAND (it must have `--listen 127.0.0.1:PORT`), waits for its first answer to
NAME (type A, DO=1), then sends SIGHUP RELOADS times, each after the previous "reloaded" log
line, while one client asks NAME one query at a time. After each reload (and 0.3 s) it prints
VmRSS and VmHWM (KiB) and the mappings of *.pfxbl files in /proc/PID/maps (the low address
digits of each: an old store still mapped shows up as a second entry). With --trim it then
calls malloc_trim(0) in the server through gdb (needs gdb and ptrace rights) and prints VmRSS
again: what that gives back was free memory glibc kept in its pools, what it does not is live.
Data for the figures in Serving.md: tools/gen-data.py, compiled with `prefixbl compile`.
"""
import os, re, signal, socket, struct, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"
def query(name, qid=1, do=True):
    h = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000 if do else 0, 0)
    return h + wire_name(name) + struct.pack(">HH", 1, 1) + opt
def kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
def maps(pid):
    n = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if ".pfxbl" in line or "(deleted)" in line: n.append(line.split("-")[0][-7:])
    return f"{len(n)}[{','.join(n)}]"
def main():
    count, name = int(sys.argv[1]), sys.argv[2]
    trim = "--trim" in sys.argv[:sys.argv.index("--")]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    port = int(cmd[cmd.index("--listen") + 1].rsplit(":", 1)[1])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reloads = []; cond = threading.Condition()
    def reader():
        for line in p.stdout:
            m = re.search(rb"total-ms=(\d+)", line) if b" reloaded" in line else None
            if m or b"reload refused" in line:
                with cond:
                    reloads.append(int(m.group(1)) if m else -1); cond.notify_all()
    threading.Thread(target=reader, daemon=True).start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.01)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        try:
            s.sendto(query(name), ("127.0.0.1", port)); s.recvfrom(4096); break
        except (socket.timeout, ConnectionRefusedError):
            continue
    stop = threading.Event()
    def asker():
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(1.0); qid = 0
        while not stop.is_set():
            qid = (qid + 1) & 0xFFFF
            try:
                c.sendto(query(name, qid=qid), ("127.0.0.1", port)); c.recv(4096)
            except socket.timeout:
                pass
    threading.Thread(target=asker, daemon=True).start()
    time.sleep(0.5)
    print(f"reload 0 rss_kib={kib(p.pid,'VmRSS')} hwm_kib={kib(p.pid,'VmHWM')} store_maps={maps(p.pid)}", flush=True)
    for i in range(count):
        p.send_signal(signal.SIGHUP)
        with cond:
            cond.wait_for(lambda: len(reloads) > i, timeout=300)
        time.sleep(0.3)
        print(f"reload {i+1} ms={reloads[i] if len(reloads)>i else 'n/a'} rss_kib={kib(p.pid,'VmRSS')} hwm_kib={kib(p.pid,'VmHWM')} store_maps={maps(p.pid)}", flush=True)
    stop.set(); time.sleep(1.1)
    if trim:
        subprocess.run(["gdb", "-p", str(p.pid), "-batch", "-ex", "call (int)malloc_trim(0)"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"after malloc_trim(0) rss_kib={kib(p.pid,'VmRSS')} store_maps={maps(p.pid)}", flush=True)
    p.terminate(); p.wait()
main()
