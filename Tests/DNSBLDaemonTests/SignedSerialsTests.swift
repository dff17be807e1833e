@testable import DNSBLDaemon
import PrefixStore
import Testing
import ZoneExport

/// The serials signed zones are served with across loads and new versions (RFC 1982 order).
@Suite("Signed zone serials: new versions and reloads never go back")
struct SignedSerialsTests {
    static let apex: [UInt8] = [2, 98, 108, 7, 101, 120, 97, 109, 112, 108, 101, 0]  // bl.example

    static func store(serial: UInt32) throws -> Store {
        let soa = SOAData(ttl: 3600, mname: apex, rname: apex, serial: serial, refresh: 3600, retry: 600, expire: 604_800, minimum: 60)
        return try Store(zones: [ZoneInput(name: apex, soa: soa, nsTTL: 3600, ns: [], datasets: [])])
    }

    static func served(_ stores: [Store]) -> UInt32? { stores.first?.zones.first?.soa.serial }

    @Test("next: the Unix time when ahead of the serial, else serial + 1 (also across the wrap)")
    func next() {
        #expect(SignedSerials.next(after: 7, now: 1_800_000_000) == 1_800_000_000)
        #expect(SignedSerials.next(after: 2_026_120_701, now: 1_800_000_000) == 2_026_120_702)
        #expect(SignedSerials.next(after: 1_800_000_000, now: 1_800_000_000) == 1_800_000_001)
        #expect(SignedSerials.next(after: UInt32.max, now: 5) == 5)
        #expect(SerialNumber.isGreater(SignedSerials.next(after: UInt32.max, now: UInt32.max), than: UInt32.max))
    }

    @Test("A reload keeps a raised serial while the data's serial stays; a data serial not ahead of it gets the next serial; one ahead is served as it is; other zones are untouched")
    func reloads() throws {
        let s = SignedSerials()
        let now: UInt32 = 1_800_000_000
        #expect(Self.served(s.apply([try Self.store(serial: 7)], apexes: [Self.apex], now: now)) == 7)
        s.raise(Self.apex, to: now)
        #expect(s.served(Self.apex) == now)
        // Same data serial (a SIGHUP, a touched file): the raised serial stays.
        #expect(Self.served(s.apply([try Self.store(serial: 7)], apexes: [Self.apex], now: now + 10)) == now)
        // New data under serial 8, behind the raised one: the next serial (the Unix time).
        #expect(Self.served(s.apply([try Self.store(serial: 8)], apexes: [Self.apex], now: now + 20)) == now + 20)
        // The same second again: + 1.
        #expect(Self.served(s.apply([try Self.store(serial: 9)], apexes: [Self.apex], now: now + 20)) == now + 21)
        // A data serial ahead of the served one is served as it is.
        #expect(Self.served(s.apply([try Self.store(serial: now + 1000)], apexes: [Self.apex], now: now + 30)) == now + 1000)
        // A zone not signed keeps its serial.
        #expect(Self.served(s.apply([try Self.store(serial: 3)], apexes: [], now: now)) == 3)
    }
}
