// Groups: ALL clones per bucket, SELECT spreads by weight and is stable per flow, INDIRECT,
// group-mod errors, chaining without loops, deleting a group deletes its flows, counters.

import Testing
import Frames
@testable import FlowTables

@Suite struct FlowPipelineGroupTests {
    func gmod(_ h: Harness, _ cmd: GroupMod.Command, _ type: GroupType, _ id: UInt32, _ buckets: [GroupBucket]) -> FlowError? {
        do { try h.pipeline.apply(GroupMod(command: cmd, type: type, groupID: id, buckets: buckets), now: h.now); return nil }
        catch { return error }
    }

    func group(_ h: Harness, _ type: GroupType, _ id: UInt32, _ buckets: [GroupBucket]) -> FlowError? {
        gmod(h, .add, type, id, buckets)
    }

    @Test func allClonesTheFramePerBucket() {
        let h = Harness()
        #expect(group(h, .all, 1, [
            GroupBucket(actions: [.setField(.ethDst(0x0200_0000_0001)), .output(port: 2)]),
            GroupBucket(actions: [.pushVLAN(etherType: 0x8100), .setField(.vlanVID(8)), .output(port: 3)]),
            GroupBucket(actions: [.output(port: 4)]),
        ]) == nil)
        h.add(.with { $0.ethType = 0x0800 }, [.applyActions([.group(1), .output(port: 5)])])
        let f = udpFrame()
        let r = h.run(f)
        #expect(r.map(\.decision.port) == [2, 3, 4, 5])
        #expect(Array(r[0].frame[0..<6]) == [2, 0, 0, 0, 0, 1] && Array(r[0].frame[6...]) == Array(f[6...]))
        #expect(r[1].frame.count == f.count + 4 && r[1].frame[15] == 8 && Array(r[1].frame[0..<12]) == Array(f[0..<12]))
        #expect(r[2].frame == f && r[3].frame == f) // buckets never leak edits into each other or the packet
        let stats = h.pipeline.groupStatistics(now: h.now)
        #expect(stats.count == 1 && stats[0].packets == 1 && stats[0].bytes == UInt64(f.count) && stats[0].referenceCount == 1)
        #expect(stats[0].buckets.map(\.packets) == [1, 1, 1])
    }

    @Test func selectSpreadsByWeightAndIsStablePerFlow() {
        let h = Harness()
        #expect(group(h, .select, 2, [GroupBucket(weight: 1, actions: [.output(port: 2)]),
                                      GroupBucket(weight: 3, actions: [.output(port: 3)])]) == nil)
        h.add(.with { $0.ethType = 0x0800 }, [.writeActions([.group(2)])])
        var counts: [UInt32: Int] = [:]
        for sport in 0..<2000 {
            let f = udpFrame(sport: UInt16(1000 + sport))
            let first = h.ports(f)
            #expect(first.count == 1)
            #expect(h.ports(f) == first) // the same flow always picks the same bucket
            counts[first[0], default: 0] += 1
        }
        // Weight 1:3 over 2000 flows: both used, the heavy one clearly more (binomial, far from the bounds).
        #expect((300...700).contains(counts[2] ?? 0) && (1300...1700).contains(counts[3] ?? 0))
    }

    @Test func indirectAndChaining() {
        let h = Harness()
        #expect(group(h, .indirect, 10, [GroupBucket(actions: [.output(port: 6)])]) == nil)
        #expect(group(h, .all, 11, [GroupBucket(actions: [.group(10)]), GroupBucket(actions: [.output(port: 7)])]) == nil)
        h.add(FlowMatch(), [.applyActions([.group(11)])])
        #expect(h.ports(udpFrame()) == [6, 7])
        // Group 10 -> 11 would close a loop.
        #expect(gmod(h, .modify, .indirect, 10, [GroupBucket(actions: [.group(11)])]) == .groupModFailed(.loop))
        #expect(gmod(h, .modify, .indirect, 10, [GroupBucket(actions: [.output(port: 9)])]) == nil)
        #expect(h.ports(udpFrame()) == [9, 7])
        // 10 is chained from 11: deleting it is refused.
        #expect(gmod(h, .delete, .all, 10, []) == .groupModFailed(.chainedGroup))
    }

    @Test func groupModErrors() {
        let h = Harness(FlowPipelineConfiguration(maxGroups: 2))
        #expect(group(h, .indirect, 1, [GroupBucket(actions: [.output(port: 2)])]) == nil)
        #expect(group(h, .indirect, 1, [GroupBucket(actions: [.output(port: 2)])]) == .groupModFailed(.groupExists))
        #expect(gmod(h, .modify, .all, 5, []) == .groupModFailed(.unknownGroup))
        #expect(group(h, .indirect, 2, []) == .groupModFailed(.invalidGroup))
        #expect(group(h, .fastFailover, 2, []) == .groupModFailed(.badType))
        #expect(group(h, .all, OFGroup.all, []) == .groupModFailed(.invalidGroup))
        #expect(group(h, .all, 3, [GroupBucket(weight: 5, actions: [])]) == .groupModFailed(.weightUnsupported))
        #expect(group(h, .all, 3, [GroupBucket(actions: [.group(99)])]) == .badAction(.badOutGroup))
        #expect(group(h, .all, 3, []) == nil)
        #expect(group(h, .all, 4, []) == .groupModFailed(.outOfGroups))
        #expect(gmod(h, .delete, .all, 77, []) == nil) // deleting a missing group is no error
        #expect(h.pipeline.groupDescriptions().map(\.groupID) == [1, 3])
    }

    @Test func deletingAGroupDeletesItsFlows() throws {
        let h = Harness()
        #expect(group(h, .indirect, 1, [GroupBucket(actions: [.output(port: 2)])]) == nil)
        #expect(group(h, .indirect, 2, [GroupBucket(actions: [.output(port: 3)])]) == nil)
        h.add(priority: 10, cookie: 1, .with { $0.ethType = 0x0800 }, [.applyActions([.group(1)])])
        h.add(priority: 5, cookie: 2, FlowMatch(), [.writeActions([.group(2)])])
        h.add(priority: 1, cookie: 3, .with { $0.ethType = 0x0806 }, [out(4)])
        var removed = try h.pipeline.apply(GroupMod(command: .delete, groupID: 1), now: 0)
        #expect(removed.map(\.entry.cookie) == [1] && removed[0].reason == .groupDelete)
        #expect(h.ports(udpFrame()) == [3])
        removed = try h.pipeline.apply(GroupMod(command: .delete, groupID: OFGroup.all), now: 0)
        #expect(removed.map(\.entry.cookie) == [2] && h.pipeline.flowCount == 1 && h.pipeline.groupDescriptions().isEmpty)
    }
}
