#if canImport(Glibc)
import Glibc
#endif
@testable import DNSBLServer
@testable import ZoneTransfer
import Foundation
import LDNSKit
import Testing
import ZoneExport
import TestSupport
import ServerTestSupport

/// The records of a dig transfer output (AXFR or IXFR), each parsed by libldns, in order.
func digRecords(_ output: String) throws -> [WireRR] {
    try output.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        .map { try ZoneFile.parse(String($0)) }
}

/// SERIAL of an SOA's RDATA.
func soaSerialOf(_ r: WireRR) -> UInt32 {
    var p = 0
    for _ in 0..<2 { while r.rdata[p] != 0 { p += 1 + Int(r.rdata[p]) }; p += 1 }
    return r.rdata[p..<(p + 4)].reduce(0) { $0 << 8 | UInt32($1) }
}

/// An RR as a comparable key: owner, type, TTL and RDATA (the TTL too: a secondary serves it).
func rrKey(_ r: WireRR) -> String {
    "\(DomainName.text(wire: r.owner)) \(r.type) \(r.ttl) \(r.rdata.map { String($0, radix: 16) }.joined(separator: ":"))"
}

let ixfrZoneV1 = """
    $SOA 3600 ns1.example.net hostmaster.example.net 1 600 300 86400 5
    $NS 3600 ns1.example.net
    :127.0.0.2:Listed in the test zone
    2001:db8::/32
    2001:db8:1::/48 :127.0.0.3:More specific
    2001:db8:2::/47 :127.0.0.4:
    !2001:db8:1:5::/64
    2001:db8:ffff::1 :127.0.0.5:Host
    2001:db8:77::/48 :127.0.0.6:Going away
    """

/// v2: one range removed, one added, one value changed, one exclusion added; serial 2.
let ixfrZoneV2 = """
    $SOA 3600 ns1.example.net hostmaster.example.net 2 600 300 86400 5
    $NS 3600 ns1.example.net
    :127.0.0.2:Listed in the test zone
    2001:db8::/32
    2001:db8:1::/48 :127.0.0.3:More specific
    2001:db8:2::/47 :127.0.0.8:
    !2001:db8:1:5::/64
    !2001:db8:9::/48
    2001:db8:ffff::1 :127.0.0.5:Host
    2001:db8:abcd::/48 :127.0.0.9:New
    """

@Suite("IXFR (RFC 1995) with differences", .serialized)
struct IXFRTests {
    @Test("dig IXFR=old after a reload: exactly the changed RRs, and old + difference = new; current, ahead and unknown serials; UDP",
          .enabled(if: which("dig") != nil, "dig not installed"))
    func incrementalAfterReload() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/zone.txt"
        try ixfrZoneV1.write(toFile: src, atomically: true, encoding: .utf8)
        let server = try ServeProcess(["--allow-transfer", "127.0.0.0/8", "--check-interval", "0.2", "--settle-delay", "0.1",
                                       "bl.example:ip6trie:" + src], directory: dir, ipv6: false)
        defer { server.child.signal(SIGKILL); _ = server.child.waitExit() }
        let port = "\(server.v4.port)"
        func dig(_ args: [String]) throws -> [WireRR] {
            let r = try run(which("dig")!, ["-p", port, "@127.0.0.1", "+nocmd", "+nostats"] + args)
            return try digRecords(r.output)
        }
        let old = try dig(["+tcp", "bl.example", "AXFR"])
        try #require(old.count > 10 && soaSerialOf(old[0]) == 1)
        #expect(!server.child.text.contains("transfer prebuilt"), "nothing is prebuilt before a secondary transfers")
        // Before any change the client at serial 1 is current: the SOA alone.
        let same = try dig(["bl.example", "IXFR=1"])
        #expect(same.count == 1 && same.first?.type == 6 && same.first.map(soaSerialOf) == 1)

