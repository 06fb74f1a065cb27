// DepartingVM: this host's side of a VM migrating away (`MigrationSourceHost`). While the VM is
// paused its ports hold the frames addressed to it (they go in the stream); once the
// destination has acknowledged, the ports let go of what went with it and the VM's MAC entries
// are pointed at the tunnel towards the destination, so frames in flight follow the VM.

import Foundation
import HostNetworking
import Migration
import Switching
import Topology

/// The source host of one outgoing migration.
final class DepartingVM: MigrationSourceHost {
    private let runtime: VMRuntime
    private let guest: VMRuntime.Guest
    private let destination: HypervisorSpec
    private let datapath: Datapath
    private let droppedBefore: [Int]
    private let onProgress: (MigrationProgress) -> Void

    init(_ guest: VMRuntime.Guest, of runtime: VMRuntime, to destination: HypervisorSpec, datapath: Datapath,
         progress: @escaping (MigrationProgress) -> Void) {
        self.runtime = runtime
        self.guest = guest
        self.destination = destination
        self.datapath = datapath
        droppedBefore = guest.ports.map { $0.port.dropped }
        onProgress = progress
    }

    func onDatapath(perform body: () -> Void) {
        withoutActuallyEscaping(body) { datapath.sync($0) }
    }

    func holdNetwork() {
        guest.servicing = false
        runtime.rebuildServiced()
        for p in guest.ports { p.port.hold() }
    }

    func heldFrames(skipping sent: [Int]) -> [QueuedFrame] {
        var out: [QueuedFrame] = []
        for (i, p) in guest.ports.enumerated() {
            out += p.port.heldFrames(from: i < sent.count ? sent[i] : 0).map { QueuedFrame(nic: i, bytes: $0) }
        }
        return out
    }

    func restoreNetwork() {
        for (i, p) in guest.ports.enumerated() where i < guest.vm.nics.count { p.port.release(to: guest.vm.nics[i]) }
        guest.servicing = true
        runtime.rebuildServiced()
        guest.kickAll()
    }

    func handOver(sent: [Int]) {
        let fabric = runtime.instance.fabric
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
        runtime.unwatch(guest, on: datapath)
        runtime.remove(guest, departedTo: destination.name)
    }

    func switchStates() -> [SwitchState] {
        let fabric = runtime.instance.fabric
        let now = datapath.clock.now()
        var names: [Int: Set<String>] = [:]
        for p in guest.ports { names[p.ref.switchIndex, default: []].insert(p.portName) }
        return names.keys.sorted().map { fabric.switches[$0].saveState(now: now).restricted(to: names[$0]!) }
    }

    var framesDropped: Int {
        zip(guest.ports, droppedBefore).reduce(0) { $0 + $1.0.port.dropped - $1.1 }
    }

    func progressed(_ progress: MigrationProgress) { onProgress(progress) }
}
