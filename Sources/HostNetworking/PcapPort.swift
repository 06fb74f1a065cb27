// PcapPort: a switch port on an existing interface through a live libpcap handle:
// immediate mode, inbound frames only (PCAP_D_IN, so frames we inject are not read back),
// non-blocking, polled through pcap_get_selectable_fd. Frames leave in batches with sendmmsg
// on the handle's own packet socket (what pcap_inject does one frame per system call); with
// `batchedInjection` off, or if the batch call fails, they leave one by one with pcap_inject.

import CLinuxShims
import CPcap
import Frames
import Switching

#if canImport(Glibc)
import Glibc
#endif

/// A port reading an interface with libpcap and injecting into it.
public final class PcapPort: DatapathPort {
    /// A name for logs (see `DatapathPort.name`).
    public let name: String
    /// The descriptor the datapath loop polls.
    public let fileDescriptor: Int32
    public private(set) var failure: String?
    public private(set) var statistics = PortIOStatistics()
    private let handle: OpaquePointer
    private let scratch: UnsafeMutableRawPointer
    private let scratchSize: Int
    private let tx = TransmitBatch()
    /// Send whole batches with sendmmsg on the libpcap socket (default) instead of pcap_inject.
    public var batchedInjection = true
    private var closed = false

    /// Opens `interface` (which must exist) in promiscuous, immediate, inbound-only mode.
    public init(interface: String, snapLength: Int = 65_535) throws(HostNetworkingError) {
        name = "pcap \(interface)"
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let h = pcap_create(interface, &errbuf) else {
            let text = errbuf.withUnsafeBufferPointer { buffer in buffer.baseAddress.map { String(cString: $0) } ?? "" }
            throw .invalid("pcap \(interface): \(text)")
        }
        func fail(_ what: String) -> HostNetworkingError {
            let text = String(cString: pcap_geterr(h))
            pcap_close(h)
            if text.contains("ermission") || text.contains("not permitted") { return .needsRoot("pcap on \(interface)") }
            return .invalid("pcap \(interface): \(what): \(text)")
        }
        _ = pcap_set_snaplen(h, Int32(snapLength))
        _ = pcap_set_promisc(h, 1)
        _ = pcap_set_immediate_mode(h, 1)
        _ = pcap_set_buffer_size(h, 4 << 20)
        let status = pcap_activate(h)
        if status < 0 {
            if status == PCAP_ERROR_NO_SUCH_DEVICE {
                pcap_close(h)
                throw .invalid("pcap \(interface): no such interface")
            }
            if status == PCAP_ERROR_PERM_DENIED {
                pcap_close(h)
                throw .needsRoot("pcap on \(interface)")
            }
            throw fail("activate")
        }
        guard pcap_datalink(h) == DLT_EN10MB else {
            pcap_close(h)
            throw .invalid("pcap \(interface): not an Ethernet interface")
        }
        if pcap_setdirection(h, PCAP_D_IN) != 0 { throw fail("set direction in") }
        if pcap_setnonblock(h, 1, &errbuf) != 0 { throw fail("set non-blocking") }
        let fd = pcap_get_selectable_fd(h)
        if fd < 0 { throw fail("no selectable descriptor") }
        // Best effort: frames we send skip the qdisc, as on our own packet sockets.
        _ = sb_packet_set_qdisc_bypass(fd)
        // Inbound only: also spare the kernel cloning every frame we send back into the ring.
        _ = sb_packet_ignore_outgoing(fd)
        handle = h
        fileDescriptor = fd
        scratchSize = 65_536 + 64
        scratch = .allocate(byteCount: scratchSize, alignment: 16)
    }

    deinit {
        close()
        scratch.deallocate()
    }

    /// Receives up to `max` frames into fresh slots (see `DatapathPort.receive`).
    public func receive(into handles: UnsafeMutablePointer<PacketHandle>, max: Int, pool: PacketPool) -> Int {
        var n = 0
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while n < max {
            let r = pcap_next_ex(handle, &header, &data)
            if r == 0 { break }
            if r < 0 {
                if n > 0 { break }
                return -100 // ENETDOWN: libpcap reports the interface gone as an error
            }
            guard let header, let data else { break }
            let length = Int(header.pointee.caplen)
            guard length == Int(header.pointee.len), length <= pool.slotSize, let h = pool.allocate() else {
                statistics.rxSkipped &+= 1
                continue
            }
            // SAFETY: libpcap's buffer holds caplen bytes; the slot holds slotSize.
            pool.data(h).copyMemory(from: data, byteCount: length)
            pool.setLength(h, length)
            handles[n] = h
            n += 1
        }
        statistics.rxFrames &+= UInt64(n)
        return n
    }

    /// Sends the queued frames with their egress tags and releases every slot.
    public func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        if batchedInjection {
            var start = 0
            while start < entries.count {
                let end = Swift.min(entries.count, start + TransmitBatch.capacity)
                tx.reset()
                for i in start..<end { tx.append(entries[i], pool: pool) }
                let sent = sb_send_batch(fileDescriptor, tx.iov, tx.iovCounts, UInt32(tx.count))
                if sent < 0 {
                    // Not a socket we can batch on (or the device failed): fall back to pcap_inject.
                    batchedInjection = false
                    inject(UnsafeBufferPointer(rebasing: entries[start..<end]), pool: pool)
                } else {
                    statistics.txFrames &+= UInt64(sent)
                    statistics.txDropped &+= UInt64(tx.count - Int(sent))
                    for i in start..<end { pool.release(entries[i].handle) }
                }
                start = end
            }
            return
        }
        inject(entries, pool: pool)
    }

    /// One pcap_inject per frame.
    private func inject(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool) {
        for entry in entries {
            let length = Switch.materialize(entry, pool: pool, into: scratch)
            if pcap_inject(handle, scratch, length) < 0 {
                statistics.txDropped &+= 1
                let text = String(cString: pcap_geterr(handle))
                if text.contains("No such device") || text.contains("Network is down") {
                    failure = "\(name): \(text)"
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
        pcap_close(handle)
    }
}
