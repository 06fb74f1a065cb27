// MMIODevice and MMIOBus: devices register guest-physical ranges; the bus routes
// 1/2/4/8-byte accesses at an offset within the range to the device.

/// A device reached through memory-mapped I/O.
public protocol MMIODevice: AnyObject {
    /// Reads `size` (1, 2, 4 or 8) bytes at `offset` from the device's base.
    func read(offset: UInt64, size: Int) -> UInt64
    /// Writes the low `size` bytes of `value` at `offset`.
    func write(offset: UInt64, size: Int, value: UInt64)
}

/// Errors from registering devices.
public enum MMIOBusError: Error, Equatable, CustomStringConvertible {
    /// The range overlaps one already registered.
    case overlap(name: String, with: String)
    /// A zero-sized or wrapping range.
    case badRange(name: String)

    /// A readable message.
    public var description: String {
        switch self {
        case .overlap(let n, let w): return "MMIO range of \(n) overlaps \(w)"
        case .badRange(let n): return "MMIO range of \(n) is empty or wraps"
        }
    }
}

/// Maps guest-physical ranges to devices.
public final class MMIOBus {
    /// One registered range.
    public struct Mapping {
        /// Range start.
        public let base: GuestPhysicalAddress
        /// Range length in bytes.
        public let size: UInt64
        /// A short name for messages and `kvm_stat`-like listings.
        public let name: String
        /// The device.
        public let device: any MMIODevice
    }

    /// Registered ranges sorted by address.
    public private(set) var mappings: [Mapping] = []

    /// An empty bus.
    public init() {}

    /// Registers `device` for `[base, base+size)`.
    public func register(_ device: any MMIODevice, at base: GuestPhysicalAddress, size: UInt64, name: String) throws {
        guard size > 0, base.raw &+ size > base.raw else { throw MMIOBusError.badRange(name: name) }
        for m in mappings where base.raw < m.base.raw + m.size && m.base.raw < base.raw + size {
            throw MMIOBusError.overlap(name: name, with: m.name)
        }
        mappings.append(Mapping(base: base, size: size, name: name, device: device))
        mappings.sort { $0.base < $1.base }
    }

    /// The mapping holding an access, if any.
    public func find(_ address: GuestPhysicalAddress, size: Int) -> Mapping? {
        for m in mappings where address.raw >= m.base.raw && address.raw - m.base.raw + UInt64(size) <= m.size {
            return m
        }
        return nil
    }

    /// Reads from a device; nil when no device claims the address.
    public func read(_ address: GuestPhysicalAddress, size: Int) -> UInt64? {
        guard let m = find(address, size: size) else { return nil }
        return m.device.read(offset: address.raw - m.base.raw, size: size)
    }

    /// Writes to a device; false when no device claims the address.
    @discardableResult
    public func write(_ address: GuestPhysicalAddress, size: Int, value: UInt64) -> Bool {
        guard let m = find(address, size: size) else { return false }
        m.device.write(offset: address.raw - m.base.raw, size: size, value: value)
        return true
    }
}
