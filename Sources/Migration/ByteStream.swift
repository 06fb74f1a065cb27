// ByteStream: the blocking byte pipe the protocol runs over (TCP through SwiftNIO, or memory in
// tests), the chunk queue both use for inbound bytes, and an in-memory connected pair.

import Foundation

/// Why a stream operation failed.
public enum StreamError: Error, Equatable, CustomStringConvertible {
    /// The peer closed the connection or it broke.
    case closed
    /// Nothing arrived in time.
    case timeout
    /// Could not connect or listen.
    case connect(String)

    public var description: String {
        switch self {
        case .closed: return "connection closed"
        case .timeout: return "timed out waiting for the peer"
        case .connect(let m): return m
        }
    }
}

/// A connected, ordered, reliable byte stream used from one protocol thread.
public protocol ByteStream: AnyObject, Sendable {
    /// Sends all of `bytes` (blocking until handed to the transport); throws once closed.
    func write(_ bytes: [UInt8]) throws(StreamError)
    /// The next chunk of received bytes; throws `.closed` at the end, `.timeout` after
    /// `timeout` seconds.
    func read(timeout: Double) throws(StreamError) -> [UInt8]
    /// Closes both directions; the peer's reads end.
    func close()
}

/// Chunks of bytes handed from a producer to a blocked reader.
public final class ChunkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var closed = false

    /// An empty, open queue.
    public init() {}

    /// Adds a chunk (ignored once closed).
    public func push(_ bytes: [UInt8]) {
        condition.withLock {
            guard !closed else { return }
            chunks.append(bytes)
            condition.broadcast()
        }
    }

    /// Marks the end; readers drain what is queued, then get `.closed`.
    public func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }

    /// Whether `close` was called.
    public var isClosed: Bool { condition.withLock { closed } }

    /// The next chunk, waiting up to `timeout` seconds.
    public func pop(timeout: Double) throws(StreamError) -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while head == chunks.count {
            if closed { throw .closed }
            if !condition.wait(until: deadline) && head == chunks.count {
                if closed { throw .closed }
                throw .timeout
            }
        }
        let chunk = chunks[head]
        head += 1
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        }
        return chunk
    }
}

/// One end of an in-memory connection (`MemoryByteStream.pair()`).
public final class MemoryByteStream: ByteStream, @unchecked Sendable {
    private let inbound: ChunkQueue
    private let outbound: ChunkQueue

    private init(inbound: ChunkQueue, outbound: ChunkQueue) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Two connected ends.
    public static func pair() -> (MemoryByteStream, MemoryByteStream) {
        let a = ChunkQueue(), b = ChunkQueue()
        return (MemoryByteStream(inbound: a, outbound: b), MemoryByteStream(inbound: b, outbound: a))
    }

    public func write(_ bytes: [UInt8]) throws(StreamError) {
        guard !outbound.isClosed, !inbound.isClosed else { throw .closed }
        outbound.push(bytes)
    }

    public func read(timeout: Double) throws(StreamError) -> [UInt8] {
        try inbound.pop(timeout: timeout)
    }

    public func close() {
        inbound.close()
        outbound.close()
    }
}

/// Wraps a stream to break it on purpose (tests): it closes the connection instead of
/// writing the `occurrence`-th message of type `closeBefore`, or flips a payload byte of that
/// message. It relies on each `write` carrying one whole framed message, as
/// `MigrationConnection` does.
public final class FaultInjectingStream: ByteStream, @unchecked Sendable {
    /// What to do to the chosen message.
    public enum Fault: Sendable {
        /// Close the connection instead of sending it.
        case close
        /// Send it with one payload byte flipped (a checksum mismatch at the peer).
        case corrupt
        /// Report it sent, but close the connection instead: the message is lost in flight
        /// and the sender learns of it only at its next read or write.
        case lose
    }

    private let inner: any ByteStream
    private let type: MessageType
    private let occurrence: Int
    private let fault: Fault
    private let lock = NSLock()
    private var seen = 0
    /// Whether the fault has fired.
    public private(set) var fired = false

    /// Breaks `inner` at the `occurrence`-th (1-based) message of `type`.
    public init(_ inner: any ByteStream, at type: MessageType, occurrence: Int = 1, fault: Fault = .close) {
        self.inner = inner
        self.type = type
        self.occurrence = occurrence
        self.fault = fault
    }

    public func write(_ bytes: [UInt8]) throws(StreamError) {
        var out = bytes
        let hit: Bool = lock.withLock {
            guard bytes.count >= MigrationWire.headerLength, bytes.readLE(at: 6) as UInt16 == type.rawValue else { return false }
            seen += 1
            if seen == occurrence { fired = true }
            return seen == occurrence
        }
        if hit {
            switch fault {
            case .close:
                inner.close()
                throw .closed
            case .corrupt:
                if out.count > MigrationWire.headerLength { out[out.count - 1] ^= 0x5A } else { out[12] ^= 0x5A }
            case .lose:
                inner.close()
                return
            }
        }
        try inner.write(out)
    }

    public func read(timeout: Double) throws(StreamError) -> [UInt8] { try inner.read(timeout: timeout) }

    public func close() { inner.close() }
}
