// `switchboard bench vm`: VM-to-VM UDP throughput through the switch and boot times (to the
// appliance's ready line, to U-Boot's prompt), each beside QEMU running the same binaries in
// the same run.

import ArgumentParser
import Foundation
import Hypervisor
import Frames
import HostNetworking
import RISCV
import RISCVBoard
import Switching
import Topology
import VMHost

/// Benchmarks VMs on Switchboard against QEMU.
struct BenchVMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "VM-to-VM UDP throughput and boot times, beside QEMU.")

    @Option(help: "Datagrams per throughput run.")
    var count = 20_000

    @Option(help: "Rounds of each measurement; the median is shown.")
    var rounds = 3

    @Option(help: "QEMU binary (its columns are skipped when missing).")
    var qemu = "/usr/bin/qemu-system-riscv64"

    @Option(help: ArgumentHelp("The guest appliance ELF (default: built from Tools/appliance).", valueName: "path"))
    var appliance: String?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
    static let uboot = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"

    /// One throughput measurement.
    struct Throughput: Encodable {
        var payload: Int
        var sent: Int
        var received: Int
        var lost: Int
        var seconds: Double
        var pps: Double
        var mbps: Double
    }

    func run() throws {
        guard count >= 100 && count <= 10_000_000 else { throw ValidationError("--count must be 100...10000000") }
        guard rounds >= 1 && rounds <= 99 else { throw ValidationError("--rounds must be 1...99") }
        let elf: String
        switch ApplianceLocator.locate(explicit: appliance) {
        case .success(let path): elf = path
        case .failure(let error): throw ValidationError("\(error)")
        }
        let haveQEMU = FileManager.default.isExecutableFile(atPath: qemu)
        var results: [String: Any] = [:]
        var rows: [(String, String, String)] = []

        for payload in [64, 1400] {
            let ours = try median((0..<rounds).map { _ in try switchboardFlow(elf: elf, payload: payload) })!
            results["switchboard_udp_\(payload)"] = ["pps": ours.pps.rounded(), "mbps": round1(ours.mbps), "lost": ours.lost, "sent": ours.sent]
            var theirs: Throughput? = nil
            if haveQEMU {
                theirs = median(try (0..<rounds).compactMap { _ in try qemuFlow(elf: elf, payload: payload) })
                results["qemu_udp_\(payload)"] = theirs.map { ["pps": $0.pps.rounded(), "mbps": round1($0.mbps), "lost": $0.lost, "sent": $0.sent] }
            }
            rows.append(("UDP \(payload) B payload", describe(ours), theirs.map(describe) ?? "-"))
        }

        let ourReady = medianTime(try (0..<rounds).map { _ in try switchboardBootToReady(elf: elf) })!
        results["switchboard_ready_ms"] = round1(ourReady * 1000)
        var qemuReady: Double? = nil
        if haveQEMU {
            qemuReady = medianTime(try (0..<rounds).compactMap { _ in
                try qemuUntil(line: "appliance: ready", arguments: ["-bios", "none", "-kernel", elf, "-append", "ip=10.0.0.1/24",
                                                                   "-global", "virtio-mmio.force-legacy=false",
                                                                   "-netdev", "socket,id=n0,listen=127.0.0.1:\(Self.freePort())",
                                                                   "-device", "virtio-net-device,netdev=n0"])
            })
            results["qemu_ready_ms"] = qemuReady.map { round1($0 * 1000) }
        }
        rows.append(("boot to appliance ready", String(format: "%.1f ms", ourReady * 1000), qemuReady.map { String(format: "%.1f ms", $0 * 1000) } ?? "-"))

        if FileManager.default.fileExists(atPath: Self.openSBI) && FileManager.default.fileExists(atPath: Self.uboot) {
            let ourPrompt = medianTime(try (0..<rounds).map { _ in try switchboardBootToUBoot() })!
            results["switchboard_uboot_ms"] = round1(ourPrompt * 1000)
            var qemuPrompt: Double? = nil
            if haveQEMU {
                qemuPrompt = medianTime(try (0..<rounds).compactMap { _ in
                    try qemuUntil(line: "Hit any key to stop autoboot", arguments: ["-bios", Self.openSBI, "-kernel", Self.uboot])
                })
                results["qemu_uboot_ms"] = qemuPrompt.map { round1($0 * 1000) }
            }
            rows.append(("boot to U-Boot prompt", String(format: "%.1f ms", ourPrompt * 1000), qemuPrompt.map { String(format: "%.1f ms", $0 * 1000) } ?? "-"))
        }

        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("switchboard bench vm (\(isDebugBuild ? "DEBUG build: use -c release" : "release build")), \(count) datagrams per flow, rate unlimited, median of \(rounds)")
            print("  " + "measure".padding(toLength: 26, withPad: " ", startingAt: 0) + "switchboard".padding(toLength: 34, withPad: " ", startingAt: 0) + "qemu " + (haveQEMU ? "(same appliance, socket link)" : "(not installed)"))
            for (name, a, b) in rows {
                print("  " + name.padding(toLength: 26, withPad: " ", startingAt: 0) + a.padding(toLength: 34, withPad: " ", startingAt: 0) + b)
            }
        }
    }

    func median(_ runs: [Throughput]) -> Throughput? {
        let sorted = runs.sorted { $0.pps < $1.pps }
        return sorted.isEmpty ? nil : sorted[sorted.count / 2]
    }

    func medianTime(_ runs: [Double]) -> Double? {
        let sorted = runs.sorted()
        return sorted.isEmpty ? nil : sorted[sorted.count / 2]
    }

    func describe(_ t: Throughput) -> String {
        String(format: "%.0f pps, %.1f Mbit/s, lost %d", t.pps, t.mbps, t.lost)
    }

    func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }

    /// Bits of one frame on the wire for a UDP payload (Ethernet + IPv4 + UDP headers, FCS).
    static func frameBits(payload: Int) -> Double { Double(max(payload + 8 + 20 + 14, 60) + 4) * 8 }

    // MARK: Switchboard

    /// Two appliance VMs on one switch, the real datapath loop between them.
    func switchboardFlow(elf: String, payload: Int) throws -> Throughput {
        let json = """
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}, {"name": "p2"}]}],
         "vms": [
          {"name": "flow", "firmware": "none", "kernel": "appliance", "memory_mib": 16,
           "bootargs": "ip=10.0.0.1/24 role=flow peer=10.0.0.2 rate=0 count=\(count) size=\(payload) exit=1",
           "nics": [{"mac": "52:54:00:00:00:01", "switch": "sw0", "port": "p1"}]},
          {"name": "sink", "firmware": "none", "kernel": "appliance", "memory_mib": 16,
           "bootargs": "ip=10.0.0.2/24 role=sink flows=1 exit=1",
           "nics": [{"mac": "52:54:00:00:00:02", "switch": "sw0", "port": "p2"}]}]}
        """
        let vms = try runVMs(json: json, appliance: elf, timeout: 300)
        guard let sender = vms.first(where: { $0.name == "flow" }), let sink = vms.first(where: { $0.name == "sink" }),
              let report = sink.reports.first else {
            throw ValidationError("the flow did not finish: \(vms.map { "\($0.name): \($0.console.recentLines.suffix(3))" })")
        }
        let elapsed = Self.flowSentSeconds(sender.console.recentLines) ?? 0
        return throughput(payload: payload, report: report, seconds: elapsed)
    }

    func throughput(payload: Int, report: FlowReport, seconds: Double) -> Throughput {
        let pps = seconds > 0 ? Double(report.received) / seconds : 0
        return Throughput(payload: payload, sent: report.sent, received: report.received, lost: report.lost, seconds: seconds,
                          pps: pps, mbps: pps * Self.frameBits(payload: payload) / 1e6)
    }

    /// The sender's `flow-sent ... elapsed_us=N` line, in seconds.
    static func flowSentSeconds(_ lines: [String]) -> Double? {
        for line in lines where line.hasPrefix("flow-sent ") {
            for field in line.split(separator: " ") where field.hasPrefix("elapsed_us=") {
                if let us = Double(field.dropFirst("elapsed_us=".count)) { return us / 1e6 }
            }
        }
        return nil
    }

    /// Runs a topology's VMs on the datapath loop until all power off (or `timeout`).
    func runVMs(json: String, appliance: String, timeout: Double) throws -> [VirtualMachine] {
        try BenchTopology.runVMs(json: json, appliance: appliance, timeout: timeout)
    }

    /// From spawning `switchboard run` on a one-VM topology to the appliance's ready line, as
    /// QEMU is measured from its spawn: parsing, building the machine and booting all count.
    func switchboardBootToReady(elf: String) throws -> Double {
        let json = """
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}]}],
         "vms": [{"name": "a", "firmware": "none", "kernel": "appliance", "memory_mib": 16, "bootargs": "ip=10.0.0.1/24 role=echo duration=1 exit=1",
                  "console": {"stdout": true}, "nics": [{"mac": "52:54:00:00:00:01", "switch": "sw0", "port": "p1"}]}]}
        """
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-vm-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("ready.json").path
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        guard let t = try selfUntil(line: "appliance: ready", arguments: ["run", file, "--duration", "10", "--appliance", elf,
                                                                         "--control", dir.appendingPathComponent("c.sock").path]) else {
            throw ValidationError("the appliance never became ready")
        }
        return t
    }

    /// From spawning `switchboard vm` with OpenSBI and U-Boot to U-Boot's autoboot prompt.
    func switchboardBootToUBoot() throws -> Double {
        guard let t = try selfUntil(line: "Hit any key to stop autoboot",
                                    arguments: ["vm", "--firmware", Self.openSBI, "--kernel", Self.uboot, "--memory", "128", "--timeout", "60"]) else {
            throw ValidationError("U-Boot never printed its prompt")
        }
        return t
    }

    // MARK: QEMU

    static func freePort() -> UInt16 { UInt16(20_000 + Int(getpid()) % 20_000) }

    func qemuProcess(_ arguments: [String]) -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-M", "virt", "-cpu", "rv64,f=false,d=false,h=false", "-m", "128", "-nographic", "-monitor", "none",
                       "-serial", "stdio"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        return (p, out)
    }

    /// Seconds from spawning QEMU to the first output line containing `line`.
    func qemuUntil(line: String, arguments: [String]) throws -> Double? {
        let (p, out) = qemuProcess(arguments)
        return try timeUntil(line: line, process: p, output: out)
    }

    /// Seconds from spawning this very `switchboard` binary with `arguments` to `line`.
    func selfUntil(line: String, arguments: [String]) throws -> Double? {
        let p = Process()
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        return try timeUntil(line: line, process: p, output: out)
    }

    /// Seconds from starting `p` to the first output containing `line`; nil when it never
    /// appears within 60 s (the process is stopped either way).
    func timeUntil(line: String, process p: Process, output out: Pipe) throws -> Double? {
        let start = Date()
        try p.run()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var found: Double? = nil
        let reader = Thread {
            var text = ""
            let handle = out.fileHandleForReading
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
                if text.contains(line) {
                    found = Date().timeIntervalSince(start)
                    break
                }
            }
            done.signal()
        }
        reader.start()
        _ = done.wait(timeout: .now() + 60)
        // SIGKILL: a child may inherit a blocked SIGTERM from the datapath's signal handling.
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        _ = done.wait(timeout: .now() + 5)
        return found
    }

    /// Two QEMUs joined by a loopback socket link, the same flow as on Switchboard.
    func qemuFlow(elf: String, payload: Int) throws -> Throughput? {
        let port = Self.freePort() + 1
        let net = ["-global", "virtio-mmio.force-legacy=false"]
        let (sinkP, sinkOut) = qemuProcess(["-bios", "none", "-kernel", elf, "-append", "ip=10.0.0.2/24 role=sink flows=1 exit=1"] + net
            + ["-netdev", "socket,id=n0,listen=127.0.0.1:\(port)", "-device", "virtio-net-device,netdev=n0,mac=52:54:00:00:00:02"])
        try sinkP.run()
        usleep(300_000)
        let (flowP, flowOut) = qemuProcess(["-bios", "none", "-kernel", elf, "-append",
                                            "ip=10.0.0.1/24 role=flow peer=10.0.0.2 rate=0 count=\(count) size=\(payload) exit=1"] + net
            + ["-netdev", "socket,id=n0,connect=127.0.0.1:\(port)", "-device", "virtio-net-device,netdev=n0,mac=52:54:00:00:00:01"])
        try flowP.run()
        nonisolated(unsafe) var sinkText = ""
        let reader = Thread { sinkText = String(decoding: sinkOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        reader.start()
        nonisolated(unsafe) var flowText = ""
        let flowReader = Thread { flowText = String(decoding: flowOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        flowReader.start()
        let flowDeadline = Date().addingTimeInterval(120)
        while flowP.isRunning && Date() < flowDeadline { usleep(10_000) }
        if flowP.isRunning { kill(flowP.processIdentifier, SIGKILL) }
        flowP.waitUntilExit()
        let deadline = Date().addingTimeInterval(10)
        while sinkP.isRunning && Date() < deadline { usleep(10_000) }
        if sinkP.isRunning { kill(sinkP.processIdentifier, SIGKILL) }
        sinkP.waitUntilExit()
        while !reader.isFinished || !flowReader.isFinished { usleep(1_000) }
        let lines = sinkText.split(separator: "\n").map { String($0).replacingOccurrences(of: "\r", with: "") }
        guard let report = lines.compactMap(FlowReport.init(line:)).last,
              let seconds = Self.flowSentSeconds(flowText.split(separator: "\n").map { String($0).replacingOccurrences(of: "\r", with: "") }) else {
            return nil
        }
        return throughput(payload: payload, report: report, seconds: seconds)
    }
}
