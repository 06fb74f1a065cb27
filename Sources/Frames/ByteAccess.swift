// Big-endian field access on raw buffers, shared by every protocol view.

extension UnsafeRawBufferPointer {
    /// Reads a big-endian UInt16 at `offset`. The caller checked the bounds.
    @inlinable
    func be16(_ offset: Int) -> UInt16 {
        // SAFETY: callers validate offset + 2 <= count when the view is constructed.
        UInt16(bigEndian: baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads a big-endian UInt32 at `offset`. The caller checked the bounds.
    @inlinable
    func be32(_ offset: Int) -> UInt32 {
        // SAFETY: as above, the constructing view checked offset + 4 <= count.
        UInt32(bigEndian: baseAddress.unsafelyUnwrapped.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in network byte order.
    @inlinable
    mutating func appendBE16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends `value` in network byte order.
    @inlinable
    mutating func appendBE32(_ value: UInt32) {
        appendBE16(UInt16(value >> 16))
        appendBE16(UInt16(truncatingIfNeeded: value))
    }

    /// Overwrites two bytes at `offset` with `value` in network byte order.
    @inlinable
    mutating func storeBE16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}
