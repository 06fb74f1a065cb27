// FlowBenchmark: 64-byte frames through the OpenFlow pipeline in process, with 1, 100 or
// 10,000 flows that match the exact 5-tuple or IPv4 destination prefixes of ten lengths
// (ten subtables), with traffic the exact-match cache holds or traffic it cannot.

import Frames

/// An in-process forwarding benchmark of a `FlowPipeline` on one core.
public struct FlowBenchmark: Sendable {
    /// What the flows match.
    public enum MatchKind: String, Sendable, Codable, CaseIterable {
        /// in_port, eth_type, ip_proto, IPv4 src/dst, UDP src/dst: one subtable.
        case exact
        /// eth_type and an IPv4 destination prefix of length 12, 14, ... 28, 32 (ten masks),
        /// priority by prefix length (longest prefix wins).
        case wildcard
    }

    /// How the traffic treats the exact-match cache.
    public enum Traffic: String, Sendable, Codable, CaseIterable {
        /// One packet per flow (or per stream, with `streams`), a cache large enough for all.
        case hotCache
        /// 65,536 distinct keys (source MACs vary) through a 4,096-entry cache: nearly every
        /// lookup is a classifier search.
        case cacheMiss
    }

    /// The figures of one run.
    public struct Result: Sendable, Codable {
        public var flows: Int
        public var match: MatchKind
        public var traffic: Traffic
        public var frames: UInt64
        public var seconds: Double
        public var mpps: Double
        public var nsPerFrame: Double
        /// Frames that produced an output (all of them, when the flows cover the traffic).
        public var forwarded: UInt64
        /// Share of table lookups answered by the exact-match cache.
        public var cacheHitRate: Double
        /// Subtables in table 0.
        public var subtables: Int
        /// Distinct packet keys in the traffic.
        public var streams: Int
        public var batchSize: Int
        public var frameSize: Int
    }

    public var flowCount: Int
    public var match: MatchKind
    public var traffic: Traffic
    public var batchSize: Int
    public var seconds: Double
    /// hotCache only: send to this many of the flows (default: all of them).
    public var streams: Int?

    /// A benchmark of `flowCount` flows.
    public init(flowCount: Int = 10_000, match: MatchKind = .wildcard, traffic: Traffic = .hotCache, batchSize: Int = 32,
                seconds: Double = 2.0, streams: Int? = nil) {
        self.streams = streams
        self.flowCount = flowCount
        self.match = match
        self.traffic = traffic
        self.batchSize = batchSize
        self.seconds = seconds
    }

    /// The ten prefix lengths of the wildcard flows.
    public static let prefixLengths = [12, 14, 16, 18, 20, 22, 24, 26, 28, 32]

    /// The 5-tuple of one packet a benchmark flow matches.
    public struct Tuple: Sendable, Hashable {
        public var src: UInt32
        public var dst: UInt32
        public var sport: UInt16
        public var dport: UInt16
    }

    /// The benchmark's flows, `count` of them matching `match` (exact flows on `inPort`),
    /// each outputting to port 2, 3 or 4, and for each flow the 5-tuple of a packet it
    /// matches (the same flows and packets on every call).
    public static func flows(count: Int, match: MatchKind, inPort: UInt32 = 1) -> (mods: [FlowMod], tuples: [Tuple]) {
        var rng = BenchRandom(seed: 7)
        var mods: [FlowMod] = []
        var tuples: [Tuple] = []
        var seen = Set<UInt64>()
        mods.reserveCapacity(count)
        tuples.reserveCapacity(count)
        for i in 0..<count {
            var mod = FlowMod(priority: 100, instructions: [.applyActions([.output(port: UInt32(2 + i % 3))])])
            var m = FlowMatch()
            m.ethType = 0x0800
            switch match {
            case .exact:
                var t: Tuple
                repeat {
                    t = Tuple(src: UInt32(truncatingIfNeeded: rng.next()), dst: UInt32(truncatingIfNeeded: rng.next()),
                              sport: UInt16(truncatingIfNeeded: rng.next()), dport: UInt16(truncatingIfNeeded: rng.next()))
                } while !seen.insert(UInt64(t.src) << 32 | UInt64(t.dst)).inserted
                m.inPort = inPort
                m.ipProto = 17
                m.ipv4Src = .exact(t.src)
                m.ipv4Dst = .exact(t.dst)
                m.udpSrc = t.sport
                m.udpDst = t.dport
                tuples.append(t)
            case .wildcard:
                let length = prefixLengths[i % prefixLengths.count]
                let prefixMask: UInt32 = ~0 << UInt32(32 - length)
                var dst: UInt32 = 0
                for _ in 0..<64 { // distinct prefixes (a repeat would replace its twin)
                    dst = UInt32(truncatingIfNeeded: rng.next()) & prefixMask
                    if seen.insert(UInt64(length) << 32 | UInt64(dst)).inserted { break }
                }
                m.ipv4Dst = Masked(dst, mask: prefixMask)
                mod.priority = UInt16(100 + length)
                let host = UInt32(truncatingIfNeeded: rng.next()) & ~prefixMask
                tuples.append(Tuple(src: UInt32(truncatingIfNeeded: rng.next()), dst: dst | host,
                                    sport: UInt16(truncatingIfNeeded: rng.next()), dport: 4789))
            }
            mod.match = m
            mods.append(mod)
        }
        return (mods, tuples)
    }

