import PrefixStore
import LDNSKit

/// Turns a store back into rbldnsd-syntax source, one text per dataset, such that compiling
/// the texts (`zone:type:file` per section) answers exactly like the store (STYLE: `dump` as a
/// round-trip oracle). Listed ranges are written as the CIDRs that cover them exactly; gaps
/// need no exclusions.
public enum SourceDump {
    /// One dataset's source.
    public struct Section: Sendable {
        /// Zone name without the trailing dot.
        public var zone: String
        /// The type to compile it as: `ip4set`, `ip4trie` or `ip6trie` (`tset` types come back
        /// as `ip4set`/`ip6trie`, since flattening may have merged their entries); `generic`
        /// for a zone's records, `acl` for an ACL (zone "" = the global ACL), `combined` for a
        /// dataset attached at a subzone (one `$DATASET` section).
        public var type: String
        /// The dataset's name in the store.
        public var name: String
        public var text: [UInt8]
    }

    /// Every dataset of every zone, in store order, a zone's generic records first. The first
    /// non-acl section of a zone carries its `$SOA` and `$NS` (the first in command-line order
    /// wins when compiled again).
    public static func sections(_ store: Store) -> [Section] {
        var out: [Section] = []
        for z in store.zones {
            var zone = DomainName.text(wire: z.name)
            if zone.count > 1 && zone.hasSuffix(".") { zone.removeLast() }
            if z.isGlobalACL { zone = "" }
            var needSOA = !z.isGlobalACL
            func soaLines() -> [UInt8] {
                needSOA = false
                let s = z.soa
                var t = Array("$SOA \(s.ttl) \(DomainName.text(wire: s.mname)) \(DomainName.text(wire: s.rname)) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)\n".utf8)
                if !z.ns.isEmpty {
                    t += Array(("$NS \(z.nsTTL) " + z.ns.map { DomainName.text(wire: $0) }.joined(separator: " ") + "\n").utf8)
                }
                return t
            }
            if !z.records.isEmpty {
                var t = Array("# generic records of zone \(zone), dumped by prefixbl\n".utf8) + soaLines()
                for r in z.records {
                    t += Array("\(DomainName.text(wire: r.owner)) \(r.ttl) \(genericText(r))\n".utf8)
                }
                out.append(Section(zone: zone, type: Generic().name, name: Generic().name, text: t))
            }
            for d in z.datasets {
                var t: [UInt8] = []
                func line(_ s: String) { t += Array(s.utf8); t.append(0x0A) }
                line("# dataset \(d.name) of zone \(zone.isEmpty ? "(global acl)" : zone), dumped by prefixbl")
                // How a dataset dumps follows its store rule; the type it compiles back as is
                // its dataset type's (DatasetTypes.dumpName(of:)).
                switch d.rule {
                case .longestPrefix, .ip4Buckets, .domainNames:
                    break
                case .keyInQName:
                    // The store holds the keys' hashes only: the default, the values and one
                    // comment per hash (AclKeyDump).
                    out.append(Section(zone: zone, type: DatasetTypes.dumpName(of: d), name: d.name, text: t + AclKeyDump.text(d)))
                    continue
                case .clientACL:
                    line("$TTL \(d.ttl)")
                    for r in d.table.ranges() {
                        let v = d.values[Int(r.value)]
                        var value: [UInt8]
                        switch v.a {
                        case ACLAction.ignore.rawValue: value = Array(":ignore".utf8)
                        case ACLAction.refuse.rawValue: value = Array(":refuse".utf8)
                        case ACLAction.empty.rawValue: value = Array(":empty".utf8)
                        case ACLAction.pass.rawValue: value = Array(":pass".utf8)
                        default: value = Array(":\(ipv4Text(v.a)):".utf8) + (v.txt.map { Array($0) } ?? [])
                        }
                        rangeToCIDRs(first: r.first, last: r.last, bits: d.family.bits) { a, len in
                            let p = d.family == .ipv4 ? ipv4Text(UInt32(truncatingIfNeeded: a)) : ipv6Text(a)
                            t += Array("\(p)/\(len) ".utf8) + value
                            t.append(0x0A)
                        }
                    }
                    out.append(Section(zone: zone, type: DatasetTypes.dumpName(of: d), name: d.name, text: t))
                    continue
                }
                if needSOA { t += soaLines() }
                if !d.subzone.isEmpty {
                    let sub = DomainName.text(wire: d.subzone + [0])
                    line("$DATASET \(DatasetTypes.dumpName(of: d)) \(sub.hasSuffix(".") ? String(sub.dropLast()) : sub)")
                }
                line("$TTL \(d.ttl)")
                if d.created != nil || d.expires != nil {
                    line("$TIMESTAMP \(d.created.map(stamp) ?? "0")" + (d.expires.map { " " + stamp($0) } ?? ""))
                }
                if d.rule == .domainNames {  // names, `*.name` and `!name` lines (DomainSetDump)
                    if let dt = d.domains { t += DomainSetDump.lines(d, dt) }
                    out.append(Section(zone: zone, type: d.subzone.isEmpty ? DatasetTypes.dumpName(of: d) : Combined().name, name: d.name, text: t))
                    continue
                }
                let ranges = d.table.ranges()
                // The most used value becomes the file default, so plain lists stay plain.
                var counts = [Int](repeating: 0, count: d.values.count)
                // Only a value answering alone can be the default (not one of a value run).
                func alone(_ i: Int) -> Bool { !d.values[i].continues && (i == 0 || !d.values[i - 1].continues) }
                for r in ranges where r.value >= 0 && Int(r.value) < counts.count && alone(Int(r.value)) { counts[Int(r.value)] += 1 }
                let common = counts.indices.max { counts[$0] < counts[$1] } ?? -1
                func valueText(_ v: StoreValue) -> [UInt8] {
                    var s = Array(":\(ipv4Text(v.a)):".utf8)
                    if let txt = v.txt { s += Array(txt) }
                    return s
                }
                if common >= 0 { t += valueText(d.values[common]); t.append(0x0A) }
                for r in ranges {
                    let value = Int(r.value)
                    rangeToCIDRs(first: r.first, last: r.last, bits: d.family.bits) { a, len in
                        if d.family == .ipv4 {
                            t += Array("\(ipv4Text(UInt32(truncatingIfNeeded: a)))/\(len)".utf8)
                        } else {
                            t += Array("\(ipv6Text(a))/\(len)".utf8)
                        }
                        let prefix = d.family == .ipv4 ? "\(ipv4Text(UInt32(truncatingIfNeeded: a)))/\(len)"
                                                       : "\(ipv6Text(a))/\(len)"
                        // A value run (rbldnsd ip4set) is the same CIDR once per value: in an
                        // ip4set file they all answer.
                        for (k, v) in StoreValue.run(d.values, at: value).enumerated() {
                            if k > 0 { t += Array(prefix.utf8) }
                            if value != common {
                                t.append(0x20)
                                t += valueText(v)
                            }
                            t.append(0x0A)
                        }
                    }
                }
                out.append(Section(zone: zone, type: d.subzone.isEmpty ? DatasetTypes.dumpName(of: d) : Combined().name, name: d.name, text: t))
            }
        }
        return out
    }

