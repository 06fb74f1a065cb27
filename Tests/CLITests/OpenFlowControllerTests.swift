// Real OpenFlow controllers programming a running `switchboard run` whose switch has Linux hosts
// in network namespaces: ovs-ofctl through the passive listener, os-ken's learning switch and
// Faucet (VLANs, an ACL, a mirror) through `controllers`, the fail modes when a controller
// dies and comes back, and a hostile controller (Tools/openflow-apps/hostile_controller.py)
// while a ping runs. Each test skips with the reason printed when not root or a tool is missing.

import Foundation
import Glibc
import TestSupport
import Testing

/// The `n_packets` of the first line of `text` holding every one of `parts`, or nil.
func packetCount(_ text: String, _ parts: String...) -> Int? {
    guard let line = text.split(separator: "\n").first(where: { l in parts.allSatisfy { l.contains($0) } }),
          let range = line.range(of: "n_packets=") else { return nil }
    return Int(line[range.upperBound...].prefix { $0.isNumber })
}

/// A topology of switch sw0 with ports `p1`... and one host per port, `prefix` + a, b, c...,
/// at 10.91.`net`.N/24 with MAC 02:00:00:91:`net`:N; `openflow` holds the switch's OpenFlow keys.
func openFlowTopology(prefix: String, net: Int, hosts: Int, openflow: String, extraPorts: Int = 0) -> String {
    let letters = Array("abcdefgh")
    let ports = (1...hosts + extraPorts).map { #"{"name": "p\#($0)"}"# }.joined(separator: ", ")
    let hostList = (1...hosts).map { i in
        #"{"name": "\#(prefix)\#(letters[i - 1])", "switch": "sw0", "port": "p\#(i)", "ip": "10.91.\#(net).\#(i)/24", "#
            + #""mac": "02:00:00:91:\#(String(format: "%02x", net)):\#(String(format: "%02x", i))"}"#
    }.joined(separator: ",\n  ")
    return """
    {"version": 1, "name": "\(prefix)", "switches": [{"name": "sw0", \(openflow), "ports": [\(ports)]}],
     "hosts": [\(hostList)]}
    """
}

@Suite(.serialized) struct OpenFlowControllerTests {
    /// ovs-ofctl against the listener of a secure switch: flows between hosts a and b let them
    /// (and only them) reach each other, counters grow, `switchboard flows` and `trace --live`
    /// show the flow, del-flows stops the traffic, and groups of type all and select forward.
    @Test func ovsOfctlProgramsARunningSwitch() throws {
        guard OpenFlowLab.available(for: "ovsOfctlProgramsARunningSwitch", tools: ["ovs-ofctl"]) != nil else { return }
        let run = try OpenFlowRun(json: openFlowTopology(prefix: "of1", net: 1, hosts: 3,
                                                         openflow: #""fail_mode": "secure", "openflow_listen": "ptcp:0:127.0.0.1""#))
        defer { run.stop() }
        try #require(run.listenPort != nil, "\(run.log)")
        // Secure and no flows: nothing passes.
        #expect(try run.unreachable("of1a", "10.91.1.2"))
        #expect(try run.ofctl("add-flow", "in_port=1,actions=output:2").status == 0)
        #expect(try run.ofctl("add-flow", "in_port=2,actions=output:1").status == 0)
        #expect(try run.pings("of1a", "10.91.1.2"), "\(run.log)")
        #expect(try run.unreachable("of1a", "10.91.1.3"))
        #expect(try run.unreachable("of1c", "10.91.1.1"))

        let before = try run.ofctl("dump-flows")
        let first = try #require(packetCount(before.out, "in_port=1", "output:2"), "\(before.out)")
        #expect(first >= 3, "\(before.out)")
        #expect(try run.pings("of1b", "10.91.1.1", count: 4))
        let after = try run.ofctl("dump-flows")
        #expect((packetCount(after.out, "in_port=1", "output:2") ?? 0) >= first + 4, "\(after.out)")

        let flows = run.flows()
        #expect(flows.out.contains("sw0: datapath") && flows.out.contains("2 flows") && flows.out.contains("forwarding by flows"), "\(flows.out)")
        #expect((packetCount(flows.out, "in_port=1") ?? 0) >= first + 4, "\(flows.out)")
        // An ICMP echo from a to b, traced through the running tables.
        let icmp = "020000910102" + "020000910101" + "0800" + "45000054000040004001" + "0000" + "0a5b0101" + "0a5b0102" + "0800f7ff00000000"
            + String(repeating: "00", count: 56)
        let trace = try run.traceLive(port: "p1", hex: icmp)
        #expect(trace.status == 0, "\(trace.out)")
        #expect(trace.out.contains("table 0: priority=32768,in_port=1") && trace.out.contains("output:2 (p2)"), "\(trace.out)")

        let ports = try run.ofctl("dump-ports")
        let rx = ports.out.range(of: #"port\s+1: rx pkts=(\d+)"#, options: .regularExpression).map { String(ports.out[$0]) }
        #expect(rx.flatMap { Int($0.split(separator: "=").last ?? "") }.map { $0 >= 7 } == true, "\(ports.out)")

        #expect(try run.ofctl("del-flows").status == 0)
        #expect(try run.unreachable("of1a", "10.91.1.2"))

        // A group of type all: a's frames go to b and c; their answers come back to a.
        #expect(try run.ofctl("add-group", "group_id=1,type=all,bucket=output:2,bucket=output:3").status == 0)
        #expect(try run.ofctl("add-flow", "in_port=1,actions=group:1").status == 0)
        #expect(try run.ofctl("add-flow", "in_port=2,actions=output:1").status == 0)
        #expect(try run.ofctl("add-flow", "in_port=3,actions=output:1").status == 0)
        #expect(try run.pings("of1a", "10.91.1.2"))
        #expect(try run.pings("of1a", "10.91.1.3"))
        let groupStats = try run.ofctl("dump-group-stats")
        #expect(groupStats.out.contains("group_id=1") && !groupStats.out.contains("packet_count=0,"), "\(groupStats.out)")
        // A select group whose one bucket leads to c: a reaches c, not b.
        #expect(try run.ofctl("del-flows").status == 0)
        #expect(try run.ofctl("add-group", "group_id=2,type=select,bucket=output:3").status == 0)
        #expect(try run.ofctl("add-flow", "in_port=1,actions=group:2").status == 0)
        #expect(try run.ofctl("add-flow", "in_port=3,actions=output:1").status == 0)
        #expect(try run.pings("of1a", "10.91.1.3"))
        #expect(try run.unreachable("of1b", "10.91.1.1"))
        #expect(run.isRunning)
    }

    /// os-ken's learning switch (ours: the sample is not packaged) as the controller of a
    /// standalone switch: once connected, the hosts reach each other through the flows it
    /// installs, which then carry packets.
    @Test func osKenLearningSwitchConnectsTheHosts() throws {
        guard OpenFlowLab.available(for: "osKenLearningSwitchConnectsTheHosts", tools: ["ovs-ofctl"]) != nil,
              let venv = OpenFlowLab.venv(for: "osKenLearningSwitchConnectsTheHosts") else { return }
        let port = freeTCPPort()
        let run = try OpenFlowRun(json: openFlowTopology(prefix: "of2", net: 2, hosts: 3, openflow: """
            "fail_mode": "standalone", "controllers": ["tcp:127.0.0.1:\(port)"], "openflow_listen": "ptcp:0:127.0.0.1"
            """))
        defer { run.stop() }
        let osken = try ControllerProcess.osken(venv: venv, app: "learning_switch_13.py", port: port,
                                                logFile: run.directory.file("osken.log"))
        defer { osken.kill() }
        #expect(eventually(40) { run.flows().out.contains("(1 to its controllers)") }, "\(run.flows().out) \(osken.log)")
        #expect(run.flows().out.contains("forwarding by flows"))
        #expect(try run.pings("of2a", "10.91.2.2"), "\(osken.log)")
        #expect(try run.pings("of2b", "10.91.2.3"))
        #expect(try run.pings("of2c", "10.91.2.1"))
        let dump = try run.ofctl("dump-flows")
        let learned = dump.out.split(separator: "\n").filter { $0.contains("priority=1,") }
        #expect(learned.count >= 6, "\(dump.out)")
        #expect(learned.filter { (packetCount(String($0), "n_packets=") ?? 0) > 0 }.count >= 6, "\(dump.out)")
        #expect(dump.out.contains("priority=0 actions=CONTROLLER:65535"), "\(dump.out)")
        #expect(packetCount(dump.out, "dl_src=02:00:00:91:02:01,dl_dst=02:00:00:91:02:02").map { $0 >= 2 } == true, "\(dump.out)")
    }

    /// A standalone switch whose controller dies forwards as the L2 learning switch (a drop
    /// flow that ruled while the controller was connected no longer does); the controller
    /// comes back through the connector's retries and its flows rule again.
    @Test func standaloneFallsBackToLearningAndBack() throws {
        guard OpenFlowLab.available(for: "standaloneFallsBackToLearningAndBack", tools: ["ovs-ofctl"]) != nil,
              let venv = OpenFlowLab.venv(for: "standaloneFallsBackToLearningAndBack") else { return }
        let port = freeTCPPort()
        let run = try OpenFlowRun(json: openFlowTopology(prefix: "of4", net: 4, hosts: 3, openflow: """
            "fail_mode": "standalone", "controllers": ["tcp:127.0.0.1:\(port)"], "openflow_listen": "ptcp:0:127.0.0.1"
            """))
        defer { run.stop() }
        var osken = try ControllerProcess.osken(venv: venv, app: "learning_switch_13.py", port: port,
                                                logFile: run.directory.file("osken.log"))
        defer { osken.kill() }
        #expect(eventually(40) { run.flows().out.contains("(1 to its controllers)") }, "\(run.flows().out)")
        // ICMP from a is dropped by a flow (ovs-ofctl, a service connection: the fail mode stays).
        #expect(try run.ofctl("add-flow", "priority=100,icmp,in_port=1,actions=drop").status == 0)
        #expect(try run.pings("of4b", "10.91.4.3"))
        #expect(try run.unreachable("of4a", "10.91.4.2"))

        osken.kill()
        #expect(eventually(20) { run.flows().out.contains("L2 learning (fail standalone, no controller connected)") }, "\(run.flows().out)")
        #expect(try run.pings("of4a", "10.91.4.2"), "\(run.log)")
        #expect(try run.pings("of4a", "10.91.4.3"))

        osken = try ControllerProcess.osken(venv: venv, app: "learning_switch_13.py", port: port,
                                            logFile: run.directory.file("osken2.log"))
        #expect(eventually(40) { run.flows().out.contains("(1 to its controllers)") }, "\(run.flows().out)")
        #expect(run.flows().out.contains("forwarding by flows"))
        #expect(try run.unreachable("of4a", "10.91.4.2"))
        #expect(try run.pings("of4c", "10.91.4.2"))
        #expect(packetCount(run.flows().out, "priority=100") .map { $0 > 0 } == true, "\(run.flows().out)")
    }

    /// A secure switch whose controller dies keeps forwarding what its flows cover and drops
    /// what they do not (the table-miss goes to a controller that is gone); the controller
    /// comes back and new traffic is learned again.
    @Test func secureKeepsItsFlowsWithoutTheController() throws {
        guard OpenFlowLab.available(for: "secureKeepsItsFlowsWithoutTheController") != nil,
              let venv = OpenFlowLab.venv(for: "secureKeepsItsFlowsWithoutTheController") else { return }
        let port = freeTCPPort()
        let run = try OpenFlowRun(json: openFlowTopology(prefix: "of6", net: 6, hosts: 3, openflow: """
            "fail_mode": "secure", "controllers": ["tcp:127.0.0.1:\(port)"]
            """))
        defer { run.stop() }
        var osken = try ControllerProcess.osken(venv: venv, app: "learning_switch_13.py", port: port,
                                                logFile: run.directory.file("osken.log"))
        defer { osken.kill() }
        #expect(eventually(40) { run.flows().out.contains("(1 to its controllers)") }, "\(run.flows().out)")
        #expect(try run.pings("of6a", "10.91.6.2"))

        osken.kill()
        #expect(eventually(20) { run.flows().out.contains("(0 to its controllers)") }, "\(run.flows().out)")
        #expect(run.flows().out.contains("forwarding by flows"))
        #expect(try run.pings("of6a", "10.91.6.2", count: 5), "\(run.flows().out)")
        #expect(try run.unreachable("of6a", "10.91.6.3"))
        #expect(try run.unreachable("of6c", "10.91.6.2"))

        osken = try ControllerProcess.osken(venv: venv, app: "learning_switch_13.py", port: port,
                                            logFile: run.directory.file("osken2.log"))
        #expect(eventually(40) { run.flows().out.contains("(1 to its controllers)") }, "\(run.flows().out)")
        #expect(try run.pings("of6a", "10.91.6.3"), "\(osken.log)")
        #expect(packetCount(run.flows().out, "dl_src=02:00:00:91:06:01,dl_dst=02:00:00:91:06:03").map { $0 > 0 } == true,
                "\(run.flows().out)")
    }
}

extension OpenFlowControllerTests {
    /// Faucet 1.10.12 with two VLANs (a, b in 100; c, d in 200), an ACL on d's port that drops
    /// the ICMP echo requests d sends, and port 5 mirroring port 1: hosts reach each other inside
    /// their VLAN and not across, d cannot ping c while c pings d, and the mirror host's
    /// tcpdump sees a's pings and their answers.
    @Test func faucetVLANsACLAndMirror() throws {
        guard let tools = OpenFlowLab.available(for: "faucetVLANsACLAndMirror", tools: ["tcpdump"]),
              let venv = OpenFlowLab.venv(for: "faucetVLANsACLAndMirror") else { return }
        let port = freeTCPPort()
        let run = try OpenFlowRun(json: openFlowTopology(prefix: "of3", net: 3, hosts: 5, openflow: """
            "fail_mode": "secure", "controllers": ["tcp:127.0.0.1:\(port)"], "datapath_id": "5b", "openflow_tables": \(Self.faucetTables)
            """))
        defer { run.stop() }
        let config = run.directory.file("faucet.yaml")
        try Self.faucetConfig.write(toFile: config, atomically: true, encoding: .utf8)
        let faucetLog = run.directory.file("faucet.log")
        let faucet = try ControllerProcess(
            venv: venv, executable: "faucet",
            arguments: ["--ryu-ofp-tcp-listen-port", "\(port)", "--ryu-ofp-listen-host", "127.0.0.1"],
            environment: ["FAUCET_CONFIG": config, "FAUCET_LOG": faucetLog,
                          "FAUCET_EXCEPTION_LOG": run.directory.file("faucet-exception.log"),
                          "FAUCET_PROMETHEUS_PORT": "\(freeTCPPort())", "FAUCET_PROMETHEUS_ADDR": "127.0.0.1"],
            logFile: run.directory.file("faucet.out"))
        defer { faucet.kill() }
        func log() -> String { (try? String(contentsOfFile: faucetLog, encoding: .utf8)) ?? "" }
        #expect(eventually(45) { run.flows().out.contains("(1 to its controllers)") && log().contains("Cold start configuring DP") },
                "\(run.flows().out) \(log()) \(faucet.log)")
        // Programmed: the flow count stays put for a second.
        var last = -1
        _ = eventually(20) {
            let n = run.flows().out.split(separator: "\n").count
            defer { last = n }
            usleep(900_000)
            return n > 10 && n == last
        }
        #expect(try run.pings("of3a", "10.91.3.2"), "\(log().suffix(3000))")
        #expect(try run.pings("of3c", "10.91.3.4"), "\(log().suffix(3000))")
        #expect(try run.unreachable("of3d", "10.91.3.3"))
        #expect(try run.unreachable("of3a", "10.91.3.3"))
        #expect(try run.unreachable("of3b", "10.91.3.4"))
        #expect(try run.unreachable("of3c", "10.91.3.1"))

        // The mirror: tcpdump on the mirror host sees a's echo requests to b.
        let captured = run.directory.file("mirror.txt")
        FileManager.default.createFile(atPath: captured, contents: nil)
        let tcpdump = Process()
        tcpdump.executableURL = URL(fileURLWithPath: tools["ip"]!)
        tcpdump.arguments = ["netns", "exec", "sb-of3e", tools["tcpdump"]!, "-l", "-n", "-i", "eth0", "-c", "4",
                             "icmp and host 10.91.3.1 and host 10.91.3.2"]
        tcpdump.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: captured))
        let tcpdumpLog = run.directory.file("tcpdump.log")
        FileManager.default.createFile(atPath: tcpdumpLog, contents: nil)
        tcpdump.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: tcpdumpLog))
        try tcpdump.run()
        _ = eventually(10) { ((try? String(contentsOfFile: tcpdumpLog, encoding: .utf8)) ?? "").contains("listening on") }
        #expect(try run.pings("of3a", "10.91.3.2", count: 4))
        _ = eventually(15) { !tcpdump.isRunning }
        if tcpdump.isRunning { tcpdump.terminate() }
        tcpdump.waitUntilExit()
        let seen = (try? String(contentsOfFile: captured, encoding: .utf8)) ?? ""
        // Port 1's traffic both ways: what it receives and what it sends.
        #expect(seen.contains("10.91.3.1 > 10.91.3.2: ICMP echo request") && seen.contains("10.91.3.2 > 10.91.3.1: ICMP echo reply"), "\(seen)")

        let faucetText = log()
        #expect(!faucetText.contains("OFError"), "\(faucetText)")
        let exceptions = (try? String(contentsOfFile: run.directory.file("faucet-exception.log"), encoding: .utf8)) ?? ""
        #expect(!exceptions.contains("Traceback"), "\(exceptions)")
        print("faucet: \(run.flows().out.split(separator: "\n").count - 1) flows on \(Self.faucetTables) tables")
    }

    /// Tables for Faucet's pipeline with this configuration: port_acl, vlan, eth_src, eth_dst
    /// and flood, tables 0 to 4 (its log lists them; with 4 tables it gets BAD_TABLE_ID errors).
    static let faucetTables = 5

    static let faucetConfig = """
    vlans:
      office:
        vid: 100
      lab:
        vid: 200
    acls:
      no-ping-from-d:
        - rule:
            dl_type: 0x800
            nw_proto: 1
            icmpv4_type: 8
            actions:
              allow: 0
        - rule:
            actions:
              allow: 1
    dps:
      sw0:
        dp_id: 0x5b
        hardware: "Open vSwitch"
        interfaces:
          1:
            native_vlan: office
          2:
            native_vlan: office
          3:
            native_vlan: lab
          4:
            native_vlan: lab
            acls_in: [no-ping-from-d]
          5:
            output_only: true
            mirror: [1]
    """
}

