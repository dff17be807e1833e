import PrefixStore

/// rbldnsd `dnset`: domain lists (`name`, `.name`, `*.name`, `!name`, values as in `ip4set`),
/// answered by ``PrefixStore/DatasetRule/domainNames`` from a name table. The lines are read by
/// ``DatasetParser`` with its name collector set (DomainSetParser.swift); specials, `:A:TXT`
/// defaults, `$0`–`$9` and diagnostics are its own.
struct DNSet: DatasetType {
    let name = "dnset"
    var family: AddressFamily? { nil }
    var rule: DatasetRule? { .domainNames }

    func makeParser(_ context: ParseContext) -> any DatasetSectionParser {
        var d = context.meta
        // A name must fit in 255 wire bytes under the apex and the longest subzone.
        d.collectDomains(maxNameLength: 255 - context.zone.wire.count - (context.subzones.map(\.count).max() ?? 0))
        return DomainListParser(list: d)
    }
}

/// The parser of one `dnset` file set or `$DATASET dnset` section: a ``DatasetParser``
/// collecting names, finished into one name dataset per subzone.
struct DomainListParser: DatasetSectionParser {
    var list: DatasetParser

    mutating func beginFile(_ name: String, originBase: UInt32) {
        list.beginFile(name, originBase: originBase)
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int, number: Int, origin: UInt32) {
        list.lineNumber = number; list.origin = origin
        list.line(p, n)
    }

    mutating func finish(name: String, subzones: [[UInt8]], into out: inout ZoneDatasetsOutput) -> DatasetParser {
        let values = list.finish()
        out.entries += list.domains?.count ?? 0
        for sub in subzones {
            out.datasets.append(.domainSet(name: name, type: DNSet().name, parser: list, values: values, subzone: sub))
        }
        if list.skipped > 0 { out.skippedSections.append((name, list.skipped)) }
        return list
    }
}
