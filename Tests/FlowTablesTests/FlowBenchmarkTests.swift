// FlowBenchmark runs (tiny, no timing asserted); with FLOW_BENCH=1 it prints the figures of
// every configuration beside the L2 pipeline's (`swift test -c release --filter FlowBenchmarkTests`).

import Testing
import Foundation
import Switching
@testable import FlowTables

func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

@Suite struct FlowBenchmarkTests {
    @Test(arguments: FlowBenchmark.MatchKind.allCases, FlowBenchmark.Traffic.allCases)
    func tinyRunForwardsEveryFrame(match: FlowBenchmark.MatchKind, traffic: FlowBenchmark.Traffic) throws {
        let r = try FlowBenchmark(flowCount: 100, match: match, traffic: traffic, seconds: 0.001).run(clock: monotonicNanoseconds)
        #expect(r.frames > 0 && r.forwarded == r.frames)
        #expect(r.subtables == (match == .exact ? 1 : 10))
        if traffic == .hotCache { #expect(r.cacheHitRate > 0.9) } else { #expect(r.cacheHitRate < 0.5) }
    }

    @Test func figures() throws {
        guard ProcessInfo.processInfo.environment["FLOW_BENCH"] == "1" else { return }
        let seconds = Double(ProcessInfo.processInfo.environment["FLOW_BENCH_SECONDS"] ?? "") ?? 2
        let l2 = try SwitchBenchmark(macCount: 1000, seconds: seconds).run(clock: monotonicNanoseconds)
        print(String(format: "L2 pipeline (1000 MACs)                 %7.2f Mpps %7.1f ns/frame", l2.mpps, l2.nsPerFrame))
        for traffic in FlowBenchmark.Traffic.allCases {
            for match in FlowBenchmark.MatchKind.allCases {
                for flows in [1, 100, 10_000] {
                    let r = try FlowBenchmark(flowCount: flows, match: match, traffic: traffic, seconds: seconds).run(clock: monotonicNanoseconds)
                    let label = "\(match.rawValue) \(flows) flows, \(traffic.rawValue)".padding(toLength: 38, withPad: " ", startingAt: 0)
                    print(String(format: "%@  %7.2f Mpps %7.1f ns/frame  %.2fx L2  cache hits %.0f%%  subtables %d",
                                 label, r.mpps, r.nsPerFrame, r.mpps / l2.mpps, r.cacheHitRate * 100, r.subtables))
                }
            }
        }
        // As many streams as the L2 figure has MACs, over 10,000 installed flows.
        for match in FlowBenchmark.MatchKind.allCases {
            let r = try FlowBenchmark(flowCount: 10_000, match: match, seconds: seconds, streams: 1000).run(clock: monotonicNanoseconds)
            let label = "\(match.rawValue) 10000 flows, 1000 streams".padding(toLength: 38, withPad: " ", startingAt: 0)
            print(String(format: "%@  %7.2f Mpps %7.1f ns/frame  %.2fx L2  cache hits %.0f%%  subtables %d",
                         label, r.mpps, r.nsPerFrame, r.mpps / l2.mpps, r.cacheHitRate * 100, r.subtables))
        }
    }
}
