#if canImport(Glibc)
import Glibc
#endif
import DNSBL
import DNSBLServer
import Foundation
import PrefixStore
import Synchronization
import ZoneSource
import TestSupport

/// A child process whose stdout and stderr are collected into one string.
package final class ChildProcess: @unchecked Sendable {
    package let process = Process()
    private let output = Mutex<String>("")
    /// The reader met the end of the pipe: everything the child wrote is in ``text``.
    private let drained = Mutex<Bool>(false)
    private let pipe = Pipe()

    package init(_ path: String, _ args: [String], directory: String? = nil, environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = pipe
        process.standardError = pipe
        let handle = pipe.fileHandleForReading
        try process.run()
        Thread { [self] in
            while true {
                let d = handle.availableData
                if d.isEmpty { drained.withLock { $0 = true }; break }
                let s = String(decoding: d, as: UTF8.self)
                output.withLock { $0 += s }
            }
        }.start()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    package var text: String { output.withLock { $0 } }

    /// Waits until the output contains `needle` `count` times; false on timeout or exit.
    package func waitFor(_ needle: String, count: Int = 1, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.components(separatedBy: needle).count - 1 >= count { return true }
            if !process.isRunning { return text.components(separatedBy: needle).count - 1 >= count }
            usleep(20_000)
        }
        return false
    }

    package func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// Exit status after the process ends, or nil if it is still running after `timeout`.
    package func waitExit(timeout: Double = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        // The exit can be seen before the reader thread has taken the last output from the pipe:
        // wait for its end of file (bounded: a grandchild may still hold the pipe open).
        let drainDeadline = Date().addingTimeInterval(5)
        while !drained.withLock({ $0 }) && Date() < drainDeadline { usleep(5_000) }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }
}

/// Starts `prefixbl serve` on ephemeral loopback ports and waits until it serves.
package final class ServeProcess {
    package let child: ChildProcess
    package let v4: ListenAddress
    package let v6: ListenAddress?

    package init(_ args: [String], directory: String, ipv6: Bool = true, environment: [String: String] = [:]) throws {
        guard let bin = prefixblBinary() else { throw TestError.failed("prefixbl binary not found; run swift build") }
        var listen = ["--listen", "127.0.0.1:0"]
        if ipv6 { listen += ["--listen", "[::1]:0"] }
        child = try ChildProcess(bin, ["serve"] + listen + ["--threads", "2", "--log-level", "debug"] + args,
                                 directory: directory, environment: environment)
        // Two minutes: a debug build loading real lists on a loaded machine (a full run at load
        // 15–20) took longer than the 20 s this was; a server that never starts still fails.
        guard child.waitFor(" serving", timeout: 120) else {
            throw TestError.failed("server did not start:\n\(child.text)")
        }
        // "udp=127.0.0.1:PORT [::1]:PORT" from the serving line.
        let line = child.text.split(separator: "\n").first { $0.contains(" serving") }.map(String.init) ?? ""
        guard let r = line.range(of: "udp=") else { throw TestError.failed("no udp= in '\(line)'") }
        let fields = line[r.upperBound...].split(separator: " ")
        v4 = try ListenAddress(parsing: String(fields[0]))
        v6 = ipv6 ? try ListenAddress(parsing: String(fields[1])) : nil
    }
}

/// RFC 5782 §2.4 name: 32 reversed nibbles of an IPv6 address, then the zone.
package func nibbleName(_ address: String, zone: String = "bl.example") -> String {
    var a = in6_addr()
    precondition(inet_pton(AF_INET6, address, &a) == 1)
    let bytes = withUnsafeBytes(of: &a) { Array($0) }
    var labels: [String] = []
    for b in bytes.reversed() {
        labels.append(String(b & 0xF, radix: 16))
        labels.append(String(b >> 4, radix: 16))
    }
    return labels.joined(separator: ".") + "." + zone
}

/// RFC 5782 §2.1 name: reversed octets of an IPv4 address, then the zone.
package func reversedName(_ address: String, zone: String = "bl.example") -> String {
    address.split(separator: ".").reversed().joined(separator: ".") + "." + zone
}

