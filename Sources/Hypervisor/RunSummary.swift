// RunSummary: the JSON object `switchboard run --json` ends with: each VM's state, each flow's
// counters, each port's counters, each ping job's figures and each migration's report; a
// cluster run (several hypervisors) merges its hosts' summaries into one.

import VMHost
import ControlProtocol
import HostNetworking

/// The JSON object `run --json` ends with.
struct RunSummary: Codable {
    struct NIC: Codable {
        var mac: String
        var rxFrames: UInt64, txFrames: UInt64, rxDrops: UInt64, txDrops: UInt64
        enum CodingKeys: String, CodingKey { case mac, rxFrames = "rx_frames", txFrames = "tx_frames", rxDrops = "rx_drops", txDrops = "tx_drops" }
    }
    struct VM: Codable {
        var name: String
        var state: String
        var exitCode: Int32?
        /// The hypervisor it ended on (nil in a single-process run).
        var hypervisor: String?
        var instructions: UInt64
        var exits: UInt64
        var readyMs: Double?
        var expect: String
        /// The guest kernel's panic line, if it printed one.
        var panic: String?
        /// Trap storms its vCPUs went through (the worst window of each).
        var trapStorms: [TrapStorm]? = nil
        var nics: [NIC]
        enum CodingKeys: String, CodingKey {
            case name, state, exitCode = "exit_code", hypervisor, instructions, exits, readyMs = "ready_ms", expect, panic, trapStorms = "trap_storms", nics
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(state, forKey: .state)
            try c.encode(exitCode, forKey: .exitCode)
            try c.encodeIfPresent(hypervisor, forKey: .hypervisor)
            try c.encode(instructions, forKey: .instructions)
            try c.encode(exits, forKey: .exits); try c.encode(readyMs, forKey: .readyMs)
            try c.encode(expect, forKey: .expect); try c.encodeIfPresent(panic, forKey: .panic)
            if let trapStorms, !trapStorms.isEmpty { try c.encode(trapStorms, forKey: .trapStorms) }
            try c.encode(nics, forKey: .nics)
        }
    }
    struct Flow: Codable {
        var vm: String
        var id: Int, sent: Int, received: Int, lost: Int, duplicated: Int, reordered: Int
    }
    struct Port: Codable {
        var name: String
        var rxFrames: UInt64, txFrames: UInt64, drops: UInt64
        enum CodingKeys: String, CodingKey { case name, rxFrames = "rx_frames", txFrames = "tx_frames", drops }
    }
    struct SwitchSummary: Codable {
        var name: String
        /// The hypervisor of this segment (nil in a single-process run).
        var hypervisor: String?
        var macEntries: Int
        var ports: [Port]
        enum CodingKeys: String, CodingKey { case name, hypervisor, macEntries = "mac_entries", ports }
    }
    var topology: String
    /// The hypervisor this summary is from; nil for a single-process run or a merged cluster.
    var hypervisor: String?
    var stopReason: String
    var vms: [VM]
    var flows: [Flow]
    var pings: [PingReport]
    var migrations: [ControlMigrationReport]
    var switches: [SwitchSummary]
    var ok: Bool
    enum CodingKeys: String, CodingKey {
        case topology, hypervisor, stopReason = "stop_reason", vms, flows, pings, migrations, switches, ok
    }
}
