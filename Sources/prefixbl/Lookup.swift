import ArgumentParser
import PrefixStore
import ZoneSource

struct Lookup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look addresses up in a store, offline.",
        discussion: """
            Prints, per address, every zone and dataset that lists it with the A value and the \
            TXT as it would be answered ($ replaced by the address: dotted IPv4, RFC 5952 IPv6), \
            or "not listed". IPv4-mapped (::ffff:0:0/96) and 6to4 (2002::/16) addresses are \
            answered from a zone's IPv4 data as the server does. When an acl dataset matches \
            the address as a client, a line "as a client: <zone> acl <action>" follows \
            (zone "(global)" for the global ACL).
            """)

    @Argument(help: "The store file.")
    var store: String

    @Argument(help: "IPv4 or IPv6 addresses.")
    var addresses: [String]

    func run() throws {
        let s: Store
        do throws(StoreError) { s = try Store(path: store) } catch {
            throw storeFailure(error)
        }
        var bad = false
        for text in addresses {
            guard let (family, key) = parseAddress(text) else {
                print("\(text): not an IPv4 or IPv6 address")
                bad = true
                continue
            }
            let shown = family == .ipv4 ? ipv4Text(UInt32(truncatingIfNeeded: key)) : ipv6Text(key)
            let answers = OfflineLookup.lookup([s], family: family, key: key)
            if answers.isEmpty {
                print("\(shown): not listed")
            }
            for a in answers {
                var line = "\(shown): \(a.zone) A \(ipv4Text(a.a))"
                if let txt = a.txt {
                    line += " TXT \"" + String(decoding: txt, as: UTF8.self)
                        .replacingOccurrences(of: "\\", with: "\\\\")
                        .replacingOccurrences(of: "\"", with: "\\\"") + "\""
                }
                print(line + "  [\(a.dataset)]")
            }
            for d in OfflineLookup.aclDecisions([s], family: family, key: key) {
                print("\(shown): as a client: \(d.zone.isEmpty ? "(global)" : d.zone) acl \(d.action)")
            }
        }
        if bad { throw ExitCode(2) }
    }
}
