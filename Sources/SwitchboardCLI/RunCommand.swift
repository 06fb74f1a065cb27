// `switchboard run FILE`: runs a topology until Ctrl-C, SIGTERM or the duration.

import ArgumentParser
import Foundation
import Switching
import Topology

/// Runs what a topology file describes, then flushes and closes every capture.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a topology until Ctrl-C, SIGTERM or --duration.")

    @Argument(help: "Topology file.")
    var file: String

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: .customLong("control"), help: ArgumentHelp(
        "Control socket path (default: $XDG_RUNTIME_DIR/switchboard/NAME.sock or /run/switchboard/NAME.sock).",
        valueName: "path"))
    var control: String?

    func validate() throws {
        if let duration, !(duration > 0 && duration < 1e9) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() throws {
        let topology = try loadTopology(file)
        let instance: TopologyInstance
        do { instance = try TopologyInstance(topology) } catch {
            printError("run: \(error)")
            throw ExitCode(1)
        }
        // Host attachments and namespace hosts run on HostedRun's datapath loop; VMs not yet.
        let unsupported = instance.unsupportedParts.filter { $0.hasPrefix("VM ") }
        if !unsupported.isEmpty {
            for part in unsupported { printError("run: \(file): \(part) cannot run in this build yet") }
            _ = instance.closeCaptures()
            throw ExitCode(1)
        }
        try HostedRun(instance: instance, topology: topology, file: file, duration: duration, controlPath: control).run()
    }
}
