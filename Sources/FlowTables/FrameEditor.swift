// FrameEditor: the actions' effects on frame bytes, in place: VLAN push/pop (moving the
// frame within its slot's tailroom, as the switch's egress tagging does), set-field, TTL
// decrement, with RFC 1624 incremental updates of the IPv4 header and L4 checksums.
// Every access is bounded by the frame's length; a header that is not there is left alone.

/// Where the headers of a frame are (offsets from the frame start; -1 when absent).
@usableFromInline
struct HeaderOffsets {
    /// Offset of the EtherType after the tags.
    @usableFromInline var typeOffset = 12
    @usableFromInline var etherType: UInt16 = 0
    @usableFromInline var l3 = -1
    @usableFromInline var l4 = -1
    @usableFromInline var proto: UInt8 = 0
    @usableFromInline init() {}
}

/// In-place frame edits for the flow actions.
@usableFromInline
enum FrameEditor {
    @inlinable @inline(__always)
    static func be16(_ p: UnsafeMutableRawPointer, _ o: Int) -> UInt16 {
        UInt16(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    @inlinable @inline(__always)
    static func be32(_ p: UnsafeMutableRawPointer, _ o: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }
    @inlinable @inline(__always)
    static func put16(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: UInt16) {
        p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self)
    }
    @inlinable @inline(__always)
    static func put32(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: UInt32) {
        p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self)
    }
    @inlinable @inline(__always)
    static func put48(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: UInt64) {
        put16(p, o, UInt16(truncatingIfNeeded: v >> 32))
        put32(p, o &+ 2, UInt32(truncatingIfNeeded: v))
    }

    /// RFC 1624 eq. 3: the checksum `hc` after a 16-bit word changes from `old` to `new`.
    @inlinable @inline(__always)
    static func adjust(_ hc: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var s = UInt32(~hc) &+ UInt32(~old) &+ UInt32(new)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return ~UInt16(truncatingIfNeeded: s)
    }

    @inlinable @inline(__always)
    static func adjust32(_ hc: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        let h = adjust(hc, old: UInt16(truncatingIfNeeded: old >> 16), new: UInt16(truncatingIfNeeded: new >> 16))
        return adjust(h, old: UInt16(truncatingIfNeeded: old), new: UInt16(truncatingIfNeeded: new))
    }

    /// Finds the headers (same rules as `FlowKey.extract`).
    @inlinable
    static func locate(_ p: UnsafeMutableRawPointer, _ len: Int) -> HeaderOffsets {
        var h = HeaderOffsets()
        guard len >= 14 else { return h }
        var off = 12
        var type = be16(p, 12)
        var tags = 0
        while (type == 0x8100 || type == 0x88A8) && tags < 3 {
            guard len >= off &+ 6 else { return h }
            off &+= 4
            type = be16(p, off)
            tags &+= 1
        }
        h.typeOffset = off
        h.etherType = type
        let l3 = off &+ 2
        if type == 0x0800 {
            guard len >= l3 &+ 20 else { return h }
            let vihl = p.load(fromByteOffset: l3, as: UInt8.self)
            let ihl = Int(vihl & 0x0F) &* 4
            guard vihl >> 4 == 4, ihl >= 20, len >= l3 &+ ihl else { return h }
            h.l3 = l3
            h.proto = p.load(fromByteOffset: l3 &+ 9, as: UInt8.self)
            if be16(p, l3 &+ 6) & 0x1FFF == 0 { h.l4 = l3 &+ ihl }
        } else if type == 0x86DD {
            guard len >= l3 &+ 40, p.load(fromByteOffset: l3, as: UInt8.self) >> 4 == 6 else { return h }
            h.l3 = l3
            var proto = p.load(fromByteOffset: l3 &+ 6, as: UInt8.self)
            var l4 = l3 &+ 40
            var hops = 0
            while hops < 8 && (proto == 0 || proto == 43 || proto == 60 || proto == 51 || proto == 44) {
                guard len >= l4 &+ 8 else { h.proto = proto; return h }
                let next = p.load(fromByteOffset: l4, as: UInt8.self)
                let lenByte = Int(p.load(fromByteOffset: l4 &+ 1, as: UInt8.self))
                if proto == 44 {
                    if be16(p, l4 &+ 2) & 0xFFF8 != 0 { h.proto = next; return h }
                    l4 &+= 8
                } else if proto == 51 {
                    l4 &+= (lenByte &+ 2) &* 4
                } else {
                    l4 &+= (lenByte &+ 1) &* 8
                }
                proto = next
                hops &+= 1
            }
            h.proto = proto
            h.l4 = l4
        } else if type == 0x0806 {
            if len >= l3 &+ 28 { h.l3 = l3 }
        }
        return h
    }

