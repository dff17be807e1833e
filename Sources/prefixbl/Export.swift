import ArgumentParser
import DNSBL
import DNSBLDaemon
import DNSSEC
import Foundation
import LDNSKit
import PrefixStore
import ZoneExport
import ZoneSource
import ZoneTransfer

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a store's zones as RFC 1035 master files for standard DNS servers.",
        discussion: """
            Each zone becomes one master file that NSD, Knot or BIND answer like `prefixbl serve` \
            for A (and TXT without '$') at every full-length address name: listed blocks as \
            nibble/octet wildcards, exclusions as names with an HINFO record (NODATA there, \
            where serve answers NXDOMAIN). A TXT '$' (the queried address) cannot be static: it \
            is written as the block the record covers, or as --expand-text. Figures go to \
            standard error. With --dnssec-key the key's zone is written signed (DNSKEY, RRSIG, \
            NSEC). See the "Running secondaries" article.
            """)

    @Argument(help: "The store file.")
    var store: String

    @Option(help: "Export only this zone (e.g. bl.example).")
    var zone: String?

    @Option(name: .shortAndLong,
            help: "Output: a directory (one <zone>.zone file per zone) or a file (one zone). Default: standard output.")
    var output: String?

    @Option(help: "Write TXT '$' as this fixed text instead of the block's address or CIDR.")
    var expandText: String?

    @Flag(help: "Also write the IPv4 data under ::ffff:0:0/96 and 2002::/16 in zones without IPv6 data (zones with IPv6 data always get them).")
    var ipv4Images = false

    @Option(name: .customLong("dnssec-key"), help: ArgumentHelp(
        "Sign the zone this DNSSEC key pair's owner names (BIND format, base name or either file; repeatable; the rules of serve --dnssec-key): the master file gets DNSKEY, RRSIG and NSEC, the zone `serve` answers DO=1 queries from ('$' as the block, IPv4 images in every zone).",
        valueName: "path"))
    var dnssecKeys: [String] = []

    @Option(help: ArgumentHelp("Seconds before now the RRSIG inception lies (with --dnssec-key).", valueName: "seconds"))
    var dnssecInceptionOffset: Int = 3600

    @Option(help: ArgumentHelp("Seconds after now the RRSIGs expire (with --dnssec-key; default 14 days).", valueName: "seconds"))
    var dnssecValidity: Int = 14 * 86_400

    @Flag(name: .customLong("dnssec-ent-rrset"), help: "Give every empty non-terminal an HINFO record (\"empty-non-terminal\" \"prefixbl\"), TTL min(SOA TTL, MINIMUM), so each owns an NSEC once signed: what serve --dnssec-ent-rrset signs. With --dnssec-key the signed zone has them; without, the master file is ready for another signer (ldns-signzone, dnssec-signzone).")
    var dnssecENTRRset = false

    func run() throws {
        let s: Store
        do throws(StoreError) { s = try Store(path: store) } catch {
            throw storeFailure(error)
        }
        var zones = s.zones
        if let zone {
            let want: [UInt8]
            do throws(LDNSError) { want = try DomainName(zone).wire } catch { throw ValidationError("\(error)") }
            zones = zones.filter { $0.name == want }
            if zones.isEmpty { throw ValidationError("zone \(zone) is not in \(store)") }
        }
        var isDir: ObjCBool = false
        let toDirectory = output.map { $0.hasSuffix("/") || (FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && isDir.boolValue) } ?? false
        if let output, !toDirectory, zones.count > 1 {
            throw ValidationError("\(output) is a file but the store has \(zones.count) zones: give --zone or a directory")
        }
        if toDirectory, let output {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        }
        let options = ExportOptions(dollar: expandText.map { .fixed(Array($0.utf8)) } ?? .block,
                                    imagesWithoutIPv6Data: ipv4Images, emptyNonTerminalRecords: dnssecENTRRset)
        let signers = try loadSigners(zones: zones)
        for z in zones {
            var name = DomainName.text(wire: z.name); if name.count > 1 { name.removeLast() }
            let path: String? = output.map { toDirectory ? $0 + "/" + name + ".zone" : $0 }
            if let path {
                // The file is replaced by a rename: as root, `-o /dev/null` would delete the device.
                var st = stat()
                if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
                    throw ValidationError("\(path) exists and is not a regular file; refusing to replace it")
                }
            }
            let sink = try LineSink(path: path.map { $0 + ".tmp" })
            let started = ContinuousClock.now
            let stats: ExportStats
            do throws(LDNSError) {
                let apex = z.name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
                if let signer = signers.first(where: { $0.apex == apex }) {
                    let tags = signer.keys.map { "\($0.dnskey.keyTag)" }.joined(separator: " ")
                    let header = MasterFile.header(z, options: CanonicalZone.exportOptions(emptyNonTerminalRecords: dnssecENTRRset))
                        + "; signed (NSEC) with DNSKEY tags \(tags); the IPv4 images are written in every zone.\n\n"
                    // Signed as the zone is walked (SignedZoneStream): the zone is not held.
                    var signed: (figures: SigningFigures, owners: Int, stats: ExportStats?) = (SigningFigures(), 0, nil)
                    try MasterFile.write(header: header, records: { emit in
                        signed = SignedZoneStream.records(parts: [z], apex: apex, signer: signer,
                                                          emptyNonTerminalRecords: dnssecENTRRset, emit: emit)
                    }, to: { sink.add($0) })
                    stats = signed.stats!
                    let figures = signed.figures
                    FileHandle.standardError.write(Data("\(name): signed: \(signed.owners) NSEC owners, \(figures.rrsets) RRsets, \(figures.signaturesMade) signatures\n".utf8))
                } else {
                    stats = try MasterFile.write(z, options: options) { sink.add($0) }
                }
            } catch {
                throw ValidationError("zone \(name): libldns refused a record: \(error)")
            }
            try sink.close()
            if let path {
                if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
                try FileManager.default.moveItem(atPath: path + ".tmp", toPath: path)
            }
            let d = ContinuousClock.now - started
            let secs = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            var line = "\(name): \(stats.records) records (\(stats.wildcards) wildcards, \(stats.markers) exclusion markers) "
            line += "from \(stats.ranges) ranges, expansion \(String(format: "%.2f", stats.expansion)), "
            line += "\(String(format: "%.2f", secs)) s"
            if stats.generic > 0 { line += "; \(stats.generic) generic records" }
            if stats.imageRanges > 0 { line += "; \(stats.imageRanges) IPv4 ranges written under ::ffff:0:0/96 and 2002::/16" }
            if stats.emptyNonTerminals > 0 { line += "; \(stats.emptyNonTerminals) HINFO at empty non-terminals" }
            if stats.dollarTexts > 0 { line += "; \(stats.dollarTexts) TXT with '$' written statically" }
            if let path { line += " → \(path)" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            if stats.literalStarNames > 0 {  // dnset
                FileHandle.standardError.write(Data(("warning: \(name): \(stats.literalStarNames) dnset names with a literal '*' label left out: a literal '*' label cannot be exported or transferred; serve answers it (compile names each file:line)\n").utf8))
            }
            if !stats.familyCollisions.isEmpty {
                FileHandle.standardError.write(Data(("warning: \(name): IPv4 and IPv6 names share the top labels \(stats.familyCollisions.joined(separator: ",")), where data is; a secondary may answer names of one family from data of the other there (serve does not): keep the families in separate zones\n").utf8))
            }
        }
    }
}

