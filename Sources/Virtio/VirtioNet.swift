// VirtioNet: a virtio-net device (type 1) that is a port of a Switchboard switch. Frames the
// switch transmits go straight into the guest's RX buffers (one copy, egress tag applied on
// the way); frames the guest transmits are copied once into pool slots for the switch.

import Frames
import Machine
import Switching

/// A virtio-net card: RX queue 0, TX queue 1, a MAC address and link status in config space,
/// the 12-byte `virtio_net_hdr_v1` and no offloads.
///
/// Threads: the vCPU thread reaches it through the transport (registers, notifications); the
/// datapath thread, which owns the switch and the packet pool, calls `transmit` (as the port's
/// `PortSink`), `collectTransmitted`, `deliverPending` or `service`. Both take the device lock
/// once per batch. A notification only sets `serviceRequested` and calls `kick`.
public final class VirtioNet: VirtioDevice, PortSink {
    /// VIRTIO_NET_F_MAC (bit 5): the MAC address is in config space.
    public static let featureMAC: UInt64 = 1 << 5
    /// VIRTIO_NET_F_STATUS (bit 16): link status is in config space.
    public static let featureStatus: UInt64 = 1 << 16
    /// Size of `virtio_net_hdr_v1` (with `num_buffers`), the only header format with VERSION_1.
    public static let headerLength = 12
    /// The receive queue.
    public static let receiveQueue = 0
    /// The transmit queue.
    public static let transmitQueue = 1

    /// Shared virtio state and the two queues.
    public let core: VirtioCore
    /// The card's MAC address.
    public let mac: MACAddress
    /// The pool frames come from and go to (the fabric's pool).
    public let pool: PacketPool
    /// Frames the switch sent while the guest had no RX buffers wait here, up to this many.
    public let pendingLimit: Int
    /// Traffic counters (guest's view: rx = to the guest, tx = from the guest).
    public var counters: VirtioNetCounters { core.lock.withLock { stats } }
    /// Set by a guest notification; the datapath should call `service`. Cleared by `service`.
    public var serviceRequested: Bool { core.lock.withLock { serviceFlag } }

    private var stats = VirtioNetCounters()
    private var serviceFlag = false
    /// Called (on the vCPU thread, device lock held) after a notification, so the datapath
    /// can wake up; keep it short (an eventfd write).
    public var kick: (@Sendable () -> Void)?

    private var linkIsUp = true
    private var purgeRequested = false
    private let pending: UnsafeMutablePointer<TransmitEntry>
    private var pendingHead = 0
    private var pendingCount = 0
    private let batch: UnsafeMutablePointer<PacketHandle>
    private static let batchSize = 32

    /// A card with `mac`, taking frames from `pool`, over `memory`.
    public init(memory: GuestMemory, mac: MACAddress, pool: PacketPool, queueSize: UInt16 = 256, pendingLimit: Int = 256) {
        core = VirtioCore(memory: memory, deviceID: VirtioDeviceType.net,
                          deviceFeatures: VirtioFeature.indirectDescriptors | Self.featureMAC | Self.featureStatus,
                          queueCount: 2, queueSize: queueSize)
        self.mac = mac
        self.pool = pool
        self.pendingLimit = max(pendingLimit, 1)
        pending = .allocate(capacity: self.pendingLimit)
        batch = .allocate(capacity: Self.batchSize)
    }

    deinit {
        while pendingCount > 0 { pool.release(popPending().handle) }
        pending.deallocate()
        batch.deallocate()
    }

    /// Link status (VIRTIO_NET_S_LINK_UP). Changing it interrupts a running driver.
    public var linkUp: Bool {
        get { core.lock.withLock { linkIsUp } }
        set {
            core.lock.withLock {
                guard linkIsUp != newValue else { return }
                linkIsUp = newValue
                core.configurationChanged()
            }
        }
    }

    /// Frames waiting for RX buffers.
    public var pendingFrames: Int { core.lock.withLock { pendingCount } }

    // MARK: VirtioDevice

