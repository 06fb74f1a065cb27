// One boot of the Debian-built Linux guest (Tools/guest-linux) to its shell prompt, on
// Switchboard (`switchboard vm` in a child process, builtin SBI, either CPU engine) or on QEMU
// TCG (Debian's OpenSBI fw_jump), timed from the spawn through the serial console: seconds to
// the initramfs's first line and to its prompt, optionally the host CPU of the idle booted
// guest, and ours' instructions to init and exits by reason. `bench linux` and the Linux row
// of `bench cpu` both boot through it.

import Foundation
import ArgumentParser
import Hypervisor

/// Boots the Linux guest images and times the boot.
struct LinuxBootMeasurement {
    /// Debian's OpenSBI, QEMU's firmware for the guest.
    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
    /// What the initramfs's /init prints first, and its shell prompt (Tools/guest-linux.d).
    static let firstLine = "switchboard-guest: initramfs up"
    static let prompt = "guest# "
    static let commandLine = "console=ttyS0"

    /// One boot.
    struct Boot: Encodable {
        var firstLineSeconds: Double
        var promptSeconds: Double
        var idleCPUPercent: Double?
        var instructionsToInit: UInt64?
        var exits: [String: UInt64]?
    }

    var images: GuestLinuxImages
    /// Guest RAM in MiB.
    var memory: Int
    /// QEMU binary.
    var qemu: String
    /// Seconds of idle CPU measurement after the prompt (when a boot asks for it).
    var idleSeconds: Double = 10

    /// One boot on Switchboard (`switchboard vm`, builtin SBI) with `engine`.
    func boot(switchboardWith engine: String, cpus: Int, idle: Bool) throws -> Boot {
        let s = GuestSession(executable: GuestSession.selfExecutable, arguments: [
            "vm", "--kernel", images.kernel, "--initrd", images.initramfs, "--append", Self.commandLine,
            "--cpus", String(cpus), "--memory", String(memory), "--stats", "--report-at", Self.firstLine, "--timeout", "900",
            "--engine", engine])
        return try measure(s, name: "switchboard \(engine)", idle: idle)
    }

    /// One boot on QEMU with Debian's OpenSBI.
    func boot(qemuWith cpus: Int, idle: Bool) throws -> Boot {
        let s = GuestSession(executable: qemu, arguments: [
            "-M", "virt", "-smp", String(cpus), "-m", String(memory), "-nographic", "-monitor", "none", "-serial", "stdio",
            "-bios", Self.openSBI, "-kernel", images.kernel, "-initrd", images.initramfs, "-append", Self.commandLine])
        return try measure(s, name: "qemu", idle: idle)
    }

    private func measure(_ s: GuestSession, name: String, idle: Bool) throws -> Boot {
        try s.run()
        guard let first = s.waitFor(Self.firstLine, timeout: 900) else {
            s.finish(timeout: 0)
            throw ValidationError("\(name): the initramfs never printed \"\(Self.firstLine)\"; console:\n\(s.console.suffix(2000))")
        }
        guard let prompt = s.waitFor(Self.prompt, from: first.end, timeout: 300) else {
            s.finish(timeout: 0)
            throw ValidationError("\(name): no shell prompt; console:\n\(s.console.suffix(2000))")
        }
        var idlePercent: Double? = nil
        if idle {
            Thread.sleep(forTimeInterval: 1)
            if let a = s.cpuSeconds() {
                Thread.sleep(forTimeInterval: idleSeconds)
                if let b = s.cpuSeconds() { idlePercent = (b - a) / idleSeconds * 100 }
            }
        }
        s.type("poweroff -f")
        s.finish(timeout: 60)
        var boot = Boot(firstLineSeconds: first.seconds, promptSeconds: prompt.seconds, idleCPUPercent: idlePercent)
        let err = s.stderr
        if let r = err.range(of: "after "), let end = err[r.upperBound...].firstIndex(of: " ") {
            boot.instructionsToInit = UInt64(err[r.upperBound..<end])
        }
        var exits: [String: UInt64] = [:]
        var inTable = false
        for line in err.split(separator: "\n") {
            if line.hasPrefix("exits ") && !line.hasPrefix("exits hart") { inTable = true; continue }
            if line.hasPrefix("exits hart") || line.hasPrefix("instructions") { inTable = false; continue }
            if inTable, line.hasPrefix("  ") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let n = UInt64(parts[1]) { exits[String(parts[0])] = n }
            }
        }
        if !exits.isEmpty { boot.exits = exits }
        return boot
    }

    /// The median of `xs` (nil when empty).
    static func median(_ xs: [Double]) -> Double? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
