import Testing
@testable import ZoneTransfer

/// `NotifyService.soaSerial`: the serial a secondary's SOA answer holds (asked at start, before
/// a signed zone's first version, so no serial is reused).
@Suite("SOA serial of a secondary's answer")
struct HeldSerialTests {
    /// A response: header (QR AA, `rcode`), question `bl.example SOA IN`, and, when `serial` is
    /// given, one SOA answer whose names are compressed against the question.
    static func answer(serial: UInt32?, rcode: UInt8 = 0) -> [UInt8] {
        var m: [UInt8] = [0x12, 0x34, 0x84, rcode, 0, 1, 0, serial == nil ? 0 : 1, 0, 0, 0, 0]
        m += [2] + Array("bl".utf8) + [7] + Array("example".utf8) + [0, 0, 6, 0, 1]
        if let serial {
            var rdata: [UInt8] = [2] + Array("ns".utf8) + [0xC0, 12] + [1] + Array("h".utf8) + [0xC0, 12]
            rdata += [UInt8(serial >> 24), UInt8(serial >> 16 & 0xFF), UInt8(serial >> 8 & 0xFF), UInt8(serial & 0xFF)]
            rdata += [UInt8](repeating: 1, count: 16)
            m += [0xC0, 12, 0, 6, 0, 1, 0, 0, 0x0E, 0x10, 0, UInt8(rdata.count)] + rdata
        }
        return m
    }

    @Test("The serial of the SOA in the answer section, names compressed; nil for an error RCODE, no answer, or a truncated record")
    func parses() {
        #expect(NotifyService.soaSerial(Self.answer(serial: 2026120706)) == 2026120706)
        #expect(NotifyService.soaSerial(Self.answer(serial: 0xFFFF_FFFF)) == 0xFFFF_FFFF)
        #expect(NotifyService.soaSerial(Self.answer(serial: nil)) == nil)
        #expect(NotifyService.soaSerial(Self.answer(serial: 7, rcode: 5)) == nil)  // REFUSED
        let whole = Self.answer(serial: 7)
        for cut in stride(from: 12, to: whole.count, by: 3) {
            #expect(NotifyService.soaSerial(Array(whole[0..<cut])) == nil, "cut at \(cut)")
        }
    }
}
