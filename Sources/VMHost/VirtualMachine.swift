// VirtualMachine: one guest on a `Board` (the software CPU on the virt board today): its
// virtio-net NICs (switch ports) and virtio-blk disks, its console, and the thread that runs
// its vCPU. Nothing here names a CPU or a board: a second backend plugs in through `BoardSpec`.
//
// Threads. Each vCPU runs on a thread of its own (`VCPUThreads`), which also performs the MMIO
// accesses of that vCPU (virtio registers, block I/O, the UART and the console's expect script). Network frames
// move on the datapath thread, which owns the packet pool and the switches: it calls
// `serviceNetwork` when a NIC's `kick` fires. The virtio devices serialise the two with a
// lock per device. A VM that loops, crashes or powers off affects only its own thread.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Frames
import Machine
import Switching
import Virtio

/// Why a VM could not be built or started.
public enum VMError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    public var description: String {
        switch self { case .configuration(let m): return m }
    }
}

/// Everything needed to build a VM (files already read).
public struct VMConfiguration: Sendable {
    /// A disk as the VM sees it.
    public struct Disk: Sendable {
        public var path: String
        public var qcow2: Bool
        public var readOnly: Bool
        /// For a qcow2 overlay that does not exist yet: its base image and the base's format.
        public var base: (path: String, format: String)?
        public init(path: String, qcow2: Bool, readOnly: Bool, base: (path: String, format: String)? = nil) {
            self.path = path
            self.qcow2 = qcow2
            self.readOnly = readOnly
            self.base = base
        }
    }

    public var name: String
    public var memoryMiB: Int
    /// The board and what it boots (firmware, kernel, boot arguments).
    public var board: any BoardSpec
    public var nicMACs: [MACAddress]
    public var disks: [Disk]
    public var consoleLog: String?
    public var consoleToStdout: Bool
    public var expect: [ExpectStep]
    /// Continue the console log instead of truncating it (a VM arriving by migration).
    public var consoleAppend = false
    /// Open writable disk images without their write lock (a VM arriving by migration: the
    /// source still holds it; `reopenDisks` takes it at the stop-and-copy).
    public var deferDiskLocks = false

    public init(name: String, memoryMiB: Int, board: any BoardSpec,
                nicMACs: [MACAddress], disks: [Disk], consoleLog: String?, consoleToStdout: Bool, expect: [ExpectStep]) {
        self.name = name
        self.memoryMiB = memoryMiB
        self.board = board
        self.nicMACs = nicMACs
        self.disks = disks
        self.consoleLog = consoleLog
        self.consoleToStdout = consoleToStdout
        self.expect = expect
    }
}

/// A running (or finished) virtual machine.
public final class VirtualMachine: @unchecked Sendable {
    /// Where the VM is in its life.
    public enum State: Equatable, Sendable {
        case created
        case running
        /// Powered off through the test device or SBI, with the guest's code.
        case poweredOff(code: Int32)
        /// The VMM stopped it (a fatal trap, a failed reset).
        case failed(String)
        /// The host stopped it (end of the run).
        case stopped
    }

    public let name: String
    /// The machine it runs on.
    public let board: any Board
    public let nics: [VirtioNet]
    public let transports: [any MMIODevice]
    public let console: VMConsole
    /// Wall-clock seconds from `start` to the appliance's `ready` line, when it printed one.
    public private(set) var readySeconds: Double?
    /// Final flow reports the guest printed, by flow id.
    public private(set) var flowReports: [Int: FlowReport] = [:]
    /// The guest kernel's panic line, when it printed one.
    private var panicMessage: String?
    /// Per-vCPU trap-storm detectors: slot i is touched only by vCPU i's thread (and by
    /// `start` before the threads run).
    private let stormDetectors: UnsafeMutableBufferPointer<TrapStormDetector>
    /// The worst trap storm seen on each vCPU that had one (under `lock`).
    private var storms: [Int: TrapStorm] = [:]

