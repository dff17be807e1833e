import DNSBL
import PrefixStore

extension Snapshot {
    /// A snapshot answering from `stores` with a `DNSBL.Responder`; counts entries and
    /// summarises zones for logs and the shrink guard.
    /// - Parameters:
    ///   - stores: the mapped stores to answer from.
    ///   - options: the answer settings (`DNSBL.AnswerOptions`).
    ///   - now: Unix seconds for `$TIMESTAMP` checks.
    public static func serving(_ stores: [Store], options: AnswerOptions, now: UInt64) -> Snapshot {
        let responder = Responder(stores: stores, options: options, now: now)
        var zones: [ZoneSummary] = []
        var total = 0
        for store in stores {
            for zone in store.zones {
                let entries = zone.datasets.reduce(0) { $0 + $1.entryCount }
                total += entries
                zones.append(ZoneSummary(name: zone.isGlobalACL ? "(global acl)" : zoneText(zone.name), serial: zone.soa.serial,
                                         datasets: zone.datasets.count, entries: entries,
                                         skippedLines: zone.datasets.reduce(0) { $0 + $1.skippedLines }))
            }
        }
        return Snapshot(responder: responder, entryCount: total, zones: zones)
    }
}

/// Text form of an uncompressed wire name, without the trailing dot (`bl.example`); `.` for root.
public func zoneText(_ wire: [UInt8]) -> String {
    var labels: [String] = []
    var i = 0
    while i < wire.count {
        let n = Int(wire[i])
        if n == 0 || i + 1 + n > wire.count { break }
        labels.append(String(decoding: wire[(i + 1)..<(i + 1 + n)], as: UTF8.self))
        i += 1 + n
    }
    return labels.isEmpty ? "." : labels.joined(separator: ".")
}
