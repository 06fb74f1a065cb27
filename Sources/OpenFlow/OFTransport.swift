// OFTransport: OpenFlow over TCP with SwiftNIO. `OFListener` serves `ptcp:` (a cap on
// connections, each an `OFChannel` driven inside the event loop: no thread per client);
// `OFConnector` keeps a `tcp:` connection to a controller up, reconnecting with backoff
// (1 s, doubling to 8 s, back to 1 s after a connection got through its HELLO, as Open
// vSwitch does). Both give each connection a handshake deadline and echo probes; output goes
// to the socket only while it is writable, and reading pauses while the channel's output queue
// is above its read-pause mark, so a peer that does not read cannot make us buffer without
// bound.

import Foundation
import NIOCore
import NIOPosix

/// Caps and deadlines of OpenFlow connections.
public struct OFTransportLimits: Sendable, Equatable {
    /// Connections a listener serves at once (default 16); more are closed at once.
    public var maxConnections = 16
    /// Seconds from connecting within which HELLO must have been exchanged (default 10).
    public var handshakeTimeout: Double = 10
    /// Seconds of silence after which an echo request is sent; as long again without an
    /// answer closes the connection (default 5, as Open vSwitch's inactivity probe).
    public var probeInterval: Double = 5
    /// Reconnect delays of a connector: first, then doubling up to the last (default 1...8 s).
    public var backoffInitial: Double = 1
    public var backoffMax: Double = 8
    /// The channel's caps.
    public var channel = OFChannelLimits()

    /// The defaults.
    public init() {}

    /// Why these limits cannot be used, or nil.
    var problem: String? {
        if maxConnections < 1 { return "maxConnections must be at least 1" }
        if !(handshakeTimeout > 0 && handshakeTimeout <= 3600) { return "handshakeTimeout must be in (0, 3600] seconds" }
        if !(probeInterval >= 0.01 && probeInterval <= 3600) { return "probeInterval must be in [0.01, 3600] seconds" }
        if !(backoffInitial >= 0.01 && backoffMax >= backoffInitial && backoffMax <= 3600) {
            return "backoff must satisfy 0.01 <= backoffInitial <= backoffMax <= 3600 seconds"
        }
        return nil
    }
}

/// One live OpenFlow connection as the integrator sees it: send asynchronous messages from
/// any thread, or close it.
public final class OFConnection: @unchecked Sendable {
    /// The peer's address.
    public let peer: String
    fileprivate let eventLoop: any EventLoop
    fileprivate var driver: OFChannelDriver?

    fileprivate init(peer: String, eventLoop: any EventLoop) {
        self.peer = peer
        self.eventLoop = eventLoop
    }

    /// Queues a PACKET_IN, FLOW_REMOVED or PORT_STATUS (the channel's async rules apply);
    /// safe from any thread.
    public func sendAsync(_ message: OFMessage) {
        eventLoop.execute { [self] in driver?.sendAsync(message) }
    }

    /// Closes the connection; safe from any thread.
    public func close() {
        eventLoop.execute { [self] in driver?.shutdown(.transport("closed locally")) }
    }
}

/// Makes the switch-side handler of a new connection.
public typealias OFHandlerFactory = @Sendable (OFConnection) -> any OFSwitchHandler

/// Shared event loops of OpenFlow connections.
public enum OFTransport {
    /// One thread: control traffic is light, and every channel lives on it.
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    static let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 << 10, high: 256 << 10)
    /// Bytes handed to SwiftNIO and not yet written to the socket, at most.
    static let maxInFlight = 256 << 10
}

