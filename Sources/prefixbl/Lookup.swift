import ArgumentParser
import DNSBL
import DNSBLDaemon
import LDNSKit
import PrefixStore
import ZoneSource
#if canImport(Glibc)
import Glibc
#endif

struct Lookup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look addresses up in a store, offline, as the server answers.",
        discussion: """
            Asks the server's answer engine (the Responder `serve` answers with), without a \
            socket, for the A and TXT records of each address's RFC 5782 name under every zone \
            of the store and under every subzone of its datasets, and prints per listing the \
            name, the A value and the TXT as answered ($ replaced by the address: dotted IPv4, \
            RFC 5952 IPv6), or "not listed". IPv4-mapped (::ffff:0:0/96) and 6to4 (2002::/16) \
            addresses are answered from a zone's IPv4 data as the server does. With --client \
            the queries come from that address, so the acl datasets decide as they do for a \
            real client (REFUSED, no answer, an empty answer or the policy answer). When an acl \
            dataset matches the looked-up address as a client, a line "as a client: <zone> acl \
            <action>" follows (zone "(global)" for the global ACL). --teredo, --nat64 and --6rd \
            take serve's values and answer transition addresses from IPv4 data as serve does.
            """)

    @Argument(help: "The store file.")
    var store: String

    @Argument(help: "IPv4 or IPv6 addresses.")
    var addresses: [String]

    @Option(help: ArgumentHelp("Ask as this client address, so that acl datasets apply (default: no client, no ACL).", valueName: "addr"))
    var client: String?

    @Option(name: .customLong("teredo"), help: ArgumentHelp("As serve --teredo; repeatable.", valueName: "zone"))
    var teredo: [String] = []

    @Option(name: .customLong("nat64"), help: ArgumentHelp("As serve --nat64; repeatable.", valueName: "zone[=prefix/len]"))
    var nat64: [String] = []

    @Option(name: .customLong("6rd"), help: ArgumentHelp("As serve --6rd; repeatable.", valueName: "zone=prefix/len,ipv4prefix/masklen"))
    var sixRD: [String] = []

    func run() throws {
        let s: Store
        do throws(StoreError) { s = try Store(path: store) } catch {
            throw storeFailure(error)
        }
        var asClient = ClientAddress.unknown
        if let client {
            guard let (family, key) = parseAddress(client) else { throw ValidationError("--client \(client): not an IPv4 or IPv6 address") }
            asClient = family == .ipv4 ? ClientAddress(ipv4: UInt32(truncatingIfNeeded: key)) : ClientAddress(ipv6: key)
        }
        var options = AnswerOptions()
        do { try TransitionFlags.apply(teredo: teredo, nat64: nat64, sixRD: sixRD, to: &options) } catch {
            throw ValidationError(error.reason)
        }
        let lookup = ResponderLookup(stores: [s], client: asClient, options: options)
        var bad = false
        for text in addresses {
            guard let (family, key) = parseAddress(text) else {
                print("\(text): not an IPv4 or IPv6 address")
                bad = true
                continue
            }
            let shown = family == .ipv4 ? ipv4Text(UInt32(truncatingIfNeeded: key)) : ipv6Text(key)
            let lines = lookup.lines(family: family, key: key)
            if lines.isEmpty { print("\(shown): not listed") }
            for line in lines { print("\(shown): \(line)") }
            for d in OfflineLookup.aclDecisions([s], family: family, key: key) {
                print("\(shown): as a client: \(d.zone.isEmpty ? "(global)" : d.zone) acl \(d.action)")
            }
        }
        if bad { throw ExitCode(2) }
    }
}

/// `prefixbl lookup`'s engine: queries built for an address, answered by the same
/// ``DNSBL/Responder`` `serve` runs (subzones, ACLs, the IPv4-mapped and 6to4 rules and every
/// later answer rule included), and the responses read back with libldns.
struct ResponderLookup {
    let responder: Responder
    let client: ClientAddress
    /// Per zone in store order, the names (text, no trailing dot) under which datasets attach:
    /// the apex and every subzone.
    let names: [String]

    init(stores: [Store], client: ClientAddress, options: AnswerOptions = AnswerOptions()) {
        responder = Responder(stores: stores, options: options, now: UInt64(time(nil)))
        self.client = client
        var names: [String] = []
        for zone in stores.flatMap(\.zones) where !zone.isGlobalACL {
            for d in zone.datasets where !d.rule.isAccessControl {
                let name = Self.text(d.subzone + zone.name)
                if !names.contains(name) { names.append(name) }
            }
        }
        self.names = names
    }

    /// One line per listing: `NAME A 127.0.0.N TXT "…"  [ttl N]`, or the RCODE / silence an
    /// ACL chose; empty when no name lists the address.
    func lines(family: AddressFamily, key: UInt128) -> [String] {
        var out: [String] = []
        for name in names {
            let qname = reverseName(family: family, key: key) + name
            guard let a = ask(qname, type: 1) else { out.append("\(name) no answer (acl ignore)"); continue }
            if a.rcode == 5 { out.append("\(name) REFUSED"); continue }
            let addresses = a.answer.filter { $0.type == 1 }
            guard !addresses.isEmpty else { continue }
            var texts: [PacketRecord] = []
            if let t = ask(qname, type: 16) { texts = t.answer.filter { $0.type == 16 } }
            for (i, record) in addresses.enumerated() {
                var line = "\(name) A \(ipv4Text(record.aValue ?? 0))"
                if i < texts.count {
                    line += " TXT \"" + texts[i].txtJoined
                        .replacingOccurrences(of: "\\", with: "\\\\")
                        .replacingOccurrences(of: "\"", with: "\\\"") + "\""
                }
                out.append(line + "  [ttl \(record.ttl)]")
            }
        }
        return out
    }

    /// The response to `qname`/`type` (IN, TCP, no EDNS), nil when the Responder sends nothing.
    func ask(_ qname: String, type: UInt16) -> Packet? {
        var query: [UInt8] = [0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in qname.split(separator: ".") {
            query.append(UInt8(label.utf8.count))
            query += Array(label.utf8)
        }
        query += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        var response = [UInt8](repeating: 0, count: 65535)
        let outcome = query.withUnsafeBytes { q in
            response.withUnsafeMutableBytes { r in responder.respond(to: q, transport: .tcp, client: client, into: r) }
        }
        guard outcome.length > 0 else { return nil }
        return try? Packet(wire: Array(response[0..<outcome.length]))
    }

    /// RFC 5782 labels with a trailing dot: IPv4 reversed octets (§2.1), IPv6 32 reversed
    /// nibbles (§2.4).
    func reverseName(family: AddressFamily, key: UInt128) -> String {
        if family == .ipv4 {
            let v = UInt32(truncatingIfNeeded: key)
            return "\(v & 0xFF).\(v >> 8 & 0xFF).\(v >> 16 & 0xFF).\(v >> 24)."
        }
        var s = ""
        for i in 0..<32 { s += String((key >> UInt128(4 * i)) & 0xF, radix: 16) + "." }
        return s
    }

    /// Text of an uncompressed wire name without the trailing dot.
    static func text(_ wire: [UInt8]) -> String {
        var t = DomainName.text(wire: wire)
        if t.hasSuffix(".") && t.count > 1 { t.removeLast() }
        return t
    }
}