    /// MAC (6 bytes) then status (2 bytes).
    public var configLength: Int { 8 }

    /// One byte of `struct virtio_net_config`.
    public func configByte(at offset: Int) -> UInt8 {
        switch offset {
        case 0..<6: return UInt8(truncatingIfNeeded: mac.rawValue >> UInt64(40 - 8 * offset))
        case 6: return linkIsUp ? 1 : 0
        default: return 0
        }
    }

    /// The configuration space is read-only (no VIRTIO_NET_F_CTRL_MAC_ADDR).
    public func writeConfigByte(_ value: UInt8, at offset: Int) {}

    /// Nothing to start: the datapath moves frames once the queues are ready.
    public func driverDidStart() { requestService() }

    /// Marks the device for the datapath (which owns the pool and the switch).
    public func queueNotified(_ index: Int) { requestService() }

    /// Frames held for the old driver are dropped by the datapath thread on its next call.
    public func deviceDidReset() {
        purgeRequested = true
        requestService()
    }

    private func requestService() {
        serviceFlag = true
        kick?()
    }

    // MARK: Datapath: switch -> guest

    /// `PortSink`: the switch transmits `entries` on this card's port. Each frame goes into an
    /// RX buffer, waits for one (up to `pendingLimit`), or is dropped and counted.
    public func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        core.lock.lock()
        defer { core.lock.unlock() }
        purgeIfRequested()
        let rx = core.queues[Self.receiveQueue]
        var delivered = flushPending(rx)
        var i = 0
        while i < entries.count {
            let entry = entries[i]
            i += 1
            guard core.isRunning, linkIsUp else {
                drop(entry)
                continue
            }
            if pendingCount == 0 && rx.ready {
                switch deliver(entry, rx) {
                case .delivered:
                    delivered = true
                    continue
                case .dropped:
                    delivered = true
                    drop(entry)
                    continue
                case .noBuffer:
                    break
                }
            }
            if pendingCount < pendingLimit {
                pending[(pendingHead + pendingCount) % pendingLimit] = entry
                pendingCount += 1
            } else {
                drop(entry)
            }
        }
        if delivered { core.notifyUsed(rx) }
    }

    /// Moves waiting frames into RX buffers the guest has posted; returns how many left the
    /// wait queue (delivered or dropped).
    @discardableResult
    public func deliverPending() -> Int {
        core.lock.lock()
        defer { core.lock.unlock() }
        purgeIfRequested()
        let before = pendingCount
        let rx = core.queues[Self.receiveQueue]
        if flushPending(rx) { core.notifyUsed(rx) }
        return before - pendingCount
    }

    private enum Delivery { case delivered, dropped, noBuffer }

    /// Returns true when some RX buffer was used.
    private func flushPending(_ rx: Virtqueue) -> Bool {
        guard pendingCount > 0 else { return false }
        guard core.isRunning, linkIsUp else {
            while pendingCount > 0 { drop(popPending()) }
            return false
        }
        var used = false
        while pendingCount > 0 && rx.ready {
            let entry = pending[pendingHead]
            let result = deliver(entry, rx)
            if result == .noBuffer { break }
            _ = popPending()
            used = true
            if result == .dropped { drop(entry) }
        }
        return used
    }

    private func popPending() -> TransmitEntry {
        let entry = pending[pendingHead]
        pendingHead = (pendingHead + 1) % pendingLimit
        pendingCount -= 1
        return entry
    }

    private func drop(_ entry: TransmitEntry) {
        stats.rxDrops &+= 1
        pool.release(entry.handle)
    }

    private func purgeIfRequested() {
        guard purgeRequested else { return }
        purgeRequested = false
        while pendingCount > 0 { drop(popPending()) }
    }

    /// Writes one frame into the next RX chain: header, then the frame in up to three parts
    /// with its egress tag applied. One copy, from the pool slot into guest memory.
    private func deliver(_ entry: TransmitEntry, _ rx: Virtqueue) -> Delivery {
        guard core.isRunning else { return .dropped }
        let head: UInt16
        switch rx.pop() {
        case .empty:
            return .noBuffer
        case .broken(let error):
            core.fail("receive queue: \(error)")
            return .dropped
        case .chain(let h, let faulty):
            if faulty {
                rx.push(head: h, length: 0)
                return .dropped
            }
            head = h
        }
        // SAFETY: the switch handed over a live slot; its length never exceeds the slot.
        let src = UnsafeRawPointer(pool.data(entry.handle))
        let length = pool.length(entry.handle)
        let tagged = length >= 16 && src.loadUnaligned(fromByteOffset: 12, as: UInt16.self) == EtherType.vlan.bigEndian
        var outLength = length
        switch entry.action {
        case .keep: break
        case .untag: if tagged { outLength = length >= 60 ? max(length - 4, 60) : length - 4 }
        case .tag: outLength = tagged ? length : length + 4
        }
        guard rx.writableLength >= Self.headerLength + outLength else {
            rx.push(head: head, length: 0)
            return .dropped
        }
        var w = rx.writer()
        // virtio_net_hdr_v1: no flags, no GSO, num_buffers = 1.
        var header: (UInt64, UInt32) = (0, UInt32(1).littleEndian << 16)
        var ok = withUnsafeBytes(of: &header) { w.write($0.baseAddress!, length: Self.headerLength) }
        switch entry.action {
        case .keep:
            ok = ok && w.write(src, length: length)
        case .untag where tagged:
            ok = ok && w.write(src, length: 12) && w.write(src + 16, length: length - 16)
            if length - 4 < outLength { ok = ok && w.zero(outLength - (length - 4)) }
        case .untag:
            ok = ok && w.write(src, length: length)
        case .tag:
            var tag = (EtherType.vlan.bigEndian, entry.tci.bigEndian)
            let rest = tagged ? 16 : 12
            ok = ok && w.write(src, length: 12)
            ok = ok && withUnsafeBytes(of: &tag) { w.write($0.baseAddress!, length: 4) }
            ok = ok && w.write(src + rest, length: length - rest)
        }
        rx.push(head: head, length: UInt32(clamping: w.written))
        guard ok else { return .dropped }
        stats.rxFrames &+= 1
        stats.rxBytes &+= UInt64(outLength)
        pool.release(entry.handle)
        return .delivered
    }

    // MARK: Datapath: guest -> switch

    /// Takes frames the guest transmitted, copying each once into a pool slot, and puts
    /// their handles in `batch`; returns how many. The caller owns one reference to each
    /// slot and normally hands the batch to `Switch.receive(port:batch:now:)`. Stops early
    /// when the pool is empty (the frames stay in the guest's queue).
    public func collectTransmitted(into batch: UnsafeMutableBufferPointer<PacketHandle>) -> Int {
        core.lock.lock()
        defer { core.lock.unlock() }
        let tx = core.queues[Self.transmitQueue]
        guard core.isRunning, tx.ready else { return 0 }
        var n = 0
        var used = false
        loop: while n < batch.count && pool.available > 0 {
            switch tx.pop() {
            case .empty:
                break loop
            case .broken(let error):
                core.fail("transmit queue: \(error)")
                break loop
            case .chain(let head, let faulty):
                used = true
                let frameLength = tx.readableLength - Self.headerLength
                guard !faulty, linkIsUp, frameLength >= 14, frameLength <= pool.slotSize, let handle = pool.allocate() else {
                    stats.txDrops &+= 1
                    tx.push(head: head, length: 0)
                    continue
                }
                // SAFETY: frameLength <= pool.slotSize, the room of a fresh slot.
                var r = tx.reader()
                guard r.skip(Self.headerLength), r.read(into: pool.data(handle), length: frameLength) else {
                    pool.release(handle)
                    stats.txDrops &+= 1
                    tx.push(head: head, length: 0)
                    continue
                }
                pool.setLength(handle, frameLength)
                tx.push(head: head, length: 0)
                stats.txFrames &+= 1
                stats.txBytes &+= UInt64(frameLength)
                batch[n] = handle
                n += 1
            }
        }
        if used { core.notifyUsed(tx) }
        return n
    }

    /// One datapath turn for this card: delivers waiting frames into new RX buffers, then
    /// switches everything the guest transmitted into `port` of `sw` in batches of 32.
    /// Returns the number of frames handed to the switch; the caller drains its fabric.
    @discardableResult
    public func service(switch sw: Switch, port: Int, now: Int64) -> Int {
        core.lock.withLock { serviceFlag = false }
        deliverPending()
        var total = 0
        while true {
            let n = collectTransmitted(into: UnsafeMutableBufferPointer(start: batch, count: Self.batchSize))
            if n == 0 { break }
            sw.receive(port: port, batch: UnsafeBufferPointer(start: batch, count: n), now: now)
            total += n
        }
        return total
    }

    // MARK: Saved state

    /// The card's own state; waiting frames are saved as bytes with their egress tag applied.
    public func saveState() -> VirtioNetState {
        core.lock.withLock {
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: pool.slotSize + 64, alignment: 16)
            defer { scratch.deallocate() }
            var frames: [[UInt8]] = []
            for i in 0..<pendingCount {
                let n = Switch.materialize(pending[(pendingHead + i) % pendingLimit], pool: pool, into: scratch)
                frames.append(Array(UnsafeRawBufferPointer(start: scratch, count: n)))
            }
            return VirtioNetState(mac: mac.rawValue, linkUp: linkIsUp, counters: stats, pendingFrames: frames)
        }
    }

    /// Restores `state` after checking it; waiting frames are copied into the pool. Call on
    /// the datapath thread.
    public func restore(_ state: VirtioNetState) throws(VirtioStateError) {
        guard state.mac == mac.rawValue else {
            throw .device("saved MAC \(MACAddress(rawValue: state.mac)) differs from this card's \(mac)")
        }
        guard state.pendingFrames.count <= pendingLimit else {
            throw .device("\(state.pendingFrames.count) waiting frames exceed the limit \(pendingLimit)")
        }
        for f in state.pendingFrames where f.count > pool.slotSize || f.count < 14 {
            throw .device("a waiting frame of \(f.count) bytes does not fit a pool slot")
        }
        guard pool.available >= state.pendingFrames.count else { throw .device("packet pool too small for waiting frames") }
        core.lock.lock()
        defer { core.lock.unlock() }
        while pendingCount > 0 { pool.release(popPending().handle) }
        purgeRequested = false
        linkIsUp = state.linkUp
        stats = state.counters
        for f in state.pendingFrames {
            guard let h = pool.make(copying: f) else { break }
            pending[(pendingHead + pendingCount) % pendingLimit] = TransmitEntry(handle: h, tci: 0, action: .keep)
            pendingCount += 1
        }
    }
}

/// Frame and byte counts of a virtio-net card, from the guest's point of view.
public struct VirtioNetCounters: Codable, Equatable, Sendable {
    /// Frames written into the guest's RX buffers.
    public var rxFrames: UInt64 = 0
    /// Bytes of those frames (without the virtio header).
    public var rxBytes: UInt64 = 0
    /// Frames for the guest that were dropped (no buffer and queue full, buffer too small,
    /// link down, driver not running).
    public var rxDrops: UInt64 = 0
    /// Frames taken from the guest's TX queue.
    public var txFrames: UInt64 = 0
    /// Bytes of those frames.
    public var txBytes: UInt64 = 0
    /// TX chains refused (outside RAM, runt, too large, link down).
    public var txDrops: UInt64 = 0

    /// All zero.
    public init() {}
}

/// The saved form of a virtio-net card (the transport saves queues and features).
public struct VirtioNetState: Codable, Equatable, Sendable {
    /// MAC address (low 48 bits).
    public var mac: UInt64
    /// Link status.
    public var linkUp: Bool
    /// Counters.
    public var counters: VirtioNetCounters
    /// Frames waiting for RX buffers, as they will reach the guest.
    public var pendingFrames: [[UInt8]]
}
