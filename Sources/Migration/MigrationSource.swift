// MigrationSource: the source side of pre-copy live migration (Clark et al., NSDI 2005). It
// drives the protocol: description, round 0 (all RAM), rounds of dirty pages until the rest
// fits the downtime budget, stop-and-copy, commit, switchover. On any failure before the
// destination's `ack` the VM runs on here; after it, only there.

import Foundation
import Machine
import Switching
import VMHost

/// Runs the source side of one migration over a connection.
public struct MigrationSource {
    let vm: VirtualMachine
    let connection: MigrationConnection
    let options: MigrationOptions
    let hooks: any MigrationSourceHost

    /// A migration of `vm` over `connection`.
    public init(vm: VirtualMachine, connection: MigrationConnection, options: MigrationOptions = MigrationOptions(),
                hooks: any MigrationSourceHost = MigrationSourceHooks()) {
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
        options.outcomes.record(state.id, .inProgress)
        do {
            let report = try state.migrate()
            connection.close()
            return report
        } catch {
            if state.committed {
                // Post-copy after the ack: the destination runs the VM without all its pages
                // and ours is stale: it is lost, and is not run here.
                state.loseVM()
                connection.close()
                throw error
            }
            options.outcomes.record(state.id, .aborted)
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
    let hooks: any MigrationSourceHost
    let id: String
    var phase: MigrationPhase = .description
    var report = MigrationReport()
    var logging = false
    var paused = false
    var quiesced = false
    /// Whether the disk locks were given up for the destination (taken back on failure).
    var disksReleased = false
    var round = 0
    /// The vCPU throttle auto-converge applies now, percent.
    var throttle = 0
    /// The pages still owed after a switch to post-copy.
    var postcopy: PostcopySource?
    /// Past the point of no return (the destination's `ack` read).
    var committed = false
    /// The disks being copied (`copyDisks`; MigrationSource+Disks.swift).
    var disks: DiskMirrorSource?
    var bandwidth: Double = 0
    /// Seconds the last round took to write (without the wait for `roundDone`).
    var sendSeconds: Double = 0
    var roundStarted = Date()
    let started = Date()
    var memory: GuestMemory { vm.board.memory }
    /// `SWITCHBOARD_MIGRATION_TRACE=1`: print when each stop-and-copy step ended (stderr).
    let tracing = ProcessInfo.processInfo.environment["SWITCHBOARD_MIGRATION_TRACE"] == "1"
    var marks: [(String, Date)] = []

    mutating func mark(_ label: String) {
        if tracing { marks.append((label, Date())) }
    }

    init(vm: VirtualMachine, connection: MigrationConnection, options: MigrationOptions, hooks: any MigrationSourceHost) {
        self.vm = vm
        self.connection = connection
        self.options = options
        self.hooks = hooks
        id = options.id ?? UUID().uuidString
    }

    func fail(_ reason: String) -> MigrationError { MigrationError(phase, reason) }

    func send(_ m: MigrationMessage) throws(MigrationError) {
        do { try connection.send(m) } catch {
            // The destination may have said why before closing, behind replies not read yet
            // (a stop-and-copy round does not wait for them): look past those.
            for _ in 0..<64 {
                guard let reply = try? connection.poll(wait: 0.05) else { break }
                if reply.type == .abort || reply.type == .refuse {
                    throw MigrationError(phase, "destination \(reply.type == .abort ? "aborted" : "refused"): \(reply.text)",
                                         refused: reply.type == .refuse)
                }
            }
            throw fail("sending \(m.type): \(error)")
        }
    }

    func sendJSON<T: Encodable>(_ type: MessageType, _ value: T) throws(MigrationError) {
        let payload: [UInt8]
        do { payload = try Array(JSONEncoder().encode(value)) } catch { throw fail("\(error)") }
        try send(MigrationMessage(type, payload))
    }

    /// Sends state in the binary form (`BinaryStateCoder`: microseconds, not JSON's ms).
    func sendBinary<T: Encodable>(_ type: MessageType, _ value: T) throws(MigrationError) {
        let payload: [UInt8]
        do { payload = try BinaryStateCoder.encode(value) } catch { throw fail("\(error)") }
        try send(MigrationMessage(type, payload))
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
        var m: MigrationMessage
        do { m = try connection.receive() } catch { throw fail("waiting for \(type): \(error)") }
        // Post-copy: the destination may need pages while it restores (frames DMA'd in).
        while m.type == .pageRequest && postcopy != nil {
            try serve(m)
            do { m = try connection.receive() } catch { throw fail("waiting for \(type): \(error)") }
        }
        if m.type == .abort { throw fail("destination aborted: \(m.text)") }
        if m.type == .refuse { throw MigrationError(phase, "destination refused: \(m.text)", refused: true) }
        guard m.type == type else { throw fail("expected \(type), got \(m.type)") }
        return m
    }

    /// Reports progress to the hook.
    func progress(dirty: Int) {
        let p = MigrationProgress(phase: phase, round: round, bytesSent: connection.bytesSent, pagesSent: report.pages,
                                  dirtyPages: dirty, rate: bandwidth, elapsed: Date().timeIntervalSince(started),
                                  diskBytesSent: disks?.bytesSent, diskBytesLeft: disks?.bytesLeft,
                                  throttlePct: options.autoConverge ? throttle : nil)
        if tracing {
            let line = String(format: "migration %@: round %d, %d bytes, %d pages sent, %d dirty, %.1f MB/s, %.2f ms\n",
                              p.phase.rawValue, p.round, p.bytesSent, p.pagesSent, p.dirtyPages, p.rate / 1e6, p.elapsed * 1000)
            FileHandle.standardError.write(Data(line.utf8))
        }
        hooks.progressed(p)
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
        guard vm.state == .running || vm.state == .created else { throw fail("the VM is not running (\(vm.state))") }

        // (a) Description.
        var description = MigrationDescription(of: vm)
        description.id = id
        description.resolveAddress = options.resolveAddress
        try describeDisks(&description)
        try sendJSON(.hello, description)
        _ = try expect(.accept)

        // (b) Round 0: all of RAM, with dirty logging on from here. Pages the host never
        // populated are zeros: they go as runs, without being read (which would fault them in).
        phase = .round0
        try sendDisksFirstPass()
        let memory = self.memory
        // Take and encode the state once now, while the VM runs: the first encoding of these
        // types costs one-time work (metadata, conformance lookups) that would otherwise fall
        // into the downtime.
        let (vm, hooks) = (self.vm, self.hooks)
        let warm = try whilePaused { () -> (VMState?, [SwitchState]) in
            memory.setDirtyLogging(true)
            return (try? vm.saveState(), hooks.switchStates())
        }
        _ = try? BinaryStateCoder.encode(warm.0)
        _ = try? BinaryStateCoder.encode(warm.1)
        logging = true
        var bytesBefore = connection.bytesSent
        try sendAllRAM()
        bandwidth = Double(connection.bytesSent - bytesBefore) / max(sendSeconds, 1e-6)
        report.rounds = 1
        round = 1

        // (c) Later rounds: what was dirtied meanwhile, until it fits the budget.
        phase = .rounds
        if options.autoConverge { report.throttlePct = 0 }
        var best = Int.max
        var stalled = 0
        while true {
            try checkPeer()
            let pending = memory.dirtyCount
            progress(dirty: pending)
            let estimate = Double(pending * (PageBatch.pageSize + 4) + (disks?.dirtyBytes ?? 0)) / max(bandwidth, 1)
            if estimate <= options.downtimeBudget || round > options.maxRounds { break }
            // A guest that dirties memory as fast as it goes out never fits the budget: once
            // rounds stop shrinking the dirty set (by a tenth) more of them only cost time.
            if best != Int.max && pending * 10 >= best * 9 { stalled += 1 } else { stalled = 0 }
            best = min(best, pending)
            // Auto-converge: throttle the vCPUs once rounds stall, and more for every further
            // stalled round, while the throttle can still rise.
            if options.stopWhenNotConverging && stalled >= (throttle > 0 ? 1 : options.stalledRounds)
                && !(options.autoConverge && raiseThrottle()) {
                report.stalled = true
                break
            }
            // Read and cleared word by word in one atomic exchange each: a page DMA marks
            // meanwhile is taken now or stays for the next round.
            let dirty = try whilePaused { memory.takeDirtyPages() }
            bytesBefore = connection.bytesSent
            try sendPages(dirty, round: round, final: false)
            // The rate of writing into the connection (which blocks once the socket buffers
            // are full): a round small enough to sit in the buffers is cheap to stop on.
            if sendSeconds > 0.000_05 { bandwidth = max(bandwidth, Double(connection.bytesSent - bytesBefore) / sendSeconds) }
            try sendDirtyDisks(final: false)
            round += 1
            report.rounds = round
        }

        // (d) Stop and copy.
        phase = .stopAndCopy
        guard vm.pause(timeout: options.timeout) else { throw fail("the vCPU did not pause") }
        paused = true
        let pausedAt = Date()
        removeThrottle()
        mark("paused")
        guard vm.state == .running || vm.state == .created else { throw fail("the VM stopped during migration (\(vm.state))") }
        var last: [Int] = []
        hooks.onDatapath {
            hooks.holdNetwork()
            last = memory.takeDirtyPages()
        }
        quiesced = true
        progress(dirty: last.count)
        mark("quiesced, \(last.count) dirty")
        if switchesToPostcopy(dirty: last.count) {
            try startPostcopy(last)
            mark("post-copy bitmap sent")
        } else {
            try sendPages(last, round: round, final: true)
            mark("pages sent")
        }
        vm.console.flush()
        // The destination opens the (shared) images again before it runs: all writes durable,
        // and our locks given up so that it can take the write locks (as QEMU inactivates its
        // images at the end of a migration).
        do { try vm.flushDisks() } catch { throw fail("\(error)") }
        try sendDirtyDisks(final: true)
        if let disks { mark("\(disks.finalBlocks) disk blocks sent") }
        vm.releaseDiskLocks()
        disksReleased = true
        let saved: VMState
        do { saved = try vm.saveState() } catch { throw fail("\(error)") }
        mark("state saved")
        var switchStates: [SwitchState] = []
        var frames: [QueuedFrame] = []
        hooks.onDatapath {
            switchStates = hooks.switchStates()
            frames = hooks.heldFrames(skipping: [])
        }
        mark("switch state taken")
        let before = connection.bytesSent
        try sendBinary(.state, saved)
        mark("state sent (\(connection.bytesSent - before) bytes)")
        try sendBinary(.switchState, switchStates)
        var sent = [Int](repeating: 0, count: vm.nics.count)
        for f in frames where f.nic < sent.count { sent[f.nic] += 1 }
        try send(MigrationMessage(.frames, FrameBatch.encode(frames)))
        mark("state and \(frames.count) frames sent")
        _ = try expect(.ready)
        mark("ready")

        // (e) Commit: frames that came meanwhile, then "run"; the VM stays paused here until
        // the destination says it is ready to run.
        phase = .commit
        var late: [QueuedFrame] = []
        hooks.onDatapath { late = hooks.heldFrames(skipping: sent) }
        for f in late where f.nic < sent.count { sent[f.nic] += 1 }
        if !late.isEmpty { try send(MigrationMessage(.frames, FrameBatch.encode(late))) }
        try send(MigrationMessage(.commit))
        mark("commit sent")
        let ack = try expect(.ack)
        mark("ack")
        committed = true

        // (f) Switchover. Point of no return: the destination has everything and waits only
        // for our word. Frames held since go with the confirm (and stay on record for a
        // `resolve`); the network hooks point the VM's MACs at the destination.
        phase = .switchover
        let info = try? JSONDecoder().decode(AckInfo.self, from: Data(ack.payload))
        var after: [QueuedFrame] = []
        var dropped = 0
        hooks.onDatapath {
            after = hooks.heldFrames(skipping: sent)
            var all = sent
            for f in after where f.nic < all.count { all[f.nic] += 1 }
            hooks.handOver(sent: all)
            dropped = hooks.framesDropped
        }
        options.outcomes.record(id, .committed(after))
        if !after.isEmpty { try? connection.send(MigrationMessage(.frames, FrameBatch.encode(after))) }
        try? connection.send(MigrationMessage(.confirm))
        report.downtimeMs = Date().timeIntervalSince(pausedAt) * 1000
        mark("confirm sent")
        vm.stop()
        memory.setDirtyLogging(false)
        stopDiskTracking()
        report.diskBytes = disks?.bytesSent
        // Post-copy: the destination runs the VM; what it still lacks comes from here.
        try servePostcopy()
        if tracing {
            let steps = marks.map { "\($0.0) +\(String(format: "%.2f", $0.1.timeIntervalSince(pausedAt) * 1000)) ms" }
            FileHandle.standardError.write(Data(("migration stop-and-copy: " + steps.joined(separator: ", ") + "\n").utf8))
        }
        report.queued = sent.reduce(0, +) + after.count
        report.lost = dropped + (info?.lost ?? 0)
        report.bytes = connection.bytesSent
        report.totalMs = Date().timeIntervalSince(started) * 1000
        progress(dirty: 0)
        return report
    }

    /// Round 0: every page, never-populated stretches as zero runs (one entry each).
    mutating func sendAllRAM() throws(MigrationError) {
        let memory = self.memory
        let populated = memory.populatedPages()
        func isPopulated(_ i: Int) -> Bool {
            guard let populated else { return true }
            return populated[i >> 6] & (1 << UInt64(i & 63)) != 0
        }
        roundStarted = Date()
        var batch = PageBatchWriter(limit: options.pagesPerMessage)
        var zeros = 0
        var messages = 0
        var i = 0
        let total = memory.pageCount
        while i < total {
            if !isPopulated(i) {
                var j = i + 1
                // Whole clear words at a time.
                while j < total {
                    if let populated, j & 63 == 0, j + 64 <= total, populated[j >> 6] == 0 { j += 64; continue }
                    if isPopulated(j) { break }
                    j += 1
                }
                batch.zeroRun(i, count: j - i)
                zeros += j - i
                i = j
            } else {
                guard let page = memory.hostPage(i).map(UnsafeRawPointer.init) else { throw fail("page \(i) is outside RAM") }
                if batch.page(i, page) { zeros += 1 }
                i += 1
            }
            if batch.full {
                try send(MigrationMessage(.pages, batch.take()))
                messages += 1
                if messages % 256 == 0 {
                    try checkPeer()
                    report.pages = i
                    progress(dirty: total - i)
                }
            }
        }
        if !batch.isEmpty { try send(MigrationMessage(.pages, batch.take())) }
        report.pages = total
        report.zeroPages = zeros
        try endRound(pages: total, zeros: zeros, final: false)
    }

    /// Sends `pages` in batches, then the end-of-round marker.
    mutating func sendPages(_ pages: [Int], round: Int, final: Bool) throws(MigrationError) {
        roundStarted = Date()
        var zeros = 0
        var batch = PageBatchWriter(limit: options.pagesPerMessage)
        var messages = 0
        for index in pages {
            guard let page = memory.hostPage(index).map(UnsafeRawPointer.init) else { throw fail("page \(index) is outside RAM") }
            if batch.page(index, page) { zeros += 1 }
            if batch.full {
                try send(MigrationMessage(.pages, batch.take()))
                messages += 1
                if messages % 64 == 0 { try checkPeer() }
            }
        }
        if !batch.isEmpty { try send(MigrationMessage(.pages, batch.take())) }
        report.pages += pages.count
        report.zeroPages += zeros
        try endRound(pages: pages.count, zeros: zeros, final: final)
    }

    /// The end-of-round marker; a pre-copy round then waits until the destination has it all.
    mutating func endRound(pages: Int, zeros: Int, final: Bool) throws(MigrationError) {
        try sendJSON(.endOfRound, RoundEnd(round: round, pages: pages, zeroPages: zeros, final: final))
        sendSeconds = Date().timeIntervalSince(roundStarted)
        if !final { _ = try expect(.roundDone) }
    }

    /// After a failure: tell the destination (best effort), give the network back, stop
    /// logging and let the vCPU run.
    mutating func rollBack(reason: String) {
        try? connection.send(MigrationMessage(.abort, text: "source gave up in phase \(phase): \(reason)"))
        removeThrottle()
        if quiesced { hooks.onDatapath { hooks.restoreNetwork() } }
        if logging { memory.setDirtyLogging(false) }
        stopDiskTracking()
        if disksReleased { retakeDiskLocks() }
        if paused || vm.isPaused { vm.resume() }
    }

    /// After the point of no return: the VM is lost (post-copy broke), so it is not run here.
    mutating func loseVM() {
        removeThrottle()
        vm.stop()
        if logging { memory.setDirtyLogging(false) }
    }

    /// Takes the disk locks back before the VM runs on here. The destination gives them up
    /// when it discards its machine, which it may learn of a little after us: retry for a
    /// while; should it still hold them, the VM runs on (it is the only copy that runs).
    func retakeDiskLocks() {
        let deadline = Date().addingTimeInterval(5)
        while true {
            do {
                try vm.acquireDiskLocks()
                return
            } catch {
                if Date() >= deadline {
                    FileHandle.standardError.write(Data("migration of \(vm.name): \(error); running on without the lock\n".utf8))
                    return
                }
                usleep(10_000)
            }
        }
    }
}

/// Builds `pages` payloads entry by entry.
struct PageBatchWriter {
    let limit: Int
    private(set) var entries = 0
    private var payload: [UInt8] = []

    init(limit: Int) {
        self.limit = max(limit, 1)
        reset()
    }

    private mutating func reset() {
        // Sized for zero pages and runs (8 bytes each); pages with data grow it. Reserving
        // room for full pages made every message of an idle VM a large allocation.
        payload = []
        payload.reserveCapacity(4 + limit * 8)
        payload.appendLE(UInt32(0))
        entries = 0
    }

    var full: Bool { entries >= limit }
    var isEmpty: Bool { entries == 0 }

    /// Adds a page; true when it was all zeros (sent as a marker).
    mutating func page(_ index: Int, _ page: UnsafeRawPointer) -> Bool {
        entries += 1
        return PageBatch.append(index: index, page: page, to: &payload)
    }

    /// Adds a run of zero pages.
    mutating func zeroRun(_ index: Int, count: Int) {
        entries += 1
        PageBatch.appendZeroRun(index: index, count: count, to: &payload)
    }

    /// The payload so far (with its entry count), and a fresh batch.
    mutating func take() -> [UInt8] {
        var out = payload
        withUnsafeBytes(of: UInt32(entries).littleEndian) { c in
            for k in 0..<4 { out[k] = c[k] }
        }
        reset()
        return out
    }
}

/// The payload of an `ack`: what the destination saw.
struct AckInfo: Codable {
    /// Handed-over frames the destination's NICs could not take.
    var lost: Int
}
