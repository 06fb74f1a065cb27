// ArrivingVM: this host's side of a VM arriving by migration (`MigrationDestinationHost`). The
// VM is built from this host's own copy of the topology; at commit its switch entries are
// installed and its ports hold what arrives (the stream's frames first) until the source
// confirms; then the frames go to the VM and each NIC announces its MAC (RARP, QEMU's
// schedule) so every other switch re-learns the path. Should the source keep the VM after
// all, what the ports held goes back towards it.

import Foundation
import Frames
import HostNetworking
import Migration
import Switching
import Topology
import VMHost

/// The destination host of one incoming migration (datapath-thread state, except
/// `configuration(for:)`, which runs on the migration's thread before anything else).
final class ArrivingVM: MigrationDestinationHost, @unchecked Sendable {
    private let runtime: VMRuntime
    private let datapath: Datapath
    private let log: @Sendable (String) -> Void
    private var guest: VMRuntime.Guest?
    private var origin: String?
    /// MAC entries the VM's replace, to put back in `deactivate`.
    private var previous: [(Int, MACTable.Entry)] = []
    /// Frames of the stream received before the commit.
    private var pending: [QueuedFrame] = []
    private var lostAtActivation = 0

    init(into runtime: VMRuntime, datapath: Datapath, log: @escaping @Sendable (String) -> Void) {
        self.runtime = runtime
        self.datapath = datapath
        self.log = log
    }

    var pool: PacketPool { runtime.instance.fabric.pool }
    var confirmTimeout: Double { 10 }
    var totalTimeout: Double { 600 }
    /// This hypervisor's `disk_dir` (or its default under vm-data).
    var diskDirectory: String? {
        let topology = runtime.topology
        return runtime.hypervisor.flatMap { name in
            topology.hypervisors.first { $0.name == name }?.diskDirectory(topology: topology.name)
        }
    }

    func configuration(for description: MigrationDescription) throws -> VMConfiguration {
        let topology = runtime.topology
        guard let spec = topology.vms.first(where: { $0.name == description.name }) else {
            throw VMRuntime.MigrationRefusal("no VM named \(description.name) in this topology")
        }
        guard runtime.guest(named: spec.name) == nil else { throw VMRuntime.MigrationRefusal("VM \(spec.name) already runs here") }
        do { _ = try runtime.ports(of: spec) } catch { throw VMRuntime.MigrationRefusal("\(error)") }
        var c = try TopologyInstance.vmConfiguration(spec, appliance: runtime.appliance, directory: nil)
        c.consoleAppend = true
        origin = topology.hypervisors.first { "\($0.address):\($0.migrationPort)" == description.resolveAddress }?.name
        return c
    }

    func onDatapath(perform body: () -> Void) {
        withoutActuallyEscaping(body) { datapath.sync($0) }
    }

    func built(vm: VirtualMachine) {}

    func installSwitchStates(_ states: [SwitchState]) throws {
        let fabric = runtime.instance.fabric
        let now = datapath.clock.now()
        for var state in states {
            guard let index = fabric.switches.firstIndex(where: { $0.name == state.name }) else {
                throw VMRuntime.MigrationRefusal("switch \(state.name) does not run here")
            }
            let sw = fabric.switches[index]
            // Remember what the VM's entries replace, for `deactivate`; stamp them now (the
            // source's clock is not ours).
            let keys = Set(state.entries.map { "\($0.vlan.rawValue)/\($0.mac)" })
            previous += sw.macTable.entries(now: now)
                .filter { keys.contains("\($0.vlan.rawValue)/\($0.mac)") }.map { (index, $0) }
            for i in state.entries.indices { state.entries[i].lastSeen = now }
            try sw.restore(state)
        }
    }

    func handIn(vm: VirtualMachine, frames: [QueuedFrame]) -> Int {
        // Before the commit the frames wait here; after it, at the VM's ports.
        guard let guest else {
            pending += frames
            return 0
        }
        var lost = 0
        for f in frames where !(f.nic < guest.ports.count && guest.ports[f.nic].port.handIn(f.bytes)) { lost += 1 }
        return lost
    }

    func activate(vm: VirtualMachine, received: [Int]) {
        let fabric = runtime.instance.fabric
        guard let spec = runtime.topology.vms.first(where: { $0.name == vm.name }), let ports = try? runtime.ports(of: spec) else { return }
        let guest = VMRuntime.Guest(vm: vm, ports: ports, origin: origin)
        for (i, p) in ports.enumerated() {
            p.port.hold()
            p.port.capacity = VMRuntime.capacity(of: vm.nics[i])
            fabric.switches[p.ref.switchIndex].setPortUp(p.ref.port, true)
        }
        // The frames of the stream go first.
        for f in pending where f.nic < ports.count {
            if !ports[f.nic].port.handIn(f.bytes) { lostAtActivation += 1 }
        }
        pending = []
        self.guest = guest
        runtime.add(guest)
    }

    func confirmed(vm: VirtualMachine) {
        guard let guest else { return }
        if lostAtActivation > 0 {
            log("VM \(vm.name): \(lostAtActivation) handed-over frames found no room at its ports")
        }
        do { try runtime.watch(guest, on: datapath) } catch { log("VM \(vm.name): \(error)") }
        for (i, p) in guest.ports.enumerated() { p.port.release(to: vm.nics[i]) }
        guest.servicing = true
        runtime.rebuildServiced()
        // The guest notified the source's device for what is in its rings now; service them
        // here at once, and again once the vCPU runs, or a full ring would wait.
        runtime.service(runtime.instance.fabric, now: datapath.clock.now())
        guest.kickAll()
        runtime.announce(guest, datapath: datapath)
    }

    func deactivate(vm: VirtualMachine) {
        guard let guest else { return }
        runtime.sendBack(guest, previous: previous, datapath: datapath)
        runtime.remove(guest, departedTo: nil)
        self.guest = nil
    }

    func resolve(id: String, address: String) -> MigrationOutcome {
        MigrationTCP.resolve(id: id, at: address)
    }
}
