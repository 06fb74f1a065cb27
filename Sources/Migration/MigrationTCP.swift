// MigrationTCP: the shared SwiftNIO event loop group, the client connect, and `migrate(vm:to:port:)`,
// the source side over TCP in one call.

import NIOCore
import NIOPosix
import VMHost

/// TCP for migrations: one small event loop group shared by clients and listeners.
public enum MigrationTCP {
    /// The event loops (one thread: a migration is one stream).
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Reads of up to 1 MiB (a page batch in a few reads, not dozens of 64 KiB ones, each a
    /// wake-up of the protocol thread).
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64 << 10, initial: 256 << 10, maximum: 1 << 20)
    /// The writer waits only once 4 MiB are queued (a page batch is about 1 MiB).
    static let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 4 << 20)

    /// Connects to a destination; throws `.connect` when nobody listens there.
    public static func connect(host: String, port: Int, timeout: Double = 5) throws(StreamError) -> NIOByteStream {
        let queue = ChunkQueue()
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: receiveAllocator)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: waterMark)
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

extension MigrationTCP {
    /// Asks the source listening at `address` ("host:port") what became of migration `id`;
    /// `.unknown` when it cannot be reached or answers nonsense.
    public static func resolve(id: String, at address: String, timeout: Double = 2) -> MigrationOutcome {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return .unknown }
        let host = String(address[..<colon])
        guard let stream = try? connect(host: host, port: port, timeout: timeout) else { return .unknown }
        let connection = MigrationConnection(stream, timeout: timeout)
        defer { connection.close() }
        do {
            try connection.send(MigrationMessage(.resolve, text: id))
            let reply = try connection.receive()
            guard reply.type == .outcome else { return .unknown }
            return try MigrationOutcome(payload: reply.payload)
        } catch {
            return .unknown
        }
    }
}

/// Migrates `vm` to the destination listening at `host:port` over TCP. On success the source
/// VM is stopped and the report says what was measured; on failure the VM runs on here and
/// the error names the phase.
public func migrate(vm: VirtualMachine, to host: String, port: Int, options: MigrationOptions = MigrationOptions(),
                    hooks: any MigrationSourceHost = MigrationSourceHooks()) throws(MigrationError) -> MigrationReport {
    let stream: NIOByteStream
    do { stream = try MigrationTCP.connect(host: host, port: port, timeout: min(options.timeout, 5)) }
    catch { throw MigrationError(.connect, "\(error)") }
    return try MigrationSource(vm: vm, connection: MigrationConnection(stream, timeout: options.timeout),
                               options: options, hooks: hooks).run()
}
