// SwitchBenchmark: drives the pipeline in process with 64-byte frames, as netmap's VALE and
// BESS measure their L2 forwarders: learned unicast among many MACs, mixed VLANs, batches;
// with random MACs, or adversarial ones chosen to collide in an unkeyed MAC-table hash.

import Frames

/// An in-process forwarding benchmark of one switch.
///
/// Four ports (two access ports in VLAN 10, one in VLAN 20, a trunk carrying both) with
/// `macCount` hosts spread over them. Every frame goes from a host behind one port to a
/// host of the same VLAN behind another, so after one warm-up pass every lookup hits and
/// every frame is forwarded (tag pushed or popped where it crosses the trunk). Consuming a
/// transmit queue means releasing its slots, the least a port sink does.
public struct SwitchBenchmark: Sendable {
    /// How the hosts' MAC addresses are chosen.
    public enum MACPattern: String, Sendable, Codable, CaseIterable {
        /// 02:00:00:00:00:01, :02, ... (the workload of every figure before the hash was
        /// keyed; kept so figures compare across versions).
        case sequential
        /// Random locally administered unicast MACs.
        case random
        /// MAC flooding against the table's hash: unicast MACs whose (VLAN, MAC) keys all
        /// have the same home slot under the unkeyed multiplicative hash the table used before
        /// it was keyed (`unkeyedHome`), as an attacker who knows that hash would pick them.
        case adversarial
    }

    /// The figures of one run.
    public struct Result: Sendable, Codable {
        public var frames: UInt64
        public var seconds: Double
        public var mpps: Double
        public var nsPerFrame: Double
        public var macs: Int
        public var ports: Int
        public var batchSize: Int
        public var frameSize: Int
        public var forwarded: UInt64
        public var flooded: UInt64
        public var dropped: UInt64
        /// How the MACs were chosen.
        public var pattern: MACPattern
    }

    public var macCount = 1000
    public var batchSize = 32
    public var seconds = 2.0
    public var pattern = MACPattern.random

    /// A benchmark of `macCount` hosts whose MACs follow `pattern`.
    public init(macCount: Int = 1000, batchSize: Int = 32, seconds: Double = 2.0, pattern: MACPattern = .random) {
        self.macCount = macCount
        self.batchSize = batchSize
        self.seconds = seconds
        self.pattern = pattern
    }

