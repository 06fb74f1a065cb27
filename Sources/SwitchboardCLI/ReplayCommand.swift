// `switchboard replay`: recorded traffic through a topology, offline, into pcap files.

import ControlProtocol
import ArgumentParser
import Capture
import Foundation
import Switching
import Topology

/// Feeds frames from pcap files into ports in timestamp order and records every port's output.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay pcap files through a topology, offline.",
        discussion: """
        Frames from all --inject files are merged in timestamp order; each enters its port at \
        its recorded time (learning and aging use recorded time). What leaves port P of switch \
        S is written to DIR/S-P.pcap; the topology's own captures are written too, relative \
        paths resolved against DIR.
        """)

    @Argument(help: "Topology file.")
    var file: String

    @Option(name: .customLong("inject"), help: ArgumentHelp("Frames to feed into a port.", valueName: "SWITCH:PORT=IN.pcap"))
    var injections: [String] = []

    @Option(name: .customLong("out"), help: ArgumentHelp("Directory for the output pcap files.", valueName: "DIR"))
    var outDirectory: String

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    func validate() throws {
        guard !injections.isEmpty else { throw ValidationError("give at least one --inject SWITCH:PORT=IN.pcap") }
    }

    func run() throws {
        let topology = try loadTopology(file)
        var options = TopologyInstance.Options()
        options.captureDirectory = outDirectory
        let instance: TopologyInstance
        do { instance = try TopologyInstance(topology, options: options) } catch {
            printError("replay: \(error)")
            throw ExitCode(1)
        }
        let fabric = instance.fabric

        // Read every input; merge by timestamp (stable for equal times: file order, then packet order).
        struct Input { var time: UInt64; var file: Int; var index: Int; var port: Fabric.PortRef; var bytes: [UInt8] }
        var inputs: [Input] = []
        for (f, spec) in injections.enumerated() {
            guard let eq = spec.firstIndex(of: "="), let colon = spec[..<eq].firstIndex(of: ":") else {
                throw ValidationError("--inject \(spec): expected SWITCH:PORT=IN.pcap")
            }
            let switchName = String(spec[..<colon]), portName = String(spec[spec.index(after: colon)..<eq])
            let path = String(spec[spec.index(after: eq)...])
            let port: Fabric.PortRef
            do { port = try fabric.port(switchName, portName) } catch {
                throw ValidationError("--inject \(spec): \(error)")
            }
            do {
                let reader = try PcapReader(path: path)
                var index = 0
                while let packet = try reader.next() {
                    inputs.append(Input(time: packet.timestampNanoseconds, file: f, index: index, port: port, bytes: packet.bytes))
                    index += 1
                }
            } catch {
                printError("replay: \(error)")
                throw ExitCode(1)
            }
        }
        inputs.sort { ($0.time, $0.file, $0.index) < ($1.time, $1.file, $1.index) }

        let recorder: PortRecorder
        do { recorder = try PortRecorder(fabric: fabric, directory: outDirectory) } catch {
            printError("replay: \(error)")
            throw ExitCode(1)
        }
        fabric.recorder = recorder
        var injected = 0, skipped = 0
        var lastAging: Int64 = 0
        for input in inputs {
            let now = Int64(clamping: input.time)
            if now - lastAging >= 1_000_000_000 {
                fabric.age(now: now)
                lastAging = now
            }
            let ok = input.bytes.withUnsafeBytes { fabric.inject($0, at: input.port, now: now) }
            if ok { injected += 1 } else { skipped += 1 }
        }
        let recordError = recorder.close()
        let captureErrors = instance.closeCaptures()

        let counts = recorder.counts
        var outputs: [[String: String]] = []
        for (s, sw) in fabric.switches.enumerated() {
            for p in 0..<sw.portCount {
                outputs.append(["file": recorder.paths[s][p], "frames": String(counts[s][p])])
            }
        }
        if json {
            let summary = ReplaySummary(injected: injected, skipped: skipped,
                                        outputs: outputs.map { .init(file: $0["file"]!, frames: Int($0["frames"]!)!) },
                                        captures: instance.captures.map { .init(file: $0.writer.basePath, frames: Int($0.writer.framesWritten)) })
            print(try jsonLine(summary))
        } else {
            print("replayed \(injected) frames" + (skipped > 0 ? " (\(skipped) skipped: larger than a packet buffer)" : ""))
            for o in outputs { print("  \(o["file"]!): \(o["frames"]!) frames") }
            for c in instance.captures { print("  capture \(c.spec.name) -> \(c.writer.basePath): \(c.writer.framesWritten) frames") }
        }
        let errors = (recordError.map { [$0] } ?? []) + captureErrors
        if !errors.isEmpty {
            errors.forEach { printError("replay: \($0)") }
            throw ExitCode(1)
        }
    }
}

struct ReplaySummary: Encodable {
    struct Output: Encodable { var file: String; var frames: Int }
    var injected: Int
    var skipped: Int
    var outputs: [Output]
    var captures: [Output]
}
