// VMRuntime+Migration: live migration of this host's VMs to another hypervisor of the topology
// (`migrate` on the control socket) and of VMs arriving from one (the migration listener).
//
// Switchover without loss, on the source's switch: while the VM is paused its ports hold the
// frames addressed to it (they go in the stream); once the destination has acknowledged, the
// VM's MAC entries are pointed at the tunnel towards the destination, so frames in flight
// follow the VM. On the destination's switch the VM's entries are installed at commit and its
// ports hold what arrives until the source confirms; then the frames go to the VM and each
// NIC announces its MAC (RARP, QEMU's schedule) so every other switch re-learns the path.

import Foundation
import Frames
import HostNetworking
import Migration
import Switching
import Topology
import Virtio
import VMHost

extension VMRuntime {
    /// How many frames a NIC can take without dropping (its queue of frames waiting for
    /// receive buffers): a port never pushes more, the rest waits at the port.
    static func capacity(of nic: VirtioNet) -> () -> Int {
        { [unowned nic] in nic.pendingLimit - nic.pendingFrames }
    }

    /// Options of an outgoing migration.
    struct MigrationRequest {
        var vm: String
        var to: String
        var downtimeMs: Double?
        var maxRounds: Int?
    }

    /// Why a migration cannot start.
    struct MigrationRefusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Checks a request and marks the VM as migrating (datapath thread); returns the guest and
    /// the destination's address and port.
    func prepareMigration(_ request: MigrationRequest) throws(MigrationRefusal) -> (Guest, HypervisorSpec) {
        guard let here = hypervisor else {
            throw MigrationRefusal("this topology has no hypervisors: add \"hypervisors\" to migrate VMs between them")
        }
        guard let guest = guest(named: request.vm) else {
            let names = snapshot().map(\.vm.name)
            throw MigrationRefusal("no VM named \(request.vm) runs on \(here)" + (names.isEmpty ? "" : " (VMs here: \(names.joined(separator: ", ")))"))
        }
        guard let destination = topology.hypervisor(named: request.to) else {
            throw MigrationRefusal("no hypervisor named \(request.to) (hypervisors: \(topology.hypervisorNames.joined(separator: ", ")))")
        }
        guard request.to != here else { throw MigrationRefusal("VM \(request.vm) already runs on \(here)") }
        guard !guest.migrating else { throw MigrationRefusal("VM \(request.vm) is already being migrated") }
        guard guest.vm.state == .running else {
            throw MigrationRefusal("VM \(request.vm) is not running (\(Self.describe(guest.vm.state)))")
        }
        for p in guest.ports {
            let sw = instance.fabric.switches[p.ref.switchIndex]
            guard sw.portIndex(named: TunnelSpec.portName(towards: request.to)) != nil else {
                throw MigrationRefusal("switch \(p.switchName) does not run on \(request.to): VM \(request.vm)'s NIC could not follow it")
            }
        }
        guest.migrating = true
        return (guest, destination)
    }

