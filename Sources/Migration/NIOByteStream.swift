// NIOByteStream: a TCP connection through SwiftNIO seen as a blocking `ByteStream`: inbound
// bytes land in a `ChunkQueue` the protocol thread reads; writes wait for NIO to take them.
// Also the client connect and the `MigrationListener` server (127.0.0.1 by default).

import Foundation
import NIOCore
import NIOPosix
import VMHost

/// One TCP connection.
public final class NIOByteStream: ByteStream, @unchecked Sendable {
    let channel: any Channel
    let inbound: ChunkQueue

    init(channel: any Channel, inbound: ChunkQueue) {
        self.channel = channel
        self.inbound = inbound
    }

    public func write(_ bytes: [UInt8]) throws(StreamError) {
        guard channel.isActive, !inbound.isClosed else { throw .closed }
        let buffer = channel.allocator.buffer(bytes: bytes)
        do { try channel.writeAndFlush(buffer).wait() } catch { throw .closed }
    }

    public func read(timeout: Double) throws(StreamError) -> [UInt8] {
        try inbound.pop(timeout: timeout)
    }

    public func close() {
        inbound.close()
        channel.close(promise: nil)
    }
}

/// Moves received bytes into the queue; the end of the connection closes it.
final class InboundBytesHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let queue: ChunkQueue

    init(queue: ChunkQueue) { self.queue = queue }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { queue.push(bytes) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        queue.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        queue.close()
        context.close(promise: nil)
    }
}

/// TCP for migrations: one small event loop group shared by clients and listeners.
public enum MigrationTCP {
    /// The event loops (one thread: a migration is one stream).
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Connects to a destination; throws `.connect` when nobody listens there.
    public static func connect(host: String, port: Int, timeout: Double = 5) throws(StreamError) -> NIOByteStream {
        let queue = ChunkQueue()
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboundBytesHandler(queue: queue))
                }
            }
        do {
            let channel = try bootstrap.connect(host: host, port: port).wait()
            return NIOByteStream(channel: channel, inbound: queue)
        } catch {
            throw .connect("cannot connect to \(host):\(port): \(error)")
        }
    }
}

/// A TCP server taking incoming migrations.
public final class MigrationListener: @unchecked Sendable {
    private let server: any Channel
    private let accepted = AcceptQueue()
    /// The port it listens on (the one given, or the ephemeral one chosen).
    public let port: Int
    /// The address it listens on.
    public let host: String

    /// Listens on `host:port` (port 0: an ephemeral port).
    public init(host: String = "127.0.0.1", port: Int = 0) throws(StreamError) {
        self.host = host
        let accepted = self.accepted
        let bootstrap = ServerBootstrap(group: MigrationTCP.group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let queue = ChunkQueue()
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboundBytesHandler(queue: queue))
                    accepted.enqueue(NIOByteStream(channel: channel, inbound: queue))
                }
            }
        do {
            server = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw .connect("cannot listen on \(host):\(port): \(error)")
        }
        self.port = server.localAddress?.port ?? port
    }

    /// The next incoming connection, waiting up to `timeout` seconds.
    public func accept(timeout: Double = 30) throws(StreamError) -> NIOByteStream {
        try accepted.next(timeout: timeout)
    }

    /// Accepts one migration and runs its destination side: the VM, running, or an error.
    public func receive(hooks: MigrationDestinationHooks, timeout: Double = 30) throws(MigrationError) -> IncomingMigration {
        let stream: NIOByteStream
        do { stream = try accept(timeout: timeout) } catch { throw MigrationError(.connect, "\(error)") }
        return try MigrationDestination(connection: MigrationConnection(stream, timeout: timeout), hooks: hooks).run()
    }

    /// Stops listening; connections not yet accepted are closed.
    public func close() {
        accepted.close()
        server.close(promise: nil)
    }
}

/// Accepted connections waiting for `MigrationListener.accept`.
private final class AcceptQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [NIOByteStream] = []
    private var closed = false

    func enqueue(_ stream: NIOByteStream) {
        condition.withLock {
            if closed {
                stream.close()
                return
            }
            pending.append(stream)
            condition.broadcast()
        }
    }

    func next(timeout: Double) throws(StreamError) -> NIOByteStream {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while pending.isEmpty {
            if closed { throw .closed }
            if !condition.wait(until: deadline) && pending.isEmpty { throw .timeout }
        }
        return pending.removeFirst()
    }

    func close() {
        condition.withLock {
            closed = true
            for s in pending { s.close() }
            pending.removeAll()
            condition.broadcast()
        }
    }
}

/// Migrates `vm` to the destination listening at `host:port` over TCP. On success the source
/// VM is stopped and the report says what was measured; on failure the VM runs on here and
/// the error names the phase.
public func migrate(vm: VirtualMachine, to host: String, port: Int, options: MigrationOptions = MigrationOptions(),
                    hooks: MigrationSourceHooks = MigrationSourceHooks()) throws(MigrationError) -> MigrationReport {
    let stream: NIOByteStream
    do { stream = try MigrationTCP.connect(host: host, port: port, timeout: min(options.timeout, 5)) }
    catch { throw MigrationError(.connect, "\(error)") }
    return try MigrationSource(vm: vm, connection: MigrationConnection(stream, timeout: options.timeout),
                               options: options, hooks: hooks).run()
}