extension Export {
    /// The signers of `--dnssec-key` (serve's rules: `DNSBLDaemon.DaemonConfiguration.loadSigners`),
    /// each for a zone among `zones`.
    /// - Throws: `ValidationError` (exit 64) naming the file or the zone.
    func loadSigners(zones: [StoreZone]) throws -> [ZoneSigner] {
        guard !dnssecKeys.isEmpty else { return [] }
        if expandText != nil {
            throw ValidationError("--expand-text and --dnssec-key cannot be combined: a signed zone writes '$' as the block, as serve's signed answers carry it")
        }
        var o = DaemonOptions()
        o.dnssecKeys = dnssecKeys
        o.dnssecInceptionOffset = dnssecInceptionOffset
        o.dnssecValidity = dnssecValidity
        o.dnssecSignatureCache = 1  // every RRset is signed once; nothing to keep
        let loaded: Result<([ZoneSigner], [(zone: [UInt8], file: String)], [String], [[UInt8]: String]), InvalidConfiguration> =
            Result { () throws(InvalidConfiguration) in try DaemonConfiguration.loadSigners(o) }
        guard case .success(let (signers, files, _, problems)) = loaded else {
            if case .failure(let invalid) = loaded { throw ValidationError(invalid.message) }
            return []
        }
        let names = Set(zones.map { $0.name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } })
        // Keys named as files must be for an exported zone; a key directory may hold other
        // zones' keys (skipped), as serve reads it.
        for s in signers where !names.contains(s.apex) && files.contains(where: { $0.zone == s.apex }) {
            throw ValidationError("--dnssec-key: zone \(CanonicalName.text(s.apex)) is not exported from \(store)")
        }
        for s in signers where names.contains(s.apex) {
            if let why = problems[s.apex] { throw ValidationError("--dnssec-key: \(why)") }
        }
        return signers.filter { names.contains($0.apex) }
    }
}

/// Buffers text and writes it in large chunks to a file or standard output.
final class LineSink {
    let handle: FileHandle
    let owned: Bool
    var buffer: [UInt8] = []
    init(path: String?) throws {
        if let path {
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let h = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
            handle = h; owned = true
        } else {
            handle = FileHandle.standardOutput; owned = false
        }
        buffer.reserveCapacity(1 << 20)
    }
    func add(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }
    func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
    func close() throws {
        flush()
        if owned { try handle.close() }
    }
}
