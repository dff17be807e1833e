import ArgumentParser
import LDNSKit
#if canImport(Glibc)
import Glibc
#endif

/// `prefixbl query`: dig for DNSBLs. Builds the RFC 5782 name, asks, prints, and says whether
/// the address is listed.
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a DNSBL server whether an address (or a name) is listed.",
        discussion: """
            The address is turned into the RFC 5782 query name (IPv4: reversed octets, IPv6: 32 \
            reversed nibbles) under --zone. The query goes over UDP (EDNS0, 1232 bytes) and is \
            retried over TCP when the answer is truncated, or over TCP only with --tcp. The answer \
            is printed like dig, then one verdict line. For A queries of a listed address the TXT \
            reasons are fetched too.

            Exit status: 0 listed, 1 not listed (NXDOMAIN or NODATA), 2 error (timeout, REFUSED, \
            SERVFAIL, bad input).

            Example:
              prefixbl query 2001:db8::5 --zone bl.example --server [::1]:5300
            """)

    @Argument(help: "IPv4 or IPv6 address, or a domain name (queried under --zone).")
    var target: String

    @Option(help: "The DNSBL zone, e.g. bl.example (needed for an address).")
    var zone: String?

    @Option(help: "Server to ask: ADDR[:PORT] or [V6ADDR]:PORT.")
    var server: String = "127.0.0.1:5300"

    @Option(help: "Query type: A, TXT or ANY.")
    var type: String = "A"

    @Flag(help: "Use TCP only.")
    var tcp = false

    @Option(help: "Seconds to wait per attempt.")
    var timeout: Double = 2

    @Flag(help: "Print only the verdict line.")
    var short = false

    func validate() throws {
        guard ["A", "TXT", "ANY"].contains(type.uppercased()) else { throw ValidationError("--type must be A, TXT or ANY") }
        if zone == nil && isAddress(target) { throw ValidationError("--zone is needed to query an address") }
        _ = try parseServer(server)
        guard timeout > 0 else { throw ValidationError("--timeout must be > 0") }
        try checkSecondsOption(timeout, "--timeout")
    }

    func run() throws {
        let name = queryName(target, zone: zone)
        let (host, port) = try parseServer(server)
        let qtype: UInt16 = switch type.uppercased() { case "TXT": 16; case "ANY": 255; default: 1 }
        do {
            let resolver = try Resolver(server: host, port: port, timeout: timeout, retries: 2, tcp: tcp)
            let first = try resolver.query(name: name, type: qtype)
            show(first)
            var responses = [first]
            let codes = first.answers.compactMap { $0.type == 1 ? $0.address : nil }
            if qtype == 1 && first.rcode == 0 && !codes.isEmpty {
                let reasons = try resolver.query(name: name, type: 16)
                show(reasons)
                responses.append(reasons)
            }
            let (line, status) = verdict(responses)
            print(line)
            if status != 0 { throw ExitCode(status) }
        } catch let error as ResolverError {
            print("error: \(error)")
            throw ExitCode(2)
        }
    }

    func show(_ r: ResolverResponse) {
        guard !short else { return }
        if r.overTCP && !tcp { print(";; truncated over UDP, retried over TCP") }
        print(r.text)
    }

    /// The verdict line and exit status for the responses (the first decides).
    func verdict(_ responses: [ResolverResponse]) -> (String, Int32) {
        let first = responses[0]
        switch first.rcode {
        case 0:
            var codes: [String] = []
            var texts: [String] = []
            for r in responses {
                for a in r.answers {
                    if a.type == 1, let x = a.address { codes.append(x) }
                    if a.type == 16, let t = a.text { texts.append(t) }
                }
            }
            if codes.isEmpty && texts.isEmpty { return ("not listed (NODATA)", 1) }
            var parts: [String] = []
            var seen = Set<String>()
            for c in codes where seen.insert(c).inserted { parts.append(c) }
            for t in texts where seen.insert("txt:" + t).inserted { parts.append("\"\(t)\"") }
            return ("listed: " + parts.joined(separator: " "), 0)
        case 3:
            return ("not listed (NXDOMAIN)", 1)
        default:
            return ("error: \(first.rcodeText)", 2)
        }
    }
}

/// RFC 5782 query name: IPv4 reversed octets (§2.1), IPv6 32 reversed nibbles (§2.4); a name
/// is put under the zone unless it already ends with it.
func queryName(_ target: String, zone: String?) -> String {
    let z = zone.map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
    var v4 = in_addr()
    if inet_pton(AF_INET, target, &v4) == 1 {
        let b = withUnsafeBytes(of: &v4) { Array($0) }
        return "\(b[3]).\(b[2]).\(b[1]).\(b[0])" + (z.map { "." + $0 } ?? "")
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, target, &v6) == 1 {
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        let hex = Array("0123456789abcdef")
        var labels: [String] = []
        for byte in b.reversed() {
            labels.append(String(hex[Int(byte & 0xF)]))
            labels.append(String(hex[Int(byte >> 4)]))
        }
        return labels.joined(separator: ".") + (z.map { "." + $0 } ?? "")
    }
    let name = target.hasSuffix(".") ? String(target.dropLast()) : target
    guard let z else { return name }
    return name.lowercased() == z.lowercased() || name.lowercased().hasSuffix("." + z.lowercased()) ? name : name + "." + z
}

func isAddress(_ s: String) -> Bool {
    var v4 = in_addr(), v6 = in6_addr()
    return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
}

/// `ADDR[:PORT]`, `[V6]:PORT` or a bare IPv6 literal; port 53 when none is given.
func parseServer(_ text: String) throws -> (String, UInt16) {
    var host = text
    var port: UInt16 = 53
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { throw ValidationError("bad --server '\(text)'") }
        host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        if !rest.isEmpty {
            guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else { throw ValidationError("bad port in --server '\(text)'") }
            port = p
        }
    } else if text.filter({ $0 == ":" }).count == 1 {
        let i = text.firstIndex(of: ":")!
        host = String(text[..<i])
        guard let p = UInt16(text[text.index(after: i)...]) else { throw ValidationError("bad port in --server '\(text)'") }
        port = p
    }
    guard isAddress(host) else { throw ValidationError("--server needs an IP address, got '\(host)'") }
    return (host, port)
}
