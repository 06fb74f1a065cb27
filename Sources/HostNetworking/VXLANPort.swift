// VXLANPort: a switch port that is a VXLAN tunnel (RFC 7348): Ethernet frames in UDP with an
// 8-byte header (flags 0x08, 24-bit VNI), to one remote endpoint, as the Linux kernel's
// `ip link add ... type vxlan id VNI remote ADDR dstport 4789` device sends and accepts.

import CLinuxShims
import Frames
import Switching

/// The address and VNI of one end of a tunnel.
public struct VXLANEndpoint: Sendable, Equatable {
    /// The peer's IPv4 address.
    public var remote: IPv4Address
    /// The peer's UDP port.
    public var remotePort: UInt16
    /// The local address to bind (nil: any).
    public var local: IPv4Address?
    /// The local UDP port (0: any free port).
    public var localPort: UInt16
    /// The VXLAN network identifier (24 bits).
    public var vni: UInt32

    /// Creates an endpoint; the ports default to 4789, the IANA VXLAN port.
    public init(remote: IPv4Address, remotePort: UInt16 = 4789, local: IPv4Address? = nil, localPort: UInt16 = 4789,
                vni: UInt32) {
        self.remote = remote
        self.remotePort = remotePort
        self.local = local
        self.localPort = localPort
        self.vni = vni
    }
}

/// Encodes and checks the 8-byte VXLAN header.
public enum VXLANHeader {
    /// The "I" flag: the VNI is valid.
    public static let flagVNIValid: UInt8 = 0x08

    /// Writes a header for `vni` into 8 bytes at `p`.
    public static func write(vni: UInt32, to p: UnsafeMutableRawPointer) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: 8)
        p.storeBytes(of: flagVNIValid, as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: vni >> 16), toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: vni >> 8), toByteOffset: 5, as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: vni), toByteOffset: 6, as: UInt8.self)
    }

    /// The VNI of the header at `p`, nil when the I flag is clear.
    public static func vni(at p: UnsafeRawPointer) -> UInt32? {
        guard p.load(as: UInt8.self) & flagVNIValid != 0 else { return nil }
        return UInt32(p.load(fromByteOffset: 4, as: UInt8.self)) << 16
            | UInt32(p.load(fromByteOffset: 5, as: UInt8.self)) << 8
            | UInt32(p.load(fromByteOffset: 6, as: UInt8.self))
    }
}

/// A port whose frames travel in VXLAN over UDP to one remote endpoint.
///
/// Received datagrams are accepted only from the remote address, with the I flag set and
/// the port's VNI; others are counted in `rxSkipped`.
public final class VXLANPort: DatapathPort {
    /// A name for logs (see `DatapathPort.name`).
    public let name: String
    /// The descriptor the datapath loop polls.
    public let fileDescriptor: Int32
    /// The tunnel's addresses and VNI (`localPort` is the port actually bound).
    public let endpoint: VXLANEndpoint
    public private(set) var failure: String?
    public private(set) var statistics = PortIOStatistics()
    private let rx = ReceiveBatch()
    private let tx = TransmitBatch()
    private let header: UnsafeMutableRawPointer
    private let remoteAddress: UInt32
    private var closed = false

    /// Binds the local UDP port.
    public init(_ endpoint: VXLANEndpoint) throws(HostNetworkingError) {
        guard endpoint.vni <= 0xFF_FFFF else { throw .invalid("VNI \(endpoint.vni) is outside 0-16777215") }
        let local = endpoint.local.map { Self.networkOrder($0) } ?? 0
        let where_ = "\(endpoint.local.map { "\($0)" } ?? "0.0.0.0"):\(endpoint.localPort)"
        let fd = sb_udp_open(local, endpoint.localPort)
        if fd == -98 { throw .invalid("VXLAN: UDP \(where_) is already in use (a kernel vxlan device or another switchboard?)") }
        fileDescriptor = try HostNetworkingError.check(fd, "bind VXLAN UDP socket", where_)
        var bound = endpoint
        bound.localPort = UInt16(truncatingIfNeeded: sb_udp_local_port(fd))
        self.endpoint = bound
        remoteAddress = Self.networkOrder(endpoint.remote)
        header = .allocate(byteCount: 8, alignment: 8)
        VXLANHeader.write(vni: endpoint.vni, to: header)
        name = "vxlan \(endpoint.remote):\(endpoint.remotePort) vni \(endpoint.vni)"
    }

    deinit {
        close()
        header.deallocate()
    }

    /// An address as the kernel stores it in `in_addr`.
    static func networkOrder(_ a: IPv4Address) -> UInt32 {
        a.rawValue.bigEndian  // rawValue reads a.b.c.d as a number; in_addr holds the bytes in order
    }

    /// Receives up to `max` frames into fresh slots (see `DatapathPort.receive`).
    public func receive(into handles: UnsafeMutablePointer<PacketHandle>, max: Int, pool: PacketPool) -> Int {
        let taken = rx.take(max, from: pool)
        if taken == 0 { return 0 }
        // SAFETY: 8 header bytes per entry in rx.headers; each buffer is a pool slot.
        let r = Int(sb_udp_recv_batch(fileDescriptor, rx.headers, rx.buffers, UInt32(pool.slotSize), rx.lengths,
                                      rx.sources, UInt32(taken)))
        if r < 0 {
            _ = rx.finish(taken: taken, received: 0, pool: pool, into: handles, skipped: &statistics.rxSkipped)
            // ECONNREFUSED: an ICMP port unreachable from a peer not yet listening; not fatal.
            return r == -111 ? 0 : r
        }
        for i in 0..<r where rx.lengths[i] > 0 {
            let vni = VXLANHeader.vni(at: UnsafeRawPointer(rx.headers + 8 * i))
            if vni != endpoint.vni || rx.sources[i] != remoteAddress { rx.lengths[i] = 0 }
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
            for i in start..<end { tx.append(entries[i], pool: pool, prefix: header, prefixLength: 8) }
            let sent = sb_udp_send_batch(fileDescriptor, tx.iov, tx.iovCounts, UInt32(tx.count), remoteAddress,
                                         endpoint.remotePort)
            if sent < 0 {
                statistics.txDropped &+= UInt64(tx.count)
            } else {
                statistics.txFrames &+= UInt64(sent)
                statistics.txDropped &+= UInt64(tx.count - Int(sent))
            }
            for i in start..<end { pool.release(entries[i].handle) }
            start = end
        }
    }

    /// Closes the descriptor; idempotent.
    public func close() {
        if closed { return }
        closed = true
        _ = sb_close(fileDescriptor)
    }
}