/// Drives one `OFChannel` inside the NIO pipeline.
final class OFChannelDriver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limits: OFTransportLimits
    private let connection: OFConnection
    private let makeHandler: OFHandlerFactory
    private let generations: OFRoleGenerations
    private let onEnd: @Sendable (Bool) -> Void
    private var channel: OFChannel?
    private var context: ChannelHandlerContext?
    private var probe: RepeatedTask?
    private var deadline: Scheduled<Void>?
    private var ended = false
    private var opened = false
    private var readPaused = false
    private var inFlight = 0

    init(limits: OFTransportLimits, connection: OFConnection, generations: OFRoleGenerations,
         makeHandler: @escaping OFHandlerFactory, onEnd: @escaping @Sendable (_ opened: Bool) -> Void) {
        self.limits = limits
        self.connection = connection
        self.makeHandler = makeHandler
        self.generations = generations
        self.onEnd = onEnd
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        connection.driver = self
        let ch = OFChannel(handler: makeHandler(connection), limits: limits.channel, generations: generations,
                           label: connection.peer)
        channel = ch
        ch.start()
        flush()
        deadline = context.eventLoop.scheduleTask(in: .milliseconds(Int64(limits.handshakeTimeout * 1000))) { [self] in
            if channel?.state == .handshake { shutdown(.transport("no HELLO within \(limits.handshakeTimeout) s")) }
        }
        let every = TimeAmount.milliseconds(Int64(limits.probeInterval * 1000))
        probe = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { [self] _ in
            channel?.tick()
            flush()
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        channel?.receive(buffer.readableBytesView)
        if channel?.state == .open { opened = true }
        flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        shutdown(.transport("\(error)"))
    }

    func sendAsync(_ message: OFMessage) {
        channel?.sendAsync(message)
        flush()
    }

    /// Writes what the channel queued while the socket takes it; pauses reading while the
    /// channel's queue is above its mark; closes after the last write once the channel closed.
    private func flush() {
        guard let context, let channel else { return }
        var written: EventLoopFuture<Void>?
        // Hand output to SwiftNIO only while less than `maxInFlight` of it has not reached the
        // socket yet; each completed write makes room and flushes again. The rest waits in
        // the channel's queue, where its caps apply.
        if inFlight < OFTransport.maxInFlight, channel.pendingOutputBytes > 0 {
            let bytes = channel.takeOutput()
            let count = bytes.count
            inFlight += count
            let future = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)))
            future.whenComplete { [self] result in
                inFlight -= count
                if case .success = result { self.channel?.noteOutputProgress() }
                flush()
            }
            written = future
        }
        if channel.isClosed {
            if let written {
                let nio = context.channel
                written.whenComplete { _ in nio.close(promise: nil) }
            } else if inFlight == 0 {
                context.close(promise: nil)
            }
            return
        }
        if readPaused == channel.wantsInput {
            readPaused = !channel.wantsInput
            context.channel.setOption(ChannelOptions.autoRead, value: !readPaused).whenComplete { _ in }
        }
    }

    func shutdown(_ reason: OFChannel.CloseReason) {
        channel?.close(reason)
        flush()
    }

    private func end() {
        guard !ended else { return }
        ended = true
        probe?.cancel()
        deadline?.cancel()
        channel?.close(.transport("connection closed"))
        connection.driver = nil
        onEnd(opened)
    }
}

/// Counts connections of a listener against its cap.
private final class ConnectionSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    let max: Int

    init(max: Int) { self.max = max }

    func take() -> Bool { lock.withLock { guard open < max else { return false }; open += 1; return true } }
    func release() { lock.withLock { open -= 1 } }
    var count: Int { lock.withLock { open } }
}

/// A passive OpenFlow listener (`ptcp:`).
public final class OFListener: @unchecked Sendable {
    private let server: any Channel
    private let slots: ConnectionSlots
    /// The port it listens on (the ephemeral one chosen when 0 was asked).
    public let port: Int
    /// The address it listens on.
    public let host: String

    /// Listens on `host:port`; each connection gets a handler from `makeHandler`.
    public init(host: String = "0.0.0.0", port: Int, limits: OFTransportLimits = OFTransportLimits(),
                generations: OFRoleGenerations = OFRoleGenerations(),
                makeHandler: @escaping OFHandlerFactory) throws(OFTransportError) {
        if let problem = limits.problem { throw OFTransportError("OpenFlow transport limits: \(problem)") }
        let slots = ConnectionSlots(max: limits.maxConnections)
        self.slots = slots
        self.host = host
        let bootstrap = ServerBootstrap(group: OFTransport.group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: OFTransport.waterMark)
            .childChannelInitializer { channel in
                guard slots.take() else { return channel.close() }
                let peer = channel.remoteAddress.map { "\($0)" } ?? "?"
                let connection = OFConnection(peer: peer, eventLoop: channel.eventLoop)
                channel.closeFuture.whenComplete { _ in slots.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        OFChannelDriver(limits: limits, connection: connection, generations: generations,
                                        makeHandler: makeHandler, onEnd: { _ in }))
                }
            }
        do {
            server = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw OFTransportError("cannot listen on \(host):\(port): \(error)")
        }
        self.port = server.localAddress?.port ?? port
    }

    /// Listens as `endpoint` says (which must be `ptcp:`).
    public convenience init(_ endpoint: OFEndpoint, limits: OFTransportLimits = OFTransportLimits(),
                            generations: OFRoleGenerations = OFRoleGenerations(),
                            makeHandler: @escaping OFHandlerFactory) throws(OFTransportError) {
        guard case .passive(let host, let port) = endpoint else { throw OFTransportError("\(endpoint) is not a ptcp: listener") }
        try self.init(host: host, port: port, limits: limits, generations: generations, makeHandler: makeHandler)
    }

    /// Connections open now.
    public var connectionCount: Int { slots.count }

    /// Stops listening (open connections stay until they end).
    public func close() {
        server.close(promise: nil)
    }
}

