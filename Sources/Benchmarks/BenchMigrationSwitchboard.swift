// `bench migration`, Switchboard side: the appliance on a switch port (a GuestPort in front
// of its NIC), the outage probe on another, and a migration over 127.0.0.1 to a VM built in
// the same process that takes the port over once the source confirmed.

import ArgumentParser
import RISCVBoard
import Foundation
import Frames
import Migration
import Switching
import VMHost

/// One Switchboard migration: the protocol's report and what the probe saw.
struct SwitchboardRun {
    var report: MigrationReport
    var probe: ProbeResult
}

extension BenchMigrationCommand {
    /// Boots the appliance on port `vm` of switch `sw0`, probes it from port `probe`, migrates
    /// it and stops both VMs.
    func switchboardMigration(kernel: [UInt8], memoryMiB: Int, bootargs: String, timing: ProbeTiming) throws -> SwitchboardRun {
        let pool = PacketPool(capacity: 4096)
        let fabric = Fabric(pool: pool)
        fabric.add(try Switch(configuration: SwitchConfiguration(name: "sw0", ports: [
            PortConfiguration(name: "vm"), PortConfiguration(name: "probe")]), pool: pool))
        let vmPort = try fabric.port("sw0", "vm"), probePort = try fabric.port("sw0", "probe")
        let config = VMConfiguration(name: "bench", memoryMiB: memoryMiB, board: VirtBoardSpec(firmware: .none, kernel: kernel, bootargs: bootargs),
                                     nicMACs: [MACAddress(0x52, 0x54, 0, 0, 0, 1)], disks: [], consoleLog: nil,
                                     consoleToStdout: false, expect: [])
        let source = try VirtualMachine(config, pool: pool)
        let port = GuestPort(target: source.nics[0], pool: pool)
        let probe = EchoProbePort(port: probePort, interval: timing.interval)
        try fabric.attach(vmPort, sink: port)
        try fabric.attach(probePort, sink: probe)
        let datapath = BenchDatapath(fabric: fabric)
        datapath.attachments = [(source, 0, vmPort)]
        datapath.probe = probe
        datapath.start()
        defer { datapath.finish() }
        source.start()
        defer { source.stop() }
        let deadline = Date().addingTimeInterval(30)
        while source.bootSeconds == nil && Date() < deadline { usleep(5_000) }
        guard source.bootSeconds != nil else { throw ValidationError("the \(memoryMiB) MiB appliance never became ready") }
        usleep(200_000)

        let listener = try MigrationListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        var hooks = MigrationDestinationHooks(pool: pool) { _ in config }
        hooks.onDatapath = datapath.sync
        hooks.installSwitchState = { states in for s in states { try fabric.switches[0].restore(s) } }
        // The destination shares the fabric: at the confirm it takes the port and the frames
        // held there since the handover.
        hooks.confirmed = { vm in
            port.release(to: vm.nics[0])
            datapath.attachments.append((vm, 0, vmPort))
        }
        let transfer = HooksTransfer(value: hooks)
        let incoming = IncomingBox()
        Thread {
            do { incoming.set(.success(try listener.receive(hooks: transfer.value))) } catch { incoming.set(.failure(error)) }
        }.start()
        // The port goes on holding after the handover until the destination's `confirmed`.
        let sourceHooks = MigrationSourceHooks.ports(
            [port], vm: source, onDatapath: datapath.sync,
            stopServicing: { datapath.remove(source) }, startServicing: { datapath.attachments.append((source, 0, vmPort)) },
            switchState: { [fabric.switches[0].saveState(now: SystemClock().now()).restricted(to: ["vm"])] })

        datapath.sync { probe.start() }
        usleep(UInt32(timing.lead * 1e6))
        let started = monotonicNanos()
        let report: MigrationReport
        do { report = try migrate(vm: source, to: "127.0.0.1", port: listener.port, hooks: sourceHooks) } catch {
            listener.close()
            _ = incoming.wait()
            throw ValidationError("migration of \(memoryMiB) MiB failed: \(error)")
        }
        let ended = monotonicNanos()
        let arrived: IncomingMigration
        switch incoming.wait() {
        case .success(let a): arrived = a
        case .failure(let error): throw ValidationError("destination of \(memoryMiB) MiB failed: \(error)")
        }
        defer { arrived.vm.stop() }
        let windowEnd = ended + Int64(timing.tail * 1e9)
        sleepUntil(windowEnd)
        datapath.sync { probe.stop() }
        usleep(UInt32(timing.grace * 1e6))
        var log = ProbeLog()
        datapath.sync { log = probe.log }
        guard arrived.vm.state == .running else { throw ValidationError("the migrated \(memoryMiB) MiB VM is \(arrived.vm.state)") }
        return SwitchboardRun(report: report, probe: log.result(from: started, to: windowEnd))
    }
}

/// Sleeps until `deadline` (CLOCK_MONOTONIC nanoseconds).
func sleepUntil(_ deadline: Int64) {
    let left = deadline - monotonicNanos()
    if left > 0 { usleep(UInt32(left / 1000)) }
}

/// Destination hooks handed to the thread that runs the destination side.
struct HooksTransfer: @unchecked Sendable { var value: MigrationDestinationHooks }

/// The destination thread's outcome, handed to the benchmark thread.
final class IncomingBox: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<IncomingMigration, any Error>?

    func set(_ r: Result<IncomingMigration, any Error>) {
        result = r
        done.signal()
    }

    func wait() -> Result<IncomingMigration, any Error> {
        done.wait()
        done.signal()
        return result ?? .failure(ValidationError("no result"))
    }
}
