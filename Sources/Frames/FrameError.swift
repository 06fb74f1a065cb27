// FrameError: why bytes could not be read as a frame or header.

/// Why a byte buffer is not a well-formed frame or header. Parsers return these instead of
/// trapping, so malformed input from a guest or a wire is counted and dropped, never fatal.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Shorter than the 14-byte Ethernet header.
    case runt(length: Int)
    /// An 802.1Q/802.1ad tag whose 4 bytes (or the inner EtherType) are cut off.
    case truncatedTag(offset: Int)
    /// A header that does not fit in what is left of the buffer.
    case truncatedHeader(protocol: String, needed: Int, available: Int)
    /// A length field that points outside the buffer or below its own header.
    case badLength(protocol: String, field: Int, available: Int)
    /// A field with a value the protocol forbids (IPv4 version 6, IHL 3, ...).
    case badField(protocol: String, field: String, value: Int)
    /// The EtherType or protocol number is not the one the view reads.
    case wrongProtocol(expected: String, found: Int)

    public var description: String {
        switch self {
        case .runt(let length):
            return "runt frame: \(length) bytes, an Ethernet header needs 14"
        case .truncatedTag(let offset):
            return "VLAN tag at offset \(offset) is truncated"
        case .truncatedHeader(let proto, let needed, let available):
            return "\(proto) header truncated: needs \(needed) bytes, \(available) available"
        case .badLength(let proto, let field, let available):
            return "\(proto) length field says \(field), but \(available) bytes are available"
        case .badField(let proto, let field, let value):
            return "\(proto) \(field) has invalid value \(value)"
        case .wrongProtocol(let expected, let found):
            return "expected \(expected), found protocol 0x\(String(found, radix: 16))"
        }
    }
}
