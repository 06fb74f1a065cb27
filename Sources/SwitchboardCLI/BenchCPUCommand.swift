// `switchboard bench cpu`: placeholder until the benchmark lands.
import ArgumentParser

/// Runs the CPU benchmark.
struct BenchCPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cpu", abstract: "Benchmark the software CPU against QEMU TCG.")
    func run() throws {}
}
