// Fabric: several switches, the patch links between their ports, and the sinks behind the
// other ports, moved forward together by one datapath thread.

import Frames

/// Takes the frames a switch port transmits: a TAP device, a virtio-net queue, a test.
public protocol PortSink: AnyObject {
    /// Consumes `entries`; the sink owns one reference to each slot and must release it.
    /// `Switch.materialize` writes a frame with its egress tag applied.
    func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64)
}

/// Sees every frame leaving every port, as it leaves (used by `replay` to record ports).
public protocol EgressRecorder: AnyObject {
    func record(switch: Int, port: Int, frame: UnsafeRawBufferPointer, now: Int64)
}

/// Switches joined by patch links, sharing one packet pool.
///
/// A frame queued on a linked port is copied, with its egress tag applied, into a fresh slot
/// and received by the peer switch in the same `drain`. A frame queued on a port with a sink
/// goes to the sink; on a port with neither it leaves the fabric (the cable is unplugged).
public final class Fabric {
    /// A port of one of the fabric's switches, by index.
    public struct PortRef: Hashable, Sendable {
        public var switchIndex: Int
        public var port: Int
        public init(switchIndex: Int, port: Int) {
            self.switchIndex = switchIndex
            self.port = port
        }
    }

    /// Why a fabric cannot be assembled.
    public enum FabricError: Error, Equatable, CustomStringConvertible {
        case unknownSwitch(String)
        case unknownPort(String, String)
        case portInUse(String, String)
        case loop([String])

        public var description: String {
            switch self {
            case .unknownSwitch(let s): return "no switch named \(s)"
            case .unknownPort(let s, let p): return "switch \(s) has no port \(p)"
            case .portInUse(let s, let p): return "port \(s):\(p) is already linked or attached"
            case .loop(let names): return "links form a loop through \(names.joined(separator: ", ")): frames would circulate forever (Switchboard runs no spanning tree)"
            }
        }
    }

    public let pool: PacketPool
    public private(set) var switches: [Switch] = []
    /// Rounds `drain` runs at most before giving up on frames still in flight.
    public var maxRounds = 64
    public var recorder: EgressRecorder?
    /// Nanoseconds from the monotonic `now` to wall-clock time, for the recorder's timestamps;
    /// setting it sets every switch's `wallClockOffset` (see `DatapathClock`).
    public var wallClockOffset: Int64 = 0 {
        didSet {
            guard wallClockOffset != oldValue else { return }
            for sw in switches { sw.wallClockOffset = wallClockOffset }
        }
    }
    /// Frames that could not be copied across a link because the pool was empty.
    public private(set) var linkDrops: UInt64 = 0

    var peers: [PortRef: PortRef] = [:]
    var sinks: [PortRef: PortSink] = [:]
    private let scratch: UnsafeMutableRawPointer
    private let batch: UnsafeMutablePointer<PacketHandle>

    public init(pool: PacketPool) {
        self.pool = pool
        scratch = .allocate(byteCount: pool.slotSize + 64, alignment: 16)
        batch = .allocate(capacity: Switch.queueCapacity)
    }

    deinit {
        scratch.deallocate()
        batch.deallocate()
    }

    /// Adds a switch built on this fabric's pool; returns its index.
    @discardableResult
    public func add(_ sw: Switch) -> Int {
        precondition(sw.pool === pool, "a fabric's switches share its pool")
        sw.wallClockOffset = wallClockOffset
        switches.append(sw)
        return switches.count - 1
    }

    /// The port `switchName:portName`.
    public func port(_ switchName: String, _ portName: String) throws(FabricError) -> PortRef {
        guard let s = switches.firstIndex(where: { $0.name == switchName }) else { throw .unknownSwitch(switchName) }
        guard let p = switches[s].portIndex(named: portName) else { throw .unknownPort(switchName, portName) }
        return PortRef(switchIndex: s, port: p)
    }

