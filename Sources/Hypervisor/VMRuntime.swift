// VMRuntime: the VMs of one `switchboard run` (one hypervisor's part of a topology): built from
// the topology, each NIC behind a `GuestPort` on its switch port and serviced on the
// datapath loop (an eventfd per NIC, kicked by the guest's notifications), started, watched,
// migrated away or received (VMRuntime+Migration.swift), stopped, and reported.

import ControlProtocol
import CLinuxShims
import Foundation
import Frames
import HostNetworking
import Migration
import Switching
import Topology
import VMHost

/// The VMs of one run.
///
/// Flow control: a guest's transmit ring is emptied only while no VM NIC on the fabric has
/// more than `congestion` frames waiting for receive buffers. A sender faster than its
/// receiver then finds its own ring full and waits, as QEMU's net queues make it wait,
/// instead of the switch dropping what the receiver cannot take yet.
///
/// Threads: `guests` changes only on the datapath thread and is read elsewhere under `lock`;
/// `serviced` belongs to the datapath thread alone.
public final class VMRuntime: @unchecked Sendable {
    /// A switch port where a VM NIC plugs in: every NIC port of the topology on this part has
    /// one, whether its VM is here or not (a VM may arrive by migration).
    final class NICPort {
        let ref: Fabric.PortRef
        let switchName: String
        let portName: String
        let port: GuestPort
        init(ref: Fabric.PortRef, switchName: String, portName: String, port: GuestPort) {
            self.ref = ref
            self.switchName = switchName
            self.portName = portName
            self.port = port
        }
    }

    /// A VM on this host.
    public final class Guest {
        /// The machine.
        public let vm: VirtualMachine
        /// Its NICs' ports, in NIC order.
        let ports: [NICPort]
        /// The hypervisor it came from, when it arrived by migration.
        let origin: String?
        var eventFDs: [Int32] = []
        /// Whether the datapath moves its frames (not during a migration's pause).
        var servicing = false
        /// Whether a migration of it is under way.
        var migrating = false
        init(vm: VirtualMachine, ports: [NICPort], origin: String?) {
            self.vm = vm
            self.ports = ports
            self.origin = origin
        }

        /// Signals every NIC's eventfd, so the loop services them at its next turn.
        func kickAll() {
            for fd in eventFDs { _ = sb_eventfd_signal(fd) }
        }
    }

    /// A VM that left this host.
    struct Departure {
        let name: String
        let to: String
        let at: Date
    }

    let instance: TopologyInstance
    /// The whole topology (with every hypervisor); the part's when it has none.
    let topology: Topology
    /// The hypervisor this process runs (nil: a single-process run).
    let hypervisor: String?
    let appliance: String?
    /// NIC ports by "switch:port".
    let nicPorts: [String: NICPort]
    private let lock = NSLock()
    private var guests: [Guest] = []
    private(set) var departures: [Departure] = []
    /// The NICs the datapath services: (guest, NIC index). Datapath thread only.
    private var serviced: [(vm: VirtualMachine, nic: Int, ref: Fabric.PortRef, port: GuestPort)] = []
    private let batch = UnsafeMutableBufferPointer<PacketHandle>.allocate(capacity: 32)
    /// Waiting frames at a receiver beyond which senders are held back.
    var congestion = 128
    /// Set once attached: the loop the NICs are serviced on.
    private(set) weak var datapath: Datapath?

    deinit { batch.deallocate() }

    /// Builds the VMs of the part (not started) and a `GuestPort` on every NIC port of the
    /// topology that this part's switches have.
    public init(instance: TopologyInstance, topology: Topology, hypervisor: String?, appliance: String?) throws {
        self.instance = instance
        self.topology = topology
        self.hypervisor = hypervisor
        self.appliance = appliance
        let fabric = instance.fabric
        var ports: [String: NICPort] = [:]
        for spec in topology.vms {
            for nic in spec.nics {
                let key = "\(nic.switchName):\(nic.port)"
                guard ports[key] == nil, let ref = try? fabric.port(nic.switchName, nic.port) else { continue }
                let port = GuestPort(target: nil, pool: fabric.pool)
                try fabric.attach(ref, sink: port)
                // Down until a VM is there: no flooding into an empty port.
                fabric.switches[ref.switchIndex].setPortUp(ref.port, false)
                ports[key] = NICPort(ref: ref, switchName: nic.switchName, portName: nic.port, port: port)
            }
        }
        nicPorts = ports
        for spec in instance.topology.vms {
            let configuration = try TopologyInstance.vmConfiguration(spec, appliance: appliance, directory: nil)
            let vm: VirtualMachine
            do { vm = try VirtualMachine(configuration, pool: fabric.pool) } catch { throw TopologyInstanceError("\(error)") }
            let guest = Guest(vm: vm, ports: try self.ports(of: spec), origin: nil)
            for (i, p) in guest.ports.enumerated() {
                p.port.capacity = Self.capacity(of: vm.nics[i])
                p.port.release(to: vm.nics[i])
                fabric.switches[p.ref.switchIndex].setPortUp(p.ref.port, true)
            }
            guest.servicing = true
            guests.append(guest)
        }
    }

