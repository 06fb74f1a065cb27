// LinuxNetworkBench: two Linux VMs (the Tools/guest-linux initramfs) on one link, in the same
// run on Switchboard (two VMs on a switch) and on QEMU (two processes joined by a loopback
// socket netdev): busybox ping's round-trip times, and a 16 MiB TCP transfer with busybox nc
// timed by `time -p`.

import Foundation
import Hypervisor
import VMHost

struct LinuxNetworkBench {
    let images: GuestLinuxImages
    let qemu: String?
    let memory: Int

    /// The transfer's size and the commands both sides type.
    static let megabytes = 16
    // Markers are echoed as `net""-up`: the console echoes what is typed, and the echo must not
    // match before the command has run. (The server's nc must keep its stdin open: busybox nc
    // half-closes at stdin EOF, and the client quits when it sees that.)
    static let serverCommand = "nc -l -p 5001 > /dev/null; echo server\"\"-done"
    static let pingCommand = "ping -c 10 10.0.0.2"
    static let transferCommand = "time -p sh -c 'dd if=/dev/zero bs=65536 count=\(megabytes * 16) 2>/dev/null | nc 10.0.0.2 5001'"
    static func configure(_ ip: String) -> String { "ip addr add \(ip)/24 dev eth0 && ip link set eth0 up && echo net\"\"-up" }

    /// What one side measured.
    struct Figures {
        var rtt: (min: Double, avg: Double, max: Double)?
        var transferSeconds: Double?
        var mbitPerSecond: Double? { transferSeconds.map { Double(LinuxNetworkBench.megabytes) * 8 * 1.048576 / $0 } }
    }

    /// Parses busybox ping's summary and `time -p`'s real line out of a console transcript.
    static func parse(_ console: String) -> Figures {
        var f = Figures()
        for line in console.replacingOccurrences(of: "\r", with: "").split(separator: "\n") {
            if let r = line.range(of: "round-trip min/avg/max = ") {
                let nums = line[r.upperBound...].split(separator: " ")[0].split(separator: "/").compactMap { Double($0) }
                if nums.count == 3 { f.rtt = (nums[0], nums[1], nums[2]) }
            } else if line.hasPrefix("real "), let s = Double(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) {
                f.transferSeconds = s
            }
        }
        return f
    }

    func run() throws -> (rows: [(String, String, String)], json: [String: Any]) {
        let ours = try switchboard()
        let theirs = try qemu.map { try qemuPair($0) }
        func rtt(_ f: Figures?) -> String {
            guard let r = f?.rtt else { return "-" }
            return String(format: "%.2f / %.2f / %.2f ms", r.min, r.avg, r.max)
        }
        func tcp(_ f: Figures?) -> String {
            guard let s = f?.transferSeconds, let m = f?.mbitPerSecond else { return "-" }
            return String(format: "%.1f Mbit/s (%.2f s)", m, s)
        }
        var json: [String: Any] = [:]
        for (name, f) in [("switchboard", ours), ("qemu", theirs)] {
            guard let f else { continue }
            var d: [String: Any] = [:]
            if let r = f.rtt { d["rtt_ms"] = ["min": r.min, "avg": r.avg, "max": r.max] }
            if let s = f.transferSeconds { d["tcp_seconds"] = s }
            if let m = f.mbitPerSecond { d["tcp_mbit_s"] = m }
            json[name] = d
        }
        return ([("2 VMs: ping rtt min/avg/max", rtt(ours), rtt(theirs)),
                 ("2 VMs: TCP \(Self.megabytes) MiB (busybox nc)", tcp(ours), tcp(theirs))], json)
    }

    /// Two VMs on one switch port each, driven by expect scripts.
    func switchboard() throws -> Figures {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-linux-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func vm(_ name: String, _ mac: String, _ port: String, _ steps: [(String, String)]) -> String {
            let expect = steps.map { #"{"wait": \#(quote($0.0)), "send": \#(quote($0.1)), "timeout_seconds": 600}"# }.joined(separator: ", ")
            return """
            {"name": "\(name)", "memory_mib": \(memory), "kernel": \(quote(images.kernel)), "initrd": \(quote(images.initramfs)),
             "bootargs": "console=ttyS0", "nics": [{"mac": "\(mac)", "switch": "sw0", "port": "\(port)"}],
             "console": {"log": \(quote(dir.appendingPathComponent(name + ".log").path))}, "expect": [\(expect)]}
            """
        }
        let json = """
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}, {"name": "p2"}]}],
         "vms": [
          \(vm("client", "52:54:00:00:00:01", "p1", [("guest# ", Self.configure("10.0.0.1")), ("net-up", "sleep 3; " + Self.pingCommand),
                                                    ("round-trip", Self.transferCommand), ("real ", "poweroff -f")])),
          \(vm("server", "52:54:00:00:00:02", "p2", [("guest# ", Self.configure("10.0.0.2")), ("net-up", Self.serverCommand),
                                                    ("server-done", "poweroff -f")]))
         ]}
        """
        let vms = try BenchTopology.runVMs(json: json, appliance: nil, timeout: 900, file: dir.appendingPathComponent("linux.json").path)
        guard let client = vms.first(where: { $0.name == "client" }) else { return Figures() }
        return Self.parse(client.console.recentLines.joined(separator: "\n"))
    }

    /// Two QEMUs joined by a loopback socket netdev, typed into the same way.
    func qemuPair(_ qemu: String) throws -> Figures {
        let port = 21_000 + Int(getpid()) % 20_000
        func session(_ mac: String, _ net: String) -> GuestSession {
            GuestSession(executable: qemu, arguments: [
                "-M", "virt", "-smp", "1", "-m", String(memory), "-nographic", "-monitor", "none", "-serial", "stdio",
                "-bios", LinuxBootMeasurement.openSBI, "-kernel", images.kernel, "-initrd", images.initramfs, "-append", "console=ttyS0",
                "-netdev", "socket,id=n0,\(net)=127.0.0.1:\(port)", "-device", "virtio-net-device,netdev=n0,mac=\(mac)"])
        }
        let server = session("52:54:00:00:00:02", "listen")
        try server.run()
        usleep(300_000)
        let client = session("52:54:00:00:00:01", "connect")
        try client.run()
        defer { server.finish(timeout: 0); client.finish(timeout: 0) }
        guard let sp = server.waitFor("guest# ", timeout: 600), let cp = client.waitFor("guest# ", timeout: 600) else { return Figures() }
        server.type(Self.configure("10.0.0.2"))
        guard let sn = server.waitFor("net-up", from: sp.end, timeout: 60) else { return Figures() }
        server.type(Self.serverCommand)
        _ = sn
        client.type(Self.configure("10.0.0.1"))
        guard let cn = client.waitFor("net-up", from: cp.end, timeout: 60) else { return Figures() }
        client.type("sleep 3; " + Self.pingCommand)
        guard let pinged = client.waitFor("round-trip", from: cn.end, timeout: 120) else { return Self.parse(client.console) }
        client.type(Self.transferCommand)
        _ = client.waitFor("real ", from: pinged.end, timeout: 600)
        _ = client.waitFor("\n", from: client.length, timeout: 5)
        return Self.parse(client.console)
    }
}

/// A JSON string literal.
private func quote(_ s: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [s])) ?? Data("[\"\"]".utf8)
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}
