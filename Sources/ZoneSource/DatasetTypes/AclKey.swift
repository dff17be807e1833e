import PrefixStore

/// The rspamd fork's `aclkey`: keys in the query name (`2.0.0.127.<key>.bl.example`), each
/// stored as the /128 of its hash in one IPv6 table (``PrefixStore/AclKey``), answered by
/// ``PrefixStore/DatasetRule/keyInQName``. Applies to the whole zone: in a `combined` file at
/// `@` only; no global key list (a spec needs a zone). The line syntax is ``AclKeyParser``'s.
struct AclKeyType: DatasetType {
    let name = "aclkey"
    var family: AddressFamily? { .ipv6 }
    var rule: DatasetRule? { .keyInQName }
    var placement: SectionPlacement { .apexOnly }

    func makeParser(_ context: ParseContext) -> any DatasetSectionParser {
        AclKeyParser(meta: context.meta)
    }
}

extension AclKeyParser: DatasetSectionParser {
    mutating func beginFile(_ name: String, originBase: UInt32) {
        meta.beginFile(name, originBase: originBase)
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int, number: Int, origin: UInt32) {
        meta.lineNumber = number; meta.origin = origin
        line(p, n)
    }

    /// One dataset (at the apex) whatever the subzones: a key list applies to the whole zone.
    /// A section attached nowhere (`$DATASET aclkey` without subzones) adds nothing; its
    /// skipped lines count as outside any dataset.
    mutating func finish(name: String, subzones: [[UInt8]], into out: inout ZoneDatasetsOutput) -> DatasetParser {
        let d = finish(name: name)
        out.entries += keys.count
        if subzones.isEmpty {
            out.skippedOther += meta.skipped
        } else {
            if meta.skipped > 0 { out.skippedSections.append((name, meta.skipped)) }
            out.datasets.append(d)
        }
        return meta
    }
}
