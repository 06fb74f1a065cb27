// VMRuntime: the VMs of `switchboard run`: built from the topology, their NICs serviced on
// the datapath loop (an eventfd per NIC, kicked by the guest's notifications), started,
// watched, stopped, and reported.

import CLinuxShims
import Foundation
import HostNetworking
import Switching
import Topology
import VMHost

/// The VMs of one run.
final class VMRuntime: @unchecked Sendable {
    let vms: [VirtualMachine]
    let nics: [TopologyInstance.NICAttachment]
    private var eventFDs: [Int32] = []

    /// Builds the VMs (not started) and plugs their NICs into the fabric.
    init(instance: TopologyInstance, appliance: String?) throws {
        (vms, nics) = try instance.makeVirtualMachines(appliance: appliance)
    }

    /// Services every NIC on the datapath thread whenever its guest notifies it.
    func attach(to datapath: Datapath) throws {
        for nic in nics {
            let fd = sb_eventfd()
            guard fd >= 0 else { throw HostNetworkingError.system(operation: "create", subject: "eventfd", errno: -fd) }
            eventFDs.append(fd)
            let net = nic.vm.nics[nic.nic]
            net.kick = { _ = sb_eventfd_signal(fd) }
            let vm = nic.vm, index = nic.nic, port = nic.port
            try datapath.watch(fd) { dp, _ in
                _ = sb_eventfd_drain(fd)
                let now = dp.clock.now()
                vm.serviceNetwork(nic: index, switch: dp.fabric.switches[port.switchIndex], port: port.port, now: now)
                dp.fabric.drain(now: now)
            }
        }
    }

    /// Starts every vCPU.
    func start() { vms.forEach { $0.start() } }

    /// True when the topology has VMs and none is running any more.
    var allFinished: Bool { !vms.isEmpty && vms.allSatisfy { $0.state != .running } }

    /// True when some VM has an expect script and every script has ended (passed or failed):
    /// the scripted scenario is over, so the run may stop the VMs still running.
    var scriptsFinished: Bool {
        var any = false
        for vm in vms {
            switch vm.console.expectStatus {
            case .none: continue
            case .waiting: return false
            case .passed, .failed: any = true
            }
        }
        return any
    }

    /// Stops every vCPU and closes the eventfds (after the datapath stopped polling them).
    func stop(datapath: Datapath) {
        vms.forEach { $0.stop() }
        for fd in eventFDs { datapath.unwatch(fd); _ = sb_close(fd) }
        eventFDs.removeAll()
    }

    /// Whether any expect script failed or never completed.
    var expectFailures: [String] {
        vms.compactMap { vm in
            switch vm.console.expectStatus {
            case .none, .passed: return nil
            case .waiting(let i): return "VM \(vm.name): expect step \(i + 1) never matched"
            case .failed(let i, let pattern): return "VM \(vm.name): expect step \(i + 1) timed out waiting for \"\(pattern)\""
            }
        }
    }

    /// One status line per VM.
    var statusLines: [String] {
        vms.map { vm in
            let stats = vm.board.hart.exitStatistics
            let instructions = vm.board.hart.instructionsRetired
            var line = "  vm \(vm.name): \(Self.describe(vm.state)), \(instructions) instructions, \(stats.total) exits"
            if let boot = vm.bootSeconds { line += String(format: ", ready after %.1f ms", boot * 1000) }
            for (i, net) in vm.nics.enumerated() {
                let c = net.counters
                line += "; nic\(i) \(net.mac) rx \(c.rxFrames) tx \(c.txFrames) drops \(c.rxDrops + c.txDrops)"
            }
            switch vm.console.expectStatus {
            case .none: break
            case .passed: line += "; expect passed"
            case .waiting(let i): line += "; expect stuck at step \(i + 1)"
            case .failed(let i, _): line += "; expect FAILED at step \(i + 1)"
            }
            return line
        }
    }

