// `switchboard bench cpu`: builds the compute-bound guest Tools/riscv/bench.c (CRC-32, integer
// matrix multiply, memory shuffles) with Tools/riscv/build.sh at run time, runs it on the
// software CPU and, when installed, on QEMU TCG (-icount shift=0) in the same run, and prints
// guest MIPS for both.
import ArgumentParser
import Foundation
import RISCVTranslator
import Hypervisor
import Machine
import RISCV
import RISCVBoard

/// Benchmarks the software CPU against QEMU TCG.
struct BenchCPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu",
        abstract: "Benchmark the software RISC-V CPU against QEMU TCG on the same guest binary.")

    @Option(help: "Workload rounds (about 2.75 million guest instructions each).")
    var rounds: Int = 200

    @Option(help: "clang to build the guest with.")
    var clang: String = "/opt/swift/usr/bin/clang"

    @Option(help: "ld.lld to link the guest with.")
    var lld: String = "/opt/swift/usr/bin/ld.lld"

    @Option(help: "QEMU binary (skipped when missing).")
    var qemu: String = "/usr/bin/qemu-system-riscv64"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        guard rounds >= 1, rounds <= 100_000 else { throw ValidationError("--rounds must be 1...100000") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try buildGuest(in: dir, rounds: rounds, name: "bench")
        let empty = try buildGuest(in: dir, rounds: 0, name: "bench0")

        // Switchboard, on each engine.
        struct Ours { var engine: CPUEngine; var instructions: UInt64; var seconds: Double; var mips: Double; var console: String; var blocks: Int? }
        var ours: [Ours] = []
        for engine in CPUEngine.allCases where engine.isAvailable {
            var console: [UInt8] = []
            let board = try VirtBoard(memoryMiB: 64) { console.append($0) }
            try engine.install(on: board.harts)
            try board.boot(firmware: .none, kernel: [UInt8](try Data(contentsOf: full)))
            let t0 = Date()
            let outcome = board.run(timeout: 600)
            let seconds = Date().timeIntervalSince(t0)
            guard outcome == .powerOff(0) else { throw ValidationError("benchmark guest did not finish on \(engine.rawValue): \(outcome)") }
            let instructions = board.hart.instructionsRetired
            ours.append(Ours(engine: engine, instructions: instructions, seconds: seconds, mips: Double(instructions) / seconds / 1e6,
                             console: String(decoding: console, as: UTF8.self),
                             blocks: (board.hart.engine as? TranslatingEngine)?.statistics.translated))
        }
        let reference = ours[0]

        // QEMU: the difference between the full and the empty workload removes start-up time.
        var q: (mips: Double, instructions: UInt64, seconds: Double, checksumMatches: Bool)?
        if FileManager.default.isExecutableFile(atPath: qemu) {
            let (outFull, tFull) = try runQEMU(full)
            let (outEmpty, tEmpty) = try runQEMU(empty)
            if let nFull = instret(outFull), let nEmpty = instret(outEmpty), tFull > tEmpty {
                let n = nFull - min(nEmpty, nFull)
                q = (Double(n) / (tFull - tEmpty) / 1e6, nFull, tFull, checksum(outFull) == checksum(reference.console))
            }
        }
        if json {
            var fields = ["\"mips\": \(fmt(reference.mips))", "\"instructions\": \(reference.instructions)",
                          "\"seconds\": \(fmt(reference.seconds))", "\"rounds\": \(rounds)"]
            for o in ours.dropFirst() {
                let key = o.engine.rawValue
                fields += ["\"\(key)_mips\": \(fmt(o.mips))", "\"\(key)_instructions\": \(o.instructions)",
                           "\"\(key)_seconds\": \(fmt(o.seconds))",
                           "\"\(key)_checksum_match\": \(checksum(o.console) == checksum(reference.console))"]
                if let q { fields.append("\"\(key)_ratio\": \(fmt(o.mips / q.mips))") }
            }
            if let q {
                fields += ["\"qemu_mips\": \(fmt(q.mips))", "\"qemu_instructions\": \(q.instructions)",
                           "\"qemu_seconds\": \(fmt(q.seconds))", "\"ratio\": \(fmt(reference.mips / q.mips))",
                           "\"checksum_match\": \(q.checksumMatches)"]
            } else {
                fields += ["\"qemu_mips\": null", "\"ratio\": null"]
            }
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("guest: CRC-32 + integer matmul + shuffles, \(rounds) rounds")
            for o in ours {
                var line = String(format: "%-10@ %@ instructions in %@ s: %@ MIPS", o.engine.rawValue as NSString,
                                  "\(o.instructions)" as NSString, fmt(o.seconds) as NSString, fmt(o.mips) as NSString)
                if let q { line += String(format: ", %.2fx QEMU", o.mips / q.mips) }
                if let b = o.blocks { line += ", \(b) blocks translated" }
                if o.instructions != reference.instructions || checksum(o.console) != checksum(reference.console) {
                    line += "  DIFFERS FROM THE INTERPRETER"
                }
                print(line)
            }
            if let q {
                print("qemu tcg   \(q.instructions) instructions in \(fmt(q.seconds)) s: \(fmt(q.mips)) MIPS (start-up subtracted)\(q.checksumMatches ? "" : "  CHECKSUMS DIFFER")")
            } else {
                print("qemu       not installed at \(qemu): skipped")
            }
        }
    }

    private func fmt(_ v: Double) -> String { String(format: "%.3f", v) }

    private func instret(_ s: String) -> UInt64? {
        guard let line = s.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("instret ") }) else { return nil }
        return UInt64(line.dropFirst(8).trimmingCharacters(in: .whitespaces))
    }

    private func checksum(_ s: String) -> String? {
        s.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("checksum ") }).map(String.init)
    }

    private func runQEMU(_ elf: URL) throws -> (String, Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-M", "virt", "-cpu", "rv64,f=false,d=false,h=false", "-m", "64", "-bios", "none",
                       "-kernel", elf.path, "-nographic", "-monitor", "none", "-serial", "stdio", "-icount", "shift=0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        let t0 = Date()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), Date().timeIntervalSince(t0))
    }

    /// Builds Tools/riscv/bench.c (with its start code and runtime) through Tools/riscv/build.sh
    /// of the source checkout this binary was built in, with `rounds` workload rounds.
    private func buildGuest(in dir: URL, rounds: Int, name: String) throws -> URL {
        guard let root = ApplianceLocator.packageRoot() else {
            throw ValidationError("cannot find Tools/riscv/build.sh: run bench cpu from a source checkout")
        }
        let toolchain = URL(fileURLWithPath: clang).deletingLastPathComponent().path
        guard URL(fileURLWithPath: lld).deletingLastPathComponent().path == toolchain else {
            throw ValidationError("--clang and --lld must be in the same directory (Tools/riscv/build.sh takes one toolchain)")
        }
        let out = dir.appendingPathComponent(name)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [root + "/Tools/riscv/build.sh", out.path]
        var environment = ProcessInfo.processInfo.environment
        environment["BENCH_ROUNDS"] = String(rounds)
        environment["SWIFT_TOOLCHAIN_BIN"] = toolchain
        p.environment = environment
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("Tools/riscv/build.sh failed (status \(p.terminationStatus))") }
        return out.appendingPathComponent("bench.elf")
    }
}
