// FlowKey extraction: every supported header, tags, fragments, IPv6 extension headers, and
// truncated frames at every length that never read out of bounds.

import Testing
import Frames
@testable import FlowTables

@Suite struct FlowKeyTests {
    func key(_ f: [UInt8], inPort: UInt32 = 3) -> FlowKey { f.withUnsafeBytes { FlowKey.extract($0, inPort: inPort) } }

    @Test func udpAndTCPAndICMP() {
        let k = key(udpFrame(sport: 1111, dport: 2222))
        #expect(k.inPort == 3 && k.ethType == 0x0800 && k.vlanVID == 0)
        #expect(k.ethSrc == macA.rawValue && k.ethDst == macB.rawValue)
        #expect(k.ipProto == 17 && k.nwSrc == ipA.rawValue && k.nwDst == ipB.rawValue)
        #expect(k.tpSrc == 1111 && k.tpDst == 2222)
        let t = key(tcpFrame(sport: 5, dport: 80))
        #expect(t.ipProto == 6 && t.tpSrc == 5 && t.tpDst == 80)
        let i = key(icmpFrame())
        #expect(i.ipProto == 1 && i.tpSrc == 8 && i.tpDst == 0)
    }

    @Test func tagsGiveVIDAndPCP() {
        let k = key(udpFrame(vlan: 42, pcp: 5))
        #expect(k.vlanVID == 0x1000 | 42 && k.vlanPCP == 5 && k.ethType == 0x0800 && k.tpDst == 2000)
        // QinQ: the outer tag is the VLAN; the inner one is skipped to the EtherType.
        var f = udpFrame(vlan: 7)
        f.insert(contentsOf: [0x88, 0xA8, 0x00, 0x64], at: 12)
        let q = key(f)
        #expect(q.vlanVID == 0x1000 | 100 && q.ethType == 0x0800 && q.nwDst == ipB.rawValue)
    }

    @Test func arpFields() {
        let k = key(FrameBuilder.arpRequest(from: macA, ipA, for: ipB))
        #expect(k.ethType == 0x0806 && k.arpOp == 1 && k.nwSrc == ipA.rawValue && k.nwDst == ipB.rawValue)
        #expect(k.w6 == macA.rawValue && k.w8 == 0)
    }

    @Test func ipv4OptionsAndFragments() {
        // Header with 4 bytes of options (IHL 6): ports still found after them.
        let udp = FrameBuilder.udp(source: ipA, destination: ipB, sourcePort: 7, destinationPort: 9, payload: [1, 2, 3])
        var ip = FrameBuilder.ipv4(source: ipA, destination: ipB, protocol: 17, payload: udp)
        ip.insert(contentsOf: [1, 1, 1, 0], at: 20)
        ip[0] = 0x46
        let k = key(FrameBuilder.ethernet(destination: macB, source: macA, etherType: 0x0800, payload: ip))
        #expect(k.tpSrc == 7 && k.tpDst == 9)
        // A non-first fragment has no L4 fields.
        var frag = udpFrame()
        frag[14 + 6] = 0x00; frag[14 + 7] = 0x10
        let fk = key(frag)
        #expect(fk.ipProto == 17 && fk.tpSrc == 0 && fk.tpDst == 0 && fk.nwSrc == ipA.rawValue)
    }

    @Test func ipv6AndExtensionHeaders() {
        let s = IPv6Bits(high: 0x2001_0DB8_0000_0001, low: 1), d = IPv6Bits(high: 0x2001_0DB8_0000_0002, low: 2)
        let k = key(ipv6Frame(src: s, dst: d, trafficClass: 0xB9))
        #expect(k.ethType == 0x86DD && k.ipProto == 6 && k.tpSrc == 1234 && k.tpDst == 443)
        #expect(k.w6 == s.high && k.w7 == s.low && k.w8 == d.high && k.w9 == d.low)
        #expect(k.ipDSCP == 0xB9 >> 2 && k.ipECN == 1)
        // A hop-by-hop options header is skipped to the TCP header.
        var f = ipv6Frame(src: s, dst: d)
        f[14 + 6] = 0
        f.insert(contentsOf: [6, 0, 1, 4, 0, 0, 0, 0], at: 54)
        let h = key(f)
        #expect(h.ipProto == 6 && h.tpSrc == 1234 && h.tpDst == 443)
    }

    @Test func truncatedFramesAtEveryLength() {
        let s = IPv6Bits(high: 1, low: 2)
        let frames = [udpFrame(), udpFrame(vlan: 5), tcpFrame(), icmpFrame(), FrameBuilder.arpRequest(from: macA, ipA, for: ipB),
                      ipv6Frame(src: s, dst: s), ipv6Frame(src: s, dst: s, proto: 17)]
        for full in frames {
            let complete = key(full)
            for n in 0..<min(60, full.count) {
                // An exact-size heap copy: the address sanitizer or a guard page would catch overreads;
                // here the fields must come out as a prefix of the complete key's knowledge.
                let part = Array(full[0..<n])
                let k = part.withUnsafeBufferPointer { buf -> FlowKey in
                    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 1)
                    defer { raw.deallocate() }
                    if n > 0 { raw.copyMemory(from: buf.baseAddress!, byteCount: n) }
                    return FlowKey.extract(UnsafeRawPointer(raw), length: n, inPort: 3)
                }
                #expect(k.inPort == 3)
                if n < 14 { #expect(k == FlowKey.extract(UnsafeRawBufferPointer(start: nil, count: 0), inPort: 3)) }
                // Whatever was extracted agrees with the complete frame's key.
                if k.tpDst != 0 { #expect(k.tpDst == complete.tpDst) }
                if k.nwDst != 0 { #expect(k.nwDst == complete.nwDst) }
            }
        }
    }
}
