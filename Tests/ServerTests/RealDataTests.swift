#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport
import ServerTestSupport

@Suite("Real data through the built binary", .serialized)
struct RealDataServeTests {
    static let realdata = realdataDirectory()

    @Test("fullbogons-ipv6 + UCEPROTECT level 1: sampled listings answered over UDP and TCP, 127.0.0.1 not listed")
    func realLists() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bogons = try #require(Self.realdata) + "/fullbogons-ipv6.txt"
        let uce = try #require(Self.realdata) + "/dnsbl-1.uceprotect.net.rbldnsd"
        let started = Date()
        let server = try ServeProcess(["bl.example:ip6trie:" + bogons, "bl.example:ip4set:" + uce], directory: dir)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let startup = Date().timeIntervalSince(started)
        print("real data: serving after \(String(format: "%.2f", startup)) s")

        var rng = SplitMix64(seed: 5782)
        let v6Prefixes = try String(contentsOfFile: bogons, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains(":") && !$0.hasPrefix("#") }
            .map { String($0.split(separator: "/")[0]) }
        let v4Addresses = try String(contentsOfFile: uce, encoding: .isoLatin1).split(separator: "\n")
            .compactMap { line -> String? in
                let first = line.split(separator: " ").first.map(String.init) ?? ""
                let parts = first.split(separator: ".")
                return parts.count == 4 && parts.allSatisfy({ UInt8($0) != nil }) && first != "127.0.0.2" ? first : nil
            }
        try #require(v6Prefixes.count > 1000 && v4Addresses.count > 1000)
        var checked = 0
        for i in 0..<200 {
            let tcp = i % 4 == 0
            let v6 = i % 2 == 0
            let name = v6 ? nibbleName(v6Prefixes.randomElement(using: &rng)!)
                          : reversedName(v4Addresses.randomElement(using: &rng)!)
            let q = makeQuery(id: UInt16(i), name: name, type: 1)
            let reply: [UInt8]?
            if tcp {
                let s = try TestSocket(tcp: server.v6!)
                try s.send(framed(q))
                reply = s.receiveFramed()
            } else {
                reply = try udpQuery(server.v4, q)
            }
            let p = try #require(reply.flatMap(parseResponse), "no answer for \(name)")
            #expect(p.rcode == 0 && p.addresses == ["127.0.0.2"], "\(name): rcode \(p.rcode) \(p.addresses)")
            checked += 1
        }
        #expect(checked == 200)
        // RFC 5782 §5: 127.0.0.1 must not be listed (the file excludes it explicitly).
        let negative = try #require(try udpQuery(server.v4, makeQuery(id: 999, name: reversedName("127.0.0.1"))).flatMap(parseResponse))
        #expect(negative.rcode == 3)
        #expect(startup < 60, "time to serve the real lists: \(startup) s")
    }
}