extension OpenFlowControllerTests {
    /// The errors OpenFlow 1.3 prescribes for each of the hostile controller's messages
    /// ([type, code]); each is followed by an echo that must come back on the same connection.
    static let hostileExpectations: [String: [Int]] = [
        "unknown message type": [1, 1],                          // BAD_REQUEST/BAD_TYPE
        "header length longer than a fixed body": [1, 6],        // BAD_REQUEST/BAD_LEN
        "version 3 on an open connection": [1, 0],               // BAD_REQUEST/BAD_VERSION
        "match length past the message": [4, 1],                 // BAD_MATCH/BAD_LEN
        "OXM with a bad length": [4, 1],                         // BAD_MATCH/BAD_LEN
        "OXM of an unknown field": [4, 6],                       // BAD_MATCH/BAD_FIELD
        "action length past its instruction": [2, 1],            // BAD_ACTION/BAD_LEN
        "unknown instruction": [3, 0],                           // BAD_INSTRUCTION/UNKNOWN_INST
        "flow-mod to table 200": [5, 2],                         // FLOW_MOD_FAILED/BAD_TABLE_ID
        "flow-mod output to port 999": [2, 4],                   // BAD_ACTION/BAD_OUT_PORT
        "flow-mod with command 9": [5, 6],                       // FLOW_MOD_FAILED/BAD_COMMAND
        "packet-out with an unknown action type": [2, 0],        // BAD_ACTION/BAD_TYPE
        "packet-out with an action of length 0": [2, 1],         // BAD_ACTION/BAD_LEN
        "packet-out actions_len past the message": [1, 6],       // BAD_REQUEST/BAD_LEN
        "packet-out to port 999": [2, 4],                        // BAD_ACTION/BAD_OUT_PORT
        "packet-out without a frame": [1, 12],                   // BAD_REQUEST/BAD_PACKET
        "multipart of unknown type 77": [1, 2],                  // BAD_REQUEST/BAD_MULTIPART
        "unknown message type after the burst": [1, 1],
    ]

