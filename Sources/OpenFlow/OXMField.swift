// OXMField: one OpenFlow Extensible Match TLV of class OPENFLOW_BASIC (0x8000): the field, its
// value and an optional mask, held as numbers (no per-field arrays), with constructors for the
// fields a flow table matches on. `OFMatch` is the ofp_match around a list of them.

import Foundation
import Frames

/// The OPENFLOW_BASIC match fields (oxm_ofb_match_fields), with their wire sizes.
public enum OXMFieldID: UInt8, CaseIterable, Sendable {
    case inPort = 0, inPhyPort, metadata, ethDst, ethSrc, ethType, vlanVID, vlanPCP, ipDSCP, ipECN, ipProto,
         ipv4Src, ipv4Dst, tcpSrc, tcpDst, udpSrc, udpDst, sctpSrc, sctpDst, icmpv4Type, icmpv4Code,
         arpOp, arpSPA, arpTPA, arpSHA, arpTHA, ipv6Src, ipv6Dst, ipv6FLabel, icmpv6Type, icmpv6Code,
         ipv6NDTarget, ipv6NDSLL, ipv6NDTLL, mplsLabel, mplsTC, mplsBOS, pbbISID, tunnelID, ipv6ExtHdr

    /// Bytes of the value on the wire.
    public var size: Int {
        switch self {
        case .inPort, .inPhyPort, .ipv4Src, .ipv4Dst, .arpSPA, .arpTPA, .ipv6FLabel, .mplsLabel: return 4
        case .metadata, .tunnelID: return 8
        case .ethDst, .ethSrc, .arpSHA, .arpTHA, .ipv6NDSLL, .ipv6NDTLL: return 6
        case .ethType, .vlanVID, .tcpSrc, .tcpDst, .udpSrc, .udpDst, .sctpSrc, .sctpDst, .arpOp, .ipv6ExtHdr: return 2
        case .vlanPCP, .ipDSCP, .ipECN, .ipProto, .icmpv4Type, .icmpv4Code, .icmpv6Type, .icmpv6Code, .mplsTC, .mplsBOS: return 1
        case .ipv6Src, .ipv6Dst, .ipv6NDTarget: return 16
        case .pbbISID: return 3
        }
    }

    /// Whether the spec allows a mask on this field.
    public var maskable: Bool {
        switch self {
        case .metadata, .ethDst, .ethSrc, .vlanVID, .ipv4Src, .ipv4Dst, .arpSPA, .arpTPA, .arpSHA, .arpTHA,
             .ipv6Src, .ipv6Dst, .ipv6FLabel, .pbbISID, .tunnelID, .ipv6ExtHdr: return true
        default: return false
        }
    }

    /// The bits a value may use (narrower than `size` for some fields); nil: all of them.
    var validBits: UInt64? {
        switch self {
        case .vlanVID: return 0x1FFF          // 12-bit VID + OFPVID_PRESENT
        case .vlanPCP, .mplsTC: return 0x7
        case .ipDSCP: return 0x3F
        case .ipECN: return 0x3
        case .mplsBOS: return 0x1
        case .mplsLabel, .ipv6FLabel: return 0xF_FFFF
        case .ipv6ExtHdr: return 0x1FF
        default: return nil
        }
    }
}

/// A value of up to 16 bytes, big-endian as a 128-bit number (`high`, `low`).
public struct OXMValue: Hashable, Sendable {
    /// The upper 64 bits (non-zero only for 16-byte fields).
    public var high: UInt64
    /// The lower 64 bits.
    public var low: UInt64

