// MigrationHooks: closure adapters to `MigrationSourceHost` and `MigrationDestinationHost` for
// tests and benchmarks, where a few closures are all a rig needs. A host process implements the
// protocols itself (Hypervisor), so nothing it must do can be left at a default here.

import Frames
import Switching
import VMHost

/// `MigrationSourceHost` from closures (tests, benchmarks). Every closure but `onDatapath` is
/// called inside `onDatapath`, i.e. on the thread that owns the pool and the switches.
public struct MigrationSourceHooks: MigrationSourceHost {
    /// Runs its argument synchronously on the datapath thread (default: right here).
    public var onDatapath: (() -> Void) -> Void = { $0() }
    /// The vCPU is paused for stop-and-copy: stop servicing the VM's NICs and hold the frames
    /// addressed to it (e.g. `GuestPort.hold()`).
    public var quiesceNetwork: () -> Void = {}
    /// Frames held so far, skipping the first `sent[nic]` of each NIC (already handed over).
    public var heldFrames: (_ sent: [Int]) -> [QueuedFrame] = { _ in [] }
    /// The migration failed after `quiesceNetwork`: give the held frames to the VM's own
    /// NICs again and service them as before.
    public var resumeNetwork: () -> Void = {}
    /// The destination runs the VM: `sent[nic]` held frames went with it; release them.
    public var handedOver: (_ sent: [Int]) -> Void = { _ in }
    /// The switch state of the VM's ports (its MAC entries, VLANs, counters) to install on
    /// the destination's switch (see `SwitchState.restricted(to:)`).
    public var switchState: () -> [SwitchState] = { [] }
    /// Frames the source side dropped while holding (counted as lost).
    public var droppedFrames: () -> Int = { 0 }
    /// Progress reports, from the migration's own thread (not the datapath): after every
    /// round and every few hundred page batches of a round.
    public var progress: (MigrationProgress) -> Void = { _ in }

    /// Hooks that do nothing (a VM with no network, or none shared).
    public init() {}

    /// Hooks over one `GuestPort` per NIC. `stopServicing` and `startServicing` are
    /// called on the datapath thread to take the VM's NICs out of (and back into) the
    /// datapath's service loop. On success each port drops the frames that went with the VM
    /// and goes on holding what came since: a destination on the same fabric takes the port
    /// over in its `confirmed` hook (`release(to:)` its new NIC); for a VM that went to another
    /// host, the caller releases the ports (to nil, or towards a tunnel).
    public static func ports(_ ports: [GuestPort], vm: VirtualMachine,
                             onDatapath: @escaping (() -> Void) -> Void,
                             stopServicing: @escaping () -> Void, startServicing: @escaping () -> Void,
                             switchState: @escaping () -> [SwitchState] = { [] }) -> MigrationSourceHooks {
        var h = MigrationSourceHooks()
        h.onDatapath = onDatapath
        h.quiesceNetwork = {
            stopServicing()
            for p in ports { p.hold() }
        }
        h.heldFrames = { sent in
            var out: [QueuedFrame] = []
            for (i, p) in ports.enumerated() {
                let skip = i < sent.count ? sent[i] : 0
                out += p.heldFrames(from: skip).map { QueuedFrame(nic: i, bytes: $0) }
            }
            return out
        }
        h.resumeNetwork = {
            for (i, p) in ports.enumerated() where i < vm.nics.count { p.release(to: vm.nics[i]) }
            startServicing()
        }
        h.handedOver = { sent in
            for (i, p) in ports.enumerated() where p.holding { p.dropHeld(first: i < sent.count ? sent[i] : 0) }
        }
        h.switchState = switchState
        h.droppedFrames = { ports.reduce(0) { $0 + $1.dropped } }
        return h
    }
}

