// FlowKey: the fixed-size packet key the classifier matches on (Open vSwitch's `struct flow`,
// flattened into ten 64-bit words so masking, hashing and comparing are ten word operations).
//
// Word layout (bit 63 is the most significant):
//   w0  in_port (63...32) | eth_type (31...16) | vlan_vid with OFPVID_PRESENT (12...0)
//   w1  eth_dst (47...0) | vlan_pcp (50...48) | ip_proto (63...56)
//   w2  eth_src (47...0) | ip_dscp (53...48) | ip_ecn (55...54)
//   w3  IPv4 src or ARP spa (63...32) | IPv4 dst or ARP tpa (31...0)
//   w4  tcp/udp src or icmp type (63...48) | tcp/udp dst or icmp code (47...32) | arp_op (31...16)
//   w5  metadata
//   w6  IPv6 src, high half | ARP sha          w7  IPv6 src, low half
//   w8  IPv6 dst, high half | ARP tha          w9  IPv6 dst, low half
// Fields that share a word never coexist in one packet (ARP vs IPv4 vs IPv6), and OF 1.3's
// prerequisites make every match that names one also name the eth_type that tells them apart.

/// A packet's header fields (or a match's values or mask) as ten words; a plain value.
public struct FlowKey: Hashable, Sendable {
    public var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0, w4: UInt64 = 0
    public var w5: UInt64 = 0, w6: UInt64 = 0, w7: UInt64 = 0, w8: UInt64 = 0, w9: UInt64 = 0

    /// The number of words.
    public static let wordCount = 10

    /// An all-zero key (as a mask: match everything).
    @inlinable public init() {}

    /// Word `i` (control path; the hot path names the words).
    public subscript(i: Int) -> UInt64 {
        get {
            switch i {
            case 0: w0
            case 1: w1
            case 2: w2
            case 3: w3
            case 4: w4
            case 5: w5
            case 6: w6
            case 7: w7
            case 8: w8
            default: w9
            }
        }
        set {
            switch i {
            case 0: w0 = newValue
            case 1: w1 = newValue
            case 2: w2 = newValue
            case 3: w3 = newValue
            case 4: w4 = newValue
            case 5: w5 = newValue
            case 6: w6 = newValue
            case 7: w7 = newValue
            case 8: w8 = newValue
            default: w9 = newValue
            }
        }
    }

    /// This key with every bit outside `mask` cleared.
    @inlinable @inline(__always)
    public func masked(by m: FlowKey) -> FlowKey {
        var k = FlowKey()
        k.w0 = w0 & m.w0; k.w1 = w1 & m.w1; k.w2 = w2 & m.w2; k.w3 = w3 & m.w3; k.w4 = w4 & m.w4
        k.w5 = w5 & m.w5; k.w6 = w6 & m.w6; k.w7 = w7 & m.w7; k.w8 = w8 & m.w8; k.w9 = w9 & m.w9
        return k
    }

    /// True when every word equals (no short-circuit branches).
    @inlinable @inline(__always)
    public func sameWords(_ o: FlowKey) -> Bool {
        let a = (w0 ^ o.w0) | (w1 ^ o.w1) | (w2 ^ o.w2) | (w3 ^ o.w3) | (w4 ^ o.w4)
        let b = (w5 ^ o.w5) | (w6 ^ o.w6) | (w7 ^ o.w7) | (w8 ^ o.w8) | (w9 ^ o.w9)
        return a | b == 0
    }

    /// True when this key, masked by `mask`, equals `value` (already masked).
    @inlinable @inline(__always)
    public func matches(value v: FlowKey, mask m: FlowKey) -> Bool {
        let a = (w0 & m.w0 ^ v.w0) | (w1 & m.w1 ^ v.w1) | (w2 & m.w2 ^ v.w2) | (w3 & m.w3 ^ v.w3) | (w4 & m.w4 ^ v.w4)
        let b = (w5 & m.w5 ^ v.w5) | (w6 & m.w6 ^ v.w6) | (w7 & m.w7 ^ v.w7) | (w8 & m.w8 ^ v.w8) | (w9 & m.w9 ^ v.w9)
        return a | b == 0
    }

    /// A fast 64-bit hash of the words with `seed` mixed in: each word times its own odd
    /// constant (independent multiplies, so they overlap in the CPU), summed, then folded.
    /// Not keyed: packets cannot lengthen probe runs (a subtable holds the controller's
    /// flows, and the exact-match cache is direct-mapped).
    @inlinable @inline(__always)
    public func hash(seed: UInt64) -> UInt64 {
        let a = (w0 ^ seed) &* 0x9E37_79B9_7F4A_7C15 &+ w1 &* 0xC2B2_AE3D_27D4_EB4F
        let b = w2 &* 0x1656_67B1_9E37_79F9 &+ w3 &* 0xD6E8_FEB8_6659_FD93
        let c = w4 &* 0xFF51_AFD7_ED55_8CCD &+ w5 &* 0xC4CE_B9FE_1A85_EC53
        let d = w6 &* 0x8CB9_2BA7_2F3D_8DD7 &+ w7 &* 0x2545_F491_4F6C_DD1D
        let e = w8 &* 0x94D0_49BB_1331_11EB &+ w9 &* 0xBF58_476D_1CE4_E5B9
        var h = (a ^ (b >> 1 | b << 63)) &+ (c ^ (d >> 3 | d << 61)) &+ e
        h ^= h >> 31
        h = h &* 0x9E37_79B9_7F4A_7C15
        return h ^ (h >> 29)
    }

