#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import Foundation
import LDNSKit
import PrefixStore
import Testing
import ZoneSource
import ServerTestSupport

@Suite("ACL sees the real client address over loopback (UDP and TCP)", .serialized)
struct ACLTransportTests {
    /// 127.0.0.1 is refused; ::1 gets the policy answer with `$` = its own address.
    static func responder() throws -> Responder {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let list = dir + "/list.txt", acl = dir + "/acl.txt"
        try "$SOA 3600 ns1.example.net hostmaster.example.org 1 7200 900 604800 300\n192.0.2.1 :2:listed $\n"
            .write(toFile: list, atomically: true, encoding: .utf8)
        try "127.0.0.1 :refuse\n::1 :127.255.255.3:blocked $\n".write(toFile: acl, atomically: true, encoding: .utf8)
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [list]),
                                  ZoneSpec(zone: "bl.example", type: "acl", files: [acl])])
        guard !r.hasErrors else { throw TestError.failed(r.diagnostics.map(\.description).joined(separator: "\n")) }
        return Responder(stores: [try Store(zones: r.zones)])
    }

    @Test("127.0.0.1 and ::1 are two different clients over UDP and over TCP")
    func loopbackClientsDiffer() async throws {
        let server = try await startServer(handler: try Self.responder())
        defer { Task { await server.stop() } }
        #expect(server.udpAddresses.count == 2)
        for address in server.udpAddresses {
            let a = makeQuery(id: 0x1234, name: "1.2.0.192.bl.example")
            let t = makeQuery(id: 0x1235, name: "1.2.0.192.bl.example", type: 16)
            let udpA = try #require(try udpQuery(address, a), "no UDP answer from \(address)")
            let udpT = try #require(try udpQuery(address, t), "no UDP answer from \(address)")
            let tcp = try TestSocket(tcp: address)
            try tcp.send(framed(a) + framed(t))
            let tcpA = try #require(tcp.receiveFramed(), "no TCP answer from \(address)")
            let tcpT = try #require(tcp.receiveFramed(), "no TCP answer from \(address)")
            for (ra, rt) in [(udpA, udpT), (tcpA, tcpT)] {
                let pa = try Packet(wire: ra), pt = try Packet(wire: rt)
                if address.family == .ipv4 {
                    #expect(pa.rcode == 5 && pt.rcode == 5, "\(address): \(pa.text)")
                } else {
                    #expect(pa.rcode == 0 && pa.answer.compactMap(\.aValue) == [0x7FFF_FF03], "\(address): \(pa.text)")
                    #expect(pt.answer.map(\.txtJoined) == ["blocked ::1"], "\(address): \(pt.text)")
                }
            }
        }
        await server.stop()
    }
}