    /// A hostile controller on the listener of a secure switch whose flows join hosts a and b,
    /// while a pings b every 50 ms: every malformed message gets its error and the connection
    /// stays; 100,000 flow-mods in a burst are all taken; a header shorter than a header closes
    /// only that connection; a crowd of connections past the listener's cap is refused;
    /// `switchboard flows` lists the first 5,000 and ovs-ofctl dumps them all; the ping loses
    /// nothing and the process stays up.
    @Test func hostileControllerNeverStopsTheSwitch() throws {
        guard let tools = OpenFlowLab.available(for: "hostileControllerNeverStopsTheSwitch", tools: ["ovs-ofctl", "python3"]) else { return }
        let run = try OpenFlowRun(json: openFlowTopology(prefix: "of5", net: 5, hosts: 3,
                                                         openflow: #""fail_mode": "secure", "openflow_listen": "ptcp:0:127.0.0.1""#))
        defer { run.stop() }
        let listener = try #require(run.listenPort, "\(run.log)")
        #expect(try run.ofctl("add-flow", "priority=100,in_port=1,actions=output:2").status == 0)
        #expect(try run.ofctl("add-flow", "priority=100,in_port=2,actions=output:1").status == 0)
        #expect(try run.pings("of5a", "10.91.5.2"))

        // ping -O reports every request left unanswered when the next one goes.
        let pingOutput = run.directory.file("ping.txt")
        FileManager.default.createFile(atPath: pingOutput, contents: nil)
        let ping = Process()
        ping.executableURL = URL(fileURLWithPath: tools["ip"]!)
        ping.arguments = ["netns", "exec", "sb-of5a", tools["ping"]!, "-n", "-O", "-i", "0.05", "10.91.5.2"]
        ping.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: pingOutput))
        ping.standardError = FileHandle.nullDevice
        try ping.run()
        defer { if ping.isRunning { ping.terminate() } }

        let started = Date()
        let hostile = try runCommand(tools["python3"]!, [CLI.packageRoot + "/Tools/openflow-apps/hostile_controller.py",
                                                          "127.0.0.1", "\(listener)", "--burst", "100000", "--burst-port", "3"],
                                     timeout: 150)
        let seconds = Date().timeIntervalSince(started)
        // `switchboard flows` of 100,002 flows, still under the ping: a bounded listing.
        let listed = run.flows()
        // ovs-ofctl dump-flows of them all (about 10 MB of replies) through the listener.
        let dumped = try run.ofctl("dump-flows")
        sleep(2)  // replies to the last requests come back
        kill(ping.processIdentifier, SIGINT)
        ping.waitUntilExit()

        #expect(hostile.status == 0, "\(hostile.out)")
        var results: [String: [String: Any]] = [:]
        for line in hostile.out.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = object["case"] as? String else { continue }
            results[name] = object
        }
        for (name, expected) in Self.hostileExpectations {
            let result = results[name]
            #expect(result?["error"] as? [Int] == expected, "\(name): \(result ?? [:])")
            #expect(result?["echoed"] as? Bool == true, "\(name): the connection did not answer the echo after it")
        }
        let burst = results["burst"] ?? [:]
        #expect(burst["errors"] as? Int == 0 && burst["barrier"] as? Bool == true, "\(burst)")
        #expect(results["aggregate"]?["flows"] as? Int == 100_002, "\(results["aggregate"] ?? [:])")
        let short = results["header length 4"] ?? [:]
        #expect(short["closed"] as? Bool == true && short["error"] as? [Int] == [1, 6], "\(short)")
        #expect(results["length promising 65535 bytes, then gone"] != nil, "\(hostile.out)")
        // 24 connections at once beside the hostile one: the listener serves up to its cap of 16
        // and closes the rest; once they are gone a new connection is served.
        let crowd = results["crowd"] ?? [:]
        let served = crowd["served"] as? Int ?? -1, refused = crowd["closed"] as? Int ?? -1
        #expect(served >= 1 && served <= 15 && served + refused == 24 && crowd["afterwards"] as? Bool == true, "\(crowd)")