    // MARK: fields

    /// The ingress port.
    @inlinable public var inPort: UInt32 { UInt32(truncatingIfNeeded: w0 >> 32) }
    /// The EtherType after any VLAN tags (0 for a runt).
    @inlinable public var ethType: UInt16 { UInt16(truncatingIfNeeded: w0 >> 16) }
    /// `OFPVID_PRESENT | vid` for a tagged frame, 0 for an untagged one.
    @inlinable public var vlanVID: UInt16 { UInt16(truncatingIfNeeded: w0) & 0x1FFF }
    /// Destination MAC in the low 48 bits.
    @inlinable public var ethDst: UInt64 { w1 & 0xFFFF_FFFF_FFFF }
    /// Source MAC in the low 48 bits.
    @inlinable public var ethSrc: UInt64 { w2 & 0xFFFF_FFFF_FFFF }
    /// The outermost tag's priority.
    @inlinable public var vlanPCP: UInt8 { UInt8(truncatingIfNeeded: w1 >> 48) & 7 }
    /// IP protocol (IPv4) or last next-header (IPv6).
    @inlinable public var ipProto: UInt8 { UInt8(truncatingIfNeeded: w1 >> 56) }
    /// DSCP (six bits).
    @inlinable public var ipDSCP: UInt8 { UInt8(truncatingIfNeeded: w2 >> 48) & 0x3F }
    /// ECN (two bits).
    @inlinable public var ipECN: UInt8 { UInt8(truncatingIfNeeded: w2 >> 54) & 3 }
    /// IPv4 source, or the ARP sender protocol address.
    @inlinable public var nwSrc: UInt32 { UInt32(truncatingIfNeeded: w3 >> 32) }
    /// IPv4 destination, or the ARP target protocol address.
    @inlinable public var nwDst: UInt32 { UInt32(truncatingIfNeeded: w3) }
    /// TCP/UDP source port, or ICMP type.
    @inlinable public var tpSrc: UInt16 { UInt16(truncatingIfNeeded: w4 >> 48) }
    /// TCP/UDP destination port, or ICMP code.
    @inlinable public var tpDst: UInt16 { UInt16(truncatingIfNeeded: w4 >> 32) }
    /// ARP opcode.
    @inlinable public var arpOp: UInt16 { UInt16(truncatingIfNeeded: w4 >> 16) }
    /// Pipeline metadata.
    @inlinable public var metadata: UInt64 { w5 }
}