    /// A value from two halves.
    public init(high: UInt64 = 0, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads `size` bytes.
    init(reading r: inout OFReader, size: Int, _ e: OFError) throws(OFError) {
        try r.need(size, e)
        var hi: UInt64 = 0, lo: UInt64 = 0
        for _ in 0..<size {
            let b = try r.u8(e)
            hi = hi << 8 | lo >> 56
            lo = lo << 8 | UInt64(b)
        }
        self.init(high: hi, low: lo)
    }

    /// Writes the low `size` bytes.
    func write(_ w: inout OFWriter, size: Int) {
        for i in stride(from: size - 1, through: 0, by: -1) {
            let byte = i >= 8 ? high >> UInt64(8 * (i - 8)) : low >> UInt64(8 * i)
            w.u8(UInt8(truncatingIfNeeded: byte))
        }
    }

    /// The 16 bytes, big-endian.
    public var bytes16: [UInt8] {
        var w = OFWriter(capacity: 16)
        write(&w, size: 16)
        return w.bytes
    }
}

/// One OXM TLV of class OPENFLOW_BASIC.
public struct OXMField: Hashable, Sendable, CustomStringConvertible {
    /// The field.
    public var id: OXMFieldID
    /// Its value.
    public var value: OXMValue
    /// Its mask (1 bits are compared), or nil for an exact match.
    public var mask: OXMValue?

    /// A field with a value and optional mask.
    public init(_ id: OXMFieldID, _ value: OXMValue, mask: OXMValue? = nil) {
        self.id = id
        self.value = value
        self.mask = mask
    }

    /// A field whose value fits 64 bits.
    public init(_ id: OXMFieldID, _ value: UInt64, mask: UInt64? = nil) {
        self.init(id, OXMValue(low: value), mask: mask.map { OXMValue(low: $0) })
    }

    /// The OXM class of every field here.
    public static let openFlowBasic: UInt16 = 0x8000

    /// Bytes of the TLV (header included).
    public var wireLength: Int { 4 + id.size * (mask == nil ? 1 : 2) }

    /// Appends the TLV.
    func encode(_ w: inout OFWriter) {
        w.u16(OXMField.openFlowBasic)
        w.u8(id.rawValue << 1 | (mask == nil ? 0 : 1))
        w.u8(UInt8(id.size * (mask == nil ? 1 : 2)))
        value.write(&w, size: id.size)
        if let mask { mask.write(&w, size: id.size) }
    }

    /// The errors a malformed TLV gets: they differ between a match and a set-field action.
    struct Errors {
        var truncated: OFError
        var badField: OFError
        var badLen: OFError
        var badMask: OFError
        var badValue: OFError
        var badWildcards: OFError

        static let match = Errors(truncated: .matchBadLen, badField: .matchBadField, badLen: .matchBadLen,
                                  badMask: .matchBadMask, badValue: .matchBadValue, badWildcards: .matchBadWildcards)
        static let setField = Errors(truncated: .actionBadSetLen, badField: .actionBadSetType, badLen: .actionBadSetLen,
                                     badMask: .actionBadSetArgument, badValue: .actionBadSetArgument,
                                     badWildcards: .actionBadSetArgument)
    }

    /// Reads one TLV.
    static func decode(_ r: inout OFReader, _ e: Errors) throws(OFError) -> OXMField {
        let oxmClass = try r.u16(e.truncated)
        let fieldAndMask = try r.u8(e.truncated)
        let length = Int(try r.u8(e.truncated))
        try r.need(length, e.truncated)
        guard oxmClass == openFlowBasic, let id = OXMFieldID(rawValue: fieldAndMask >> 1) else { throw e.badField }
        let hasMask = fieldAndMask & 1 != 0
        if hasMask && !id.maskable { throw e.badMask }
        guard length == id.size * (hasMask ? 2 : 1) else { throw e.badLen }
        let value = try OXMValue(reading: &r, size: id.size, e.truncated)
        if let bits = id.validBits, value.high != 0 || value.low & ~bits != 0 { throw e.badValue }
        var mask: OXMValue?
        if hasMask {
            let m = try OXMValue(reading: &r, size: id.size, e.truncated)
            if let bits = id.validBits, m.high != 0 || m.low & ~bits != 0 { throw e.badMask }
            if value.high & ~m.high != 0 || value.low & ~m.low != 0 { throw e.badWildcards }
            mask = m
        }
        return OXMField(id, value, mask: mask)
    }

    public var description: String {
        func hex(_ v: OXMValue) -> String {
            v.bytes16.suffix(id.size).map { String(format: "%02x", $0) }.joined()
        }
        return "\(id)=0x\(hex(value))" + (mask.map { "/0x" + hex($0) } ?? "")
    }
}

extension OXMField {
    /// OFPVID_PRESENT: set in vlan_vid when a VLAN tag is present.
    public static let vlanPresent: UInt16 = 0x1000

