// TapPort: a switch port on a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI): the
// kernel's side of the device is an ordinary interface; ours reads and writes frames.

import CLinuxShims
import Frames
import Switching

#if canImport(Glibc)
import Glibc
#endif

/// A TAP device opened (or created) by name. A device we create is not persistent, so the
/// kernel removes it when the port closes (or the process dies); a device that existed
/// before (made persistent with `ip tuntap add`) is left in place.
public final class TapPort: DatapathPort {
    /// A name for logs (see `DatapathPort.name`).
    public let name: String
    /// The descriptor the datapath loop polls.
    public let fileDescriptor: Int32
    /// The device.
    public let interface: NetworkInterface
    /// Whether the device existed before this port opened it.
    public let existedBefore: Bool
    public private(set) var failure: String?
    public private(set) var statistics = PortIOStatistics()
    private let tx = TransmitBatch()
    private var closed = false

    /// Opens TAP device `device`, creating it when missing; brings it up and sets `mtu`.
    public init(device: String, mtu: Int? = nil, bringUp: Bool = true) throws(HostNetworkingError) {
        interface = try NetworkInterface(device)
        existedBefore = interface.exists
        let fd = sb_tap_open(device)
        if fd == -16 { // EBUSY: attached elsewhere, or not a TAP
            throw .invalid("TAP device \(device) is busy: another process has it open, or it is not a TAP device")
        }
        fileDescriptor = try HostNetworkingError.check(fd, "open TAP device", device)
        name = "tap \(device)"
        do {
            if let mtu { try interface.setMTU(mtu) }
            if bringUp { try interface.setUp() }
        } catch {
            _ = sb_close(fd)
            throw error
        }
    }

    deinit { close() }

    /// Receives up to `max` frames into fresh slots (see `DatapathPort.receive`).
    public func receive(into handles: UnsafeMutablePointer<PacketHandle>, max: Int, pool: PacketPool) -> Int {
        var n = 0
        while n < max, let h = pool.allocate() {
            // SAFETY: the slot holds slotSize bytes.
            let r = read(fileDescriptor, pool.data(h), pool.slotSize)
            if r <= 0 {
                pool.release(h)
                if r < 0 {
                    let e = errno
                    if e == EAGAIN || e == EINTR { break }
                    return n > 0 ? n : -Int(e)
                }
                return n > 0 ? n : -Int(EBADFD)
            }
            pool.setLength(h, r)
            handles[n] = h
            n += 1
        }
        statistics.rxFrames &+= UInt64(n)
        return n
    }

    /// Sends the queued frames with their egress tags and releases every slot.
    public func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        for entry in entries {
            tx.reset()
            tx.append(entry, pool: pool)
            let (v, count) = tx.frame(0)
            let r = writev(fileDescriptor, v, Int32(count))
            if r < 0 {
                statistics.txDropped &+= 1
                let e = errno
                if e == EBADFD || e == ENXIO || e == ENODEV || e == EBADF {
                    failure = "\(name): \(HostNetworkingError.errorText(e))"
                }
            } else {
                statistics.txFrames &+= 1
            }
            pool.release(entry.handle)
        }
    }

    /// Closes the descriptor; idempotent.
    public func close() {
        if closed { return }
        closed = true
        _ = sb_close(fileDescriptor)
    }
}
