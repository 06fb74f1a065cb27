// NIOByteStream: a TCP connection through SwiftNIO seen as a blocking `ByteStream`: inbound
// bytes land in a `ChunkQueue` the protocol thread reads; writes wait for NIO to take them.

import Foundation
import NIOCore

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
