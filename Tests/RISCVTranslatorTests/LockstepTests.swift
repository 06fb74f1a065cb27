// The interpreter and the translator in lockstep over random whole programs (see
// LockstepRunner): 400 fixed seeds in the normal suite; a long run when
// SWITCHBOARD_LOCKSTEP_INSTRUCTIONS=N is set (from SWITCHBOARD_LOCKSTEP_SEED, default 1000,
// upwards, until N instructions ran), e.g.
//   SWITCHBOARD_LOCKSTEP_INSTRUCTIONS=100000000 swift test --skip-build --filter LockstepTests.long

import Foundation
import Machine
import Testing
@testable import RISCV
@testable import RISCVTranslator

struct LockstepTests {
    /// Totals over a set of programs.
    struct Totals {
        var programs = 0, instructions: UInt64 = 0, translated = 0, blocks = 0, sideExits = 0
        var exceptions: UInt64 = 0, interrupts: UInt64 = 0, mmio: UInt64 = 0, csr: UInt64 = 0
        var modes: [String: Int] = [:], paged = 0
        var failures: [String] = []

        mutating func add(_ r: LockstepRunner) {
            programs += 1
            instructions += r.instructions
            translated += r.engine.statistics.translatedInstructions
            blocks += r.engine.statistics.blocksRun
            sideExits += r.engine.statistics.sideExits
            let s = r.interpreter.hart.exitStatistics
            exceptions += s[.exception]; interrupts += s[.interrupt]
            mmio += s[.mmioRead] + s[.mmioWrite]; csr += s[.systemRegister]
            modes["\(r.program.mode)", default: 0] += 1
            if r.program.paging { paged += 1 }
        }

        var summary: String {
            "\(programs) programs (\(modes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \(paged) with Sv39), "
                + "\(instructions) instructions, \(translated) in \(blocks) translated blocks, \(sideExits) side exits, "
                + "\(exceptions) exceptions, \(interrupts) interrupts, \(mmio) MMIO and \(csr) CSR exits, \(failures.count) differences"
        }
    }

    static func run(seeds: some Sequence<UInt64>, budget: Int, until instructions: UInt64 = .max, totals: inout Totals) throws {
        for seed in seeds {
            let runner = try LockstepRunner(seed: seed)
            if let d = runner.run(budget: budget) {
                totals.failures.append(d)
                print(d)
            }
            totals.add(runner)
            if totals.instructions >= instructions { break }
        }
    }

    @Test("400 random programs (M, S, U; Sv39; traps; interrupts) agree between the engines after every chunk",
          arguments: 0..<4)
    func fixedSeeds(group: Int) throws {
        var totals = Totals()
        try Self.run(seeds: (UInt64(group * 100)..<UInt64(group * 100 + 100)), budget: 12_000, totals: &totals)
        print("lockstep group \(group): \(totals.summary)")
        #expect(totals.failures.isEmpty, "\(totals.failures.count) programs differ; first:\n\(totals.failures.first ?? "")")
        #expect(totals.translated * 4 > Int(totals.instructions), "a good share ran translated")
        #expect(totals.exceptions > 1000 && totals.interrupts > 100 && totals.mmio > 100)
    }

    @Test("the runner reports a register, a CSR and a memory difference")
    func runnerSeesDifferences() throws {
        let r = try LockstepRunner(seed: 7)
        #expect(r.run(budget: 500) == nil)
        r.translator.hart.x[5] &+= 1
        #expect(r.difference()?.contains("x5:") == true)
        r.translator.hart.x[5] = r.interpreter.hart.x[5]
        r.translator.hart.mscratch ^= 1
        #expect(r.difference()?.contains("mscratch") == true)
        r.translator.hart.mscratch = r.interpreter.hart.mscratch
        try r.translator.memory.store(UInt8(0x5a) ^ r.interpreter.memory.load(UInt8.self, at: GuestPhysicalAddress(LockstepMemoryMap.data)),
                                      at: GuestPhysicalAddress(LockstepMemoryMap.data))
        #expect(r.difference()?.contains("memory 0x80100000") == true)
    }

    @Test("long mode: SWITCHBOARD_LOCKSTEP_INSTRUCTIONS instructions from SWITCHBOARD_LOCKSTEP_SEED")
    func long() throws {
        let env = ProcessInfo.processInfo.environment
        guard let n = env["SWITCHBOARD_LOCKSTEP_INSTRUCTIONS"].flatMap(UInt64.init) else {
            print("lockstep long mode: set SWITCHBOARD_LOCKSTEP_INSTRUCTIONS to run it")
            return
        }
        let first = env["SWITCHBOARD_LOCKSTEP_SEED"].flatMap(UInt64.init) ?? 1000
        let budget = env["SWITCHBOARD_LOCKSTEP_BUDGET"].flatMap(Int.init) ?? 50_000
        var totals = Totals()
        let start = Date()
        var seed = first
        while totals.instructions < n {
            try Self.run(seeds: seed..<(seed + 100), budget: budget, until: n, totals: &totals)
            seed += 100
            print("lockstep long: seeds \(first)..<\(seed), \(totals.summary), \(Int(Date().timeIntervalSince(start))) s")
        }
        #expect(totals.failures.isEmpty, "\(totals.failures.count) programs differ; first:\n\(totals.failures.first ?? "")")
    }
}
