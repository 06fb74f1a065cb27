// FrameBatch: the payload of a `frames` message (frames queued for the VM during its pause, in
// arrival order) and QueuedFrame, one such frame.

/// The binary payload of a `frames` message: a count, then per frame the NIC index (16 bits),
/// the length (16 bits) and the bytes, in arrival order.
public enum FrameBatch {
    /// Encodes frames.
    public static func encode(_ frames: [QueuedFrame]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE(UInt32(frames.count))
        for f in frames {
            out.appendLE(UInt16(clamping: f.nic))
            out.appendLE(UInt16(clamping: f.bytes.count))
            out.append(contentsOf: f.bytes.prefix(Int(UInt16.max)))
        }
        return out
    }

    /// Decodes frames; throws on malformed payloads.
    public static func decode(_ payload: [UInt8]) throws(WireError) -> [QueuedFrame] {
        guard payload.count >= 4 else { throw .malformed("frame batch shorter than its count") }
        let count = Int(payload.readLE(at: 0) as UInt32)
        var offset = 4
        var out: [QueuedFrame] = []
        for _ in 0..<count {
            guard offset + 4 <= payload.count else { throw .malformed("frame batch truncated") }
            let nic = Int(payload.readLE(at: offset) as UInt16)
            let length = Int(payload.readLE(at: offset + 2) as UInt16)
            offset += 4
            guard offset + length <= payload.count else { throw .malformed("frame batch truncated") }
            out.append(QueuedFrame(nic: nic, bytes: Array(payload[offset..<offset + length])))
            offset += length
        }
        guard offset == payload.count else { throw .malformed("frame batch has trailing bytes") }
        return out
    }
}

/// A frame addressed to the VM that arrived while it was paused, for NIC `nic`.
public struct QueuedFrame: Sendable, Equatable {
    public var nic: Int
    public var bytes: [UInt8]
    /// A frame for NIC `nic`.
    public init(nic: Int, bytes: [UInt8]) {
        self.nic = nic
        self.bytes = bytes
    }
}