/// Compiles source text into a store image for bl.example (ZoneSource's compiler).
package func compileStore(_ sources: [(type: String, text: String)], in dir: String) throws -> StoreImage {
    var specs: [ZoneSpec] = []
    for (i, s) in sources.enumerated() {
        let path = dir + "/src-\(UUID().uuidString)-\(i).txt"
        try s.text.write(toFile: path, atomically: true, encoding: .utf8)
        specs.append(ZoneSpec(zone: "bl.example", type: s.type, files: [path]))
    }
    let result = Compiler.compile(specs)
    if result.hasErrors { throw TestError.failed("compile: \(result.diagnostics)") }
    return try StoreBuilder.encode(result.zones)
}

/// An Unbound started by a test on 127.0.0.1:`port` (`unbound -d`, no daemon, no chroot, no
/// syslog), with one stub zone pointing at the server under test; `server` lines are added to
/// the `server:` clause as they are (e.g. `module-config: "iterator"`, a trust anchor).
package final class StubResolver {
    package let child: ChildProcess
    package let port: UInt16

    package init(unbound: String, directory dir: String, port: UInt16, zone: String, stubPort: UInt16,
                 server: [String]) throws {
        self.port = port
        let config = """
            server:
                interface: 127.0.0.1
                port: \(port)
                do-ip6: no
                do-daemonize: no
                username: ""
                chroot: ""
                directory: "\(dir)"
                pidfile: "\(dir)/unbound.pid"
                use-syslog: no
                logfile: ""
                verbosity: 1
            \(server.map { "    " + $0 }.joined(separator: "\n"))
                do-not-query-localhost: no
                access-control: 127.0.0.0/8 allow
            remote-control:
                control-enable: no
            stub-zone:
                name: "\(zone)"
                stub-addr: 127.0.0.1@\(stubPort)
            """
        try config.write(toFile: dir + "/unbound.conf", atomically: true, encoding: .utf8)
        child = try ChildProcess(unbound, ["-d", "-c", dir + "/unbound.conf"])
    }

    /// Stops Unbound (SIGTERM) and waits for it.
    package func stop() { child.signal(SIGTERM); _ = child.waitExit(timeout: 5) }

    /// Whether Unbound answers (an SOA query for `zone`) within `timeout` seconds.
    package func waitUp(zone: String, timeout: Double = 15) throws -> Bool {
        let address = try ListenAddress(parsing: "127.0.0.1:\(port)")
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ((try? udpQuery(address, makeQuery(id: 1, name: zone, type: 6), timeout: 0.3, retries: 0)) ?? nil) != nil { return true }
            usleep(100_000)
        }
        return false
    }
}

/// GET `path` over HTTP/1.1 from a loopback listener: the status and body, or nil when the
/// reply is not HTTP.
package func httpGet(_ address: ListenAddress, _ path: String) throws -> (status: Int, body: String)? {
    let s = try TestSocket(tcp: address, timeout: 3)
    try s.send(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(s.fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        data += buf[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let sp = text.firstIndex(of: " ") else { return nil }
    let status = Int(text[text.index(after: sp)...].prefix(3)) ?? 0
    return (status, String(text[split.upperBound...]))
}

/// The value of the sample whose name-and-labels text is exactly `series`, or 0 when absent.
package func sample(_ exposition: String, _ series: String) -> Double {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1)) ?? -1
    }
    return 0
}

/// `serve` logged no metrics listener, or its `/metrics` page did not come back as HTTP.
package struct MetricsPageUnavailable: Error {}

/// The value of `series` on `server`'s `/metrics` page (the listener its log names), 0 when absent.
package func metric(_ server: ServeProcess, _ series: String) throws -> Double {
    guard let line = server.child.text.split(separator: "\n").first(where: { $0.contains("http://") }),
          let at = line.range(of: "http://") else { throw MetricsPageUnavailable() }
    let addr = String(line[at.upperBound...].prefix { $0 != "/" })
    guard let page = try httpGet(try ListenAddress(parsing: addr), "/metrics") else { throw MetricsPageUnavailable() }
    return sample(page.body, series)
}
