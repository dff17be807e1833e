import ArgumentParser

// A synchronous root on purpose: `serve` parks the real main thread in `blockingRun` while it
// works. An async root would leave the main thread inside dispatch_main's exited-but-alive state,
// which glibc's setuid broadcast skips, so `--user` would leave that thread root (tested).
@main
struct PrefixBL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefixbl",
        abstract: "An aggregating DNS blocklist server for IPv6 and IPv4.",
        // From `git describe` at build time (tools/version.sh through the VersionStamp plugin).
        version: prefixblVersion,
        subcommands: [
            Compile.self,
            Check.self,
            Dump.self,
            Lookup.self,
            Serve.self,
            Rbldnsd.self,
            Query.self,
            Aggregate.self,
            Export.self,
            DNSSECDS.self,
        ])
}
