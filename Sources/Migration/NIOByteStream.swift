// NIOByteStream: a TCP connection through SwiftNIO seen as a blocking `ByteStream`: inbound
// bytes land in a `ChunkQueue` the protocol thread reads. Writes are queued on the channel and
// waited for only when it stops being writable (its buffer is past the high-water mark), so a
// stream of page batches is not one event-loop round trip per message; close waits for the
// last one.

import Foundation
import NIOCore

/// One TCP connection.
public final class NIOByteStream: ByteStream, @unchecked Sendable {
    let channel: any Channel
    let inbound: ChunkQueue

    private let lock = NSLock()
    private var lastWrite: EventLoopFuture<Void>?
    private var onClose: (@Sendable () -> Void)?

    /// A stream over `channel`; `onClose` runs once, at the first `close` (a listener frees
    /// the connection's migration slot there).
    init(channel: any Channel, inbound: ChunkQueue, onClose: (@Sendable () -> Void)? = nil) {
        self.channel = channel
        self.inbound = inbound
        self.onClose = onClose
    }

    public func write(_ bytes: [UInt8]) throws(StreamError) {
        guard channel.isActive, !inbound.isClosed else { throw .closed }
        let buffer = channel.allocator.buffer(bytes: bytes)
        let written = channel.writeAndFlush(buffer)
        lock.withLock { lastWrite = written }
        if !channel.isWritable {
            do { try written.wait() } catch { throw .closed }
        }
    }

    /// Waits up to `timeout` seconds until what was written has gone to the socket.
    func drain(timeout: Double) {
        guard let last = lock.withLock({ lastWrite }) else { return }
        let done = DispatchSemaphore(value: 0)
        last.whenComplete { _ in done.signal() }
        _ = done.wait(timeout: .now() + timeout)
    }

    public func read(timeout: Double) throws(StreamError) -> [UInt8] {
        try inbound.pop(timeout: timeout)
    }

    public func close() {
        drain(timeout: 2)
        inbound.close()
        channel.close(promise: nil)
        let last = lock.withLock { () -> (@Sendable () -> Void)? in
            defer { onClose = nil }
            return onClose
        }
        last?()
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
