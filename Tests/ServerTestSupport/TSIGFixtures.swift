import DNSBLServer
import Foundation

// The TSIG key and the record reader the TSIG tests of the transport and of zone transfers share.

/// The secret of the test key: bytes 1…32, base64.
package let tsigSecret = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
package let tsigKeyName = "xfr.bl.example"

package func testKey(_ algorithm: TSIGAlgorithm = .hmacSHA256, name: String = tsigKeyName, secret: String = tsigSecret) -> TSIGKey {
    try! TSIGKey(name: name, algorithm: algorithm, secret: [UInt8](Data(base64Encoded: secret)!))
}

/// The TSIG record of a message, read with libldns's view of the packet (owner, RDATA fields).
package func tsigFields(_ m: [UInt8]) -> (error: UInt16, macSize: Int, time: UInt64, other: [UInt8])? {
    // Walk to the last record by hand: libldns strips the TSIG out of the packet it parses.
    guard m.count > 12 else { return nil }
    var i = 12
    func skipName() { while i < m.count { let n = Int(m[i]); if n == 0 { i += 1; return }; if n >= 0xC0 { i += 2; return }; i += 1 + n } }
    let qd = Int(m[4]) << 8 | Int(m[5])
    let rr = (Int(m[6]) << 8 | Int(m[7])) + (Int(m[8]) << 8 | Int(m[9])) + (Int(m[10]) << 8 | Int(m[11]))
    for _ in 0..<qd { skipName(); i += 4 }
    var last: (type: Int, rdata: Int)? = nil
    for _ in 0..<rr {
        skipName()
        guard i + 10 <= m.count else { return nil }
        let type = Int(m[i]) << 8 | Int(m[i + 1]), len = Int(m[i + 8]) << 8 | Int(m[i + 9])
        last = (type, i + 10)
        i += 10 + len
    }
    guard let last, last.type == 250 else { return nil }
    var a = last.rdata
    while m[a] != 0 { a += 1 + Int(m[a]) }
    a += 1
    let time = m[a..<a + 6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let macSize = Int(m[a + 8]) << 8 | Int(m[a + 9])
    let o = a + 10 + macSize
    let otherLen = Int(m[o + 4]) << 8 | Int(m[o + 5])
    return (UInt16(m[o + 2]) << 8 | UInt16(m[o + 3]), macSize, time, Array(m[(o + 6)..<(o + 6 + otherLen)]))
}
