// ApplianceTests: the guest appliance on QEMU -- two machines on a loopback socket link ping
// each other and run a UDP flow into a sink; both power off through the test device.
import Foundation
import Testing
import TestSupport

@Suite("Guest appliance on QEMU", .serialized)
struct ApplianceTests {
    @Test("ping between two appliances: every echo answered, both power off with status 0")
    func pingBetweenTwoAppliances() throws {
        guard let build = try ApplianceBuild.make(for: "pingBetweenTwoAppliances") else { return }
        defer { build.directory.remove() }
        let port = try #require(QEMUGuest.freeLoopbackPort())
        let echo = try QEMUGuest(name: "echo", qemu: build.qemu, kernel: build.elf,
                                 bootargs: "ip=10.0.0.2/24 role=echo duration=5 exit=1",
                                 link: .listen(port), mac: "52:54:00:00:00:02")
        #expect(echo.waitFor("appliance: ready ip=10.0.0.2 mac=52:54:00:00:00:02 role=echo", timeout: 10))
        let ping = try QEMUGuest(name: "ping", qemu: build.qemu, kernel: build.elf,
                                 bootargs: "ip=10.0.0.1/24 role=ping peer=10.0.0.2 count=5 interval=200 exit=1",
                                 link: .connect(port), mac: "52:54:00:00:00:01")
        let pingStatus = ping.waitForExit(timeout: 20)
        let echoStatus = echo.waitForExit(timeout: 10)
        #expect(pingStatus == 0, "ping guest:\n\(ping.output)")
        #expect(echoStatus == 0, "echo guest:\n\(echo.output)")
        let replies = ping.lines(startingWith: "64 bytes from 10.0.0.2: icmp_seq=")
        #expect(replies.count == 5, "\(ping.output)")
        for (index, line) in replies.enumerated() {
            #expect(line.hasPrefix("64 bytes from 10.0.0.2: icmp_seq=\(index + 1) time="))
            #expect(line.hasSuffix(" us"))
        }
        #expect(ping.lines(startingWith: "ping: ").first == "ping: 5 transmitted, 5 received, 0 lost")
        #expect(ping.output.contains("appliance: done result=pass"))
        #expect(echo.output.contains("appliance: done result=pass"))
    }

    @Test("a flow of 2000 datagrams at 1000 pps reaches the sink without loss; both power off with 0")
    func flowIntoSink() throws {
        guard let build = try ApplianceBuild.make(for: "flowIntoSink") else { return }
        defer { build.directory.remove() }
        let port = try #require(QEMUGuest.freeLoopbackPort())
        let sink = try QEMUGuest(name: "sink", qemu: build.qemu, kernel: build.elf,
                                 bootargs: "ip=10.0.0.2/24 role=sink exit=1 timeout=30 report=1",
                                 link: .listen(port), mac: "52:54:00:00:00:02")
        #expect(sink.waitFor("appliance: ready ", timeout: 10))
        let flow = try QEMUGuest(name: "flow", qemu: build.qemu, kernel: build.elf,
                                 bootargs: "ip=10.0.0.1/24 role=flow peer=10.0.0.2 count=2000 rate=1000 size=100 exit=1",
                                 link: .connect(port), mac: "52:54:00:00:00:01")
        let flowStatus = flow.waitForExit(timeout: 30)
        let sinkStatus = sink.waitForExit(timeout: 10)
        #expect(flowStatus == 0, "flow guest:\n\(flow.output)")
        #expect(sinkStatus == 0, "sink guest:\n\(sink.output)")
        let expected = "flow-report id=1 sent=2000 received=2000 lost=0 duplicated=0 reordered=0"
        #expect(sink.lines(startingWith: "flow-report ") == [expected], "\(sink.output)")
        #expect(flow.lines(startingWith: "flow-report ") == [expected], "\(flow.output)")
        // The flow paces itself: 2000 packets at 1000 pps take about two seconds.
        let sent = try #require(flow.lines(startingWith: "flow-sent id=1 sent=2000 elapsed_us=").first)
        let elapsed = try #require(Int(sent.split(separator: "=").last ?? ""))
        #expect((1_900_000...5_000_000).contains(elapsed), "\(sent)")
        #expect(!sink.lines(startingWith: "status uptime_ms=").isEmpty)
    }

    @Test("legacy virtio-mmio (version 1) is refused with a message and exit code 6")
    func legacyTransportIsRefused() throws {
        guard let build = try ApplianceBuild.make(for: "legacyTransportIsRefused") else { return }
        defer { build.directory.remove() }
        let port = try #require(QEMUGuest.freeLoopbackPort())
        let guest = try QEMUGuest(name: "legacy", qemu: build.qemu, kernel: build.elf,
                                  bootargs: "ip=10.0.0.1/24", link: .listen(port),
                                  mac: "52:54:00:00:00:01", legacy: true)
        #expect(guest.waitForExit(timeout: 10) == 6, "\(guest.output)")
        #expect(guest.output.contains("has version 1, skipped (only version 2 is supported)"))
        #expect(!guest.output.contains("appliance: ready"))
    }

