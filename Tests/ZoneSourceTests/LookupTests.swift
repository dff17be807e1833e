import Testing
import TestSupport

/// `prefixbl lookup` answers through the Responder `serve` runs: datasets attached at
/// subzones are looked up under their subzone, and `--client` makes the ACLs decide as they
/// do for a real client.
struct LookupTests {
    static let enabled = CLITests.binary != nil

    @Test(.enabled(if: enabled, "the prefixbl binary is not built next to the tests"))
    func combinedDatasetsAnswerUnderTheirSubzones() throws {
        let dir = TempDir()
        let combined = dir.write("bl.combined", """
            $SOA 1h ns1.bl.example hostmaster.example.org 1 2h 1h 1w 5m
            $NS 1d ns1.bl.example
            $DATASET ip4set:proxies proxies @
            :2:Open proxy at $
            192.0.2.10
            $DATASET ip4set:relays relays
            :3:Open relay at $
            192.0.2.20

            """)
        let store = dir.path + "/bl.pfxbl"
        let c = try CLITests.run(["compile", "bl.example:combined:" + combined, "-o", store])
        #expect(c.status == 0, "\(c.stderr)")
        let l = try CLITests.run(["lookup", store, "192.0.2.10", "192.0.2.20", "192.0.2.30"])
        #expect(l.status == 0, "\(l.stderr)")
        let lines = l.stdout.split(separator: "\n").map(String.init)
        // Proxies at the apex and at proxies.; relays only at relays. (the apex is not theirs).
        #expect(lines.contains { $0.hasPrefix("192.0.2.10: proxies.bl.example A 127.0.0.2 TXT \"Open proxy at 192.0.2.10\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("192.0.2.10: bl.example A 127.0.0.2 TXT \"Open proxy at 192.0.2.10\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("192.0.2.20: relays.bl.example A 127.0.0.3 TXT \"Open relay at 192.0.2.20\"") }, "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("192.0.2.20: bl.example ") }, "\(lines)")
        #expect(lines.contains("192.0.2.30: not listed"), "\(lines)")
    }

    @Test(.enabled(if: enabled, "the prefixbl binary is not built next to the tests"))
    func clientACLsAndTransitionFlagsDecideAsInServe() throws {
        let dir = TempDir()
        let data = dir.write("v4.txt", "203.0.113.5 :2:Listed $\n")
        let acl = dir.write("bl.acl", "192.0.2.0/24 :refuse\n198.51.100.0/24 :127.255.255.2:policy for $\n")
        let store = dir.path + "/bl.pfxbl"
        let c = try CLITests.run(["compile", "bl.example:ip4set:" + data, "bl.example:acl:" + acl, "-o", store])
        #expect(c.status == 0, "\(c.stderr)")

        let plain = try CLITests.run(["lookup", store, "203.0.113.5"])
        #expect(plain.stdout.hasPrefix("203.0.113.5: bl.example A 127.0.0.2 TXT \"Listed 203.0.113.5\""), "\(plain.stdout)")
        let refused = try CLITests.run(["lookup", "--client", "192.0.2.9", store, "203.0.113.5"])
        #expect(refused.stdout == "203.0.113.5: bl.example REFUSED\n", "\(refused.stdout)")
        let policy = try CLITests.run(["lookup", "--client", "198.51.100.9", store, "203.0.113.5"])
        #expect(policy.stdout.hasPrefix("203.0.113.5: bl.example A 127.255.255.2 TXT \"policy for 198.51.100.9\""), "\(policy.stdout)")
        let passed = try CLITests.run(["lookup", "--client", "203.0.113.77", store, "203.0.113.5"])
        #expect(passed.stdout == plain.stdout)

        // Transition mappings as serve takes them: NAT64 64:ff9b::203.0.113.5 from the IPv4 data.
        let nat64 = "64:ff9b::cb00:7105"
        #expect(try CLITests.run(["lookup", store, nat64]).stdout == "\(nat64): not listed\n")
        let mapped = try CLITests.run(["lookup", "--nat64", "bl.example", store, nat64])
        #expect(mapped.stdout.hasPrefix("\(nat64): bl.example A 127.0.0.2 TXT \"Listed"), "\(mapped.stdout)")
    }
}
