import DNSBL
import DNSBLDaemon
import DNSBLServer
import DNSSEC
import DNSWire
import LDNSKit
import Logging
import PrefixStore
import Synchronization
import Testing
import TestSupport
import ZoneSource
#if canImport(Glibc)
import Glibc
#endif

/// A second ECDSA zone key for bl.example (made by dnssec-keygen 9.18; test material only).
enum SecondZSK {
    static let key = "bl.example. IN DNSKEY 256 3 13 GDo3uD6MpGJK9CuvU7DUoELOnTWrp3vZj9iBcH0/e37cBdfQ8Zy1AKgr AUkwrGpjEbawGIrr6Wr8ClCbjj52Pg==\n"
    static let secret = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: 3OZGKI3AuIGmJl0jXy3IF5L5x68cD7nGq03ayWkWVTE=\n"
    static func make(_ timing: KeyTiming) throws -> SigningKey {
        var k = try SigningKey(publicFile: "Kx.key", publicText: key, privateFile: "Kx.private", privateText: secret)
        k.timing = timing
        return k
    }
}

/// Background re-signing, jitter and key timing, on a `ZoneSigner` with an injected clock.
@Suite("Background re-signing and key timing (injected clock)")
struct ResigningTests {
    /// RRSIGs of a packet's answer section: (key tag, inception, expiration).
    static func rrsigs(_ p: Packet) -> [(tag: UInt16, inception: UInt32, expiration: UInt32)] {
        p.answer.filter { $0.type == 46 }.map { sig in
            func u32(_ b: [UInt8]) -> UInt32 { b.reduce(0) { $0 << 8 | UInt32($1) } }
            return (UInt16(u32(sig.rdataFields[6])), u32(sig.rdataFields[5]), u32(sig.rdataFields[4]))
        }
    }

