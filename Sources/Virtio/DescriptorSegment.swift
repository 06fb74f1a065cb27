// DescriptorSegment and the chain cursors: one guest buffer of a descriptor chain, resolved to
// a host pointer once, and cursors that copy across a chain's readable or writable buffers.

/// One buffer of a popped descriptor chain.
public struct DescriptorSegment: Sendable {
    /// Host address of the buffer; nil when the guest pointed it (partly) outside RAM.
    public nonisolated(unsafe) var host: UnsafeMutableRawPointer?
    /// The guest-physical address the descriptor gave.
    public var guestAddress: UInt64
    /// Length in bytes.
    public var length: Int
    /// Device-writable (VIRTQ_DESC_F_WRITE) rather than device-readable.
    public var writable: Bool

    /// A resolved segment.
    @inlinable public init(host: UnsafeMutableRawPointer?, guestAddress: UInt64, length: Int, writable: Bool) {
        self.host = host
        self.guestAddress = guestAddress
        self.length = length
        self.writable = writable
    }
}

/// Reads the device-readable bytes of a chain in order, as one stream.
public struct ChainReader {
    @usableFromInline let segments: UnsafeMutablePointer<DescriptorSegment>
    @usableFromInline let count: Int
    @usableFromInline var index = 0
    @usableFromInline var offset = 0

    /// A reader over the first `count` segments (writable ones are skipped).
    @inlinable public init(segments: UnsafeMutablePointer<DescriptorSegment>, count: Int) {
        self.segments = segments
        self.count = count
    }

    /// Copies the next `length` readable bytes to `destination`; false when the chain has
    /// fewer (the cursor is then at the end).
    @inlinable public mutating func read(into destination: UnsafeMutableRawPointer, length: Int) -> Bool {
        var done = 0
        while done < length {
            guard index < count else { return false }
            let s = segments[index]
            guard !s.writable, let host = s.host, offset < s.length else {
                index &+= 1
                offset = 0
                continue
            }
            let n = min(s.length &- offset, length &- done)
            // SAFETY: host..<host+length was checked to lie inside guest RAM when popped.
            (destination + done).copyMemory(from: host + offset, byteCount: n)
            done &+= n
            offset &+= n
        }
        return true
    }

    /// Hands out the rest of the current readable segment (at most `limit` bytes), e.g. for
    /// `pwrite`; call `advance` with what was consumed.
    @inlinable public mutating func nextBuffer(limit: Int) -> UnsafeRawBufferPointer? {
        while index < count {
            let s = segments[index]
            if !s.writable, let host = s.host, offset < s.length {
                return UnsafeRawBufferPointer(start: host + offset, count: min(s.length &- offset, limit))
            }
            index &+= 1
            offset = 0
        }
        return nil
    }

    /// Moves past `length` bytes consumed through `nextBuffer`.
    @inlinable public mutating func advance(_ length: Int) { offset &+= length }

    /// Skips `length` readable bytes; false when the chain has fewer.
    @inlinable public mutating func skip(_ length: Int) -> Bool {
        var left = length
        while left > 0 {
            guard index < count else { return false }
            let s = segments[index]
            guard !s.writable, offset < s.length else {
                index &+= 1
                offset = 0
                continue
            }
            let n = min(s.length &- offset, left)
            left &-= n
            offset &+= n
        }
        return true
    }
}

/// Writes into the device-writable bytes of a chain in order, as one stream.
public struct ChainWriter {
    @usableFromInline let segments: UnsafeMutablePointer<DescriptorSegment>
    @usableFromInline let count: Int
    @usableFromInline var index = 0
    @usableFromInline var offset = 0
    /// Bytes written so far.
    public var written = 0

    /// A writer over the first `count` segments (readable ones are skipped).
    @inlinable public init(segments: UnsafeMutablePointer<DescriptorSegment>, count: Int) {
        self.segments = segments
        self.count = count
    }

    /// Copies `length` bytes from `source`; false when the chain has less room.
    @inlinable public mutating func write(_ source: UnsafeRawPointer, length: Int) -> Bool {
        var done = 0
        while done < length {
            guard let (host, room) = nextRoom() else { return false }
            let n = min(room, length &- done)
            // SAFETY: the segment was checked to lie inside guest RAM when popped.
            (host + offset).copyMemory(from: source + done, byteCount: n)
            done &+= n
            offset &+= n
            written &+= n
        }
        return true
    }

    /// Writes `length` zero bytes; false when the chain has less room.
    @inlinable public mutating func zero(_ length: Int) -> Bool {
        var done = 0
        while done < length {
            guard let (host, room) = nextRoom() else { return false }
            let n = min(room, length &- done)
            (host + offset).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            done &+= n
            offset &+= n
            written &+= n
        }
        return true
    }

    /// Hands out the rest of the current writable segment (at most `limit` bytes) for the
    /// caller to fill, e.g. with `pread`; call `advance` with what was filled.
    @inlinable public mutating func nextBuffer(limit: Int) -> UnsafeMutableRawBufferPointer? {
        guard let (host, room) = nextRoom() else { return nil }
        return UnsafeMutableRawBufferPointer(start: host + offset, count: min(room, limit))
    }

    /// Moves past `length` bytes filled through `nextBuffer`.
    @inlinable public mutating func advance(_ length: Int) {
        offset &+= length
        written &+= length
    }

    @inlinable mutating func nextRoom() -> (UnsafeMutableRawPointer, Int)? {
        while index < count {
            let s = segments[index]
            if s.writable, let host = s.host, offset < s.length { return (host, s.length &- offset) }
            index &+= 1
            offset = 0
        }
        return nil
    }
}
