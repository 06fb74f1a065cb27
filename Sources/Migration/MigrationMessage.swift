// MigrationMessage: one message of the migration protocol (type + payload) and its framing on
// the wire: a 16-byte header (magic, format version, type, payload length, CRC32C of the
// payload) followed by the payload. `MessageDecoder` reassembles messages from a byte stream.

/// The kinds of message; the raw value is the type field of the header.
public enum MessageType: UInt16, Sendable, CaseIterable {
    /// Source -> destination: the machine description (JSON `MigrationDescription`).
    case hello = 1
    /// Destination -> source: the machine was built; send RAM.
    case accept = 2
    /// Destination -> source: refused, with a reason (UTF-8).
    case refuse = 3
    /// Source -> destination: a batch of RAM pages (`PageBatch`).
    case pages = 4
    /// Source -> destination: a round ended (JSON `RoundEnd`).
    case endOfRound = 5
    /// Source -> destination: CPU and device state (JSON `VMState`).
    case state = 6
    /// Source -> destination: the switch state of the VM's ports (JSON `[SwitchState]`).
    case switchState = 7
    /// Source -> destination: frames for the VM queued during the pause (`FrameBatch`).
    case frames = 8
    /// Destination -> source: state installed; ready to run.
    case ready = 9
    /// Source -> destination: run the VM.
    case commit = 10
    /// Destination -> source: the VM runs on the destination.
    case ack = 11
    /// Either side: giving up, with a reason (UTF-8).
    case abort = 12
    /// Destination -> source: every page of a pre-copy round is in RAM (empty payload), so
    /// the source measures end-to-end bandwidth and never stops with a backlog in flight.
    case roundDone = 13
    /// Source -> destination, after the `ack`: the source has let the VM go; start it.
    case confirm = 14
    /// Destination -> the source's listener, on a new connection when the one of the
    /// migration broke after the `ack`: what became of migration `id` (UTF-8)?
    case resolve = 15
    /// The source's listener -> destination: the answer to `resolve` (`MigrationOutcome`).
    case outcome = 16
    /// Destination -> source, after `accept` when disks are copied: which base images it
    /// lacks (JSON `DiskPlan`).
    case diskPlan = 17
    /// Source -> destination: blocks of a qcow2 overlay's base image (`DiskBlockBatch`).
    case baseBlocks = 18
    /// Source -> destination: blocks of a copied disk (`DiskBlockBatch`).
    case diskBlocks = 19
    /// Source -> destination: a pass over the disks ended (JSON `DiskRoundEnd`).
    case diskRoundEnd = 20
    /// Destination -> source: every block of a non-final disk pass is written.
    case diskRoundDone = 21
    /// Source -> destination, at the stop-and-copy of a post-copy migration, instead of the
    /// last pages: the pages still missing (`PostcopyBitmap`); fetch them on demand.
    case postcopyStart = 23
    /// Destination -> source during post-copy: pages a vCPU or DMA is waiting for (`PageRequest`).
    case pageRequest = 24
    /// Source -> destination: every missing page has been sent.
    case postcopyDone = 25
    /// Destination -> source: every missing page is in place (u32: pages it asked for).
    case postcopyComplete = 26
}

/// A message: its type and payload bytes.
public struct MigrationMessage: Sendable, Equatable {
    public var type: MessageType
    public var payload: [UInt8]

    /// A message of `type` carrying `payload`.
    public init(_ type: MessageType, _ payload: [UInt8] = []) {
        self.type = type
        self.payload = payload
    }

    /// A message whose payload is UTF-8 text (refuse, abort).
    public init(_ type: MessageType, text: String) {
        self.init(type, Array(text.utf8))
    }

    /// The payload read as UTF-8 text.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

/// The header every message starts with (all fields little-endian).
public enum MigrationWire {
    /// "SBMG" as a little-endian word.
    public static let magic: UInt32 = 0x474D_4253
    /// The format version this build speaks.
    public static let version: UInt16 = 2
    /// Header bytes: magic 4, version 2, type 2, length 4, CRC32C 4.
    public static let headerLength = 16
    /// Largest payload accepted (a page batch of 256 pages is ~1 MiB).
    public static let maxPayload = 64 << 20

    /// The message framed for the wire.
    public static func encode(_ m: MigrationMessage) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(headerLength + m.payload.count)
        out.appendLE(magic)
        out.appendLE(version)
        out.appendLE(m.type.rawValue)
        out.appendLE(UInt32(m.payload.count))
        out.appendLE(CRC32C.checksum(m.payload))
        out.append(contentsOf: m.payload)
        return out
    }
}

/// What can be wrong with bytes on the wire.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case badMagic(UInt32)
    case unsupportedVersion(UInt16)
    case unknownType(UInt16)
    case tooLong(Int)
    case checksumMismatch(type: UInt16, expected: UInt32, found: UInt32)
    case malformed(String)

    public var description: String {
        switch self {
        case .badMagic(let m): return "not a migration stream (magic 0x\(String(m, radix: 16)))"
        case .unsupportedVersion(let v): return "unsupported migration format version \(v) (this side speaks \(MigrationWire.version))"
        case .unknownType(let t): return "unknown message type \(t)"
        case .tooLong(let n): return "message payload of \(n) bytes exceeds the limit"
        case .checksumMismatch(let t, let e, let f):
            return "checksum mismatch in a message of type \(t): header says 0x\(String(e, radix: 16)), payload has 0x\(String(f, radix: 16))"
        case .malformed(let m): return "malformed payload: \(m)"
        }
    }
}

/// Reassembles messages from stream chunks; every header field and the checksum are checked.
public struct MessageDecoder {
    private var buffer: [UInt8] = []
    private var start = 0

    /// An empty decoder.
    public init() {}

    /// Adds received bytes.
    public mutating func feed(_ bytes: [UInt8]) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, nil when more bytes are needed; throws on bad input.
    public mutating func next() throws(WireError) -> MigrationMessage? {
        let available = buffer.count - start
        guard available >= MigrationWire.headerLength else { return nil }
        let magic: UInt32 = buffer.readLE(at: start)
        guard magic == MigrationWire.magic else { throw .badMagic(magic) }
        let version: UInt16 = buffer.readLE(at: start + 4)
        guard version == MigrationWire.version else { throw .unsupportedVersion(version) }
        let rawType: UInt16 = buffer.readLE(at: start + 6)
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        let length = Int(buffer.readLE(at: start + 8) as UInt32)
        guard length <= MigrationWire.maxPayload else { throw .tooLong(length) }
        guard available >= MigrationWire.headerLength + length else { return nil }
        let expected: UInt32 = buffer.readLE(at: start + 12)
        let body = start + MigrationWire.headerLength
        let found = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[body..<body + length])) }
        guard found == expected else { throw .checksumMismatch(type: rawType, expected: expected, found: found) }
        let payload = Array(buffer[body..<body + length])
        start = body + length
        if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        return MigrationMessage(type, payload)
    }
}

extension Array where Element == UInt8 {
    /// Appends an integer, little-endian.
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }

    /// Reads a little-endian integer at `offset` (the caller checked the bounds).
    func readLE<T: FixedWidthInteger>(at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
