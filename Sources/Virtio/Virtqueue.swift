// Virtqueue: the device side of a split virtqueue in guest memory: walks descriptor chains
// (NEXT, WRITE, INDIRECT) and publishes used elements. Every guest value is untrusted: ring
// areas and buffers are bounds-checked against RAM, chains are capped at the queue size and
// checked for loops, and a broken ring is reported, never trapped on.

import Machine

/// What `Virtqueue.pop` found.
public enum VirtqueuePop: Equatable, Sendable {
    /// No new available buffers.
    case empty
    /// A chain, now in `segments`; `faulty` is true when a buffer lies outside RAM (the
    /// request must be failed, not served).
    case chain(head: UInt16, faulty: Bool)
    /// The ring is corrupt: the device must enter DEVICE_NEEDS_RESET.
    case broken(VirtqueueError)
}

/// A split virtqueue, driven by one device. Not thread-safe: the device's lock guards it.
public final class Virtqueue {
    /// Descriptor flags.
    @usableFromInline static let flagNext: UInt16 = 1
    @usableFromInline static let flagWrite: UInt16 = 2
    @usableFromInline static let flagIndirect: UInt16 = 4

    /// QueueNumMax: the largest size the driver may choose.
    public let maxSize: UInt16
    /// QueueNum: the size the driver chose (defaults to `maxSize`).
    public internal(set) var size: UInt16
    /// QueueReady.
    public internal(set) var ready = false
    /// Guest-physical address of the descriptor table.
    public internal(set) var descriptorTable: UInt64 = 0
    /// Guest-physical address of the available ring (driver area).
    public internal(set) var driverArea: UInt64 = 0
    /// Guest-physical address of the used ring (device area).
    public internal(set) var deviceArea: UInt64 = 0
    /// The next available-ring entry the device will take (last_avail_idx).
    public internal(set) var nextAvailable: UInt16 = 0
    /// The used index the device will publish next.
    public internal(set) var nextUsed: UInt16 = 0
    /// Whether indirect descriptors were negotiated.
    public internal(set) var indirectAllowed = false

    let memory: GuestMemory
    let ram: GuestRAMMap
    @usableFromInline var desc: UnsafeMutableRawPointer?
    @usableFromInline var avail: UnsafeMutableRawPointer?
    @usableFromInline var used: UnsafeMutableRawPointer?

    /// Buffers of the chain popped last.
    public let segments: UnsafeMutablePointer<DescriptorSegment>
    /// How many of `segments` are valid.
    public private(set) var segmentCount = 0
    /// Total device-readable bytes in the chain popped last.
    public private(set) var readableLength = 0
    /// Total device-writable bytes in the chain popped last.
    public private(set) var writableLength = 0

    private let visited: UnsafeMutablePointer<UInt32>
    private var stamp: UInt32 = 0

    /// A queue of at most `maxSize` entries (a power of two) over `memory`.
    public init(memory: GuestMemory, maxSize: UInt16) {
        precondition(maxSize > 0 && maxSize & (maxSize - 1) == 0, "QueueNumMax must be a power of two")
        self.memory = memory
        ram = GuestRAMMap(memory)
        self.maxSize = maxSize
        self.size = maxSize
        segments = .allocate(capacity: Int(maxSize))
        visited = .allocate(capacity: Int(maxSize))
        visited.initialize(repeating: 0, count: Int(maxSize))
    }

    deinit {
        segments.deallocate()
        visited.deallocate()
    }

    /// Back to the state after a device reset.
    public func reset() {
        size = maxSize
        ready = false
        descriptorTable = 0
        driverArea = 0
        deviceArea = 0
        nextAvailable = 0
        nextUsed = 0
        indirectAllowed = false
        desc = nil
        avail = nil
        used = nil
        segmentCount = 0
    }

    /// Checks a queue layout: size and the three areas (aligned, each inside one RAM region).
    /// Returns the host pointers of the areas.
    static func resolve(memory: GuestMemory, size: UInt16, maxSize: UInt16, descriptorTable: UInt64,
                        driverArea: UInt64, deviceArea: UInt64) throws(VirtqueueError)
        -> (UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeMutableRawPointer) {
        guard size != 0 else { throw .zeroSize }
        guard size & (size &- 1) == 0 else { throw .sizeNotPowerOfTwo(size) }
        guard size <= maxSize else { throw .sizeTooLarge(size, max: maxSize) }
        let n = UInt64(size)
        let areas: [(String, UInt64, UInt64, UInt64)] = [
            ("descriptor table", descriptorTable, 16 * n, 16),
            ("available ring", driverArea, 6 + 2 * n, 2),
            ("used ring", deviceArea, 6 + 8 * n, 4),
        ]
        var pointers: [UnsafeMutableRawPointer] = []
        for (name, address, length, alignment) in areas {
            guard address % alignment == 0 else { throw .misaligned(area: name, address: address, alignment: alignment) }
            guard let p = memory.hostPointer(GuestPhysicalAddress(address), length: length) else {
                throw .areaOutsideRAM(area: name, address: address, length: length)
            }
            pointers.append(p)
        }
        return (pointers[0], pointers[1], pointers[2])
    }

