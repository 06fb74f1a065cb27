// Every action's effect on real frame bytes, with checksums recomputed from scratch.

import Testing
import Frames
@testable import FlowTables

@Suite struct FrameEditorTests {
    /// Runs `frame` through one flow applying `actions` then output 2; the output frame.
    func apply(_ actions: [FlowAction], _ frame: [UInt8], match: FlowMatch = FlowMatch()) -> [UInt8] {
        let h = Harness()
        try! h.pipeline.apply(FlowMod(match: match, instructions: [.applyActions(actions + [.output(port: 2)])]), now: 0)
        let r = h.run(frame)
        precondition(r.count == 1)
        return r[0].frame
    }

    let ip = FlowMatch.with { $0.ethType = 0x0800 }
    let udp = FlowMatch.with { $0.ethType = 0x0800; $0.ipProto = 17 }
    let tcp = FlowMatch.with { $0.ethType = 0x0800; $0.ipProto = 6 }

    @Test func pushAndPopVLAN() {
        let f = udpFrame()
        let pushed = apply([.pushVLAN(etherType: 0x8100), .setField(.vlanVID(0x1000 | 42)), .setField(.vlanPCP(5))], f)
        #expect(pushed.count == f.count + 4)
        #expect(Array(pushed[12..<16]) == [0x81, 0x00, 0xA0, 42] && Array(pushed[16...]) == Array(f[12...]))
        #expect(Array(pushed[0..<12]) == Array(f[0..<12]))
        let popped = apply([.popVLAN], pushed)
        #expect(popped == f)
        // Push over an existing tag copies its TCI (QinQ with an S-tag).
        let tagged = udpFrame(vlan: 7, pcp: 3)
        let qinq = apply([.pushVLAN(etherType: 0x88A8)], tagged)
        #expect(Array(qinq[12..<20]) == [0x88, 0xA8, 0x60, 7, 0x81, 0x00, 0x60, 7])
        // Pop of an untagged frame does nothing.
        #expect(apply([.popVLAN], f) == f)
    }

    @Test func ethernetAndVLANFields() {
        let f = apply([.setField(.ethDst(0x0A0B_0C0D_0E0F)), .setField(.ethSrc(0x0200_0000_0099))], udpFrame())
        #expect(Array(f[0..<12]) == [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x02, 0, 0, 0, 0, 0x99])
        let t = apply([.setField(.vlanVID(99))], udpFrame(vlan: 7, pcp: 6), match: .with { $0.vlanVID = Masked(0x1000, mask: 0x1000) })
        #expect(Array(t[14..<16]) == [0xC0, 99])
    }

    @Test func ipv4AddressesFixIPAndL4Checksums() {
        for frame in [udpFrame(), tcpFrame()] {
            let m = frame[23] == 6 ? tcp : udp
            let out = apply([.setField(.ipv4Src(0xC0A8_0101)), .setField(.ipv4Dst(0xAC10_FFFE))], frame, match: m)
            #expect(Array(out[26..<34]) == [192, 168, 1, 1, 172, 16, 255, 254])
            #expect(ipv4ChecksumsValid(out))
        }
        // A UDP datagram without a checksum keeps none.
        var noSum = udpFrame()
        noSum[40] = 0; noSum[41] = 0
        let out = apply([.setField(.ipv4Dst(0x0102_0304))], noSum, match: udp)
        #expect(out[40] == 0 && out[41] == 0 && InternetChecksum.of(Array(out[14..<34])) == 0)
    }

    @Test func portsDSCPECNAndTTL() {
        let u = apply([.setField(.udpSrc(53)), .setField(.udpDst(5353)), .setField(.ipDSCP(46)), .setField(.ipECN(1)), .decNwTTL],
                      udpFrame(), match: udp)
        #expect(Array(u[34..<38]) == [0, 53, 0x14, 0xE9] && u[15] == 46 << 2 | 1 && u[22] == 63)
        #expect(ipv4ChecksumsValid(u))
        let t = apply([.setField(.tcpSrc(4444)), .setField(.tcpDst(8080))], tcpFrame(), match: tcp)
        #expect(Array(t[34..<38]) == [0x11, 0x5C, 0x1F, 0x90] && ipv4ChecksumsValid(t))
        let i = apply([.setField(.icmpv4Type(0)), .setField(.icmpv4Code(3))], icmpFrame(), match: .with { $0.ethType = 0x0800; $0.ipProto = 1 })
        #expect(i[34] == 0 && i[35] == 3 && ipv4ChecksumsValid(i))
    }

