// The lookup and action path must not allocate: counted with interposed malloc.

import Testing
import CAllocationCounter
import Frames
@testable import FlowTables

@Suite struct FlowAllocationTests {
    @Test func pipelineDoesNotAllocatePerFrame() throws {
        try #require(sb_allocation_counter_active() == 1, "malloc interposition is not in effect")
        let h = Harness(FlowPipelineConfiguration(tableCount: 4, cacheEntries: 64), poolSize: 4096)
        try h.pipeline.apply(GroupMod(command: .add, type: .all, groupID: 1, buckets: [
            GroupBucket(actions: [.setField(.ethDst(0x0200_0000_0001)), .output(port: 2)]),
            GroupBucket(actions: [.output(port: 3)])]), now: 0)
        try h.pipeline.apply(GroupMod(command: .add, type: .select, groupID: 2, buckets: [
            GroupBucket(weight: 2, actions: [.output(port: 4)]), GroupBucket(weight: 1, actions: [.output(port: 5)])]), now: 0)
        for i in 0..<200 {
            let len = [8, 16, 24, 32][i % 4]
            let mask: UInt32 = ~0 << UInt32(32 - len)
            h.add(priority: UInt16(100 + len), .with { $0.ethType = 0x0800; $0.ipv4Dst = Masked(UInt32(0x0A00_0000 + i * 0x0101) & mask, mask: mask) },
                  [.applyActions([.pushVLAN(etherType: 0x8100), .setField(.vlanVID(UInt16(i % 4000 + 1)))]),
                   .writeMetadata(value: 1, mask: 1), .gotoTable(1)])
        }
        h.add(priority: 0, FlowMatch(), [.applyActions([.output(port: OFPort.controller)])])
        h.add(table: 1, .with { $0.metadata = Masked(1, mask: 1); $0.ethType = 0x0800; $0.ipProto = 17 }, [
            .applyActions([.setField(.ipv4Src(0xC0A8_0001)), .decNwTTL, .output(port: 6), .popVLAN]),
            .writeActions([.group(1)]), .gotoTable(2)])
        h.add(table: 2, .with { $0.ethType = 0x0800; $0.ipProto = 17 }, [.applyActions([.group(2), .setField(.udpDst(99)), .output(port: OFPort.flood)])])
        // 512 distinct frames through a 64-entry cache: hits and misses both.
        var handles: [PacketHandle] = []
        for i in 0..<512 {
            let f = i % 7 == 0 ? FrameBuilder.arpRequest(from: macA, ipA, for: ipB)
                : udpFrame(dst: IPv4Address(rawValue: UInt32(0x0A00_0000 + (i % 200) * 0x0101)), sport: UInt16(i))
            let hd = h.pool.make(copying: f)!
            handles.append(hd)
        }
        let pool = h.pool, pipeline = h.pipeline
        var outputs = 0
        let run = {
            handles.withUnsafeBufferPointer { all in
                for round in 0..<20 {
                    for hd in all {
                        pool.retain(hd)
                        pipeline.process(hd, inPort: 1, now: Int64(round))
                        for d in pipeline.decisions { pool.release(d.handle); outputs += 1 }
                    }
                }
            }
        }
        run() // warm up
        let before = sb_thread_allocation_count()
        run()
        let after = sb_thread_allocation_count()
        #expect(after - before == 0, "allocations on the flow path: \(after - before)")
        #expect(outputs > 512 * 20 * 3 && pipeline.cacheMisses > 0 && pipeline.cacheHits > 0, "outputs \(outputs) misses \(pipeline.cacheMisses) hits \(pipeline.cacheHits) dropped \(pipeline.outputsDropped)")
        #expect(pool.available == pool.capacity - handles.count)
    }
}
