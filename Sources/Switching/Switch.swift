// Switch: one L2 switch instance: its ports, tables and per-port queues.
//
// The per-frame pipeline is in Switch+Pipeline.swift, observers (mirrors and captures) in
// Switch+Observers.swift, saved state in Switch+State.swift. Everything the pipeline reads
// per frame is precomputed here into flat unsafe arrays indexed by port or VLAN.

import Frames

/// What the pipeline decided for one frame of the last batch (used by `trace`).
public struct FrameDecision: Equatable, Sendable {
    /// What the switch did with the frame.
    public enum Action: UInt8, Sendable { case drop = 0, forward = 1, flood = 2 }
    /// The VLAN the frame was classified into, 0 when it was dropped before classification.
    public var vlan: UInt16
    public var action: Action
    /// Set when `action` is `.drop`.
    public var reason: DropReason?
}

/// An 802.1Q learning switch processing batches of frames from a `PacketPool`.
///
/// Use from one thread: `receive(port:batch:now:)` takes a batch from one ingress port and
/// queues the results on the output ports; the caller then drains each port's queue with
/// `transmitQueue(port:)` and `clearTransmitQueue(port:)`, releasing the slots it consumed.
public final class Switch {
    /// Most frames `receive` accepts in one call.
    public static let maxBatch = 256
    /// Entries each port's transmit queue holds between drains.
    public static let queueCapacity = 1024

    public let name: String
    public let configuration: SwitchConfiguration
    public let pool: PacketPool
    public let macTable: MACTable
    public let portNames: [String]
    public var portCount: Int { portNames.count }
    /// Nanoseconds to add to the pipeline's monotonic `now` for wall-clock time
    /// (`DatapathClock.wallClockOffset()`, set by the datapath; 0 when `now` is already the
    /// time to stamp, as in replay). Observers' timestamps use it; learning and aging never
    /// do, so a wall-clock step changes neither.
    public var wallClockOffset: Int64 = 0
    /// Takes over forwarding while it says so (OpenFlow); nil: the L2 pipeline always.
    public var ingressProcessor: (any IngressProcessor)?

    // Per-port configuration, flattened for the pipeline.
    @usableFromInline let accessVLAN: UnsafeMutablePointer<UInt16>     // 0 for trunks
    @usableFromInline let nativeVLAN: UnsafeMutablePointer<UInt16>     // 0 = none
    @usableFromInline let allowedBits: UnsafeMutablePointer<UInt64>    // 64 words per port
    @usableFromInline let learning: UnsafeMutablePointer<Bool>
    @usableFromInline let splitHorizon: UnsafeMutablePointer<Bool>
    @usableFromInline let portUp: UnsafeMutablePointer<Bool>
    @usableFromInline let isMirrorOutput: UnsafeMutablePointer<Bool>
    @usableFromInline let rxObserved: UnsafeMutablePointer<Bool>
    @usableFromInline let txObserved: UnsafeMutablePointer<Bool>

    // Flood lists: the ports of VLAN v are floodPorts[floodStart[v] ..< floodStart[v + 1]].
    @usableFromInline let floodStart: UnsafeMutablePointer<Int32>
    @usableFromInline let floodPorts: UnsafeMutablePointer<Int32>

    // Counters: per port, `counterStride` UInt64s: rx frames, rx bytes, tx frames, tx bytes, drops...
    @usableFromInline static let counterStride = 4 + DropReason.allCases.count
    @usableFromInline let counterWords: UnsafeMutablePointer<UInt64>

    // Transmit queues: `queueCapacity` entries per port.
    @usableFromInline let queues: UnsafeMutablePointer<TransmitEntry>
    @usableFromInline let queueCounts: UnsafeMutablePointer<Int>

    // Decisions of the last batch.
    @usableFromInline let decisions: UnsafeMutablePointer<FrameDecision>
    public internal(set) var lastBatchCount = 0

    // Observers.
    @usableFromInline var observers: [CompiledObserver]
    @usableFromInline let scratch: UnsafeMutableRawPointer
    @usableFromInline var observedMask: UInt64 = 0