    /// The NIC ports of `spec`, in NIC order; throws when one is not on this part.
    func ports(of spec: VMSpec) throws(TopologyInstanceError) -> [NICPort] {
        try spec.nics.enumerated().map { (i, nic) throws(TopologyInstanceError) -> NICPort in
            guard let p = nicPorts["\(nic.switchName):\(nic.port)"] else {
                throw TopologyInstanceError("VM \(spec.name) NIC \(i): switch \(nic.switchName) port \(nic.port) is not on this hypervisor")
            }
            return p
        }
    }

    /// Services every NIC on the datapath thread whenever its guest notifies it.
    public func attach(to datapath: Datapath) throws {
        self.datapath = datapath
        for guest in snapshot() { try watch(guest, on: datapath) }
        rebuildServiced()
    }

    /// Gives `guest`'s NICs an eventfd each on the loop (datapath thread, or before it runs).
    func watch(_ guest: Guest, on datapath: Datapath) throws {
        for net in guest.vm.nics {
            let fd = sb_eventfd()
            guard fd >= 0 else { throw HostNetworkingError.system(operation: "create", subject: "eventfd", errno: -fd) }
            guest.eventFDs.append(fd)
            net.kick = { _ = sb_eventfd_signal(fd) }
            try datapath.watch(fd) { [unowned self] dp, _ in
                _ = sb_eventfd_drain(fd)
                self.service(dp.fabric, now: dp.clock.now())
            }
        }
    }

    /// Closes `guest`'s eventfds (datapath thread).
    func unwatch(_ guest: Guest, on datapath: Datapath) {
        for net in guest.vm.nics { net.kick = nil }
        for fd in guest.eventFDs { datapath.unwatch(fd); _ = sb_close(fd) }
        guest.eventFDs.removeAll()
    }

    /// The guests present, under the lock.
    public func snapshot() -> [Guest] { lock.withLock { guests } }

    /// The guest running VM `name`.
    func guest(named name: String) -> Guest? { lock.withLock { guests.first { $0.vm.name == name } } }

    /// Adds a guest (datapath thread).
    func add(_ guest: Guest) {
        lock.withLock { guests.append(guest) }
        rebuildServiced()
    }

    /// Removes a guest that left for `to` (datapath thread).
    func remove(_ guest: Guest, departedTo to: String?) {
        lock.withLock {
            guests.removeAll { $0 === guest }
            if let to { departures.append(Departure(name: guest.vm.name, to: to, at: Date())) }
        }
        rebuildServiced()
    }

    /// Recomputes the serviced NICs (datapath thread, after a guest changed).
    func rebuildServiced() {
        serviced = snapshot().filter(\.servicing).flatMap { g in
            g.ports.enumerated().map { (vm: g.vm, nic: $0.offset, ref: $0.element.ref, port: $0.element.port) }
        }
    }

    /// Delivers waiting frames into posted receive buffers, then takes transmitted frames from
    /// every guest in batches, round robin, while no receiver is congested.
    func service(_ fabric: Fabric, now: Int64) {
        // Waiting frames into posted buffers; then what waits at the ports into the room made.
        for s in serviced {
            let net = s.vm.nics[s.nic]
            _ = net.deliverPending()
            if s.port.waitingCount > 0 && s.port.feed(now: now) > 0 { _ = net.deliverPending() }
        }
        var progress = true
        while progress {
            progress = false
            for s in serviced {
                if congested { return }
                let n = s.vm.nics[s.nic].collectTransmitted(into: batch)
                guard n > 0 else { continue }
                fabric.switches[s.ref.switchIndex].receive(port: s.ref.port, batch: UnsafeBufferPointer(rebasing: batch[0..<n]), now: now)
                fabric.drain(now: now)
                progress = true
            }
        }
    }

    /// Some running receiver has frames waiting beyond the threshold (a VM that stopped
    /// never drains its queue, so it holds nobody back).
    private var congested: Bool {
        serviced.contains {
            ($0.port.waitingCount > 0 || $0.vm.nics[$0.nic].pendingFrames >= congestion) && $0.vm.state == .running
        }
    }

    /// Starts every vCPU.
    public func start() { snapshot().forEach { $0.vm.start() } }

    /// True when the run has VMs and none is running any more.
    public var allFinished: Bool {
        let vms = snapshot().map(\.vm)
        return !vms.isEmpty && vms.allSatisfy { $0.state != .running }
    }

