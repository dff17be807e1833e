import ArgumentParser
import PrefixStore
import ZoneSource
import Foundation

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a store back out as rbldnsd-syntax source.",
        discussion: """
            Each dataset becomes one section ($SOA and $NS in a zone's first section, $TTL, a \
            default value line, then one CIDR per line). Compiling the sections again answers \
            exactly like the store. With --directory every section is written to its own file \
            and the matching compile specs are printed.
            """)

    @Argument(help: "The store file.")
    var store: String

    @Option(name: .shortAndLong, help: "Write one file per dataset into this directory instead of stdout.")
    var directory: String?

    func run() throws {
        let s: Store
        do throws(StoreError) { s = try Store(path: store) } catch {
            throw storeFailure(error)
        }
        let sections = SourceDump.sections(s)
        if let directory {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                writeStderr("prefixbl: error: \(directory): cannot create the directory\n")
                throw ExitCode(1)
            }
            var specs: [String] = []
            for (i, sec) in sections.enumerated() {
                let path = directory + "/\(sec.zone.isEmpty ? "global" : sec.zone).\(i + 1).\(sec.type)"
                guard FileManager.default.createFile(atPath: path, contents: Data(sec.text)) else {
                    throw ValidationError("cannot write \(path)")
                }
                specs.append("\(sec.zone):\(sec.type):\(path)")
            }
            print(specs.joined(separator: " "))
        } else {
            for sec in sections {
                FileHandle.standardOutput.write(Data(sec.text))
            }
        }
    }
}

/// A store that cannot be opened is an operational error, not a usage error: printed as
/// `prefixbl: error: PATH: reason` and exit status 1, without ArgumentParser's usage lines
/// (which read "Usage: prefixbl <subcommand>" and exit 64 for a `ValidationError`).
func storeFailure(_ error: StoreError) -> ExitCode {
    writeStderr("prefixbl: error: \(error)\n")
    return ExitCode(1)
}