extension FlowKey {
    /// Extracts the key of the frame at `p` (`length` bytes) without copying or allocating.
    ///
    /// Reads are bounded by `length`: a truncated header leaves its fields (and all deeper
    /// ones) zero. The outermost 802.1Q/802.1ad tag gives vlan_vid/pcp and up to two inner
    /// tags are skipped to the EtherType. IPv4 options are skipped; non-first fragments have
    /// no L4 fields. IPv6: hop-by-hop, routing, destination-options, fragment and AH headers
    /// are skipped (at most 8); ip_proto is the last next-header; a non-first fragment, ESP
    /// or an unknown header stops there without L4 fields. An 802.3 frame's length field
    /// (below 0x0600) is its eth_type as it stands; a priority tag gives vlan_vid
    /// `OFPVID_PRESENT | 0`.
    @inlinable
    public static func extract(_ p: UnsafeRawPointer, length: Int, inPort: UInt32, metadata: UInt64 = 0) -> FlowKey {
        var k = FlowKey()
        k.w0 = UInt64(inPort) << 32
        k.w5 = metadata
        guard length >= 14 else { return k }
        @inline(__always) func be16(_ o: Int) -> UInt16 { UInt16(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        @inline(__always) func be32(_ o: Int) -> UInt32 { UInt32(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        @inline(__always) func be48(_ o: Int) -> UInt64 { UInt64(be16(o)) << 32 | UInt64(be32(o &+ 2)) }
        // SAFETY: every load below is preceded by a check that it ends within `length`.
        k.w1 = be48(0)
        k.w2 = be48(6)
        var type = be16(12)
        var off = 14
        if type == 0x8100 || type == 0x88A8 {
            guard length >= 18 else { return k }
            let tci = be16(14)
            k.w0 |= UInt64(0x1000 | tci & 0x0FFF)
            k.w1 |= UInt64(tci >> 13) << 48
            type = be16(16)
            off = 18
            var inner = 0
            while (type == 0x8100 || type == 0x88A8) && inner < 2 {
                guard length >= off &+ 4 else { return k }
                type = be16(off &+ 2)
                off &+= 4
                inner &+= 1
            }
        }
        k.w0 |= UInt64(type) << 16
        if type == 0x0806 {
            guard length >= off &+ 28, be16(off) == 1, be16(off &+ 2) == 0x0800,
                  be16(off &+ 4) == 0x0604 else { return k }
            k.w4 = UInt64(be16(off &+ 6)) << 16
            k.w6 = be48(off &+ 8)
            k.w3 = UInt64(be32(off &+ 14)) << 32 | UInt64(be32(off &+ 24))
            k.w8 = be48(off &+ 18)
            return k
        }
        var proto: UInt8
        var l4: Int
        if type == 0x0800 {
            guard length >= off &+ 20 else { return k }
            let vihl = p.load(fromByteOffset: off, as: UInt8.self)
            let ihl = Int(vihl & 0x0F) &* 4
            guard vihl >> 4 == 4, ihl >= 20, length >= off &+ ihl else { return k }
            let tos = p.load(fromByteOffset: off &+ 1, as: UInt8.self)
            proto = p.load(fromByteOffset: off &+ 9, as: UInt8.self)
            k.w1 |= UInt64(proto) << 56
            k.w2 |= UInt64(tos >> 2) << 48 | UInt64(tos & 3) << 54
            k.w3 = UInt64(be32(off &+ 12)) << 32 | UInt64(be32(off &+ 16))
            guard be16(off &+ 6) & 0x1FFF == 0 else { return k } // non-first fragment
            l4 = off &+ ihl
        } else if type == 0x86DD {
            guard length >= off &+ 40 else { return k }
            let head = be32(off)
            guard head >> 28 == 6 else { return k }
            let tc = UInt8(truncatingIfNeeded: head >> 20)
            k.w2 |= UInt64(tc >> 2) << 48 | UInt64(tc & 3) << 54
            k.w6 = p.loadUnaligned(fromByteOffset: off &+ 8, as: UInt64.self).bigEndian
            k.w7 = p.loadUnaligned(fromByteOffset: off &+ 16, as: UInt64.self).bigEndian
            k.w8 = p.loadUnaligned(fromByteOffset: off &+ 24, as: UInt64.self).bigEndian
            k.w9 = p.loadUnaligned(fromByteOffset: off &+ 32, as: UInt64.self).bigEndian
            proto = p.load(fromByteOffset: off &+ 6, as: UInt8.self)
            l4 = off &+ 40
            var hops = 0
            var l4Valid = true
            while hops < 8 {
                if proto == 0 || proto == 43 || proto == 60 || proto == 51 || proto == 44 {
                    guard length >= l4 &+ 8 else { l4Valid = false; break }
                    let next = p.load(fromByteOffset: l4, as: UInt8.self)
                    let lenByte = Int(p.load(fromByteOffset: l4 &+ 1, as: UInt8.self))
                    if proto == 44 {
                        if be16(l4 &+ 2) & 0xFFF8 != 0 { proto = next; l4Valid = false; break }
                        l4 &+= 8
                    } else if proto == 51 {
                        l4 &+= (lenByte &+ 2) &* 4
                    } else {
                        l4 &+= (lenByte &+ 1) &* 8
                    }
                    proto = next
                    hops &+= 1
                } else { break }
            }
            k.w1 |= UInt64(proto) << 56
            guard l4Valid else { return k }
        } else {
            return k
        }
        if proto == 6 {
            guard length >= l4 &+ 20 else { return k }
            k.w4 = UInt64(be16(l4)) << 48 | UInt64(be16(l4 &+ 2)) << 32
        } else if proto == 17 {
            guard length >= l4 &+ 8 else { return k }
            k.w4 = UInt64(be16(l4)) << 48 | UInt64(be16(l4 &+ 2)) << 32
        } else if proto == 1 && type == 0x0800 {
            guard length >= l4 &+ 4 else { return k }
            k.w4 = UInt64(p.load(fromByteOffset: l4, as: UInt8.self)) << 48
                | UInt64(p.load(fromByteOffset: l4 &+ 1, as: UInt8.self)) << 32
        }
        return k
    }

    /// Extracts the key of a frame held in a buffer.
    public static func extract(_ frame: UnsafeRawBufferPointer, inPort: UInt32, metadata: UInt64 = 0) -> FlowKey {
        guard let base = frame.baseAddress else { return extract(UnsafeRawPointer(bitPattern: 1)!, length: 0, inPort: inPort, metadata: metadata) }
        return extract(base, length: frame.count, inPort: inPort, metadata: metadata)
    }
}