    /// True when some VM has an expect script and every script has ended (passed or failed):
    /// the scripted scenario is over, so the run may stop the VMs still running.
    var scriptsFinished: Bool {
        var any = false
        for vm in snapshot().map(\.vm) {
            switch vm.console.expectStatus {
            case .none: continue
            case .waiting: return false
            case .passed, .failed: any = true
            }
        }
        return any
    }

    /// Stops every vCPU and closes the eventfds (after the datapath stopped polling them).
    public func stop(datapath: Datapath) {
        for guest in snapshot() {
            guest.vm.stop()
            unwatch(guest, on: datapath)
        }
    }

    /// Whether any expect script failed or never completed, or a guest kernel panicked.
    var expectFailures: [String] {
        snapshot().map(\.vm).compactMap { vm in
            if let panic = vm.guestPanic { return "VM \(vm.name): guest kernel panic: \(panic)" }
            switch vm.console.expectStatus {
            case .none, .passed: return nil
            case .waiting(let i): return "VM \(vm.name): expect step \(i + 1) never matched"
            case .failed(let i, let pattern): return "VM \(vm.name): expect step \(i + 1) timed out waiting for \"\(pattern)\""
            }
        }
    }

    /// Warnings for the end of a run: VMs whose vCPUs were flooded with traps (reported, not
    /// failed: the storm harmed only that VM).
    var trapStormWarnings: [String] {
        snapshot().map(\.vm).flatMap { vm in vm.trapStorms.map { "VM \(vm.name): \($0.description)" } }
    }

    /// The VMs for `vm-list`.
    var statuses: [ControlVMStatus] {
        snapshot().map { g in
            ControlVMStatus(name: g.vm.name, state: g.migrating ? "migrating" : Self.describe(g.vm.state),
                            running: g.vm.state == .running, migrating: g.migrating,
                            expect: Self.expectWord(g.vm.console.expectStatus))
        }
    }

    /// One status line per VM here, and one per VM that left.
    var statusLines: [String] {
        var lines = snapshot().map { g -> String in
            let vm = g.vm
            let stats = vm.board.exitStatistics
            let instructions = vm.board.instructionsRetired
            var line = "  vm \(vm.name): \(Self.describe(vm.state)), \(instructions) instructions, \(stats.total) exits"
            if let origin = g.origin { line += ", arrived from \(origin)" }
            if let boot = vm.bootSeconds { line += String(format: ", ready after %.1f ms", boot * 1000) }
            for (i, net) in vm.nics.enumerated() {
                let c = net.counters
                line += "; nic\(i) \(net.mac) rx \(c.rxFrames) tx \(c.txFrames) drops \(c.rxDrops + c.txDrops)"
            }
            if let panic = vm.guestPanic { line += "; guest kernel PANIC: \(panic)" }
            for storm in vm.trapStorms { line += "; \(storm.description)" }
            switch vm.console.expectStatus {
            case .none: break
            case .passed: line += "; expect passed"
            case .waiting(let i): line += "; expect stuck at step \(i + 1)"
            case .failed(let i, _): line += "; expect FAILED at step \(i + 1)"
            }
            return line
        }
        let gone = lock.withLock { departures }
        lines += gone.map { "  vm \($0.name): migrated to \($0.to)" }
        return lines
    }

    /// One line per flow report of the VMs here.
    var flowLines: [String] {
        snapshot().map(\.vm).flatMap { vm in
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

    static func expectWord(_ status: ExpectStatus) -> String {
        switch status {
        case .none: return "none"
        case .passed: return "passed"
        case .waiting: return "incomplete"
        case .failed: return "failed"
        }
    }

    /// The VMs and flows for the JSON summary (VMs here; those that left are listed apart).
    var summary: (vms: [RunSummary.VM], flows: [RunSummary.Flow]) {
        let vms = snapshot()
        let vmList = vms.map { g -> RunSummary.VM in
            let vm = g.vm
            var code: Int32? = nil
            if case .poweredOff(let c) = vm.state { code = c }
            return RunSummary.VM(
                name: vm.name, state: Self.describe(vm.state), exitCode: code, hypervisor: hypervisor,
                instructions: vm.board.instructionsRetired, exits: vm.board.exitStatistics.total,
                readyMs: vm.bootSeconds.map { ($0 * 1e6).rounded() / 1e3 }, expect: Self.expectWord(vm.console.expectStatus),
                panic: vm.guestPanic, trapStorms: vm.trapStorms,
                nics: vm.nics.map { n in
                    let c = n.counters
                    return .init(mac: n.mac.description, rxFrames: c.rxFrames, txFrames: c.txFrames,
                                 rxDrops: c.rxDrops, txDrops: c.txDrops)
                })
        }
        let flows = vms.map(\.vm).flatMap { vm in
            vm.reports.map { RunSummary.Flow(vm: vm.name, id: $0.id, sent: $0.sent, received: $0.received, lost: $0.lost,
                                              duplicated: $0.duplicated, reordered: $0.reordered) }
        }
        return (vmList, flows)
    }
}