    /// The home slot of `key` under the MAC table's former hash (a multiplication by the
    /// 64-bit golden ratio, top bits kept), for a table of `slotCount` (a power of two) slots.
    /// Anyone can compute it, so anyone can choose MACs that share a home slot.
    public static func unkeyedHome(_ key: UInt64, slotCount: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - slotCount.trailingZeroBitCount))
    }

    /// `count` distinct locally administered unicast MACs, drawn from `rng`; with `vlans`
    /// given (one per MAC), each MAC's key (VLAN, MAC) has unkeyed home slot `home` in a table
    /// of `slotCount` slots (about `slotCount` draws per MAC).
    public static func macs(_ count: Int, rng: inout SplitMix64, collidingAt home: Int? = nil,
                            slotCount: Int = 16_384, vlans: [UInt16] = []) -> [MACAddress] {
        var seen = Set<UInt64>()
        var out: [MACAddress] = []
        out.reserveCapacity(count)
        while out.count < count {
            // Bit 41 set (locally administered), bit 40 clear (unicast), never zero.
            let mac = rng.next() & 0xFCFF_FFFF_FFFF | 0x0200_0000_0000
            if let home, !vlans.isEmpty {
                let key = MACTable.key(vlan: vlans[out.count], mac: mac)
                guard unkeyedHome(key, slotCount: slotCount) == home else { continue }
            }
            if seen.insert(mac).inserted { out.append(MACAddress(rawValue: mac)) }
        }
        return out
    }

    /// Runs the benchmark; `clock` returns monotonic nanoseconds.
    public func run(clock: () -> Int64) throws -> Result {
        let v10 = VLANID(unchecked: 10), v20 = VLANID(unchecked: 20)
        let ports = [
            PortConfiguration(name: "a1", mode: .access(v10)),
            PortConfiguration(name: "a2", mode: .access(v10)),
            PortConfiguration(name: "b1", mode: .access(v20)),
            PortConfiguration(name: "t1", mode: .trunk(allowed: VLANSet([v10, v20]), native: .defaultVLAN)),
        ]
        // Four frames per host, all resident in the pool at once, plus room for the queues.
        let pool = PacketPool(capacity: macCount * 4 + 4096)
        let sw = try Switch(configuration: SwitchConfiguration(name: "bench", ports: ports,
                                                               macTableCapacity: max(8192, macCount)), pool: pool)

        // Hosts: (port, vlan, mac). The trunk's hosts alternate between VLAN 10 and 20.
        struct Host { var port: Int; var vlan: UInt16; var mac: MACAddress }
        let vlans = (0..<macCount).map { i -> UInt16 in
            let port = i % 4
            return port == 2 ? 20 : port == 3 ? (i / 4 % 2 == 0 ? 10 : 20) : 10
        }
        var rng = SplitMix64(seed: 42)
        let macs: [MACAddress]
        switch pattern {
        case .sequential: macs = (0..<macCount).map { MACAddress(rawValue: 0x0200_0000_0000 | UInt64($0 + 1)) }
        case .random: macs = Self.macs(macCount, rng: &rng)
        case .adversarial:
            macs = Self.macs(macCount, rng: &rng, collidingAt: 1234 & (sw.macTable.slotCount - 1),
                             slotCount: sw.macTable.slotCount, vlans: vlans)
        }
        let hosts = (0..<macCount).map { Host(port: $0 % 4, vlan: vlans[$0], mac: macs[$0]) }
        // Flows: each host sends to a host of its VLAN behind another port.
        var perPort: [[PacketHandle]] = Array(repeating: [], count: 4)
        for (i, src) in hosts.enumerated() {
            for _ in 0..<4 {
                var dst = hosts[Int(rng.next() % UInt64(hosts.count))]
                var tries = 0
                while dst.vlan != src.vlan || dst.port == src.port {
                    dst = hosts[Int(rng.next() % UInt64(hosts.count))]
                    tries += 1
                    if tries > 1000 { break }
                }
                let tagged = src.port == 3
                let tags = tagged ? [VLANTag(vid: src.vlan)] : []
                let payloadSize = 60 - 14 - tags.count * 4
                let bytes = FrameBuilder.ethernet(destination: dst.mac, source: src.mac, tags: tags, etherType: 0x88B5,
                                                  payload: [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: payloadSize))
                guard let h = pool.make(copying: bytes) else { throw BenchmarkError.poolTooSmall }
                perPort[src.port].append(h)
            }
        }
        // Batches of `batchSize` from one ingress port each, ports interleaved.
        var batches: [(port: Int, handles: [PacketHandle])] = []
        var cursor = [0, 0, 0, 0]
        while cursor.enumerated().contains(where: { $0.element < perPort[$0.offset].count }) {
            for p in 0..<4 where cursor[p] < perPort[p].count {
                let end = min(cursor[p] + batchSize, perPort[p].count)
                batches.append((p, Array(perPort[p][cursor[p]..<end])))
                cursor[p] = end
            }
        }
        let flat = batches.flatMap(\.handles)
        let starts = batches.reduce(into: [0]) { $0.append($0.last! + $1.handles.count) }
        let batchPorts = batches.map(\.port)
        let portCount = sw.portCount

        func pass(_ now: Int64) {
            flat.withUnsafeBufferPointer { all in
                for b in 0..<batchPorts.count {
                    let slice = UnsafeBufferPointer(rebasing: all[starts[b]..<starts[b + 1]])
                    for h in slice { pool.retain(h) } // the frames are reused: keep them alive
                    sw.receive(port: batchPorts[b], batch: slice, now: now)
                    for p in 0..<portCount { sw.clearTransmitQueue(port: p, releasing: true) }
                }
            }
        }

        let wallStart = clock()
        pass(wallStart) // warm-up: learn every MAC
        var decisionsForwarded: UInt64 = 0, flooded: UInt64 = 0, dropped: UInt64 = 0
        let base = (0..<portCount).map { sw.counters(port: $0) }
        var frames: UInt64 = 0
        let start = clock()
        var now = start
        let budget = Int64(seconds * 1e9)
        while now - start < budget {
            pass(now)
            frames += UInt64(flat.count)
            now = clock()
        }
        let elapsed = Double(now - start) / 1e9
        // Tally outcomes from the counters: a flood would transmit more than it received.
        var rx: UInt64 = 0, tx: UInt64 = 0
        for p in 0..<portCount {
            let c = sw.counters(port: p)
            rx += c.rxFrames - base[p].rxFrames
            tx += c.txFrames - base[p].txFrames
            dropped += c.totalDrops - base[p].totalDrops
        }
        flooded = tx > rx - dropped ? tx - (rx - dropped) : 0
        decisionsForwarded = rx - dropped
        return Result(frames: frames, seconds: elapsed, mpps: Double(frames) / elapsed / 1e6,
                      nsPerFrame: elapsed * 1e9 / Double(frames), macs: hosts.count, ports: portCount,
                      batchSize: batchSize, frameSize: 64, forwarded: decisionsForwarded, flooded: flooded, dropped: dropped,
                      pattern: pattern)
    }
}

/// A benchmark that could not be set up.
public enum BenchmarkError: Error { case poolTooSmall }

/// A small deterministic generator, so benchmark traffic is the same on every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
