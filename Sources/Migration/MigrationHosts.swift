// MigrationHosts: what a live migration needs from the host it leaves and from the host it
// arrives at, as two protocols. A host process implements both (Hypervisor's `DepartingVM` and
// `ArrivingVM`); every requirement has to be written, so a forgotten one is a compile error
// rather than a silent no-op. `MigrationSourceHooks`/`MigrationDestinationHooks` adapt closures
// to them for tests and benchmarks.

import Frames
import Switching
import VMHost

/// The source side's view of the network around the VM. Every method but
/// `onDatapath(perform:)` and `progressed(_:)` is called inside `onDatapath(perform:)`, on the
/// thread that owns the packet pool and the switches.
public protocol MigrationSourceHost {
    /// Runs `body` synchronously on the datapath thread.
    func onDatapath(perform body: () -> Void)
    /// The vCPU is paused for stop-and-copy: stop servicing the VM's NICs and hold the frames
    /// addressed to it.
    func holdNetwork()
    /// Frames held so far, skipping the first `sent[nic]` of each NIC (already handed over).
    func heldFrames(skipping sent: [Int]) -> [QueuedFrame]
    /// The migration failed after `holdNetwork`: give the held frames to the VM's own NICs
    /// and service them as before.
    func restoreNetwork()
    /// The destination runs the VM: `sent[nic]` held frames went with it; release them and
    /// point the VM's MAC entries towards the destination.
    func handOver(sent: [Int])
    /// The switch state of the VM's ports (its MAC entries, VLANs, counters) to install on the
    /// destination's switch (see `SwitchState.restricted(to:)`).
    func switchStates() -> [SwitchState]
    /// Frames the source side dropped while holding (counted as lost).
    var framesDropped: Int { get }
    /// Progress, from the migration's own thread: after every round and every few hundred
    /// page batches of a round.
    func progressed(_ progress: MigrationProgress)
}

/// The destination side's view: how to build the machine and plug it in.
public protocol MigrationDestinationHost {
    /// The packet pool the new VM's NICs use (the destination fabric's pool).
    var pool: PacketPool { get }
    /// Seconds to wait for the `confirm`, and then to keep asking the source for the outcome.
    var confirmTimeout: Double { get }
    /// Seconds the migration may take in total from its hello to the `commit`, however the
    /// source paces its messages (each message must also arrive whole within the connection's
    /// timeout).
    var totalTimeout: Double { get }
    /// The configuration to build the machine from; throw (with a reason) to refuse. The
    /// result must describe the same machine (checked).
    func configuration(for description: MigrationDescription) throws -> VMConfiguration
    /// Runs `body` synchronously on the datapath thread.
    func onDatapath(perform body: () -> Void)
    /// The machine is built (paused, not started).
    func built(vm: VirtualMachine)
    /// Installs the VM's switch state, at commit (datapath thread).
    func installSwitchStates(_ states: [SwitchState]) throws
    /// At commit, on the datapath thread, before the vCPU starts: attach the VM's NICs to
    /// their ports and hold what arrives. `received[nic]` frames held by the source came in
    /// the stream. Should the `ack` then fail to go out, the VM is discarded unstarted.
    func activate(vm: VirtualMachine, received: [Int])
    /// On the datapath thread, after the source confirmed (or answered `resolve` with a
    /// commit), just before the vCPU starts: release frames held at the VM's ports, service
    /// its NICs, announce its MACs.
    func confirmed(vm: VirtualMachine)
    /// On the datapath thread, when the source kept the VM after all (after `activate`):
    /// undo `activate`, sending frames held at the VM's ports back towards the source.
    func deactivate(vm: VirtualMachine)
    /// Asks the source what became of migration `id` at `address` ("host:port") when the
    /// connection broke after the `ack` (usually `MigrationTCP.resolve`).
    func resolve(id: String, address: String) -> MigrationOutcome
    /// On the datapath thread: takes frames the source held for the VM (from the stream, in
    /// order), to give to its NICs before anything that arrives later; returns how many it
    /// could not keep (`MigrationDestination.deliverToNICs` puts them straight into the NICs).
    func handIn(vm: VirtualMachine, frames: [QueuedFrame]) -> Int
    /// Where the images of a VM arriving with its disks (`--with-disks`) are created; nil
    /// refuses such migrations.
    var diskDirectory: String? { get }
}
