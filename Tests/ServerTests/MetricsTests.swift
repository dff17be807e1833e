#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import DNSWire
import Foundation
import Logging
import PrefixStore
import Testing
import ServerTestSupport

@Suite("Metrics over HTTP", .serialized)
struct MetricsTests {
    @Test("counters move as expected for a scripted set of queries, scraped from /metrics")
    func scriptedQueries() async throws {
        let responder = try opsResponder()
        let (server, http, _) = try await startWithMetrics(responder.stores) {
            $0.operations.rrl = RRLSettings(rate: 3, slip: 2)
        }
        defer { Task { await http.stop(); await server.stop() } }
        let dns = try #require(server.udpAddresses.first)

        // 3 listed A (UDP), 2 NXDOMAIN (UDP), 1 REFUSED (UDP), 1 listed TXT over TCP, 1 FORMERR.
        for i in 0..<3 { #expect(try udpQuery(dns, makeQuery(id: UInt16(i), name: "1.2.0.192.bl.example")) != nil) }
        for i in 0..<2 { #expect(try udpQuery(dns, makeQuery(id: UInt16(10 + i), name: "\(i).9.0.192.bl.example")) != nil) }
        #expect(try udpQuery(dns, makeQuery(id: 20, name: "1.2.0.192.other.example")) != nil)
        let tcpAddress = try #require(server.tcpAddresses.first)
        let tcp = try TestSocket(tcp: tcpAddress)
        try tcp.send(framed(makeQuery(id: 30, name: "1.2.0.192.bl.example", type: DNSType.txt)))
        #expect(tcp.receiveFramed() != nil)
        var bad = makeQuery(id: 40, name: "x.bl.example"); bad[5] = 2  // QDCOUNT 2
        #expect(try udpQuery(dns, bad) != nil)

        let metricsAddress = try #require(http.boundAddress)
        let page = try #require(try httpGet(metricsAddress, "/metrics"))
        #expect(page.status == 200)
        let m = page.body
        #expect(sample(m, #"prefixbl_responses_total{transport="udp",rcode="NOERROR"}"#) == 3)
        #expect(sample(m, #"prefixbl_responses_total{transport="udp",rcode="NXDOMAIN"}"#) == 2)
        #expect(sample(m, #"prefixbl_responses_total{transport="udp",rcode="REFUSED"}"#) == 1)
        #expect(sample(m, #"prefixbl_responses_total{transport="udp",rcode="FORMERR"}"#) == 1)
        #expect(sample(m, #"prefixbl_responses_total{transport="tcp",rcode="NOERROR"}"#) == 1)
        #expect(sample(m, #"prefixbl_lookups_total{result="listed"}"#) == 4)
        #expect(sample(m, #"prefixbl_lookups_total{result="not_listed"}"#) == 4)
        #expect(sample(m, #"prefixbl_responses_by_qtype_total{qtype="TXT"}"#) == 1)
        #expect(sample(m, #"prefixbl_responses_by_qtype_total{qtype="A"}"#) == 6)
        #expect(sample(m, #"prefixbl_responses_by_qtype_total{qtype="other"}"#) == 1, "FORMERR has no QTYPE")
        #expect(sample(m, #"prefixbl_answer_latency_seconds_count"#) == 8)
        #expect(sample(m, #"prefixbl_zone_serial{zone="bl.example"}"#) == 2026113001)
        #expect(sample(m, #"prefixbl_dataset_entries{zone="bl.example",dataset="t"}"#) == 1)
        #expect(sample(m, #"prefixbl_tcp_connections_open"#) == 1)

        // A flood: the limiter's counts reach the exposition.
        let flood = try TestSocket(udp: dns, timeout: 0.2)
        for _ in 0..<30 { try flood.send(makeQuery(id: 50, name: "7.7.0.192.bl.example")) }
        while flood.receiveDatagram() != nil {}
        let rrl = try #require(server.queryGuard.rrl)
        #expect(rrl.slipped > 0 && rrl.dropped > 0)
        let page2 = try #require(try httpGet(metricsAddress, "/metrics")).body
        #expect(sample(page2, #"prefixbl_rrl_total{action="slip"}"#) == Double(rrl.slipped))
        #expect(sample(page2, #"prefixbl_rrl_total{action="drop"}"#) == Double(rrl.dropped))
        #expect(try httpGet(metricsAddress, "/other")?.status == 404)
        await http.stop()
        await server.stop()
    }

    @Test("--max-age with refuse: a zone older than the limit is flagged stale and REFUSED; warn keeps serving")
    func maxAgeRefuse() async throws {
        let old = UInt64(wallClockSeconds()) - 1000
        for refuse in [true, false] {
            let metrics = ServerMetrics(logger: Logger(label: "test"))
            metrics.maxAge = 60
            metrics.refuseStale = refuse
            let server = try await startServer(handler: try opsResponder(created: old))
            metrics.server = server
            let dns = try #require(server.udpAddresses.first)
            let before = try #require(try udpQuery(dns, makeQuery(id: 1, name: "1.2.0.192.bl.example")))
            #expect(before[3] & 0x0F == 0)
            let text = metrics.exposition()  // aggregates: finds the zone 1000 s old
            #expect(sample(text, #"prefixbl_zone_stale{zone="bl.example"}"#) == 1)
            #expect(sample(text, #"prefixbl_zone_data_age_seconds{zone="bl.example"}"#) >= 1000)
            let after = try #require(try udpQuery(dns, makeQuery(id: 2, name: "1.2.0.192.BL.example")))
            #expect(after[3] & 0x0F == (refuse ? 5 : 0))
            // A name that merely ends in the zone's text is another zone.
            let other = try #require(try udpQuery(dns, makeQuery(id: 3, name: "1.2.0.192.xbl.example")))
            #expect(other[3] & 0x0F == 5, "not served at all")
            await server.stop()
        }
        // Fresh data is never stale.
        let metrics = ServerMetrics(logger: Logger(label: "test"))
        metrics.maxAge = 60
        metrics.refuseStale = true
        let server = try await startServer(handler: try opsResponder(created: UInt64(wallClockSeconds()) - 5))
        metrics.server = server
        #expect(sample(metrics.exposition(), #"prefixbl_zone_stale{zone="bl.example"}"#) == 0)
        let dns = try #require(server.udpAddresses.first)
        let r = try #require(try udpQuery(dns, makeQuery(id: 4, name: "1.2.0.192.bl.example")))
        #expect(r[3] & 0x0F == 0)
        await server.stop()
    }
}

extension MetricsTests {
    /// Two zones from their own source files, neither with `$TIMESTAMP`: the data age of each
    /// is its own files' modification time. Before, the newest of all watched files counted
    /// for every zone, so a fresh zone hid a stale one from `--max-age`.
    @Test("--max-age: a zone's age is that of its own files; a fresh zone does not hide a stale one")
    func maxAgePerZoneFiles() async throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let oldFile = dir + "/old.txt", freshFile = dir + "/fresh.txt"
        try "192.0.2.1\n".write(toFile: oldFile, atomically: true, encoding: .utf8)
        try "192.0.2.1\n".write(toFile: freshFile, atomically: true, encoding: .utf8)
        let old = time_t(wallClockSeconds()) - 100_000
        var times = [timeval(tv_sec: old, tv_usec: 0), timeval(tv_sec: old, tv_usec: 0)]
        #expect(utimes(oldFile, &times) == 0)
        func zone(_ name: String) -> ZoneInput {
            let ds = DatasetInput(name: "t", type: "ip4trie", family: .ipv4, ttl: 2100,
                                  values: [ListingValue(a: 0x7F00_0002, txt: Array("listed $".utf8))],
                                  entries: [PrefixEntry(address: UInt128(0xC000_0201), prefixLength: 32, value: 0, origin: 1)],
                                  created: nil, expires: nil)
            return ZoneInput(name: wireNameOps(name),
                             soa: SOAData(ttl: 3600, mname: wireNameOps("ns1." + name), rname: wireNameOps("hostmaster.example.org"),
                                          serial: 1, refresh: 7200, retry: 1800, expire: 1209600, minimum: 300),
                             nsTTL: 86400, ns: [wireNameOps("ns1." + name)], datasets: [ds])
        }
        let store = try Store(zones: [zone("old.example"), zone("fresh.example")])
        let snapshot = Snapshot.serving([store], options: AnswerOptions(), now: 0)
        let loader = SnapshotLoader(files: [oldFile, freshFile],
                                    zoneFiles: ["old.example": [oldFile], "fresh.example": [freshFile]]) { snapshot }
        let holder = SnapshotHolder(snapshot)
        let metrics = ServerMetrics(logger: Logger(label: "test"))
        metrics.maxAge = 3600
        metrics.refuseStale = true
        metrics.reloader = Reloader(holder: holder, loader: loader, logger: Logger(label: "test"))
        let config = ServerConfiguration(listen: [try ListenAddress(parsing: "127.0.0.1:0")], threads: 2)
        let server = DNSServer(configuration: config, holder: holder, logger: Logger(label: "test"), metrics: metrics)
        try await server.start()
        metrics.server = server
        let text = metrics.exposition()
        #expect(sample(text, #"prefixbl_zone_stale{zone="old.example"}"#) == 1)
        #expect(sample(text, #"prefixbl_zone_data_age_seconds{zone="old.example"}"#) >= 100_000)
        #expect(sample(text, #"prefixbl_zone_stale{zone="fresh.example"}"#) == 0)
        let dns = try #require(server.udpAddresses.first)
        let stale = try #require(try udpQuery(dns, makeQuery(id: 1, name: "1.2.0.192.old.example")))
        #expect(stale[3] & 0x0F == 5)
        let fresh = try #require(try udpQuery(dns, makeQuery(id: 2, name: "1.2.0.192.fresh.example")))
        #expect(fresh[3] & 0x0F == 0)
        await server.stop()
    }
}

/// A DNSServer on 127.0.0.1:0 (2 UDP threads) answering from `stores`, with metrics and their
/// HTTP listener on 127.0.0.1:0, both started. `configure` adjusts the configuration first.
func startWithMetrics(_ stores: [Store], _ configure: (inout ServerConfiguration) -> Void = { _ in })
    async throws -> (DNSServer, MetricsHTTPServer, ServerMetrics)
{
    let metrics = ServerMetrics(logger: Logger(label: "test"))
    var config = ServerConfiguration(listen: [try ListenAddress(parsing: "127.0.0.1:0")], threads: 2)
    configure(&config)
    let server = DNSServer(configuration: config,
                           holder: SnapshotHolder(Snapshot.serving(stores, options: AnswerOptions(), now: 0)),
                           logger: Logger(label: "test"), metrics: metrics)
    metrics.server = server
    try await server.start()
    let http = MetricsHTTPServer(metrics: metrics)
    try await http.start(try ListenAddress(parsing: "127.0.0.1:0"))
    return (server, http, metrics)
}
