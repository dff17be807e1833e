#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import ServerTestSupport
import Foundation
import LDNSKit
import Testing
import TestSupport

/// `bl.example SOA`, signed by `dig -y hmac-sha256:xfr.bl.example:<tsigSecret> +noedns
/// +nocookie` (BIND 9.18.49) and captured off the wire: an independent known vector.
let digSignedSOAQuery: [UInt8] = hexBytes("""
    fcd20120000100000000000102626c076578616d706c6500000600010378667202626c076578616d706c650000fa00ff\
    00000000003d0b686d61632d7368613235360000006b0d11a0012c002079abbf8217dd55acaad6d39b03548c656f10cc2b\
    b3a572c0bc210cf745c10e83fcd200000000
    """)
/// Time Signed of that vector.
let digSignedTime: UInt64 = 0x6b0d11a0
/// The same query signed by dig with hmac-sha384 (libldns 1.8.3 has no HMAC-SHA384 to compare
/// with), at Time Signed 0x6b0d143c.
let digSignedSHA384Query: [UInt8] = hexBytes("""
    e0330120000100000000000102626c076578616d706c6500000600010378667202626c076578616d706c650000fa00ff\
    00000000004d0b686d61632d7368613338340000006b0d143c012c003037f942c8b1db62b7f6ccecad7e351bff4355d9\
    2b1672f0044def162c04ae211fe9bc3217bb933b0c72a485be506d31a6e03300000000
    """)

extension TSIGRequestCheck {
    var verified: TSIGSession? { if case .verified(let s) = self { s } else { nil } }
    var refusal: TSIGError? { if case .refused(let e, _, _) = self { e } else { nil } }
    var isFormErr: Bool { if case .formErr = self { true } else { false } }
}

@Suite("TSIG (RFC 8945)")
struct TSIGTests {
    let keyring = try! TSIGKeyring([testKey()])