    /// QueueReady = 1: validates the layout and starts using the queue. On error the queue
    /// stays not ready.
    public func activate() throws(VirtqueueError) {
        let (d, a, u) = try Self.resolve(memory: memory, size: size, maxSize: maxSize, descriptorTable: descriptorTable,
                                         driverArea: driverArea, deviceArea: deviceArea)
        desc = d
        avail = a
        used = u
        ready = true
    }

    /// The driver's available index, as last written.
    @inlinable public var availableIndex: UInt16 {
        guard let avail else { return 0 }
        return UInt16(littleEndian: avail.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
    }

    /// The driver asked not to be interrupted (VIRTQ_AVAIL_F_NO_INTERRUPT).
    @inlinable public var interruptSuppressed: Bool {
        guard let avail else { return true }
        return UInt16(littleEndian: avail.loadUnaligned(as: UInt16.self)) & 1 != 0
    }

    /// Whether the driver has made buffers available that the device has not taken yet
    /// (false for a broken ring: `pop` reports that).
    @inlinable public var hasAvailable: Bool { ready && availableIndex != nextAvailable }

    /// Takes the next available chain into `segments`.
    public func pop() -> VirtqueuePop {
        guard ready, let avail else { return .empty }
        let index = availableIndex
        let pending = index &- nextAvailable
        if pending == 0 { return .empty }
        guard pending <= size else { return .broken(.availableIndexJump(from: nextAvailable, to: index, size: size)) }
        memoryFence()
        let slot = Int(nextAvailable & (size &- 1))
        // SAFETY: slot < size, and activate() checked that the 6 + 2 * size bytes of the
        // available ring lie inside one RAM region.
        let head = UInt16(littleEndian: avail.loadUnaligned(fromByteOffset: 4 &+ 2 &* slot, as: UInt16.self))
        guard head < size else { return .broken(.headOutOfRange(head, size: size)) }
        do {
            let faulty = try walk(head: head)
            nextAvailable &+= 1
            return .chain(head: head, faulty: faulty)
        } catch {
            return .broken(error)
        }
    }

    /// Follows the chain from `head`; returns true when some buffer lies outside RAM.
    private func walk(head: UInt16) throws(VirtqueueError) -> Bool {
        guard let desc else { return true }
        segmentCount = 0
        readableLength = 0
        writableLength = 0
        stamp &+= 1
        if stamp == 0 {
            visited.update(repeating: 0, count: Int(maxSize))
            stamp = 1
        }
        var table = desc
        var tableCount = UInt32(size)
        var inIndirect = false
        var indirectSteps: UInt32 = 0
        var index = UInt32(head)
        var faulty = false
        while true {
            guard index < tableCount else { throw .nextOutOfRange(UInt16(truncatingIfNeeded: index), size: tableCount) }
            if inIndirect {
                indirectSteps &+= 1
                guard indirectSteps <= tableCount else { throw .loop(at: UInt16(truncatingIfNeeded: index)) }
            } else {
                guard visited[Int(index)] != stamp else { throw .loop(at: UInt16(index)) }
                visited[Int(index)] = stamp
            }
            // SAFETY: index < tableCount, and the table (the descriptor table checked at
            // activate(), or an indirect table checked just below) holds tableCount entries.
            let d = table + Int(index) &* 16
            let address = UInt64(littleEndian: d.loadUnaligned(as: UInt64.self))
            let length = UInt32(littleEndian: d.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let flags = UInt16(littleEndian: d.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
            let next = UInt16(littleEndian: d.loadUnaligned(fromByteOffset: 14, as: UInt16.self))

            if flags & Self.flagIndirect != 0 {
                guard indirectAllowed else { throw .badIndirect("VIRTIO_F_INDIRECT_DESC was not negotiated") }
                guard !inIndirect else { throw .badIndirect("an indirect table points to another") }
                guard flags & Self.flagNext == 0 else { throw .badIndirect("INDIRECT and NEXT set together") }
                guard length >= 16, length % 16 == 0 else { throw .badIndirect("table length \(length) is not a non-zero multiple of 16") }
                guard let t = ram.translate(address, length: UInt64(length)) else {
                    throw .badIndirect("table at 0x\(String(address, radix: 16)) (+\(length)) is outside guest RAM")
                }
                table = t
                tableCount = length / 16
                inIndirect = true
                index = 0
                continue
            }

            guard segmentCount < Int(size) else { throw .chainTooLong(limit: size) }
            let writable = flags & Self.flagWrite != 0
            let host = ram.translate(address, length: UInt64(length))
            if host == nil && length > 0 { faulty = true }
            segments[segmentCount] = DescriptorSegment(host: host, guestAddress: address, length: Int(length), writable: writable)
            segmentCount &+= 1
            if writable { writableLength &+= Int(length) } else { readableLength &+= Int(length) }
            if flags & Self.flagNext == 0 { return faulty }
            index = UInt32(next)
        }
    }

    /// A reader over the readable buffers of the chain popped last.
    @inlinable public func reader() -> ChainReader { ChainReader(segments: segments, count: segmentCount) }

    /// A writer over the writable buffers of the chain popped last.
    @inlinable public func writer() -> ChainWriter { ChainWriter(segments: segments, count: segmentCount) }

    /// Returns chain `head` to the driver with `length` bytes written. Marks the written
    /// buffers of the chain popped last dirty (the first `length` writable bytes, or all of
    /// them with `dirtyAll`), then the used element and index. Call before the next `pop`.
    public func push(head: UInt16, length: UInt32, dirtyAll: Bool = false) {
        guard ready, let used else { return }
        if memory.dirtyLogging { markWritten(dirtyAll ? Int.max : Int(length)) }
        let slot = Int(nextUsed & (size &- 1))
        // SAFETY: slot < size; activate() checked the 6 + 8 * size bytes of the used ring.
        let element = used + (4 &+ 8 &* slot)
        element.storeBytes(of: UInt32(head).littleEndian, as: UInt32.self)
        element.storeBytes(of: length.littleEndian, toByteOffset: 4, as: UInt32.self)
        memoryFence()
        nextUsed &+= 1
        used.storeBytes(of: nextUsed.littleEndian, toByteOffset: 2, as: UInt16.self)
        memory.markDirty(deviceArea &+ 4 &+ 8 &* UInt64(slot), length: 8)
        memory.markDirty(deviceArea &+ 2, length: 2)
    }

    private func markWritten(_ bytes: Int) {
        var left = bytes
        var i = 0
        while i < segmentCount && left > 0 {
            let s = segments[i]
            i += 1
            guard s.writable, s.host != nil, s.length > 0 else { continue }
            let n = min(s.length, left)
            memory.markDirty(s.guestAddress, length: UInt64(n))
            left -= n
        }
    }

    /// The saved form of this queue.
    public var state: VirtqueueState {
        VirtqueueState(size: size, ready: ready, descriptorTable: descriptorTable, driverArea: driverArea,
                       deviceArea: deviceArea, nextAvailable: nextAvailable, nextUsed: nextUsed)
    }

    /// Checks `state` against this queue and guest RAM without changing anything.
    func validate(_ state: VirtqueueState) throws(VirtqueueError) {
        if state.ready {
            let (_, a, _) = try Self.resolve(memory: memory, size: state.size, maxSize: maxSize,
                                             descriptorTable: state.descriptorTable, driverArea: state.driverArea,
                                             deviceArea: state.deviceArea)
            let index = UInt16(littleEndian: a.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            guard index &- state.nextAvailable <= state.size else {
                throw .availableIndexJump(from: state.nextAvailable, to: index, size: state.size)
            }
            guard state.nextAvailable &- state.nextUsed <= state.size else {
                throw .availableIndexJump(from: state.nextUsed, to: state.nextAvailable, size: state.size)
            }
        } else {
            guard state.size != 0 else { throw .zeroSize }
            guard state.size <= maxSize else { throw .sizeTooLarge(state.size, max: maxSize) }
        }
    }

    /// Applies a state `validate` accepted.
    func apply(_ state: VirtqueueState, indirectAllowed: Bool) {
        reset()
        size = state.size
        descriptorTable = state.descriptorTable
        driverArea = state.driverArea
        deviceArea = state.deviceArea
        nextAvailable = state.nextAvailable
        nextUsed = state.nextUsed
        self.indirectAllowed = indirectAllowed
        if state.ready { try? activate() }
    }
}

/// The saved form of a split virtqueue (as rust-vmm's `QueueState`).
public struct VirtqueueState: Codable, Equatable, Sendable {
    /// QueueNum.
    public var size: UInt16
    /// QueueReady.
    public var ready: Bool
    /// Descriptor table address.
    public var descriptorTable: UInt64
    /// Available ring address.
    public var driverArea: UInt64
    /// Used ring address.
    public var deviceArea: UInt64
    /// last_avail_idx: the next available entry the device takes.
    public var nextAvailable: UInt16
    /// The next used index the device publishes.
    public var nextUsed: UInt16

    /// A state with every field given.
    public init(size: UInt16, ready: Bool, descriptorTable: UInt64, driverArea: UInt64, deviceArea: UInt64,
                nextAvailable: UInt16, nextUsed: UInt16) {
        self.size = size
        self.ready = ready
        self.descriptorTable = descriptorTable
        self.driverArea = driverArea
        self.deviceArea = deviceArea
        self.nextAvailable = nextAvailable
        self.nextUsed = nextUsed
    }
}
