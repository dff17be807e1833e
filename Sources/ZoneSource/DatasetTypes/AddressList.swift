import PrefixStore

/// A dataset type whose files are address lists (rbldnsd's IP types): ``DatasetParser`` reads
/// them with the type's ``syntax``; one table of the syntax's family and rule per section.
protocol AddressListType: DatasetType {
    /// Name, family, value form and refused entry forms.
    var syntax: AddressSyntax { get }
}

extension AddressListType {
    var name: String { syntax.name }
    var family: AddressFamily? { syntax.family }
    var rule: DatasetRule? { syntax.rule }

    func makeParser(_ context: ParseContext) -> any DatasetSectionParser {
        var d = DatasetParser(syntax: syntax, countAsValue: context.options.countAsValue, force: context.options.force,
                              strict: context.options.strict, now: context.options.now)
        let m = context.meta
        d.ttl = m.ttl
        d.defaultTTL = m.defaultTTL
        d.vars = m.vars
        d.baseTemplate = m.baseTemplate
        d.fileName = m.fileName
        d.allowHostBits = context.allowHostBits
        return d
    }
}

extension DatasetParser: DatasetSectionParser {
    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int, number: Int, origin: UInt32) {
        lineNumber = number; self.origin = origin
        line(p, n)
    }

    mutating func finish(name: String, subzones: [[UInt8]], into out: inout ZoneDatasetsOutput) -> DatasetParser {
        let values = finish()
        out.entries += entries.count
        for sub in subzones {
            var ds = DatasetInput(name: name, type: syntax.name, rule: syntax.rule, family: family, ttl: ttl,
                                  values: values, entries: entries, created: created, expires: expires, subzone: sub)
            ds.skippedLines = skipped
            out.datasets.append(ds)
        }
        if skipped > 0 { out.skippedSections.append((name, skipped)) }
        return self
    }
}
