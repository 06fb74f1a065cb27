// Packet-out (actions on a controller's frame, OFPP_TABLE into the tables) and trace.

import Testing
import Frames
@testable import FlowTables

@Suite struct FlowPipelineTraceTests {
    @Test func packetOutRunsActionsAndTableSubmitsToTableZero() throws {
        let h = Harness()
        h.add(.with { $0.ethType = 0x0800 }, [.applyActions([.setField(.ethSrc(0x0200_0000_00EE)), .output(port: 2)])])
        let f = udpFrame()
        let slot = h.pool.make(copying: f)!
        let free = h.pool.available
        let n = try h.pipeline.packetOut(slot, inPort: OFPort.controller,
                                         actions: [.setField(.ethDst(0x0200_0000_0077)), .output(port: 3),
                                                   .output(port: OFPort.table), .output(port: 4)], now: 0)
        let d = Array(h.pipeline.decisions)
        #expect(n == 3 && d.map(\.port) == [3, 2, 4])
        let frames = d.map { Array(h.pool.bytes($0.handle)) }
        #expect(frames[0][5] == 0x77 && frames[0][11] == 0x0A)      // dst set, src as sent
        #expect(frames[1][5] == 0x77 && frames[1][11] == 0xEE)      // the table's flow set src on its copy
        #expect(frames[2][5] == 0x77 && frames[2][11] == 0x0A)      // later actions see the frame without it
        for x in d { h.pool.release(x.handle) }
        #expect(h.pool.available == free + 1)
        #expect(h.pipeline.tableStatistics()[0].matched == 1)
        // Bad actions: the error, and the slot is released.
        let bad = h.pool.make(copying: f)!
        #expect(throws: FlowError.badAction(.badOutGroup)) {
            try h.pipeline.packetOut(bad, inPort: 1, actions: [.group(9)], now: 0)
        }
        #expect(h.pool.available == free + 1)
    }

    @Test func traceReportsTablesAndEntries() {
        let h = Harness(FlowPipelineConfiguration(tableCount: 3))
        h.add(priority: 7, cookie: 1, .with { $0.ethType = 0x0800 }, [.gotoTable(2)])
        h.add(table: 2, priority: 9, cookie: 2, .with { $0.ethType = 0x0800; $0.ipProto = 17 }, [out(5)])
        let hit = h.pipeline.trace(udpFrame(), inPort: 1, now: 0)!
        #expect(hit.steps.map(\.tableID) == [0, 2] && hit.steps.map { $0.entry?.cookie } == [1, 2])
        #expect(hit.outputs.map(\.0.port) == [5] && hit.outputs[0].1 == udpFrame())
        let miss = h.pipeline.trace(tcpFrame(), inPort: 1, now: 0)!
        #expect(miss.steps.map(\.tableID) == [0, 2] && miss.steps[1].entry == nil && miss.outputs.isEmpty)
        #expect(h.pool.available == h.pool.capacity)
    }
}
