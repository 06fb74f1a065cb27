// End to end with a real driver: Debian's OpenSBI and U-Boot run on the software CPU with a
// virtio-blk disk (a qcow2 overlay) and a virtio-net card on a Switchboard switch. U-Boot
// reads and writes the disk and pings a responder behind the switch. The board has no
// virtio slots yet, so the test registers the transports and writes a device tree with
// virtio,mmio nodes itself.

import Foundation
import Frames
import Machine
import RISCV
import RISCVBoard
import Switching
import Testing
import TestSupport
@testable import Virtio

/// Console bytes from the vCPU thread.
final class ConsoleLog: @unchecked Sendable {
    private let lock = DeviceLock()
    private var bytes: [UInt8] = []
    func put(_ b: UInt8) { lock.withLock { bytes.append(b) } }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}

/// Answers ARP and ICMP echo for one address, as a host behind the switch would.
final class PingResponder: PortSink {
    let mac: MACAddress
    let ip: IPv4Address
    var replies: [[UInt8]] = []
    var seen: [[UInt8]] = []

    init(mac: MACAddress, ip: IPv4Address) {
        self.mac = mac
        self.ip = ip
    }

    func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        for e in entries {
            let f = Array(pool.bytes(e.handle))
            pool.release(e.handle)
            seen.append(f)
            guard f.count >= 42 else { continue }
            let src = MACAddress(f[6], f[7], f[8], f[9], f[10], f[11])
            let type = UInt16(f[12]) << 8 | UInt16(f[13])
            if type == EtherType.arp, f[21] == 1, Array(f[38..<42]) == ip.bytes {
                let senderIP = IPv4Address(f[28], f[29], f[30], f[31])
                let body = FrameBuilder.arp(operation: .reply, senderMAC: mac, senderIP: ip, targetMAC: src, targetIP: senderIP)
                replies.append(FrameBuilder.padded(FrameBuilder.ethernet(destination: src, source: mac, etherType: EtherType.arp, payload: body)))
            } else if type == EtherType.ipv4, f.count >= 42, f[23] == 1, Array(f[30..<34]) == ip.bytes {
                let ihl = Int(f[14] & 0x0f) * 4
                let icmp = 14 + ihl
                let total = Int(UInt16(f[16]) << 8 | UInt16(f[17]))
                guard f[icmp] == 8, 14 + total <= f.count, total >= ihl + 8 else { continue }
                let id = UInt16(f[icmp + 4]) << 8 | UInt16(f[icmp + 5])
                let seq = UInt16(f[icmp + 6]) << 8 | UInt16(f[icmp + 7])
                let data = Array(f[(icmp + 8)..<(14 + total)])
                let reply = FrameBuilder.icmpEcho(reply: true, identifier: id, sequence: seq, data: data)
                let srcIP = IPv4Address(f[26], f[27], f[28], f[29])
                let packet = FrameBuilder.ipv4(source: ip, destination: srcIP, protocol: 1, payload: reply)
                replies.append(FrameBuilder.padded(FrameBuilder.ethernet(destination: src, source: mac, etherType: EtherType.ipv4, payload: packet)))
            }
        }
    }
}

/// Runs the board on its own thread (the vCPU thread).
final class BoardRunner: @unchecked Sendable {
    let board: VirtBoard
    private let lock = DeviceLock()
    private var result: VirtBoard.Outcome?
    init(_ board: VirtBoard) { self.board = board }
    func start(timeout: Double) {
        Thread { [self] in
            let r = board.run(timeout: timeout)
            lock.withLock { result = r }
        }.start()
    }
    var outcome: VirtBoard.Outcome? { lock.withLock { result } }
}

@Suite struct UBootGuestTests {
    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf"
    static let uboot = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"

