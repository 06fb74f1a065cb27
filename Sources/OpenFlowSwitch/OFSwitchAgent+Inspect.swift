// What `switchboard flows` and `switchboard trace --live` show of a running OpenFlow switch.

import FlowTables
import Frames

extension OFSwitchAgent {
    /// Most flows `dumpFlows` lists. The reply goes through the control socket, whose reply
    /// must be taken whole within its deadline, and is built on the datapath thread: 100,000
    /// flows as text took 1.8 s of forwarding (a debug build) and came out cut, as invalid JSON.
    public static let flowListLimit = 5_000

    /// The flows as `ovs-ofctl dump-flows` lines (by table, then priority), after a line on the
    /// switch's state; past `limit` flows, a last line says how many more there are.
    public func dumpFlows(now: Int64, limit: Int = OFSwitchAgent.flowListLimit) -> [String] {
        let entries = (try? withPipeline { p throws(FlowError) in try p.flowStatistics(FlowFilter(), now: now) }) ?? []
        let (all, primary) = connectionCount
        let c = counters
        let mode = takesOver ? "flows" : "L2 learning (fail \(configuration.failMode.rawValue), no controller connected)"
        var lines = ["\(sw.name): datapath \(String(format: "%016llx", configuration.datapathID)), \(entries.count) flows, "
            + "forwarding by \(mode); connections \(all) (\(primary) to its controllers); "
            + "packet-ins \(c.packetIns) (\(c.packetInsDropped) over the rate limit), packet-outs \(c.packetOuts), flow-mods \(c.flowMods), errors \(c.errors)"]
        // flowStatistics gives them by table, then priority.
        for e in entries.prefix(max(0, limit)) {
            lines.append(FlowFormat.flow(e))
        }
        if entries.count > limit {
            lines.append("... \(entries.count - max(0, limit)) more flows not listed (at most \(limit) here; "
                + "ovs-ofctl dump-flows through the switch's openflow_listen listener lists them all)")
        }
        return lines
    }

    /// A frame through the tables as if it arrived on `port` (datapath thread): each table
    /// looked up with the flow that matched, then the outputs. Nil when the pool is empty.
    public func trace(_ frame: [UInt8], port: Int, now: Int64) -> [String]? {
        guard let result = withPipeline({ $0.trace(frame, inPort: UInt32(port + 1), now: now) }) else { return nil }
        var lines = ["Flow: in_port=\(port + 1) (\(sw.portNames[port])), \(frame.count) bytes"]
        for step in result.steps {
            if let e = step.entry {
                let m = FlowFormat.match(e.match)
                lines.append("table \(step.tableID): priority=\(e.priority)" + (m.isEmpty ? "" : ",\(m)")
                    + ", cookie=\(FlowFormat.hex(e.cookie)) -> \(FlowFormat.instructions(e.instructions))")
            } else {
                lines.append("table \(step.tableID): no match (table miss: drop)")
            }
        }
        if result.outputs.isEmpty { lines.append("Datapath actions: drop") }
        for (d, bytes) in result.outputs {
            let target: String
            switch d.kind {
            case .output:
                let p = Int(d.port) - 1
                target = p >= 0 && p < sw.portCount ? "output:\(d.port) (\(sw.portNames[p]))" : "output:\(d.port) (no such port)"
            case .inPort: target = "IN_PORT"
            case .flood: target = "FLOOD"
            case .all: target = "ALL"
            case .normal: target = "NORMAL (the L2 switch)"
            case .controller: target = "CONTROLLER (packet-in, reason \(d.reason), table \(d.tableID))"
            case .local: target = "LOCAL (dropped: no local port)"
            }
            lines.append("Datapath action: \(target), \(bytes.count) bytes")
        }
        return lines
    }
}
