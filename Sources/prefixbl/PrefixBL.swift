import ArgumentParser

@main
struct PrefixBL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefixbl",
        abstract: "An aggregating DNS blocklist server for IPv6 and IPv4.",
        subcommands: [
            Compile.self,
            Check.self,
            Dump.self,
            Lookup.self,
            Serve.self,
            Query.self,
            Aggregate.self,
        ])
}
