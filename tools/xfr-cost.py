#!/usr/bin/env python3
"""xfr-cost.py — one AXFR over TCP, timed (tools/xfr-cost.sh).

usage: xfr-cost.py [--keep FILE] HOST PORT ZONE
       xfr-cost.py --text FILE        (the kept messages as master-file text)

Sends one AXFR query (RFC 5936) and reads the response messages until the second SOA.
Prints: first_byte SECONDS (request sent → first response byte), complete SECONDS (→ closing
SOA), messages, records, bytes (DNS messages without the TCP length prefixes), soa_seen.
--keep FILE appends every message (2-byte length prefix, as on the wire) to FILE.
--text FILE prints the records of such a file as master-file lines in RFC 3597 generic form
(`owner TTL IN TYPEn \\# LEN HEX`), which ldns-verify-zone reads.
Only the first message's records are parsed; the end is the message ending in the first SOA's
RDATA (Python is too slow to parse a million-record transfer as it arrives).
"""
import socket, struct, sys, time

def skip_name(m, p):
    while True:
        n = m[p]
        if n == 0: return p + 1
        if n & 0xC0 == 0xC0: return p + 2
        p += 1 + n

def read_name(m, p):
    labels = []; end = None
    while True:
        n = m[p]
        if n == 0:
            if end is None: end = p + 1
            break
        if n & 0xC0 == 0xC0:
            if end is None: end = p + 2
            p = ((n & 0x3F) << 8) | m[p + 1]; continue
        labels.append(m[p + 1:p + 1 + n]); p += 1 + n
    text = '.'.join(''.join(chr(c) if 0x21 <= c <= 0x7e and chr(c) not in '.\\;()"' else '\\%03d' % c for c in l) for l in labels) + '.'
    return text, end

def records(m):
    qd, an = struct.unpack('!HH', m[4:8])
    p = 12
    for _ in range(qd): p = skip_name(m, p) + 4
    for _ in range(an):
        start = p
        p = skip_name(m, p)
        t, c, ttl, rdl = struct.unpack('!HHIH', m[p:p + 10])
        yield start, t, ttl, p + 10, rdl
        p += 10 + rdl

def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError('connection closed')
        b += c
    return bytes(b)

def to_text(path):
    data = open(path, 'rb').read(); i = 0
    while i < len(data):
        (n,) = struct.unpack('!H', data[i:i + 2]); m = data[i + 2:i + 2 + n]; i += 2 + n
        for start, t, ttl, rd, rdl in records(m):
            owner, _ = read_name(m, start)
            print('%s\t%d\tIN\tTYPE%d\t\\# %d %s' % (owner, ttl, t, rdl, m[rd:rd + rdl].hex() or ''))

def main():
    a = sys.argv[1:]
    if a[:1] == ['--text']: return to_text(a[1])
    keep = None
    if a[:1] == ['--keep']: keep = open(a[1], 'wb'); a = a[2:]
    host, port, zone = a[0], int(a[1]), a[2]
    q = struct.pack('!HHHHHH', 0x4242, 0, 1, 0, 0, 0)
    for l in zone.rstrip('.').split('.'): q += bytes([len(l)]) + l.encode()
    q += b'\x00' + struct.pack('!HH', 252, 1)
    s = socket.create_connection((host, port), timeout=600)
    t0 = time.monotonic(); s.sendall(struct.pack('!H', len(q)) + q)
    first = None; msgs = recs = nbytes = soas = 0
    while soas < 2:
        hdr = s.recv(2, socket.MSG_WAITALL) if first is not None else None
        if first is None:
            hdr = s.recv(1)
            if not hdr: raise EOFError('closed before any answer')
            first = time.monotonic() - t0
            hdr += recv_exact(s, 1)
        if len(hdr) < 2:
            # NSD closes the connection after the last message; its SOAs' RDATA names are
            # compressed, so the end is not recognised by bytes: a close after messages ends it.
            if msgs == 0: raise EOFError('connection closed before any message')
            print('closed_by_server 1'); break
        (n,) = struct.unpack('!H', hdr); m = recv_exact(s, n)
        if keep: keep.write(hdr + m)
        msgs += 1; nbytes += n
        if m[3] & 0x0F: print('rcode', m[3] & 0x0F); break
        recs += struct.unpack('!H', m[6:8])[0]
        if msgs == 1:
            # The first record is the SOA; the transfer ends with a message ending in the same
            # SOA RDATA (only the first message's records are parsed: Python is slow).
            start, t, ttl, rd, rdl = next(records(m))
            soa = m[rd:rd + rdl]; soas = 1
            if sum(1 for r in records(m) if r[1] == 6) >= 2: soas = 2
        elif m.endswith(soa): soas = 2
    done = time.monotonic() - t0
    print('first_byte %.3f' % first); print('complete %.3f' % done)
    print('messages %d' % msgs); print('records %d' % recs); print('bytes %d' % nbytes); print('soa_seen %d' % soas)

if __name__ == '__main__':
    main()