    @Test func ipv6FieldsFixTheTCPChecksum() {
        let s = IPv6Bits(high: 0x2001_0DB8_0000_0001, low: 0x10), d = IPv6Bits(high: 0x2001_0DB8_0000_0002, low: 0x20)
        let ns = IPv6Bits(high: 0xFD00_0000_0000_0000, low: 0xABCD), nd = IPv6Bits(high: 0xFE80_0000_0000_0000, low: 1)
        for proto: UInt8 in [6, 17] {
            let f = ipv6Frame(src: s, dst: d, proto: proto, hopLimit: 9)
            let m = FlowMatch.with { $0.ethType = 0x86DD; $0.ipProto = proto }
            let portField: FlowField = proto == 6 ? .tcpDst(8443) : .udpDst(8443)
            let out = apply([.setField(.ipv6Src(ns)), .setField(.ipv6Dst(nd)), .setField(portField), .decNwTTL, .setField(.ipDSCP(10))], f, match: m)
            #expect(Array(out[22..<38]) == bytes(ns) && Array(out[38..<54]) == bytes(nd) && out[21] == 8)
            #expect(out[14] == 0x60 | 10 >> 2 && out[15] >> 4 == (10 << 2) & 0xF)
            #expect(Array(out[56..<58]) == [0x20, 0xFB])
            #expect(ipv6TransportChecksum(src: ns, dst: nd, proto: proto, segment: Array(out[54...])) == 0)
        }
    }

    @Test func arpFields() {
        let arp = FlowMatch.with { $0.ethType = 0x0806 }
        let out = apply([.setField(.arpOp(2)), .setField(.arpSPA(0x0A00_0063)), .setField(.arpTPA(0x0A00_0064)),
                         .setField(.arpSHA(0x0200_0000_00AA)), .setField(.arpTHA(0x0200_0000_00BB))],
                        FrameBuilder.arpRequest(from: macA, ipA, for: ipB), match: arp)
        #expect(Array(out[20..<22]) == [0, 2])
        #expect(Array(out[22..<42]) == [2, 0, 0, 0, 0, 0xAA, 10, 0, 0, 0x63, 2, 0, 0, 0, 0, 0xBB, 10, 0, 0, 0x64])
    }

    @Test func decTTLAtOneDropsOrGoesToTheController() {
        let h = Harness()
        h.add(FlowMatch.with { $0.ethType = 0x0800 }, [.applyActions([.output(port: 3), .decNwTTL, .output(port: 2)])])
        // The output before the decrement still happens, with the TTL untouched.
        let r = h.run(udpFrame(ttl: 1))
        #expect(r.count == 1 && r[0].decision.port == 3 && r[0].frame[22] == 1)
        #expect(h.run(udpFrame(ttl: 2)).map(\.frame[22]) == [2, 1])
        let c = Harness(FlowPipelineConfiguration(invalidTTLToController: true))
        c.add(FlowMatch.with { $0.ethType = 0x0800 }, [.applyActions([.decNwTTL, .output(port: 2)])])
        let rc = c.run(udpFrame(ttl: 0))
        #expect(rc.count == 1 && rc[0].decision.kind == .controller && rc[0].decision.reason == .invalidTTL)
    }

    @Test func truncatedFramesThroughEveryAction() {
        let h = Harness()
        h.add(FlowMatch(), [.applyActions([.output(port: 5), .pushVLAN(etherType: 0x8100), .setField(.ethDst(1)), .popVLAN, .popVLAN,
                                           .setField(.vlanPCP(1)), .decNwTTL, .output(port: 2)]), .gotoTable(1)])
        h.add(table: 1, .with { $0.ethType = 0x0800; $0.ipProto = 6 },
              [.applyActions([.setField(.ipv4Src(1)), .setField(.tcpDst(9)), .setField(.ipDSCP(3)), .output(port: 3)])])
        h.add(table: 1, priority: 1, .with { $0.ethType = 0x86DD; $0.ipProto = 17 },
              [.applyActions([.setField(.ipv6Dst(IPv6Bits(high: 1, low: 1))), .setField(.udpSrc(1)), .output(port: 3)])])
        h.add(table: 1, priority: 2, .with { $0.ethType = 0x0806 }, [.applyActions([.setField(.arpTHA(5)), .output(port: 3)])])
        let s = IPv6Bits(high: 3, low: 4)
        for full in [tcpFrame(), udpFrame(vlan: 3), ipv6Frame(src: s, dst: s, proto: 17), FrameBuilder.arpRequest(from: macA, ipA, for: ipB), icmpFrame()] {
            for n in 0..<min(60, full.count) {
                let r = h.run(Array(full[0..<n]))
                #expect(r.count >= 1)
            }
        }
    }
}