    /// One line per flow report.
    var flowLines: [String] {
        vms.flatMap { vm in
            vm.reports.map { r in
                "  flow \(r.id) at \(vm.name): sent \(r.sent), received \(r.received), lost \(r.lost), duplicated \(r.duplicated), reordered \(r.reordered)"
            }
        }
    }

    static func describe(_ state: VirtualMachine.State) -> String {
        switch state {
        case .created: return "created"
        case .running: return "running"
        case .poweredOff(let code): return code == 0 ? "powered off (pass)" : "powered off with code \(code)"
        case .failed(let m): return "failed: \(m)"
        case .stopped: return "stopped"
        }
    }

    /// The VMs and flows for the JSON summary.
    var summary: (vms: [RunSummary.VM], flows: [RunSummary.Flow]) {
        let vmList = vms.map { vm -> RunSummary.VM in
            var code: Int32? = nil
            if case .poweredOff(let c) = vm.state { code = c }
            let expect: String
            switch vm.console.expectStatus {
            case .none: expect = "none"
            case .passed: expect = "passed"
            case .waiting: expect = "incomplete"
            case .failed: expect = "failed"
            }
            return RunSummary.VM(
                name: vm.name, state: Self.describe(vm.state), exitCode: code,
                instructions: vm.board.hart.instructionsRetired, exits: vm.board.hart.exitStatistics.total,
                readyMs: vm.bootSeconds.map { ($0 * 1e6).rounded() / 1e3 }, expect: expect,
                nics: vm.nics.map { n in
                    let c = n.counters
                    return .init(mac: n.mac.description, rxFrames: c.rxFrames, txFrames: c.txFrames,
                                 rxDrops: c.rxDrops, txDrops: c.txDrops)
                })
        }
        let flows = vms.flatMap { vm in
            vm.reports.map { RunSummary.Flow(vm: vm.name, id: $0.id, sent: $0.sent, received: $0.received, lost: $0.lost,
                                              duplicated: $0.duplicated, reordered: $0.reordered) }
        }
        return (vmList, flows)
    }
}

/// The JSON object `run --json` ends with.
struct RunSummary: Encodable {
    struct NIC: Encodable {
        var mac: String
        var rxFrames: UInt64, txFrames: UInt64, rxDrops: UInt64, txDrops: UInt64
        enum CodingKeys: String, CodingKey { case mac, rxFrames = "rx_frames", txFrames = "tx_frames", rxDrops = "rx_drops", txDrops = "tx_drops" }
    }
    struct VM: Encodable {
        var name: String
        var state: String
        var exitCode: Int32?
        var instructions: UInt64
        var exits: UInt64
        var readyMs: Double?
        var expect: String
        var nics: [NIC]
        enum CodingKeys: String, CodingKey { case name, state, exitCode = "exit_code", instructions, exits, readyMs = "ready_ms", expect, nics }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(state, forKey: .state)
            try c.encode(exitCode, forKey: .exitCode); try c.encode(instructions, forKey: .instructions)
            try c.encode(exits, forKey: .exits); try c.encode(readyMs, forKey: .readyMs)
            try c.encode(expect, forKey: .expect); try c.encode(nics, forKey: .nics)
        }
    }
    struct Flow: Encodable {
        var vm: String
        var id: Int, sent: Int, received: Int, lost: Int, duplicated: Int, reordered: Int
    }
    struct Port: Encodable {
        var name: String
        var rxFrames: UInt64, txFrames: UInt64, drops: UInt64
        enum CodingKeys: String, CodingKey { case name, rxFrames = "rx_frames", txFrames = "tx_frames", drops }
    }
    struct SwitchSummary: Encodable {
        var name: String
        var macEntries: Int
        var ports: [Port]
        enum CodingKeys: String, CodingKey { case name, macEntries = "mac_entries", ports }
    }
    var topology: String
    var stopReason: String
    var vms: [VM]
    var flows: [Flow]
    var switches: [SwitchSummary]
    var ok: Bool
    enum CodingKeys: String, CodingKey { case topology, stopReason = "stop_reason", vms, flows, switches, ok }
}
