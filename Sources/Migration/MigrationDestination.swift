// MigrationDestination: the destination side. It builds a paused machine from its own
// configuration for the description it gets (or refuses), fills RAM from the rounds, installs
// the CPU and device state and the frames queued during the pause, and runs the VM only when
// the source commits. Whatever fails before the commit, the machine is discarded.

import Foundation
import Machine
import Frames
import Switching
import VMHost

/// A VM that arrived: running, with what came with it.
public struct IncomingMigration {
    /// The VM, running on this side.
    public let vm: VirtualMachine
    /// The switch state of its ports, as installed through the hooks.
    public let switchStates: [SwitchState]
    /// Rounds received (the stop-and-copy round included), pages and zero pages.
    public let rounds: Int
    public let pages: Int
    public let zeroPages: Int
    /// Frames handed over by the source and given to the NICs.
    public let queued: Int
    /// Handed-over frames the NICs could not take.
    public let lost: Int
    /// Pages fetched on demand after the switch to post-copy (nil: no post-copy).
    public var postcopyFaults: Int? = nil
}

/// Runs the destination side of one migration over a connection.
public struct MigrationDestination {
    let connection: MigrationConnection
    let hooks: any MigrationDestinationHost
    let hello: MigrationMessage?

    /// The destination of a migration arriving on `connection`; `hello` is its first
    /// message when the caller already read it (a listener telling migrations from
    /// `resolve` questions).
    public init(connection: MigrationConnection, hooks: any MigrationDestinationHost, hello: MigrationMessage? = nil) {
        self.connection = connection
        self.hooks = hooks
        self.hello = hello
    }

    /// Receives the VM. Returns once it runs here; throws (naming the phase) otherwise, and
    /// then no VM of this migration runs on this side.
    public func run() throws(MigrationError) -> IncomingMigration {
        var phase = MigrationPhase.description
        var vm: VirtualMachine?
        let postcopy = PostcopyState()
        var disks: DiskMirrorDestination?
        do {
            let result = try receive(phase: &phase, vm: &vm, postcopy: postcopy, disks: &disks)
            connection.close()
            return result
        } catch {
            if let receiver = postcopy.receiver {
                // Post-copy: tell the vCPUs to stop, then free whoever waits for a page.
                vm?.stop(timeout: 0)
                receiver.abandon(error.reason)
            }
            // Discard: the machine never ran (stop() ends a parked vCPU; on a created VM it is a no-op).
            vm?.stop()
            disks?.discard()
            if !error.refused { try? connection.send(MigrationMessage(.abort, text: "destination: \(error.reason)")) }
            connection.close()
            throw error
        }
    }

