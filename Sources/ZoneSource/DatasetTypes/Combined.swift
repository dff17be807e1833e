import PrefixStore

/// rbldnsd `combined`: several datasets in one file, each a `$DATASET type[:name] subzone…`
/// section attached at subzones of the zone. The container: ``SpecParser`` reads its sections,
/// each with its own type's parser from the registry; it compiles to no table of its own.
struct Combined: DatasetType {
    let name = "combined"
    var family: AddressFamily? { nil }
    var rule: DatasetRule? { nil }
    var placement: SectionPlacement { .container }

    /// Never called: ``SpecParser`` reads a container's sections itself.
    func makeParser(_ context: ParseContext) -> any DatasetSectionParser {
        GenericParser(meta: context.meta, zone: context.zone)
    }
}
