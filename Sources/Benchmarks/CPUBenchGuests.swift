// The guest programs of `bench cpu`, built at run time by Tools/riscv/build.sh of the source
// checkout this binary was built in (the Swift toolchain's clang and ld.lld): once with the
// requested workload sizes and once with empty workloads, whose QEMU run times the start-up.

import Foundation
import ArgumentParser
import Hypervisor

/// Builds bench.c, fpbench.c and membench.c at the chosen sizes.
struct CPUBenchGuests {
    /// Workload rounds: integer, floating point, memory; and the memory row's MiB.
    var rounds: Int
    var fpRounds: Int
    var memRounds: Int
    var memMiB: Int
    var clang: String
    var lld: String

    /// A directory of built guests.
    struct Build {
        var directory: URL
        func elf(_ name: String) -> URL { directory.appendingPathComponent(name + ".elf") }
    }

    /// Builds the full-size guests into `dir`/full and the empty ones into `dir`/empty.
    func build(in dir: URL) throws -> (full: Build, empty: Build) {
        let full = try run(dir.appendingPathComponent("full"), rounds: rounds, fpRounds: fpRounds, memRounds: memRounds)
        let empty = try run(dir.appendingPathComponent("empty"), rounds: 0, fpRounds: 0, memRounds: 0)
        return (full, empty)
    }

    private func run(_ out: URL, rounds: Int, fpRounds: Int, memRounds: Int) throws -> Build {
        guard let root = ApplianceLocator.packageRoot() else {
            throw ValidationError("cannot find Tools/riscv/build.sh: run bench cpu from a source checkout")
        }
        let toolchain = URL(fileURLWithPath: clang).deletingLastPathComponent().path
        guard URL(fileURLWithPath: lld).deletingLastPathComponent().path == toolchain else {
            throw ValidationError("--clang and --lld must be in the same directory (Tools/riscv/build.sh takes one toolchain)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [root + "/Tools/riscv/build.sh", out.path]
        var environment = ProcessInfo.processInfo.environment
        environment["BENCH_ROUNDS"] = String(rounds)
        environment["FPBENCH_ROUNDS"] = String(fpRounds)
        environment["MEMBENCH_ROUNDS"] = String(memRounds)
        environment["MEMBENCH_MIB"] = String(memMiB)
        environment["SWIFT_TOOLCHAIN_BIN"] = toolchain
        p.environment = environment
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("Tools/riscv/build.sh failed (status \(p.terminationStatus))") }
        return Build(directory: out)
    }
}
