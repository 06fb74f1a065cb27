// Helpers for the migration tests: a datapath thread whose attachments change at switchover and
// that runs closures for the migration, tiny guest programs, and VM builders.

import Foundation
import RISCV
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

    /// The memory-dirtying guest (RISCV's `GuestELF.memoryDirtier`).
    static let dirtier = GuestELF.memoryDirtier

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