    @Test("missing ip= bootarg powers off with the configuration failure code 5")
    func missingAddressIsAConfigurationError() throws {
        guard let build = try ApplianceBuild.make(for: "missingAddressIsAConfigurationError") else { return }
        defer { build.directory.remove() }
        let guest = try QEMUGuest(name: "noip", qemu: build.qemu, kernel: build.elf,
                                  bootargs: "role=ping peer=10.0.0.2", link: .none, mac: "")
        #expect(guest.waitForExit(timeout: 10) == 5, "\(guest.output)")
        #expect(guest.output.contains("appliance: error: bootarg ip=A.B.C.D/PREFIX is required"))
    }

    @Test("a peer written in Swift: hostile frames are ignored; ARP, ICMP echo, UDP echo and sink counting answer")
    func stackAgainstASwiftPeer() throws {
        guard let build = try ApplianceBuild.make(for: "stackAgainstASwiftPeer") else { return }
        defer { build.directory.remove() }
        let peer = try SocketPeer()
        let guest = try QEMUGuest(name: "sink", qemu: build.qemu, kernel: build.elf,
                                  bootargs: "ip=10.0.0.1/24 role=sink exit=1 timeout=20",
                                  link: .connect(peer.port), mac: "52:54:00:00:00:01")
        try peer.accept(timeout: 10)
        #expect(guest.waitFor("appliance: ready ip=10.0.0.1 mac=52:54:00:00:00:01 role=sink", timeout: 10))
        let guestMAC: [UInt8] = [0x52, 0x54, 0, 0, 0, 1], myMAC: [UInt8] = [2, 0, 0, 0, 0, 9]
        let guestIP: [UInt8] = [10, 0, 0, 1], myIP: [UInt8] = [10, 0, 0, 9]
        func toGuest(_ type: Int, _ payload: [UInt8]) -> [UInt8] {
            TestFrame.ethernet(to: guestMAC, from: myMAC, type: type, payload)
        }
        func ip(_ proto: UInt8, _ payload: [UInt8], flags: Int = 0x4000) -> [UInt8] {
            TestFrame.ipv4(from: myIP, to: guestIP, protocol: proto, payload, flagsAndOffset: flags)
        }

        // Hostile and malformed frames first: the appliance must ignore every one and keep going.
        var badChecksum = ip(1, TestFrame.icmpEcho(id: 1, sequence: 1, [1, 2, 3]))
        badChecksum[10] ^= 0xff
        var longIHL = ip(1, TestFrame.icmpEcho(id: 1, sequence: 1, [1, 2, 3]))
        longIHL[0] = 0x4f
        var longTotal = ip(1, TestFrame.icmpEcho(id: 1, sequence: 1, [1, 2, 3]))
        longTotal[2] = 0x05
        var badICMP = TestFrame.icmpEcho(id: 1, sequence: 1, [1, 2, 3])
        badICMP[2] ^= 0x55
        var longUDP = TestFrame.udp(from: myIP, to: guestIP, sourcePort: 1, destinationPort: 7, [1, 2, 3])
        longUDP[5] = 200
        var badUDP = TestFrame.udp(from: myIP, to: guestIP, sourcePort: 1, destinationPort: 7, [1, 2, 3])
        badUDP[7] ^= 0x01
        var hostile: [[UInt8]] = [
            [1, 2, 3],
            [UInt8](repeating: 0xff, count: 14),
            toGuest(0x0806, [0, 1, 8, 0, 6, 4]),
            toGuest(0x0800, badChecksum), toGuest(0x0800, longIHL), toGuest(0x0800, longTotal),
            toGuest(0x0800, ip(1, TestFrame.icmpEcho(id: 1, sequence: 1, [1, 2, 3]), flags: 0x2000)),
            toGuest(0x0800, ip(1, badICMP)), toGuest(0x0800, ip(17, longUDP)), toGuest(0x0800, ip(17, badUDP)),
            toGuest(0x0800, ip(17, TestFrame.udp(from: myIP, to: guestIP, sourcePort: 1, destinationPort: 5001,
                                                 [0x53, 0x42, 0x46, 0x4c, 1]))),
            toGuest(0x0800, [UInt8](repeating: 0x45, count: 1500)),
            toGuest(0x0800, [UInt8](repeating: 0x45, count: 1586)),
        ]
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        for _ in 0..<300 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(seed >> 40) % 1500
            var bytes = (0..<length).map { index in UInt8(truncatingIfNeeded: (seed >> UInt64(index % 56)) &+ UInt64(index)) }
            if length > 0 { bytes[0] = 0x45 }
            hostile.append(toGuest(seed & 1 == 0 ? 0x0800 : 0x0806, bytes))
        }
        for frame in hostile { try peer.send(frame) }

