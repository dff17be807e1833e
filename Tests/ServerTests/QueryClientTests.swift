import DNSBL
@testable import DNSBLServer
import Foundation
import Testing
import TestSupport
import ServerTestSupport

@Suite("prefixbl query (libldns client) against a stub server", .serialized)
struct QueryClientTests {
    @Test("IPv4 and IPv6 addresses become RFC 5782 names; listed exits 0 with the code")
    func listed() async throws {
        let server = try await startServer(handler: StubHandler(value: 5))
        defer { Task { await server.stop() } }
        let bin = try #require(prefixblBinary())
        let v4 = server.udpAddresses[0], v6 = server.udpAddresses[1]
        var r = try run(bin, ["query", "192.0.2.10", "--zone", "bl.example", "--server", "\(v4.host):\(v4.port)"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("10.2.0.192.bl.example."), "\(r.output)")
        #expect(r.output.hasSuffix("listed: 127.0.0.5\n"), "\(r.output)")
        r = try run(bin, ["query", "2001:db8:abcd::5", "--zone", "bl.example", "--server", "[::1]:\(v6.port)", "--tcp"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains(nibbleName("2001:db8:abcd::5") + "."), "\(r.output)")
        r = try run(bin, ["query", "2.0.0.127.bl.example", "--server", "\(v4.host):\(v4.port)", "--short"])
        #expect(r.output == "listed: 127.0.0.5\n", "\(r.output)")
        await server.stop()
    }

    @Test("a truncated UDP answer is retried over TCP")
    func truncatedRetriesOverTCP() async throws {
        let server = try await startServer(handler: StubHandler(value: 6, truncateUDP: true))
        defer { Task { await server.stop() } }
        let a = server.udpAddresses[0]
        let r = try run(try #require(prefixblBinary()), ["query", "192.0.2.1", "--zone", "bl.example", "--server", "\(a.host):\(a.port)"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("retried over TCP"), "\(r.output)")
        #expect(r.output.hasSuffix("listed: 127.0.0.6\n"))
        #expect(server.tcpStats.answered >= 1)
        await server.stop()
    }

    @Test("NXDOMAIN exits 1, REFUSED and timeouts exit 2")
    func notListedAndErrors() async throws {
        let bin = try #require(prefixblBinary())
        let nx = try await startServer(handler: StubHandler(rcode: 3))
        let a = nx.udpAddresses[0]
        var r = try run(bin, ["query", "192.0.2.11", "--zone", "bl.example", "--server", "\(a.host):\(a.port)"])
        #expect(r.status == 1)
        #expect(r.output.hasSuffix("not listed (NXDOMAIN)\n"), "\(r.output)")
        await nx.stop()
        let refused = try await startServer(handler: StubHandler(rcode: 5))
        let b = refused.udpAddresses[0]
        r = try run(bin, ["query", "192.0.2.11", "--zone", "bl.example", "--server", "\(b.host):\(b.port)"])
        #expect(r.status == 2)
        #expect(r.output.hasSuffix("error: REFUSED\n"), "\(r.output)")
        await refused.stop()
        // Nothing listens on b's port any more.
        r = try run(bin, ["query", "192.0.2.11", "--zone", "bl.example", "--server", "\(b.host):\(b.port)", "--timeout", "0.3"])
        #expect(r.status == 2)
        #expect(r.output.hasPrefix("error: "), "\(r.output)")
        r = try run(bin, ["query", "192.0.2.11", "--server", "\(b.host):\(b.port)"])
        #expect(r.status != 0 && r.output.contains("--zone"), "an address without --zone is a usage error: \(r.output)")
    }
}
