// Helpers for migrations of guests that write faster than the link: a guest whose write rate
// is a share of its vCPU time (so a throttle slows it), a check of its memory, and byte
// streams that are slower than the guest or that break on cue.

import Foundation
import Frames
import Machine
@testable import Migration
import RISCVBoard
import Synchronization
import VMHost

enum FastWriter {
    /// The window's first guest-physical address, and its size in pages (4 MiB).
    static let windowBase: UInt64 = 0x8010_0000
    static let windowPages = 1024

    /// Stores a sweep counter (a0) into word 0 of every page of the window, spinning 1,500
    /// iterations (3,000 instructions) after each page, and increments it after each sweep.
    /// Its write rate is proportional to the vCPU time it gets (no clock): a throttle
    /// slows it, and a run chunk of 2M instructions writes at most ~670 pages.
    static let elf = GuestELF.image([
        0x0000_0417, // auipc s0, 0
        0x0010_03b7, // lui   t2, 0x100
        0x0074_0433, // add   s0, s0, t2      s0 = 0x8010_0000
        0x0040_0337, // lui   t1, 0x400
        0x0064_0333, // add   t1, s0, t1      t1 = end (4 MiB on)
        0x0000_1e37, // lui   t3, 1           page size
        0x0004_0293, // restart: mv t0, s0
        0x00a2_b023, // page: sd a0, 0(t0)
        0x5dc0_0e93, // li    t4, 1500
        0xfffe_8e93, // spin: addi t4, t4, -1
        0xfe0e_9ee3, // bnez  t4, spin
        0x01c2_82b3, // add   t0, t0, t3
        0xfe62_e6e3, // bltu  t0, t1, page
        0x0015_0513, // addi  a0, a0, 1
        0xfe1f_f06f, // j     restart
    ])

    static func configuration(_ name: String = "writer") -> VMConfiguration {
        Guests.configuration(name, mac: nil, memoryMiB: 16, bootargs: "", elf: elf)
    }

    /// A link rate (bytes per second) an eighth of what the running writer `vm` writes now
    /// (it writes a page per 3,000 instructions), within 256 KiB/s...32 MiB/s. Set from the
    /// guest's measured speed, the writer outruns the link by 8x whatever this machine's speed
    /// or load, and throttled to 99 % (at most ~2 % of the time) it falls well behind it.
    /// A fast writer started on `pool`, its configuration, and the link rate for it (an
    /// eighth of its write rate, so every round finds its whole window dirty again).
    static func started(pool: PacketPool) throws -> (VirtualMachine, VMConfiguration, Double) {
        let config = configuration()
        let vm = try VirtualMachine(config, pool: pool)
        vm.start()
        Thread.sleep(forTimeInterval: 0.2)
        let rate = linkRate(for: vm)
        print("writer link: \(Int(rate / 1024)) KiB/s")
        return (vm, config, rate)
    }

    static func linkRate(for vm: VirtualMachine) -> Double {
        let instructionsPerSecond = Double(Guests.progress(of: vm, over: 0.5)) * 2
        let pagesPerSecond = instructionsPerSecond / 3000
        return min(max(pagesPerSecond / 8 * 4096, 256 * 1024), 32 * 1_048_576)
    }

    /// Whether the window holds what the guest wrote, read with the VM paused: sweeps run in
    /// order, so the pages are c...c, c-1...c-1 for some c (a page missing or older than the
    /// last sweep breaks this). Nil when consistent, else what is wrong.
    static func windowProblem(_ vm: VirtualMachine) -> String? {
        guard vm.pause(timeout: 10) else { return "the VM did not pause" }
        defer { vm.resume() }
        var values: [UInt64] = []
        for i in 0..<windowPages {
            guard let v = try? vm.board.memory.load(UInt64.self, at: GuestPhysicalAddress(windowBase + UInt64(i) * 4096)) else {
                return "page \(i) unreadable"
            }
            values.append(v)
        }
        let c = values[0]
        guard let k = values.firstIndex(where: { $0 != c }) else { return nil }
        if c == 0 { return "page 0 was never written" }
        for i in k..<values.count where values[i] != c - 1 {
            return "page \(i) holds \(values[i]), expected \(c - 1) (page 0 holds \(c), the first older page is \(k))"
        }
        return nil
    }
}

/// A byte stream limited to `bytesPerSecond` (writes sleep until the rate allows them): a link
/// slower than a guest writes, whatever this machine's speed.
final class SlowLink: ByteStream, @unchecked Sendable {
    private let inner: any ByteStream
    private let rate: Double
    private let lock = NSLock()
    /// When the link is free again; idle time earns no credit (no bursts after a pause).
    private var free = Date.distantPast

    init(_ inner: any ByteStream, bytesPerSecond: Double) {
        self.inner = inner
        rate = bytesPerSecond
    }

    func write(_ bytes: [UInt8]) throws(StreamError) {
        let due = lock.withLock { () -> Date in
            free = max(free, Date()).addingTimeInterval(Double(bytes.count) / rate)
            return free
        }
        let wait = due.timeIntervalSinceNow
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        try inner.write(bytes)
    }

    func read(timeout: Double) throws(StreamError) -> [UInt8] { try inner.read(timeout: timeout) }

    func close() { inner.close() }
}

/// Closes the link when the first message of `type` is written (the write fails), like a
/// connection that breaks at that step.
final class BreakAt: ByteStream, @unchecked Sendable {
    private let inner: any ByteStream
    private let type: MessageType
    private let lock = NSLock()
    private var broken = false
    /// The message types written before the break.
    private(set) var seen: Set<UInt16> = []

    init(_ inner: any ByteStream, at type: MessageType) {
        self.inner = inner
        self.type = type
    }

    func write(_ bytes: [UInt8]) throws(StreamError) {
        let breakNow = lock.withLock { () -> Bool in
            guard !broken, bytes.count >= MigrationWire.headerLength else { return broken }
            let t: UInt16 = bytes.readLE(at: 6)
            if t == type.rawValue { broken = true } else { seen.insert(t) }
            return broken
        }
        if breakNow {
            inner.close()
            throw .closed
        }
        try inner.write(bytes)
    }

    func read(timeout: Double) throws(StreamError) -> [UInt8] { try inner.read(timeout: timeout) }

    func close() { inner.close() }
}
