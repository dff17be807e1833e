import Logging
import ServiceLifecycle

/// Runs an already started ``DNSServer`` inside a `ServiceGroup`: waits for graceful shutdown
/// (SIGTERM/SIGINT), then stops accepting, finishes in-flight queries and returns.
public struct DNSServerService: Service {
    public let server: DNSServer
    public init(server: DNSServer) { self.server = server }

    public func run() async throws {
        try? await gracefulShutdown()
        await server.stop()
    }
}
