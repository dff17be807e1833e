import ArgumentParser
import DNSSEC

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
            """)

    @Argument(help: "Key pairs: base names or .key/.private files.")
    var keys: [String]

    func validate() throws {
        if keys.isEmpty { throw ValidationError("give at least one key") }
    }

    func run() throws {
        var lines: [String] = []
        for path in keys {
            // A bad key is not a usage error: the message (file and reason) alone, exit 1.
            lines.append(try SigningKey.load(path: path).dnskey.ds.description)
        }
        for l in lines { print(l) }
    }
}