    /// Joins two ports with a patch cable. Links that close a loop are refused.
    public func link(_ a: PortRef, _ b: PortRef) throws(FabricError) {
        for end in [a, b] where peers[end] != nil || sinks[end] != nil || a == b {
            throw .portInUse(switches[end.switchIndex].name, switches[end.switchIndex].portNames[end.port])
        }
        if a.switchIndex == b.switchIndex || connected(a.switchIndex, b.switchIndex) {
            throw .loop([switches[a.switchIndex].name, switches[b.switchIndex].name])
        }
        peers[a] = b
        peers[b] = a
    }

    /// Sends what `port` transmits to `sink`.
    public func attach(_ port: PortRef, sink: PortSink) throws(FabricError) {
        guard peers[port] == nil, sinks[port] == nil else {
            throw .portInUse(switches[port.switchIndex].name, switches[port.switchIndex].portNames[port.port])
        }
        sinks[port] = sink
    }

    /// Whether the link graph already joins switches `a` and `b`.
    private func connected(_ a: Int, _ b: Int) -> Bool {
        var seen: Set<Int> = [a]
        var stack = [a]
        while let s = stack.popLast() {
            if s == b { return true }
            for (from, to) in peers where from.switchIndex == s && !seen.contains(to.switchIndex) {
                seen.insert(to.switchIndex)
                stack.append(to.switchIndex)
            }
        }
        return false
    }

    /// Copies `frame` into the pool and switches it in on `port`, then drains.
    /// Returns false when the pool is exhausted or the frame is larger than a slot.
    @discardableResult
    public func inject(_ frame: UnsafeRawBufferPointer, at port: PortRef, now: Int64) -> Bool {
        guard let handle = pool.make(copying: frame) else { return false }
        _ = switches[port.switchIndex].receive(port: port.port, handle: handle, now: now)
        drain(now: now)
        return true
    }

    /// Moves queued frames across links and into sinks until every queue is empty.
    public func drain(now: Int64) {
        for _ in 0..<maxRounds {
            var moved = false
            for s in switches.indices {
                let sw = switches[s]
                for p in 0..<sw.portCount {
                    let queue = sw.transmitQueue(port: p)
                    if queue.isEmpty { continue }
                    moved = true
                    let here = PortRef(switchIndex: s, port: p)
                    if let recorder {
                        for entry in queue {
                            let n = sw.materialize(entry, into: scratch)
                            recorder.record(switch: s, port: p, frame: UnsafeRawBufferPointer(start: scratch, count: n), now: now &+ wallClockOffset)
                        }
                    }
                    if let peer = peers[here] {
                        forward(queue, from: sw, to: peer, now: now)
                        sw.clearTransmitQueue(port: p, releasing: true)
                    } else if let sink = sinks[here] {
                        sink.transmit(queue, pool: pool, now: now)
                        sw.clearTransmitQueue(port: p, releasing: false)
                    } else {
                        sw.clearTransmitQueue(port: p, releasing: true)
                    }
                }
            }
            if !moved { return }
        }
        // Still in flight after maxRounds: cannot happen without loops, which link() refuses.
        for sw in switches { for p in 0..<sw.portCount { sw.clearTransmitQueue(port: p, releasing: true) } }
    }

    private func forward(_ queue: UnsafeBufferPointer<TransmitEntry>, from sw: Switch, to peer: PortRef, now: Int64) {
        var n = 0
        for entry in queue {
            guard let copy = pool.allocate() else {
                linkDrops += 1
                continue
            }
            let length = sw.materialize(entry, into: pool.data(copy))
            pool.setLength(copy, length)
            batch[n] = copy
            n += 1
            if n == Switch.maxBatch {
                switches[peer.switchIndex].receive(port: peer.port, batch: UnsafeBufferPointer(start: batch, count: n), now: now)
                n = 0
            }
        }
        if n > 0 {
            switches[peer.switchIndex].receive(port: peer.port, batch: UnsafeBufferPointer(start: batch, count: n), now: now)
        }
    }

    /// Ages every switch's MAC table.
    public func age(now: Int64) {
        for sw in switches { sw.macTable.age(now: now) }
    }
}
