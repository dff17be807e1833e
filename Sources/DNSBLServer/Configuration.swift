import CSystemShims
import DNSBL

/// Transport settings of a ``DNSServer``. Sizes in bytes, durations in seconds.
public struct ServerConfiguration: Sendable {
    /// Addresses to serve on, UDP and TCP alike. Port 0 = an ephemeral port.
    public var listen: [ListenAddress]
    /// UDP serving threads per listen address (each with its own `SO_REUSEPORT` socket);
    /// default: the number of online CPUs.
    public var udpThreads: Int
    /// Datagrams per `recvmmsg`/`sendmmsg` call.
    public var udpBatchSize: Int = 64
    /// Receive pacing, seconds (at most 0.1; 0 = off): after a `recvmmsg` that emptied its
    /// socket, while that thread receives at least ``udpBatchWaitMinRate`` queries per second, the
    /// next `recvmmsg` waits until this long after the previous one returned and takes what
    /// arrived meanwhile in one batch. Fewer, larger batches cost fewer system calls and
    /// wake-ups per answer; a query waits at most this much longer. Below the rate nothing
    /// waits.
    public var udpBatchWait: Double = 0.000_2
    /// Queries per second per UDP thread from which ``udpBatchWait`` applies.
    public var udpBatchWaitMinRate: Int = 20_000
    /// Requested `SO_RCVBUF` per UDP socket, bytes (the kernel caps it at `net.core.rmem_max`
    /// unless the process may use `SO_RCVBUFFORCE`). rbldnsd's 64 KiB loses queries in bursts.
    public var udpReceiveBuffer: Int = 4 << 20
    /// Largest UDP response the handler may write, bytes (the EDNS payload size we offer).
    public var udpPayloadSize: Int = 1232
    /// NIO event loops for TCP; default: the number of online CPUs.
    public var tcpThreads: Int
    /// A TCP connection with no read or write for this long is closed (RFC 7766 §6.2.3).
    public var tcpIdleTimeout: Double = 10
    /// A TCP message (length prefix and body) must be complete this long after its first
    /// byte arrived, or the connection is closed (RFC 7766 §6.2.3; Knot's `tcp-io-timeout`).
    /// Bounds how long a client dribbling bytes inside the idle timeout holds a slot.
    public var tcpMessageTimeout: Double = 5
    /// Open TCP connections at most, over all listen addresses; at the cap a new connection
    /// is admitted by closing the one that has gone longest without a whole message answered
    /// (bytes trickled in do not count).
    public var tcpMaxConnections: Int = 256
    /// Bytes of responses queued on one connection before the server stops reading its
    /// queries (backpressure against clients that send but do not read).
    public var tcpMaxQueuedBytes: Int = 64 << 10
    /// On shutdown, how long open TCP connections get to receive the answers to the queries
    /// already read before they are closed.
    public var shutdownGrace: Double = 2
    /// DNS Cookies and response rate limiting.
    public var operations = OperationsConfiguration()
    /// Zone transfer (AXFR/IXFR over TCP) for the clients its ACL allows, REFUSED for others;
    /// nil = the responder answers AXFR/IXFR with NOTIMP, as before transfers existed.
    public var transfer: (any TransferHandler)? = nil
    /// TSIG keys (RFC 8945): a query that carries a TSIG record (a secondary's SOA check) gets
    /// its answer signed, or the TSIG error; nil = TSIG records are not looked at.
    public var tsig: TSIGKeyring? = nil

    /// Sockets passed by socket activation (``Systemd/inheritedSockets(unsetEnvironment:)``);
    /// when not empty they are served instead of binding ``listen``.
    public var inheritedSockets: [Systemd.InheritedSocket] = []

    public init(listen: [ListenAddress], threads: Int? = nil) {
        self.listen = listen
        let n = threads ?? onlineCPUs()
        self.udpThreads = max(1, n)
        self.tcpThreads = max(1, n)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Online CPUs as the scheduler sees them (respects affinity masks on Linux).
public func onlineCPUs() -> Int {
    let n = Int(csys_affinity_cpus())
    if n > 0 { return n }
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Hands pages malloc has freed back to the system (glibc keeps them in its pools otherwise):
/// worth calling after a large transient allocation such as compiling sources at start.
public func releaseFreedMemory() {
    _ = csys_malloc_trim()
}
