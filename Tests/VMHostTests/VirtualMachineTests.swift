// Two appliance VMs on the software CPU, joined by a switch: ping, a lossless flow, power off.

import Foundation
import Frames
import RISCV
import RISCVBoard
import Switching
import Testing
import TestSupport
@testable import VMHost

/// A minimal datapath for tests: one thread moving frames between NICs and the fabric.
final class TestDatapath: @unchecked Sendable {
    let fabric: Fabric
    let attachments: [(VirtualMachine, Int, Fabric.PortRef)]
    private var stop = false
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)

    init(fabric: Fabric, attachments: [(VirtualMachine, Int, Fabric.PortRef)]) {
        self.fabric = fabric
        self.attachments = attachments
    }

    func start() {
        Thread { [self] in
            let clock = SystemClock()
            while !lock.withLock({ stop }) {
                let now = clock.now()
                var moved = 0
                for (vm, nic, ref) in attachments {
                    moved += vm.serviceNetwork(nic: nic, switch: fabric.switches[ref.switchIndex], port: ref.port, now: now)
                }
                fabric.drain(now: now)
                if moved == 0 { usleep(50) }
            }
            done.signal()
        }.start()
    }

    func finish() {
        lock.withLock { stop = true }
        done.wait()
    }
}

@Suite struct VirtualMachineTests {
    /// An appliance VM on the host's default engine.
    static func appliance(_ name: String, mac: UInt8, bootargs: String, elf: [UInt8], pool: PacketPool) throws -> VirtualMachine {
        try VirtualMachine(VMConfiguration(name: name, memoryMiB: 16, board: VirtBoardSpec(firmware: .none, kernel: elf, bootargs: bootargs),
                                           nicMACs: [MACAddress(0x52, 0x54, 0, 0, 0, mac)], disks: [], consoleLog: nil,
                                           consoleToStdout: false, expect: []), pool: pool)
    }

    @Test func twoAppliancesRunALosslessFlowThroughTheSwitch() throws {
        guard let image = try ApplianceImage.build(for: "twoAppliancesRunALosslessFlowThroughTheSwitch") else { return }
        defer { image.directory.remove() }
        let elf = [UInt8](try Data(contentsOf: URL(fileURLWithPath: image.elf)))
        let pool = PacketPool(capacity: 4096)
        let fabric = Fabric(pool: pool)
        fabric.add(try Switch(configuration: SwitchConfiguration(name: "sw0", ports: [
            PortConfiguration(name: "p1"), PortConfiguration(name: "p2")]), pool: pool))
        let sink = try Self.appliance("sink", mac: 2, bootargs: "ip=10.0.0.2/24 role=sink flows=1 exit=1", elf: elf, pool: pool)
        let flow = try Self.appliance("flow", mac: 1, bootargs: "ip=10.0.0.1/24 role=flow peer=10.0.0.2 pings=3 interval=50 rate=2000 count=2000 exit=1",
                                      elf: elf, pool: pool)
        let p1 = try fabric.port("sw0", "p1"), p2 = try fabric.port("sw0", "p2")
        try fabric.attach(p1, sink: flow.nics[0])
        try fabric.attach(p2, sink: sink.nics[0])
        let datapath = TestDatapath(fabric: fabric, attachments: [(flow, 0, p1), (sink, 0, p2)])
        datapath.start()
        sink.start()
        flow.start()
        let finished = flow.wait(timeout: 60) && sink.wait(timeout: 10)
        sink.stop()
        flow.stop()
        datapath.finish()
        #expect(finished, "flow: \(flow.console.recentLines.suffix(5)) sink: \(sink.console.recentLines.suffix(5))")
        #expect(sink.state == .poweredOff(code: 0), "\(sink.console.recentLines.suffix(8))")
        #expect(flow.state == .poweredOff(code: 0), "\(flow.console.recentLines.suffix(8))")
        let report = try #require(sink.reports.first)
        #expect(report.sent == 2000 && report.received == 2000 && report.lost == 0 && report.duplicated == 0)
        #expect(sink.bootSeconds != nil && flow.bootSeconds != nil)
        let lines = flow.console.recentLines
        #expect(lines.contains("ping: 3 transmitted, 3 received, 0 lost"), "\(lines)")
        #expect(lines.filter { $0.hasPrefix("64 bytes from 10.0.0.2: icmp_seq=") }.count == 3)
        #expect(fabric.switches[0].macTable.count == 2)
    }

    @Test func aLoopingGuestIsStoppedAndOthersAreUnaffected() throws {
        // A kernel that is an infinite loop: `j .` at the entry.
        let loop = GuestELF.endlessLoop
        let pool = PacketPool(capacity: 256)
        let vm = try VirtualMachine(VMConfiguration(name: "spin", memoryMiB: 16, board: VirtBoardSpec(firmware: .none, kernel: loop, bootargs: ""),
                                                    nicMACs: [], disks: [], consoleLog: nil, consoleToStdout: false,
                                                    expect: [.init(wait: "never printed", timeoutSeconds: 0.3)]), pool: pool)
        vm.start()
        Thread.sleep(forTimeInterval: 0.6)
        #expect(vm.state == .running)
        #expect(vm.console.expectStatus == .failed(index: 0, pattern: "never printed"))
        vm.stop()
        #expect(vm.state == .stopped)
    }

    @Test func aGuestRunningAtLowVirtualAddressesIsPausedAndStopped() throws {
        // S-mode code at virtual page 0 that remaps its pages while it runs: a guest that once
        // wedged the vCPU thread, so neither a pause nor a stop was ever answered.
        let pool = PacketPool(capacity: 256)
        let vm = try VirtualMachine(VMConfiguration(name: "lowva", memoryMiB: 16,
                                                    board: VirtBoardSpec(firmware: .none, kernel: GuestELF.lowAddressRemapper),
                                                    nicMACs: [], disks: [], consoleLog: nil, consoleToStdout: false,
                                                    expect: []), pool: pool)
        vm.start()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(vm.pause(timeout: 20), "the vCPU did not park")
        let retired = vm.board.instructionsRetired
        #expect(retired > 1000)
        vm.resume()
        vm.stop(timeout: 20)
        #expect(vm.state == .stopped)
    }

    @Test func consoleExpectTypesIntoTheGuest() throws {
        let console = try VMConsole(name: "t", logPath: nil, toStdout: false,
                                    expect: [.init(wait: "=> ", send: "ping 10.0.0.1"), .init(wait: "is alive")], now: 0)
        var typed: [String] = []
        console.type = { typed.append(String(decoding: $0, as: UTF8.self)) }
        for b in "U-Boot\n=> ".utf8 { console.put(b) }
        #expect(typed == ["ping 10.0.0.1\n"] && console.expectStatus == .waiting(index: 1))
        for b in "host 10.0.0.1 is alive\n".utf8 { console.put(b) }
        #expect(console.expectStatus == .passed)
        #expect(console.recentLines == ["U-Boot", "=> host 10.0.0.1 is alive"])
    }

    @Test func flowReportLinesParse() {
        #expect(FlowReport(line: "flow-report id=1 sent=10 received=9 lost=1 duplicated=0 reordered=2 extra=7")
                == FlowReport(line: "flow-report id=1 sent=10 received=9 lost=1 duplicated=0 reordered=2"))
        #expect(FlowReport(line: "flow-report id=1 sent=10") == nil)
        #expect(FlowReport(line: "status uptime_ms=1") == nil)
    }
}
