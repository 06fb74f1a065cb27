// Helpers for tests that run guest programs: builds Tools/riscv once per test run into a
// temporary directory with the Swift toolchain's clang, and runs ELF files on a VirtBoard with
// either CPU engine (`engines`: every test that runs guest code runs on each engine this host has).
import Foundation
import Machine
@testable import RISCV
import RISCVBoard
import RISCVTranslator

enum GuestPrograms {
    /// The engines guest-running tests are parameterized over: the interpreter, and the
    /// translator where the host can run it.
    static let engines: [CPUEngine] = CPUEngine.allCases.filter(\.isAvailable)

    /// A board of `memoryMiB` with `harts` harts on `engine`.
    static func board(memoryMiB: Int, harts: Int = 1, engine: CPUEngine,
                      console: @escaping (UInt8) -> Void = { _ in }) throws -> VirtBoard {
        let board = try VirtBoard(memoryMiB: memoryMiB, harts: harts, console: console)
        try engine.install(on: board.harts, translationThreshold: 0)
        return board
    }

    /// The repository root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory with built guests, or a reason why there is none.
    static let built: Result<URL, GuestBuildError> = {
        let clang = "/opt/swift/usr/bin/clang"
        guard FileManager.default.isExecutableFile(atPath: clang) else {
            return .failure(GuestBuildError(reason: "clang not found at \(clang)"))
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-guests-\(getpid())")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [root.appendingPathComponent("Tools/riscv/build.sh").path, out.path]
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch { return .failure(GuestBuildError(reason: "cannot run build.sh: \(error)")) }
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return .failure(GuestBuildError(reason: "build.sh failed: \(msg)")) }
        return .success(out)
    }()

    /// Bytes of a built guest.
    static func elf(_ name: String) throws -> [UInt8] {
        let dir = try built.get()
        guard let d = FileManager.default.contents(atPath: dir.appendingPathComponent("\(name).elf").path) else {
            throw GuestBuildError(reason: "missing \(name).elf")
        }
        return [UInt8](d)
    }

    /// Result of running a guest.
    struct Run {
        var console: String
        var outcome: VirtBoard.Outcome
        var stats: ExitStatistics
        var instructions: UInt64
        var board: VirtBoard
    }

    /// Runs a guest on our board on `engine` and captures the console.
    static func run(firmware: VirtBoard.Firmware, kernel: [UInt8]?, engine: CPUEngine, timeout: Double = 20, harts: Int = 1,
                    prepare: (VirtBoard) -> Void = { _ in }) throws -> Run {
        final class Sink: @unchecked Sendable {
            let lock = NSLock()
            var bytes: [UInt8] = []
        }
        let sink = Sink()
        let board = try VirtBoard(memoryMiB: 128, harts: harts) { b in sink.lock.withLock { sink.bytes.append(b) } }
        try board.boot(firmware: firmware, kernel: kernel)
        try engine.install(on: board.harts, translationThreshold: 0)
        prepare(board)
        let outcome = board.run(timeout: timeout)
        return Run(console: sink.lock.withLock { String(decoding: sink.bytes, as: UTF8.self) }, outcome: outcome,
                   stats: board.exitStatistics, instructions: board.instructionsRetired, board: board)
    }

    /// QEMU's console output and exit status for the same binary, or nil when QEMU is missing
    /// (or hung twice: QEMU 7.2 occasionally stalls in WFI under load; the run is killed after
    /// 30 s and retried once).
    static func runOnQEMU(_ elf: String, bios: String = "none", smp: Int = 1) throws -> (String, Int32)? {
        let qemu = "/usr/bin/qemu-system-riscv64"
        guard FileManager.default.isExecutableFile(atPath: qemu) else { return nil }
        for _ in 0..<2 {
            if let r = try runOnQEMUOnce(qemu, elf, bios: bios, smp: smp) { return r }
        }
        print("skipping QEMU comparison of \(elf): QEMU hung twice")
        return nil
    }

    private static func runOnQEMUOnce(_ qemu: String, _ elf: String, bios: String, smp: Int) throws -> (String, Int32)? {
        let dir = try built.get()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-M", "virt", "-cpu", "rv64,h=false", "-m", "128", "-smp", String(smp), "-bios", bios,
                       "-kernel", dir.appendingPathComponent("\(elf).elf").path,
                       "-nographic", "-monitor", "none", "-serial", "stdio"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        final class Box: @unchecked Sendable { let p: Process; init(_ p: Process) { self.p = p } }
        let box = Box(p)
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(30)
            while box.p.isRunning {
                if Date() > deadline {
                    // Still running, so not reaped: the pid is still this QEMU.
                    kill(box.p.processIdentifier, SIGKILL)
                    return
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        watchdog.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationReason == .uncaughtSignal { return nil }
        return (String(decoding: data, as: UTF8.self), p.terminationStatus)
    }
}

/// Why guest programs could not be built.
struct GuestBuildError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