    @Test func ubootReadsWritesDiskAndPingsThroughSwitch() throws {
        guard FileManager.default.fileExists(atPath: Self.openSBI), FileManager.default.fileExists(atPath: Self.uboot) else {
            print("skipping ubootReadsWritesDiskAndPingsThroughSwitch: OpenSBI or U-Boot (qemu-riscv64_smode) not installed")
            return
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let baseContent = pattern(1 << 20, seed: 42)
        _ = makeRawImage(dir, "base.raw", baseContent)
        let disk = try Qcow2Image.create(path: dir.file("vm.qcow2"), backingFile: "base.raw", backingFormat: "raw")

        let console = ConsoleLog()
        let board = try VirtBoard(memoryMiB: 128) { console.put($0) }
        let pool = PacketPool(capacity: 1024)
        let sw = try Switch(configuration: SwitchConfiguration(name: "sw0", ports: [
            PortConfiguration(name: "vm"), PortConfiguration(name: "host"),
        ]), pool: pool)
        let fabric = Fabric(pool: pool)
        fabric.add(sw)
        let responder = PingResponder(mac: MACAddress(0x02, 0, 0, 0, 0, 0xfe), ip: IPv4Address(10, 0, 0, 1))
        try fabric.attach(fabric.port("sw0", "host"), sink: responder)

        let net = VirtioNet(memory: board.memory, mac: MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56), pool: pool)
        try fabric.attach(fabric.port("sw0", "vm"), sink: net)
        let netMMIO = VirtioMMIOTransport(device: net)
        let blk = VirtioBlock(memory: board.memory, disk: disk, identifier: "vm-disk0")
        let blkMMIO = VirtioMMIOTransport(device: blk)
        // The board lists the slots from the top as QEMU does; U-Boot numbers devices in tree order.
        blkMMIO.interruptLine = try board.attachVirtio(blkMMIO, slot: 0)
        netMMIO.interruptLine = try board.attachVirtio(netMMIO, slot: 1)

        try board.boot(firmware: .elf([UInt8](Data(contentsOf: URL(fileURLWithPath: Self.openSBI)))),
                       kernel: [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.uboot))))
        // Stop autoboot, then the commands. Sector 8 of the disk gets 0x5a bytes.
        let script = [
            "virtio scan", "virtio info",
            "virtio read 0x84000000 0 8", "crc32 0x84000000 0x1000",
            "mw.b 0x85000000 0x5a 0x200", "virtio write 0x85000000 8 1",
            "setenv ipaddr 10.0.0.2", "setenv netmask 255.255.255.0", "echo SCRIPT-DONE", "ping 10.0.0.1",
            // The network loop eats console input while it polls for Ctrl-C: give it some.
            String(repeating: " ", count: 40), "poweroff", "poweroff",
        ]
        board.uart.feed(Array((" \n" + script.joined(separator: "\n") + "\n").utf8))
        let runner = BoardRunner(board)
        runner.start(timeout: 120)
        // This thread is the datapath: it owns the pool, the switch and the responder.
        let clock = SystemClock()
        var now = clock.now()
        while runner.outcome == nil {
            now = clock.now()
            net.service(switch: sw, port: 0, now: now)
            fabric.drain(now: now)
            for reply in responder.replies {
                reply.withUnsafeBytes { _ = fabric.inject($0, at: Fabric.PortRef(switchIndex: 0, port: 1), now: now) }
            }
            responder.replies.removeAll()
            usleep(500)
        }
        let log = console.text
        #expect(runner.outcome == .powerOff(0), "\(log)")
        #expect(log.contains("SCRIPT-DONE"), "\(log)")
        // U-Boot's CRC of the first 8 sectors equals ours of the base image.
        let crc = String(crc32(Array(baseContent[0..<4096])), radix: 16)
        #expect(log.contains("==> " + String(repeating: "0", count: 8 - crc.count) + crc), "\(log)")
        #expect(log.contains("host 10.0.0.1 is alive"), "\(log)")
        // The write reached the overlay, not the base.
        var sector = [UInt8](repeating: 0, count: 512)
        try sector.withUnsafeMutableBytes { try disk.read(into: $0, at: 8 * 512) }
        #expect(sector == [UInt8](repeating: 0x5a, count: 512))
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("base.raw")))) == baseContent)
        #expect(blk.counters.reads >= 1 && blk.counters.writes == 1)
        #expect(net.counters.txFrames >= 2 && net.counters.rxFrames >= 2)
        #expect(!blk.core.needsReset && !net.core.needsReset)
        if let qemuImg = ExternalTool.find("qemu-img") {
            // -U: the disk is still open for writing here, and so locked.
            #expect(try qemuImg.run(["check", "-U", dir.file("vm.qcow2")]).status == 0)
        }
    }
}

/// CRC-32 (IEEE 802.3, as U-Boot's crc32 command prints it).
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
