// FlowFormat: flows, matches, actions and traces as text in ovs-ofctl's syntax, for
// `switchboard flows` and `switchboard trace --live`.

import FlowTables
import Frames

/// Text forms of the flow datapath's values, as `ovs-ofctl dump-flows` prints them.
public enum FlowFormat {
    static func mac(_ v: UInt64) -> String { MACAddress(rawValue: v & 0xFFFF_FFFF_FFFF).description }
    static func ipv4(_ v: UInt32) -> String { IPv4Address(rawValue: v).description }
    static func hex(_ v: some BinaryInteger) -> String { "0x" + String(v, radix: 16) }

    static func ipv4(_ m: Masked<UInt32>) -> String {
        if m.mask == ~0 { return ipv4(m.value) }
        let prefix = m.mask.leadingZeroBitCount == 0 && (~m.mask).nonzeroBitCount == m.mask.trailingZeroBitCount
        return prefix ? "\(ipv4(m.value))/\(m.mask.nonzeroBitCount)" : "\(ipv4(m.value))/\(ipv4(m.mask))"
    }

    static func macMasked(_ m: Masked<UInt64>) -> String {
        m.mask & 0xFFFF_FFFF_FFFF == 0xFFFF_FFFF_FFFF ? mac(m.value) : "\(mac(m.value))/\(mac(m.mask))"
    }

    static func ipv6(_ v: IPv6Bits) -> String {
        let words = (0..<8).map { i -> String in
            let w = i < 4 ? v.high >> UInt64(48 - 16 * i) : v.low >> UInt64(48 - 16 * (i - 4))
            return String(UInt16(truncatingIfNeeded: w), radix: 16)
        }
        return words.joined(separator: ":")
    }

    /// A match as ovs-ofctl writes it ("" for match-all).
    public static func match(_ f: FlowMatch) -> String {
        var parts: [String] = []
        if let x = f.inPort { parts.append("in_port=\(port(x))") }
        if let x = f.metadata { parts.append("metadata=\(hex(x.value))" + (x.mask == ~0 ? "" : "/\(hex(x.mask))")) }
        if let x = f.vlanVID {
            let mask = x.mask & 0x1FFF
            if mask == 0x1FFF {
                parts.append(x.value == 0 ? "vlan_tci=0x0000/0x1fff" : "dl_vlan=\(x.value & 0xFFF)")
            } else {
                parts.append("vlan_vid=\(hex(x.value))/\(hex(mask))")
            }
        }
        if let x = f.vlanPCP { parts.append("dl_vlan_pcp=\(x)") }
        if let x = f.ethSrc { parts.append("dl_src=\(macMasked(x))") }
        if let x = f.ethDst { parts.append("dl_dst=\(macMasked(x))") }
        if let x = f.ethType { parts.append("dl_type=\(String(format: "0x%04x", x))") }
        if let x = f.ipv4Src { parts.append("nw_src=\(ipv4(x))") }
        if let x = f.ipv4Dst { parts.append("nw_dst=\(ipv4(x))") }
        if let x = f.ipv6Src { parts.append("ipv6_src=\(ipv6(x.value))") }
        if let x = f.ipv6Dst { parts.append("ipv6_dst=\(ipv6(x.value))") }
        if let x = f.ipProto { parts.append("nw_proto=\(x)") }
        if let x = f.ipDSCP { parts.append("nw_tos=\(Int(x) << 2)") }
        if let x = f.ipECN { parts.append("nw_ecn=\(x)") }
        if let x = f.tcpSrc ?? f.udpSrc { parts.append("tp_src=\(x)") }
        if let x = f.tcpDst ?? f.udpDst { parts.append("tp_dst=\(x)") }
        if let x = f.icmpv4Type { parts.append("icmp_type=\(x)") }
        if let x = f.icmpv4Code { parts.append("icmp_code=\(x)") }
        if let x = f.arpOp { parts.append("arp_op=\(x)") }
        if let x = f.arpSPA { parts.append("arp_spa=\(ipv4(x))") }
        if let x = f.arpTPA { parts.append("arp_tpa=\(ipv4(x))") }
        if let x = f.arpSHA { parts.append("arp_sha=\(macMasked(x))") }
        if let x = f.arpTHA { parts.append("arp_tha=\(macMasked(x))") }
        return parts.joined(separator: ",")
    }