/// An active connection to a controller (`tcp:`), kept up with backoff until `stop()`.
public final class OFConnector: @unchecked Sendable {
    private let host: String
    private let port: Int
    private let limits: OFTransportLimits
    private let generations: OFRoleGenerations
    private let makeHandler: OFHandlerFactory
    private let loop: any EventLoop
    private let lock = NSLock()
    private var stopped = false
    private var current: (any Channel)?
    private var delay: Double
    /// Connection attempts so far (tests, diagnostics).
    public private(set) var attempts = 0

    /// Starts connecting to `host:port`.
    public init(host: String, port: Int, limits: OFTransportLimits = OFTransportLimits(),
                generations: OFRoleGenerations = OFRoleGenerations(), makeHandler: @escaping OFHandlerFactory) throws(OFTransportError) {
        if let problem = limits.problem { throw OFTransportError("OpenFlow transport limits: \(problem)") }
        self.host = host
        self.port = port
        self.limits = limits
        self.generations = generations
        self.makeHandler = makeHandler
        self.loop = OFTransport.group.next()
        self.delay = limits.backoffInitial
        loop.execute { [self] in connect() }
    }

    /// Connects as `endpoint` says (which must be `tcp:`).
    public convenience init(_ endpoint: OFEndpoint, limits: OFTransportLimits = OFTransportLimits(),
                            generations: OFRoleGenerations = OFRoleGenerations(),
                            makeHandler: @escaping OFHandlerFactory) throws(OFTransportError) {
        guard case .active(let host, let port) = endpoint else { throw OFTransportError("\(endpoint) is not a tcp: connection") }
        try self.init(host: host, port: port, limits: limits, generations: generations, makeHandler: makeHandler)
    }

    /// The reconnect delays: `backoffInitial` after a connection that got through HELLO (or
    /// before the first retry), else the previous delay doubled, at most `backoffMax`.
    /// Returns (this wait, the next one).
    static func backoff(previous: Double, opened: Bool, limits: OFTransportLimits) -> (wait: Double, next: Double) {
        let wait = opened ? limits.backoffInitial : previous
        return (wait, min(wait * 2, limits.backoffMax))
    }

    private func connect() {
        guard !lock.withLock({ stopped }) else { return }
        lock.withLock { attempts += 1 }
        let connection = OFConnection(peer: "\(host):\(port)", eventLoop: loop)
        let limits = self.limits, generations = self.generations, makeHandler = self.makeHandler
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(min(limits.handshakeTimeout, 5) * 1000)))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: OFTransport.waterMark)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        OFChannelDriver(limits: limits, connection: connection, generations: generations,
                                        makeHandler: makeHandler, onEnd: { opened in self.retry(opened: opened) }))
                }
            }
        bootstrap.connect(host: host, port: port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let stop = lock.withLock { () -> Bool in
                    current = channel
                    return stopped
                }
                if stop { channel.close(promise: nil) }
            case .failure:
                retry(opened: false)
            }
        }
    }

    private func retry(opened: Bool) {
        let wait: Double? = lock.withLock {
            current = nil
            guard !stopped else { return nil }
            let (w, next) = OFConnector.backoff(previous: delay, opened: opened, limits: limits)
            delay = next
            return w
        }
        guard let wait else { return }
        loop.scheduleTask(in: .milliseconds(Int64(wait * 1000))) { [self] in connect() }
    }

    /// Stops reconnecting and closes the connection.
    public func stop() {
        let channel = lock.withLock { () -> (any Channel)? in
            stopped = true
            return current
        }
        channel?.close(promise: nil)
    }
}

/// A transport failure (cannot listen, wrong endpoint kind).
public struct OFTransportError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    init(_ description: String) { self.description = description }
}
