// MigrationSource: the source side of pre-copy live migration (Clark et al., NSDI 2005). It
// drives the protocol: description, round 0 (all RAM), rounds of dirty pages until the rest
// fits the downtime budget, stop-and-copy, commit. On any failure the VM runs on here.

import Foundation
import Machine
import Switching
import VMHost

/// Runs the source side of one migration over a connection.
public struct MigrationSource {
    let vm: VirtualMachine
    let connection: MigrationConnection
    let options: MigrationOptions
    let hooks: MigrationSourceHooks

    /// A migration of `vm` over `connection`.
    public init(vm: VirtualMachine, connection: MigrationConnection, options: MigrationOptions = MigrationOptions(),
                hooks: MigrationSourceHooks = MigrationSourceHooks()) {
        self.vm = vm
        self.connection = connection
        self.options = options
        self.hooks = hooks
    }

    /// Moves the VM. On success the source VM is stopped and the destination runs it; on
    /// failure the error names the phase and the VM runs here (resumed if it was paused).
    public func run() throws(MigrationError) -> MigrationReport {
        var state = SourceRun(vm: vm, connection: connection, options: options, hooks: hooks)
        connection.timeout = options.timeout
        do {
            let report = try state.migrate()
            connection.close()
            return report
        } catch {
            state.rollBack(reason: error.reason)
            connection.close()
            throw error
        }
    }
}

/// The mutable state of one source-side run.
struct SourceRun {
    let vm: VirtualMachine
    let connection: MigrationConnection
    let options: MigrationOptions
    let hooks: MigrationSourceHooks
    var phase: MigrationPhase = .description
    var report = MigrationReport()
    var logging = false
    var paused = false
    var quiesced = false
    var memory: GuestMemory { vm.board.memory }
    /// `SWITCHBOARD_MIGRATION_TRACE=1`: print when each stop-and-copy step ended (stderr).
    let tracing = ProcessInfo.processInfo.environment["SWITCHBOARD_MIGRATION_TRACE"] == "1"
    var marks: [(String, Date)] = []

    mutating func mark(_ label: String) {
        if tracing { marks.append((label, Date())) }
    }

    init(vm: VirtualMachine, connection: MigrationConnection, options: MigrationOptions, hooks: MigrationSourceHooks) {
        self.vm = vm
        self.connection = connection
        self.options = options
        self.hooks = hooks
    }

    func fail(_ reason: String) -> MigrationError { MigrationError(phase, reason) }

    func send(_ m: MigrationMessage) throws(MigrationError) {
        do { try connection.send(m) } catch {
            // The destination may have said why before closing.
            if let reply = try? connection.poll(), reply.type == .abort || reply.type == .refuse {
                throw MigrationError(phase, "destination \(reply.type == .abort ? "aborted" : "refused"): \(reply.text)",
                                     refused: reply.type == .refuse)
            }
            throw fail("sending \(m.type): \(error)")
        }
    }

    /// Fails when the destination sent an abort (or the stream broke) meanwhile.
    func checkPeer() throws(MigrationError) {
        let m: MigrationMessage?
        do { m = try connection.poll() } catch { throw fail("\(error)") }
        if let m {
            if m.type == .abort { throw fail("destination aborted: \(m.text)") }
            throw fail("unexpected \(m.type) from the destination")
        }
    }

    func expect(_ type: MessageType) throws(MigrationError) -> MigrationMessage {
        let m: MigrationMessage
        do { m = try connection.receive() } catch { throw fail("waiting for \(type): \(error)") }
        if m.type == .abort { throw fail("destination aborted: \(m.text)") }
        if m.type == .refuse { throw MigrationError(phase, "destination refused: \(m.text)", refused: true) }
        guard m.type == type else { throw fail("expected \(type), got \(m.type)") }
        return m
    }

    /// Pauses the vCPU, runs `body` on the datapath thread, resumes (a short stop per round:
    /// the dirty bitmap is read and cleared while neither the vCPU nor DMA writes).
    mutating func whilePaused<T>(_ body: () -> T) throws(MigrationError) -> T {
        guard vm.pause(timeout: options.timeout) else { throw fail("the vCPU did not pause") }
        var out: T?
        hooks.onDatapath { out = body() }
        if !paused { vm.resume() }
        return out!
    }

