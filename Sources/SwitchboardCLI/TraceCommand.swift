// `switchboard trace`: what one switch of a topology does with given frames.

import ControlProtocol
import ArgumentParser
import Foundation
import Frames
import Switching
import Topology

/// Feeds frames into a fresh instance of one switch and prints each decision.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show what a switch does with frames (ofproto/trace).",
        discussion: """
        Frames enter a fresh instance of the switch in order, each on its port; what the switch \
        learns from one frame carries to the next. Mirrors to ports show up as outputs; \
        captures are not written. With --live, each frame goes instead through the flow         tables of the running instance's OpenFlow switch, and the trace shows the table and         flow it matched at each step (ofproto/trace).
        """)

    @Argument(help: "Topology file.")
    var file: String

    @Option(name: .customLong("switch"), help: "The switch to trace.")
    var switchName: String

    @Option(name: .customLong("frame"), help: ArgumentHelp("A frame entering PORT, in hex.", valueName: "PORT:HEX"))
    var frames: [String] = []

    @Flag(help: "One JSON object per frame, one per line.")
    var json = false

    @Flag(help: "Print the MAC table after the last frame.")
    var showFdb = false

    @Flag(help: "Trace through the running instance's OpenFlow tables (its control socket).")
    var live = false

    @Option(name: .customLong("control"), help: ArgumentHelp("With --live: the instance's control socket.", valueName: "path"))
    var control: String?

    func validate() throws {
        guard !frames.isEmpty else { throw ValidationError("give at least one --frame PORT:HEX") }
    }

    func run() throws {
        let topology = try loadTopology(file)
        guard let spec = topology.switchSpec(named: switchName) else {
            let names = topology.switches.map(\.name).joined(separator: ", ")
            printError("\(file): no switch named \(switchName) (switches: \(names))")
            throw ExitCode(1)
        }
        var inputs: [(port: Int, bytes: [UInt8])] = []
        for (i, text) in frames.enumerated() {
            guard let colon = text.firstIndex(of: ":") else {
                throw ValidationError("--frame \(i + 1): expected PORT:HEX, got \"\(text.escapedForTerminal)\"")
            }
            let portName = String(text[..<colon])
            guard let port = spec.ports.firstIndex(where: { $0.name == portName }) else {
                throw ValidationError("--frame \(i + 1): switch \(switchName) has no port \"\(portName.escapedForTerminal)\" (ports: \(spec.ports.map(\.name).joined(separator: ", ")))")
            }
            switch parseHex(String(text[text.index(after: colon)...])) {
            case .success(let bytes): inputs.append((port, bytes))
            case .failure(let error): throw ValidationError("--frame \(i + 1): \(error.message)")
            }
        }
        if live {
            guard spec.openflow != nil else {
                printError("\(file): switch \(switchName) has no OpenFlow controllers or listener; trace it without --live")
                throw ExitCode(1)
            }
            let socket = try ControlOptions.socketPath(control: control, topologyName: topology.name)
            for input in inputs {
                let hex = input.bytes.map { String(format: "%02x", $0) }.joined()
                let request = ControlRequest.flowTrace(switchName: switchName, port: spec.ports[input.port].name, frame: hex)
                let response: ControlResponse
                do { response = try ControlClient.send(request, to: socket) } catch {
                    printError("trace: \("\(error)".escapedForTerminal)")
                    throw ExitCode(1)
                }
                guard response.ok else {
                    printError("trace: \((response.error ?? "failed").escapedForTerminal)")
                    throw ExitCode(1)
                }
                if json {
                    print(try jsonLine(response.lines ?? []))
                } else {
                    for line in response.lines ?? [] { print(line.escapedForTerminal) }
                }
            }
            return
        }
        let configuration = TopologyInstance.switchConfiguration(spec, captures: topology.captures, sinks: [:])
        let sw = try Switch(configuration: configuration, pool: PacketPool(capacity: 1024))
        let clock = SystemClock()
        let tracer = FrameTracer(switch: sw, now: clock.now())
        for input in inputs {
            let record = tracer.trace(input.bytes, port: input.port)
            if json {
                print(try jsonLine(TraceJSON(record)))
            } else {
                print(Self.describe(record, port: spec.ports[input.port].name, bytes: input.bytes))
            }
        }
        if showFdb {
            let entries = sw.macTable.entries(now: clock.now())
            if json {
                print(try jsonLine(["fdb": entries.map { FDBJSON(port: sw.portNames[$0.port], vlan: Int($0.vlan.rawValue),
                                                                 mac: $0.mac.description, isStatic: $0.isStatic) }]))
            } else {
                print(" port  VLAN  MAC                Type")
                for e in entries {
                    let port = sw.portNames[e.port].padding(toLength: 5, withPad: " ", startingAt: 0)
                    let vlan = String(e.vlan.rawValue).padding(toLength: 5, withPad: " ", startingAt: 0)
                    print(" \(port) \(vlan) \(e.mac)  \(e.isStatic ? "static" : "learned")")
                }
            }
        }
    }

    static func describe(_ r: TraceRecord, port: String, bytes: [UInt8]) -> String {
        var summary = "\(bytes.count) bytes"
        bytes.withUnsafeBytes { raw in
            if let f = try? EthernetFrame(raw) {
                summary = "\(f.source) > \(f.destination)"
                if let tag = f.tag { summary += ", 802.1Q vlan \(tag.vid)" }
                summary += String(format: ", type 0x%04x, %d bytes", f.etherType, bytes.count)
            }
        }
        var text = "Frame \(r.frame): in_port \(port): \(summary)\n"
        text += "  VLAN: \(r.vlan.map(String.init) ?? "none (dropped before classification)")\n"
        let outs = r.out.map { "\($0.port)" + ($0.vlan.map { " (tagged \($0))" } ?? " (untagged)") }
        text += "  Action: \(r.action)" + (outs.isEmpty ? "" : " -> " + outs.joined(separator: ", ")) + "\n"
        text += "  Reason: \(r.reason)"
        return text
    }
}

/// The JSON form of a trace record; `vlan` values stay null when absent.
struct TraceJSON: Encodable {
    struct Out: Encodable {
        var port: String
        var vlan: Int?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(port, forKey: .port)
            try c.encode(vlan, forKey: .vlan)
        }
        enum CodingKeys: String, CodingKey { case port, vlan }
    }
    var record: TraceRecord
    init(_ record: TraceRecord) { self.record = record }

    enum CodingKeys: String, CodingKey { case frame, action, vlan, out, reason }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(record.frame, forKey: .frame)
        try c.encode(record.action, forKey: .action)
        try c.encode(record.vlan, forKey: .vlan)
        try c.encode(record.out.map { Out(port: $0.port, vlan: $0.vlan) }, forKey: .out)
        try c.encode(record.reason, forKey: .reason)
    }
}

struct FDBJSON: Encodable {
    var port: String
    var vlan: Int
    var mac: String
    var isStatic: Bool
    enum CodingKeys: String, CodingKey { case port, vlan, mac, isStatic = "static" }
}
