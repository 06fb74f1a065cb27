// HelloGate: the first handler of every connection the migration listener accepts. It runs in
// SwiftNIO's event loop, so a connection costs no thread until it has proved itself: within
// the handshake deadline it must send one whole, well-formed first message. A `resolve`
// question is answered right there; a valid hello takes one of the listener's few migration
// slots and only then is handed, as a blocking `NIOByteStream`, to a worker. Anything else
// (too slow, too big, not our protocol, no slot) is closed. Beyond the handshake cap, the
// connection that has waited longest in its handshake is closed to make room.

import Foundation
import NIOCore

/// The listener's connections in their handshake (oldest first) and its count of migrations
/// handed out (shared by the event loop and the workers that close their streams).
final class ListenerSlots: @unchecked Sendable {
    let limits: MigrationListenerLimits
    private let lock = NSLock()
    private var handshakes: [(serial: UInt64, channel: any Channel)] = []
    private var nextSerial: UInt64 = 0
    private var migrations = 0
    private var tally = ListenerTally()

    init(limits: MigrationListenerLimits) { self.limits = limits }

    /// Enters `channel` into the handshake; at the cap, the oldest connection still in its
    /// handshake makes room (returned, for the caller to close): a real source sends its
    /// hello at once, so the connection that has waited longest is the likeliest to be idle.
    func beginHandshake(_ channel: any Channel) -> (serial: UInt64, evict: (any Channel)?) {
        lock.withLock {
            var evict: (any Channel)?
            if handshakes.count >= limits.maxHandshakes {
                evict = handshakes.removeFirst().channel
                tally.evicted += 1
            }
            nextSerial += 1
            handshakes.append((nextSerial, channel))
            return (nextSerial, evict)
        }
    }

    /// Leaves the handshake (no-op when evicted already).
    func endHandshake(_ serial: UInt64) {
        lock.withLock { handshakes.removeAll { $0.serial == serial } }
    }

    /// Takes a migration slot; false when `maxMigrations` run already.
    func beginMigration() -> Bool {
        lock.withLock {
            guard migrations < limits.maxMigrations else {
                tally.busy += 1
                return false
            }
            migrations += 1
            return true
        }
    }

    func endMigration() { lock.withLock { migrations -= 1 } }

    func count(_ event: WritableKeyPath<ListenerTally, Int>) { lock.withLock { tally[keyPath: event] += 1 } }

    /// What happened so far, and what is open now.
    var snapshot: ListenerTally {
        lock.withLock {
            var t = tally
            t.handshaking = handshakes.count
            t.migrating = migrations
            return t
        }
    }
}

/// Counts kept by a `MigrationListener` (tests, diagnostics).
struct ListenerTally: Sendable {
    /// Connections closed to make room for a newer one: too many handshakes open.
    var evicted = 0
    /// Connections closed for missing the handshake deadline.
    var expired = 0
    /// Connections closed for a first message that is not ours, too big, or unreadable.
    var rejected = 0
    /// Valid hellos refused because every migration slot was taken.
    var busy = 0
    /// `resolve` questions answered in the event loop.
    var resolved = 0
    /// Migrations handed to `accept`.
    var accepted = 0
    /// Connections in their handshake now, and migrations holding a slot now.
    var handshaking = 0
    var migrating = 0
}

/// Validates a connection's first message inside the event loop (see the file comment).
final class HelloGate: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let slots: ListenerSlots
    private let outcomes: MigrationOutcomes
    private let deliver: @Sendable (NIOByteStream) -> Void
    private var bytes: [UInt8] = []
    private var started = false
    private var inHandshake = false
    private var serial: UInt64 = 0
    private var finished = false
    private var timer: Scheduled<Void>?

    init(slots: ListenerSlots, outcomes: MigrationOutcomes, deliver: @escaping @Sendable (NIOByteStream) -> Void) {
        self.slots = slots
        self.outcomes = outcomes
        self.deliver = deliver
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let (serial, evict) = slots.beginHandshake(context.channel)
        evict?.close(promise: nil)
        self.serial = serial
        inHandshake = true
        let channel = context.channel, slots = self.slots
        let nanoseconds = Int64(slots.limits.handshakeTimeout * 1e9)
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            slots.count(\.expired)
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        var buffer = unwrapInboundIn(data)
        if let chunk = buffer.readBytes(length: buffer.readableBytes) { bytes += chunk }
        examine(context)
    }

    /// Decides once enough has arrived: wait, answer, hand over, or close.
    private func examine(_ context: ChannelHandlerContext) {
        guard bytes.count >= MigrationWire.headerLength else { return }
        let magic: UInt32 = bytes.readLE(at: 0)
        let version: UInt16 = bytes.readLE(at: 4)
        let type = MessageType(rawValue: bytes.readLE(at: 6) as UInt16)
        let length = Int(bytes.readLE(at: 8) as UInt32)
        guard magic == MigrationWire.magic, version == MigrationWire.version,
              type == .hello || type == .resolve, length <= slots.limits.maxFirstMessageBytes else {
            reject(context)
            return
        }
        var decoder = MessageDecoder()
        decoder.feed(bytes)
        let first: MigrationMessage
        do {
            guard let m = try decoder.next() else { return }  // the payload is still coming
            first = m
        } catch {
            reject(context)
            return
        }
        if first.type == .resolve {
            slots.count(\.resolved)
            reply(context, MigrationMessage(.outcome, outcomes.outcome(first.text).payload))
            return
        }
        guard (try? JSONDecoder().decode(MigrationDescription.self, from: Data(first.payload))) != nil else {
            slots.count(\.rejected)
            reply(context, MigrationMessage(.refuse, text: "unreadable description"))
            return
        }
        guard slots.beginMigration() else {
            reply(context, MigrationMessage(.refuse, text: "busy: \(slots.limits.maxMigrations) incoming migrations in progress"))
            return
        }
        handOver(context)
    }

    /// The connection proved itself: its bytes so far (the hello and anything after it) go to
    /// a stream a worker reads, and this handler leaves the pipeline.
    private func handOver(_ context: ChannelHandlerContext) {
        let queue = ChunkQueue()
        queue.push(bytes)
        leaveHandshake()
        let slots = self.slots
        do {
            try context.pipeline.syncOperations.addHandler(InboundBytesHandler(queue: queue), position: .after(self))
        } catch {
            slots.endMigration()
            context.close(promise: nil)
            return
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        slots.count(\.accepted)
        deliver(NIOByteStream(channel: context.channel, inbound: queue, onClose: { slots.endMigration() }))
    }

    /// Sends one message, then closes.
    private func reply(_ context: ChannelHandlerContext, _ message: MigrationMessage) {
        leaveHandshake()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: MigrationWire.encode(message)))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func reject(_ context: ChannelHandlerContext) {
        slots.count(\.rejected)
        leaveHandshake()
        context.close(promise: nil)
    }

    private func leaveHandshake() {
        finished = true
        bytes = []
        timer?.cancel()
        timer = nil
        if inHandshake {
            inHandshake = false
            slots.endHandshake(serial)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        leaveHandshake()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        leaveHandshake()
        context.close(promise: nil)
    }
}
