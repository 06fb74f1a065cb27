// PacketSocketPort: a switch port on a datagram socket: an AF_PACKET socket bound to an
// interface (veth, any Ethernet device), or any socket carrying one frame per datagram.
// Frames move in batches with recvmmsg/sendmmsg.

import CLinuxShims
import Frames
import Switching

/// A port reading and writing whole Ethernet frames on a datagram socket.
public final class PacketSocketPort: DatapathPort {
    /// A name for logs (see `DatapathPort.name`).
    public let name: String
    /// The descriptor the datapath loop polls.
    public let fileDescriptor: Int32
    public private(set) var failure: String?
    public private(set) var statistics = PortIOStatistics()
    private let rx = ReceiveBatch()
    private let tx = TransmitBatch()
    private var closed = false

    /// Opens an AF_PACKET socket on `interface` (which must exist); 802.1Q tags the kernel
    /// strips on receive are put back, frames we send are not read back.
    public init(interface: NetworkInterface) throws(HostNetworkingError) {
        guard let index = interface.index else {
            throw .system(operation: "open packet socket on", subject: interface.name, errno: 19) // ENODEV
        }
        fileDescriptor = try HostNetworkingError.check(sb_packet_socket_open(index), "open packet socket on", interface.name)
        name = "packet \(interface.name)"
    }

    /// Adopts a datagram socket (e.g. one end of a socketpair); the port closes it.
    public init(adopting fd: Int32, name: String) {
        fileDescriptor = fd
        self.name = name
    }

    deinit { close() }

    /// Receives up to `max` frames into fresh slots (see `DatapathPort.receive`).
    public func receive(into handles: UnsafeMutablePointer<PacketHandle>, max: Int, pool: PacketPool) -> Int {
        let taken = rx.take(max, from: pool)
        if taken == 0 { return 0 }
        // SAFETY: every buffer is a slot of `pool` with slotSize + tailroom (>= 4) bytes.
        let r = Int(sb_recv_batch(fileDescriptor, rx.buffers, UInt32(pool.slotSize), rx.lengths, UInt32(taken)))
        if r < 0 {
            _ = rx.finish(taken: taken, received: 0, pool: pool, into: handles, skipped: &statistics.rxSkipped)
            return r
        }
        let kept = rx.finish(taken: taken, received: r, pool: pool, into: handles, skipped: &statistics.rxSkipped)
        statistics.rxFrames &+= UInt64(kept)
        return kept
    }

    /// Sends the queued frames with their egress tags and releases every slot.
    public func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        var start = 0
        while start < entries.count {
            let end = Swift.min(entries.count, start + TransmitBatch.capacity)
            tx.reset()
            for i in start..<end { tx.append(entries[i], pool: pool) }
            let sent = sb_send_batch(fileDescriptor, tx.iov, tx.iovCounts, UInt32(tx.count))
            if sent < 0 {
                statistics.txDropped &+= UInt64(tx.count)
                noteFailure(-sent)
            } else {
                statistics.txFrames &+= UInt64(sent)
                statistics.txDropped &+= UInt64(tx.count - Int(sent))
            }
            for i in start..<end { pool.release(entries[i].handle) }
            start = end
        }
    }

    private func noteFailure(_ errno: Int32) {
        // ENETDOWN, ENXIO, ENODEV: the interface went away; other errors drop the batch only.
        if errno == 100 || errno == 6 || errno == 19 || errno == 9 {
            failure = "\(name): \(HostNetworkingError.errorText(errno))"
        }
    }

    /// Closes the descriptor; idempotent.
    public func close() {
        if closed { return }
        closed = true
        _ = sb_close(fileDescriptor)
    }
}
