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
                                 bootargs: "ip=10.0.0.2/24 role=echo duration=3 exit=1",
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
        #expect((1_900_000...3_000_000).contains(elapsed), "\(sent)")
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
}
