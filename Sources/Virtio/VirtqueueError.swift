// VirtqueueError: everything a guest can get wrong about a split virtqueue. Each case is a
// driver error the device answers with DEVICE_NEEDS_RESET; none of them traps the host.

/// A split virtqueue the driver set up or used wrongly.
public enum VirtqueueError: Error, Equatable, Sendable, CustomStringConvertible {
    /// QueueNum is zero.
    case zeroSize
    /// QueueNum is not a power of two.
    case sizeNotPowerOfTwo(UInt16)
    /// QueueNum is larger than QueueNumMax.
    case sizeTooLarge(UInt16, max: UInt16)
    /// A ring area does not lie inside one RAM region.
    case areaOutsideRAM(area: String, address: UInt64, length: UInt64)
    /// A ring area is not aligned as the specification requires.
    case misaligned(area: String, address: UInt64, alignment: UInt64)
    /// The available index moved further than the queue has entries.
    case availableIndexJump(from: UInt16, to: UInt16, size: UInt16)
    /// The available ring names a descriptor that does not exist.
    case headOutOfRange(UInt16, size: UInt16)
    /// A descriptor's `next` names a descriptor that does not exist.
    case nextOutOfRange(UInt16, size: UInt32)
    /// A chain visits the same descriptor twice.
    case loop(at: UInt16)
    /// A chain has more descriptors than the queue has entries.
    case chainTooLong(limit: UInt16)
    /// An indirect descriptor is malformed, nested, or not negotiated.
    case badIndirect(String)

    /// A readable message.
    public var description: String {
        switch self {
        case .zeroSize: return "queue size is zero"
        case .sizeNotPowerOfTwo(let n): return "queue size \(n) is not a power of two"
        case .sizeTooLarge(let n, let max): return "queue size \(n) exceeds QueueNumMax \(max)"
        case .areaOutsideRAM(let area, let a, let n):
            return "\(area) at 0x\(String(a, radix: 16)) (+\(n) bytes) is not inside guest RAM"
        case .misaligned(let area, let a, let al): return "\(area) at 0x\(String(a, radix: 16)) is not \(al)-byte aligned"
        case .availableIndexJump(let from, let to, let size):
            return "available index jumped from \(from) to \(to), more than the queue size \(size)"
        case .headOutOfRange(let h, let size): return "available ring names descriptor \(h) of a \(size)-entry queue"
        case .nextOutOfRange(let n, let size): return "descriptor next \(n) is outside a \(size)-entry table"
        case .loop(let i): return "descriptor chain loops back to descriptor \(i)"
        case .chainTooLong(let limit): return "descriptor chain is longer than the queue size \(limit)"
        case .badIndirect(let why): return "bad indirect descriptor: \(why)"
        }
    }
}
