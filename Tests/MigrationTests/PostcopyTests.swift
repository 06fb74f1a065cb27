// Post-copy: a guest that writes faster than the link switches over with pages missing and
// fetches them on demand (userfaultfd); a link cut or either side gone after the switch loses
// the VM on both sides (neither runs a stale or incomplete copy) while the processes go on;
// the post-copy payloads refuse hostile input.

import Foundation
import Frames
import Machine
@testable import Migration
import Switching
import TestSupport
import Testing
import VMHost

@Suite(.serialized) struct PostcopyTests {
    /// One post-copy migration of a fresh writer over a link an eighth of its write rate. `onPostcopy` runs on the
    /// source's thread at its progress reports while it serves the missing pages, with both
    /// ends of the link.
    static func migrateWriter(_ options: MigrationOptions, wrap: ((any ByteStream) -> any ByteStream)? = nil,
                              onPostcopy: ((_ source: any ByteStream, _ destination: any ByteStream) -> Void)? = nil)
        throws -> (Result<MigrationReport, MigrationError>, VirtualMachine, Result<IncomingMigration, MigrationError>, VirtualMachine?) {
        let pool = PacketPool(capacity: 64)
        let (vm, config, rate) = try FastWriter.started(pool: pool)
        let (pipe, b) = MemoryByteStream.pair()
        let a: any ByteStream = wrap?(pipe) ?? pipe
        let arrived = Cell<VirtualMachine?>(nil)
        var destinationHooks = MigrationDestinationHooks(pool: pool) { _ in config }
        destinationHooks.built = { arrived.value = $0 }
        let hooksBox = UnsafeTransfer(value: destinationHooks)
        let destination = receiving(on: b, hooks: hooksBox.value, timeout: 120)
        var hooks = MigrationSourceHooks()
        if let onPostcopy {
            hooks.progress = { p in if p.phase == .switchover && p.dirtyPages > 0 { onPostcopy(a, b) } }
        }
        let result = Result { () throws(MigrationError) in
            try MigrationSource(vm: vm, connection: MigrationConnection(SlowLink(a, bytesPerSecond: rate)),
                                options: options, hooks: hooks).run()
        }
        return (result, vm, destination.wait(), arrived.value)
    }

    static var options: MigrationOptions {
        var o = MigrationOptions()
        o.postcopy = true
        o.downtimeBudget = 0.1
        o.maxRounds = 60
        return o
    }

    /// Pages outside the writer's window that differ between two VMs (RAM the guest does not
    /// write after the switch must have arrived exactly).
    static func differingPagesOutsideTheWindow(_ a: VirtualMachine, _ b: VirtualMachine) -> [Int] {
        let first = Int((FastWriter.windowBase - 0x8000_0000) / 4096)
        let window = first..<(first + FastWriter.windowPages)
        var out: [Int] = []
        for i in 0..<a.board.memory.pageCount where !window.contains(i) {
            guard let p = a.board.memory.hostPage(i), let q = b.board.memory.hostPage(i) else { out.append(i); continue }
            if memcmp(p, q, 4096) != 0 { out.append(i) }
        }
        return out
    }

    @Test func aGuestWritingFasterThanTheLinkMigratesWithPostcopy() throws {
        let (result, source, incoming, _) = try Self.migrateWriter(Self.options)
        defer { source.stop() }
        let report = try result.get()
        let there = try incoming.get()
        defer { there.vm.stop() }
        print("post-copy over the slow link: \(String(decoding: try JSONEncoder().encode(report), as: UTF8.self)), destination faults \(there.postcopyFaults ?? -1)")
        #expect(report.stalled, "pre-copy stalled first: \(report)")
        #expect((report.postcopyFaults ?? 0) > 0, "pages were fetched on demand: \(report)")
        #expect((there.postcopyFaults ?? 0) > 0)
        #expect(source.state == .stopped)
        #expect(there.vm.state == .running)
        #expect(Self.differingPagesOutsideTheWindow(source, there.vm).isEmpty)
        // The guest goes on, and every page of its window holds its last sweep or the one before.
        #expect(Guests.progress(of: there.vm, over: 0.3) > 0)
        #expect(FastWriter.windowProblem(there.vm) == nil, "\(FastWriter.windowProblem(there.vm) ?? "")")
    }

    @Test func withoutPostcopyTheSameMigrationCopiesTheLastPagesWhilePaused() throws {
        var options = Self.options
        options.postcopy = false
        let (result, source, incoming, _) = try Self.migrateWriter(options)
        defer { source.stop() }
        let report = try result.get()
        let there = try incoming.get()
        defer { there.vm.stop() }
        #expect(report.stalled && report.postcopyFaults == nil && there.postcopyFaults == nil, "\(report)")
        #expect(FastWriter.windowProblem(there.vm) == nil)
    }

