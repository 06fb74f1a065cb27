// `switchboard bench ...`: benchmarks that print figures beside their references.

import ArgumentParser
import Foundation
import Switching

/// The benchmark group (`switchboard bench`); its drivers live in this module, the CLI only
/// registers it.
public struct BenchCommand: ParsableCommand {
    /// Creates the command (ArgumentParser).
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark beside its reference figures.",
        subcommands: [BenchSwitchCommand.self, BenchCPUCommand.self, BenchVMCommand.self, BenchMigrationCommand.self])
}

/// `switchboard bench switch`: the in-process L2 pipeline.
struct BenchSwitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Forward 64-byte frames through the L2 pipeline in process, on one core.")

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Seconds to run.")
    var seconds: Double = 3

    @Option(help: "MAC addresses learned across the ports.")
    var macs: Int = 1000

    @Option(help: "Frames per batch.")
    var batch: Int = 32

    func validate() throws {
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard macs >= 8 && macs <= 1_000_000 else { throw ValidationError("--macs must be in 8...1000000") }
        guard batch >= 1 && batch <= Switch.maxBatch else { throw ValidationError("--batch must be in 1...\(Switch.maxBatch)") }
    }

    func run() throws {
        let bench = SwitchBenchmark(macCount: macs, batchSize: batch, seconds: seconds)
        let result = try bench.run(clock: monotonicNanoseconds)
        if json {
            var object: [String: Any] = [
                "benchmark": "switch", "mpps": round3(result.mpps), "ns_per_frame": round3(result.nsPerFrame),
                "frames": result.frames, "seconds": round3(result.seconds), "macs": result.macs, "ports": result.ports,
                "batch": result.batchSize, "frame_bytes": result.frameSize, "forwarded": result.forwarded,
                "flooded": result.flooded, "dropped": result.dropped,
            ]
            object["build"] = isDebugBuild ? "debug" : "release"
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("""
            switchboard bench switch (\(isDebugBuild ? "DEBUG build: use -c release for real figures" : "release build"))
              \(result.ports) ports, \(result.macs) MACs, VLANs 10/20 + trunk, \(result.frameSize)-byte frames, batches of \(result.batchSize)
              frames           \(result.frames) in \(String(format: "%.2f", result.seconds)) s (forwarded \(result.forwarded), flooded \(result.flooded), dropped \(result.dropped))
              Switchboard      \(String(format: "%6.2f", result.mpps)) Mpps/core  (\(String(format: "%.1f", result.nsPerFrame)) ns/frame)
              VALE (netmap)     ~20    Mpps/core  (published)
              BESS L2Forward    ~33    Mpps/core  (published, 1K MACs)
              goal              >=30   Mpps/core
            """)
        }
    }
}

func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

#if DEBUG
let isDebugBuild = true
#else
let isDebugBuild = false
#endif