    /// `TYPE rdata` of a generic record in presentation form (TXT strings quoted, `"` and `\`
    /// and non-printable bytes escaped).
    public static func genericText(_ r: GenericRecord) -> String {
        let d = r.rdata
        switch r.type {
        case 1: return "A " + ipv4Text(d.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 28: return "AAAA " + ipv6Text(d.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        case 15: return "MX \(UInt16(d[0]) << 8 | UInt16(d[1])) " + DomainName.text(wire: Array(d[2...]))
        default:
            var s = "TXT"
            var i = 0
            while i < d.count {
                let n = Int(d[i]); i += 1
                s += " \""
                for b in d[i..<min(d.count, i + n)] {
                    if b == 0x22 || b == 0x5C { s += "\\" + String(UnicodeScalar(b)) }
                    else if b < 0x20 || b > 0x7E { let v = Int(b); s += "\\" + (v < 100 ? "0" : "") + (v < 10 ? "0" : "") + String(v) }
                    else { s += String(UnicodeScalar(b)) }
                }
                s += "\""
                i += n
            }
            return s
        }
    }

    /// `yyyy:mm:dd:hh:mi:ss` (UTC) for `$TIMESTAMP`.
    static func stamp(_ t: UInt64) -> String {
        var days = Int(t / 86400)
        let secs = Int(t % 86400)
        var year = 1970
        while true {
            let n = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 366 : 365
            if days < n { break }
            days -= n; year += 1
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let mdays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        var mon = 0
        while days >= mdays[mon] { days -= mdays[mon]; mon += 1 }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year):\(two(mon + 1)):\(two(days + 1)):\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))"
    }
}