    /// Builds a switch; port and observer names must have been validated (see Topology).
    public init(configuration: SwitchConfiguration, pool: PacketPool) throws(SwitchConfigurationError) {
        let names = configuration.ports.map(\.name)
        guard !names.isEmpty else { throw .noPorts(configuration.name) }
        guard Set(names).count == names.count else { throw .duplicatePort(configuration.name) }
        self.name = configuration.name
        self.configuration = configuration
        self.pool = pool
        self.portNames = names
        let n = names.count
        macTable = MACTable(capacity: configuration.macTableCapacity, portCount: n,
                            agingSeconds: configuration.agingSeconds)

        accessVLAN = .allocate(capacity: n)
        nativeVLAN = .allocate(capacity: n)
        allowedBits = .allocate(capacity: n * 64)
        allowedBits.initialize(repeating: 0, count: n * 64)
        learning = .allocate(capacity: n)
        splitHorizon = .allocate(capacity: n)
        portUp = .allocate(capacity: n)
        portUp.initialize(repeating: true, count: n)
        isMirrorOutput = .allocate(capacity: n)
        isMirrorOutput.initialize(repeating: false, count: n)
        rxObserved = .allocate(capacity: n)
        rxObserved.initialize(repeating: false, count: n)
        txObserved = .allocate(capacity: n)
        txObserved.initialize(repeating: false, count: n)
        counterWords = .allocate(capacity: n * Self.counterStride)
        counterWords.initialize(repeating: 0, count: n * Self.counterStride)
        queues = .allocate(capacity: n * Self.queueCapacity)
        queueCounts = .allocate(capacity: n)
        queueCounts.initialize(repeating: 0, count: n)
        decisions = .allocate(capacity: Self.maxBatch)
        scratch = .allocate(byteCount: pool.slotSize + 64, alignment: 16)
        floodStart = .allocate(capacity: 4097)
        floodPorts = .allocate(capacity: max(1, n * 4094))
        observers = []

        for (p, port) in configuration.ports.enumerated() {
            learning[p] = port.learning
            splitHorizon[p] = port.splitHorizon
            macTable.setLearningLimit(port: p, port.learnLimit)
            switch port.mode {
            case .access(let v):
                accessVLAN[p] = v.rawValue
                nativeVLAN[p] = 0
            case .trunk(let allowed, let native):
                accessVLAN[p] = 0
                nativeVLAN[p] = native?.rawValue ?? 0
                var set = allowed
                if let native { set.insert(native) }
                for w in 0..<64 { allowedBits[p * 64 + w] = set.words[w] }
            }
        }
        for entry in configuration.staticEntries {
            guard let p = names.firstIndex(of: entry.port) else {
                throw .unknownPort(switch: configuration.name, port: entry.port, context: "static entry \(entry.mac)")
            }
            macTable.addStatic(mac: entry.mac, vlan: entry.vlan, port: p)
        }
        try compileObservers(configuration.observers)
        rebuildFloodLists()
    }

    deinit {
        for p in 0..<portCount { clearTransmitQueue(port: p, releasing: true) }
        accessVLAN.deallocate(); nativeVLAN.deallocate(); allowedBits.deallocate()
        learning.deallocate(); splitHorizon.deallocate(); portUp.deallocate(); isMirrorOutput.deallocate()
        rxObserved.deallocate(); txObserved.deallocate(); counterWords.deallocate()
        queues.deallocate(); queueCounts.deallocate(); decisions.deallocate()
        scratch.deallocate(); floodStart.deallocate(); floodPorts.deallocate()
    }

    /// The index of the port called `name`.
    public func portIndex(named name: String) -> Int? { portNames.firstIndex(of: name) }

    /// Whether port `p` carries VLAN `vid` (access VLAN, allowed or native on a trunk).
    @inlinable
    func carries(port p: Int, vid: UInt16) -> Bool {
        let access = accessVLAN[p]
        if access != 0 { return access == vid }
        return allowedBits[p &* 64 &+ Int(vid >> 6)] & (1 << UInt64(vid & 63)) != 0
    }

    /// Recomputes which ports flood each VLAN (after a port changes state or role).
    func rebuildFloodLists() {
        var next: Int32 = 0
        for vid in 0..<4096 {
            floodStart[vid] = next
            guard vid >= 1 && vid <= 4094 else { continue }
            for p in 0..<portCount where !isMirrorOutput[p] && carries(port: p, vid: UInt16(vid)) {
                floodPorts[Int(next)] = Int32(p)
                next += 1
            }
        }
        floodStart[4096] = next
    }

    /// Brings a port up or down. A port going down forgets the MACs learned on it.
    public func setPortUp(_ port: Int, _ up: Bool) {
        let changed = portUp[port] != up
        portUp[port] = up
        if !up { macTable.flush(port: port) }
        if changed { ingressProcessor?.portStateChanged(self, port: port, up: up) }
    }

    /// Whether the port is up.
    public func isPortUp(_ port: Int) -> Bool { portUp[port] }

