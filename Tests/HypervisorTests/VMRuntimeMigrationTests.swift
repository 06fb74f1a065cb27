// VMRuntime and its migrations, in process: two hypervisors' parts of one topology, each with
// its own fabric, datapath thread, VM runtime and migration listener, joined by VXLAN over
// loopback. The appliance VM moves a -> b -> a through DepartingVM and ArrivingVM, the same
// code `switchboard run --host` uses, without spawning the binary.

import ControlProtocol
import Foundation
import HostNetworking
@testable import Hypervisor
import Migration
import TestSupport
import Testing
import Topology

/// One hypervisor's part, running in this process.
final class InProcessHost: @unchecked Sendable {
    let name: String
    let instance: TopologyInstance
    let datapath: Datapath
    let runtime: VMRuntime
    let service: MigrationService
    private let loop: Thread

    init(_ full: Topology, hypervisor: String, appliance: String) throws {
        name = hypervisor
        let part = try full.part(for: hypervisor)
        instance = try TopologyInstance(part)
        datapath = try Datapath(fabric: instance.fabric)
        for spec in part.switches {
            for port in spec.ports {
                guard let attach = port.attach else { continue }
                try datapath.attach(try attach.hostAttachment.open(), at: try instance.fabric.port(spec.name, port.name))
            }
        }
        runtime = try VMRuntime(instance: instance, topology: full, hypervisor: hypervisor, appliance: appliance)
        try runtime.attach(to: datapath)
        let spec = try #require(full.hypervisor(named: hypervisor))
        service = try MigrationService(host: "\(spec.address)", port: spec.migrationPort, runtime: runtime,
                                       datapath: datapath, log: { _ in })
        let dp = datapath
        loop = Thread { dp.run() }
        loop.start()
        service.start()
        runtime.start()
    }

    /// Migrates `vm` from here to `to` (as the control socket's `migrate` does).
    func migrate(_ vm: String, to: String) throws -> ControlMigrationReport {
        var prepared: Result<(VMRuntime.Guest, HypervisorSpec), VMRuntime.MigrationRefusal>!
        let request = VMRuntime.MigrationRequest(vm: vm, to: to, downtimeMs: nil, maxRounds: nil)
        datapath.sync { prepared = Result { () throws(VMRuntime.MigrationRefusal) in try runtime.prepareMigration(request) } }
        let (guest, destination) = try prepared.get()
        return runtime.migrate(guest, to: destination, request: request) { _ in }
    }

    /// Whether `vm` runs here now.
    func runs(_ vm: String) -> Bool {
        runtime.guest(named: vm)?.vm.state == .running
    }

    func stop() {
        service.close(timeout: 2)
        runtime.stop(datapath: datapath)
        datapath.requestStop()
        while !loop.isFinished { usleep(1_000) }
        datapath.closeAll()
    }
}

@Suite(.serialized) struct VMRuntimeMigrationTests {
    static func topology(basePort: Int) throws -> Topology {
        let json = twoHostTopology(basePort: basePort, name: "hv-inproc")
        return try Topology.decode(Array(json.utf8), file: "inproc.json")
    }

    @Test func aVMMovesBetweenTwoHostsInThisProcessAndBack() throws {
        guard let image = try ApplianceImage.build(for: "aVMMovesBetweenTwoHostsInThisProcessAndBack") else { return }
        defer { image.directory.remove() }
        let full = try Self.topology(basePort: 7510)
        let a = try InProcessHost(full, hypervisor: "a", appliance: image.elf)
        defer { a.stop() }
        let b = try InProcessHost(full, hypervisor: "b", appliance: image.elf)
        defer { b.stop() }
        #expect(a.runs("echo") && b.runtime.guest(named: "echo") == nil)

        let there = try a.migrate("echo", to: "b")
        #expect(there.error == nil && there.lost == 0 && there.from == "a" && there.to == "b", "\(there)")
        #expect(a.runtime.guest(named: "echo") == nil)
        let deadline = Date(timeIntervalSinceNow: 10)
        while !b.runs("echo") && Date() < deadline { usleep(10_000) }
        #expect(b.runs("echo"))
        #expect(b.runtime.guest(named: "echo")?.origin == "a")

        let back = try b.migrate("echo", to: "a")
        #expect(back.error == nil && back.lost == 0, "\(back)")
        while !a.runs("echo") && Date() < deadline { usleep(10_000) }
        #expect(a.runs("echo") && b.runtime.guest(named: "echo") == nil)
    }

    @Test func requestsThatCannotMigrateAreRefusedWithTheReason() throws {
        guard let image = try ApplianceImage.build(for: "requestsThatCannotMigrateAreRefusedWithTheReason") else { return }
        defer { image.directory.remove() }
        let full = try Self.topology(basePort: 7530)
        let a = try InProcessHost(full, hypervisor: "a", appliance: image.elf)
        defer { a.stop() }
        func refusal(_ vm: String, _ to: String) -> String {
            do { _ = try a.migrate(vm, to: to); return "" } catch { return "\(error)" }
        }
        #expect(refusal("echo", "a").contains("already runs on a"))
        #expect(refusal("echo", "c").contains("no hypervisor named c"))
        #expect(refusal("ghost", "b").contains("no VM named ghost"))
        // b is not running: the connection fails in its phase and the VM runs on here.
        let report = try a.migrate("echo", to: "b")
        #expect(report.error?.contains("connect") == true, "\(report)")
        #expect(a.runs("echo"))
    }
}
