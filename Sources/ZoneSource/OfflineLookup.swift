import PrefixStore
import LDNSKit

/// One dataset's answer for an address, with the TXT already expanded.
public struct LookupAnswer: Sendable, Hashable, CustomStringConvertible {
    /// Zone name, presentation form without the trailing dot.
    public var zone: String
    public var dataset: String
    /// A record, host-order (127.0.0.2 = 0x7F000002).
    public var a: UInt32
    /// TXT with `$` replaced by the address and `$$` by `$`; nil when the listing has no TXT.
    public var txt: [UInt8]?

    public var description: String {
        var s = "\(zone) \(ipv4Text(a))"
        if let txt { s += " \"\(String(decoding: txt, as: UTF8.self))\"" }
        return s + " (\(dataset))"
    }
}

/// Answers "is this address listed, and with what" from stores, offline, following the lookup
/// rules of the server (DNSBL.docc/AnswerRules.md, "Which entries answer"): the deciding entry
/// per dataset (entries, for rbldnsd's `ip4set`); every listing dataset contributes; in a zone
/// with IPv4 data
/// `::ffff:0:0/96` is answered from the IPv4 data only and `2002::/16` from the IPv4 data for
/// the embedded address united with the IPv6 data.
public enum OfflineLookup {
    /// Answers for `key` (IPv4 in the low 32 bits when `family` is `.ipv4`), zone by zone in
    /// store order; zones of the same name in several stores are united.
    public static func lookup(_ stores: [Store], family: AddressFamily, key: UInt128) -> [LookupAnswer] {
        var byZone: [[UInt8]: [StoreDataset]] = [:]
        var order: [[UInt8]] = []
        for s in stores {
            for z in s.zones where !z.isGlobalACL {
                if byZone[z.name] == nil { order.append(z.name) }
                byZone[z.name, default: []] += z.datasets
            }
        }
        var out: [LookupAnswer] = []
        for name in order {
            let datasets = byZone[name]!
            var zoneText = DomainName.text(wire: name)
            if zoneText.hasSuffix(".") && zoneText.count > 1 { zoneText.removeLast() }
            let hasIPv4 = datasets.contains { $0.family == .ipv4 && $0.table.rangeCount > 0 }
            var probes: [(AddressFamily, UInt128)] = []
            if family == .ipv4 {
                probes = [(.ipv4, key)]
            } else if hasIPv4 && key >> 32 == 0xFFFF {
                probes = [(.ipv4, key & 0xFFFF_FFFF)]
            } else if hasIPv4 && key >> 112 == 0x2002 {
                probes = [(.ipv4, (key >> 80) & 0xFFFF_FFFF), (.ipv6, key)]
            } else {
                probes = [(.ipv6, key)]
            }
            for (fam, k) in probes {
                let addressText = fam == .ipv4 ? ipv4Text(UInt32(truncatingIfNeeded: k)) : ipv6Text(k)
                for d in datasets where d.family == fam && !d.rule.isAccessControl {
                    let v = d.table.value(at: k)
                    guard v >= 0 else { continue }
                    var where_ = zoneText
                    if !d.subzone.isEmpty {
                        var sub = DomainName.text(wire: d.subzone + [0])
                        if sub.hasSuffix(".") { sub.removeLast() }
                        where_ = sub + "." + zoneText
                    }
                    // rbldnsd ip4set: several entries may answer together (a value run).
                    for value in StoreValue.run(d.values, at: Int(v)) {
                        let txt = value.txt.map { expand(Array($0), address: addressText) }
                        let answer = LookupAnswer(zone: where_, dataset: d.name, a: value.a, txt: txt)
                        if !out.contains(answer) { out.append(answer) }
                    }
                }
            }
        }
        return out
    }

    /// What the ACLs say about `key` as a *client* address: per zone with an ACL matching it
    /// (zone "" = the global ACL), the action (`ignore`, `refuse`, `empty`, `pass`) or the
    /// policy answer (`A 127.255.255.N "text"`, `$` = the client), longest prefix per dataset.
    public static func aclDecisions(_ stores: [Store], family: AddressFamily, key: UInt128) -> [(zone: String, action: String)] {
        var out: [(zone: String, action: String)] = []
        for s in stores {
            for z in s.zones {
                var zoneText = z.isGlobalACL ? "" : DomainName.text(wire: z.name)
                if zoneText.hasSuffix(".") && zoneText.count > 1 { zoneText.removeLast() }
                for d in z.datasets where d.rule == .clientACL && d.family == family {
                    let v = d.table.value(at: key)
                    guard v >= 0 else { continue }
                    let value = d.values[Int(v)]
                    let action: String
                    switch value.a {
                    case ACLAction.ignore.rawValue: action = "ignore"
                    case ACLAction.refuse.rawValue: action = "refuse"
                    case ACLAction.empty.rawValue: action = "empty"
                    case ACLAction.pass.rawValue: action = "pass"
                    default:
                        let addr = family == .ipv4 ? ipv4Text(UInt32(truncatingIfNeeded: key)) : ipv6Text(key)
                        action = "A \(ipv4Text(value.a))" + (value.txt.map { " \"" + String(decoding: expand(Array($0), address: addr), as: UTF8.self) + "\"" } ?? "")
                    }
                    out.append((zoneText, action))
                }
            }
        }
        return out
    }

    /// Expands a stored TXT template: `$$` → `$`, `$` → `address`.
    public static func expand(_ template: [UInt8], address: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(template.count + 40)
        var i = 0
        while i < template.count {
            let c = template[i]
            i += 1
            if c != 0x24 { out.append(c); continue }
            if i < template.count && template[i] == 0x24 { out.append(0x24); i += 1 }
            else { out += Array(address.utf8) }
        }
        return out
    }
}