    /// in_port.
    public static func inPort(_ port: UInt32) -> OXMField { OXMField(.inPort, UInt64(port)) }
    /// eth_dst, optionally masked.
    public static func ethDst(_ mac: MACAddress, mask: MACAddress? = nil) -> OXMField {
        OXMField(.ethDst, mac.rawValue, mask: mask?.rawValue)
    }
    /// eth_src, optionally masked.
    public static func ethSrc(_ mac: MACAddress, mask: MACAddress? = nil) -> OXMField {
        OXMField(.ethSrc, mac.rawValue, mask: mask?.rawValue)
    }
    /// eth_type.
    public static func ethType(_ type: UInt16) -> OXMField { OXMField(.ethType, UInt64(type)) }
    /// vlan_vid as on the wire (`vid | vlanPresent` for a tagged frame, 0 for untagged).
    public static func vlanVID(_ vid: UInt16, mask: UInt16? = nil) -> OXMField {
        OXMField(.vlanVID, UInt64(vid), mask: mask.map(UInt64.init))
    }
    /// ipv4_src, optionally masked.
    public static func ipv4Src(_ a: IPv4Address, mask: IPv4Address? = nil) -> OXMField {
        OXMField(.ipv4Src, UInt64(a.rawValue), mask: mask.map { UInt64($0.rawValue) })
    }
    /// ipv4_dst, optionally masked.
    public static func ipv4Dst(_ a: IPv4Address, mask: IPv4Address? = nil) -> OXMField {
        OXMField(.ipv4Dst, UInt64(a.rawValue), mask: mask.map { UInt64($0.rawValue) })
    }
    /// ip_proto.
    public static func ipProto(_ p: UInt8) -> OXMField { OXMField(.ipProto, UInt64(p)) }

    /// The value as a MAC address (for eth/arp hardware address fields).
    public var macValue: MACAddress { MACAddress(rawValue: value.low) }
    /// The value as an IPv4 address (for ipv4/arp protocol address fields).
    public var ipv4Value: IPv4Address { IPv4Address(rawValue: UInt32(truncatingIfNeeded: value.low)) }
}

/// ofp_match of type OFPMT_OXM: a list of OXM fields, each field at most once.
public struct OFMatch: Hashable, Sendable {
    /// The fields, in wire order.
    public var fields: [OXMField]

    /// A match on `fields` (empty: match everything).
    public init(_ fields: [OXMField] = []) { self.fields = fields }

    /// The field `id`, if present.
    public subscript(_ id: OXMFieldID) -> OXMField? { fields.first { $0.id == id } }

    /// ofp_match length without the trailing padding.
    var unpaddedLength: Int { 4 + fields.reduce(0) { $0 + $1.wireLength } }
    /// Bytes on the wire, padding included.
    var paddedLength: Int { (unpaddedLength + 7) & ~7 }

    func encode(_ w: inout OFWriter) {
        let start = w.bytes.count
        w.u16(1)  // OFPMT_OXM
        w.u16(UInt16(unpaddedLength))
        for f in fields { f.encode(&w) }
        w.pad8(from: start)
    }

    /// Reads an ofp_match and its padding; a length that overruns the parent structure is
    /// BAD_MATCH/BAD_LEN.
    static func decode(_ r: inout OFReader) throws(OFError) -> OFMatch {
        let type = try r.u16(.matchBadLen)
        let length = Int(try r.u16(.matchBadLen))
        guard type == 1 else { throw .matchBadType }
        guard length >= 4 else { throw .matchBadLen }
        let padded = (length + 7) & ~7
        try r.need(padded - 4, .matchBadLen)
        var body = try r.sub(length - 4, .matchBadLen)
        try r.skip(padded - length, .matchBadLen)
        var fields: [OXMField] = []
        var seen: UInt64 = 0
        while !body.isAtEnd {
            let f = try OXMField.decode(&body, .match)
            let bit: UInt64 = 1 << UInt64(f.id.rawValue)
            if seen & bit != 0 { throw .matchDupField }
            seen |= bit
            fields.append(f)
        }
        return OFMatch(fields)
    }
}