    /// Turns learning on `port` on or off (migration re-sends frames through a port without
    /// learning their senders there).
    public func setLearning(port: Int, _ on: Bool) { learning[port] = on }

    /// Whether `port` learns source MACs.
    public func isLearning(port: Int) -> Bool { learning[port] }

    /// The counters of `port`.
    public func counters(port: Int) -> PortCounters {
        let base = counterWords + port * Self.counterStride
        var c = PortCounters()
        c.rxFrames = base[0]; c.rxBytes = base[1]; c.txFrames = base[2]; c.txBytes = base[3]
        for r in 0..<DropReason.allCases.count { c.drops[r] = base[4 + r] }
        return c
    }

    /// Overwrites the counters of `port` (restoring saved state).
    public func setCounters(port: Int, _ c: PortCounters) {
        let base = counterWords + port * Self.counterStride
        base[0] = c.rxFrames; base[1] = c.rxBytes; base[2] = c.txFrames; base[3] = c.txBytes
        for r in 0..<min(c.drops.count, DropReason.allCases.count) { base[4 + r] = c.drops[r] }
    }

    /// The decisions for the frames of the last `receive` call, in order.
    public var lastDecisions: [FrameDecision] { (0..<lastBatchCount).map { decisions[$0] } }

    // MARK: Transmit queues

    /// The frames queued on `port` since it was last cleared.
    public func transmitQueue(port: Int) -> UnsafeBufferPointer<TransmitEntry> {
        UnsafeBufferPointer(start: queues + port * Self.queueCapacity, count: queueCounts[port])
    }

    /// Empties `port`'s queue; with `releasing`, the switch drops its references to the
    /// slots (use when the consumer did not take them over).
    public func clearTransmitQueue(port: Int, releasing: Bool = false) {
        if releasing {
            let q = queues + port * Self.queueCapacity
            for i in 0..<queueCounts[port] { pool.release(q[i].handle) }
        }
        queueCounts[port] = 0
    }

    /// Writes the frame of `entry` as it leaves the port (tag applied) into `destination`,
    /// which must hold `pool.slotSize + 4` bytes; returns the length written. Frames that
    /// lose their tag and fall under the 60-byte minimum are padded with zeros.
    public func materialize(_ entry: TransmitEntry, into destination: UnsafeMutableRawPointer) -> Int {
        Self.materialize(entry, pool: pool, into: destination)
    }

    /// As the instance method, for any pool.
    public static func materialize(_ entry: TransmitEntry, pool: PacketPool, into destination: UnsafeMutableRawPointer) -> Int {
        let src = UnsafeRawPointer(pool.data(entry.handle))
        let length = pool.length(entry.handle)
        let tagged = length >= 16 && src.loadUnaligned(fromByteOffset: 12, as: UInt16.self) == EtherType.vlan.bigEndian
        switch entry.action {
        case .keep:
            destination.copyMemory(from: src, byteCount: length)
            return length
        case .untag:
            guard tagged else {
                destination.copyMemory(from: src, byteCount: length)
                return length
            }
            destination.copyMemory(from: src, byteCount: 12)
            (destination + 12).copyMemory(from: src + 16, byteCount: length - 16)
            var out = length - 4
            if out < 60 && length >= 60 {
                (destination + out).initializeMemory(as: UInt8.self, repeating: 0, count: 60 - out)
                out = 60
            }
            return out
        case .tag:
            destination.copyMemory(from: src, byteCount: 12)
            destination.storeBytes(of: EtherType.vlan.bigEndian, toByteOffset: 12, as: UInt16.self)
            destination.storeBytes(of: entry.tci.bigEndian, toByteOffset: 14, as: UInt16.self)
            let rest = tagged ? 16 : 12
            (destination + 16).copyMemory(from: src + rest, byteCount: length - rest)
            return 16 + length - rest
        }
    }
}

/// A switch configuration that cannot be built.
public enum SwitchConfigurationError: Error, Equatable, CustomStringConvertible {
    case noPorts(String)
    case duplicatePort(String)
    case unknownPort(switch: String, port: String, context: String)
    case tooManyObservers(String)

    public var description: String {
        switch self {
        case .noPorts(let s): return "switch \(s) has no ports"
        case .duplicatePort(let s): return "switch \(s) has two ports with the same name"
        case .unknownPort(let s, let p, let context): return "switch \(s): \(context) names unknown port \(p)"
        case .tooManyObservers(let s): return "switch \(s): more than 64 mirrors and captures"
        }
    }
}