    mutating func migrate() throws(MigrationError) -> MigrationReport {
        let start = Date()
        guard vm.state == .running || vm.state == .created else { throw fail("the VM is not running (\(vm.state))") }

        // (a) Description.
        let description = MigrationDescription(of: vm)
        let hello: [UInt8]
        do { hello = try Array(JSONEncoder().encode(description)) } catch { throw fail("\(error)") }
        try send(MigrationMessage(.hello, hello))
        _ = try expect(.accept)

        // (b) Round 0: all of RAM, with dirty logging on from here.
        phase = .round0
        let memory = self.memory
        try whilePaused { memory.setDirtyLogging(true) }
        logging = true
        var roundStart = Date()
        var bytesBefore = connection.bytesSent
        try sendPages(Array(0..<memory.pageCount), round: 0, final: false)
        var bandwidth = Double(connection.bytesSent - bytesBefore) / max(Date().timeIntervalSince(roundStart), 1e-6)
        report.rounds = 1

        // (c) Later rounds: what was dirtied meanwhile, until it fits the budget.
        phase = .rounds
        var round = 1
        while true {
            try checkPeer()
            let pending = memory.dirtyPages().count
            let estimate = Double(pending * (PageBatch.pageSize + 4)) / max(bandwidth, 1)
            if estimate <= options.downtimeBudget || round > options.maxRounds { break }
            let dirty = try whilePaused { () -> [Int] in
                let d = memory.dirtyPages()
                memory.clearDirty()
                return d
            }
            roundStart = Date()
            bytesBefore = connection.bytesSent
            try sendPages(dirty, round: round, final: false)
            let seconds = Date().timeIntervalSince(roundStart)
            if seconds > 0.0005 { bandwidth = Double(connection.bytesSent - bytesBefore) / seconds }
            round += 1
            report.rounds = round
        }

        // (d) Stop and copy.
        phase = .stopAndCopy
        guard vm.pause(timeout: options.timeout) else { throw fail("the vCPU did not pause") }
        paused = true
        let pausedAt = Date()
        mark("paused")
        guard vm.state == .running || vm.state == .created else { throw fail("the VM stopped during migration (\(vm.state))") }
        var last: [Int] = []
        hooks.onDatapath {
            hooks.quiesceNetwork()
            last = memory.dirtyPages()
        }
        quiesced = true
        mark("quiesced, \(last.count) dirty")
        try sendPages(last, round: round, final: true)
        mark("pages sent")
        let saved: VMState
        do { saved = try vm.saveState() } catch { throw fail("\(error)") }
        var switchStates: [SwitchState] = []
        var frames: [QueuedFrame] = []
        hooks.onDatapath {
            switchStates = hooks.switchState()
            frames = hooks.heldFrames([])
        }
        do {
            try send(MigrationMessage(.state, Array(JSONEncoder().encode(saved))))
            try send(MigrationMessage(.switchState, Array(JSONEncoder().encode(switchStates))))
        } catch let e as MigrationError { throw e } catch { throw fail("\(error)") }
        var sent = [Int](repeating: 0, count: vm.nics.count)
        for f in frames where f.nic < sent.count { sent[f.nic] += 1 }
        try send(MigrationMessage(.frames, FrameBatch.encode(frames)))
        mark("state and \(frames.count) frames sent")
        _ = try expect(.ready)
        mark("ready")

        // (e) Commit: frames that came meanwhile, then "run"; the VM stays paused here until
        // the destination says it runs.
        phase = .commit
        var late: [QueuedFrame] = []
        hooks.onDatapath { late = hooks.heldFrames(sent) }
        for f in late where f.nic < sent.count { sent[f.nic] += 1 }
        if !late.isEmpty { try send(MigrationMessage(.frames, FrameBatch.encode(late))) }
        try send(MigrationMessage(.commit))
        mark("commit sent")
        let ack = try expect(.ack)
        report.downtimeMs = Date().timeIntervalSince(pausedAt) * 1000
        mark("ack")
        if tracing {
            let steps = marks.map { "\($0.0) +\(String(format: "%.2f", $0.1.timeIntervalSince(pausedAt) * 1000)) ms" }
            FileHandle.standardError.write(Data(("migration stop-and-copy: " + steps.joined(separator: ", ") + "\n").utf8))
        }
        let info = try? JSONDecoder().decode(AckInfo.self, from: Data(ack.payload))
        // Point of no return: the destination runs the VM.
        var dropped = 0
        hooks.onDatapath {
            hooks.handedOver(sent)
            dropped = hooks.droppedFrames()
        }
        vm.stop()
        memory.setDirtyLogging(false)
        report.queued = sent.reduce(0, +)
        report.lost = dropped + (info?.lost ?? 0)
        report.bytes = connection.bytesSent
        report.totalMs = Date().timeIntervalSince(start) * 1000
        return report
    }

    /// Sends `pages` in batches, then the end-of-round marker.
    mutating func sendPages(_ pages: [Int], round: Int, final: Bool) throws(MigrationError) {
        var zeros = 0
        var i = 0
        let region = memory.regions
        while i < pages.count {
            let n = min(options.pagesPerMessage, pages.count - i)
            // Sized for zero pages (an index and a marker each); pages with data grow it.
            // Reserving room for n full pages made every message of an idle VM a large
            // allocation, which dominated the total time of big idle VMs.
            var payload: [UInt8] = []
            payload.reserveCapacity(4 + n * 8)
            payload.appendLE(UInt32(n))
            for index in pages[i..<i + n] {
                guard let r = region.last(where: { $0.firstPage <= index }) else { throw fail("page \(index) is outside RAM") }
                // SAFETY: `index` is a page of region `r`, whose mapping lives as long as the VM.
                let page = UnsafeRawPointer(r.host + (index - r.firstPage) * PageBatch.pageSize)
                if PageBatch.append(index: index, page: page, to: &payload) { zeros += 1 }
            }
            try send(MigrationMessage(.pages, payload))
            i += n
            if i % (options.pagesPerMessage * 64) == 0 { try checkPeer() }
        }
        report.pages += pages.count
        report.zeroPages += zeros
        let end = RoundEnd(round: round, pages: pages.count, zeroPages: zeros, final: final)
        do { try send(MigrationMessage(.endOfRound, Array(JSONEncoder().encode(end)))) }
        catch let e as MigrationError { throw e } catch { throw fail("\(error)") }
        if !final { _ = try expect(.roundDone) }
    }

    /// After a failure: tell the destination (best effort), give the network back, stop
    /// logging and let the vCPU run.
    mutating func rollBack(reason: String) {
        try? connection.send(MigrationMessage(.abort, text: "source gave up in phase \(phase): \(reason)"))
        if quiesced { hooks.onDatapath { hooks.resumeNetwork() } }
        if logging { memory.setDirtyLogging(false) }
        if paused || vm.isPaused { vm.resume() }
    }
}

/// The payload of an `ack`: what the destination saw.
struct AckInfo: Codable {
    /// Handed-over frames the destination's NICs could not take.
    var lost: Int
}
