// Auto-converge: a guest that writes faster than the link is throttled until pre-copy fits the
// downtime budget; without the option the same migration stops on `stalled`; the throttle is
// gone after success and after failure.

import Foundation
import Frames
import Machine
@testable import Migration
import Switching
import TestSupport
import Testing
import VMHost

@Suite(.serialized) struct AutoConvergeTests {
    /// The link: 4 MiB/s, 1,000 pages a second. The writer, unthrottled, writes at least
    /// several thousand pages a second on any machine that runs these tests (3,000
    /// instructions a page), so every round finds its whole 4 MiB window dirty again.
    static let linkRate = 4.0 * 1_048_576

    /// Runs one migration of a fresh writer over a slow link; returns the report (or the
    /// error), the source and destination VMs, and whether RAM and state matched at the commit.
    static func migrateWriter(_ options: MigrationOptions, hooks: MigrationSourceHooks = MigrationSourceHooks(),
                              cut: ((any ByteStream) -> Void)? = nil)
        throws -> (Result<MigrationReport, MigrationError>, VirtualMachine, IncomingMigration?, Bool) {
        let pool = PacketPool(capacity: 64)
        let config = FastWriter.configuration()
        let vm = try VirtualMachine(config, pool: pool)
        vm.start()
        Thread.sleep(forTimeInterval: 0.2)
        let (a, b) = MemoryByteStream.pair()
        let identical = Cell(false)
        var destinationHooks = MigrationDestinationHooks(pool: pool) { _ in config }
        // At the commit, before the vCPU starts: the source is paused on its final state.
        destinationHooks.activate = { newVM, _ in identical.value = Guests.sameRAM(vm, newVM) && Guests.sameState(vm, newVM) }
        let hooksBox = UnsafeTransfer(value: destinationHooks)
        let destination = receiving(on: b, hooks: hooksBox.value, timeout: 120)
        cut?(a)
        let result = Result { () throws(MigrationError) in
            try MigrationSource(vm: vm, connection: MigrationConnection(SlowLink(a, bytesPerSecond: linkRate)),
                                options: options, hooks: hooks).run()
        }
        let incoming = try? destination.wait().get()
        return (result, vm, incoming, identical.value)
    }

    @Test func theThrottleStartsAtTwentyAndRisesByTenToNinetyNine() {
        var steps: [Int] = []
        var p = 0
        while let next = AutoConverge.next(after: p) { steps.append(next); p = next }
        #expect(steps == [20, 30, 40, 50, 60, 70, 80, 90, 99])
    }

    @Test func aThrottledVCPURunsLessAndAtFullSpeedOnceTheThrottleIsRemoved() throws {
        let vm = try VirtualMachine(FastWriter.configuration(), pool: PacketPool(capacity: 8))
        vm.start()
        defer { vm.stop() }
        let free = Guests.progress(of: vm, over: 0.5)
        #expect(vm.setThrottle(90) == 90 && vm.throttlePercent == 90)
        let throttled = Guests.progress(of: vm, over: 1.0) / 2
        vm.setThrottle(0)
        let again = Guests.progress(of: vm, over: 0.5)
        print("instructions per 0.5 s: free \(free), at 90 % \(throttled), after \(again)")
        // 90 % leaves a tenth of the time; a third is a generous bound for a loaded machine.
        #expect(throttled * 3 < free, "free \(free), throttled \(throttled)")
        #expect(again * 3 > free, "free \(free), after removing the throttle \(again)")
        #expect(vm.setThrottle(250) == VCPUThrottle.maximum && vm.setThrottle(-5) == 0)
    }

    @Test func aGuestWritingFasterThanTheLinkConvergesWithAutoConverge() throws {
        var options = MigrationOptions()
        options.autoConverge = true
        options.downtimeBudget = 0.1
        options.maxRounds = 60
        let throttles = Cell<[Int]>([])
        var hooks = MigrationSourceHooks()
        hooks.progress = { p in if let t = p.throttlePct { throttles.value.append(t) } }
        let (result, source, incoming, identical) = try Self.migrateWriter(options, hooks: hooks)
        defer { source.stop(); incoming?.vm.stop() }
        let report = try result.get()
        print("auto-converge over 4 MiB/s: \(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))")
        #expect(!report.stalled, "\(report)")
        #expect((report.throttlePct ?? 0) >= AutoConverge.initial, "\(report)")
        #expect(throttles.value.max() == report.throttlePct, "progress reported the throttle")
        #expect(identical, "RAM or device state differs between source and destination at the commit")
        // Budget 100 ms at the measured rate; generous for a loaded machine.
        #expect(report.downtimeMs < 3000, "\(report)")
        #expect(source.state == .stopped && source.throttlePercent == 0)
        let there = try #require(incoming)
        #expect(there.vm.state == .running && there.vm.throttlePercent == 0)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(FastWriter.windowProblem(there.vm) == nil, "\(FastWriter.windowProblem(there.vm) ?? "")")
    }

    @Test func withoutAutoConvergeTheSameMigrationStopsStalled() throws {
        var options = MigrationOptions()
        options.downtimeBudget = 0.1
        options.maxRounds = 60
        let (result, source, incoming, identical) = try Self.migrateWriter(options)
        defer { source.stop(); incoming?.vm.stop() }
        let report = try result.get()
        #expect(report.stalled && report.throttlePct == nil, "\(report)")
        #expect(report.rounds == 1 + options.stalledRounds, "\(report)")
        #expect(identical)
    }

    @Test func theThrottleIsRemovedWhenTheMigrationFails() throws {
        var options = MigrationOptions()
        options.autoConverge = true
        options.downtimeBudget = 0.001
        options.maxRounds = 60
        let stream = Cell<(any ByteStream)?>(nil)
        var hooks = MigrationSourceHooks()
        // Cut the link once the throttle has risen twice.
        hooks.progress = { p in if (p.throttlePct ?? 0) >= 30 { stream.value?.close() } }
        let (result, source, incoming, _) = try Self.migrateWriter(options, hooks: hooks, cut: { stream.value = $0 })
        defer { source.stop(); incoming?.vm.stop() }
        guard case .failure(let error) = result else {
            Issue.record("the migration went through a closed link")
            return
        }
        print("auto-converge, link cut: \(error)")
        #expect(incoming == nil)
        #expect(source.state == .running && !source.isPaused && source.throttlePercent == 0)
        #expect(source.board.memory.dirtyLogging == false)
        let after = Guests.progress(of: source, over: 0.3)
        #expect(after > 0)
        #expect(FastWriter.windowProblem(source) == nil)
    }
}