        try ixfrZoneV2.write(toFile: src, atomically: true, encoding: .utf8)
        let resolver = try Resolver(server: "127.0.0.1", port: server.v4.port, timeout: 2, retries: 2, recursionDesired: false)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, (try? resolver.query(name: "bl.example", type: 6))?.text.contains(" 2 600 ") != true {
            usleep(100_000)
        }
        // Version 1 was transferred, so the reload builds version 2's transfer at once.
        #expect(server.child.waitFor("transfer prebuilt"), "\(server.child.text.suffix(2000))")
        let new = try dig(["+tcp", "bl.example", "AXFR"])
        try #require(soaSerialOf(new[0]) == 2, "no reload:\n\(server.child.text.suffix(2000))")

        let ixfr = try dig(["bl.example", "IXFR=1"])
        // RFC 1995 §4: SOA new; SOA old, deleted; SOA new, added; SOA new.
        let soas = ixfr.indices.filter { ixfr[$0].type == 6 }
        try #require(soas.count == 4, "\(ixfr.map(rrKey))")
        #expect(soas[0] == 0 && soas[3] == ixfr.count - 1)
        #expect(soas.map { soaSerialOf(ixfr[$0]) } == [2, 1, 2, 2])
        let deleted = Set(ixfr[(soas[1] + 1)..<soas[2]].map(rrKey))
        let added = Set(ixfr[(soas[2] + 1)..<soas[3]].map(rrKey))
        let oldSet = Set(old.filter { $0.type != 6 }.map(rrKey)), newSet = Set(new.filter { $0.type != 6 }.map(rrKey))
        #expect(deleted == oldSet.subtracting(newSet))
        #expect(added == newSet.subtracting(oldSet))
        #expect(oldSet.subtracting(deleted).union(added) == newSet, "old export + difference = new export")
        #expect(deleted.isSubset(of: oldSet) && added.isDisjoint(with: oldSet))
        // The changes by name: the removed /48, the new /48, the changed /47, the new exclusion.
        func has(_ set: Set<String>, _ owner: String, _ type: UInt16) -> Bool { set.contains { $0.hasPrefix("\(owner) \(type) ") } }
        #expect(has(deleted, "\\042.7.7.0.0.8.b.d.0.1.0.0.2.bl.example.", 1))
        #expect(has(added, "\\042.d.c.b.a.8.b.d.0.1.0.0.2.bl.example.", 1))
        #expect(has(deleted, "\\042.2.0.0.0.8.b.d.0.1.0.0.2.bl.example.", 1) && has(added, "\\042.2.0.0.0.8.b.d.0.1.0.0.2.bl.example.", 1))
        #expect(has(added, "9.0.0.0.8.b.d.0.1.0.0.2.bl.example.", 13))
        #expect(deleted.count + added.count < 20, "a small change gives a small difference: \(deleted.count) + \(added.count)")
        #expect(server.child.text.contains("ixfr=incremental"))

        // Current or ahead (RFC 1982): the SOA alone. Unknown serial: the full zone.
        for serial in ["2", "3", "2147483649"] {
            let r = try dig(["bl.example", "IXFR=\(serial)"])
            #expect(r.count == 1 && r.first.map(soaSerialOf) == 2, "IXFR=\(serial): \(r.count) records")
        }
        // 4294967000 is older than 2 by RFC 1982 (2 − 4294967000 ≡ 298 mod 2^32) and was never sent.
        let unknown = try dig(["bl.example", "IXFR=4294967000"])
        #expect(unknown.count == new.count && Set(unknown.map(rrKey)) == Set(new.map(rrKey)))
        #expect(unknown.filter { $0.type == 6 }.count == 2)
        // UDP: the SOA alone even for an old serial (the client then asks over TCP, RFC 1995 §2).
        let udp = try run(which("dig")!, ["-p", port, "@127.0.0.1", "+notcp", "+nocmd", "+nostats", "bl.example", "IXFR=1"])
        let udpRecords = try digRecords(udp.output)
        #expect(udpRecords.count == 1 && udpRecords.first.map(soaSerialOf) == 2, "\(udp.output)")
    }

    @Test("UDP IXFR from a client outside the transfer ACL is REFUSED")
    func udpRefused() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/zone.txt"
        try ixfrZoneV1.write(toFile: src, atomically: true, encoding: .utf8)
        let server = try ServeProcess(["--allow-transfer", "192.0.2.0/24", "bl.example:ip6trie:" + src], directory: dir, ipv6: false)
        defer { server.child.signal(SIGKILL); _ = server.child.waitExit() }
        let r = try #require(try udpQuery(server.v4, makeQuery(id: 9, name: "bl.example", type: 251)).flatMap(parseResponse))
        #expect(r.rcode == 5 && r.answerCount == 0)
    }
}

