// PacketPool: one slab of fixed-size packet slots with reference counts and a free list.
//
// Every frame in the datapath lives in a slot of a pool. A slot is named by its index
// (`PacketHandle`), so batches and queues move 4-byte handles, not buffers, and flooding a
// frame to several ports retains the same slot instead of copying it. All state is in
// unsafe memory owned by the datapath thread: no ARC, no locks, no allocation per frame.

/// The index of a slot in a `PacketPool`.
public typealias PacketHandle = Int32

/// A fixed pool of packet buffers, owned and used by one thread.
public final class PacketPool {
    /// The largest frame accepted into a slot (no jumbo frames yet). Each slot has
    /// `tailroom` bytes more, so a frame of `slotSize` can still gain an 802.1Q tag.
    public let slotSize: Int
    /// Extra bytes behind `slotSize` in every slot.
    public static let tailroom = 64
    @usableFromInline let stride: Int
    /// Number of slots.
    public let capacity: Int

    @usableFromInline let slab: UnsafeMutableRawPointer
    @usableFromInline let lengths: UnsafeMutablePointer<Int32>
    @usableFromInline let refcounts: UnsafeMutablePointer<Int32>
    @usableFromInline let freeList: UnsafeMutablePointer<PacketHandle>
    @usableFromInline var freeCount: Int

    /// Creates `capacity` slots of `slotSize` bytes each (rounded up to 64).
    public init(capacity: Int = 8192, slotSize: Int = 2048) {
        precondition(capacity > 0 && capacity < Int(Int32.max) && slotSize >= 64)
        self.capacity = capacity
        self.slotSize = (slotSize + 63) & ~63
        stride = self.slotSize + Self.tailroom
        slab = UnsafeMutableRawPointer.allocate(byteCount: capacity * stride, alignment: 64)
        lengths = .allocate(capacity: capacity)
        lengths.initialize(repeating: 0, count: capacity)
        refcounts = .allocate(capacity: capacity)
        refcounts.initialize(repeating: 0, count: capacity)
        freeList = .allocate(capacity: capacity)
        for i in 0..<capacity { freeList[i] = PacketHandle(capacity - 1 - i) }
        freeCount = capacity
    }

    deinit {
        slab.deallocate()
        lengths.deallocate()
        refcounts.deallocate()
        freeList.deallocate()
    }

    /// Slots not in use.
    public var available: Int { freeCount }

    /// Takes a free slot with a reference count of 1 and length 0; nil when exhausted.
    @inlinable
    public func allocate() -> PacketHandle? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let handle = freeList[freeCount]
        refcounts[Int(handle)] = 1
        lengths[Int(handle)] = 0
        return handle
    }

    /// Adds a reference to a slot in use (a second queue holds it).
    @inlinable
    public func retain(_ handle: PacketHandle) {
        refcounts[Int(handle)] &+= 1
    }

    /// Drops a reference; the slot returns to the free list at zero.
    @inlinable
    public func release(_ handle: PacketHandle) {
        let i = Int(handle)
        let count = refcounts[i] &- 1
        refcounts[i] = count
        if count == 0 {
            freeList[freeCount] = handle
            freeCount &+= 1
        }
    }

    /// The slot's current reference count.
    @inlinable
    public func referenceCount(_ handle: PacketHandle) -> Int { Int(refcounts[Int(handle)]) }

    /// Start of the slot's bytes.
    @inlinable
    public func data(_ handle: PacketHandle) -> UnsafeMutableRawPointer {
        // SAFETY: handles come from allocate(), so 0 <= handle < capacity.
        slab + Int(handle) &* stride
    }

    /// The frame length stored in the slot.
    @inlinable
    public func length(_ handle: PacketHandle) -> Int { Int(lengths[Int(handle)]) }

    /// Sets the frame length; must not exceed `slotSize` plus a tag or two.
    @inlinable
    public func setLength(_ handle: PacketHandle, _ length: Int) {
        precondition(length >= 0 && length <= slotSize + 8)
        lengths[Int(handle)] = Int32(truncatingIfNeeded: length)
    }

    /// The frame in the slot as a read-only buffer.
    @inlinable
    public func bytes(_ handle: PacketHandle) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: data(handle), count: length(handle))
    }

    /// Copies `frame` into a new slot; nil when the pool is exhausted or the frame too large.
    public func make(copying frame: UnsafeRawBufferPointer) -> PacketHandle? {
        guard frame.count <= slotSize, let handle = allocate() else { return nil }
        if let base = frame.baseAddress { data(handle).copyMemory(from: base, byteCount: frame.count) }
        setLength(handle, frame.count)
        return handle
    }

    /// Copies an array into a new slot.
    public func make(copying frame: [UInt8]) -> PacketHandle? {
        frame.withUnsafeBytes { make(copying: $0) }
    }
}
