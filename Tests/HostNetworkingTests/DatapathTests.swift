// DatapathTests: the epoll loop over ports on socketpairs (no root needed): forwarding,
// learning, egress tagging through the gather list, a vanished peer taking its port down,
// aging, and control requests run on the loop.
import Testing
import Frames
import Switching
@testable import HostNetworking

#if canImport(Glibc)
import Glibc
#endif

/// A switch with ports on socketpairs; the test holds the far ends.
final class SocketLab {
    let pool = PacketPool(capacity: 1024)
    let fabric: Fabric
    let datapath: Datapath
    let clock = ManualClock()
    var far: [Int32] = []
    let sw: Switch

    init(ports: [PortConfiguration]) throws {
        fabric = Fabric(pool: pool)
        sw = try Switch(configuration: SwitchConfiguration(name: "sw0", ports: ports), pool: pool)
        fabric.add(sw)
        datapath = try Datapath(fabric: fabric, clock: clock)
        datapath.log = { _ in }
        for (i, p) in ports.enumerated() {
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &fds) == 0)
            _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
            far.append(fds[1])
            try datapath.attach(PacketSocketPort(adopting: fds[0], name: "pair \(p.name)"),
                                at: Fabric.PortRef(switchIndex: 0, port: i))
        }
    }

    deinit {
        datapath.closeAll()
        for fd in far where fd >= 0 { close(fd) }
    }

    func send(_ frame: [UInt8], on port: Int) {
        let n = frame.withUnsafeBytes { Glibc.send(far[port], $0.baseAddress, $0.count, 0) }
        #expect(n == frame.count)
    }

    /// Every frame waiting on the far end of `port`.
    func received(on port: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(far[port], $0.baseAddress, $0.count, 0) }
            if n <= 0 { return out }
            out.append(Array(buffer[0..<n]))
        }
    }

    func pump() {
        for _ in 0..<3 { datapath.poll(timeoutMilliseconds: 10) }
    }
}

let macA = MACAddress(0x02, 0, 0, 0, 0, 0x0A)
let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)

func frame(from src: MACAddress, to dst: MACAddress, tags: [VLANTag] = [], fill: UInt8 = 0x55) -> [UInt8] {
    FrameBuilder.ethernet(destination: dst, source: src, tags: tags, etherType: 0x88B5,
                          payload: [UInt8](repeating: fill, count: 46))
}

@Suite struct DatapathTests {
    @Test func floodsThenForwardsToTheLearnedPort() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1"),
                                        PortConfiguration(name: "p2")])
        let first = frame(from: macA, to: macB)
        lab.send(first, on: 0)
        lab.pump()
        #expect(lab.received(on: 1) == [first])
        #expect(lab.received(on: 2) == [first])
        #expect(lab.received(on: 0).isEmpty)
        let reply = frame(from: macB, to: macA, fill: 0x66)
        lab.send(reply, on: 1)
        lab.pump()
        #expect(lab.received(on: 0) == [reply])
        #expect(lab.received(on: 2).isEmpty)
        #expect(lab.datapath.attachments[0].port.statistics.rxFrames == 1)
        #expect(lab.datapath.attachments[0].port.statistics.txFrames == 1)
    }

    @Test func batchesOfManyFramesAllArrive() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        for i in 0..<200 { lab.send(frame(from: macA, to: macB, fill: UInt8(i & 0xFF)), on: 0) }
        for _ in 0..<10 { lab.datapath.poll(timeoutMilliseconds: 10) }
        let got = lab.received(on: 1)
        #expect(got.count == 200)
        #expect(got.last?.last == UInt8(199))
        #expect(lab.pool.available == lab.pool.capacity)
    }

    @Test func trunkEgressPushesAndAccessEgressPopsTheTag() throws {
        let trunk = PortConfiguration(name: "t", mode: .trunk(allowed: VLANSet([VLANID(unchecked: 10)]), native: nil))
        let access = PortConfiguration(name: "a", mode: .access(VLANID(unchecked: 10)))
        let lab = try SocketLab(ports: [access, trunk])
        let untagged = frame(from: macA, to: macB)
        lab.send(untagged, on: 0)
        lab.pump()
        let tagged = frame(from: macA, to: macB, tags: [VLANTag(vid: 10)])
        #expect(lab.received(on: 1) == [tagged])
        let back = frame(from: macB, to: macA, tags: [VLANTag(vid: 10)], fill: 0x77)
        lab.send(back, on: 1)
        lab.pump()
        #expect(lab.received(on: 0) == [frame(from: macB, to: macA, fill: 0x77)])
    }

    @Test func vanishedPeerTakesOnlyItsPortDown() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1"),
                                        PortConfiguration(name: "p2")])
        close(lab.far[2])
        lab.far[2] = -1
        lab.pump()
        #expect(lab.datapath.attachments[2].active == false)
        #expect(lab.datapath.attachments[2].downReason != nil)
        #expect(lab.sw.isPortUp(2) == false)
        #expect(lab.sw.isPortUp(0) && lab.sw.isPortUp(1))
        let f = frame(from: macA, to: macB)
        lab.send(f, on: 0)
        lab.pump()
        #expect(lab.received(on: 1) == [f])
    }

    @Test func agesMACTablesOnTheLoop() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        lab.send(frame(from: macA, to: macB), on: 0)
        lab.pump()
        #expect(lab.sw.macTable.count == 1)
        lab.clock.advance(seconds: 301)
        lab.datapath.poll(timeoutMilliseconds: 0)
        #expect(lab.sw.macTable.count == 0)
    }

    /// Aging runs on the monotonic clock: stepping the wall clock (NTP, `date -s`) by an hour
    /// either way neither ages out nor revives entries; captures' offset follows the step.
    @Test func aWallClockStepDoesNotAgeTheTable() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        lab.send(frame(from: macA, to: macB), on: 0)
        lab.pump()
        #expect(lab.sw.macTable.count == 1)
        lab.clock.stepWallClock(seconds: 3600)
        lab.clock.advance(seconds: 2)
        lab.datapath.poll(timeoutMilliseconds: 0)
        #expect(lab.sw.macTable.count == 1, "a wall-clock step forward aged the table")
        #expect(lab.fabric.wallClockOffset == 3_600_000_000_000 && lab.sw.wallClockOffset == 3_600_000_000_000)
        lab.clock.stepWallClock(seconds: -7200)
        lab.clock.advance(seconds: 299)
        lab.datapath.poll(timeoutMilliseconds: 0)
        #expect(lab.sw.macTable.count == 0, "301 s of monotonic time age the entry, whatever the wall clock did")
    }

    @Test func performRunsOnTheLoopAndStopEndsRun() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        let datapath = lab.datapath
        let done = Flag()
        datapath.perform { dp in
            done.set()
            dp.requestStop()
        }
        datapath.run()
        #expect(done.value)
        #expect(datapath.isStopping)
    }
}

/// A Bool shared with a closure.
final class Flag: @unchecked Sendable {
    private(set) var value = false
    func set() { value = true }
}