    private let lock = NSLock()
    private var _state: State = .created
    private var stopRequested = false
    /// The vCPU threads (created with the board; started by `start`).
    private var vcpus: VCPUThreads!
    private var startedAt = 0.0
    /// Seconds the VM ran before it was restored here (a migrated VM's clock goes on).
    private var runningBefore = 0.0
    private let finished = DispatchSemaphore(value: 0)
    /// What the VM was built from (migration sends a description of it).
    public let configuration: VMConfiguration

    /// Builds the board, devices and console; nothing runs until `start`.
    public init(_ c: VMConfiguration, pool: PacketPool) throws(VMError) {
        name = c.name
        configuration = c
        let console: VMConsole
        do {
            console = try VMConsole(name: c.name, logPath: c.consoleLog, toStdout: c.consoleToStdout,
                                    expect: c.expect, appendLog: c.consoleAppend, now: monotonicSeconds())
        }
        self.console = console
        do {
            board = try c.board.makeBoard(memoryMiB: c.memoryMiB) { console.put($0) }
        } catch {
            throw .configuration("VM \(c.name): \(error)")
        }
        var slot = 0
        var nics: [VirtioNet] = []
        var transports: [any MMIODevice] = []
        do {
            for mac in c.nicMACs {
                let net = VirtioNet(memory: board.memory, mac: mac, pool: pool)
                let transport = VirtioMMIOTransport(device: net)
                transport.interruptLine = try board.attachVirtio(transport, slot: slot)
                slot += 1
                nics.append(net)
                transports.append(transport)
            }
            for (i, disk) in c.disks.enumerated() {
                let backend = try Self.openDisk(disk, vm: c.name, lock: disk.readOnly || !c.deferDiskLocks)
                let block = VirtioBlock(memory: board.memory, disk: backend, identifier: "\(c.name)-disk\(i)")
                let transport = VirtioMMIOTransport(device: block)
                transport.interruptLine = try board.attachVirtio(transport, slot: slot)
                slot += 1
                transports.append(transport)
            }
            try board.boot()
        } catch let error as VMError {
            throw error
        } catch {
            throw .configuration("VM \(c.name): \(error)")
        }
        let detectors = UnsafeMutableBufferPointer<TrapStormDetector>.allocate(capacity: board.vcpuCount)
        detectors.initialize(repeating: TrapStormDetector(vcpu: 0, now: 0))
        stormDetectors = detectors
        self.nics = nics
        self.transports = transports
        console.type = { [unowned board] bytes in board.typeOnConsole(bytes) }
        console.onLine = { [unowned self] line in self.parse(line) }
        vcpus = VCPUThreads(board: board, name: c.name, afterRun: { [unowned self] i in
            let now = monotonicSeconds()
            if i == 0 {
                self.console.checkTimeout(now: now)
                self.deliverTypedInput()
            }
            self.watchForStorms(vcpu: i, now: now)
        }, onFinish: { [unowned self] o in self.vcpusEnded(o) })
    }

    /// Opens (or creates, for a new qcow2 overlay) one disk image; with `lock` it holds its OFD
    /// lock (write lock, or read lock when read-only) from the start.
    static func openDisk(_ disk: VMConfiguration.Disk, vm: String, lock: Bool = true) throws -> any DiskBackend {
        do {
            if disk.qcow2 {
                if let base = disk.base, !FileManager.default.fileExists(atPath: disk.path) {
                    // A raw base of any length: the overlay rounds its size up to whole sectors
                    // (reads past the base's end return zeros).
                    var size: UInt64? = nil
                    if base.format == "raw", let bytes = (try? FileManager.default.attributesOfItem(atPath: base.path))?[.size] as? UInt64 {
                        size = (bytes + 511) / 512 * 512
                    }
                    // A qcow2 image names its backing file relative to itself; the topology's
                    // paths are relative to the working directory: record an absolute path.
                    var backing = base.path
                    if !backing.hasPrefix("/") { backing = FileManager.default.currentDirectoryPath + "/" + backing }
                    return try Qcow2Image.create(path: disk.path, size: size, backingFile: backing, backingFormat: base.format)
                }
                return try Qcow2Image(path: disk.path, readOnly: disk.readOnly, lock: lock)
            }
            return try RawDiskImage(path: disk.path, readOnly: disk.readOnly, lock: lock)
        } catch {
            throw VMError.configuration("VM \(vm): disk \(disk.path): \(error)")
        }
    }

