// `switchboard run FILE`: runs a topology until Ctrl-C, SIGTERM or the duration.

import ArgumentParser
import RISCVTranslator
import Foundation
import Hypervisor
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

    @Flag(help: "End with one JSON object: each VM's state, each flow's counters, each port's counters.")
    var json = false

    @Option(help: ArgumentHelp("The guest appliance ELF (default: built from Tools/appliance in the source checkout).",
                               valueName: "path"))
    var appliance: String?

    @Option(help: ArgumentHelp(
        "Run only this hypervisor's part of the topology (its switches, VMs and Linux hosts), joined to the other hypervisors' over VXLAN. Without it, a topology with hypervisors runs each as its own process on this machine.",
        valueName: "name"))
    var host: String?

    @Option(help: ArgumentHelp(
        "Run every VM's harts on this engine: interpret, or translate (binary translation to x86-64; x86-64 hosts), overriding the file's \"cpu\": {\"engine\"}.",
        valueName: "engine"))
    var engine: String?

    func validate() throws {
        if let engine {
            do { _ = try CPUEngine.named(engine) } catch { throw ValidationError("--engine: \(error)") }
        }
        if let duration, !(duration > 0 && duration < 1e9) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() throws {
        keepLargeAllocationsInTheHeap()
        var full = try loadTopology(file)
        if let engine = engine.flatMap(CPUEngine.init(rawValue:)) {
            for i in full.vms.indices { full.vms[i].engine = engine }
        }
        var applianceELF: String? = nil
        if full.vms.contains(where: { $0.kernel == .appliance }) {
            switch ApplianceLocator.locate(explicit: appliance) {
            case .success(let path): applianceELF = path
            case .failure(let error):
                printError("run: \(error)")
                throw ExitCode(1)
            }
        }
        if host == nil && !full.hypervisors.isEmpty {
            do {
                try ClusterRun(topology: full, file: file, duration: duration, controlPath: control, appliance: applianceELF,
                               json: json, engine: engine).run()
            } catch is RunFailed { throw ExitCode(1) }
            return
        }
        var topology = full
        if let host {
            guard full.hypervisor(named: host) != nil else {
                let names = full.hypervisorNames
                printError("run: --host \(host): " + (names.isEmpty ? "the topology has no hypervisors"
                                                       : "no hypervisor named \(host) (hypervisors: \(names.joined(separator: ", ")))"))
                throw ExitCode(1)
            }
            do { topology = try full.part(for: host) } catch {
                printError("run: \(error)")
                throw ExitCode(1)
            }
            if !full.migrations.isEmpty {
                printError("run: note: the file's migration schedule is run by `switchboard run \(file)` without --host")
            }
        }
        let instance: TopologyInstance
        do { instance = try TopologyInstance(topology) } catch {
            printError("run: \(error)")
            throw ExitCode(1)
        }
        do {
            try HostedRun(instance: instance, topology: topology, fullTopology: full, hypervisor: host, file: file, duration: duration,
                          controlPath: control, appliance: applianceELF, json: json).run()
        } catch is RunFailed { throw ExitCode(1) }
    }
}
