// OpenFlowSwitchBenchmark: 64-byte frames through a `Switch` whose forwarding an
// `OFSwitchAgent` has taken over (fail mode secure), on one core: the agent's lock,
// `admitReceived`, the flow pipeline, `Switch.output`, the transmit queues and their drain into
// a sink, the whole path a frame from a host device takes on an OpenFlow switch. The flows and
// packets are FlowBenchmark's, loaded through the agent's public `withPipeline`.

import FlowTables
import Frames
import OpenFlowSwitch
import Switching

/// An in-process forwarding benchmark of an OpenFlow switch (switch + agent + flows).
///
/// Four ports; frames arrive on port 1 (OpenFlow port 1) in batches and every flow outputs
/// to port 2, 3 or 4. The traffic is `streams` distinct packets (5-tuples and source MACs),
/// each matching one of the first `streams` flows, repeated to at least 4,096 frames a pass.
/// Draining a transmit queue releases its slots, as `SwitchBenchmark`'s sink does.
public struct OpenFlowSwitchBenchmark: Sendable {
    /// The figures of one run.
    public struct Result: Sendable {
        public var flows: Int
        public var match: FlowBenchmark.MatchKind
        /// Distinct packets in the traffic.
        public var streams: Int
        public var frames: UInt64
        public var seconds: Double
        public var mpps: Double
        public var nsPerFrame: Double
        /// Frames that matched a flow in table 0 (during the measured passes).
        public var matched: UInt64
        /// Frames queued on an output port (during the measured passes).
        public var transmitted: UInt64
        /// Frames the switch counted as dropped (during the measured passes).
        public var dropped: UInt64
        /// Share of table lookups the exact-match cache answered.
        public var cacheHitRate: Double
        public var batchSize: Int
        public var frameSize: Int
    }

    public var flowCount: Int
    public var match: FlowBenchmark.MatchKind
    public var streams: Int
    public var batchSize: Int
    public var seconds: Double

    /// A benchmark of `flowCount` flows and `streams` distinct packets (at most one per flow).
    public init(flowCount: Int, match: FlowBenchmark.MatchKind, streams: Int, batchSize: Int = 32, seconds: Double = 1) {
        self.flowCount = flowCount
        self.match = match
        self.streams = min(max(1, streams), flowCount)
        self.batchSize = batchSize
        self.seconds = seconds
    }

    /// Runs the benchmark; `clock` returns monotonic nanoseconds.
    public func run(clock: @escaping @Sendable () -> Int64) throws -> Result {
        guard flowCount >= 1 && flowCount <= 100_000 else { throw OpenFlowBenchmarkError.badParameter("flow count \(flowCount)") }
        guard batchSize >= 1 && batchSize <= Switch.maxBatch else { throw OpenFlowBenchmarkError.badParameter("batch \(batchSize)") }
        let frameCount = max(streams, 4096)
        let pool = PacketPool(capacity: frameCount + 4096)
        let sw = try Switch(configuration: SwitchConfiguration(name: "ofbench", ports: (1...4).map { PortConfiguration(name: "p\($0)") }),
                            pool: pool)
        let agent = try OFSwitchAgent(switch: sw, configuration: OFSwitchAgentConfiguration(datapathID: 1, failMode: .secure,
                                                                                            hasControllers: false),
                                      clock: clock, onDatapath: { body in body(clock()) })
        sw.ingressProcessor = agent
        let inPort: UInt32 = 1
        let (mods, tuples) = FlowBenchmark.flows(count: flowCount, match: match, inPort: inPort)
        let loadTime = clock()
        try agent.withPipeline { (pipeline: FlowPipeline) throws(FlowError) in
            for mod in mods { try pipeline.apply(mod, now: loadTime) }
        }
        var handles: [PacketHandle] = []
        handles.reserveCapacity(frameCount)
        for i in 0..<frameCount {
            let s = i % streams
            let frame = FlowBenchmark.frame(tuples[s], source: MACAddress(rawValue: 0x0200_0000_0000 | UInt64(s)))
            guard let h = pool.make(copying: frame) else { throw BenchmarkError.poolTooSmall }
            handles.append(h)
        }
        let portCount = sw.portCount
        let ingress = Int(inPort) - 1
        let batch = batchSize
        func pass(_ now: Int64) {
            handles.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let end = min(start + batch, all.count)
                    let slice = UnsafeBufferPointer(rebasing: all[start..<end])
                    for h in slice { pool.retain(h) } // the frames are reused: keep them alive
                    sw.receive(port: ingress, batch: slice, now: now)
                    for p in 0..<portCount { sw.clearTransmitQueue(port: p, releasing: true) }
                    start = end
                }
            }
        }
        func snapshot() -> (matched: UInt64, hits: UInt64, misses: UInt64) {
            agent.withPipeline { p in (p.tableStatistics()[0].matched, p.cacheHits, p.cacheMisses) }
        }

        pass(clock()) // warm-up: fill the exact-match cache
        let base = (0..<portCount).map { sw.counters(port: $0) }
        let before = snapshot()
        let (frames, elapsed) = FlowBenchmark.timed(seconds: seconds, framesPerPass: handles.count, clock: clock, pass)
        let after = snapshot()
        var tx: UInt64 = 0, dropped: UInt64 = 0
        for p in 0..<portCount {
            let c = sw.counters(port: p)
            tx += c.txFrames - base[p].txFrames
            dropped += c.totalDrops - base[p].totalDrops
        }
        let hits = Double(after.hits - before.hits), misses = Double(after.misses - before.misses)
        return Result(flows: flowCount, match: match, streams: streams, frames: frames, seconds: elapsed,
                      mpps: Double(frames) / elapsed / 1e6, nsPerFrame: elapsed * 1e9 / Double(frames),
                      matched: after.matched - before.matched, transmitted: tx, dropped: dropped,
                      cacheHitRate: hits / max(1, hits + misses), batchSize: batchSize, frameSize: 64)
    }
}

/// An OpenFlow benchmark given parameters it cannot run with.
public enum OpenFlowBenchmarkError: Error, CustomStringConvertible {
    case badParameter(String)

    public var description: String {
        switch self {
        case .badParameter(let what): "OpenFlow benchmark: bad parameter: \(what)"
        }
    }
}