    @Test("RFC 8945 §4.3.3: the MAC of a dig-signed request (known vector) verifies; any change fails")
    func digVector() throws {
        let check = digSignedSOAQuery.withUnsafeBytes { keyring.check($0, now: digSignedTime + 10) }
        #expect(check.verified != nil)
        var flipped = digSignedSOAQuery
        flipped[20] ^= 0x20  // the QNAME's case is part of the digest
        #expect(flipped.withUnsafeBytes { keyring.check($0, now: digSignedTime) }.refusal == .badSig)
        let otherSecret = try TSIGKeyring([testKey(secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")])
        #expect(digSignedSOAQuery.withUnsafeBytes { otherSecret.check($0, now: digSignedTime) }.refusal == .badSig)
        let otherName = try TSIGKeyring([testKey(name: "other.bl.example")])
        #expect(digSignedSOAQuery.withUnsafeBytes { otherName.check($0, now: digSignedTime) }.refusal == .badKey)
        let otherAlgorithm = try TSIGKeyring([testKey(.hmacSHA512)])
        #expect(digSignedSOAQuery.withUnsafeBytes { otherAlgorithm.check($0, now: digSignedTime) }.refusal == .badKey)
        let unsigned = makeQuery(id: 1, name: "bl.example", type: 6)
        if case .unsigned = unsigned.withUnsafeBytes({ keyring.check($0, now: 0) }) {} else { Issue.record("unsigned query not seen as unsigned") }
        #expect(!unsigned.withUnsafeBytes { TSIGWire.carriesTSIG($0) })
        #expect(digSignedSOAQuery.withUnsafeBytes { TSIGWire.carriesTSIG($0) })
    }

    @Test("RFC 8945 §5.2.3: outside the 300 s fudge is BADTIME, answered signed with the request's time and ours in Other Data")
    func badTime() throws {
        let now = digSignedTime + 301
        let check = digSignedSOAQuery.withUnsafeBytes { keyring.check($0, now: now) }
        guard case .refused(let error, let record, let session) = check else { Issue.record("not refused: \(check)"); return }
        #expect(error == .badTime && session != nil)
        let answer = digSignedSOAQuery.withUnsafeBytes {
            TSIGKeyring.errorResponse(query: $0, error: error, record: record, session: session, now: now)
        }
        #expect(answer[3] & 0x0F == 9)  // NOTAUTH
        let t = try #require(tsigFields(answer))
        #expect(t.error == 18 && t.macSize == 32 && t.time == digSignedTime)
        #expect(t.other.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == now)
        let ldns = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, requestMAC: record.mac)
        #expect(ldns.verifyNext(answer), "libldns verifies the signed BADTIME answer")
        #expect(digSignedSOAQuery.withUnsafeBytes { keyring.check($0, now: digSignedTime - 300) }.verified != nil)
    }

    @Test("RFC 8945 §5.3.2: BADKEY and BADSIG answers are NOTAUTH with an unsigned TSIG carrying the error")
    func unsignedErrors() throws {
        let otherName = try TSIGKeyring([testKey(name: "other.bl.example")])
        let check = digSignedSOAQuery.withUnsafeBytes { otherName.check($0, now: digSignedTime) }
        guard case .refused(let error, let record, let session) = check else { Issue.record("not refused"); return }
        let answer = digSignedSOAQuery.withUnsafeBytes {
            TSIGKeyring.errorResponse(query: $0, error: error, record: record, session: session, now: digSignedTime)
        }
        let t = try #require(tsigFields(answer))
        #expect(answer[3] & 0x0F == 9 && t.error == 17 && t.macSize == 0)
        let p = try Packet(wire: answer)
        #expect(p.rcode == 9 && p.qr && p.id == 0xfcd2)
    }

    @Test("RFC 8945 §5.2.2.1 / §5.2.4: a MAC longer than the hash or under max(10, half) is FORMERR; a valid truncated MAC is BADTRUNC")
    func truncation() throws {
        let key = testKey()
        func signed(truncatedTo n: Int) -> [UInt8] {
            var m = makeQuery(id: 9, name: "bl.example", type: 252)
            var full = m
            _ = key.signRequest(&full, now: 1000)
            // Rebuild the record with the MAC cut to n bytes (or padded past the hash).
            #expect(tsigFields(full)?.macSize == 32)
            let macAt = full.count - 6 - 32 - 2 + 2  // MAC follows its 2-byte size, then 6 bytes
            var mac = Array(full[macAt..<(macAt + 32)])
            mac = n <= 32 ? Array(mac.prefix(n)) : mac + [UInt8](repeating: 0, count: n - 32)
            m = Array(full[..<(macAt - 2)]) + [UInt8(n >> 8), UInt8(n & 0xFF)] + mac + full[(macAt + 32)...]
            // RDLENGTH sits 16 + algorithm bytes before the MAC size.
            let rdlenAt = macAt - 2 - 8 - key.algorithm.wireName.count - 2
            let rdlen = (Int(m[rdlenAt]) << 8 | Int(m[rdlenAt + 1])) - 32 + n
            m[rdlenAt] = UInt8(rdlen >> 8); m[rdlenAt + 1] = UInt8(rdlen & 0xFF)
            return m
        }
        #expect(signed(truncatedTo: 32).withUnsafeBytes { keyring.check($0, now: 1000) }.verified != nil)
        #expect(signed(truncatedTo: 16).withUnsafeBytes { keyring.check($0, now: 1000) }.refusal == .badTrunc)
        #expect(signed(truncatedTo: 15).withUnsafeBytes { keyring.check($0, now: 1000) }.isFormErr)
        #expect(signed(truncatedTo: 33).withUnsafeBytes { keyring.check($0, now: 1000) }.isFormErr)
        var wrong = signed(truncatedTo: 20)
        wrong[wrong.count - 7] ^= 1  // last MAC byte
        #expect(wrong.withUnsafeBytes { keyring.check($0, now: 1000) }.refusal == .badSig)
    }

    @Test("RFC 8945 §5.2: a TSIG record that is not the last record is FORMERR")
    func misplaced() throws {
        var m = makeQuery(id: 3, name: "bl.example", type: 6)
        _ = testKey().signRequest(&m, now: 1000)
        m += [0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0]  // an OPT after the TSIG
        m[11] += 1
        #expect(m.withUnsafeBytes { keyring.check($0, now: 1000) }.isFormErr)
    }

    @Test("RFC 8945 §5.1, §6: requests we sign verify in libldns for every algorithm it has; libldns-signed requests verify here",
          arguments: TSIGAlgorithm.allCases)
    func crossCheck(_ algorithm: TSIGAlgorithm) throws {
        let key = testKey(algorithm)
        let ring = try TSIGKeyring([key])
        var m = makeQuery(id: 0x4242, name: "Bl.Example", type: 252)
        let session = key.signRequest(&m, now: UInt64(time(nil)))
        #expect(session.priorMAC.count == algorithm.macLength)
        #expect(m.withUnsafeBytes { ring.check($0, now: UInt64(time(nil))) }.verified != nil, "our own \(algorithm) request")
        if algorithm == .hmacSHA384 {
            // libldns 1.8.3 lacks HMAC-SHA384: dig's signature is the reference.
            let check = digSignedSHA384Query.withUnsafeBytes { ring.check($0, now: 0x6b0d143c) }
            #expect(check.verified != nil, "dig's hmac-sha384 request verifies")
        } else {
            let ldns = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, algorithm: algorithm.rawValue + ".", requestMAC: nil)
            #expect(ldns.verifyNext(m), "libldns verifies our \(algorithm) request")
            let theirs = try #require(LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, algorithm: algorithm.rawValue + ".",
                                               requestMAC: nil).signRequest(makeQuery(id: 7, name: "bl.example", type: 6)))
            #expect(theirs.wire.withUnsafeBytes { ring.check($0, now: UInt64(time(nil))) }.verified != nil,
                    "libldns's \(algorithm) request verifies here")
        }
    }

    @Test("RFC 8945 §5.3.1: every message of a multi-message answer signed, chained on the prior MAC; libldns verifies each in order only")
    func multiMessage() throws {
        let key = testKey()
        var query = makeQuery(id: 0x1234, name: "bl.example", type: 252)
        let client = key.signRequest(&query, now: 5000)
        guard case .verified(var server) = query.withUnsafeBytes({ keyring.check($0, now: 5001) }) else {
            Issue.record("request not verified"); return
        }
        var messages: [[UInt8]] = []
        for k in 0..<4 {
            var m: [UInt8] = [0x12, 0x34, 0x84, 0, 0, k == 0 ? 1 : 0, 0, 1, 0, 0, 0, 0]
            if k == 0 { m += [2, 98, 108, 7, 101, 120, 97, 109, 112, 108, 101, 0, 0, 252, 0, 1] }
            m += [2, 98, 108, 7, 101, 120, 97, 109, 112, 108, 101, 0, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, UInt8(65 + k)]
            server.sign(&m, now: 5002)
            messages.append(m)
        }
        let ldns = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, requestMAC: client.priorMAC)
        for (k, m) in messages.enumerated() { #expect(ldns.verifyNext(m), "message \(k)") }
        var ours = client
        for (k, m) in messages.enumerated() {
            let verdict = ours.verify(m, now: 5003)
            #expect(verdict == .valid, "message \(k) (our verifier)")
        }
        let swapped = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, requestMAC: client.priorMAC)
        #expect(swapped.verifyNext(messages[0]))
        #expect(!swapped.verifyNext(messages[2]), "a skipped message breaks the chain")
    }
}