    /// Offset of the L4 checksum that covers the IP pseudo header, or -1.
    @inlinable @inline(__always)
    static func pseudoChecksumOffset(_ h: HeaderOffsets, _ len: Int) -> Int {
        guard h.l4 >= 0 else { return -1 }
        if h.proto == 6 && len >= h.l4 &+ 20 { return h.l4 &+ 16 }
        if h.proto == 17 && len >= h.l4 &+ 8 { return h.l4 &+ 6 }
        if h.proto == 58 && h.etherType == 0x86DD && len >= h.l4 &+ 4 { return h.l4 &+ 2 }
        return -1
    }

    /// Adjusts the L4 checksum at `at` for a 16-bit change; UDP's "no checksum" stays 0.
    @inlinable @inline(__always)
    static func adjustL4(_ p: UnsafeMutableRawPointer, _ h: HeaderOffsets, at: Int, old: UInt16, new: UInt16) {
        guard at >= 0 else { return }
        let udp = h.proto == 17
        let cur = be16(p, at)
        if udp && cur == 0 && h.etherType == 0x0800 { return }
        var sum = adjust(cur, old: old, new: new)
        if udp && sum == 0 { sum = 0xFFFF }
        put16(p, at, sum)
    }

    /// Pushes an outermost tag; the TCI is copied from the current outer tag, else 0.
    /// False when the slot has no room (`capacity` bytes).
    @inlinable
    static func pushVLAN(_ p: UnsafeMutableRawPointer, _ len: inout Int, capacity: Int, tpid: UInt16) -> Bool {
        guard len >= 14, len &+ 4 <= capacity else { return false }
        let outer = be16(p, 12)
        let tci: UInt16 = (outer == 0x8100 || outer == 0x88A8) && len >= 18 ? be16(p, 14) : 0
        // SAFETY: len + 4 <= capacity, the slot's size; memmove handles the overlap.
        (p + 16).copyMemory(from: p + 12, byteCount: len &- 12)
        put16(p, 12, tpid)
        put16(p, 14, tci)
        len &+= 4
        return true
    }

    /// Removes the outermost tag if there is one.
    @inlinable
    static func popVLAN(_ p: UnsafeMutableRawPointer, _ len: inout Int) {
        guard len >= 18 else { return }
        let outer = be16(p, 12)
        guard outer == 0x8100 || outer == 0x88A8 else { return }
        // SAFETY: both ranges lie within the frame's len bytes.
        (p + 12).copyMemory(from: p + 16, byteCount: len &- 16)
        len &-= 4
    }

    /// Decrements the IPv4 TTL (fixing the header checksum) or the IPv6 hop limit.
    /// False when the TTL is already <= 1 (the packet must not be forwarded).
    @inlinable
    static func decTTL(_ p: UnsafeMutableRawPointer, _ len: Int) -> Bool {
        let h = locate(p, len)
        guard h.l3 >= 0 else { return true }
        if h.etherType == 0x0800 {
            let ttl = p.load(fromByteOffset: h.l3 &+ 8, as: UInt8.self)
            guard ttl > 1 else { return false }
            let old = be16(p, h.l3 &+ 8)
            let new = old &- 0x0100
            put16(p, h.l3 &+ 8, new)
            put16(p, h.l3 &+ 10, adjust(be16(p, h.l3 &+ 10), old: old, new: new))
        } else if h.etherType == 0x86DD {
            let hop = p.load(fromByteOffset: h.l3 &+ 7, as: UInt8.self)
            guard hop > 1 else { return false }
            p.storeBytes(of: hop &- 1, toByteOffset: h.l3 &+ 7, as: UInt8.self)
        }
        return true
    }

    /// Writes a set-field value where the header exists.
    @inlinable
    static func setField(_ p: UnsafeMutableRawPointer, _ len: Int, field: UInt8, v: UInt64, v2: UInt64) {
        guard len >= 14 else { return }
        switch field {
        case 0: put48(p, 0, v)
        case 1: put48(p, 6, v)
        case 2, 3:
            let outer = be16(p, 12)
            guard (outer == 0x8100 || outer == 0x88A8) && len >= 18 else { return }
            let tci = be16(p, 14)
            put16(p, 14, field == 2 ? tci & 0xF000 | UInt16(truncatingIfNeeded: v) : tci & 0x1FFF | UInt16(truncatingIfNeeded: v) << 13)
        default:
            setL3(p, len, field: field, v: v, v2: v2)
        }
    }