    @Test("The background task re-signs served RRsets before the refresh margin: queries never sign, no signature near expiry is served")
    func backgroundBeforeMargin() throws {
        let dir = TempDir()
        let start = UInt32(time(nil))
        let now = Mutex<UInt32>(start)
        // Validity 120 s, margin 60 s: the background task is due 45…60 s after signing.
        let signer = ZoneSigner(keys: try SignedFixture.keys(), validity: SignatureValidity(inceptionOffset: 10, lifetime: 120, refreshMargin: 60),
                                clock: { now.withLock { $0 } }, jitter: { $0 })
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        let name = nibble("2001:db8::5")
        _ = ask(r, name, 1, edns: EDNS(size: 4096, dnssecOK: true))
        let missesAfterFirst = signer.cacheMisses
        #expect(missesAfterFirst > 0)
        var resigned = 0
        // Ten minutes in 5-second steps: five validity windows.
        for step in 1...120 {
            let t = now.withLock { $0 += 5; return $0 }
            let p = try Packet(wire: ask(r, name, 1, edns: EDNS(size: 4096, dnssecOK: true)))
            let sigs = Self.rrsigs(p)
            #expect(!sigs.isEmpty)
            for s in sigs { #expect(s.expiration > t + 60 && s.inception <= t, "step \(step): expiration \(s.expiration) at \(t)") }
            let due = signer.hasDue
            let round = signer.resignDue()
            #expect(due == (round.resigned + round.dropped > 0), "step \(step): hasDue \(due), round \(round)")
            resigned += round.resigned
            #expect(signer.secondsUntilSoonestExpiry.map { $0 > 60 } == true, "step \(step): \(String(describing: signer.secondsUntilSoonestExpiry))")
        }
        #expect(signer.cacheMisses == missesAfterFirst, "a query signed: \(signer.cacheMisses) misses, \(missesAfterFirst) after the first answer")
        #expect(resigned >= 9 && signer.backgroundResigned == resigned, "re-signed in the background: \(resigned)")
    }

    @Test("Without the background task the query finds the signature inside the margin and re-signs it (the fallback)")
    func queryFallback() throws {
        let dir = TempDir()
        let now = Mutex<UInt32>(UInt32(time(nil)))
        let signer = ZoneSigner(keys: try SignedFixture.keys(), validity: SignatureValidity(inceptionOffset: 10, lifetime: 60, refreshMargin: 30),
                                clock: { now.withLock { $0 } })
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        for step in 0..<20 {
            let t = now.withLock { $0 += 17; return $0 }
            let p = try Packet(wire: ask(r, nibble("2001:db8::5"), 16, edns: EDNS(size: 4096, dnssecOK: true)))
            for s in Self.rrsigs(p) { #expect(s.expiration > t + 30, "step \(step)") }
        }
    }

    @Test("Jitter spreads RRsets signed together over the re-signing window; RRsets nobody asked for again are dropped, not re-signed")
    func jitterSpreads() throws {
        let start = UInt32(time(nil))
        let now = Mutex<UInt32>(start)
        let validity = SignatureValidity()  // 14 days, margin 7 days: jitter up to 1.75 days
        let signer = ZoneSigner(keys: try SignedFixture.keys(), validity: validity, clock: { now.withLock { $0 } })
        func owner(_ i: Int) -> [UInt8] { let l = Array("n\(i)".utf8); return [UInt8(l.count)] + l + [2, 98, 108, 7] + Array("example".utf8) + [0] }
        for i in 0..<300 {
            _ = signer.signatures(owner: owner(i), type: 1, ttl: 60, rdatas: [[127, 0, 0, 2]])
            if i < 200 { _ = signer.signatures(owner: owner(i), type: 1, ttl: 60, rdatas: [[127, 0, 0, 2]]) }  // served again
        }
        let early = signer.resignDue()
        #expect(early.resigned == 0 && early.dropped == 0)
        let windowStart = start + validity.lifetime - validity.refreshMargin - (validity.lifetime - validity.refreshMargin) / 4
        now.withLock { $0 = windowStart - 1 }
        #expect(signer.resignDue().resigned == 0, "nothing due before the window")
        var perRound: [Int] = [], dropped = 0
        for k in 1...10 {
            now.withLock { $0 = windowStart + UInt32(k) * (validity.lifetime - validity.refreshMargin) / 40 }
            let r = signer.resignDue()
            perRound.append(r.resigned)
            dropped += r.dropped
        }
        #expect(perRound.reduce(0, +) == 200 && dropped == 100, "\(perRound), dropped \(dropped)")
        #expect(perRound.max()! < 60 && perRound.filter { $0 > 0 }.count >= 8, "spread: \(perRound)")
        #expect(signer.cachedRRsets == 200)
        #expect(signer.cacheMisses == 300 && signer.backgroundResigned == 200)
    }

    @Test("The soonest-expiry figure leaves out signatures that expired in the cache (never served): it stays positive, and is nil when only expired ones are cached")
    func soonestExpiryIgnoresExpired() throws {
        let start = UInt32(time(nil))
        let now = Mutex<UInt32>(start)
        // Validity 120 s, margin 60 s; the background round does not run (late, or the process paused).
        let signer = ZoneSigner(keys: try SignedFixture.keys(), validity: SignatureValidity(inceptionOffset: 10, lifetime: 120, refreshMargin: 60),
                                clock: { now.withLock { $0 } })
        func owner(_ i: Int) -> [UInt8] { let l = Array("n\(i)".utf8); return [UInt8(l.count)] + l + [2, 98, 108, 7] + Array("example".utf8) + [0] }
        _ = signer.signatures(owner: owner(1), type: 1, ttl: 60, rdatas: [[127, 0, 0, 2]])  // asked for once, never again
        #expect(signer.secondsUntilSoonestExpiry == 120)
        now.withLock { $0 = start + 100 }
        _ = signer.signatures(owner: owner(2), type: 1, ttl: 60, rdatas: [[127, 0, 0, 2]])  // expires at start + 220
        #expect(signer.secondsUntilSoonestExpiry == 20)
        // The first RRset's signature expired in the cache: the figure is the second's.
        now.withLock { $0 = start + 130 }
        #expect(signer.cachedRRsets == 2)
        #expect(signer.secondsUntilSoonestExpiry == 90, "\(String(describing: signer.secondsUntilSoonestExpiry))")
        // Both expired: nothing served would expire, no figure (never a negative one).
        now.withLock { $0 = start + 400 }
        #expect(signer.secondsUntilSoonestExpiry == nil, "\(String(describing: signer.secondsUntilSoonestExpiry))")
        // A query for the first RRset signs it anew: the figure is its full validity.
        _ = signer.signatures(owner: owner(1), type: 1, ttl: 60, rdatas: [[127, 0, 0, 2]])
        #expect(signer.secondsUntilSoonestExpiry == 120)
    }

    @Test("ZSK pre-publication: a published, inactive key is in DNSKEY and signs nothing; Activate, Inactive and Delete take effect as the clock passes them")
    func zskPrePublication() throws {
        let dir = TempDir()
        let t0 = Int64(time(nil))
        let now = Mutex<UInt32>(UInt32(t0))
        var keys = try SignedFixture.keys()  // KSK (ED25519, untimed) and ZSK 33812 (ECDSA)
        keys[1].timing = KeyTiming(created: t0 - 100, publish: t0 - 100, activate: t0 - 100, inactive: t0 + 100, delete: t0 + 200)
        let next = try SecondZSK.make(KeyTiming(created: t0, publish: t0, activate: t0 + 100))
        let signer = ZoneSigner(keys: keys + [next], validity: SignatureValidity(inceptionOffset: 10, lifetime: 3600),
                                clock: { now.withLock { $0 } }, jitter: { _ in 0 })
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        let oldTag = keys[1].dnskey.keyTag, newTag = next.dnskey.keyTag, kskTag = keys[0].dnskey.keyTag
        func answer(_ type: UInt16) throws -> Packet {
            try Packet(wire: ask(r, type == 48 ? "bl.example" : nibble("2001:db8::5"), type, edns: EDNS(size: 4096, dnssecOK: true)))
        }
        func dnskeyTags() throws -> Set<UInt16> {
            Set(try answer(48).answer.filter { $0.type == 48 }.map { DNSKEYRecord.keyTag(rdata: $0.rdataFields.flatMap { $0 }) })
        }
        #expect(try dnskeyTags() == [kskTag, oldTag, newTag])
        #expect(Self.rrsigs(try answer(1)).map(\.tag) == [oldTag])
        #expect(Self.rrsigs(try answer(48)).map(\.tag) == [kskTag])
        _ = try answer(1)  // served from the cache: re-signed in the background after the roll
        now.withLock { $0 = UInt32(t0 + 100) }
        #expect(signer.keysNow().changed)
        #expect(signer.resignDue().resigned >= 1)
        let hitsBefore = signer.cacheHits
        #expect(Self.rrsigs(try answer(1)).map(\.tag) == [newTag])
        #expect(signer.cacheHits > hitsBefore, "the background task had re-signed it with the new key")
        #expect(try dnskeyTags() == [kskTag, oldTag, newTag], "the old ZSK stays published until Delete")
        now.withLock { $0 = UInt32(t0 + 200) }
        #expect(try dnskeyTags() == [kskTag, newTag])
        #expect(Self.rrsigs(try answer(1)).map(\.tag) == [newTag])
    }

    @Test("Every key's Delete passing while serving: the last published keys stay in DNSKEY, the last active keys sign on, no RRSIG goes out without its RRset")
    func everyKeyDeletedWhileServing() throws {
        let dir = TempDir()
        let t0 = Int64(time(nil))
        let now = Mutex<UInt32>(UInt32(t0))
        var keys = try SignedFixture.keys()  // KSK (ED25519) and ZSK (ECDSA)
        for i in keys.indices { keys[i].timing = KeyTiming(created: t0 - 100, publish: t0 - 100, activate: t0 - 100, delete: t0 + 20) }
        let signer = ZoneSigner(keys: keys, validity: SignatureValidity(inceptionOffset: 10, lifetime: 3600),
                                clock: { now.withLock { $0 } }, jitter: { _ in 0 })
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        let kskTag = keys[0].dnskey.keyTag, zskTag = keys[1].dnskey.keyTag
        func answer(_ type: UInt16) throws -> Packet {
            try Packet(wire: ask(r, type == 48 ? "bl.example" : nibble("2001:db8::5"), type, edns: EDNS(size: 4096, dnssecOK: true)))
        }
        func dnskeyTags() throws -> Set<UInt16> {
            Set(try answer(48).answer.filter { $0.type == 48 }.map { DNSKEYRecord.keyTag(rdata: $0.rdataFields.flatMap { $0 }) })
        }
        #expect(try dnskeyTags() == [kskTag, zskTag])
        #expect(!signer.keysHeldOver)
        now.withLock { $0 = UInt32(t0 + 20) }
        let (state, changed) = signer.keysNow()
        #expect(changed && state.noPublishedKey && state.noActiveKey)
        #expect(signer.keysHeldOver)
        #expect(try dnskeyTags() == [kskTag, zskTag], "the DNSKEY RRset is never emptied by timing")
        let dnskey = try answer(48)
        #expect(dnskey.answer.contains { $0.type == 48 })
        #expect(Self.rrsigs(dnskey).map(\.tag) == [kskTag])
        #expect(Self.rrsigs(try answer(1)).map(\.tag) == [zskTag])
        // Only the ZSK deleted, the KSK kept: the KSK (published, active) signs everything.
        var onlyZSK = keys
        onlyZSK[0].timing = KeyTiming(created: t0 - 100, publish: t0 - 100, activate: t0 - 100)
        let s2 = ZoneSigner.state(keys: onlyZSK, at: t0 + 20, previous: ZoneSigner.state(keys: onlyZSK, at: t0, previous: nil))
        #expect(!s2.noPublishedKey && !s2.noActiveKey && s2.published == [onlyZSK[0].dnskey.rdata])
        // No key active while one is published: the last active keys sign on and stay published.
        var retired = keys
        retired[0].timing = KeyTiming(created: t0 - 100, publish: t0 - 100)
        let s3 = ZoneSigner.state(keys: retired, at: t0 + 20, previous: ZoneSigner.state(keys: retired, at: t0, previous: nil))
        #expect(s3.noActiveKey && !s3.noPublishedKey)
        #expect(Set(s3.published) == Set(retired.map(\.dnskey.rdata)), "the ZSK signing on is published beside the KSK")
        // An empty RRset is never signed.
        #expect(signer.signatures(owner: signer.apex, type: 48, ttl: 3600, rdatas: []).isEmpty)
        // The Deletes a second apart (`dnssec-settime -D now+20` key by key): in that second the
        // ZSK alone would be published and sign the DNSKEY RRset, bogus under the parent's DS;
        // the KSK stays published and signing the DNSKEY RRset instead, then both are held.
        var staggered = keys
        staggered[0].timing = KeyTiming(created: t0 - 100, publish: t0 - 100, activate: t0 - 100, delete: t0 + 20)
        staggered[1].timing = KeyTiming(created: t0 - 100, publish: t0 - 100, activate: t0 - 100, delete: t0 + 21)
        let before = ZoneSigner.state(keys: staggered, at: t0, previous: nil)
        #expect(before.dnskeySigners.map(\.dnskey) == [staggered[0].dnskey] && !before.noActiveKey)
        let kskGone = ZoneSigner.state(keys: staggered, at: t0 + 20, previous: before)
        #expect(kskGone.dnskeySigners.map(\.dnskey) == [staggered[0].dnskey], "the KSK keeps signing the DNSKEY RRset")
        #expect(kskGone.dataSigners.map(\.dnskey) == [staggered[1].dnskey])
        #expect(Set(kskGone.published) == Set(staggered.map(\.dnskey.rdata)) && kskGone.noActiveKey)
        let bothGone = ZoneSigner.state(keys: staggered, at: t0 + 21, previous: kskGone)
        #expect(bothGone.dnskeySigners.map(\.dnskey) == [staggered[0].dnskey])
        #expect(Set(bothGone.published) == Set(staggered.map(\.dnskey.rdata)))
    }

    @Test("A key re-read that fails at reload is counted per zone (the metric an operator alerts on); the previous keys keep signing")
    func keyReloadFailureCounted() throws {
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let rereader = KeyRereader(paths: [dir.path + "/Kmissing"], signers: [signer])
        rereader.arm(signers: [signer])
        let logged = LogCapture()
        rereader.reread(logger: Logger(label: "test") { _ in logged })
        #expect(signer.keyReloadsFailed == 1 && rereader.failed == 1)
        #expect(logged.text.contains("DNSSEC keys not re-read"), "\(logged.text)")
        // A set read well but refused (no key active) counts too.
        let t0 = Int64(time(nil))
        var inactive = try SignedFixture.keys()
        for i in inactive.indices { inactive[i].timing = KeyTiming(created: t0, publish: t0, activate: t0 + 3600) }
        #expect(throws: InvalidKeySet.self) { try signer.replaceKeys(inactive) }
        _ = dir.write("K.key", SignedFixture.zskKey)
        _ = dir.write("K.private", SignedFixture.zskPrivate + "Activate: 20991231000000\n")
        let second = KeyRereader(paths: [dir.path + "/K"], signers: [signer])
        second.arm()
        second.reread(logger: Logger(label: "test") { _ in logged })
        #expect(signer.keyReloadsFailed == 2, "\(logged.text)")
        #expect(signer.keys.map(\.timing) == [KeyTiming(), KeyTiming()], "the old keys stay")
    }

    @Test("A key set with no active key is refused at start and at replacement; timing makes a published key inactive")
    func noActiveKey() throws {
        let t0 = Int64(time(nil))
        var keys = try SignedFixture.keys()
        let apex = keys[0].dnskey.owner
        #expect(ZoneSigner.problem(keys: keys, apex: apex, at: t0) == nil)
        keys[0].timing = KeyTiming(created: t0, publish: t0)
        keys[1].timing = KeyTiming(created: t0, publish: t0 - 10, activate: t0 + 60)
        #expect(ZoneSigner.problem(keys: keys, apex: apex, at: t0)?.contains("no key of zone bl.example. is active") == true)
        #expect(ZoneSigner.problem(keys: keys, apex: apex, at: t0 + 60) == nil)
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        #expect(throws: InvalidKeySet.self) { try signer.replaceKeys(keys) }
        #expect(signer.keys.map(\.timing) == [KeyTiming(), KeyTiming()], "the old keys stay")
        // Only Created (dnssec-keygen -G): neither published nor active.
        let g = KeyTiming(created: t0)
        #expect(!g.isPublished(at: t0 + 1) && !g.isActive(at: t0 + 1))
        // Inactive passed, still published until Delete.
        let retired = KeyTiming(publish: t0 - 20, activate: t0 - 20, inactive: t0 - 10, delete: t0 + 10)
        #expect(retired.isPublished(at: t0) && !retired.isActive(at: t0) && !retired.isPublished(at: t0 + 10))
    }

    @Test("A reload that brings an acl dataset into a signed zone is refused, logged and counted; the old data keeps serving")
    func reloadRefusesAcl() async throws {
        let dir = TempDir()
        let good = dir.write("v6.txt", SignedFixture.v6)
        let acl = dir.write("bl.acl", "127.0.0.0/8 :refuse\n")
        func storeBytes(_ specs: [ZoneSpec]) throws -> [UInt8] {
            let build = SourceBuild.run(specs, options: CompileOptions())
            return try #require(build.image).bytes
        }
        let plain = try storeBytes([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [good])])
        let withAcl = try storeBytes([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [good]),
                                      ZoneSpec(zone: "bl.example", type: "acl", files: [acl])])
        let path = dir.path + "/bl.store"
        try writeBytes(plain, to: path)
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        var answer = AnswerOptions()
        answer.dnssec = DNSSECServing(signers: [signer]) { stores, s in ViewKind.export.make(stores, apex: s.apex) }
        let logged = LogCapture()
        let logger = Logger(label: "test") { _ in logged }
        let loader = ServingLoader(data: DataSources(stores: [path], specs: []), answer: answer, logger: logger)
        let (first, prints) = try await Reloader.initialSnapshot(loader: loader.snapshotLoader, settleDelay: 0)
        let holder = SnapshotHolder(first)
        let reloader = Reloader(holder: holder, loader: loader.snapshotLoader, logger: logger)
        reloader.settleDelay = 0.01
        reloader.setBaseline(prints)
        try writeBytes(withAcl, to: path + ".new")
        #expect(rename(path + ".new", path) == 0)
        let result = await reloader.reload(trigger: "test")
        guard case .refused(let reason) = result else { Issue.record("not refused: \(result)"); return }
        #expect(reason.contains("an acl dataset and --dnssec-key cannot be combined"), "\(reason)")
        #expect(reloader.refusals == 1)
        #expect(holder.load().generation == first.generation)
        #expect(logged.text.contains("reload refused") && logged.text.contains("acl"), "\(logged.text)")
        // The same file without the acl dataset reloads.
        try writeBytes(plain + [], to: path + ".new")
        #expect(rename(path + ".new", path) == 0)
        if case .swapped = await reloader.reload(trigger: "test") {} else { Issue.record("the plain store did not reload") }
    }
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw TestFailure("cannot create \(path)") }
    defer { close(fd) }
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard n == bytes.count else { throw TestFailure("short write to \(path)") }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A swift-log handler that keeps every line (message and metadata) for a test to read.
final class LogCapture: LogHandler, @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let m = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        lines.withLock { $0.append("\(event.level) \(event.message) \(m)") }
    }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}
