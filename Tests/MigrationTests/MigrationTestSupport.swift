// Helpers for the migration tests: a datapath thread whose attachments change at switchover and
// that runs closures for the migration, tiny guest programs, and VM builders.

import Foundation
import RISCV
import RISCVBoard
import RISCVTranslator
import Frames
import Machine
@testable import Migration
import Switching
import Synchronization
import TestSupport
import VMHost

/// A test datapath: one thread servicing NICs and draining the fabric; `sync` runs a closure
/// on it between turns (the migration's `onDatapath`).
final class SwitchoverDatapath: @unchecked Sendable {
    let fabric: Fabric
    /// Datapath thread only (or before `start`).
    var attachments: [(vm: VirtualMachine, nic: Int, port: Fabric.PortRef)] = []
    private let lock = NSLock()
    private var tasks: [() -> Void] = []
    private var stopFlag = false
    private let done = DispatchSemaphore(value: 0)

    init(fabric: Fabric) { self.fabric = fabric }

    func start() {
        Thread { [self] in
            let clock = SystemClock()
            while true {
                let (work, stop) = lock.withLock { () -> ([() -> Void], Bool) in
                    let t = tasks
                    tasks.removeAll()
                    return (t, stopFlag)
                }
                for t in work { t() }
                if stop && work.isEmpty { break }
                let now = clock.now()
                var moved = 0
                for a in attachments {
                    moved += a.vm.serviceNetwork(nic: a.nic, switch: fabric.switches[a.port.switchIndex], port: a.port.port, now: now)
                }
                fabric.drain(now: now)
                if moved == 0 && work.isEmpty { usleep(50) }
            }
            done.signal()
        }.start()
    }

    /// Runs `body` on the datapath thread and waits for it.
    func sync(_ body: () -> Void) {
        withoutActuallyEscaping(body) { b in
            // The task holds the body only through the box, emptied before `sync` returns.
            let box = Cell<(() -> Void)?>(b)
            let finished = DispatchSemaphore(value: 0)
            let task: () -> Void = {
                box.value?()
                box.value = nil
                finished.signal()
            }
            lock.withLock { tasks.append(task) }
            finished.wait()
        }
    }

    func remove(_ vm: VirtualMachine) { attachments.removeAll { $0.vm === vm } }

    func finish() {
        lock.withLock { stopFlag = true }
        done.wait()
    }
}

enum Guests {
    /// The appliance ELF, built once per test process (nil: no RISC-V toolchain).
    nonisolated(unsafe) static var cached: [UInt8]??
    static let lock = NSLock()
    static func appliance() throws -> [UInt8]? {
        try lock.withLock {
            if let c = cached { return c }
            guard let image = try ApplianceImage.build(for: "MigrationTests") else {
                cached = .some(nil)
                return nil
            }
            defer { image.directory.remove() }
            let elf = [UInt8](try Data(contentsOf: URL(fileURLWithPath: image.elf)))
            cached = .some(elf)
            return elf
        }
    }

    /// An appliance VM's configuration, on the host's default engine unless named (the
    /// translator on x86-64 Linux: a debug build's translator once lost frames here at 2,000
    /// frames/s on a machine loaded to 11 when it translated every block on first sight;
    /// with hot-block translation the suite passes on it).
    static func configuration(_ name: String, mac: UInt8?, memoryMiB: Int = 16, bootargs: String, elf: [UInt8],
                              engine: CPUEngine = .hostDefault) -> VMConfiguration {
        var board = VirtBoardSpec(firmware: .none, kernel: elf, bootargs: bootargs)
        board.engine = engine
        return VMConfiguration(name: name, memoryMiB: memoryMiB, board: board,
                        nicMACs: mac.map { [MACAddress(0x52, 0x54, 0, 0, 0, $0)] } ?? [], disks: [], consoleLog: nil,
                        consoleToStdout: false, expect: [])
    }

    /// The memory-dirtying guest (RISCV's `GuestELF.memoryDirtier`).
    static let dirtier = GuestELF.memoryDirtier

    /// Instructions the VM retires in `seconds` (paused around each reading).
    static func progress(of vm: VirtualMachine, over seconds: Double) -> UInt64 {
        vm.pause()
        let a = vm.board.instructionsRetired
        vm.resume()
        Thread.sleep(forTimeInterval: seconds)
        vm.pause()
        let b = vm.board.instructionsRetired
        vm.resume()
        return b &- a
    }

    /// Whether two paused VMs have the same CPU and device state (the CLINT's mtime follows
    /// the host clock, so it is left out).
    static func sameState(_ a: VirtualMachine, _ b: VirtualMachine) -> Bool {
        guard let x = try? a.saveState(), let y = try? b.saveState(),
              let p = try? VirtBoardState(x.board), let q = try? VirtBoardState(y.board) else { return false }
        return p.hart == q.hart && p.plic == q.plic && p.uart == q.uart && x.slots == y.slots && p.clint.mtimecmp == q.clint.mtimecmp
    }

    /// Gives frames handed over by the source to `vm`'s NICs, as the destination does by
    /// default (for a `handIn` hook that looks at the VM first); returns how many were dropped.
    static func deliver(_ frames: [QueuedFrame], to vm: VirtualMachine, pool: PacketPool) -> Int {
        var lost = 0
        let before = vm.nics.map { $0.counters.rxDrops }
        for f in frames {
            guard f.nic < vm.nics.count, let h = pool.make(copying: f.bytes) else {
                lost += 1
                continue
            }
            var entry = TransmitEntry(handle: h, tci: 0, action: .keep)
            withUnsafePointer(to: &entry) { vm.nics[f.nic].transmit(UnsafeBufferPointer(start: $0, count: 1), pool: pool, now: 0) }
        }
        for (i, nic) in vm.nics.enumerated() { lost += Int(nic.counters.rxDrops - before[i]) }
        return lost
    }

