// GuestPhysicalAddress: a newtype for addresses in the guest-physical space, so they cannot be
// mixed with host offsets or guest-virtual addresses by accident (as rust-vmm's GuestAddress).

/// An address in the guest-physical address space.
public struct GuestPhysicalAddress: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The raw 64-bit address.
    public var raw: UInt64

    /// Wraps a raw guest-physical address.
    @inlinable public init(_ raw: UInt64) { self.raw = raw }

    /// The address `offset` bytes further on (wrapping).
    @inlinable public func advanced(by offset: UInt64) -> GuestPhysicalAddress {
        GuestPhysicalAddress(raw &+ offset)
    }

    /// Orders addresses numerically.
    @inlinable public static func < (a: GuestPhysicalAddress, b: GuestPhysicalAddress) -> Bool { a.raw < b.raw }

    /// Hexadecimal form, e.g. `0x80000000`.
    public var description: String { "0x" + String(raw, radix: 16) }
}