    /// The VM's state.
    public var state: State { lock.withLock { _state } }

    /// Starts the vCPU threads (one per vCPU).
    public func start() {
        lock.withLock {
            guard _state == .created else { return }
            _state = .running
            startedAt = monotonicSeconds() - runningBefore
        }
        let now = monotonicSeconds()
        for i in stormDetectors.indices { stormDetectors[i] = TrapStormDetector(vcpu: i, now: now) }
        vcpus.start()
    }

    deinit { stormDetectors.deallocate() }

    /// Samples vCPU `i`'s trap counts (on its own thread, once a window has closed) and keeps
    /// the worst storm seen, dated from its first window.
    private func watchForStorms(vcpu i: Int, now: Double) {
        guard stormDetectors[i].isDue(now: now),
              var storm = stormDetectors[i].sample(now: now, exits: board.exitStatistics(vcpu: i),
                                                   instructions: board.instructionsRetired(vcpu: i)) else { return }
        lock.withLock {
            guard storm.perSecond > storms[i]?.perSecond ?? 0 else { return }
            storm.firstSeenSeconds = storms[i]?.firstSeenSeconds ?? storm.firstSeenSeconds
            storms[i] = storm
        }
    }

    /// Trap storms seen so far (the worst per vCPU, by vCPU), for the run summary.
    public var trapStorms: [TrapStorm] { lock.withLock { storms.values.sorted { $0.vcpu < $1.vcpu } } }

    /// Asks the vCPUs to stop and waits up to `timeout` seconds for them (a paused VM stops too).
    public func stop(timeout: Double = 5) {
        let wasRunning = lock.withLock { () -> Bool in
            stopRequested = true
            return _state == .running
        }
        vcpus.requestStop()
        if wasRunning { _ = finished.wait(timeout: .now() + timeout) }
        console.flush()
        // A VM that never ran writes nothing: its images are free for others. A running one
        // frees them when its last vCPU thread ends (vcpusEnded), not while it may still write.
        if !wasRunning { releaseDiskLocks() }
    }

    /// Waits until the VM is no longer running (powered off, failed or stopped).
    public func wait(timeout: Double) -> Bool {
        guard state == .running else { return true }
        if finished.wait(timeout: .now() + timeout) == .success {
            finished.signal()
            return true
        }
        return false
    }

    /// Called once, on the last vCPU thread to end.
    private func vcpusEnded(_ o: VCPUThreads.Outcome) {
        let outcome: State
        switch o {
        case .poweredOff(let code): outcome = .poweredOff(code: code)
        case .failed(let message): outcome = .failed(message)
        case .stopped: outcome = .stopped
        }
        console.flush()
        // The vCPUs perform every block request: once they end, the VM writes no more and its
        // images are free for others (QEMU releases its locks when it exits).
        releaseDiskLocks()
        lock.withLock { _state = outcome }
        finished.signal()
    }

    /// Bytes the guest's UART may hold unread before sessions' input waits in the tap.
    static let consoleInputWindow = 4096

    /// Hands bytes typed by console sessions to the UART as far as the guest has read what it
    /// was given (vCPU thread: the UART is the vCPU's), so a guest that never reads holds at
    /// most `consoleInputWindow` bytes and the rest waits, bounded, in the tap.
    private func deliverTypedInput() {
        let room = Self.consoleInputWindow - board.consoleInputPending
        if room > 0, let bytes = console.tap.takeInput(max: room) { board.typeOnConsole(bytes) }
    }

