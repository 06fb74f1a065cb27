// What `switchboard flows` and `switchboard trace --live` show of a running OpenFlow switch.

import FlowTables
import Frames

extension OFSwitchAgent {
    /// The flows as `ovs-ofctl dump-flows` lines, after a line on the switch's state.
    public func dumpFlows(now: Int64) -> [String] {
        let entries = (try? withPipeline { p throws(FlowError) in try p.flowStatistics(FlowFilter(), now: now) }) ?? []
        let (all, primary) = connectionCount
        let c = counters
        let mode = takesOver ? "flows" : "L2 learning (fail \(configuration.failMode.rawValue), no controller connected)"
        var lines = ["\(sw.name): datapath \(String(format: "%016llx", configuration.datapathID)), \(entries.count) flows, "
            + "forwarding by \(mode); connections \(all) (\(primary) to its controllers); "
            + "packet-ins \(c.packetIns) (\(c.packetInsDropped) over the rate limit), packet-outs \(c.packetOuts), flow-mods \(c.flowMods), errors \(c.errors)"]
        for e in entries.sorted(by: { ($0.tableID, -Int($0.priority)) < ($1.tableID, -Int($1.priority)) }) {
            lines.append(FlowFormat.flow(e))
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
