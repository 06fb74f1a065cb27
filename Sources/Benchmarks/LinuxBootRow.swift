// The Linux row of `bench cpu`: the Debian-built guest booted to its shell prompt on 1 vCPU on
// the interpreter, the translator and QEMU TCG (boots alternated, the median of each engine's
// boots shown), through the measurement `bench linux` uses.

import Foundation
import Hypervisor
import RISCVTranslator

/// Measures the boot row.
struct LinuxBootRow {
    var images: GuestLinuxImages
    var runs: Int
    var memory: Int
    /// QEMU binary, or nil when it is not installed.
    var qemu: String?

    func measure() throws -> CPUBenchRow {
        let m = LinuxBootMeasurement(images: images, memory: memory, qemu: qemu ?? "")
        let engines = CPUEngine.allCases.filter(\.isAvailable).map(\.rawValue)
        var boots: [String: [LinuxBootMeasurement.Boot]] = [:]
        for _ in 0..<runs {
            for e in engines { boots[e, default: []].append(try m.boot(switchboardWith: e, cpus: 1, idle: false)) }
            if qemu != nil { boots["qemu", default: []].append(try m.boot(qemuWith: 1, idle: false)) }
        }
        var figures: [String: CPUBenchFigure] = [:]
        for (engine, list) in boots {
            guard let prompt = LinuxBootMeasurement.median(list.map(\.promptSeconds)) else { continue }
            var f = CPUBenchFigure(seconds: prompt)
            f.extra["boots_prompt_s"] = list.map { round3($0.promptSeconds) }
            f.extra["first_line_s"] = LinuxBootMeasurement.median(list.map(\.firstLineSeconds)).map(round3)
            if let i = list.first?.instructionsToInit { f.extra["instructions_to_init"] = i }
            figures[engine] = f
        }
        return CPUBenchRow(kind: .linux, size: ["runs": runs, "cpus": 1, "memory_mib": memory, "images": images.directory],
                           figures: figures, note: qemu == nil ? "QEMU not installed: its column skipped" : nil)
    }
}
