import Testing
import Foundation
import PrefixStore
@testable import ZoneSource
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Side by side with rbldnsd itself, on loopback: rbldnsd serves the same real file on an
/// ephemeral port, and for sampled addresses (each sampled entry's edges, one past them, one
/// inside) its A answer (and for IPv4 its TXT) must equal what our store answers offline.
/// `ip4set` answers by rbldnsd's octet buckets, `ip4trie` by longest prefix, as rbldnsd; and
/// rbldnsd renders `$` in IPv6 TXT its own way, so IPv6 compares A only.
/// (`rbldnsd -d` is not used: its ip4trie dump drops ranges that it does answer.)
struct RbldnsdParityTests {
    static let rbldnsd = which("rbldnsd")

    /// One UDP query to 127.0.0.1:`port`; returns the RCODE and the answer RDATAs of `type`
    /// (A as dotted text, TXT as the joined strings), or nil on timeout.
    static func query(port: UInt16, name: String, type: UInt16) -> (rcode: Int, answers: [String])? {
        // EDNS0 with a 4096-byte payload, so that answer size does not decide: without it
        // rbldnsd leaves out the TXT records that do not fit 512 bytes (several long
        // UCEPROTECT TXTs answer one ip4set address).
        var q: [UInt8] = [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
        for label in name.split(separator: ".") { q.append(UInt8(label.utf8.count)); q += Array(label.utf8) }
        q += [0, UInt8(type >> 8), UInt8(type & 255), 0, 1]
        q += [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, q, q.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard sent == q.count else { return nil }
        var buf = [UInt8](repeating: 0, count: 65535)
        let n = recv(fd, &buf, buf.count, 0)
        guard n >= 12 else { return nil }
        let r = Array(buf[0..<n])
        func skipName(_ i: inout Int) {
            while i < r.count {
                let l = Int(r[i])
                if l == 0 { i += 1; return }
                if l & 0xC0 == 0xC0 { i += 2; return }
                i += l + 1
            }
        }
        var i = 12
        skipName(&i); i += 4
        let ancount = Int(r[6]) << 8 | Int(r[7])
        var out: [String] = []
        for _ in 0..<ancount {
            skipName(&i)
            guard i + 10 <= r.count else { break }
            let t = UInt16(r[i]) << 8 | UInt16(r[i + 1])
            let len = Int(r[i + 8]) << 8 | Int(r[i + 9])
            i += 10
            let rd = Array(r[i..<min(i + len, r.count)])
            i += len
            guard t == type else { continue }
            if t == 1 && rd.count == 4 { out.append("\(rd[0]).\(rd[1]).\(rd[2]).\(rd[3])") }
            if t == 16 {
                var s: [UInt8] = [], k = 0
                while k < rd.count { let l = Int(rd[k]); s += rd[(k + 1)..<min(k + 1 + l, rd.count)]; k += 1 + l }
                out.append(String(decoding: s, as: UTF8.self))
            }
        }
        return (Int(r[3] & 0x0F), out)
    }

    /// SIGKILL: a child spawned by Foundation's `Process` may start with SIGTERM blocked.
    static func stop(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    static func qname(_ family: AddressFamily, _ key: UInt128) -> String {
        if family == .ipv4 {
            let a = UInt32(truncatingIfNeeded: key)
            return "\(a & 255).\(a >> 8 & 255).\(a >> 16 & 255).\(a >> 24).bl.example"
        }
        var labels: [String] = []
        for k in 0..<32 { labels.append(String(UInt8(truncatingIfNeeded: key >> UInt128(4 * k)) & 15, radix: 16)) }
        return labels.joined(separator: ".") + ".bl.example"
    }

    static let lists: [(String, String)] = [
        ("spamhaus-drop.txt", "ip4trie"),
        ("dnsbl-1.uceprotect.net.rbldnsd", "ip4trie"),
        ("dnsbl-2.uceprotect.net.rbldnsd", "ip4trie"),
        ("spamhaus-dropv6.txt", "ip6trie"),
        ("ipv6-bogons.txt", "ip6trie"),
        ("fullbogons-ipv6.txt", "ip6trie"),
        ("dnsbl-1.uceprotect.net.rbldnsd", "ip4set"),
        // dnsbl-2's listings nest off octet boundaries (a /17 over a /23 over a /24): ip4set
        // answers there by rbldnsd's octet buckets (several TXTs where a /21 and a /23 meet),
        // which longest prefix did not (47 of ~1,900 sampled addresses differed, case C25).
        ("dnsbl-2.uceprotect.net.rbldnsd", "ip4set"),
        ("spamhaus-drop.txt", "ip4set"),
        ("ipsum.txt", "ip4set"),
    ]

    @Test(.enabled(if: rbldnsd != nil, "rbldnsd is not installed (tools/install-test-deps.sh installs it)"),
          .serialized, .timeLimit(.minutes(2)), arguments: lists)
    func sameAnswersAsRbldnsd(_ file: String, _ type: String) throws {
        let path = try #require(realdataDirectory()) + "/" + file
        var o = CompileOptions(); o.force = true  // rbldnsd has no guards; compare the data
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: type, files: [path])], options: o)
        #expect(!r.hasErrors)
        let store = try Store(zones: r.zones)
        let d = try #require(r.zones.first?.datasets.first)

        // Start rbldnsd on a free loopback port (retry a few random ports).
        let dir = TempDir()
        var process: Process? = nil
        var port: UInt16 = 0
        for attempt in 0..<5 {
            port = UInt16(20_000 + (Int(getpid()) * 7 + attempt * 7919 + Int(d.entries.count)) % 40_000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.rbldnsd!)
            p.arguments = ["-n", "-b", "127.0.0.1/\(port)", "-p", dir.path + "/pid", "bl.example:\(type):\(path)"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Ready when it answers the apex (REFUSED/NOERROR alike); gone when the port was taken.
            var ready = false
            for _ in 0..<100 {
                if !p.isRunning { break }
                if Self.query(port: port, name: "bl.example", type: 1) != nil { ready = true; break }
                usleep(50_000)
            }
            if ready { process = p; break }
            if p.isRunning { Self.stop(p) }
        }
        let server = try #require(process, "rbldnsd did not start")
        defer { Self.stop(server) }

        var rng = SplitMix64(seed: 0xAB1D ^ UInt64(d.entries.count))
        let keys = sampleKeys(d, entries: 150, using: &rng)
        var differences: [String] = []
        for key in keys {
            let ours = OfflineLookup.lookup([store], family: d.family, key: key)
            let name = Self.qname(d.family, key)
            let a = try #require(Self.query(port: port, name: name, type: 1), "no answer for \(name)")
            // RRsets: identical records once, order free (an ip4set answer may hold several).
            let oursA = Set(ours.map { ipv4Text($0.a) }).sorted()
            if Set(a.answers).sorted() != oursA { differences.append("\(name) A: rbldnsd \(a.answers) ours \(oursA)") }
            if d.family == .ipv4 && !ours.isEmpty {
                let t = try #require(Self.query(port: port, name: name, type: 16))
                let oursT = Set(ours.compactMap { $0.txt.map { String(decoding: $0, as: UTF8.self) } }).sorted()
                if Set(t.answers).sorted() != oursT { differences.append("\(name) TXT: rbldnsd \(t.answers) ours \(oursT)") }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differences, first: \(differences.prefix(3))")
    }
}