    private func receive(phase: inout MigrationPhase, vm built: inout VirtualMachine?,
                         postcopy: PostcopyState, disks: inout DiskMirrorDestination?) throws(MigrationError) -> IncomingMigration {
        func next() throws(MigrationError) -> MigrationMessage {
            let m: MigrationMessage
            if let receiver = postcopy.receiver {
                do { m = try receiver.next(until: postcopy.deadline) } catch { throw MigrationError(phase, error.description) }
            } else {
                do { m = try connection.receive() } catch { throw MigrationError(phase, "\(error)") }
            }
            if m.type == .abort { throw MigrationError(phase, "source aborted: \(m.text)") }
            return m
        }

        // Every phase up to the commit shares one total deadline; the switchover after the
        // ack is bounded by `confirmTimeout` instead.
        let total = Date(timeIntervalSinceNow: hooks.totalTimeout)
        if connection.deadline.map({ $0 > total }) ?? true { connection.deadline = total }

        // (a) Description -> build or refuse.
        let hello: MigrationMessage
        if let first = self.hello { hello = first } else { hello = try next() }
        guard hello.type == .hello else { throw MigrationError(phase, "expected hello, got \(hello.type)") }
        let description: MigrationDescription
        do { description = try JSONDecoder().decode(MigrationDescription.self, from: Data(hello.payload)) }
        catch { throw refuse(phase, "unreadable description: \(error)") }
        guard description.formatVersion == Int(MigrationWire.version) else {
            throw refuse(phase, "format version \(description.formatVersion) is not \(MigrationWire.version)")
        }
        let vm: VirtualMachine
        do {
            var configuration = try hooks.configuration(for: description)
            // The source holds its images' write locks until its flush at the stop-and-copy;
            // `reopenDisks` takes them then.
            configuration.deferDiskLocks = true
            if let copies = description.diskCopy {
                // Copied disks: images of our own in our disk directory (MigrationDestination+Disks.swift).
                guard let directory = hooks.diskDirectory else { throw DiskMirrorRefusal(reason: "this host keeps no disk directory for copied disks") }
                disks = try DiskMirrorDestination(copies, directory: directory, id: description.id, configuration: &configuration)
            }
            vm = try VirtualMachine(configuration, pool: hooks.pool)
        } catch {
            throw refuse(phase, "cannot build the machine: \(error)")
        }
        built = vm
        if let why = description.incompatibility(with: MigrationDescription(of: vm)) {
            throw refuse(phase, "incompatible machine: \(why)")
        }
        hooks.built(vm: vm)
        // Warm the decoders of the state while RAM arrives (see the source's warm-up).
        if let own = try? vm.saveState(), let data = try? BinaryStateCoder.encode(own) {
            _ = try? BinaryStateCoder.decode(VMState.self, from: data)
        }
        do { try connection.send(MigrationMessage(.accept)) } catch { throw MigrationError(phase, "\(error)") }
        if let disks {
            do { try connection.send(MigrationMessage(.diskPlan, Array(JSONEncoder().encode(disks.plan)))) } catch { throw MigrationError(phase, "\(error)") }
        }

        // (b, c, d) RAM rounds, then the state.
        phase = .round0
        let memory = vm.board.memory
        var rounds = 0, pages = 0, zeroPages = 0
        var state: VMState?
        var switchStates: [SwitchState] = []
        var frames: [QueuedFrame] = []
        loop: while true {
            let m = try next()
            switch m.type {
            case .pages:
                do {
                    try PageBatch.decode(m.payload, pageCount: memory.pageCount, { index, bytes in
                        // The decoder checked `index` < pageCount.
                        guard let page = memory.hostPage(index) else { return }
                        if let bytes {
                            page.copyMemory(from: bytes.baseAddress!, byteCount: PageBatch.pageSize)
                        } else if !PageBatch.isZero(UnsafeRawPointer(page)) {
                            // Reading first leaves never-touched pages unmapped.
                            page.initializeMemory(as: UInt8.self, repeating: 0, count: PageBatch.pageSize)
                        }
                        pages += 1
                        if bytes == nil { zeroPages += 1 }
                    }, run: { range in
                        // Handing the pages back zeroes them without touching them.
                        memory.discard(pages: range)
                        pages += range.count
                        zeroPages += range.count
                    })
                } catch { throw MigrationError(phase, "\(error)") }
            case .endOfRound:
                rounds += 1
                let end: RoundEnd
                do { end = try JSONDecoder().decode(RoundEnd.self, from: Data(m.payload)) }
                catch { throw MigrationError(phase, "unreadable end of round: \(error)") }
                phase = end.final ? .stopAndCopy : .rounds
                if !end.final {
                    do { try connection.send(MigrationMessage(.roundDone)) } catch { throw MigrationError(phase, "\(error)") }
                }
            case .postcopyStart:
                phase = .stopAndCopy
                try startPostcopy(m, memory: memory, state: postcopy, phase: phase)
            case .state:
                phase = .stopAndCopy
                try disks?.complete()
                do { state = try BinaryStateCoder.decodeAny(VMState.self, from: m.payload) }
                catch { throw MigrationError(phase, "unreadable VM state: \(error)") }
            case .baseBlocks, .diskBlocks, .diskRoundEnd:
                guard let disks else { throw MigrationError(phase, "unexpected \(m.type): no disks are copied") }
                do {
                    if try disks.receive(m) { try connection.send(MigrationMessage(.diskRoundDone)) }
                } catch { throw MigrationError(phase, "disks: \(error)") }
            case .switchState:
                do { switchStates = try BinaryStateCoder.decodeAny([SwitchState].self, from: m.payload) }
                catch { throw MigrationError(phase, "unreadable switch state: \(error)") }
            case .frames:
                do { frames = try FrameBatch.decode(m.payload) } catch { throw MigrationError(phase, "\(error)") }
                break loop
            default:
                throw MigrationError(phase, "unexpected \(m.type)")
            }
        }
        guard let state else { throw MigrationError(phase, "no VM state before the queued frames") }
        let framesAt = Date()
        // The source is paused and flushed: read the disks' current metadata.
        do { try vm.reopenDisks() } catch { throw MigrationError(phase, "\(error)") }
        do { try vm.restore(state, onDatapath: { hooks.onDatapath(perform: $0) }) } catch { throw MigrationError(phase, "\(error)") }
        let restoredAt = Date()
        var lost = deliver(frames, to: vm)
        if ProcessInfo.processInfo.environment["SWITCHBOARD_MIGRATION_TRACE"] == "1" {
            let ms = { (d: Date) in String(format: "%.2f", d.timeIntervalSince(framesAt) * 1000) }
            FileHandle.standardError.write(Data("migration destination: restored +\(ms(restoredAt)) ms, frames delivered +\(ms(Date())) ms\n".utf8))
        }
        var received = [Int](repeating: 0, count: vm.nics.count)
        for f in frames where f.nic < received.count { received[f.nic] += 1 }
        do { try connection.send(MigrationMessage(.ready)) } catch { throw MigrationError(phase, "\(error)") }

        /// Frames the source held since its last batch: to the NICs, in order.
        func take(_ late: [QueuedFrame]) {
            lost += deliver(late, to: vm)
            for f in late where f.nic < received.count { received[f.nic] += 1 }
            frames += late
        }

        // (e) Commit.
        phase = .commit
        while true {
            let m = try next()
            guard m.type == .frames else {
                guard m.type == .commit else { throw MigrationError(phase, "expected commit, got \(m.type)") }
                break
            }
            do { take(try FrameBatch.decode(m.payload)) } catch { throw MigrationError(phase, "\(error)") }
        }
        var installError: String?
        hooks.onDatapath {
            do { try hooks.installSwitchStates(switchStates) } catch { installError = "\(error)" }
            if installError == nil { hooks.activate(vm: vm, received: received) }
        }
        if let installError { throw MigrationError(phase, "switch state refused: \(installError)") }
        // The vCPU thread is made now and parks before its first instruction: on the word
        // to go it only has to be woken.
        vm.pause(timeout: 0)
        vm.start()
        let ack = (try? JSONEncoder().encode(AckInfo(lost: lost))).map { Array($0) } ?? []
        do { try connection.send(MigrationMessage(.ack, ack)) } catch {
            hooks.onDatapath { hooks.deactivate(vm: vm) }
            throw MigrationError(phase, "sending ack: \(error)")
        }

        // (f) Switchover: the VM starts only on the source's word, so it never runs on both
        // sides. Should the connection break first, the source (whose decision it is) is asked.
        phase = .switchover
        if postcopy.receiver == nil { connection.deadline = nil }
        let beforeAck = frames.count
        var confirmed = false
        // Frames, then the confirm; anything else (a broken stream, a garbled batch) leaves
        // the question to the source.
        while let m = try? postcopy.receive(connection, timeout: hooks.confirmTimeout) {
            if m.type == .confirm { confirmed = true }
            guard m.type == .frames, let late = try? FrameBatch.decode(m.payload) else { break }
            take(late)
        }
        let afterAck = frames.count - beforeAck
        if !confirmed {
            switch askSource(description) {
            case .committed(let held):
                // Post-copy: the source let go, but the pages still missing came only from it.
                if postcopy.receiver != nil { throw MigrationError(phase, "VM lost: the connection broke at the switch to post-copy") }
                take(Array(held.dropFirst(afterAck)))
            case .aborted, .unknown, .inProgress:
                hooks.onDatapath { hooks.deactivate(vm: vm) }
                throw MigrationError(phase, "the connection broke after the ack and the source kept the VM")
            }
        }
        disks?.committed()
        postcopy.receiver?.vmStarting { vm.stop(timeout: 0) }
        vm.resume()
        hooks.onDatapath { hooks.confirmed(vm: vm) }
        var incoming = IncomingMigration(vm: vm, switchStates: switchStates, rounds: rounds, pages: pages, zeroPages: zeroPages,
                                         queued: frames.count, lost: lost)
        // Post-copy: the VM runs; the missing pages come on demand and in the background.
        if let receiver = postcopy.receiver {
            do { incoming.postcopyFaults = try receiver.waitUntilComplete() } catch { throw MigrationError(phase, "VM lost: \(error)") }
        }
        return incoming
    }