    /// Queues bytes typed by a console session for the guest (any thread); returns how many
    /// fit. The vCPU thread delivers them between runs; it is asked to return soon, also when
    /// nothing fit (the queue is full: the guest may have read the UART empty since, and a
    /// guest polling its UART would otherwise spin through a whole run budget first).
    public func typeFromSession(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = console.tap.type(bytes)
        if !bytes.isEmpty { board.requestExit() }
        return n
    }

    /// Stops every vCPU at an instruction boundary and waits up to `timeout` seconds until they
    /// have. Returns true when all are parked, or the VM is not running at all (created or
    /// finished), so its state may be read; false on timeout.
    @discardableResult
    public func pause(timeout: Double = 5) -> Bool {
        if state != .running { return true }
        return vcpus.pause(timeout: timeout) || state != .running
    }

    /// Lets paused vCPUs run again (no effect on a VM that is not paused).
    public func resume() { vcpus.resume() }

    /// Whether a pause was requested and every vCPU is parked.
    public var isPaused: Bool { vcpus.isPaused }

    /// Throttles the vCPUs (migration's auto-converge): each sleeps `percent` of its time,
    /// 0...99; 0 removes the throttle. Returns the percentage applied.
    @discardableResult
    public func setThrottle(_ percent: Int) -> Int { vcpus.setThrottle(percent) }

    /// The vCPU throttle now, percent (0: none).
    public var throttlePercent: Int { vcpus.throttle.percent }

    /// Nanoseconds the vCPUs have slept for the throttle since the VM was built.
    public var throttleSleptNanoseconds: Int { vcpus.throttle.sleptNanoseconds }

    private func parse(_ line: String) {
        if let report = FlowReport(line: line) {
            lock.withLock { flowReports[report.id] = report }
        } else if fields(of: line, after: "appliance: ready ") != nil {
            lock.withLock { if readySeconds == nil { readySeconds = monotonicSeconds() - startedAt } }
        } else if let r = line.range(of: "Kernel panic - not syncing") {
            // The guest kernel gave up: the VM stays as it is (a panicked Linux spins or
            // reboots, as configured), but the run reports it.
            let message = String(line[r.lowerBound...].prefix(200))
            lock.withLock { if panicMessage == nil { panicMessage = message } }
        }
    }

    /// The first "Kernel panic" line the guest printed, if any.
    public var guestPanic: String? { lock.withLock { panicMessage } }

    /// Flow reports so far, by flow id.
    public var reports: [FlowReport] { lock.withLock { flowReports.values.sorted { $0.id < $1.id } } }

    /// Seconds from start to the appliance's ready line.
    public var bootSeconds: Double? { lock.withLock { readySeconds } }

    /// What the console and the host's parsing of it hold (part of `VMState`).
    func saveConsoleState() -> ConsoleState {
        let now = monotonicSeconds()
        var s = console.saveState(now: now)
        lock.withLock {
            s.reports = flowReports.values.sorted { $0.id < $1.id }
            s.readySeconds = readySeconds
            s.runningSeconds = _state == .running ? now - startedAt : runningBefore
        }
        return s
    }

    /// Continues the console and the parsed reports from `s` (before `start`).
    func restoreConsoleState(_ s: ConsoleState) throws(VMStateError) {
        try console.restore(s, now: monotonicSeconds())
        lock.withLock {
            flowReports = Dictionary(s.reports.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            readySeconds = s.readySeconds
            runningBefore = max(0, s.runningSeconds)
        }
    }

    /// Moves frames between NIC `index` and its switch port (on the datapath thread).
    @discardableResult
    public func serviceNetwork(nic index: Int, switch sw: Switch, port: Int, now: Int64) -> Int {
        nics[index].service(switch: sw, port: port, now: now)
    }
}