    @inlinable
    static func setL3(_ p: UnsafeMutableRawPointer, _ len: Int, field: UInt8, v: UInt64, v2: UInt64) {
        let h = locate(p, len)
        guard h.l3 >= 0 else { return }
        let l3 = h.l3
        switch field {
        case 4, 5: // DSCP, ECN
            if h.etherType == 0x0800 {
                let old = be16(p, l3)
                let tos = UInt16(old & 0xFF)
                let newTos = field == 4 ? tos & 3 | UInt16(v) << 2 : tos & 0xFC | UInt16(v)
                let new = old & 0xFF00 | newTos
                put16(p, l3, new)
                put16(p, l3 &+ 10, adjust(be16(p, l3 &+ 10), old: old, new: new))
            } else if h.etherType == 0x86DD {
                let word = be32(p, l3)
                let tc = UInt32(word >> 20) & 0xFF
                let newTC = field == 4 ? tc & 3 | UInt32(v) << 2 : tc & 0xFC | UInt32(v)
                put32(p, l3, word & 0xF00F_FFFF | newTC << 20)
            }
        case 6, 7: // IPv4 src, dst
            guard h.etherType == 0x0800 else { return }
            let at = l3 &+ (field == 6 ? 12 : 16)
            let old = be32(p, at), new = UInt32(truncatingIfNeeded: v)
            put32(p, at, new)
            put16(p, l3 &+ 10, adjust32(be16(p, l3 &+ 10), old: old, new: new))
            let c = pseudoChecksumOffset(h, len)
            adjustL4(p, h, at: c, old: UInt16(truncatingIfNeeded: old >> 16), new: UInt16(truncatingIfNeeded: new >> 16))
            adjustL4(p, h, at: c, old: UInt16(truncatingIfNeeded: old), new: UInt16(truncatingIfNeeded: new))
        case 8, 9: // IPv6 src, dst
            guard h.etherType == 0x86DD else { return }
            let at = l3 &+ (field == 8 ? 8 : 24)
            let c = pseudoChecksumOffset(h, len)
            for i in 0..<8 {
                let old = be16(p, at &+ 2 &* i)
                let new = UInt16(truncatingIfNeeded: (i < 4 ? v : v2) >> UInt64(48 &- 16 &* (i & 3)))
                put16(p, at &+ 2 &* i, new)
                adjustL4(p, h, at: c, old: old, new: new)
            }
        case 10, 11, 12, 13: // TCP/UDP ports
            let wantProto: UInt8 = field <= 11 ? 6 : 17
            guard h.proto == wantProto else { return }
            let c = pseudoChecksumOffset(h, len)
            guard c >= 0 else { return }
            let at = h.l4 &+ (field & 1 == 0 ? 0 : 2)
            let old = be16(p, at), new = UInt16(truncatingIfNeeded: v)
            put16(p, at, new)
            adjustL4(p, h, at: c, old: old, new: new)
        case 14, 15: // ICMPv4 type, code
            guard h.etherType == 0x0800, h.proto == 1, h.l4 >= 0, len >= h.l4 &+ 4 else { return }
            let old = be16(p, h.l4)
            let new = field == 14 ? old & 0x00FF | UInt16(truncatingIfNeeded: v) << 8 : old & 0xFF00 | UInt16(truncatingIfNeeded: v)
            put16(p, h.l4, new)
            put16(p, h.l4 &+ 2, adjust(be16(p, h.l4 &+ 2), old: old, new: new))
        case 16: if h.etherType == 0x0806 { put16(p, l3 &+ 6, UInt16(truncatingIfNeeded: v)) }
        case 17: if h.etherType == 0x0806 { put32(p, l3 &+ 14, UInt32(truncatingIfNeeded: v)) }
        case 18: if h.etherType == 0x0806 { put32(p, l3 &+ 24, UInt32(truncatingIfNeeded: v)) }
        case 19: if h.etherType == 0x0806 { put48(p, l3 &+ 8, v) }
        case 20: if h.etherType == 0x0806 { put48(p, l3 &+ 18, v) }
        default: break
        }
    }
}