    /// A port number (reserved ones by name).
    public static func port(_ p: UInt32) -> String {
        switch p {
        case OFPort.inPort: return "IN_PORT"
        case OFPort.table: return "TABLE"
        case OFPort.normal: return "NORMAL"
        case OFPort.flood: return "FLOOD"
        case OFPort.all: return "ALL"
        case OFPort.controller: return "CONTROLLER"
        case OFPort.local: return "LOCAL"
        case OFPort.any: return "ANY"
        default: return "\(p)"
        }
    }

    /// An action.
    public static func action(_ a: FlowAction) -> String {
        switch a {
        case .output(let p, let maxLength):
            if p == OFPort.controller { return "CONTROLLER:\(maxLength)" }
            return p >= OFPort.max ? port(p) : "output:\(p)"
        case .pushVLAN(let e): return "push_vlan:\(String(format: "0x%04x", e))"
        case .popVLAN: return "pop_vlan"
        case .group(let g): return "group:\(g)"
        case .decNwTTL: return "dec_ttl"
        case .setQueue(let q): return "set_queue:\(q)"
        case .setField(let f): return "set_field:\(field(f))"
        }
    }

    static func field(_ f: FlowField) -> String {
        switch f {
        case .ethDst(let v): return "\(mac(v))->eth_dst"
        case .ethSrc(let v): return "\(mac(v))->eth_src"
        case .vlanVID(let v): return "\(v)->vlan_vid"
        case .vlanPCP(let v): return "\(v)->vlan_pcp"
        case .ipDSCP(let v): return "\(v)->ip_dscp"
        case .ipECN(let v): return "\(v)->ip_ecn"
        case .ipv4Src(let v): return "\(ipv4(v))->ip_src"
        case .ipv4Dst(let v): return "\(ipv4(v))->ip_dst"
        case .ipv6Src(let v): return "\(ipv6(v))->ipv6_src"
        case .ipv6Dst(let v): return "\(ipv6(v))->ipv6_dst"
        case .tcpSrc(let v): return "\(v)->tcp_src"
        case .tcpDst(let v): return "\(v)->tcp_dst"
        case .udpSrc(let v): return "\(v)->udp_src"
        case .udpDst(let v): return "\(v)->udp_dst"
        case .icmpv4Type(let v): return "\(v)->icmpv4_type"
        case .icmpv4Code(let v): return "\(v)->icmpv4_code"
        case .arpOp(let v): return "\(v)->arp_op"
        case .arpSPA(let v): return "\(ipv4(v))->arp_spa"
        case .arpTPA(let v): return "\(ipv4(v))->arp_tpa"
        case .arpSHA(let v): return "\(mac(v))->arp_sha"
        case .arpTHA(let v): return "\(mac(v))->arp_tha"
        }
    }

    /// Instructions as ovs-ofctl's `actions=` text ("drop" when there are none).
    public static func instructions(_ list: [FlowInstruction]) -> String {
        var parts: [String] = []
        for i in list {
            switch i {
            case .applyActions(let a): parts.append(contentsOf: a.map(action))
            case .writeActions(let a): parts.append("write_actions(\(a.map(action).joined(separator: ",")))")
            case .clearActions: parts.append("clear_actions")
            case .writeMetadata(let v, let m): parts.append("write_metadata:\(hex(v))" + (m == ~0 ? "" : "/\(hex(m))"))
            case .gotoTable(let t): parts.append("goto_table:\(t)")
            }
        }
        return parts.isEmpty ? "drop" : parts.joined(separator: ",")
    }

    /// One flow as a `dump-flows` line.
    public static func flow(_ e: FlowEntry) -> String {
        let seconds = Double(max(0, e.durationNanoseconds)) / 1e9
        var line = " cookie=\(hex(e.cookie)), duration=\(String(format: "%.3f", seconds))s, table=\(e.tableID), "
            + "n_packets=\(e.packets), n_bytes=\(e.bytes), "
        if e.idleTimeout != 0 { line += "idle_timeout=\(e.idleTimeout), " }
        if e.hardTimeout != 0 { line += "hard_timeout=\(e.hardTimeout), " }
        let m = match(e.match)
        line += "priority=\(e.priority)" + (m.isEmpty ? "" : ",\(m)") + " actions=\(instructions(e.instructions))"
        return line
    }
}
