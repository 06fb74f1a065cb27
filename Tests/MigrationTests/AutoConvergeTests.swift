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
    /// Runs one migration of a fresh writer over a slow link; returns the report (or the
    /// error), the source and destination VMs, and whether RAM and state matched at the commit.
    static func migrateWriter(_ options: MigrationOptions, hooks: MigrationSourceHooks = MigrationSourceHooks(),
                              cut: ((any ByteStream) -> Void)? = nil)
        throws -> (Result<MigrationReport, MigrationError>, VirtualMachine, IncomingMigration?, Bool) {
        let pool = PacketPool(capacity: 64)
        let (vm, config, rate) = try FastWriter.started(pool: pool)
        let (a, b) = MemoryByteStream.pair()
        let identical = Cell(false)
        var destinationHooks = MigrationDestinationHooks(pool: pool) { _ in config }
        // At the commit, before the vCPU starts: the source is paused on its final state.
        destinationHooks.activate = { newVM, _ in identical.value = Guests.sameRAM(vm, newVM) && Guests.sameState(vm, newVM) }
        let hooksBox = UnsafeTransfer(value: destinationHooks)
        let destination = receiving(on: b, hooks: hooksBox.value, timeout: 120)
        cut?(a)
        let result = Result { () throws(MigrationError) in
            try MigrationSource(vm: vm, connection: MigrationConnection(SlowLink(a, bytesPerSecond: rate)),
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

    /// Seconds the VM's vCPUs slept for the throttle during `seconds` of wall time.
    static func sleptSeconds(of vm: VirtualMachine, over seconds: Double) -> Double {
        let before = vm.throttleSleptNanoseconds
        Thread.sleep(forTimeInterval: seconds)
        return Double(vm.throttleSleptNanoseconds - before) / 1e9
    }

    @Test func aThrottledVCPUSleepsItsShareAndNotOnceTheThrottleIsRemoved() throws {
        let vm = try VirtualMachine(FastWriter.configuration(), pool: PacketPool(capacity: 8))
        vm.start()
        defer { vm.stop() }
        let free = Self.sleptSeconds(of: vm, over: 0.5)
        #expect(vm.setThrottle(90) == 90 && vm.throttlePercent == 90)
        Thread.sleep(forTimeInterval: 0.2)
        // Its sleeps are 9x its chunks in wall time (load stretches both alike); half the
        // time is a generous bound.
        let throttled = Self.sleptSeconds(of: vm, over: 2)
        vm.setThrottle(0)
        Thread.sleep(forTimeInterval: 0.2)
        let after = Self.sleptSeconds(of: vm, over: 0.5)
        print("throttle sleep: free \(free) s in 0.5 s, at 90 % \(throttled) s in 2 s, after \(after) s in 0.5 s")
        #expect(free == 0 && after == 0)
        #expect(throttled >= 1.0, "slept \(throttled) s of 2 s at 90 %")
        #expect(Guests.progress(of: vm, over: 0.2) > 0)
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
        print("auto-converge over the slow link: \(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))")
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
