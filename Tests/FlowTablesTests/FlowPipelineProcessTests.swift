// The pipeline's order of execution: goto-table, apply now, write into the action set,
// clear, write-metadata, the action set's OF 1.3 order, and copy-on-write outputs.

import Testing
import Frames
@testable import FlowTables

@Suite struct FlowPipelineProcessTests {
    @Test func gotoWriteApplyClearAndMetadata() {
        let h = Harness(FlowPipelineConfiguration(tableCount: 4))
        // Table 0: apply output 2 now, write output 3, set metadata, go to table 1.
        h.add(FlowMatch(), [.applyActions([.output(port: 2)]), .writeActions([.output(port: 3)]),
                            .writeMetadata(value: 0xA0, mask: 0xF0), .gotoTable(1)])
        // Table 1 matches on the metadata written in table 0.
        h.add(table: 1, .with { $0.metadata = Masked(0xA0, mask: 0xF0) }, [.gotoTable(3)])
        h.add(table: 1, priority: 1, FlowMatch(), [.clearActions])
        h.add(table: 3, FlowMatch(), [.applyActions([.output(port: 4)])])
        #expect(h.ports(udpFrame()) == [2, 4, 3]) // action set's output runs at the end
        let d = h.run(udpFrame())
        #expect(d.map(\.decision.metadata) == [0, 0xA0, 0xA0] && d.map(\.decision.tableID) == [0, 3, 3])
        // Clear-actions empties the set: table 1's low-priority entry when metadata differs.
        h.add(priority: 200, .with { $0.ethType = 0x0806 }, [.writeActions([.output(port: 3)]), .gotoTable(1)])
        #expect(h.ports(FrameBuilder.arpRequest(from: macA, ipA, for: ipB)) == [])
    }

    @Test func applyChangesWhatLaterTablesMatch() {
        let h = Harness(FlowPipelineConfiguration(tableCount: 2))
        h.add(FlowMatch(), [.applyActions([.pushVLAN(etherType: 0x8100), .setField(.vlanVID(0x1000 | 30))]), .gotoTable(1)])
        h.add(table: 1, .with { $0.vlanVID = .exact(0x1000 | 30) }, [out(5)])
        h.add(table: 1, priority: 1, FlowMatch(), [out(6)])
        let r = h.run(udpFrame())
        #expect(r.map(\.decision.port) == [5] && r[0].frame.count == udpFrame().count + 4)
    }

    @Test func actionSetRunsInSpecOrder() {
        // Written in reverse order; executed pop? no: push, set VID, dec TTL, then output.
        let h = Harness()
        h.add(.with { $0.ethType = 0x0800 }, [.writeActions([.output(port: 2), .decNwTTL, .setField(.vlanVID(9)),
                                                             .pushVLAN(etherType: 0x8100)])])
        let r = h.run(udpFrame())
        #expect(r.count == 1 && Array(r[0].frame[12..<16]) == [0x81, 0, 0, 9] && r[0].frame[26] == 63)
        #expect(ipv4ChecksumsValid(r[0].frame))
        // A later write of the same type replaces the earlier one; a group suppresses output.
        let g = Harness(FlowPipelineConfiguration(tableCount: 2))
        try! g.pipeline.apply(GroupMod(command: .add, type: .all, groupID: 1, buckets: [GroupBucket(actions: [.output(port: 7)])]), now: 0)
        g.add(FlowMatch(), [.writeActions([.output(port: 2)]), .gotoTable(1)])
        g.add(table: 1, FlowMatch(), [.writeActions([.output(port: 3)])])
        #expect(g.ports(udpFrame()) == [3])
        g.add(table: 1, FlowMatch(), [.writeActions([.output(port: 3), .group(1)])])
        #expect(g.ports(udpFrame()) == [7])
    }

    @Test func outputsCarryTheFrameAsItWasThen() {
        let h = Harness()
        h.add(FlowMatch.with { $0.ethType = 0x0800 }, [.applyActions([
            .output(port: 2), .setField(.ethDst(0x0200_0000_0001)), .output(port: 3),
            .pushVLAN(etherType: 0x8100), .setField(.vlanVID(5)), .output(port: 4), .output(port: OFPort.inPort),
            .output(port: 1), // the ingress port: only through IN_PORT
            .output(port: OFPort.flood), .output(port: OFPort.normal), .output(port: OFPort.all), .output(port: OFPort.local)])])
        let f = udpFrame()
        let r = h.run(f)
        #expect(r.map(\.decision.kind) == [.output, .output, .output, .inPort, .flood, .normal, .all, .local])
        #expect(r[0].frame == f)
        #expect(Array(r[1].frame[0..<6]) == [2, 0, 0, 0, 0, 1] && r[1].frame.count == f.count)
        #expect(r[2].frame.count == f.count + 4 && r[3].frame == r[2].frame && r[2].decision.handle == r[3].decision.handle)
        #expect(r[3].decision.port == 1)
    }

    @Test func decisionListOverflowIsCountedNotFatal() {
        let h = Harness()
        let many = (0..<100).map { FlowAction.output(port: UInt32(2 + $0)) }
        h.add(FlowMatch(), [.applyActions(many)])
        #expect(h.run(udpFrame()).count == FlowPipeline.maxDecisions)
        #expect(h.pipeline.outputsDropped == UInt64(100 - FlowPipeline.maxDecisions))
    }
}

@Suite struct FlowPipelineSharedFrameTests {
    @Test func aFrameAnotherHolderKeepsIsNeverEditedInPlace() {
        // The caller (a flood to several queues, a benchmark reusing frames) still holds the slot.
        let h = Harness()
        h.add(.with { $0.ethType = 0x0800 }, [.applyActions([.pushVLAN(etherType: 0x8100), .setField(.ethDst(1)), .output(port: 2)])])
        let f = udpFrame()
        let slot = h.pool.make(copying: f)!
        h.pool.retain(slot)
        h.pipeline.process(slot, inPort: 1, now: 0)
        #expect(Array(h.pool.bytes(slot)) == f)
        let d = h.pipeline.decisions
        #expect(d.count == 1 && d[0].handle != slot && h.pool.length(d[0].handle) == f.count + 4)
        h.pool.release(d[0].handle)
        h.pool.release(slot)
        #expect(h.pool.available == h.pool.capacity)
    }
}
