// Boots the three firmware modes: Debian's OpenSBI fw_jump with our S-mode payload, the builtin
// SBI, and no firmware; checks console output and exit statistics.
import Foundation
import Testing
import Machine
@testable import RISCV
import RISCVBoard
import RISCVTranslator

@Suite("Boot")
struct BootTests {
    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"

    @Test("OpenSBI fw_jump boots and hands over to an S-mode payload", arguments: GuestPrograms.engines)
    func openSBIBoot(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        guard let fw = FileManager.default.contents(atPath: BootTests.openSBI) else {
            print("skipping: \(BootTests.openSBI) not installed"); return
        }
        let r = try GuestPrograms.run(firmware: .elf([UInt8](fw)), kernel: try GuestPrograms.elf("hello-sbi"), engine: engine)
        #expect(r.console.contains("OpenSBI v1.1"))
        #expect(r.console.contains("Boot HART MEDELEG"))
        #expect(r.console.contains("Domain0 Next Address      : 0x0000000080200000"))
        // OpenSBI's console turns LF into CR LF, also for the payload's SBI putchar.
        let text = r.console.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(text.hasSuffix("Boot HART MEDELEG         : 0x000000000000b109\nHello from a Switchboard guest\nhart 0 fdt magic ok: yes\n"))
        #expect(r.outcome == .powerOff(0))
        #expect(r.stats[.systemRegister] > 100)
        #expect(r.stats[.mmioWrite] > 100)
        #expect(r.stats[.hypercall] > 10)
        #expect(r.stats[.trapReturn] > 10)
    }

    @Test("the builtin SBI runs the payload in S-mode", arguments: GuestPrograms.engines)
    func builtinSBI(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let r = try GuestPrograms.run(firmware: .builtin, kernel: try GuestPrograms.elf("hello-sbi"), engine: engine)
        #expect(r.console == "Hello from a Switchboard guest\nhart 0 fdt magic ok: yes\n")
        #expect(r.outcome == .powerOff(0))
        #expect(r.stats[.hypercall] == UInt64(r.console.utf8.count) + 1)
        #expect(r.stats[.mmioWrite] == 0)
    }

    @Test("no firmware: M-mode program drives the UART and test device", arguments: GuestPrograms.engines)
    func noFirmware(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf("hello"), engine: engine)
        #expect(r.console == "Hello from a Switchboard guest\nhart 0 fdt magic ok: yes\n")
        #expect(r.outcome == .powerOff(0))
        #expect(r.stats[.mmioWrite] > 0 && r.stats[.mmioRead] > 0)
    }

    @Test("the same payload prints the same on QEMU with OpenSBI")
    func openSBIMatchesQEMU() throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        guard FileManager.default.fileExists(atPath: BootTests.openSBI) else { print("skipping: no OpenSBI"); return }
        guard let (q, status) = try GuestPrograms.runOnQEMU("hello-sbi", bios: BootTests.openSBI) else {
            print("skipping: qemu-system-riscv64 not installed"); return
        }
        #expect(status == 0)
        #expect(q.replacingOccurrences(of: "\r\n", with: "\n").hasSuffix("Hello from a Switchboard guest\nhart 0 fdt magic ok: yes\n"))
    }

    @Test("guest stores are logged in the dirty bitmap", arguments: GuestPrograms.engines)
    func dirtyLogging(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf("bench"), engine: engine) { board in
            board.memory.setDirtyLogging(true)
        }
        #expect(r.outcome == .powerOff(0))
        let dirty = r.board.memory.dirtyPages()
        // The benchmark writes its 64 KiB buffer and matrices: at least 16 pages.
        #expect(dirty.count >= 16)
        #expect(dirty.count < 200)
    }

    @Test("clearing the bitmap write-protects again: later stores are logged", arguments: GuestPrograms.engines)
    func dirtyRounds(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let board = try GuestPrograms.board(memoryMiB: 64, engine: engine)
        try board.boot(firmware: .none, kernel: try GuestPrograms.elf("bench"))
        board.memory.setDirtyLogging(true)
        #expect(board.hart.run(budget: 3_000_000) == .continue)
        let first = board.memory.dirtyPages()
        #expect(first.count >= 16)
        board.memory.clearDirty()
        #expect(board.memory.dirtyPages().isEmpty)
        #expect(board.hart.run(budget: 3_000_000) == .continue)
        // The shuffle and matrices keep writing: the cached writable mappings must have gone.
        #expect(board.memory.dirtyPages().count >= 16)
    }

    @Test("OpenSBI then Debian's S-mode U-Boot to its prompt, then poweroff typed on the console", arguments: GuestPrograms.engines)
    func uBoot(_ engine: CPUEngine) throws {
        let uboot = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"
        guard let fw = FileManager.default.contents(atPath: BootTests.openSBI),
              let ub = FileManager.default.contents(atPath: uboot) else {
            print("skipping: OpenSBI or U-Boot (u-boot-qemu) not installed"); return
        }
        final class Console: @unchecked Sendable { var text = ""; var stage = 0 }
        let console = Console()
        let board = try GuestPrograms.board(memoryMiB: 128, engine: engine) { console.text.unicodeScalars.append(Unicode.Scalar($0)) }
        board.uart.pollInput = {
            // A key stops the autoboot countdown; at the prompt, type poweroff.
            if console.stage == 0 && console.text.contains("Hit any key") { console.stage = 1; return [32] }
            if console.stage == 1 && console.text.hasSuffix("=> ") { console.stage = 2; return Array("poweroff\n".utf8) }
            return []
        }
        try board.boot(firmware: .elf([UInt8](fw)), kernel: [UInt8](ub))
        let outcome = board.run(timeout: 120)
        #expect(console.text.contains("U-Boot 2023.01"))
        #expect(console.text.contains("DRAM:  128 MiB"))
        #expect(console.text.contains("=> poweroff"))
        #expect(outcome == .powerOff(0))
    }

    @Test("UART input reaches the guest", arguments: GuestPrograms.engines)
    func uartInput(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        var chunks: [[UInt8]] = [Array("abc\n".utf8), Array("quit\n".utf8)]
        let r = try GuestPrograms.run(firmware: .none, kernel: try GuestPrograms.elf("echo"), engine: engine) { board in
            board.uart.pollInput = { chunks.isEmpty ? [] : chunks.removeFirst() }
        }
        #expect(r.console == "echo ready\nABC\n")
        #expect(r.outcome == .powerOff(0))
    }

    @Test("timeout stops a guest that never powers off", arguments: GuestPrograms.engines)
    func timeout(_ engine: CPUEngine) throws {
        let board = try GuestPrograms.board(memoryMiB: 16, engine: engine)
        // j . at the reset address
        try board.memory.store(UInt32(0x0000_006F), at: GuestPhysicalAddress(0x8000_0000))
        board.hart.pc = 0x8000_0000
        #expect(board.run(timeout: 0.2) == .timeout)
        #expect(board.hart.instructionsRetired > 1000)
    }
}
