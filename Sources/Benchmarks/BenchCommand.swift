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
        subcommands: [BenchSwitchCommand.self, BenchCPUCommand.self, BenchVMCommand.self, BenchMigrationCommand.self, BenchLinuxCommand.self])
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

    @Flag(help: "Forward through an OpenFlow switch (its agent and flow tables) with 1, 100 and 10,000 flows, beside the L2 pipeline (--seconds: each contender's time per row).")
    var openflow = false

    @Option(help: "With --openflow: distinct packets in the traffic (at most one per flow).")
    var streams: Int = 1000

    @Option(help: "With --openflow: alternated runs per row; each figure is the best of them.")
    var rounds: Int = 3

    func validate() throws {
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard macs >= 8 && macs <= 1_000_000 else { throw ValidationError("--macs must be in 8...1000000") }
        guard batch >= 1 && batch <= Switch.maxBatch else { throw ValidationError("--batch must be in 1...\(Switch.maxBatch)") }
        guard streams >= 1 && streams <= 10_000 else { throw ValidationError("--streams must be in 1...10000") }
        guard rounds >= 1 && rounds <= 20 else { throw ValidationError("--rounds must be in 1...20") }
    }

    func run() throws {
        if openflow { return try runOpenFlow() }
        // Sequential MACs (the workload of every earlier figure), random MACs, then MACs that
        // all collide under the table's former unkeyed hash.
        let result = try SwitchBenchmark(macCount: macs, batchSize: batch, seconds: seconds, pattern: .sequential)
            .run(clock: monotonicNanoseconds)
        let random = try SwitchBenchmark(macCount: macs, batchSize: batch, seconds: seconds, pattern: .random)
            .run(clock: monotonicNanoseconds)
        let attack = try SwitchBenchmark(macCount: macs, batchSize: batch, seconds: seconds, pattern: .adversarial)
            .run(clock: monotonicNanoseconds)
        if json {
            var object: [String: Any] = [
                "benchmark": "switch", "mpps": round3(result.mpps), "ns_per_frame": round3(result.nsPerFrame),
                "frames": result.frames, "seconds": round3(result.seconds), "macs": result.macs, "ports": result.ports,
                "batch": result.batchSize, "frame_bytes": result.frameSize, "forwarded": result.forwarded,
                "flooded": result.flooded, "dropped": result.dropped,
            ]
            object["random"] = [
                "mpps": round3(random.mpps), "ns_per_frame": round3(random.nsPerFrame), "frames": random.frames,
                "forwarded": random.forwarded, "flooded": random.flooded, "dropped": random.dropped,
            ] as [String: Any]
            object["adversarial"] = [
                "mpps": round3(attack.mpps), "ns_per_frame": round3(attack.nsPerFrame), "frames": attack.frames,
                "forwarded": attack.forwarded, "flooded": attack.flooded, "dropped": attack.dropped,
            ] as [String: Any]
            object["build"] = isDebugBuild ? "debug" : "release"
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            func figures(_ r: SwitchBenchmark.Result) -> String {
                String(format: "%6.2f Mpps/core  (%.1f ns/frame, %llu frames in %.2f s, flooded %llu, dropped %llu)",
                       r.mpps, r.nsPerFrame, r.frames, r.seconds, r.flooded, r.dropped)
            }
            print("""
            switchboard bench switch (\(isDebugBuild ? "DEBUG build: use -c release for real figures" : "release build"))
              \(result.ports) ports, \(result.macs) MACs, VLANs 10/20 + trunk, \(result.frameSize)-byte frames, batches of \(result.batchSize)
              sequential MACs  \(figures(result))
              random MACs      \(figures(random))
              adversarial MACs \(figures(attack))
                               (all in one home slot of the former unkeyed hash; \(String(format: "%.2f", random.mpps / max(attack.mpps, 1e-9)))x the random cost)
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
