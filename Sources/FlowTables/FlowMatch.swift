// FlowMatch: the OF 1.3 match fields the datapath supports, with masks, the OXM prerequisite
// rules and `validate()`, and its compiled form (a value key and a mask key).

/// A field value with a mask: a packet matches when `packet & mask == value`.
public struct Masked<Value: FixedWidthInteger & Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var mask: Value

    /// A masked value; bits of `value` outside `mask` make the match invalid (BAD_WILDCARDS).
    public init(_ value: Value, mask: Value) {
        self.value = value
        self.mask = mask
    }

    /// An exact match on `value` (mask all ones).
    public static func exact(_ value: Value) -> Masked { Masked(value, mask: ~0) }
}

/// A 128-bit IPv6 address or mask as two halves (first wire byte in bits 63...56 of `high`).
public struct IPv6Bits: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    /// Two 64-bit halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A prefix mask of `length` bits (0...128).
    public static func prefix(_ length: Int) -> IPv6Bits {
        let l = max(0, min(128, length))
        let h: UInt64 = l == 0 ? 0 : l >= 64 ? ~0 : ~0 << UInt64(64 - l)
        let lo: UInt64 = l <= 64 ? 0 : l == 128 ? ~0 : ~0 << UInt64(128 - l)
        return IPv6Bits(high: h, low: lo)
    }

    /// All ones.
    public static let allOnes = IPv6Bits(high: ~0, low: ~0)
}

/// A masked IPv6 address match.
public struct MaskedIPv6: Sendable, Hashable {
    public var value: IPv6Bits
    public var mask: IPv6Bits

    /// A masked address.
    public init(_ value: IPv6Bits, mask: IPv6Bits = .allOnes) {
        self.value = value
        self.mask = mask
    }
}

/// An OF 1.3 match: every nil field is wildcarded.
///
/// vlan_vid follows the OFPVID_PRESENT convention: `.exact(0)` matches untagged frames only,
/// `Masked(0x1000, mask: 0x1000)` any tagged frame, `.exact(0x1000 | vid)` one VLAN.
public struct FlowMatch: Sendable, Hashable {
    public var inPort: UInt32?
    public var metadata: Masked<UInt64>?
    /// Destination MAC (low 48 bits).
    public var ethDst: Masked<UInt64>?
    /// Source MAC (low 48 bits).
    public var ethSrc: Masked<UInt64>?
    public var ethType: UInt16?
    public var vlanVID: Masked<UInt16>?
    public var vlanPCP: UInt8?
    public var ipDSCP: UInt8?
    public var ipECN: UInt8?
    public var ipProto: UInt8?
    public var ipv4Src: Masked<UInt32>?
    public var ipv4Dst: Masked<UInt32>?
    public var ipv6Src: MaskedIPv6?
    public var ipv6Dst: MaskedIPv6?
    public var tcpSrc: UInt16?
    public var tcpDst: UInt16?
    public var udpSrc: UInt16?
    public var udpDst: UInt16?
    public var icmpv4Type: UInt8?
    public var icmpv4Code: UInt8?
    public var arpOp: UInt16?
    public var arpSPA: Masked<UInt32>?
    public var arpTPA: Masked<UInt32>?
    /// ARP sender hardware address (low 48 bits).
    public var arpSHA: Masked<UInt64>?
    /// ARP target hardware address (low 48 bits).
    public var arpTHA: Masked<UInt64>?

    /// The match-everything match.
    public init() {}

    /// True when no field is set.
    public var isAllWildcard: Bool { self == FlowMatch() }

    private var isIP: Bool { ethType == 0x0800 || ethType == 0x86DD }