    /// Asks the source, until `confirmTimeout`, what became of this migration; `.unknown` when
    /// it cannot be asked (no id or address) or never answers with a decision.
    private func askSource(_ description: MigrationDescription) -> MigrationOutcome {
        guard let id = description.id, let address = description.resolveAddress else { return .unknown }
        let deadline = Date(timeIntervalSinceNow: hooks.confirmTimeout)
        while true {
            let answer = hooks.resolve(id: id, address: address)
            switch answer {
            case .committed, .aborted: return answer
            case .inProgress, .unknown:
                if Date() >= deadline { return answer }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Tells the source why not, and makes the error.
    private func refuse(_ phase: MigrationPhase, _ reason: String) -> MigrationError {
        try? connection.send(MigrationMessage(.refuse, text: reason))
        return MigrationError(phase, reason, refused: true)
    }

    /// Gives handed-over frames to the VM (on the datapath thread); returns how many were lost.
    private func deliver(_ frames: [QueuedFrame], to vm: VirtualMachine) -> Int {
        guard !frames.isEmpty else { return 0 }
        var lost = 0
        hooks.onDatapath(perform: { lost = hooks.handIn(vm: vm, frames: frames) })
        return lost
    }

    /// Puts frames straight into the VM's NICs, in order (datapath thread); returns how many
    /// they dropped (no room, or no such NIC).
    public static func deliverToNICs(_ frames: [QueuedFrame], vm: VirtualMachine, pool: PacketPool) -> Int {
        var lost = 0
        let before = vm.nics.map { $0.counters.rxDrops }
        for f in frames {
            guard f.nic < vm.nics.count, let h = pool.make(copying: f.bytes) else {
                lost += 1
                continue
            }
            var entry = TransmitEntry(handle: h, tci: 0, action: .keep)
            withUnsafePointer(to: &entry) {
                vm.nics[f.nic].transmit(UnsafeBufferPointer(start: $0, count: 1), pool: pool, now: 0)
            }
        }
        for (i, nic) in vm.nics.enumerated() { lost += Int(nic.counters.rxDrops - before[i]) }
        return lost
    }
}