/// `MigrationDestinationHost` from closures (tests, benchmarks).
public struct MigrationDestinationHooks: MigrationDestinationHost {
    /// The packet pool the new VM's NICs use (the destination fabric's pool).
    public var pool: PacketPool
    /// The configuration to build the machine from for this description; throw (with a
    /// reason) to refuse. The result must describe the same machine (checked).
    public var configure: (MigrationDescription) throws -> VMConfiguration
    /// Runs its argument synchronously on the datapath thread (default: right here).
    public var onDatapath: (() -> Void) -> Void = { $0() }
    /// Called with the machine once built (paused, not started).
    public var built: (VirtualMachine) -> Void = { _ in }
    /// Installs the VM's switch state (on the datapath thread), at commit.
    public var installSwitchState: ([SwitchState]) throws -> Void = { _ in }
    /// At commit, on the datapath thread, before the vCPU starts: attach the VM's NICs to
    /// their ports and service them. `received[nic]` frames held by the source were
    /// handed over in the stream (a shared-fabric test drops as many from its port). Should
    /// the `ack` then fail to go out, the VM is discarded unstarted and the source takes its
    /// ports back (`MigrationSourceHooks.resumeNetwork`).
    public var activate: (_ vm: VirtualMachine, _ received: [Int]) -> Void = { _, _ in }
    /// On the datapath thread, after the source confirmed (or answered `resolve` with a
    /// commit), just before the vCPU starts: release frames held at the VM's ports, service
    /// its NICs, announce its MACs.
    public var confirmed: (VirtualMachine) -> Void = { _ in }
    /// On the datapath thread, when the source kept the VM after all (after `activate`):
    /// undo `activate`, sending frames held at the VM's ports back towards the source.
    public var deactivate: (VirtualMachine) -> Void = { _ in }
    /// Asks the source what became of migration `id` at `address` ("host:port") when the
    /// connection broke after the `ack`. Default: a `resolve` over TCP.
    public var resolve: (_ id: String, _ address: String) -> MigrationOutcome = { id, address in
        MigrationTCP.resolve(id: id, at: address)
    }
    /// On the datapath thread: takes frames the source held for the VM (from the stream, in
    /// order), to give to its NICs before anything that arrives later; returns how many it
    /// could not keep. Default (nil): straight into the NICs, which drop what exceeds their
    /// queues.
    public var handIn: ((_ vm: VirtualMachine, _ frames: [QueuedFrame]) -> Int)?
    /// Seconds to wait for the `confirm`, and then to keep asking the source for the outcome.
    public var confirmTimeout: Double = 10
    /// Seconds the migration may take in total from its hello to the `commit` (default 600),
    /// however the source paces its messages; each message must also arrive whole within
    /// the connection's timeout.
    public var totalTimeout: Double = 600
    /// Where the images of a VM arriving with its disks are created (nil: such migrations are
    /// refused).
    public var diskDirectory: String?

    /// Hooks building machines with `configure` on `pool`.
    public init(pool: PacketPool, configure: @escaping (MigrationDescription) throws -> VMConfiguration) {
        self.pool = pool
        self.configure = configure
    }
}

extension MigrationSourceHooks {
    public func onDatapath(perform body: () -> Void) { withoutActuallyEscaping(body) { onDatapath($0) } }
    public func holdNetwork() { quiesceNetwork() }
    public func heldFrames(skipping sent: [Int]) -> [QueuedFrame] { heldFrames(sent) }
    public func restoreNetwork() { resumeNetwork() }
    public func handOver(sent: [Int]) { handedOver(sent) }
    public func switchStates() -> [SwitchState] { switchState() }
    public var framesDropped: Int { droppedFrames() }
    public func progressed(_ progress: MigrationProgress) { self.progress(progress) }
}

extension MigrationDestinationHooks {
    public func configuration(for description: MigrationDescription) throws -> VMConfiguration { try configure(description) }
    public func onDatapath(perform body: () -> Void) { withoutActuallyEscaping(body) { onDatapath($0) } }
    public func built(vm: VirtualMachine) { built(vm) }
    public func installSwitchStates(_ states: [SwitchState]) throws { try installSwitchState(states) }
    public func activate(vm: VirtualMachine, received: [Int]) { activate(vm, received) }
    public func confirmed(vm: VirtualMachine) { confirmed(vm) }
    public func deactivate(vm: VirtualMachine) { deactivate(vm) }
    public func resolve(id: String, address: String) -> MigrationOutcome { resolve(id, address) }
    public func handIn(vm: VirtualMachine, frames: [QueuedFrame]) -> Int {
        if let handIn { return handIn(vm, frames) }
        return MigrationDestination.deliverToNICs(frames, vm: vm, pool: pool)
    }
}

extension SwitchState {
    /// This state cut down to the named ports: their counters and up/down state, and the
    /// MAC entries learned on them.
    public func restricted(to portNames: Set<String>) -> SwitchState {
        var s = self
        s.ports = ports.filter { portNames.contains($0.name) }
        s.entries = entries.filter { portNames.contains($0.port) }
        return s
    }
}
