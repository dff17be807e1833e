import LDNSKit
import PrefixStore
import ZoneSource

/// Writes exported zones as RFC 1035 master files, every RR formatted (and so validated) by
/// libldns.
public enum MasterFile {
    /// The comment block at the top of a zone's master file: zone, serial, and what was done
    /// with TXT `$`.
    public static func header(_ zone: StoreZone, options: ExportOptions) -> String {
        let dollar: String
        switch options.dollar {
        case .block:
            dollar = "'$' in TXT (the queried address) is written as the block the record covers: the address at an exact name, the CIDR at a wildcard."
        case .fixed(let t):
            dollar = "'$' in TXT (the queried address) is written as the fixed text '\(String(decoding: t, as: UTF8.self))'."
        }
        return """
            ; zone \(DomainName.text(wire: zone.name)) serial \(zone.soa.serial), exported by prefixbl
            ; A standard server answers this zone like `prefixbl serve` for A (and TXT without '$')
            ; at every full-length address name. Excluded names carry HINFO (NODATA, not NXDOMAIN).
            ; \(dollar)
            \(options.emptyNonTerminalRecords ? "; Every empty non-terminal carries HINFO \"empty-non-terminal\" \"prefixbl\" (its own NSEC once signed).\n" : "")
            """
    }

    /// Formats the zone and hands each line (with its newline) to `write`.
    /// - Throws: `LDNSKit.LDNSError` when libldns refuses a record.
    public static func write(_ zone: StoreZone, options: ExportOptions = ExportOptions(),
                             to write: (String) -> Void) throws(LDNSError) -> ExportStats {
        try Self.write([zone], options: options, to: write)
    }

    /// The master file of a zone split over several stores (see
    /// `Exporter.export(_:options:emit:)` with several parts): the union, SOA and NS from the
    /// first part.
    /// - Throws: `LDNSKit.LDNSError` when libldns refuses a record.
    public static func write(_ parts: [StoreZone], options: ExportOptions = ExportOptions(),
                             to write: (String) -> Void) throws(LDNSError) -> ExportStats {
        var stats = ExportStats()
        try Self.write(header: header(parts[0], options: options),
                       records: { emit in stats = Exporter.export(parts, options: options, emit: emit) }, to: write)
        return stats
    }

    /// Formats records a producer streams (a signed zone, `ZoneTransfer.CanonicalZone`) after
    /// `header`, one line each, handing each line (with its newline) to `write`.
    /// - Throws: `LDNSKit.LDNSError` when libldns refuses a record.
    public static func write(header: String, records: ((ExportRecord) -> Void) -> Void,
                             to write: (String) -> Void) throws(LDNSError) {
        write(header)
        var failure: LDNSError? = nil
        withoutActuallyEscaping(write) { write in
            records { r in
                if failure != nil { return }
                do throws(LDNSError) {
                    write(try ZoneFile.presentation(wire: r.wire) + "\n")
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
    }
}
