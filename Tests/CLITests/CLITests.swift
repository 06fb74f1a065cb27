// End-to-end tests of the `switchboard` command: validate, trace, replay, run, bench.

import Capture
import Foundation
import Frames
import Testing
import TestSupport

private let h1 = MACAddress(0x02, 0, 0, 0, 0, 0x01)
private let h2 = MACAddress(0x02, 0, 0, 0, 0, 0x02)
private let h3 = MACAddress(0x02, 0, 0, 0, 0, 0x03)
private let ip1 = IPv4Address(10, 10, 0, 1), ip2 = IPv4Address(10, 10, 0, 2), ip3 = IPv4Address(10, 20, 0, 3)

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

@Suite struct ValidateCommandTests {
    @Test func examplesAreValid() throws {
        let r = try CLI.run(["validate", CLI.topology("vlan-lab.json"), CLI.topology("quickstart.json")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("vlan-lab.json: ok (1 switches, 4 ports, 0 links, 2 captures, 0 VMs, 0 hosts)"))
    }

    @Test func errorsNameFilePathAndReason() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let bad = dir.file("bad.json")
        try #"{"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "a1", "vlna": 10}, {"name": "a2", "vlan": 5000}]}]}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let broken = dir.file("broken.json")
        try #"{"version": 1, "switches": ["#.write(toFile: broken, atomically: true, encoding: .utf8)
        let r = try CLI.run(["validate", CLI.topology("vlan-lab.json"), bad, broken])
        #expect(r.status == 1)
        #expect(r.stdout.contains("vlan-lab.json: ok"))
        #expect(r.stderr.contains("bad.json:1:70: $.switches[0].ports[0].vlna: unknown key \"vlna\"; did you mean \"vlan\"?"), "\(r.stderr)")
        #expect(r.stderr.contains("$.switches[0].ports[1].vlan: VLAN 5000 is outside 1-4094"))
        #expect(r.stderr.contains("broken.json:1:"), "syntax errors carry line:column")
        let missing = try CLI.run(["validate", dir.file("nope.json")])
        #expect(missing.status == 1 && missing.stderr.contains("nope.json"))
    }

    @Test func costLimitsAndControlCharacters() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ok = try CLI.run(["validate", CLI.topology("vlan-lab.json")])
        #expect(ok.stdout.contains("needs 8192 MAC table entries, up to 1 MiB for the switches, 0 MiB of guest memory"), "\(ok.stdout)")
        let big = dir.file("big.json")
        let switches = (0..<257).map { #"{"name":"s\#($0)","ports":[{"name":"p"}]}"# }.joined(separator: ",")
        try #"{"version":1,"switches":[\#(switches)]}"#.write(toFile: big, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["validate", big])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(#"$.switches: 257 switches per topology exceeds the limit "switches" of 256"#), "\(refused.stderr)")
        // A file name and a path with control characters print escaped: one line each, no escape sequence.
        let odd = dir.file("odd\u{1b}[2J.json")
        try #"{"version":1,"switches":[{"name":"sw0","ports":[{"name":"a"}]}],"captures":[{"name":"c","file":"x\u0000\n.pcap","switch":"sw0"}]}"#
            .write(toFile: odd, atomically: true, encoding: .utf8)
        let escaped = try CLI.run(["validate", odd])
        #expect(escaped.status == 1)
        #expect(escaped.stderr.contains(#"odd\u001b[2J.json:1:"#) && escaped.stderr.contains(#""x\u0000\n.pcap" contains the control character U+0000"#),
                "\(escaped.stderr)")
        #expect(!escaped.stderr.contains("\u{1b}") && escaped.stderr.split(separator: "\n").count == 1)
        // capture start refuses such a file before it looks for the instance.
        let capture = try CLI.run(["capture", "start", "sw0", "-w", "a\nb.pcap", "--control", dir.file("none.sock")])
        #expect(capture.status != 0 && capture.stderr.contains(#"invalid capture file "a\nb.pcap""#), "\(capture.stderr)")
        // A name typed on the command line comes back escaped too.
        let trace = try CLI.run(["trace", CLI.topology("vlan-lab.json"), "--switch", "sw\u{1b}]0;x\u{7}", "--frame", "a1:00"])
        #expect(trace.status != 0 && trace.stderr.contains(#"no switch named sw\u001b]0;x\u0007"#), "\(trace.stderr)")
        #expect(!trace.stderr.contains("\u{1b}"))
    }
}

