import ArgumentParser
import DNSSEC
import Foundation

struct DNSSECDS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dnssec-ds",
        abstract: "Print the DS records (SHA-256, digest type 2) the parent zone publishes for DNSSEC keys.",
        discussion: """
            Each KEY is a BIND-format key pair as dnssec-keygen, ldns-keygen or Knot's keymgr \
            write it, given by its base name (Kbl.example.+013+12345) or either file (.key, \
            .private). Algorithms 13 (ECDSAP256SHA256) and 15 (ED25519). The pair is checked \
            (the public key must be the private key's) before anything is printed. The output \
            is one line per key, as `dnssec-dsfromkey -2` prints it.

            A KEY that is a directory (a key directory, as `serve --dnssec-key DIR` reads it)             gives the DS of each of its zones' keys published now (Publish passed, Delete not)             with the SEP flag (KSKs, CSKs; every published key of a zone that has none);             standard error says, for each key in the directory, whether its DS was printed and why.
            """)

    @Argument(help: "Key pairs: base names or .key/.private files, or key directories.")
    var keys: [String]

    func validate() throws {
        if keys.isEmpty { throw ValidationError("give at least one key") }
    }

    func run() throws {
        var lines: [String] = []
        for path in keys {
            // A bad key is not a usage error: the message (file and reason) alone, exit 1.
            if Self.isDirectory(path) {
                var notes: [String] = []
                let all = try SigningKey.loadAll(path: path, notes: &notes)
                let (out, said) = Self.directoryDS(all, at: Int64(time(nil)))
                for n in notes + said { FileHandle.standardError.write(Data("; \(n)\n".utf8)) }
                lines += out
            } else {
                lines.append(try SigningKey.load(path: path).dnskey.ds.description)
            }
        }
        for l in lines { print(l) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The DS lines of the keys of a directory published at `now` (Unix seconds): per zone the
    /// SEP keys, or every published key when the zone has no published SEP key; and one line
    /// per key saying whether its DS was printed.
    static func directoryDS(_ keys: [SigningKey], at now: Int64) -> (ds: [String], notes: [String]) {
        var ds: [String] = [], notes: [String] = []
        func zone(_ k: SigningKey) -> [UInt8] { var o = k.dnskey.owner; CanonicalName.canonicalize(&o); return o }
        for k in keys {
            let published = k.timing.isPublished(at: now)
            let zoneHasSEP = keys.contains { zone($0) == zone(k) && $0.dnskey.isSEP && $0.timing.isPublished(at: now) }
            let kind = k.dnskey.isSEP ? "KSK/CSK (SEP)" : "ZSK"
            let tag = "\(k.source) (zone \(CanonicalName.text(zone(k))), tag \(k.dnskey.keyTag), \(kind)"
            if !published {
                notes.append("\(tag), not published now): no DS")
            } else if k.dnskey.isSEP || !zoneHasSEP {
                ds.append(k.dnskey.ds.description)
                notes.append("\(tag), published): DS printed")
            } else {
                notes.append("\(tag), published): no DS (the zone's SEP keys take the DS)")
            }
        }
        return (ds, notes)
    }
}