        // ARP: the guest answers a request for its address.
        try peer.send(TestFrame.arpRequest(from: myMAC, ip: myIP, for: guestIP))
        let arpReply = try #require(try peer.receive(timeout: 5) { frame in
            TestFrame.field(frame, 12, 2) == 0x0806 && TestFrame.field(frame, 20, 2) == 2
        })
        #expect(Array(arpReply[0..<6]) == myMAC)
        #expect(Array(arpReply[22..<28]) == guestMAC)
        #expect(Array(arpReply[28..<32]) == guestIP)
        #expect(Array(arpReply[38..<42]) == myIP)

        // ICMP echo.
        let text = Array("hello appliance".utf8)
        try peer.send(toGuest(0x0800, ip(1, TestFrame.icmpEcho(id: 0x77, sequence: 3, text))))
        let echoReply = try #require(try peer.receive(timeout: 5) { frame in
            TestFrame.field(frame, 12, 2) == 0x0800 && TestFrame.field(frame, 23, 1) == 1
        })
        #expect(TestFrame.checksum(Array(echoReply[14..<34])) == 0)
        let icmp = Array(echoReply[34..<(34 + 8 + text.count)])
        #expect(icmp[0] == 0 && TestFrame.field(icmp, 4, 2) == 0x77 && TestFrame.field(icmp, 6, 2) == 3)
        #expect(Array(icmp[8...]) == text)
        #expect(TestFrame.checksum(icmp) == 0)

        // UDP echo on port 7.
        try peer.send(toGuest(0x0800, ip(17, TestFrame.udp(from: myIP, to: guestIP, sourcePort: 40000,
                                                           destinationPort: 7, text))))
        let udpReply = try #require(try peer.receive(timeout: 5) { frame in
            TestFrame.field(frame, 23, 1) == 17 && TestFrame.field(frame, 34, 2) == 7
        })
        let udp = Array(udpReply[34..<(34 + 8 + text.count)])
        #expect(TestFrame.field(udp, 2, 2) == 40000 && Array(udp[8...]) == text)
        #expect(TestFrame.checksum(udp, initial: TestFrame.pseudoHeaderSum(guestIP, myIP, length: udp.count)) == 0)

        // A flow with a duplicate, a reordered packet and two losses (5 and 7), then END.
        for sequence: UInt64 in [0, 1, 2, 4, 3, 3, 6] {
            try peer.send(toGuest(0x0800, ip(17, TestFrame.udp(
                from: myIP, to: guestIP, sourcePort: 5001, destinationPort: 5001,
                TestFrame.flowMessage(type: 1, id: 7, sequence: sequence)))))
        }
        let end = toGuest(0x0800, ip(17, TestFrame.udp(from: myIP, to: guestIP, sourcePort: 5001, destinationPort: 5001,
                                                       TestFrame.flowMessage(type: 2, id: 7, sequence: 8))))
        try peer.send(end)
        try peer.send(end)
        let report = try #require(try peer.receive(timeout: 5) { frame in
            TestFrame.field(frame, 23, 1) == 17 && TestFrame.field(frame, 34, 2) == 5001
                && TestFrame.field(frame, 42 + 4, 1) == 3
        })
        let message = Array(report[42...])
        #expect(TestFrame.field(message, 8, 4) == 7)
        #expect([16, 32, 40, 48, 56].map { TestFrame.field(message, $0, 8) } == [8, 6, 2, 1, 1])
        #expect(guest.waitForExit(timeout: 10) == 1, "\(guest.output)")
        #expect(guest.lines(startingWith: "flow-report ")
            == ["flow-report id=7 sent=8 received=6 lost=2 duplicated=1 reordered=1"], "\(guest.output)")
        #expect(guest.output.contains("appliance: done result=fail code=1"))
        #expect(!guest.output.contains("trap"))
    }

    @Test("host build under ASan/UBSan: random frames in every role and corrupted device trees never crash")
    func stackAndDeviceTreeReaderSurviveFuzzing() throws {
        guard let build = try ApplianceBuild.make(for: "stackAndDeviceTreeReaderSurviveFuzzing") else { return }
        defer { build.directory.remove() }
        let dtb = build.directory.file("virt.dtb")
        let dump = try build.qemu.run(["-M", "virt,dumpdtb=\(dtb)", "-bios", "none", "-kernel", build.elf,
                                       "-append", "ip=10.0.0.1/24 role=sink", "-nographic"])
        try #require(dump.status == 0 && FileManager.default.fileExists(atPath: dtb))
        let fuzz = ExternalTool(path: "/bin/bash")
        let result = try fuzz.run([ApplianceImage.packageRoot + "/Tools/appliance/host/fuzz.sh",
                                   build.directory.file("fuzz"), dtb, "100000"])
        if result.status == 77 {
            print("skipping stackAndDeviceTreeReaderSurviveFuzzing: no clang with sanitizers")
            return
        }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("fuzz: ok iterations=100000 "), "\(result.output)")
    }
}
