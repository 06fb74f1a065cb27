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
        // awk computes in doubles: its arithmetic and glibc's printf run the F/D instructions.
        vm.type("awk 'BEGIN { printf \"fp-%.6f-%.3e-\" \"done\\n\", 22 / 7, 1e-9 / 7 }'")
        #expect(vm.wait(for: "fp-3.142857-1.429e-10-done", from: prompt, timeout: 60) != nil, "\(vm.text.suffix(2000))")
        // ping reads the time CSR from user mode (the vDSO): scounteren must allow it.
        vm.type("ping -c 1 127.0.0.1 > /dev/null && echo pi\"\"ng-ok")
        #expect(vm.wait(for: "ping-ok", from: prompt, timeout: 60) != nil, "\(vm.text.suffix(2000))")
        vm.type("poweroff -f")
        #expect(vm.finish(timeout: 120) == 0, "\(vm.text.suffix(2000))")
    }

    @Test("sb-stress: four threads on two harts get exact totals from AMOs, LR/SC, a spinlock and futexes, the same line QEMU prints")
    func multiThreadedStressMatchesQEMU() throws {
        guard let images = guestLinuxImages(for: "sb-stress") else { return }
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            Issue.record("no release build at \(Self.binary) (Tools/test builds one)"); return
        }
        let command = "sb-stress 4 200000 && echo stress\"\"-passed"
        /// Boots, runs the stress and returns its line of totals.
        func stress(_ executable: String, _ arguments: [String]) throws -> String {
            let vm = try ConsoleProcess(executable, arguments)
            defer { _ = vm.finish(timeout: 0) }
            let prompt = try #require(vm.wait(for: "guest# ", timeout: 300), "\(vm.text.suffix(3000))")
            vm.type(command)
            let passed = try #require(vm.wait(for: "stress-passed", from: prompt, timeout: 300), "\(vm.text.suffix(3000))")
            let text = String(decoding: Array(vm.text.utf8)[prompt..<passed], as: UTF8.self)
            let line = try #require(text.split(whereSeparator: \.isNewline).first { $0.hasPrefix("sb-stress: ") }, "\(text)")
            vm.type("poweroff -f")
            _ = vm.finish(timeout: 60)
            return String(line)
        }
        let ours = try stress(Self.binary, ["vm", "--kernel", images + "/Image", "--initrd", images + "/initramfs.cpio.gz",
                                            "--append", "console=ttyS0", "--cpus", "2", "--memory", "256", "--timeout", "600"])
        #expect(ours.hasSuffix(": ok"), "\(ours)")
        #expect(ours.contains("threads 4 iterations 200000 add 800000 cas 2400000 spin 800000 torn 0"), "\(ours)")
        guard let qemu = ExternalTool.find("qemu-system-riscv64") else {
            print("sb-stress: QEMU is not installed, so only the arithmetic was checked"); return
        }
        let theirs = try stress(qemu.path, ["-M", "virt", "-smp", "2", "-m", "256", "-nographic", "-monitor", "none", "-serial", "stdio",
                                            "-bios", Self.openSBI, "-kernel", images + "/Image", "-initrd", images + "/initramfs.cpio.gz",
                                            "-append", "console=ttyS0"])
        print("sb-stress on Switchboard: \(ours)\nsb-stress on QEMU:        \(theirs)")
        #expect(ours == theirs)
    }

    @Test("a two-hart Linux guest running sb-stress migrates a -> b -> a -> b -> a; every ping is answered and every total is right")
    func aTwoHartLinuxGuestMigrates() throws {
        guard let images = guestLinuxImages(for: "Linux guest migration") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let root = namespacesAvailable(for: "the Linux migration's pinging namespace host")
        let host = root ? """
        , "hosts": [{"name": "pinger", "hypervisor": "a", "switch": "sw0", "port": "pinger", "ip": "10.0.30.9/24",
                     "ping": {"to": "10.0.30.1", "interval_ms": 50, "count": 240}}]
        """ : ""
        // (The pings, 12 s from the first answer, end before the guest powers off.)
        // Twelve rounds of the stress, a second apart, while the VM moves every two seconds:
        // both harts' registers, their pending timers and IPIs, and the memory the threads
        // hammer all cross four times.
        let json = """
        {"version": 1,
         "hypervisors": [{"name": "a", "address": "127.0.0.1"}, {"name": "b", "address": "127.0.0.2"}],
         "switches": [{"name": "sw0", "ports": [{"name": "vm"}, {"name": "pinger"}]}],
         "vms": [{"name": "linux", "hypervisor": "a", "cpus": 2, "memory_mib": 128,
                  "kernel": "\(images)/Image", "initrd": "\(images)/initramfs.cpio.gz",
                  "bootargs": "console=ttyS0 sb.ip=10.0.30.1/24",
                  "nics": [{"mac": "52:54:00:00:00:31", "switch": "sw0", "port": "vm"}],
                  "console": {"log": "linux.log"},
                  "expect": [{"wait": "guest# ", "send": "for i in $(seq 12); do sb-stress 4 100000 || echo B\\\"\\\"AD; sleep 1; done; echo loop\\\"\\\"-done", "timeout_seconds": 300},
                             {"wait": "loop-done", "send": "poweroff -f", "timeout_seconds": 300}]}],
         "migrations": [{"vm": "linux", "to": "b", "at": 4}, {"vm": "linux", "to": "a", "at": 6},
                        {"vm": "linux", "to": "b", "at": 8}, {"vm": "linux", "to": "a", "at": 10}]\(host)}
        """
        let file = dir.path + "/linux-migration.json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", file, "--json"], in: dir.path, binary: Self.binary)
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(3000))")
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(summary["ok"] as? Bool == true)
        let migrations = try #require(summary["migrations"] as? [[String: Any]])
        #expect(migrations.count == 4, "\(migrations)")
        for m in migrations { #expect(m["lost"] as? Int == 0, "\(m)") }
        let vms = try #require(summary["vms"] as? [[String: Any]])
        #expect(vms.first { $0["name"] as? String == "linux" }?["state"] as? String == "powered off (pass)", "\(vms)")
        let log = try String(contentsOfFile: dir.path + "/linux.log", encoding: .utf8)
        let lines = log.split(whereSeparator: \.isNewline)
        #expect(lines.filter { $0.hasPrefix("sb-stress: threads 4 iterations 100000 add 400000 cas 1200000 spin 400000 torn 0") && $0.hasSuffix(": ok") }.count == 12,
                "\(log.suffix(3000))")
        #expect(!lines.contains { $0 == "BAD" }, "\(log.suffix(3000))")
        if root {
            let pings = try #require(summary["pings"] as? [[String: Any]])
            let ping = try #require(pings.first)
            #expect((ping["received"] as? Int ?? 0) > 0 && ping["lost"] as? Int == 0, "\(ping)")
        }
    }

    /// Topologies/linux.json with absolute image paths and its overlays in `dir`; without the
    /// namespace host when not root.
    static func linuxTopology(images: String, in dir: String, withHost: Bool) throws -> String {
        let text = try CLI.linuxTopologyText("linux.json", images: images, in: dir)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        if !withHost { json["hosts"] = nil }
        let file = dir + "/linux.json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Runs `tool args...`; its status and output.
    static func tool(_ name: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let t = try #require(ExternalTool.find(name), "\(name) is not installed")
        return try t.run(args)
    }

    /// The CPU engines the topology scenarios run on, always named (`run --engine`): the
    /// default engine differs between hosts.
    static let engines: [String] = {
        #if arch(x86_64)
        return ["interpret", "translate"]
        #else
        return ["interpret"]
        #endif
    }()

    @Test("Topologies/linux.json on each engine (run --engine): two Linux VMs (1 and 2 vCPUs) ping, move 1 MiB over TCP, write, sync and power off clean",
          arguments: engines)
    func linuxTopology(engine: String) throws {
        try runLinuxTopology(engine: engine)
    }

    func runLinuxTopology(engine: String) throws {
        guard let images = guestLinuxImages(for: "Topologies/linux.json") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let root = getuid() == 0
        if !root { print("Topologies/linux.json without its namespace host h1: not root") }
        let file = try Self.linuxTopology(images: images, in: dir.path, withHost: root)
        let r = try CLI.run(["run", file, "--json", "--engine", engine], in: dir.path, binary: Self.binary)
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(4000))")
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(summary["ok"] as? Bool == true)
        #expect(summary["stop_reason"] as? String == "every VM powered off")
        let vms = try #require(summary["vms"] as? [[String: Any]])
        #expect(vms.map { $0["state"] as? String } == ["powered off (pass)", "powered off (pass)"], "\(vms)")
        #expect(r.stdout.contains("vm2 | 1048576"))
        if root {
            let pings = try #require(summary["pings"] as? [[String: Any]])
            #expect((pings.first?["received"] as? Int ?? 0) > 0, "the namespace host never reached vm1: \(pings)")
        }
        // The overlays are sound, their filesystems clean, and the files the guests wrote are there.
        for (vm, note) in [("vm1", "written-by-vm1"), ("vm2", "written-by-vm2")] {
            let overlay = dir.path + "/linux-\(vm).qcow2"
            #expect(try Self.tool("qemu-img", ["check", overlay]).status == 0)
            let raw = dir.path + "/\(vm).raw"
            #expect(try Self.tool("qemu-img", ["convert", "-O", "raw", overlay, raw]).status == 0)
            let fsck = try Self.tool("e2fsck", ["-fn", raw])
            #expect(fsck.status == 0, "\(fsck.output)")
            #expect(try Self.tool("debugfs", ["-R", "cat /root/note", raw]).output.contains(note))
        }
        // The base image is untouched (it is shared).
        #expect(try Self.tool("e2fsck", ["-fn", images + "/rootfs.ext4"]).status == 0)
    }

    @Test("a write the guest synced survives kill -9 of the host process")
    func syncedWriteSurvivesKill() throws {
        guard let images = guestLinuxImages(for: "kill -9 durability") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let json = """
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}]}],
         "vms": [{"name": "d", "memory_mib": 256, "kernel": "\(images)/Image", "bootargs": "console=ttyS0 root=/dev/vda rw",
                  "disks": [{"path": "\(dir.path)/d.qcow2", "format": "qcow2", "base": "\(images)/rootfs.ext4"}],
                  "console": {"stdout": true},
                  "expect": [{"wait": "guest# ", "send": "echo survives-kill-9 > /root/durable && sync && echo sync\\"\\"ed; sleep 1000", "timeout_seconds": 300},
                             {"wait": "synced", "send": "", "timeout_seconds": 60},
                             {"wait": "never printed", "timeout_seconds": 600}]}]}
        """
        let file = dir.path + "/durable.json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try ConsoleProcess(Self.binary, ["run", file, "--control", dir.path + "/c.sock"])
        defer { _ = run.finish(timeout: 0) }
        #expect(run.wait(for: "d | synced", timeout: 300) != nil, "\(run.text.suffix(3000))")
        kill(run.process.processIdentifier, SIGKILL)
        _ = run.finish(timeout: 10)
        let check = try Self.tool("qemu-img", ["check", dir.path + "/d.qcow2"])
        // 0: clean; 3: only leaked clusters (allocated, unreferenced), which lose no data.
        #expect(check.status == 0 || check.status == 3, "\(check.output)")
        let raw = dir.path + "/d.raw"
        #expect(try Self.tool("qemu-img", ["convert", "-O", "raw", dir.path + "/d.qcow2", raw]).status == 0)
        // The journal holds what sync committed: replay it, then read the file.
        _ = try Self.tool("e2fsck", ["-fy", raw])
        #expect(try Self.tool("debugfs", ["-R", "cat /root/durable", raw]).output.contains("survives-kill-9"))
    }

    @Test("a guest kernel that panics is reported in the run summary and stops nothing else")
    func aPanicIsReportedAndContained() throws {
        guard let images = guestLinuxImages(for: "guest panic containment") else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // No root filesystem: Linux panics ("VFS: Unable to mount root fs"); the other VM boots.
        let json = """
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}, {"name": "p2"}]}],
         "vms": [{"name": "broken", "memory_mib": 128, "kernel": "\(images)/Image", "bootargs": "console=ttyS0 root=/dev/vda",
                  "nics": [{"mac": "52:54:00:00:00:01", "switch": "sw0", "port": "p1"}],
                  "expect": [{"wait": "guest# ", "send": "poweroff -f", "timeout_seconds": 20}]},
                 {"name": "healthy", "memory_mib": 128, "kernel": "\(images)/Image", "initrd": "\(images)/initramfs.cpio.gz",
                  "bootargs": "console=ttyS0", "nics": [{"mac": "52:54:00:00:00:02", "switch": "sw0", "port": "p2"}],
                  "expect": [{"wait": "guest# ", "send": "sleep 5; poweroff -f", "timeout_seconds": 120}]}]}
        """
        let file = dir.path + "/panic.json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", file, "--json"], in: dir.path, binary: Self.binary)
        #expect(r.status != 0)
        #expect(r.stderr.contains("VM broken: guest kernel panic: Kernel panic - not syncing: VFS: Unable to mount root fs"), "\(r.stderr)")
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let vms = try #require(summary["vms"] as? [[String: Any]])
        let broken = try #require(vms.first { $0["name"] as? String == "broken" })
        let healthy = try #require(vms.first { $0["name"] as? String == "healthy" })
        #expect((broken["panic"] as? String)?.hasPrefix("Kernel panic - not syncing") == true, "\(broken)")
        #expect(healthy["state"] as? String == "powered off (pass)", "\(healthy)")
        #expect(healthy["panic"] == nil)
    }

    @Test("a guest flooding interrupts and one stuck in a fault loop are reported; a Linux guest beside them boots and is reached over the switch")
    func trapStormsAreReportedAndContained() throws {
        guard let images = guestLinuxImages(for: "trap storm containment") else { return }
        guard let guests = try RISCVGuestImages.build(for: "trap storm containment") else { return }
        defer { guests.directory.remove() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let root = getuid() == 0
        if !root { print("trap storm containment without its namespace host: not root") }
        // irqflood as M-mode firmware: a timer interrupt it never clears. The same program as an
        // S-mode kernel under the builtin SBI: its first `csrw mtvec` traps to an stvec of 0,
        // where fetching faults again, forever (a guest that never boots).
        let host = root ? """
        , "hosts": [{"name": "h1", "switch": "sw0", "port": "h1", "ip": "10.0.20.100/24",
                     "ping": {"to": "10.0.20.1", "interval_ms": 200}}]
        """ : ""
        let json = """
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}, {"name": "p2"}, {"name": "p3"}, {"name": "h1"}]}],
         "vms": [{"name": "flood", "memory_mib": 64, "firmware": "\(guests.elf("irqflood"))",
                  "nics": [{"mac": "52:54:00:00:00:01", "switch": "sw0", "port": "p1"}]},
                 {"name": "faulting", "memory_mib": 64, "kernel": "\(guests.elf("irqflood"))",
                  "nics": [{"mac": "52:54:00:00:00:02", "switch": "sw0", "port": "p2"}]},
                 {"name": "healthy", "memory_mib": 128, "kernel": "\(images)/Image", "initrd": "\(images)/initramfs.cpio.gz",
                  "bootargs": "console=ttyS0", "nics": [{"mac": "52:54:00:00:00:03", "switch": "sw0", "port": "p3"}],
                  "expect": [{"wait": "guest# ", "send": "ip addr add 10.0.20.1/24 dev eth0 && ip link set eth0 up && sleep 8 && poweroff -f",
                              "timeout_seconds": 300}]}]\(host)}
        """
        let file = dir.path + "/storm.json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", file, "--json", "--duration", "120"], in: dir.path, binary: Self.binary)
        #expect(r.status == 0, "\(r.stderr.suffix(2000)) \(r.stdout.suffix(3000))")
        #expect(r.stderr.contains("warning: VM flood: interrupt storm on vCPU 0"), "\(r.stderr)")
        #expect(r.stderr.contains("warning: VM faulting: exception loop on vCPU 0"), "\(r.stderr)")
        #expect(!r.stderr.contains("VM healthy:"), "\(r.stderr)")
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let vms = try #require(summary["vms"] as? [[String: Any]])
        func storms(_ name: String) -> [[String: Any]] {
            (vms.first { $0["name"] as? String == name }?["trap_storms"] as? [[String: Any]]) ?? []
        }
        #expect(storms("flood").first?["kind"] as? String == "interrupt storm", "\(vms)")
        #expect((storms("flood").first?["instructions_per_trap"] as? Double ?? 99) < 50)
        #expect(storms("faulting").first?["kind"] as? String == "exception loop", "\(vms)")
        #expect(storms("healthy").isEmpty, "\(vms)")
        let healthy = try #require(vms.first { $0["name"] as? String == "healthy" })
        #expect(healthy["state"] as? String == "powered off (pass)", "\(healthy)")
        if root {
            let pings = try #require(summary["pings"] as? [[String: Any]])
            #expect((pings.first?["received"] as? Int ?? 0) > 0, "the switch or the healthy VM stalled: \(pings)")
        }
    }
}