        // Every request the ping sent at least a second before it stopped was answered.
        let text = (try? String(contentsOfFile: pingOutput, encoding: .utf8)) ?? ""
        var answered = Set<Int>(), highest = 0
        for line in text.split(separator: "\n") {
            guard let r = line.range(of: "icmp_seq=") else { continue }
            let seq = Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0
            highest = max(highest, seq)
            if line.contains("bytes from") { answered.insert(seq) }
        }
        let checked = max(0, highest - 20)
        let lost = (1...max(1, checked)).filter { !answered.contains($0) }
        #expect(checked > 20, "the ping did not run: \(text.suffix(500))")
        #expect(lost.isEmpty, "lost \(lost.count) of \(checked) pings: \(lost.prefix(20)) \(text.suffix(1500))")
        #expect(run.isRunning, "\(run.log)")
        let lines = listed.out.split(separator: "\n")
        let summary = lines.first.map(String.init) ?? ""
        #expect(listed.status == 0 && summary.contains("100002 flows"), "\(listed.out.prefix(500))")
        #expect(lines.count == 5_002 && lines.last?.hasPrefix("... 95002 more flows not listed") == true, "\(lines.suffix(2))")
        #expect(lines.dropFirst().first?.contains("priority=100,in_port=1") == true, "\(lines.prefix(3))")
        let dumpedFlows = dumped.out.split(separator: "\n").filter { $0.contains("n_packets=") }.count
        #expect(dumped.status == 0 && dumpedFlows == 100_002, "\(dumpedFlows) flows; \(dumped.out.suffix(300))")
        print("hostile controller: \(String(format: "%.1f", seconds)) s (burst \(burst["seconds"] ?? "?") s), \(checked) pings, \(lost.count) lost; \(summary)")
    }
}
