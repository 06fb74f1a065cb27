// FlowMatch: OF 1.3 prerequisites, bad wildcards and values, and vlan_vid semantics.

import Testing
import Frames
@testable import FlowTables

@Suite struct FlowMatchTests {
    func error(_ m: FlowMatch) -> FlowError? {
        do { try m.validate(); return nil } catch { return error }
    }

    @Test func prerequisitesAreEnforced() {
        #expect(error(.with { $0.tcpSrc = 80 }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.ipProto = 6; $0.tcpSrc = 80 }) == .badMatch(.badPrereq)) // no eth_type
        #expect(error(.with { $0.ethType = 0x0800; $0.ipProto = 17; $0.tcpSrc = 80 }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.ethType = 0x0800; $0.ipProto = 6; $0.tcpSrc = 80 }) == nil)
        #expect(error(.with { $0.ethType = 0x86DD; $0.ipProto = 17; $0.udpDst = 53 }) == nil)
        #expect(error(.with { $0.ipv4Src = .exact(1) }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.ethType = 0x86DD; $0.ipv4Src = .exact(1) }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.ethType = 0x0800; $0.ipv6Dst = MaskedIPv6(IPv6Bits(high: 1, low: 0)) }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.arpOp = 1 }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.ethType = 0x0806; $0.arpOp = 1; $0.arpTPA = .exact(7) }) == nil)
        #expect(error(.with { $0.ethType = 0x86DD; $0.ipProto = 1; $0.icmpv4Type = 8 }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.ethType = 0x0800; $0.ipProto = 1; $0.icmpv4Type = 8 }) == nil)
        #expect(error(.with { $0.ipDSCP = 10 }) == .badMatch(.badPrereq))
        // vlan_pcp needs a VID that says "tagged".
        #expect(error(.with { $0.vlanPCP = 3 }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.vlanVID = .exact(0); $0.vlanPCP = 3 }) == .badMatch(.badPrereq))
        #expect(error(.with { $0.vlanVID = Masked(0x1000, mask: 0x1000); $0.vlanPCP = 3 }) == nil)
    }

    @Test func badWildcardsAndValues() {
        #expect(error(.with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(0x0A00_0001, mask: 0xFFFF_FF00) }) == .badMatch(.badWildcards))
        #expect(error(.with { $0.metadata = Masked(3, mask: 1) }) == .badMatch(.badWildcards))
        #expect(error(.with { $0.ethDst = Masked(0x1_0000_0000_0000, mask: ~0) }) == .badMatch(.badValue))
        #expect(error(.with { $0.vlanVID = .exact(0x2000) }) == .badMatch(.badValue))
        #expect(error(.with { $0.vlanVID = .exact(5) }) == .badMatch(.badValue)) // VID without the present bit
        #expect(error(.with { $0.vlanVID = .exact(0x1005); $0.vlanPCP = 8 }) == .badMatch(.badValue))
        #expect(error(.with { $0.inPort = 0 }) == .badMatch(.badValue))
        #expect(error(.with { $0.inPort = OFPort.flood }) == .badMatch(.badValue))
        #expect(error(.with { $0.ethType = 0x0800; $0.ipDSCP = 64 }) == .badMatch(.badValue))
        #expect(FlowError.badMatch(.badPrereq).type == 4 && FlowError.badMatch(.badPrereq).code == 9)
        #expect(FlowError.flowModFailed(.tableFull).type == 5 && FlowError.flowModFailed(.tableFull).code == 1)
        #expect(FlowError.badMatch(.badWildcards).code == 5 && FlowError.groupModFailed(.loop).code == 7)
    }

    @Test func vlanVIDSemantics() {
        let untagged = udpFrame(), tagged = udpFrame(vlan: 10), other = udpFrame(vlan: 20)
        func hits(_ m: FlowMatch, _ f: [UInt8]) -> Bool {
            let (v, mask) = m.compiled()
            let k = f.withUnsafeBytes { FlowKey.extract($0, inPort: 1) }
            return k.matches(value: v, mask: mask)
        }
        let none = FlowMatch.with { $0.vlanVID = .exact(0) }
        let any = FlowMatch.with { $0.vlanVID = Masked(0x1000, mask: 0x1000) }
        let ten = FlowMatch.with { $0.vlanVID = .exact(0x1000 | 10) }
        #expect(hits(none, untagged) && !hits(none, tagged))
        #expect(!hits(any, untagged) && hits(any, tagged) && hits(any, other))
        #expect(!hits(ten, untagged) && hits(ten, tagged) && !hits(ten, other))
        #expect(hits(FlowMatch(), untagged) && hits(FlowMatch(), tagged))
    }
}