@Suite struct TraceCommandTests {
    @Test func jsonTraceOfTheVLANLab() throws {
        let arp = FrameBuilder.arpRequest(from: h1, ip1, for: ip2)
        let reply = FrameBuilder.ping(from: h2, ip2, to: h1, ip1, vlan: 10)
        let hop = FrameBuilder.ping(from: h3, ip3, to: h1, ip1, vlan: 20)
        let r = try CLI.run(["trace", CLI.topology("vlan-lab.json"), "--switch", "sw0", "--json", "--show-fdb",
                             "--frame", "a1:" + hex(arp), "--frame", "t1:" + hex(reply), "--frame", "a2:" + hex(hop)])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == #"{"action":"flood","frame":1,"out":[{"port":"a2","vlan":null},{"port":"t1","vlan":10}],"reason":"broadcast destination","vlan":10}"#)
        #expect(lines[1] == #"{"action":"forward","frame":2,"out":[{"port":"a1","vlan":null}],"reason":"destination 02:00:00:00:00:01 learned on port a1 in VLAN 10","vlan":10}"#)
        #expect(lines[2] == #"{"action":"drop","frame":3,"out":[],"reason":"tagged-on-access-port","vlan":null}"#)
        #expect(lines[3].hasPrefix(#"{"fdb":[{"mac":"02:00:00:00:00:01","port":"a1","static":false,"vlan":10}"#))
    }

    @Test func badFramesAndPortsAreUsageErrors() throws {
        let r = try CLI.run(["trace", CLI.topology("vlan-lab.json"), "--switch", "sw0", "--frame", "zz:ffff"])
        #expect(r.status != 0 && r.stderr.contains("has no port \"zz\""))
        let odd = try CLI.run(["trace", CLI.topology("vlan-lab.json"), "--switch", "sw0", "--frame", "a1:fff"])
        #expect(odd.status != 0 && odd.stderr.contains("odd number of hex digits"))
        let sw = try CLI.run(["trace", CLI.topology("vlan-lab.json"), "--switch", "nope", "--frame", "a1:ff"])
        #expect(sw.status == 1 && sw.stderr.contains("no switch named nope"))
        let runt = try CLI.run(["trace", CLI.topology("vlan-lab.json"), "--switch", "sw0", "--json", "--frame", "a1:ffff"])
        #expect(runt.status == 0 && runt.stdout.contains(#""reason":"runt""#))
    }
}

@Suite struct ReplayCommandTests {
    /// Replays traffic into vlan-lab and reads every output back with tcpdump and tshark.
    @Test func replayWritesEveryPortAndTheTopologyCaptures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let t = UInt64(1_700_000_000_000_000_000)
        let a1 = try PcapWriter(path: dir.file("a1.pcap"))
        try a1.write(FrameBuilder.arpRequest(from: h1, ip1, for: ip2), timestampNanoseconds: t + 1)
        try a1.write(FrameBuilder.ping(from: h1, ip1, to: h2, ip2), timestampNanoseconds: t + 3)
        try a1.close()
        let t1 = try PcapWriter(path: dir.file("t1.pcap"))
        try t1.write(FrameBuilder.ping(from: h2, ip2, to: h1, ip1, vlan: 10), timestampNanoseconds: t + 2)
        try t1.write(FrameBuilder.arpRequest(from: h3, ip3, for: IPv4Address(10, 20, 0, 9), vlan: 20), timestampNanoseconds: t + 4)
        try t1.close()
        let out = dir.file("out")
        let r = try CLI.run(["replay", CLI.topology("vlan-lab.json"), "--inject", "sw0:a1=" + dir.file("a1.pcap"),
                             "--inject", "sw0:t1=" + dir.file("t1.pcap"), "--out", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""injected":4"#))
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["captures", "sw0-a1.pcap", "sw0-a2.pcap", "sw0-b1.pcap", "sw0-t1.pcap"])

        let reader = { (name: String) in try PcapReader(path: out + "/" + name).readAll() }
        // a1 gets the reply (forwarded, untagged); a2 the ARP flood; b1 the VLAN 20 ARP; t1 the ARP + the ping.
        #expect(try reader("sw0-a1.pcap").count == 1)
        #expect(try reader("sw0-a2.pcap").count == 1)
        #expect(try reader("sw0-b1.pcap").count == 1)
        #expect(try reader("sw0-t1.pcap").count == 2)
        #expect(try reader("sw0-a1.pcap")[0].timestampNanoseconds == t + 2, "recorded time is kept")

        guard let tcpdump = ExternalTool.require("tcpdump", for: "replay"),
              let tshark = ExternalTool.require("tshark", for: "replay") else { return }
        let dump = try tcpdump.run(["-r", out + "/sw0-t1.pcap", "-nn", "-e"])
        #expect(dump.status == 0)
        #expect(dump.output.contains("vlan 10") && dump.output.contains("ICMP echo request"), "\(dump.output)")
        let a1dump = try tcpdump.run(["-r", out + "/sw0-a1.pcap", "-nn", "-e"])
        #expect(!a1dump.output.contains("vlan") && a1dump.output.contains("ICMP echo request"), "untagged on an access port")
        // The topology's trunk capture holds both directions on t1 with tags 10 and 20.
        let tags = try tshark.run(["-r", out + "/captures/vlan-lab-t1.pcap", "-T", "fields", "-e", "vlan.id"])
        #expect(tags.status == 0)
        #expect(Set(tags.output.split(separator: "\n").map(String.init)) == ["10", "20"], "\(tags.output)")
        // The mirror of VLAN 20 caught the frame that entered VLAN 20.
        let mirror = try tshark.run(["-r", out + "/captures/vlan-lab-vlan20.pcap", "-T", "fields", "-e", "eth.src"])
        #expect(mirror.output.split(separator: "\n") == ["02:00:00:00:00:03"])
    }