    /// Checks the OF 1.3 rules: prerequisites (BAD_PREREQ), value bits outside the mask
    /// (BAD_WILDCARDS), out-of-range values (BAD_VALUE).
    public func validate() throws(FlowError) {
        func wild<V>(_ m: Masked<V>?) throws(FlowError) {
            if let m, m.value & ~m.mask != 0 { throw .badMatch(.badWildcards) }
        }
        func wild6(_ m: MaskedIPv6?) throws(FlowError) {
            if let m, m.value.high & ~m.mask.high != 0 || m.value.low & ~m.mask.low != 0 { throw .badMatch(.badWildcards) }
        }
        func mac(_ m: Masked<UInt64>?) throws(FlowError) {
            if let m, m.value >> 48 != 0 || m.mask >> 48 != 0 && m.mask != ~0 { throw .badMatch(.badValue) }
        }
        if let p = inPort, p == 0 || (p > OFPort.max && p != OFPort.local && p != OFPort.controller) {
            throw .badMatch(.badValue)
        }
        try mac(ethDst); try mac(ethSrc); try mac(arpSHA); try mac(arpTHA)
        try wild(metadata); try wild(ethDst); try wild(ethSrc); try wild(vlanVID); try wild(ipv4Src); try wild(ipv4Dst)
        try wild(arpSPA); try wild(arpTPA); try wild(arpSHA); try wild(arpTHA); try wild6(ipv6Src); try wild6(ipv6Dst)
        if let v = vlanVID, v.value > 0x1FFF { throw .badMatch(.badValue) }
        if let v = vlanVID, v.value & 0x1000 == 0 && v.value != 0 { throw .badMatch(.badValue) }
        if let p = vlanPCP {
            guard p <= 7 else { throw .badMatch(.badValue) }
            // vlan_pcp needs vlan_vid != OFPVID_NONE: a tagged frame is required.
            guard let v = vlanVID, v.value & 0x1000 != 0, v.mask & 0x1000 != 0 else { throw .badMatch(.badPrereq) }
        }
        if let d = ipDSCP { guard d <= 63 else { throw .badMatch(.badValue) } }
        if let e = ipECN { guard e <= 3 else { throw .badMatch(.badValue) } }
        if ipDSCP != nil || ipECN != nil || ipProto != nil, !isIP { throw .badMatch(.badPrereq) }
        if ipv4Src != nil || ipv4Dst != nil, ethType != 0x0800 { throw .badMatch(.badPrereq) }
        if ipv6Src != nil || ipv6Dst != nil, ethType != 0x86DD { throw .badMatch(.badPrereq) }
        if arpOp != nil || arpSPA != nil || arpTPA != nil || arpSHA != nil || arpTHA != nil, ethType != 0x0806 {
            throw .badMatch(.badPrereq)
        }
        if tcpSrc != nil || tcpDst != nil, ipProto != 6 || !isIP { throw .badMatch(.badPrereq) }
        if udpSrc != nil || udpDst != nil, ipProto != 17 || !isIP { throw .badMatch(.badPrereq) }
        if icmpv4Type != nil || icmpv4Code != nil, ipProto != 1 || ethType != 0x0800 { throw .badMatch(.badPrereq) }
    }

    /// The match as (value, mask) keys; `value` is already masked. Call `validate()` first.
    public func compiled() -> (value: FlowKey, mask: FlowKey) {
        var v = FlowKey(), m = FlowKey()
        func put(_ word: Int, _ value: UInt64, _ mask: UInt64, shift: UInt64, width: UInt64) {
            let fieldMask: UInt64 = width == 64 ? ~0 : (1 << width) - 1
            m[word] |= (mask & fieldMask) << shift
            v[word] |= (value & mask & fieldMask) << shift
        }
        if let p = inPort { put(0, UInt64(p), ~0, shift: 32, width: 32) }
        if let t = ethType { put(0, UInt64(t), ~0, shift: 16, width: 16) }
        if let x = vlanVID { put(0, UInt64(x.value), UInt64(x.mask), shift: 0, width: 13) }
        if let x = ethDst { put(1, x.value, x.mask, shift: 0, width: 48) }
        if let x = vlanPCP { put(1, UInt64(x), ~0, shift: 48, width: 3) }
        if let x = ipProto { put(1, UInt64(x), ~0, shift: 56, width: 8) }
        if let x = ethSrc { put(2, x.value, x.mask, shift: 0, width: 48) }
        if let x = ipDSCP { put(2, UInt64(x), ~0, shift: 48, width: 6) }
        if let x = ipECN { put(2, UInt64(x), ~0, shift: 54, width: 2) }
        if let x = ipv4Src ?? arpSPA { put(3, UInt64(x.value), UInt64(x.mask), shift: 32, width: 32) }
        if let x = ipv4Dst ?? arpTPA { put(3, UInt64(x.value), UInt64(x.mask), shift: 0, width: 32) }
        if let x = tcpSrc ?? udpSrc { put(4, UInt64(x), ~0, shift: 48, width: 16) }
        if let x = tcpDst ?? udpDst { put(4, UInt64(x), ~0, shift: 32, width: 16) }
        if let x = icmpv4Type { put(4, UInt64(x), ~0, shift: 48, width: 16) }
        if let x = icmpv4Code { put(4, UInt64(x), ~0, shift: 32, width: 16) }
        if let x = arpOp { put(4, UInt64(x), ~0, shift: 16, width: 16) }
        if let x = metadata { put(5, x.value, x.mask, shift: 0, width: 64) }
        if let x = arpSHA { put(6, x.value, x.mask, shift: 0, width: 48) }
        if let x = arpTHA { put(8, x.value, x.mask, shift: 0, width: 48) }
        if let x = ipv6Src {
            put(6, x.value.high, x.mask.high, shift: 0, width: 64)
            put(7, x.value.low, x.mask.low, shift: 0, width: 64)
        }
        if let x = ipv6Dst {
            put(8, x.value.high, x.mask.high, shift: 0, width: 64)
            put(9, x.value.low, x.mask.low, shift: 0, width: 64)
        }
        return (v, m)
    }
}
