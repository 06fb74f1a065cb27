// `switchboard validate FILE...`: strict checks of topology files.

import ArgumentParser
import Frames
import Topology

/// Checks topology files; exit status 0 only when all are valid.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check topology files strictly; print every error.",
        discussion: "Errors name the file, line:column, the JSON path and what is wrong, one per line.")

    @Argument(help: "Topology files (JSON).")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one topology file") }
    }

    func run() throws {
        var failed = 0
        for file in files {
            do {
                let topology = try TopologyDecoder.load(contentsOf: file)
                let ports = topology.switches.reduce(0) { $0 + $1.ports.count }
                let spread = topology.hypervisors.isEmpty ? ""
                    : ", \(topology.hypervisors.count) hypervisors, \(topology.migrations.count) migrations"
                // What running it costs, beside the limits it passed (docs/topology-format.md, Limits).
                let cost = topology.cost
                let switchMiB = (cost.switchBytes + (1 << 20) - 1) >> 20
                print("\(file.escapedForTerminal): ok (\(topology.switches.count) switches, \(ports) ports, \(topology.links.count) links, "
                      + "\(topology.captures.count) captures, \(topology.vms.count) VMs, \(topology.hosts.count) hosts\(spread)); "
                      + "needs \(cost.macTableEntries) MAC table entries, up to \(switchMiB) MiB for the switches, "
                      + "\(cost.vmMemoryMiB) MiB of guest memory")
            } catch {
                printError(error.description)
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
