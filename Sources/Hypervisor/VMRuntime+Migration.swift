// VMRuntime+Migration: live migration of this host's VMs to another hypervisor of the topology
// (`migrate` on the control socket) and of VMs arriving from one (the migration listener).
//
// Switchover without loss: the source side is `DepartingVM`, the destination side `ArrivingVM`;
// here are the request checks, the outgoing migration's driver, and what both sides share
// (giving held frames back to the network, the RARP self-announcement).

import ControlProtocol
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
        var withDisks = false
        var autoConverge = false
        var postcopy = false
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
        let vm = guest.vm
        let from = hypervisor ?? "?"
        let host = DepartingVM(guest, of: self, to: destination, datapath: datapath, progress: progress)
        var options = MigrationOptions()
        if let ms = request.downtimeMs { options.downtimeBudget = ms / 1000 }
        if let rounds = request.maxRounds { options.maxRounds = rounds }
        options.copyDisks = request.withDisks
        options.autoConverge = request.autoConverge
        options.postcopy = request.postcopy
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
            let r = try MigrationSource(vm: vm, connection: connection, options: options, hooks: host).run()
            return ControlMigrationReport(vm: vm.name, from: from, to: destination.name, totalMs: r.totalMs,
                                          downtimeMs: r.downtimeMs, rounds: r.rounds, pages: r.pages,
                                          zeroPages: r.zeroPages, bytes: r.bytes, queued: r.queued, lost: r.lost,
                                          diskBytes: r.diskBytes, throttlePct: r.throttlePct, postcopyFaults: r.postcopyFaults)
        } catch {
            datapath.sync { guest.migrating = false }
            return ControlMigrationReport(vm: vm.name, from: from, to: destination.name, totalMs: 0, downtimeMs: 0,
                                          rounds: 0, pages: 0, zeroPages: 0, bytes: 0, queued: 0, lost: 0,
                                          error: "\(error)")
        }
    }

    // MARK: Arrivals (ArrivingVM.swift)

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
