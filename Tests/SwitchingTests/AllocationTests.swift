import Testing
import CAllocationCounter
import Frames
@testable import Switching

/// The forwarding path must not allocate: counted with interposed malloc.
@Suite struct AllocationTests {
    @Test func forwardingPathDoesNotAllocate() throws {
        try #require(sb_allocation_counter_active() == 1, "malloc interposition is not in effect")
        let pool = PacketPool(capacity: 4096)
        let sw = vlanLab(pool: pool)
        // 64 frames: learned unicast, floods, tagged, drops.
        var frames: [[UInt8]] = []
        for i in 0..<64 {
            let src = mac(UInt8(i + 1)), dst = mac(UInt8((i + 7) % 64 + 1))
            frames.append(frame(from: src, to: i % 5 == 0 ? .broadcast : dst, tag: i % 2 == 0 ? 10 : nil))
        }
        let handles = frames.map { pool.make(copying: $0)! }
        for h in handles { pool.retain(h) } // pinned: reused every round
        let run = {
            handles.withUnsafeBufferPointer { all in
                for round in 0..<200 {
                    for h in all { pool.retain(h) }
                    sw.receive(port: 3, batch: UnsafeBufferPointer(rebasing: all[0..<32]), now: t0 + Int64(round))
                    sw.receive(port: round % 3, batch: UnsafeBufferPointer(rebasing: all[32..<64]), now: t0 + Int64(round))
                    for p in 0..<sw.portCount { sw.clearTransmitQueue(port: p, releasing: true) }
                }
            }
        }
        run() // warm up: tables filled
        let before = sb_thread_allocation_count()
        run()
        let after = sb_thread_allocation_count()
        #expect(after - before == 0, "allocations on the forwarding path: \(after - before)")
    }

    @Test func counterSeesAllocations() {
        let before = sb_thread_allocation_count()
        let array = [Int](repeating: 1, count: Int.random(in: 1000...2000))
        #expect(sb_thread_allocation_count() > before && array.count >= 1000)
    }
}
