import PrefixStore
import LDNSKit

/// rbldnsd `generic`: records at names inside the zone. Compiles to records, no table.
struct Generic: DatasetType {
    let name = "generic"
    var family: AddressFamily? { nil }
    var rule: DatasetRule? { nil }

    func makeParser(_ context: ParseContext) -> any DatasetSectionParser {
        GenericParser(meta: context.meta, zone: context.zone)
    }
}

extension GenericParser: DatasetSectionParser {
    mutating func beginFile(_ name: String, originBase: UInt32) { meta.beginFile(name, originBase: originBase) }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int, number: Int, origin: UInt32) {
        meta.lineNumber = number; meta.origin = origin
        line(p, n)
    }

    mutating func finish(name: String, subzones: [[UInt8]], into out: inout ZoneDatasetsOutput) -> DatasetParser {
        out.skippedOther += meta.skipped
        out.entries += records.count
        out.records += finish(subzones: subzones)
        return meta
    }
}

/// rbldnsd `generic`: `name [ttl] TYPE value` per line, TYPE one of A, AAAA, TXT, MX. `@` is
/// the apex (or the subzone a `combined` section attaches the dataset at); a name without a
/// trailing dot is relative to it (as rbldnsd); a name with a trailing dot is absolute and must
/// lie inside the zone (rbldnsd ignores trailing dots; we give them their zone-file meaning).
/// RDATA is parsed and validated by libldns. `$TTL`, `$SOA`, `$NS` are read as in IP datasets.
struct GenericParser {
    /// Specials and position.
    var meta: DatasetParser
    let zone: DomainName
    /// Records with owners relative to the attachment point (`relative`: encoded labels, no
    /// root) or absolute (`absolute`: full wire name).
    var records: [(relative: [UInt8], absolute: [UInt8]?, record: GenericRecord)] = []

    init(meta: DatasetParser, zone: DomainName) {
        self.meta = meta
        self.zone = zone
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard let (s, e) = trimmed(p, n), !isCommentStart(p[s]) || isSpecialLine(p, s, e) else { meta.advance(); return }
        if isSpecialLine(p, s, e) { meta.line(p, n); return }
        meta.advance()
        let w = words(p, s, e)
        func text(_ i: Int) -> String { DatasetParser.text(p, w[i].start, w[i].end) }
        guard w.count >= 3 else {
            meta.skip(.syntax, "generic record needs 'name [ttl] TYPE value': '\(DatasetParser.text(p, s, e))'")
            return
        }
        let name = text(0)
        var k = 1
        var ttl = meta.ttl
        if let c = p[w[1].start] as UInt8?, isDigit(c) {
            do throws(LDNSError) { ttl = meta.bounded(try LDNSTime.seconds(text(1)), "record TTL") } catch {
                meta.skip(.syntax, "invalid TTL in generic record: \(error)")
                return
            }
            k = 2
        }
        guard k + 1 < w.count else {
            meta.skip(.syntax, "generic record needs a type and a value: '\(DatasetParser.text(p, s, e))'")
            return
        }
        let type = text(k).uppercased()
        guard ["A", "AAAA", "TXT", "MX"].contains(type) else {
            meta.skip(.syntax, "generic record type '\(text(k))' is not supported (A, AAAA, TXT, MX)")
            return
        }
        var value = DatasetParser.text(p, w[k + 1].start, e)
        if type == "TXT" && !value.hasPrefix("\"") {
            // rbldnsd: the rest of the line is one string.
            var q = "\""
            for c in value { if c == "\\" || c == "\"" { q.append("\\") }; q.append(c) }
            value = q + "\""
        }
        let rdata: [UInt8]
        let code: UInt16
        do throws(LDNSError) {
            (code, rdata) = try RData.parse(type: type, text: value)
        } catch {
            meta.skip(.syntax, "invalid \(type) value: \(error)")
            return
        }
        var relative: [UInt8] = []
        var absolute: [UInt8]? = nil
        if name == "@" {
            relative = []
        } else {
            do throws(LDNSError) {
                let dn = try DomainName(name)
                if name.hasSuffix(".") {
                    guard dn.isSubdomain(of: zone) else {
                        meta.skip(.syntax, "generic record name '\(name)' is outside zone \(zone)")
                        return
                    }
                    absolute = dn.wire
                } else {
                    relative = Array(dn.wire.dropLast())
                }
            } catch {
                meta.skip(.syntax, "invalid generic record name: \(error)")
                return
            }
        }
        records.append((relative, absolute, GenericRecord(owner: [], type: code, ttl: ttl, rdata: rdata)))
    }

    /// Records attached at each subzone (encoded labels, empty = apex) of the zone; an absolute
    /// owner is kept once.
    func finish(subzones: [[UInt8]]) -> [GenericRecord] {
        var out: [GenericRecord] = []
        var seen = Set<GenericRecord>()
        for sub in subzones {
            for r in records {
                var rec = r.record
                rec.owner = r.absolute ?? (r.relative + sub + zone.wire)
                if rec.owner.count <= 255, seen.insert(rec).inserted { out.append(rec) }
            }
        }
        return out
    }
}
