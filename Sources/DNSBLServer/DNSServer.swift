import DNSBL
import Logging

/// A DNS server answering over UDP and TCP on every configured address from the current
/// snapshot of a ``SnapshotHolder``.
///
/// Lifecycle: ``start()`` binds every socket (so errors such as "address in use" surface before
/// anything serves, and before privileges are dropped) and starts serving; ``stop()`` stops
/// accepting and receiving, finishes queries already read, and returns when every serving
/// thread has ended. Bound addresses (with the ephemeral port when port 0 was asked) are in
/// ``udpAddresses`` and ``tcpAddresses`` after ``start()``.
public final class DNSServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    public let holder: SnapshotHolder
    public let logger: Logger
    public let queryLog: QueryLog?
    /// Cookies, response rate limiting and the stale-zone refusal (``OperationsConfiguration``),
    /// read by the `QueryPipeline` both transports share.
    public let queryGuard: QueryGuard
    private let udp: UDPServer
    private let tcp: TCPServer
    private var started = false
    private var stopped = false

    /// Counters and gauges (`--metrics`, `--stats`); `nil` = none kept.
    public let metrics: ServerMetrics?

    /// - Parameters:
    ///   - configuration: listen addresses, threads, limits and the query guard's settings.
    ///   - holder: where the transports read the current snapshot, once per UDP batch or TCP query.
    ///   - logger: for start, stop and per-socket problems (never per query).
    ///   - queryLog: when given, one line per query is written to it.
    ///   - metrics: when given, every query is counted in it (per-thread counters).
    public init(configuration: ServerConfiguration, holder: SnapshotHolder, logger: Logger,
                queryLog: QueryLog? = nil, metrics: ServerMetrics? = nil) {
        self.configuration = configuration
        self.holder = holder
        self.logger = logger
        self.queryLog = queryLog
        self.udp = UDPServer(configuration: configuration, holder: holder, logger: logger, queryLog: queryLog)
        self.tcp = TCPServer(configuration: configuration, holder: holder, logger: logger, queryLog: queryLog)
        let queryGuard = QueryGuard(configuration.operations, udpPayloadSize: configuration.udpPayloadSize)
        self.queryGuard = queryGuard
        let pipeline = QueryPipeline(queryGuard: queryGuard, tsig: configuration.tsig)
        udp.pipeline = pipeline
        tcp.pipeline = pipeline
        self.metrics = metrics
        udp.metrics = metrics
        tcp.metrics = metrics
    }

    /// Binds UDP and TCP sockets on every listen address and starts serving.
    /// - Throws: ``ServerError`` (`.socket`, `.bind`) naming the address; nothing is left open.
    public func start() async throws {
        precondition(!started, "DNSServer.start() called twice")
        started = true
        if !configuration.inheritedSockets.isEmpty {
            // Socket activation: serve on what the service manager bound; `listen` is ignored.
            let inherited = configuration.inheritedSockets
            do {
                try await tcp.adopt(inherited.filter { $0.kind == .tcp }.map(\.fd))
                try udp.adopt(inherited.filter { $0.kind == .udp }.map(\.fd))
            } catch {
                await tcp.unbind()
                try? await tcp.group.shutdownGracefully()
                throw error
            }
            udp.start()
            logger.info("serving on inherited sockets", metadata: [
                "udp": "\(udpAddresses.map(\.description).joined(separator: " "))",
                "tcp": "\(tcpAddresses.map(\.description).joined(separator: " "))"])
            return
        }
        // TCP binds first so that an ephemeral port (port 0) is chosen once and UDP joins the
        // same number: resolvers fall back from UDP to TCP on the same port. If that UDP port is
        // taken, try another ephemeral port.
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await tcp.bind(configuration.listen)
            } catch {
                try? await tcp.group.shutdownGracefully()
                throw error
            }
            do {
                try udp.bind(tcp.boundAddresses)
                break
            } catch {
                await tcp.unbind()
                let ephemeral = configuration.listen.contains { $0.port == 0 }
                if !ephemeral || attempt >= 8 {
                    try? await tcp.group.shutdownGracefully()
                    throw error
                }
            }
        }
        udp.start()
        logger.info("serving", metadata: [
            "udp": "\(udpAddresses.map(\.description).joined(separator: " "))",
            "tcp": "\(tcpAddresses.map(\.description).joined(separator: " "))",
            "udp-threads-per-address": "\(configuration.udpThreads)",
            "tcp-event-loops": "\(configuration.tcpThreads)"])
    }

    /// Stops serving; idempotent. UDP workers answer the batch they hold; TCP connections get
    /// the answers to queries already read (up to ``ServerConfiguration/shutdownGrace``).
    public func stop() async {
        guard started, !stopped else { return }
        stopped = true
        await tcp.stop()
        udp.stop()
        logger.info("stopped", metadata: [
            "udp-answered": "\(udp.stats.answered)", "tcp-answered": "\(tcp.stats.answered)"])
    }

    /// UDP addresses actually bound (port 0 replaced by the kernel's choice), in `listen` order.
    public var udpAddresses: [ListenAddress] { udp.boundAddresses }
    /// TCP addresses actually bound, in `listen` order.
    public var tcpAddresses: [ListenAddress] { tcp.boundAddresses }
    public var udpStats: TransportStats { udp.stats }
    public var tcpStats: TransportStats { tcp.stats }
    /// Open TCP connections now.
    public var tcpConnectionCount: Int { tcp.connections.count }
    /// TCP connections closed to admit a new one at ``ServerConfiguration/tcpMaxConnections``.
    public var tcpEvictions: Int { tcp.connections.evicted }
    /// TCP connections closed because a message was not complete within
    /// ``ServerConfiguration/tcpMessageTimeout`` of its first byte.
    public var tcpMessageTimeouts: Int { tcp.connections.messageTimeouts }
}