    @Test func unreadableInputIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try "not a pcap".write(toFile: dir.file("junk.pcap"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["replay", CLI.topology("vlan-lab.json"), "--inject", "sw0:a1=" + dir.file("junk.pcap"), "--out", dir.file("o")])
        #expect(r.status == 1 && r.stderr.contains("junk.pcap"))
        let port = try CLI.run(["replay", CLI.topology("vlan-lab.json"), "--inject", "sw0:zz=" + dir.file("junk.pcap"), "--out", dir.file("o")])
        #expect(port.status != 0 && port.stderr.contains("no port zz"))
    }
}

@Suite struct RunCommandTests {
    @Test func runsForADurationAndClosesCaptures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try CLI.run(["run", CLI.topology("vlan-lab.json"), "--duration", "0.3", "--control", dir.file("c.sock")], in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("stopped (duration elapsed)"))
        let reader = try PcapReader(path: dir.file("captures/vlan-lab-t1.pcap"))
        #expect(try reader.next() == nil, "a valid, empty pcap file")
    }

    /// The README's default: two appliance VMs ping and run a lossless flow through the switch.
    @Test func quickstartVMsRunALosslessFlow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try CLI.run(["run", CLI.topology("quickstart.json"), "--duration", "60", "--json", "--control", dir.file("c.sock")],
                            in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("vm1 | ping: 3 transmitted, 3 received, 0 lost"))
        #expect(r.stdout.contains("stopped (every VM powered off)"))
        let last = try #require(r.stdout.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(summary["ok"] as? Bool == true)
        let flows = try #require(summary["flows"] as? [[String: Any]])
        let sink = try #require(flows.first { $0["vm"] as? String == "vm2" })
        #expect(sink["sent"] as? Int == 5000 && sink["received"] as? Int == 5000)
        #expect(sink["lost"] as? Int == 0 && sink["duplicated"] as? Int == 0)
        let vms = try #require(summary["vms"] as? [[String: Any]])
        #expect(vms.map { $0["exit_code"] as? Int } == [0, 0])
        // The capture holds the ARP exchange and the pings, as tshark reads them.
        if let tshark = ExternalTool.require("tshark", for: "quickstartVMsRunALosslessFlow") {
            let icmp = try tshark.run(["-r", dir.file("captures/quickstart.pcap"), "-Y", "icmp.type == 0", "-T", "fields", "-e", "ip.src"])
            #expect(icmp.output.split(separator: "\n") == ["10.0.0.2", "10.0.0.2", "10.0.0.2"], "\(icmp.output)")
        }
    }

    /// Debian's OpenSBI and U-Boot on our VMM ping the appliance, driven by the expect script.
    @Test func ubootPingsTheAppliance() throws {
        guard FileManager.default.fileExists(atPath: "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"),
              FileManager.default.fileExists(atPath: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf") else {
            print("skipping ubootPingsTheAppliance: u-boot-qemu or opensbi is not installed")
            return
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try CLI.run(["run", CLI.topology("uboot-ping.json"), "--duration", "120", "--json", "--control", dir.file("c.sock")],
                            in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("uboot | host 10.0.0.1 is alive"))
        #expect(r.stdout.contains("uboot | Device 0: QEMU VirtIO Block Device"))
        #expect(r.stdout.contains("8 blocks read: OK"))
        let last = try #require(r.stdout.split(separator: "\n").last)
        #expect(last.contains(#""expect":"passed""#) && last.contains(#""ok":true"#))
        // The overlay we wrote is a qcow2 image qemu-img accepts.
        if let qemuImg = ExternalTool.require("qemu-img", for: "ubootPingsTheAppliance") {
            #expect(try qemuImg.run(["check", dir.file("vm-data/uboot-ping.qcow2")]).status == 0)
        }
    }

    @Test func aFailedExpectScriptFailsTheRun() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let topology = dir.file("t.json")
        try #"""
        {"version": 1, "switches": [{"name": "sw0", "ports": [{"name": "p1"}]}],
         "vms": [{"name": "a", "firmware": "none", "kernel": "appliance", "bootargs": "ip=10.0.0.1/24",
                  "nics": [{"mac": "52:54:00:00:00:01", "switch": "sw0", "port": "p1"}],
                  "expect": [{"wait": "this never appears", "timeout_seconds": 1}]}]}
        """#.write(toFile: topology, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", topology, "--duration", "30", "--control", dir.file("c.sock")], in: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("VM a: expect step 1 timed out waiting for \"this never appears\""), "\(r.stderr)")
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func stopsOnSignals(_ signal: Int32) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let r = try CLI.run(["run", CLI.topology("vlan-lab.json"), "--control", dir.file("c.sock")], in: dir.path, signal: signal, signalAfter: 0.7)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(signal == SIGINT ? "stopped (interrupted)" : "stopped (terminated)"))
        #expect(FileManager.default.fileExists(atPath: dir.file("captures/vlan-lab-t1.pcap")))
    }
}

@Suite struct BenchCommandTests {
    @Test func benchSwitchPrintsJSON() throws {
        let r = try CLI.run(["bench", "switch", "--json", "--seconds", "0.2"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let mpps = try #require(object?["mpps"] as? Double)
        #expect(mpps > 0)
        #expect(object?["dropped"] as? Int == 0 && object?["flooded"] as? Int == 0)
    }

    /// Every row of `bench switch --openflow` has figures, and the flows forwarded every frame
    /// it counted (matched in table 0 and queued on an output port, none dropped), so a bench
    /// whose flows miss its traffic cannot pass.
    @Test func benchSwitchOpenFlowForwardsEveryFrameThroughItsFlows() throws {
        let r = try CLI.run(["bench", "switch", "--openflow", "--json", "--seconds", "0.05", "--rounds", "1", "--streams", "100"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        var seen = Set<String>()
        for row in rows {
            let label = "\(row["match"] ?? "?") \(row["flows"] ?? "?") flows, \(row["streams"] ?? "?") streams"
            seen.insert("\(row["match"] ?? "?") \(row["flows"] ?? "?")")
            let frames = try #require(row["frames"] as? Int, "\(label)")
            #expect(frames > 0, "\(label)")
            #expect((row["mpps"] as? Double ?? 0) > 0 && (row["l2_mpps"] as? Double ?? 0) > 0
                    && (row["pipeline_mpps"] as? Double ?? 0) > 0, "\(label)")
            #expect(row["matched"] as? Int == frames, "\(label): matched \(row["matched"] ?? "?") of \(frames)")
            #expect(row["transmitted"] as? Int == frames, "\(label): transmitted \(row["transmitted"] ?? "?") of \(frames)")
            #expect(row["dropped"] as? Int == 0, "\(label)")
        }
        #expect(seen == ["exact 1", "exact 100", "exact 10000", "wildcard 1", "wildcard 100", "wildcard 10000"])
        #expect((object["goal_ratio"] as? Double ?? 0) > 0)
    }

    @Test func benchVMPrintsThroughputAndBootTimes() throws {
        let r = try CLI.run(["bench", "vm", "--json", "--count", "500", "--rounds", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let udp = try #require(object["switchboard_udp_64"] as? [String: Any])
        #expect(udp["lost"] as? Int == 0 && (udp["pps"] as? Double ?? 0) > 0)
        #expect((object["switchboard_ready_ms"] as? Double ?? 0) > 0)
    }

    /// The root help, word for word: users and docs rely on it.
    @Test func rootHelpWordForWord() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout == """
        OVERVIEW: A software-defined L2 virtual switch with its own VM host.

        USAGE: switchboard <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          validate                Check topology files strictly; print every error.
          run                     Run a topology until Ctrl-C, SIGTERM or --duration.
          trace                   Show what a switch does with frames (ofproto/trace).
          replay                  Replay pcap files through a topology, offline.
          vm                      Run one RISC-V machine on the software CPU.
          bench                   Run a benchmark beside its reference figures.
          fdb                     Show a running switch's MAC table (fdb/show).
          stats                   Show a running instance's switch and port counters.
          flows                   Show a running OpenFlow switch's flows (dump-flows).
          capture                 Start, stop or list captures on a running instance.
          migrate                 Live-migrate a running VM to another hypervisor.
          console                 Attach to a running VM's serial console.

          See 'switchboard help <subcommand>' for detailed help.

        """)
    }
}
