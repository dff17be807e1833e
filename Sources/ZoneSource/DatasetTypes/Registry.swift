import PrefixStore

/// The registry of dataset types: one line per type. The order is the order the types are
/// listed in messages and help.
public enum DatasetTypes {
    /// Every type the compiler reads.
    static let all: [any DatasetType] = [
        IP4Set(),
        IP4Trie(),
        IP4TSet(),
        IP6Trie(),
        IP6TSet(),
        DNSet(),
        Generic(),
        ACL(),
        AclKeyType(),
        Combined(),
    ]

    /// rbldnsd types recognised by name but refused ("not supported"): `dnhash`, the rspamd
    /// fork's hashed domain list.
    static let later: Set<String> = ["dnhash"]

    /// The names of every type, in registry order.
    public static var names: [String] { all.map(\.name) }

    /// The type called `name` (lower case) or one of its aliases.
    static func named(_ name: String) -> (any DatasetType)? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// The type a stored dataset compiles back as (``DatasetType/dumpName``); a name no type
    /// has (a store from elsewhere) comes back as the address list of its family.
    static func dumpName(of d: StoreDataset) -> String {
        named(d.type)?.dumpName ?? (d.family == .ipv4 ? IP4Set().name : IP6Trie().name)
    }
}
