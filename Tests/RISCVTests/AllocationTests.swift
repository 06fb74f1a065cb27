// The interpreter's steady state allocates nothing per guest instruction: after a warm-up (decode
// cache and TLB filled), 100 k instructions run without a single allocation. Counted on this
// thread only, so tests running in parallel do not disturb the count.
import CAllocationCounter
import Testing
import Machine
@testable import RISCV
import RISCVBoard

@Suite("Allocation-free interpreter")
struct AllocationTests {
    @Test func steadyStateDoesNotAllocate() throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        try #require(sb_allocation_counter_active() == 1, "allocation counter not interposed")
        let board = try VirtBoard(memoryMiB: 64) { _ in }
        try board.boot(firmware: .none, kernel: try GuestPrograms.elf("bench"))
        #expect(board.hart.run(budget: 2_000_000) == .continue) // warm-up
        var quietest = UInt64.max
        var allContinued = true
        for _ in 0..<200 {
            let before = sb_thread_allocation_count()
            allContinued = allContinued && board.hart.run(budget: 100_000) == .continue
            quietest = min(quietest, sb_thread_allocation_count() - before)
        }
        #expect(allContinued)
        #expect(board.hart.instructionsRetired >= 22_000_000)  // 2 M warm-up + 200 x 100 k
        #expect(quietest == 0, "\(quietest) allocations in the quietest 100 k guest instructions")
    }
}
