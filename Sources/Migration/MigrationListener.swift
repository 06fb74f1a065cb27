// MigrationListener: the destination's TCP server (127.0.0.1 and an ephemeral port by default).
// Connections are screened in SwiftNIO's event loop by a `HelloGate` (caps, a handshake
// deadline, a valid first message; `resolve` questions answered there), so no thread is spent
// on a connection until it is one of at most `limits.maxMigrations` migrations.

import Foundation
import NIOCore
import NIOPosix

/// A TCP server taking incoming migrations.
public final class MigrationListener: @unchecked Sendable {
    private let server: any Channel
    private let accepted = AcceptQueue()
    private let slots: ListenerSlots
    /// The port it listens on (the one given, or the ephemeral one chosen).
    public let port: Int
    /// The address it listens on.
    public let host: String
    /// The caps and deadlines it enforces.
    public var limits: MigrationListenerLimits { slots.limits }

    /// Listens on `host:port` (port 0: an ephemeral port). `resolve` questions are answered
    /// from `outcomes`.
    public init(host: String = "127.0.0.1", port: Int = 0, limits: MigrationListenerLimits = MigrationListenerLimits(),
                outcomes: MigrationOutcomes = .shared) throws(StreamError) {
        if let problem = limits.problem { throw .connect("migration listener limits: \(problem)") }
        self.host = host
        let accepted = self.accepted
        let slots = ListenerSlots(limits: limits)
        self.slots = slots
        let bootstrap = ServerBootstrap(group: MigrationTCP.group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: MigrationTCP.receiveAllocator)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: MigrationTCP.waterMark)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        HelloGate(slots: slots, outcomes: outcomes) { stream in accepted.enqueue(stream) })
                }
            }
        do {
            server = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw .connect("cannot listen on \(host):\(port): \(error)")
        }
        self.port = server.localAddress?.port ?? port
    }

    /// What the gate has done so far (tests, diagnostics).
    var tally: ListenerTally { slots.snapshot }

    /// The next incoming migration, waiting up to `timeout` seconds: a connection whose
    /// valid hello (not yet consumed) holds one of `limits.maxMigrations` slots until the
    /// stream is closed, which the caller must do.
    public func accept(timeout: Double = 30) throws(StreamError) -> NIOByteStream {
        try accepted.next(timeout: timeout)
    }

    /// Accepts one migration and runs its destination side: the VM, running, or an error.
    public func receive(hooks: any MigrationDestinationHost, timeout: Double = 30) throws(MigrationError) -> IncomingMigration {
        let stream: NIOByteStream
        do { stream = try accept(timeout: timeout) } catch { throw MigrationError(.connect, "\(error)") }
        return try MigrationDestination(connection: MigrationConnection(stream, timeout: timeout), hooks: hooks).run()
    }

    /// Serves one accepted connection: a `resolve` question is answered from `outcomes`
    /// (returns nil); a migration runs its destination side (the VM, running, or an error).
    public static func serve(_ stream: any ByteStream, hooks: any MigrationDestinationHost, timeout: Double = 30,
                             outcomes: MigrationOutcomes = .shared) throws(MigrationError) -> IncomingMigration? {
        let connection = MigrationConnection(stream, timeout: timeout)
        let first: MigrationMessage
        do { first = try connection.receive() } catch {
            connection.close()
            throw MigrationError(.connect, "reading the first message: \(error)")
        }
        if first.type == .resolve {
            try? connection.send(MigrationMessage(.outcome, outcomes.outcome(first.text).payload))
            connection.close()
            return nil
        }
        return try MigrationDestination(connection: connection, hooks: hooks, hello: first).run()
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
