import NIOCore
import NIOHTTP1
import NIOPosix

/// The `--metrics ADDR:PORT` listener: HTTP/1.1, answers `GET /metrics` with the Prometheus
/// text exposition of a ``ServerMetrics`` and 404 to anything else. One event loop; a scrape
/// every few seconds costs nothing measurable.
public final class MetricsHTTPServer: @unchecked Sendable {
    public let metrics: ServerMetrics
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: Channel? = nil
    /// The bound address (the kernel's port when port 0 was asked), after ``start(_:)``.
    public private(set) var boundAddress: ListenAddress? = nil

    public init(metrics: ServerMetrics) { self.metrics = metrics }

    /// Binds and serves.
    /// - Throws: ``ServerError`` `.bind` naming the address.
    public func start(_ address: ListenAddress) async throws {
        let metrics = self.metrics
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
        do {
            let c = try await bootstrap.bind(host: address.host, port: Int(address.port)).get()
            channel = c
            var actual = address
            actual.port = UInt16(c.localAddress?.port ?? Int(address.port))
            boundAddress = actual
        } catch {
            try? await group.shutdownGracefully()
            throw ServerError(.bind, "metrics listener \(address): \(error)")
        }
    }

    public func stop() async {
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let metrics: ServerMetrics
    private var head: HTTPRequestHead? = nil
    init(metrics: ServerMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let ok = h.method == .GET && (h.uri == "/metrics" || h.uri.hasPrefix("/metrics?"))
            let body = ok ? metrics.exposition() : "not found: try GET /metrics\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            let keepAlive = h.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: ok ? .ok : .notFound, headers: headers))), promise: nil)
            var buf = context.channel.allocator.buffer(capacity: body.utf8.count)
            buf.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in ctx.value.close(promise: nil) }
            }
        }
    }
}
