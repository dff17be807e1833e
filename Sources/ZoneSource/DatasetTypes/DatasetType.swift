import PrefixStore
import LDNSKit

/// One dataset type of the source language (rbldnsd's `ip4set`, `acl`, `combined`, …): its
/// name, its family, its line parser and the store rule it compiles to. Each type is one file
/// in `Sources/ZoneSource/DatasetTypes/` and one line of ``DatasetTypes/all``; nothing else in
/// the compiler, the store, the answer rules or the exporter names a type (see
/// <doc:AddingADatasetType>).
///
/// Below the compiler only the type's ``rule`` exists: the store builds, validates and the
/// answer rules serve a dataset by its `PrefixStore.DatasetRule`, a small closed set of table
/// kinds, so the query path stays one table search whatever the type.
protocol DatasetType: Sendable {
    /// The name in `zone:type:file` and `$DATASET type…`, lower case; also the type name the
    /// store records.
    var name: String { get }
    /// Other names accepted for it, lower case (none today).
    var aliases: [String] { get }
    /// The family of its tables; nil when it has both (`acl`) or no table (`generic`,
    /// `combined`).
    var family: AddressFamily? { get }
    /// The store rule its datasets are answered by; nil when it compiles to no table (records,
    /// a container). Must be the rule `DatasetRule(storedType: name, family:)` gives the name
    /// (the store records the name; RegistryTests checks every type).
    var rule: DatasetRule? { get }
    /// Whether a spec may leave the zone empty (`:acl:file` is the global ACL).
    var allowsEmptyZone: Bool { get }
    /// Where it may stand in a `combined` file.
    var placement: SectionPlacement { get }
    /// The type `dump` writes a stored dataset of this type back as (the `tset` types come back
    /// as `ip4set`/`ip6trie`, since flattening may have merged their entries).
    var dumpName: String { get }
    /// A parser for one spec's files (top level) or one `$DATASET` section.
    func makeParser(_ context: ParseContext) -> any DatasetSectionParser
}

extension DatasetType {
    var aliases: [String] { [] }
    var allowsEmptyZone: Bool { false }
    var placement: SectionPlacement { .anySubzone }
    var dumpName: String { name }
}

/// Where a dataset type may appear in a `combined` file.
enum SectionPlacement: Sendable {
    /// `$DATASET type subzone…`, at `@` and at any subzone.
    case anySubzone
    /// At `@` only: the type applies to the whole zone (`acl`).
    case apexOnly
    /// The type is itself the container of sections (`combined`): a top-level spec only; its
    /// files are read section by section by ``SpecParser``.
    case container
}

/// What a type's parser starts from.
struct ParseContext {
    /// Position, specials already read (`$TTL`, `$0`–`$9`, `$=` of a `combined` file's common
    /// section) and the options; a type's parser takes it as its own meta parser.
    var meta: DatasetParser
    /// The zone the spec names.
    let zone: DomainName
    let options: CompileOptions
    /// Accept prefixes with host bits set (rbldnsd -e): top-level address lists only, as before
    /// the registry.
    let allowHostBits: Bool
    /// Where a `$DATASET` section attaches (encoded labels, [] = the apex); [[]] at top level.
    var subzones: [[UInt8]] = [[]]
}

/// The parser of one spec's files or one `$DATASET` section. ``SpecParser`` drives it: it hands
/// every line over with its position (``line(_:_:number:origin:)``) and finally collects what
/// it made (``finish(name:subzones:into:)``).
protocol DatasetSectionParser {
    /// A new file starts (at `originBase`, the origin tag of its line 0).
    mutating func beginFile(_ name: String, originBase: UInt32)
    /// Consumes one line (without its newline; `n` bytes at `p`). `number` and `origin` are
    /// the position before it (the line is number + 1 of its file, origin tag origin + 1).
    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int, number: Int, origin: UInt32)
    /// Adds the datasets and records parsed, attached at each of `subzones` (encoded labels,
    /// [] = the apex), under the dataset name `name`, to `out`; returns the meta parser (its
    /// `$SOA`, `$NS`, diagnostics).
    mutating func finish(name: String, subzones: [[UInt8]], into out: inout ZoneDatasetsOutput) -> DatasetParser
}
