// MigrationListenerTests: the listener against hostile connections (loopback only): slow
// clients dribbling bytes while a real migration goes through, connections beyond the
// handshake cap pushing out the oldest, garbage, a busy listener refusing a second migration, `resolve` answered in
// the event loop, and a message's total deadline however its bytes are paced.

import Foundation
import Frames
@testable import Migration
import Switching
import Testing
import VMHost

#if canImport(Glibc)
import Glibc
#endif

/// Raw TCP clients for the attacks (non-blocking, no SIGPIPE).
enum RawTCP {
    /// A non-blocking connection to 127.0.0.1:`port` (in progress), or -1.
    static func connect(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r < 0 && errno != EINPROGRESS {
            _ = Glibc.close(fd)
            return -1
        }
        return fd
    }

    /// Sends `bytes`; false once the peer has closed or reset the connection.
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return n == bytes.count || (n < 0 && (errno == EAGAIN || errno == ENOTCONN))
    }

    /// Whether the peer has closed `fd` (end of stream or reset); drops what waits.
    static func closedByPeer(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            if n == 0 { return true }
            return errno != EAGAIN && errno != EINTR && errno != ENOTCONN
        }
    }
}

/// `count` clients that each send one byte of a plausible hello every `interval` seconds and
/// reconnect whenever the listener closes them, until `stop`.
final class Dribblers: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)
    /// Connections the listener closed (read under the lock).
    private var cut = 0

    init(count: Int, port: Int, interval: Double) {
        // The header of a hello with a 200-byte payload: magic, version, type, length, CRC.
        var header = [UInt8]()
        header.appendLE(MigrationWire.magic)
        header.appendLE(MigrationWire.version)
        header.appendLE(MessageType.hello.rawValue)
        header.appendLE(UInt32(200))
        header.appendLE(UInt32(0))
        let pattern = header + [UInt8](repeating: UInt8(ascii: "{"), count: 200)
        Thread { [self] in
            var fds = (0..<count).map { _ in RawTCP.connect(port: port) }
            var position = [Int](repeating: 0, count: count)
            while !lock.withLock({ stopped }) {
                for i in 0..<count {
                    if fds[i] < 0 || !RawTCP.send(fds[i], [pattern[position[i] % pattern.count]]) || RawTCP.closedByPeer(fds[i]) {
                        if fds[i] >= 0 {
                            _ = Glibc.close(fds[i])
                            lock.withLock { cut += 1 }
                        }
                        fds[i] = RawTCP.connect(port: port)
                        position[i] = 0
                    } else {
                        position[i] += 1
                    }
                }
                Thread.sleep(forTimeInterval: interval)
            }
            for fd in fds where fd >= 0 { _ = Glibc.close(fd) }
            done.signal()
        }.start()
    }

    /// Connections the listener has closed so far.
    var closedByListener: Int { lock.withLock { cut } }

    func stop() {
        lock.withLock { stopped = true }
        done.wait()
    }
}

