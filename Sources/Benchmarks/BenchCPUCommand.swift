// `switchboard bench cpu`: the software CPU's engines (interpreter and binary translator) beside
// QEMU TCG, one row per workload, every engine of a row in the same invocation: an integer
// guest, a floating-point guest, a memory-bound guest under Sv39 paging (MIPS, from the guests'
// measured instruction counts), and the Linux boot to its shell prompt (seconds). The parts:
// CPUBenchGuests builds the guests, GuestWorkloadRow and LinuxBootRow measure, CPUBenchReport
// prints.

import ArgumentParser
import Foundation
import Hypervisor

/// Benchmarks the software CPU's engines against QEMU TCG.
struct BenchCPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu",
        abstract: "Benchmark the software RISC-V CPU's engines against QEMU TCG: integer, floating point, memory under Sv39, Linux boot.",
        discussion: """
        Rows run in the order given by --rows (default: all four). The Linux row boots the images \
        --linux-images or $SWITCHBOARD_GUEST_LINUX name; without either it is skipped with the reason \
        printed, unless --rows names it, when Tools/guest-linux finds or builds them.
        """)

    @Option(help: "Rows to measure, comma separated: integer, fp, memory, linux (default: all four).")
    var rows: String?

    @Option(help: "Integer row: workload rounds (about 2.75 million guest instructions each).")
    var rounds: Int = 200

    @Option(help: "Floating-point row: workload rounds (about 0.18 million guest instructions each).")
    var fpRounds: Int = 1500

    @Option(help: "Memory row: workload rounds (a page-stride sweep and 32768 random accesses each).")
    var memRounds: Int = 300

    @Option(help: "Memory row: MiB mapped with 4 KiB pages and walked.")
    var memMib: Int = 32

    @Option(help: "Integer, FP and memory rows: runs per engine, interleaved (engine after engine, then again); the fastest is shown, as the least disturbed by other load on the machine.")
    var repeats: Int = 3

    @Option(help: "Linux row: boots per engine (the median is shown).")
    var linuxRuns: Int = 3

    @Option(help: ArgumentHelp("Linux row: directory with Image and initramfs.cpio.gz.", valueName: "dir"))
    var linuxImages: String?

    @Option(help: "clang to build the guests with.")
    var clang: String = "/opt/swift/usr/bin/clang"

    @Option(help: "ld.lld to link the guests with.")
    var lld: String = "/opt/swift/usr/bin/ld.lld"

    @Option(help: "QEMU binary (its column is skipped when missing).")
    var qemu: String = "/usr/bin/qemu-system-riscv64"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard (1...100_000).contains(rounds) else { throw ValidationError("--rounds must be 1...100000") }
        guard (1...1_000_000).contains(fpRounds) else { throw ValidationError("--fp-rounds must be 1...1000000") }
        guard (1...100_000).contains(memRounds) else { throw ValidationError("--mem-rounds must be 1...100000") }
        guard (2...1024).contains(memMib), memMib % 2 == 0 else { throw ValidationError("--mem-mib must be an even number in 2...1024") }
        guard (1...20).contains(repeats) else { throw ValidationError("--repeats must be 1...20") }
        guard (1...20).contains(linuxRuns) else { throw ValidationError("--linux-runs must be 1...20") }
        if let rows { do { _ = try CPUBenchRowKind.parse(rows) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        let kinds = try rows.map(CPUBenchRowKind.parse) ?? CPUBenchRowKind.allCases
        let haveQEMU = FileManager.default.isExecutableFile(atPath: qemu)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let guests = try CPUBenchGuests(rounds: rounds, fpRounds: fpRounds, memRounds: memRounds, memMiB: memMib,
                                        clang: clang, lld: lld).build(in: dir)
        var report = CPUBenchReport(rows: [], skipped: [], load: [], qemuVersion: haveQEMU ? qemuVersion() : nil)
        for kind in kinds {
            switch kind {
            case .integer, .fp, .memory:
                let size: [String: Any]
                switch kind {
                case .integer: size = ["rounds": rounds]
                case .fp: size = ["fp_rounds": fpRounds]
                default: size = ["mem_rounds": memRounds, "mem_mib": memMib]
                }
                // membench's data sits 16 MiB above RAM's base.
                let memory = kind == .memory ? max(64, memMib + 32) : 64
                report.rows.append(try GuestWorkloadRow(kind: kind, guests: guests, size: size, memoryMiB: memory,
                                                        qemu: haveQEMU ? qemu : nil, repeats: repeats).measure())
            case .linux:
                switch linuxImagesToBoot(named: rows != nil) {
                case .success(let images):
                    report.rows.append(try LinuxBootRow(images: images, runs: linuxRuns, memory: 256, qemu: haveQEMU ? qemu : nil).measure())
                case .failure(let e):
                    report.skipped.append((.linux, e.description))
                }
            }
        }
        report.load = CPUBenchReport.currentLoad()
        print(json ? report.json : report.text)
    }

    /// The Linux images: --linux-images, $SWITCHBOARD_GUEST_LINUX, or (only when --rows names the
    /// row) whatever Tools/guest-linux finds or builds, which can take minutes.
    private func linuxImagesToBoot(named: Bool) -> Result<GuestLinuxImages, CPUBenchError> {
        let env = ProcessInfo.processInfo.environment["SWITCHBOARD_GUEST_LINUX"].flatMap { $0.isEmpty ? nil : $0 }
        guard linuxImages != nil || env != nil || named else {
            return .failure(CPUBenchError("no images: pass --linux-images or set SWITCHBOARD_GUEST_LINUX (or name the row in --rows to build them with Tools/guest-linux)"))
        }
        switch GuestLinuxLocator.locate(explicit: linuxImages) {
        case .success(let i): return .success(i)
        case .failure(let e): return .failure(CPUBenchError("\(e)"))
        }
    }

    private func qemuVersion() -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["--version"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard let first = text.split(separator: "\n").first else { return nil }
        // "QEMU emulator version 7.2.x (Debian ...)" -> "QEMU 7.2.x"
        let words = first.split(separator: " ")
        if let i = words.firstIndex(of: "version"), i + 1 < words.count { return "QEMU \(words[i + 1]) TCG" }
        return String(first)
    }
}
