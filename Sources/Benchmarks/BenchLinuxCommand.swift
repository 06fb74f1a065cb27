// `switchboard bench linux`: a Debian-built Linux guest (Tools/guest-linux) booted on
// Switchboard's VM host and on QEMU 7.2 TCG in the same run, with the same kernel, initramfs,
// command line and vCPU count: time to the initramfs's first line and to its shell prompt
// (median of the runs), guest instructions to reach init and exits by reason (ours), host CPU
// of the idle booted guest, and ping RTT and TCP throughput between two Linux VMs.

import ArgumentParser
import Foundation
import Hypervisor
import RISCVTranslator

/// Benchmarks Linux guests on Switchboard against QEMU.
struct BenchLinuxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linux",
        abstract: "Linux guest boot, idle CPU and VM-to-VM network figures, beside QEMU.")

    @Option(help: ArgumentHelp("Directory with Image, initramfs.cpio.gz and rootfs.ext4 (default: Tools/guest-linux builds them).", valueName: "dir"))
    var images: String?

    @Option(parsing: .upToNextOption, help: "vCPU counts to measure.")
    var cpus: [Int] = [1, 2]

    @Option(help: "Boots per configuration; medians are shown.")
    var runs = 3

    @Option(help: "Seconds of idle CPU measurement after the prompt.")
    var idleSeconds = 10.0

    @Option(help: "Guest RAM in MiB.")
    var memory = 256

    @Option(help: "QEMU binary (its columns are skipped when missing).")
    var qemu = "/usr/bin/qemu-system-riscv64"

    @Flag(help: "Skip the two-VM network measurement.")
    var skipNetwork = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    typealias Boot = LinuxBootMeasurement.Boot
    static let commandLine = LinuxBootMeasurement.commandLine

    @Option(help: "Engines to boot on, comma separated (interpret, translate).")
    var engines = "interpret,translate"

    func run() throws {
        guard runs >= 1 && runs <= 20 else { throw ValidationError("--runs must be 1...20") }
        let engineList = engines.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !engineList.isEmpty else { throw ValidationError("--engines: name at least one engine") }
        for name in engineList {
            do { _ = try CPUEngine.named(name) } catch { throw ValidationError("--engines: \(error)") }
        }
        guard cpus.allSatisfy({ (1...8).contains($0) }) else { throw ValidationError("--cpus must be 1...8") }
        let located: GuestLinuxImages
        switch GuestLinuxLocator.locate(explicit: images) {
        case .success(let i): located = i
        case .failure(let e): throw ValidationError("\(e)")
        }
        let haveQEMU = FileManager.default.isExecutableFile(atPath: qemu)
        let measurement = LinuxBootMeasurement(images: located, memory: memory, qemu: qemu, idleSeconds: idleSeconds)
        var results: [String: Any] = ["images": located.directory, "runs": runs, "command_line": Self.commandLine]
        // Columns: one per engine of ours, then QEMU.
        var rows: [(String, [String])] = []
        for n in cpus {
            var ours: [[Boot]] = engineList.map { _ in [] }
            var theirs: [Boot] = []
            for r in 0..<runs {
                let measureIdle = r == 0
                for (e, engine) in engineList.enumerated() {
                    ours[e].append(try measurement.boot(switchboardWith: engine, cpus: n, idle: measureIdle))
                }
                if haveQEMU { theirs.append(try measurement.boot(qemuWith: n, idle: measureIdle)) }
            }
            let key = "cpus\(n)"
            for (e, engine) in engineList.enumerated() {
                // The interpreter keeps the key it always had.
                results[engine == "interpret" ? "switchboard_\(key)" : "switchboard_\(engine)_\(key)"] = summary(ours[e])
            }
            if haveQEMU { results["qemu_\(key)"] = summary(theirs) }
            func cell(_ boots: [Boot], _ f: (Boot) -> Double?) -> String {
                guard let m = median(boots.compactMap(f)) else { return "-" }
                return String(format: "%.2f s", m)
            }
            func percent(_ boots: [Boot]) -> String { boots.first?.idleCPUPercent.map { String(format: "%.1f %% of a core", $0) } ?? "-" }
            rows.append(("\(n) vCPU: to first initramfs line", ours.map { cell($0, { $0.firstLineSeconds }) } + [haveQEMU ? cell(theirs, { $0.firstLineSeconds }) : "-"]))
            rows.append(("\(n) vCPU: to shell prompt", ours.map { cell($0, { $0.promptSeconds }) } + [haveQEMU ? cell(theirs, { $0.promptSeconds }) : "-"]))
            rows.append(("\(n) vCPU: idle host CPU", ours.map(percent) + [percent(theirs)]))
            rows.append(("\(n) vCPU: instructions to init", ours.map { $0.first?.instructionsToInit.map(String.init) ?? "-" } + ["-"]))
            rows.append(("\(n) vCPU: exits at poweroff", ours.map { boots in
                guard let exits = boots.first?.exits else { return "-" }
                return exits.filter { $0.value > 0 }.sorted { $0.value > $1.value }.prefix(3).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            } + ["-"]))
        }
        if !skipNetwork {
            let net = try LinuxNetworkBench(images: located, qemu: haveQEMU ? qemu : nil, memory: memory).run()
            results["network"] = net.json
            // The network rows are measured on the interpreter.
            rows += net.rows.map { ($0.0, [$0.1] + Array(repeating: "-", count: engineList.count - 1) + [$0.2]) }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("bench linux: \(located.directory), command line \"\(Self.commandLine)\", \(runs) boots each, RAM \(memory) MiB")
        /// Pads to `width` and never cuts: a long cell pushes the next one right.
        func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s.padding(toLength: width, withPad: " ", startingAt: 0) }
        print("  " + pad("measure", 38) + engineList.map { pad("switchboard \($0) (builtin SBI)", 40) }.joined()
              + "qemu 7.2 tcg (OpenSBI fw_jump)" + (haveQEMU ? "" : " (not installed)"))
        for (name, cells) in rows {
            print("  " + pad(name, 38) + cells.dropLast().map { pad($0, 40) }.joined() + (cells.last ?? ""))
        }
    }

    func summary(_ boots: [Boot]) -> [String: Any] {
        var d: [String: Any] = [:]
        d["first_line_s"] = median(boots.map(\.firstLineSeconds))
        d["prompt_s"] = median(boots.map(\.promptSeconds))
        d["boots_prompt_s"] = boots.map(\.promptSeconds)
        if let idle = boots.first?.idleCPUPercent { d["idle_cpu_percent"] = idle }
        if let i = boots.first?.instructionsToInit { d["instructions_to_init"] = i }
        if let e = boots.first?.exits { d["exits"] = e }
        return d
    }

    func median(_ xs: [Double]) -> Double? { LinuxBootMeasurement.median(xs) }
}
