// Flow-mods from another thread reach the pipeline through the queue while frames flow.

import Testing
import Foundation
import Frames
@testable import FlowTables

@Suite struct FlowUpdateQueueTests {
    @Test func updatesFromAnotherThreadWhileForwarding() throws {
        let h = Harness()
        let queue = FlowUpdateQueue(capacity: 100_000)
        h.add(priority: 1, FlowMatch(), [out(9)])
        let done = DispatchSemaphore(value: 0)
        let total = 5000
        Thread.detachNewThread {
            for i in 0..<total {
                var mod = FlowMod(priority: 10, match: .with { $0.ethType = 0x0800; $0.ipv4Dst = .exact(UInt32(i)) },
                                  instructions: [out(2)])
                if i % 1000 == 999 { mod.match.tcpDst = 1 } // a bad one: BAD_PREREQ comes back
                while queue.submit(.flow(mod)) == nil { usleep(100) }
            }
            done.signal()
        }
        var outcomes: [FlowUpdateQueue.Outcome] = []
        var forwarded = 0
        let frame = udpFrame(dst: IPv4Address(rawValue: 0))
        let deadline = Date().addingTimeInterval(120)
        while outcomes.count < total && Date() < deadline {
            // A batch of frames, then a bounded slice of updates.
            for _ in 0..<8 { forwarded += h.run(frame).count }
            h.pipeline.applyUpdates(from: queue, now: 0, limit: 64)
            outcomes += queue.takeOutcomes()
        }
        done.wait()
        #expect(outcomes.count == total && forwarded > 0)
        #expect(outcomes.filter { $0.error == .badMatch(.badPrereq) }.count == 5)
        #expect(Set(outcomes.map(\.id)).count == total)
        #expect(h.pipeline.flowCount == 1 + total - 5 && h.ports(frame) == [2])
        // A full queue refuses instead of growing.
        let small = FlowUpdateQueue(capacity: 2)
        #expect(small.submit(.flow(FlowMod())) != nil && small.submit(.flow(FlowMod())) != nil && small.submit(.flow(FlowMod())) == nil)
    }
}

@Suite struct FlowUpdateQueueCompactionTests {
    @Test func aQueueThatNeverEmptiesStaysBounded() {
        let h = Harness()
        let queue = FlowUpdateQueue(capacity: 10_000)
        for _ in 0..<100 { _ = queue.submit(.flow(FlowMod(instructions: [out(2)]))) }
        for _ in 0..<2000 {
            // Always more waiting than one slice takes: the queue is never empty.
            for _ in 0..<50 { _ = queue.submit(.flow(FlowMod(instructions: [out(2)]))) }
            h.pipeline.applyUpdates(from: queue, now: 0, limit: 50)
            _ = queue.takeOutcomes()
        }
        #expect(queue.count == 100 && queue.storedCount < 3000)
    }
}