@Suite(.serialized) struct MigrationListenerTests {
    /// Descriptors the attack may use: one per client here plus one per accepted connection.
    static func attackers(wanted: Int) -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return max(100, min(wanted, (Int(limit.rlim_cur) - 512) / 2))
    }

    static func dirtier(_ pool: PacketPool) throws -> (VirtualMachine, VMConfiguration) {
        let config = Guests.configuration("dirtier", mac: nil, bootargs: "", elf: Guests.dirtier)
        let vm = try VirtualMachine(config, pool: pool)
        vm.start()
        return (vm, config)
    }

    @Test func aRealMigrationGoesThroughWhileThousandsOfClientsDribbleBytes() throws {
        let pool = PacketPool(capacity: 64)
        let (vm, config) = try Self.dirtier(pool)
        defer { vm.stop() }
        var limits = MigrationListenerLimits()
        limits.handshakeTimeout = 1
        let listener = try MigrationListener(limits: limits)
        defer { listener.close() }
        let count = Self.attackers(wanted: 2000)
        print("migration listener attack: \(count) clients dribbling a byte every 100 ms")
        let attack = Dribblers(count: count, port: listener.port, interval: 0.1)
        defer { attack.stop() }
        // The attack is under way: the gate is cutting connections (pushed out by newer ones,
        // or past their deadline).
        #expect(waitUntil(60) { listener.tally.evicted + listener.tally.expired > limits.maxHandshakes }, "\(listener.tally)")

        let hooksBox = UnsafeTransfer(value: MigrationDestinationHooks(pool: pool) { _ in config })
        let destination = Background { () -> Result<IncomingMigration, MigrationError> in
            Result { () throws(MigrationError) in try listener.receive(hooks: hooksBox.value) }
        }
        let report = try migrate(vm: vm, to: "127.0.0.1", port: listener.port)
        let incoming = try destination.wait().get()
        defer { incoming.vm.stop() }
        let tally = listener.tally
        print("during the attack: \(tally), \(attack.closedByListener) attack connections closed by the listener")
        #expect(report.rounds >= 1 && incoming.vm.state == .running && vm.state == .stopped)
        #expect(tally.accepted == 1, "only the real migration reached a worker")
        #expect(tally.handshaking <= limits.maxHandshakes && tally.evicted + tally.expired > 0)
    }

    @Test func connectionsBeyondTheHandshakeCapPushOutTheOldestAndGarbageIsClosed() throws {
        var limits = MigrationListenerLimits()
        limits.maxHandshakes = 4
        limits.handshakeTimeout = 600  // the first four stay for the whole test
        let listener = try MigrationListener(limits: limits)
        defer { listener.close() }
        // One at a time, so the listener sees them in this order.
        var fds: [Int32] = []
        defer { for fd in fds where fd >= 0 { _ = Glibc.close(fd) } }
        for i in 0..<10 {
            fds.append(RawTCP.connect(port: listener.port))
            #expect(waitUntil(30) { listener.tally.handshaking + listener.tally.evicted == i + 1 })
        }
        #expect(fds.allSatisfy { $0 >= 0 })
        var closed: [Int] = []
        #expect(waitUntil(30) {
            closed = fds.indices.filter { RawTCP.closedByPeer(fds[$0]) }
            return closed.count == 6
        }, "\(closed) closed")
        #expect(closed == Array(0..<6), "the oldest made room")
        #expect(listener.tally.evicted == 6 && listener.tally.handshaking == 4)

        // Not our protocol: closed at once, and the four waiting are not touched.
        var loose = MigrationListenerLimits()
        loose.handshakeTimeout = 600
        let other = try MigrationListener(limits: loose)
        defer { other.close() }
        let http = RawTCP.connect(port: other.port)
        defer { _ = Glibc.close(http) }
        #expect(waitUntil(30) { RawTCP.send(http, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) })
        #expect(waitUntil(30) { RawTCP.closedByPeer(http) })
        #expect(other.tally.rejected == 1 && other.tally.accepted == 0)
        #expect(!fds.suffix(4).contains { RawTCP.closedByPeer($0) })
    }

    @Test func aConnectionIsClosedAtTheHandshakeDeadlineHoweverItIsPaced() throws {
        var limits = MigrationListenerLimits()
        limits.handshakeTimeout = 0.3
        let listener = try MigrationListener(limits: limits)
        defer { listener.close() }
        let idle = RawTCP.connect(port: listener.port)
        let dribbler = RawTCP.connect(port: listener.port)
        defer { _ = Glibc.close(idle); _ = Glibc.close(dribbler) }
        // The dribbler sends a valid header one byte every 50 ms: never silent, never done in time.
        var header = [UInt8]()
        header.appendLE(MigrationWire.magic)
        header.appendLE(MigrationWire.version)
        header.appendLE(MessageType.hello.rawValue)
        header.appendLE(UInt32(64))
        header.appendLE(UInt32(0))
        var sent = 0
        while sent < header.count, !RawTCP.closedByPeer(dribbler), RawTCP.send(dribbler, [header[sent]]) {
            sent += 1
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(sent < header.count, "cut off before its header was complete")
        #expect(waitUntil(30) { RawTCP.closedByPeer(idle) })
        #expect(listener.tally.expired == 2 && listener.tally.handshaking == 0)
    }

    @Test func aListenerAtItsMigrationCapRefusesTheNextAsBusyThenTakesIt() throws {
        let pool = PacketPool(capacity: 64)
        let (vm, config) = try Self.dirtier(pool)
        defer { vm.stop() }
        var limits = MigrationListenerLimits()
        limits.maxMigrations = 1
        let listener = try MigrationListener(limits: limits)
        defer { listener.close() }
        // A valid hello that then does nothing holds the only slot.
        let holder = MigrationConnection(try MigrationTCP.connect(host: "127.0.0.1", port: listener.port))
        try holder.send(MigrationMessage(.hello, Array(try JSONEncoder().encode(MigrationDescription(of: vm)))))
        let held = try listener.accept(timeout: 30)
        let error = #expect(throws: MigrationError.self) { _ = try migrate(vm: vm, to: "127.0.0.1", port: listener.port) }
        #expect(error?.phase == .description && error?.refused == true && error?.reason.contains("busy") == true,
                "\(String(describing: error))")
        #expect(vm.state == .running)

        held.close()
        holder.close()
        let hooksBox = UnsafeTransfer(value: MigrationDestinationHooks(pool: pool) { _ in config })
        let destination = Background { () -> Result<IncomingMigration, MigrationError> in
            Result { () throws(MigrationError) in try listener.receive(hooks: hooksBox.value) }
        }
        _ = try migrate(vm: vm, to: "127.0.0.1", port: listener.port)
        let incoming = try destination.wait().get()
        defer { incoming.vm.stop() }
        #expect(incoming.vm.state == .running && vm.state == .stopped)
    }

    @Test func resolveIsAnsweredInTheEventLoop() throws {
        let outcomes = MigrationOutcomes()
        outcomes.record("m1", .aborted)
        let listener = try MigrationListener(outcomes: outcomes)
        defer { listener.close() }
        #expect(MigrationTCP.resolve(id: "m1", at: "127.0.0.1:\(listener.port)") == .aborted)
        #expect(MigrationTCP.resolve(id: "m2", at: "127.0.0.1:\(listener.port)") == .unknown)
        #expect(listener.tally.resolved == 2 && listener.tally.accepted == 0)
    }

    @Test func aMessageMustArriveWholeWithinItsTimeoutHoweverItIsPaced() throws {
        let (a, b) = MemoryByteStream.pair()
        let bytes = MigrationWire.encode(MigrationMessage(.hello, [UInt8](repeating: 0x41, count: 100)))
        // One byte every 20 ms (over 2 s for the message): each byte is well within the
        // timeout, the whole message is not.
        let writer = Background { () -> Int in
            var sent = 0
            for byte in bytes {
                guard (try? a.write([byte])) != nil else { break }
                sent += 1
                Thread.sleep(forTimeInterval: 0.02)
            }
            return sent
        }
        let connection = MigrationConnection(b, timeout: 0.5)
        #expect {
            _ = try connection.receive()
        } throws: { error in
            guard case ConnectionError.stream(.timeout) = error else { return false }
            return true
        }
        b.close()
        #expect(writer.wait() < bytes.count)

        // A deadline earlier than the timeout wins.
        let (c, d) = MemoryByteStream.pair()
        defer { c.close(); d.close() }
        let late = MigrationConnection(d, timeout: 600)
        late.deadline = Date(timeIntervalSinceNow: 0.2)
        #expect(throws: ConnectionError.self) { _ = try late.receive() }
    }

    @Test func badLimitsAreRefused() {
        #expect(throws: StreamError.self) { _ = try MigrationListener(limits: MigrationListenerLimits(maxMigrations: 0)) }
        #expect(throws: StreamError.self) { _ = try MigrationListener(limits: MigrationListenerLimits(handshakeTimeout: -1)) }
    }
}
