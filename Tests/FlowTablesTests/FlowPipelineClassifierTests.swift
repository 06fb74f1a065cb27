// Differential test: the tuple-space classifier (and its cache) against a linear scan over
// thousands of random flows and keys, across adds and deletes.

import Testing
@testable import FlowTables

@Suite struct FlowPipelineClassifierTests {
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// A random valid match over a small value space, so keys often match several flows.
    func randomMatch(_ r: inout RNG) -> FlowMatch {
        var m = FlowMatch()
        if r.below(3) == 0 { m.inPort = UInt32(1 + r.below(4)) }
        if r.below(3) == 0 { m.ethDst = Masked(UInt64(r.below(4)), mask: r.below(2) == 0 ? ~0 : 0x3) }
        if r.below(4) == 0 {
            m.vlanVID = [Masked<UInt16>.exact(0), Masked(0x1000, mask: 0x1000), .exact(0x1000 | UInt16(1 + r.below(3)))][r.below(3)]
        }
        if r.below(5) == 0 { m.metadata = Masked(UInt64(r.below(4)) & 1, mask: 1) }
        switch r.below(4) {
        case 0: break
        case 1: m.ethType = 0x0806; if r.below(2) == 0 { m.arpOp = UInt16(1 + r.below(2)) }
        default:
            m.ethType = 0x0800
            if r.below(2) == 0 {
                let len = [8, 16, 24, 30, 32][r.below(5)]
                let mask: UInt32 = ~0 << UInt32(32 - len)
                m.ipv4Dst = Masked((0x0A00_0000 | UInt32(r.below(8)) << 8 | UInt32(r.below(4))) & mask, mask: mask)
            }
            if r.below(2) == 0 {
                m.ipProto = r.below(2) == 0 ? 6 : 17
                if r.below(2) == 0 {
                    if m.ipProto == 6 { m.tcpDst = UInt16(80 + r.below(3)) } else { m.udpDst = UInt16(53 + r.below(3)) }
                }
            }
        }
        return m
    }

    /// A key near a random flow's values: its unmasked bits drawn from a small space.
    func randomKey(_ r: inout RNG, flows: [(FlowKey, FlowKey)]) -> FlowKey {
        var k = FlowKey()
        let (v, m) = flows[r.below(flows.count)]
        for w in 0..<FlowKey.wordCount {
            let noise = r.below(3) == 0 ? r.next() & 0x0303_0303_0303_0303 : 0
            k[w] = r.below(5) == 0 ? noise : v[w] | noise & ~m[w]
        }
        // Keep keys that look like packets in the word-0 fields the matches use.
        k.w0 = k.w0 & ~0xFFFF_0000_0000_0000
        return k
    }

    @Test func tupleSpaceAgreesWithALinearScan() throws {
        var r = RNG(s: 2026)
        let h = Harness(FlowPipelineConfiguration(tableCount: 2, cacheEntries: 256))
        // Distinct priorities: equal-priority overlaps are undefined in OF 1.3.
        var priorities = Array(1...30_000).map { UInt16($0) }
        for i in stride(from: priorities.count - 1, to: 0, by: -1) { priorities.swapAt(i, r.below(i + 1)) }
        var ids: [(FlowKey, FlowKey)] = []
        var mods: [FlowMod] = []
        for i in 0..<2000 {
            let m = randomMatch(&r)
            let mod = FlowMod(priority: priorities[i], match: m, instructions: [out(UInt32(2 + i))])
            try h.pipeline.apply(mod, now: 0)
            ids.append(m.compiled())
            mods.append(mod)
        }
        func compare(_ rounds: Int) {
            var agreed = 0, matched = 0
            for _ in 0..<rounds {
                let k = randomKey(&r, flows: ids)
                let expected = h.pipeline.linearLookup(table: 0, key: k)
                let fast = h.pipeline.classify(table: 0, key: k)
                let cached = h.pipeline.lookup(table: 0, key: k)
                let again = h.pipeline.lookup(table: 0, key: k)
                if expected == fast && fast == cached && cached == again { agreed += 1 }
                if expected >= 0 { matched += 1 }
            }
            #expect(agreed == rounds)
            #expect(matched > rounds / 4, "the keys should exercise matches, not only misses")
        }
        compare(4000)
        #expect(h.pipeline.tables[0].orderCount > 20)
        // Delete half (strict), then compare again: subtables shrink, priorities recomputed.
        for i in stride(from: 0, to: mods.count, by: 2) {
            var d = mods[i]
            d.command = .deleteStrict
            try h.pipeline.apply(d, now: 0)
        }
        #expect(h.pipeline.flowCount == 1000)
        compare(4000)
    }
}