/// A version of `bl.example` with `serial` and `n` A records (about 50 bytes each).
func fakeVersion(serial: UInt32, records n: Int) -> ZoneVersion {
    let apex: [UInt8] = [2, 98, 108, 7, 101, 120, 97, 109, 112, 108, 101, 0]
    var soa: [UInt8] = [0, 0]
    for v in [serial, 1, 1, 1, 1] { soa += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    var rs = [ExportRecord(owner: apex, type: 6, ttl: 60, rdata: soa)]
    for i in 0..<n {
        rs.append(ExportRecord(owner: [1, UInt8(ascii: "*"), 4] + Array(String(format: "%04d", i).utf8) + apex,
                               type: 1, ttl: 60, rdata: [127, 0, 0, UInt8(i % 250)]))
    }
    return ZoneVersion(rs)!
}

@Test("the IXFR history keeps at most N versions per zone and stays under its memory cap, oldest out first")
func historyBounds() {
    let zone: [UInt8] = [2, 98, 108, 7, 101, 120, 97, 109, 112, 108, 101, 0]
    let other: [UInt8] = [1, 120, 0]
    let h = TransferHistory(limits: IXFRLimits(versions: 3, memoryBytes: 1 << 30))
    for s in 1...5 as ClosedRange<UInt32> { h.keep(fakeVersion(serial: s, records: 10), zone: zone) }
    #expect(h.serials(zone: zone) == [3, 4, 5])
    // The same serial again replaces the kept one (data changed without a serial change).
    h.keep(fakeVersion(serial: 4, records: 12), zone: zone)
    #expect(h.serials(zone: zone) == [3, 5, 4])
    #expect(h.version(zone: zone, serial: 4)?.count == 12)

    let one = fakeVersion(serial: 1, records: 100).memoryBytes
    let capped = TransferHistory(limits: IXFRLimits(versions: 10, memoryBytes: 2 * one + one / 2))
    capped.keep(fakeVersion(serial: 1, records: 100), zone: zone)
    capped.keep(fakeVersion(serial: 7, records: 100), zone: other)
    capped.keep(fakeVersion(serial: 2, records: 100), zone: zone)
    #expect(capped.serials(zone: zone) == [2] && capped.serials(zone: other) == [7])
    #expect(capped.memoryBytes <= 2 * one + one / 2)
    let off = TransferHistory(limits: IXFRLimits(versions: 0))
    off.keep(fakeVersion(serial: 1, records: 1), zone: zone)
    #expect(off.serials(zone: zone).isEmpty)
}

@Test("a transfer that takes longer to build than the TCP idle timeout is not cut off",
      .enabled(if: which("dig") != nil, "dig not installed"))
func slowTransferOutlivesIdleTimeout() throws {
    let dir = try makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // fullbogons-ipv6: 65,767 records, far more than 20 ms of export work.
    let realdata = try #require(realdataDirectory())
    let server = try ServeProcess(["--allow-transfer", "127.0.0.1", "--tcp-idle-timeout", "0.02",
                                   "bl.example:ip6trie:" + realdata + "/fullbogons-ipv6.txt"],
                                  directory: dir, ipv6: false)
    defer { server.child.signal(SIGKILL); _ = server.child.waitExit() }
    let r = try run(which("dig")!, ["-p", "\(server.v4.port)", "@127.0.0.1", "+tcp", "+tries=1", "bl.example", "AXFR"])
    let records = try digRecords(r.output)
    #expect(records.count > 60_000 && records.first?.type == 6 && records.last?.type == 6, "\(r.output.suffix(500))")
    #expect(server.child.text.components(separatedBy: "zone transfer").count == 2, "one request, no retry")
}
