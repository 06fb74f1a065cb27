// Helpers for the migration tests: a datapath thread whose attachments change at switchover and
// that runs closures for the migration, tiny guest programs, and VM builders.

import Foundation
import Frames
import Machine
@testable import Migration
import Switching
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

    static func configuration(_ name: String, mac: UInt8?, memoryMiB: Int = 16, bootargs: String, elf: [UInt8]) -> VMConfiguration {
        VMConfiguration(name: name, memoryMiB: memoryMiB, firmware: .none, kernel: elf, bootargs: bootargs,
                        nicMACs: mac.map { [MACAddress(0x52, 0x54, 0, 0, 0, $0)] } ?? [], disks: [], consoleLog: nil,
                        consoleToStdout: false, expect: [])
    }

    /// A 64-bit RISC-V ELF at 0x8000_0000 holding `words`.
    static func elf(_ words: [UInt32]) -> [UInt8] {
        let code = words.count * 4
        var e = [UInt8](repeating: 0, count: 120 + code)
        func put(_ v: UInt64, _ at: Int, _ n: Int) { for i in 0..<n { e[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        e[0] = 0x7f; e[1] = 0x45; e[2] = 0x4c; e[3] = 0x46; e[4] = 2; e[5] = 1; e[6] = 1
        put(2, 16, 2); put(243, 18, 2); put(1, 20, 4); put(0x8000_0000, 24, 8); put(64, 32, 8)
        put(64, 52, 2); put(56, 54, 2); put(1, 56, 2)
        put(1, 64, 4); put(5, 68, 4); put(120, 72, 8); put(0x8000_0000, 80, 8); put(0x8000_0000, 88, 8)
        put(UInt64(code), 96, 8); put(UInt64(code), 104, 8); put(4, 112, 8)
        for (i, w) in words.enumerated() { put(UInt64(w), 120 + 4 * i, 4) }
        return e
    }

    /// Stores a counter (a0) into every page of 8 MiB from 0x8010_0000, over and over,
    /// incrementing a0 after each sweep: every page is dirty in every round.
    static let dirtier = elf([
        0x0000_0417, // auipc s0, 0
        0x0010_03b7, // lui   t2, 0x100
        0x0074_0433, // add   s0, s0, t2      s0 = 0x8010_0000
        0x0080_0337, // lui   t1, 0x800
        0x0064_0333, // add   t1, s0, t1      t1 = end (8 MiB on)
        0x0000_1e37, // lui   t3, 1           page size
        0x0004_0293, // mv    t0, s0
        0x00a2_b023, // 1: sd a0, 0(t0)
        0x01c2_82b3, // add   t0, t0, t3
        0xfe62_ece3, // bltu  t0, t1, 1b
        0x0015_0513, // addi  a0, a0, 1
        0xfedf_f06f, // j     to `mv t0, s0`
    ])

    /// Instructions the VM retires in `seconds` (paused around each reading).
    static func progress(of vm: VirtualMachine, over seconds: Double) -> UInt64 {
        vm.pause()
        let a = vm.board.hart.instructionsRetired
        vm.resume()
        Thread.sleep(forTimeInterval: seconds)
        vm.pause()
        let b = vm.board.hart.instructionsRetired
        vm.resume()
        return b &- a
    }

    /// Whether two paused VMs have the same CPU and device state (the CLINT's mtime follows
    /// the host clock, so it is left out).
    static func sameState(_ a: VirtualMachine, _ b: VirtualMachine) -> Bool {
        guard let x = try? a.saveState(), let y = try? b.saveState() else { return false }
        return x.hart == y.hart && x.plic == y.plic && x.uart == y.uart && x.slots == y.slots && x.clint.mtimecmp == y.clint.mtimecmp
    }

    /// Whether two VMs' RAM is byte for byte the same.
    static func sameRAM(_ a: VirtualMachine, _ b: VirtualMachine) -> Bool {
        let ra = a.board.memory.regions, rb = b.board.memory.regions
        guard ra.count == rb.count else { return false }
        for (x, y) in zip(ra, rb) where x.size != y.size || memcmp(x.host, y.host, Int(x.size)) != 0 { return false }
        return true
    }
}