    /// Migrates `guest` to `destination` (on the calling thread, not the datapath's); reports
    /// progress through `progress`. The VM keeps running here when it fails.
    func migrate(_ guest: Guest, to destination: HypervisorSpec, request: MigrationRequest,
                 progress: @escaping (MigrationProgress) -> Void) -> ControlMigrationReport {
        let datapath = self.datapath!
        let fabric = instance.fabric
        let vm = guest.vm
        let from = hypervisor ?? "?"
        let droppedBefore = guest.ports.map { $0.port.dropped }
        let switchState = {
            let now = datapath.clock.now()
            var names: [Int: Set<String>] = [:]
            for p in guest.ports { names[p.ref.switchIndex, default: []].insert(p.portName) }
            return names.keys.sorted().map { fabric.switches[$0].saveState(now: now).restricted(to: names[$0]!) }
        }
        // Holding, handing over and giving back the frames as the library's port hooks do;
        // the handover itself and the drop count are this host's own.
        var hooks = MigrationSourceHooks.ports(
            guest.ports.map(\.port), vm: vm, onDatapath: { datapath.sync($0) },
            stopServicing: { [self] in
                guest.servicing = false
                rebuildServiced()
            },
            startServicing: { [self] in
                guest.servicing = true
                rebuildServiced()
                guest.kickAll()
            },
            switchState: switchState)
        hooks.handedOver = { [self] sent in
            let now = datapath.clock.now()
            for (i, p) in guest.ports.enumerated() {
                p.port.release(to: nil, droppingFirst: i < sent.count ? sent[i] : 0)
                let sw = fabric.switches[p.ref.switchIndex]
                let learned = sw.macTable.entries(now: now).filter { $0.port == p.ref.port && !$0.isStatic }
                sw.setPortUp(p.ref.port, false)
                if let tunnel = sw.portIndex(named: TunnelSpec.portName(towards: destination.name)) {
                    for var e in learned {
                        e.port = tunnel
                        e.lastSeen = now
                        sw.macTable.install(e)
                    }
                }
            }
            unwatch(guest, on: datapath)
            remove(guest, departedTo: destination.name)
        }
        hooks.droppedFrames = {
            zip(guest.ports, droppedBefore).reduce(0) { $0 + $1.0.port.dropped - $1.1 }
        }
        hooks.progress = progress
        var options = MigrationOptions()
        if let ms = request.downtimeMs { options.downtimeBudget = ms / 1000 }
        if let rounds = request.maxRounds { options.maxRounds = rounds }
        if let here = hypervisor.flatMap({ topology.hypervisor(named: $0) }) {
            options.resolveAddress = "\(here.address):\(here.migrationPort)"
        }
        do {
            let stream: any ByteStream
            do {
                stream = try MigrationTCP.connect(host: "\(destination.address)", port: destination.migrationPort,
                                                  timeout: min(options.timeout, 5))
            } catch { throw MigrationError(.connect, "\(error)") }
            let connection = MigrationConnection(MigrationFaults.shared.wrap(stream), timeout: options.timeout)
            let r = try MigrationSource(vm: vm, connection: connection, options: options, hooks: hooks).run()
            return ControlMigrationReport(vm: vm.name, from: from, to: destination.name, totalMs: r.totalMs,
                                          downtimeMs: r.downtimeMs, rounds: r.rounds, pages: r.pages,
                                          zeroPages: r.zeroPages, bytes: r.bytes, queued: r.queued, lost: r.lost)
        } catch {
            datapath.sync { guest.migrating = false }
            return ControlMigrationReport(vm: vm.name, from: from, to: destination.name, totalMs: 0, downtimeMs: 0,
                                          rounds: 0, pages: 0, zeroPages: 0, bytes: 0, queued: 0, lost: 0,
                                          error: "\(error)")
        }
    }

    // MARK: Arrivals

    /// The destination side's hooks for a VM arriving on this host.
    func destinationHooks(datapath: Datapath, log: @escaping @Sendable (String) -> Void) -> MigrationDestinationHooks {
        let fabric = instance.fabric
        let arrival = ArrivalState()
        var hooks = MigrationDestinationHooks(pool: fabric.pool) { [self] description throws -> VMConfiguration in
            guard let spec = topology.vms.first(where: { $0.name == description.name }) else {
                throw MigrationRefusal("no VM named \(description.name) in this topology")
            }
            guard guest(named: spec.name) == nil else { throw MigrationRefusal("VM \(spec.name) already runs here") }
            do { _ = try ports(of: spec) } catch { throw MigrationRefusal("\(error)") }
            var c = try TopologyInstance.vmConfiguration(spec, appliance: appliance, directory: nil)
            c.consoleAppend = true
            arrival.origin = topology.hypervisors.first { "\($0.address):\($0.migrationPort)" == description.resolveAddress }?.name
            return c
        }
        hooks.onDatapath = { datapath.sync($0) }
        hooks.installSwitchState = { states in
            let now = datapath.clock.now()
            for var state in states {
                guard let index = fabric.switches.firstIndex(where: { $0.name == state.name }) else {
                    throw MigrationRefusal("switch \(state.name) does not run here")
                }
                let sw = fabric.switches[index]
                // Remember what the VM's entries replace, for `deactivate`; stamp them now (the
                // source's clock is not ours).
                let keys = Set(state.entries.map { "\($0.vlan.rawValue)/\($0.mac)" })
                arrival.previous += sw.macTable.entries(now: now)
                    .filter { keys.contains("\($0.vlan.rawValue)/\($0.mac)") }.map { (index, $0) }
                for i in state.entries.indices { state.entries[i].lastSeen = now }
                try sw.restore(state)
            }
        }
        hooks.handIn = { _, frames in
            // Before the commit the frames wait with the arrival; after it, at the VM's ports.
            guard let guest = arrival.guest else {
                arrival.pending += frames
                return 0
            }
            var lost = 0
            for f in frames {
                guard f.nic < guest.ports.count, guest.ports[f.nic].port.handIn(f.bytes) else { lost += 1; continue }
            }
            return lost
        }
        hooks.activate = { [self] vm, _ in
            guard let spec = topology.vms.first(where: { $0.name == vm.name }), let ports = try? ports(of: spec) else { return }
            let guest = Guest(vm: vm, ports: ports, origin: arrival.origin)
            for (i, p) in ports.enumerated() {
                p.port.hold()
                p.port.capacity = Self.capacity(of: vm.nics[i])
                fabric.switches[p.ref.switchIndex].setPortUp(p.ref.port, true)
            }
            // The frames of the stream go first.
            for f in arrival.pending where f.nic < ports.count {
                if !ports[f.nic].port.handIn(f.bytes) { arrival.lostAtActivation += 1 }
            }
            arrival.pending = []
            arrival.guest = guest
            add(guest)
        }
        hooks.confirmed = { [self] vm in
            guard let guest = arrival.guest else { return }
            if arrival.lostAtActivation > 0 {
                log("VM \(vm.name): \(arrival.lostAtActivation) handed-over frames found no room at its ports")
            }
            do { try watch(guest, on: datapath) } catch { log("VM \(vm.name): \(error)") }
            for (i, p) in guest.ports.enumerated() { p.port.release(to: vm.nics[i]) }
            guest.servicing = true
            rebuildServiced()
            // The guest notified the source's device for what is in its rings now; service
            // them here at once, and again once the vCPU runs, or a full ring would wait.
            service(fabric, now: datapath.clock.now())
            guest.kickAll()
            announce(guest, datapath: datapath)
        }
        hooks.deactivate = { [self] _ in
            guard let guest = arrival.guest else { return }
            sendBack(guest, previous: arrival.previous, datapath: datapath)
            remove(guest, departedTo: nil)
            arrival.guest = nil
        }
        hooks.built = { _ in }
        return hooks
    }

