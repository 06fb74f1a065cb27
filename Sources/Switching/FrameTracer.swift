// FrameTracer: "what would the switch do with this frame?", as `ovs-appctl ofproto/trace`.

import Frames

/// The outcome of one traced frame.
public struct TraceRecord: Equatable, Sendable, Codable {
    /// A port the frame leaves through, with its egress tag.
    public struct Output: Equatable, Sendable, Codable {
        public var port: String
        /// The VLAN tag the frame leaves with; nil when it leaves untagged.
        public var vlan: Int?
    }

    /// 1-based position of the frame in the trace.
    public var frame: Int
    /// "forward", "flood" or "drop".
    public var action: String
    /// The VLAN the frame was classified into; nil when dropped before classification.
    public var vlan: Int?
    public var out: [Output]
    /// Why the switch decided so.
    public var reason: String
}

/// Feeds frames one by one into a switch, keeping what it learned between frames, and
/// reports each decision with the ports the frame leaves through and their tags.
public final class FrameTracer {
    public let sw: Switch
    private var count = 0
    private var now: Int64

    /// Traces against `sw`; every frame is stamped `now` plus its position in microseconds.
    public init(switch sw: Switch, now: Int64) {
        self.sw = sw
        self.now = now
    }

    /// Switches `bytes` in on `port` and reports what happened; the transmit queues are
    /// emptied afterwards.
    public func trace(_ bytes: [UInt8], port: Int) -> TraceRecord {
        count += 1
        now += 1_000
        let destination = bytes.count >= 6 ? bytes.withUnsafeBytes { MACAddress(loadingFrom: $0.baseAddress!) } : nil
        guard let handle = sw.pool.make(copying: bytes) else {
            return TraceRecord(frame: count, action: "drop", vlan: nil, out: [], reason: "frame larger than a packet buffer (\(sw.pool.slotSize) bytes)")
        }
        let decision = sw.receive(port: port, handle: handle, now: now)
        var outs: [TraceRecord.Output] = []
        for p in 0..<sw.portCount {
            for entry in sw.transmitQueue(port: p) {
                let tag: Int?
                switch entry.action {
                case .tag: tag = Int(entry.tci & 0x0FFF)
                case .untag: tag = nil
                case .keep: tag = (try? EthernetFrame(sw.pool.bytes(entry.handle)))?.tag.map { Int($0.vid) }
                }
                outs.append(.init(port: sw.portNames[p], vlan: tag))
            }
            sw.clearTransmitQueue(port: p, releasing: true)
        }
        let vlan = decision.vlan == 0 ? nil : Int(decision.vlan)
        switch decision.action {
        case .drop:
            return TraceRecord(frame: count, action: "drop", vlan: vlan, out: outs, reason: decision.reason?.description ?? "dropped")
        case .forward:
            let reason = "destination \(destination!) learned on port \(outs.first?.port ?? "?") in VLAN \(decision.vlan)"
            return TraceRecord(frame: count, action: "forward", vlan: vlan, out: outs, reason: reason)
        case .flood:
            let reason: String
            if let destination, destination.isBroadcast { reason = "broadcast destination" }
            else if let destination, destination.isMulticast { reason = "multicast destination \(destination)" }
            else { reason = "destination \(destination.map(String.init(describing:)) ?? "?") unknown in VLAN \(decision.vlan)" }
            return TraceRecord(frame: count, action: "flood", vlan: vlan, out: outs, reason: reason)
        }
    }
}