    @Test func aLinkCutDuringPostcopyLosesTheVMAndNeitherSideRunsIt() throws {
        let (result, source, incoming, arrived) = try Self.migrateWriter(Self.options, onPostcopy: { a, _ in a.close() })
        defer { source.stop(); arrived?.stop() }
        guard case .failure(let sourceError) = result, case .failure(let destinationError) = incoming else {
            Issue.record("a migration went through a cut link")
            return
        }
        print("link cut during post-copy: source: \(sourceError); destination: \(destinationError)")
        #expect(sourceError.reason.contains("VM lost"), "\(sourceError)")
        #expect(destinationError.reason.contains("VM lost"), "\(destinationError)")
        // The source does not resume its stale copy; the destination stopped its incomplete one
        // (a vCPU waiting for a page was freed, or stop() would not have returned).
        #expect(source.state == .stopped)
        let vm = try #require(arrived)
        #expect(vm.state != .running)
    }

    @Test func theDestinationGoneDuringPostcopyLosesTheVMAtTheSource() throws {
        let (result, source, incoming, arrived) = try Self.migrateWriter(Self.options, onPostcopy: { _, b in b.close() })
        defer { source.stop(); arrived?.stop() }
        guard case .failure(let sourceError) = result else {
            Issue.record("the source finished a post-copy whose destination was gone")
            return
        }
        print("destination gone during post-copy: source: \(sourceError)")
        #expect(sourceError.reason.contains("VM lost"), "\(sourceError)")
        #expect(source.state == .stopped, "the stale copy does not run")
        if case .failure(let e) = incoming { #expect(e.reason.contains("VM lost")) }
        #expect(arrived.map { $0.state != .running } ?? true)
    }

    @Test(arguments: [MessageType.state, .frames, .commit])
    func aFailureBeforeTheSwitchKeepsTheVMRunningOnTheSource(at type: MessageType) throws {
        let breaker = Cell<BreakAt?>(nil)
        let (result, source, incoming, arrived) = try Self.migrateWriter(Self.options, wrap: { inner in
            let b = BreakAt(inner, at: type)
            breaker.value = b
            return b
        })
        defer { source.stop(); arrived?.stop() }
        guard case .failure(let sourceError) = result, case .failure(let destinationError) = incoming else {
            Issue.record("a migration went through a link broken at \(type)")
            return
        }
        print("post-copy, link broken at \(type): source: \(sourceError); destination: \(destinationError)")
        #expect(breaker.value?.seen.contains(MessageType.postcopyStart.rawValue) == true, "the source had switched to post-copy")
        #expect(!sourceError.reason.contains("VM lost") && !destinationError.reason.contains("VM lost"))
        // The source's RAM is whole: its VM runs on, unthrottled, with logging off.
        #expect(source.state == .running && !source.isPaused && source.throttlePercent == 0)
        #expect(!source.board.memory.dirtyLogging)
        #expect(Guests.progress(of: source, over: 0.3) > 0)
        #expect(FastWriter.windowProblem(source) == nil)
        #expect(arrived.map { $0.state != .running } ?? true, "the destination discarded its machine")
    }

    @Test func postcopyPayloadsRefuseHostileInput() {
        let pages = 100
        let good = PostcopyBitmap.encode([0, 5, 99], pageCount: pages)
        #expect((try? PostcopyBitmap.decode(good, pageCount: pages)).map { $0[0] == 0x21 && $0[1] == 1 << 35 } == true)
        #expect(throws: WireError.self) { try PostcopyBitmap.decode(Array(good.dropLast()), pageCount: pages) }
        #expect(throws: WireError.self) { try PostcopyBitmap.decode(good, pageCount: 101) }
        var pastEnd = good
        pastEnd[pastEnd.count - 1] = 0x80  // page 127 of 100
        #expect(throws: WireError.self) { try PostcopyBitmap.decode(pastEnd, pageCount: pages) }
        #expect((try? PageRequest.decode(PageRequest.encode([3, 7]), pageCount: pages)) == [3, 7])
        #expect(throws: WireError.self) { try PageRequest.decode(PageRequest.encode([100]), pageCount: pages) }
        #expect(throws: WireError.self) { try PageRequest.decode([1, 0, 0, 0], pageCount: pages) }
        #expect(throws: WireError.self) { try PageRequest.decode([0xff, 0xff, 0xff, 0xff], pageCount: pages) }
        #expect(throws: WireError.self) { try PageRequest.decode([], pageCount: pages) }
    }
}
