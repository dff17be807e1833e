import ArgumentParser

@main
struct PrefixBL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefixbl",
        abstract: "An aggregating DNS blocklist server for IPv6 and IPv4.",
        subcommands: [
            Serve.self,
            Rbldnsd.self,
            Query.self,
            Compile.self,
            Check.self,
            Dump.self,
            Lookup.self,
            Aggregate.self,
        ])
}