    /// Whether two VMs' RAM is byte for byte the same.
    static func sameRAM(_ a: VirtualMachine, _ b: VirtualMachine) -> Bool {
        let ra = a.board.memory.regions, rb = b.board.memory.regions
        guard ra.count == rb.count else { return false }
        for (x, y) in zip(ra, rb) where x.size != y.size || memcmp(x.host, y.host, Int(x.size)) != 0 { return false }
        return true
    }
}

/// An echo appliance on port p1 of a two-port switch, behind a `GuestPort`, serviced by
/// a started `SwitchoverDatapath`; `send` injects numbered frames for it at p2.
final class EchoRig {
    let pool: PacketPool
    let fabric: Fabric
    let config: VMConfiguration
    let vm: VirtualMachine
    let p1: Fabric.PortRef, p2: Fabric.PortRef
    let port: GuestPort
    let datapath: SwitchoverDatapath

    /// Builds and starts everything; nil (skip) without a RISC-V toolchain. `extra` is added
    /// to the echo appliance's bootargs (e.g. `dirty=`).
    static func make(extra: String = "") throws -> EchoRig? {
        guard let elf = try Guests.appliance() else { return nil }
        return try EchoRig(elf: elf, extra: extra)
    }

    private init(elf: [UInt8], extra: String) throws {
        pool = PacketPool(capacity: 1024)
        fabric = Fabric(pool: pool)
        fabric.add(try Switch(configuration: SwitchConfiguration(name: "sw0", ports: [
            PortConfiguration(name: "p1"), PortConfiguration(name: "p2")]), pool: pool))
        config = Guests.configuration("echo", mac: 1, bootargs: "ip=10.0.0.1/24 role=echo" + (extra.isEmpty ? "" : " " + extra), elf: elf)
        vm = try VirtualMachine(config, pool: pool)
        p1 = try fabric.port("sw0", "p1")
        p2 = try fabric.port("sw0", "p2")
        port = GuestPort(target: vm.nics[0], pool: pool)
        try fabric.attach(p1, sink: port)
        datapath = SwitchoverDatapath(fabric: fabric)
        datapath.attachments = [(vm, 0, p1)]
        datapath.start()
        vm.start()
    }

    /// Stops the VM and the datapath.
    func close() {
        vm.stop()
        datapath.finish()
    }

    /// `count` frames to the VM's MAC from a host behind p2, numbered from `first` in byte 20
    /// (a local experimental EtherType: the guest ignores them).
    func send(_ count: Int, from first: Int = 0) {
        for i in first..<first + count {
            var frame = [UInt8](repeating: 0, count: 60)
            frame[0...5] = [0x52, 0x54, 0, 0, 0, 1]
            frame[6...11] = [0x52, 0x54, 0, 0, 0, 9]
            frame[12] = 0x88; frame[13] = 0xB5
            frame[20] = UInt8(truncatingIfNeeded: i)
            frame.withUnsafeBytes { _ = fabric.inject($0, at: p2, now: SystemClock().now()) }
        }
    }
}

/// The destination side of a migration over `stream`, run on its own thread.
func receiving(on stream: any ByteStream, hooks: MigrationDestinationHooks, timeout: Double = 30)
    -> Background<Result<IncomingMigration, MigrationError>> {
    let box = UnsafeTransfer(value: hooks)
    return Background {
        Result { () throws(MigrationError) in
            try MigrationDestination(connection: MigrationConnection(stream, timeout: timeout), hooks: box.value).run()
        }
    }
}

/// Paces a migration by the guest instead of by the machine's speed: before each pre-copy
/// `endOfRound` (not the stop-and-copy one) goes out, waits (up to `deadline` seconds) until `ready` holds, e.g. until the guest has
/// dirtied its whole window again since the round's bitmap was taken. Every round then sees
/// the same dirty set however fast this machine runs the guest against the transfer.
final class PacedStream: ByteStream, @unchecked Sendable {
    private let inner: any ByteStream
    private let ready: () -> Bool
    private let deadline: Double
    /// End-of-round messages held back until `ready`, and how many of them timed out.
    private(set) var paced = 0, late = 0

    init(_ inner: any ByteStream, deadline: Double = 60, until ready: @escaping () -> Bool) {
        self.inner = inner
        self.ready = ready
        self.deadline = deadline
    }

    func write(_ bytes: [UInt8]) throws(StreamError) {
        if bytes.count >= MigrationWire.headerLength, bytes.readLE(at: 6) as UInt16 == MessageType.endOfRound.rawValue,
           let end = try? JSONDecoder().decode(RoundEnd.self, from: Data(bytes[MigrationWire.headerLength...])), !end.final {
            paced += 1
            if !waitUntil(deadline, ready) { late += 1 }
        }
        try inner.write(bytes)
    }

    func read(timeout: Double) throws(StreamError) -> [UInt8] { try inner.read(timeout: timeout) }

    func close() { inner.close() }
}

/// A flag one thread clears to stop another's loop.
final class RunFlag: Sendable {
    private let value = Atomic<Bool>(true)
    /// Whether the loop should go on.
    var isSet: Bool { value.load(ordering: .acquiring) }
    /// Stops the loop.
    func clear() { value.store(false, ordering: .releasing) }
}