    /// A 64-byte IPv4/UDP frame (60 bytes + FCS) carrying `tuple`, from `source` to a fixed
    /// unicast MAC.
    public static func frame(_ tuple: Tuple, source: MACAddress) -> [UInt8] {
        let src = IPv4Address(rawValue: tuple.src), dst = IPv4Address(rawValue: tuple.dst)
        let udp = FrameBuilder.udp(source: src, destination: dst, sourcePort: tuple.sport, destinationPort: tuple.dport,
                                   payload: [UInt8](repeating: 0, count: 18))
        let ip = FrameBuilder.ipv4(source: src, destination: dst, protocol: 17, payload: udp)
        return FrameBuilder.padded(FrameBuilder.ethernet(destination: MACAddress(rawValue: 0x0200_0000_0001_0000),
                                                         source: source, etherType: 0x0800, payload: ip))
    }

    /// Runs the benchmark; `clock` returns monotonic nanoseconds.
    public func run(clock: () -> Int64) throws -> Result {
        precondition(flowCount >= 1 && flowCount <= 100_000 && batchSize >= 1)
        let distinct = traffic == .hotCache ? min(flowCount, max(1, streams ?? flowCount)) : 65_536
        // At least 4,096 frames a pass, so the clock read per pass costs nothing per frame.
        let frameCount = max(distinct, 4096)
        let pool = PacketPool(capacity: frameCount + 1024, slotSize: 64)
        let cacheEntries = traffic == .hotCache ? 1 << 16 : 4096
        let pipeline = try FlowPipeline(configuration: FlowPipelineConfiguration(cacheEntries: cacheEntries), pool: pool)
        let inPort: UInt32 = 1
        let (mods, tuples) = Self.flows(count: flowCount, match: match, inPort: inPort)
        for mod in mods { try pipeline.apply(mod, now: 0) }
        var handles: [PacketHandle] = []
        handles.reserveCapacity(frameCount)
        for i in 0..<frameCount {
            // hotCache: the first `distinct` flows' packets; cacheMiss: all flows, many MACs.
            let t = tuples[i % min(tuples.count, distinct)]
            let frame = Self.frame(t, source: MACAddress(rawValue: 0x0200_0000_0000 | UInt64(i % distinct)))
            guard let h = pool.make(copying: frame) else { throw FlowBenchmarkError.poolTooSmall }
            handles.append(h)
        }
        var forwarded: UInt64 = 0
        func pass(_ now: Int64) {
            handles.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let end = min(start + batchSize, all.count)
                    for i in start..<end {
                        let h = all[i]
                        pool.retain(h) // the frames are reused: keep them alive
                        let n = pipeline.process(h, inPort: inPort, now: now)
                        if n > 0 { forwarded &+= 1 }
                        for d in pipeline.decisions { pool.release(d.handle) }
                    }
                    start = end
                }
            }
        }
        pass(clock()) // warm-up: fill the cache
        forwarded = 0
        let hits0 = pipeline.cacheHits, misses0 = pipeline.cacheMisses
        let (frames, elapsed) = Self.timed(seconds: seconds, framesPerPass: handles.count, clock: clock, pass)
        let hits = Double(pipeline.cacheHits - hits0), misses = Double(pipeline.cacheMisses - misses0)
        return Result(flows: flowCount, match: match, traffic: traffic, frames: frames, seconds: elapsed,
                      mpps: Double(frames) / elapsed / 1e6, nsPerFrame: elapsed * 1e9 / Double(frames), forwarded: forwarded,
                      cacheHitRate: hits / max(1, hits + misses), subtables: pipeline.tables[0].orderCount, streams: distinct,
                      batchSize: batchSize, frameSize: 64)
    }
}

/// A benchmark that could not be set up.
extension FlowBenchmark {
    /// Runs `pass(now)` (`framesPerPass` frames each) until `seconds` have gone by on `clock`
    /// (read once a pass); the frames done and the seconds they took.
    public static func timed(seconds: Double, framesPerPass: Int, clock: () -> Int64,
                             _ pass: (Int64) -> Void) -> (frames: UInt64, seconds: Double) {
        var frames: UInt64 = 0
        let start = clock()
        var now = start
        let budget = Int64(seconds * 1e9)
        repeat {
            pass(now)
            frames += UInt64(framesPerPass)
            now = clock()
        } while now - start < budget
        return (frames, Double(max(1, now - start)) / 1e9)
    }
}

public enum FlowBenchmarkError: Error { case poolTooSmall }

/// SplitMix64, so the benchmark's flows and traffic are the same on every run.
struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