    /// Gives frames held at an arriving VM's ports back to the network (the source kept the
    /// VM): its entries here are put back as they were (towards the source), and each held
    /// frame is switched again from its port with learning off, so it follows them.
    func sendBack(_ guest: Guest, previous: [(Int, MACTable.Entry)], datapath: Datapath) {
        let fabric = instance.fabric
        let now = datapath.clock.now()
        for p in guest.ports {
            let sw = fabric.switches[p.ref.switchIndex]
            // The stream's frames are the source's own copies: it gives them to its VM.
            p.port.discardHandedIn()
            let held = p.port.heldFrames(from: 0)
            p.port.release(to: nil, droppingFirst: held.count)
            let learning = sw.isLearning(port: p.ref.port)
            sw.setLearning(port: p.ref.port, false)
            sw.macTable.flush(port: p.ref.port)
            for (index, var e) in previous where index == p.ref.switchIndex {
                e.lastSeen = now
                sw.macTable.install(e)
            }
            for frame in held { frame.withUnsafeBytes { _ = fabric.inject($0, at: p.ref, now: now) } }
            sw.setPortUp(p.ref.port, false)
            sw.setLearning(port: p.ref.port, learning)
        }
    }

    /// Sends each NIC's RARP self-announcement on QEMU's schedule, from its port.
    func announce(_ guest: Guest, datapath: Datapath, schedule: SelfAnnounce.Schedule = SelfAnnounce.Schedule()) {
        let frames = guest.vm.nics.map { SelfAnnounce.frame(mac: $0.mac) }
        let refs = guest.ports.map(\.ref)
        let vm = guest.vm
        for offset in schedule.offsets {
            let send: @Sendable (Datapath) -> Void = { dp in
                guard vm.state == .running || vm.state == .created else { return }
                let now = dp.clock.now()
                for (frame, ref) in zip(frames, refs) where dp.fabric.switches[ref.switchIndex].isPortUp(ref.port) {
                    frame.withUnsafeBytes { _ = dp.fabric.inject($0, at: ref, now: now) }
                }
            }
            if offset == 0 { send(datapath) } else {
                DispatchQueue.global().asyncAfter(deadline: .now() + offset) { datapath.perform(send) }
            }
        }
    }
}

/// What one arrival has done so far (shared by its destination hooks, datapath thread).
private final class ArrivalState: @unchecked Sendable {
    var guest: VMRuntime.Guest?
    var origin: String?
    var previous: [(Int, MACTable.Entry)] = []
    /// Frames of the stream received before the commit.
    var pending: [QueuedFrame] = []
    var lostAtActivation = 0
}
