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
        /// as `ip4set`/`ip6trie`, since flattening may have merged their entries).
        public var type: String
        /// The dataset's name in the store.
        public var name: String
        public var text: [UInt8]
    }

    /// Every dataset of every zone, in store order. The first section of a zone carries its
    /// `$SOA` and `$NS` (the first in command-line order wins when compiled again).
    public static func sections(_ store: Store) -> [Section] {
        var out: [Section] = []
        for z in store.zones {
            var zone = DomainName.text(wire: z.name)
            if zone.count > 1 && zone.hasSuffix(".") { zone.removeLast() }
            for (k, d) in z.datasets.enumerated() {
                var t: [UInt8] = []
                func line(_ s: String) { t += Array(s.utf8); t.append(0x0A) }
                line("# dataset \(d.name) of zone \(zone), dumped by prefixbl")
                if k == 0 {
                    let s = z.soa
                    line("$SOA \(s.ttl) \(DomainName.text(wire: s.mname)) \(DomainName.text(wire: s.rname)) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)")
                    if !z.ns.isEmpty {
                        line("$NS \(z.nsTTL) " + z.ns.map { DomainName.text(wire: $0) }.joined(separator: " "))
                    }
                }
                line("$TTL \(d.ttl)")
                if d.created != nil || d.expires != nil {
                    line("$TIMESTAMP \(d.created.map(stamp) ?? "0")" + (d.expires.map { " " + stamp($0) } ?? ""))
                }
                let ranges = d.table.ranges()
                // The most used value becomes the file default, so plain lists stay plain.
                var counts = [Int](repeating: 0, count: d.values.count)
                for r in ranges where r.value >= 0 && Int(r.value) < counts.count { counts[Int(r.value)] += 1 }
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
                        if value != common {
                            t.append(0x20)
                            t += valueText(d.values[value])
                        }
                        t.append(0x0A)
                    }
                }
                let type: String
                switch d.type {
                case "ip4tset": type = "ip4set"
                case "ip6tset": type = "ip6trie"
                case "ip4set", "ip4trie", "ip6trie": type = d.type
                default: type = d.family == .ipv4 ? "ip4set" : "ip6trie"
                }
                out.append(Section(zone: zone, type: type, name: d.name, text: t))
            }
        }
        return out
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
