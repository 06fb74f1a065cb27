// HostAttachmentTests: ports attached to host devices, end to end with `switchboard run`
// (root only; skipped with a reason elsewhere): a libpcap port on a veth whose peer sits in
// a namespace (ping, iperf3 TCP), a TAP port (created with its MTU, deleted under the
// running switch, removed at exit), VXLAN between two switchboard processes on loopback,
// and VXLAN to the Linux kernel's vxlan device bridged in a namespace.
import ControlProtocol
import Foundation
import Testing
import HostNetworking
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Writes a topology file into `directory`.
func writeTopology(_ json: String, named name: String, in directory: TemporaryDirectory) throws -> String {
    let path = directory.file(name)
    try json.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite(.serialized) struct HostAttachmentTests {
    @Test func pcapPortOnAVethWhosePeerIsInANamespace() throws {
        guard NamespaceLab.skipReason("pcap port", tools: ["ping", "iperf3"]) == nil else { return }
        let peerNS = "sb-pcpeer"
        IPCommand.attempt(["netns", "delete", peerNS])
        IPCommand.attempt(["link", "delete", "sbpc0"])
        defer {
            IPCommand.attempt(["netns", "delete", peerNS])
            IPCommand.attempt(["link", "delete", "sbpc0"])
        }
        try IPCommand.run(["netns", "add", peerNS])
        try IPCommand.run(["link", "add", "sbpc0", "type", "veth", "peer", "name", "sbpc1"])
        try NetworkInterface("sbpc0").disableOffloads()
        try NetworkInterface("sbpc1").disableOffloads()
        try IPCommand.run(["link", "set", "sbpc1", "netns", peerNS])
        try IPCommand.run(["-n", peerNS, "addr", "add", "10.50.0.1/24", "dev", "sbpc1"])
        try IPCommand.run(["-n", peerNS, "link", "set", "sbpc1", "up"])
        try IPCommand.run(["link", "set", "sbpc0", "up"])

        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try writeTopology("""
        {"version": 1, "name": "pcap-veth",
         "switches": [{"name": "sw0", "ports": [
            {"name": "p", "attach": {"type": "pcap", "interface": "sbpc0"}},
            {"name": "h"}]}],
         "hosts": [{"name": "pc2", "switch": "sw0", "port": "h", "ip": "10.50.0.2/24"}]}
        """, named: "pcap.json", in: dir)
        let run = try SwitchboardRun(file)
        defer { run.stop() }
        try #require(run.isReady, "switchboard run did not come up: \(run.stop()) \(run.stderr)")
        #expect(NamespaceLab.ping(from: peerNS, "10.50.0.2"))
        let server = NamespaceLab.spawn("sb-pc2", ["iperf3", "-s", "-1", "-B", "10.50.0.2"])
        defer { NamespaceLab.end(server) }
        usleep(300_000)
        let iperf = NamespaceLab.exec(peerNS, ["timeout", "20", "iperf3", "-c", "10.50.0.2", "-t", "1", "-J"])
        #expect(iperf.status == 0, "iperf3: \(iperf.output.suffix(300))")
        let stats = try run.request(.stats(switchName: nil))
        let p = stats.stats?.first?.ports.first { $0.name == "p" }
        #expect(p?.device == "pcap sbpc0")
        #expect((p?.rxFrames ?? 0) > 100)
        #expect(run.stop() == 0, "\(run.stderr)")
        #expect(!NamespaceLab.namespaces().contains("sb-pc2"))
        #expect(try NetworkInterface("sbpc0").exists, "a pcap port leaves the interface it did not create")
    }

    @Test func tapPortIsCreatedWithItsMTUAndGoesDownWhenDeleted() throws {
        guard NamespaceLab.skipReason("tap port") == nil else { return }
        IPCommand.attempt(["link", "delete", "sbtapT"])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try writeTopology("""
        {"version": 1, "name": "tap-port",
         "switches": [{"name": "sw0", "ports": [
            {"name": "t", "attach": {"type": "tap", "device": "sbtapT", "mtu": 1400}},
            {"name": "a"}, {"name": "b"}]}],
         "hosts": [{"name": "ta", "switch": "sw0", "port": "a", "ip": "10.51.0.1/24"},
                   {"name": "tb", "switch": "sw0", "port": "b", "ip": "10.51.0.2/24"}]}
        """, named: "tap.json", in: dir)
        let run = try SwitchboardRun(file)
        defer { run.stop() }
        try #require(run.isReady, "switchboard run did not come up: \(run.stop()) \(run.stderr)")
        let tap = try NetworkInterface("sbtapT")
        #expect(tap.exists)
        #expect(try tap.mtu() == 1400)
        #expect(try tap.isUp())
        IPCommand.attempt(["link", "delete", "sbtapT"])
        #expect(NamespaceLab.waitUntil { NamespaceLab.portUp(run, "sw0", "t") == false })
        let stats = try run.request(.stats(switchName: nil))
        let t = stats.stats?.first?.ports.first { $0.name == "t" }
        #expect(t?.up == false, "\(String(describing: t))")
        #expect(NamespaceLab.ping(from: "sb-ta", "10.51.0.2"), "the other ports keep forwarding")
        #expect(run.stop() == 0, "\(run.stderr)")
        #expect(run.stderr.contains("port sw0:t down"), "\(run.stderr)")
        #expect(!tap.exists)
    }

    @Test func vxlanBetweenTwoSwitchboards() throws {
        guard NamespaceLab.skipReason("vxlan between processes") == nil else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func side(_ me: String, _ host: String, _ ip: String, _ local: Int, _ remote: Int) throws -> String {
            try writeTopology("""
            {"version": 1, "name": "vx-\(me)",
             "switches": [{"name": "sw-\(me)", "ports": [
                {"name": "h"},
                {"name": "vx", "mode": "trunk", "allowed_vlans": [1], "attach": {"type": "vxlan",
                 "remote": "127.0.0.1", "local": "127.0.0.1", "vni": 4242, "local_port": \(local), "remote_port": \(remote)}}]}],
             "hosts": [{"name": "\(host)", "switch": "sw-\(me)", "port": "h", "ip": "\(ip)"}]}
            """, named: "vx-\(me).json", in: dir)
        }
        let a = try SwitchboardRun(try side("a", "va1", "10.60.0.1/24", 47901, 47902))
        defer { a.stop() }
        let b = try SwitchboardRun(try side("b", "vb1", "10.60.0.2/24", 47902, 47901))
        defer { b.stop() }
        try #require(a.isReady && b.isReady, "switchboard runs did not come up: \(a.stderr) \(b.stderr)")
        #expect(NamespaceLab.ping(from: "sb-va1", "10.60.0.2"))
        #expect(NamespaceLab.ping(from: "sb-vb1", "10.60.0.1"))
        let fdb = try a.request(.fdb(switchName: "sw-a"))
        #expect(fdb.fdb?.contains { $0.port == "vx" } == true, "the remote host is learned on the tunnel port")
        #expect(a.stop() == 0 && b.stop() == 0, "\(a.stderr) \(b.stderr)")
    }

    @Test func vxlanToTheLinuxKernelsVXLANDevice() throws {
        guard NamespaceLab.skipReason("vxlan with the kernel") == nil else { return }
        let underlay = "sb-vxu", kernel = "sb-vxk"
        func cleanup() {
            for ns in [underlay, kernel] { IPCommand.attempt(["netns", "delete", ns]) }
            IPCommand.attempt(["link", "delete", "sbvxu0"])
        }
        cleanup()
        defer { cleanup() }
        // Underlay: 10.99.0.1 (switchboard's namespace) <-> 10.99.0.2 (the kernel's).
        try IPCommand.run(["netns", "add", underlay])
        try IPCommand.run(["netns", "add", kernel])
        try IPCommand.run(["link", "add", "sbvxu0", "type", "veth", "peer", "name", "sbvxk0"])
        try IPCommand.run(["link", "set", "sbvxu0", "netns", underlay])
        try IPCommand.run(["link", "set", "sbvxk0", "netns", kernel])
        try IPCommand.run(["-n", underlay, "addr", "add", "10.99.0.1/24", "dev", "sbvxu0"])
        try IPCommand.run(["-n", kernel, "addr", "add", "10.99.0.2/24", "dev", "sbvxk0"])
        for (ns, dev) in [(underlay, "sbvxu0"), (kernel, "sbvxk0"), (underlay, "lo"), (kernel, "lo")] {
            try IPCommand.run(["-n", ns, "link", "set", dev, "up"])
        }
        // The kernel side: a vxlan device bridged with br0, which holds the overlay address.
        try IPCommand.run(["-n", kernel, "link", "add", "vx42", "type", "vxlan", "id", "42", "local", "10.99.0.2",
                           "remote", "10.99.0.1", "dstport", "4789", "dev", "sbvxk0"])
        try IPCommand.run(["-n", kernel, "link", "add", "br0", "type", "bridge"])
        try IPCommand.run(["-n", kernel, "link", "set", "vx42", "master", "br0"])
        try IPCommand.run(["-n", kernel, "addr", "add", "10.70.0.2/24", "dev", "br0"])
        try IPCommand.run(["-n", kernel, "link", "set", "vx42", "up"])
        try IPCommand.run(["-n", kernel, "link", "set", "br0", "up"])

        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = try writeTopology("""
        {"version": 1, "name": "vx-kernel",
         "switches": [{"name": "sw0", "ports": [
            {"name": "h"},
            {"name": "vx", "attach": {"type": "vxlan", "remote": "10.99.0.2", "local": "10.99.0.1", "vni": 42}}]}],
         "hosts": [{"name": "kh1", "switch": "sw0", "port": "h", "ip": "10.70.0.1/24"}]}
        """, named: "vx-kernel.json", in: dir)
        let run = try SwitchboardRun(file, namespace: underlay)
        defer { run.stop() }
        try #require(run.isReady, "switchboard run did not come up: \(run.stop()) \(run.stderr)")
        // sb-kh1 was made inside `ip netns exec`'s private mount namespace: enter it to reach it.
        let pid = run.process.processIdentifier
        let ping = NamespaceLab.exec(underlay, ["nsenter", "-t", "\(pid)", "-m", "ip", "netns", "exec", "sb-kh1",
                                               "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "10.70.0.2"])
        #expect(ping.status == 0, "switchboard host -> kernel bridge over VXLAN: \(ping.output)")
        #expect(NamespaceLab.ping(from: kernel, "10.70.0.1"), "kernel bridge -> switchboard host over VXLAN")
        #expect(run.stop() == 0, "\(run.stderr)")
    }
}
