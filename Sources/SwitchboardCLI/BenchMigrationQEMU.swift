// `bench migration`, QEMU side: the same appliance migrated between two QEMUs over 127.0.0.1,
// driven over QMP, each QEMU's NIC on a UDP socket netdev that the outage probe (a UDP socket
// here) sends every request to; only the QEMU that runs the guest answers.

import ArgumentParser
import Foundation

/// One QEMU migration as `query-migrate` reported it, and what the probe saw.
struct QEMUResult {
    var totalMs: Double
    var downtimeMs: Double
    var rounds: Int
    var pages: Int
    var zeroPages: Int
    var probe: ProbeResult
}

extension BenchMigrationCommand {
    /// Migrates the appliance between two QEMUs; nil when QEMU does not get it done within
    /// 60 s (its migration parameters are QEMU's defaults). Both are SIGKILLed at the end.
    func qemuMigration(elf: String, memoryMiB: Int, bootargs: String, timing: ProbeTiming) throws -> QEMUResult? {
        let port = try LoopbackPort.free()
        let probe = try UDPEchoProbe(interval: timing.interval)
        let sourcePort = try LoopbackPort.free(udp: true), destinationPort = try LoopbackPort.free(udp: true)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-mig-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let qmpPath = dir.appendingPathComponent("qmp.sock").path
        let common = ["-M", "virt", "-cpu", "rv64,f=false,d=false,h=false", "-m", "\(memoryMiB)", "-nographic", "-monitor", "none",
                      "-bios", "none", "-kernel", elf, "-append", bootargs, "-global", "virtio-mmio.force-legacy=false",
                      "-device", "virtio-net-device,netdev=n0,mac=52:54:00:00:00:01"]
        // Each QEMU sends its frames to the probe's socket and receives on its own port.
        func netdev(_ local: Int) -> [String] {
            ["-netdev", "socket,id=n0,udp=127.0.0.1:\(probe.port),localaddr=127.0.0.1:\(local)"]
        }
        let destination = Process()
        destination.executableURL = URL(fileURLWithPath: qemu)
        destination.arguments = common + netdev(destinationPort) + ["-serial", "none", "-incoming", "tcp:127.0.0.1:\(port)"]
        destination.standardOutput = FileHandle.nullDevice
        destination.standardError = FileHandle.nullDevice
        destination.standardInput = FileHandle.nullDevice
        let source = Process()
        source.executableURL = URL(fileURLWithPath: qemu)
        source.arguments = common + netdev(sourcePort) + ["-serial", "stdio", "-qmp", "unix:\(qmpPath),server=on,wait=off"]
        let out = Pipe()
        source.standardOutput = out
        source.standardError = FileHandle.nullDevice
        source.standardInput = FileHandle.nullDevice
        defer {
            probe.finish()
            for p in [source, destination] where p.isRunning { kill(p.processIdentifier, SIGKILL) }
            for p in [source, destination] { p.waitUntilExit() }
        }
        try destination.run()
        try source.run()
        let ready = ConsoleWatch(out.fileHandleForReading, line: "appliance: ready")
        guard ready.wait(timeout: 30) else { return nil }
        usleep(200_000)

        let qmp = try QMPClient(path: qmpPath, timeout: 10)
        defer { qmp.close() }
        _ = try qmp.execute("{\"execute\": \"qmp_capabilities\"}")
        // To the source only at first: requests sent to the destination wait in its socket
        // until it runs (QEMU reads none meanwhile), and only so many fit.
        probe.start(targets: [sourcePort])
        usleep(UInt32(timing.lead * 1e6))
        let started = monotonicNanos()
        probe.add(target: destinationPort)
        _ = try qmp.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:\(port)\"}}")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let reply = try qmp.execute("{\"execute\": \"query-migrate\"}")
            guard let info = reply["return"] as? [String: Any] else { return nil }
            let status = info["status"] as? String ?? ""
            // QEMU sets "completed" a moment before it computes the total time: ask again.
            if status == "completed" && ((info["total-time"] as? NSNumber)?.doubleValue ?? 0) <= 0 && Date() < deadline {
                usleep(1_000)
                continue
            }
            if status == "completed" {
                let windowEnd = monotonicNanos() + Int64(timing.tail * 1e9)
                sleepUntil(windowEnd)
                probe.stopSending()
                usleep(UInt32(timing.grace * 1e6))
                let log = probe.finish()
                let ram = info["ram"] as? [String: Any] ?? [:]
                let normal = (ram["normal"] as? NSNumber)?.intValue ?? 0
                let zero = (ram["duplicate"] as? NSNumber)?.intValue ?? 0
                return QEMUResult(totalMs: (info["total-time"] as? NSNumber)?.doubleValue ?? 0,
                                  downtimeMs: (info["downtime"] as? NSNumber)?.doubleValue ?? 0,
                                  rounds: (ram["dirty-sync-count"] as? NSNumber)?.intValue ?? 0,
                                  pages: normal + zero, zeroPages: zero,
                                  probe: log.result(from: started, to: windowEnd))
            }
            if status == "failed" || status == "cancelled" { return nil }
            usleep(2_000)
        }
        return nil
    }
}

/// The outage probe for QEMU: a UDP socket on 127.0.0.1 that both QEMUs' socket netdevs send
/// to. A thread sends each numbered request frame to every target port on schedule and
/// records the replies; `finish` ends it and hands over the log.
final class UDPEchoProbe: @unchecked Sendable {
    /// The probe's own UDP port (the QEMUs' `udp=` address).
    let port: Int
    private let fd: Int32
    private let interval: Int64
    private let lock = NSLock()
    private var sending = false
    private var addresses: [sockaddr_in] = []
    private var running = false
    private var log = ProbeLog()
    private let ended = DispatchSemaphore(value: 0)

    init(interval: Int64) throws {
        self.interval = interval
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { throw ValidationError("socket: errno \(errno)") }
        var address = LoopbackPort.address(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // SAFETY: `address` is a live sockaddr_in and `length` its size, for the calls' duration.
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in bind(s, a, length) == 0 && getsockname(s, a, &length) == 0 }
        }
        guard ok else {
            close(s)
            throw ValidationError("cannot bind UDP 127.0.0.1:0: errno \(errno)")
        }
        fd = s
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    /// Starts the thread, sending to `targets` (UDP ports on 127.0.0.1) from now on.
    func start(targets: [Int]) {
        lock.withLock {
            addresses = targets.map { LoopbackPort.address($0) }
            sending = true
            running = true
        }
        Thread { [self] in
            var next = monotonicNanos()
            var buffer = [UInt8](repeating: 0, count: 2048)
            var local = ProbeLog()
            while true {
                let (send, run, targets) = lock.withLock { (sending, running, addresses) }
                if !run { break }
                var sent = 0
                var now = monotonicNanos()
                // Late (a descheduled thread): catch up, as a sender's queue would fill.
                while send && now >= next && sent < 64 {
                    let frame = EchoProbeFrame.request(local.sent(at: now))
                    for var a in targets {
                        // SAFETY: the frame and the sockaddr_in live for the call; the lengths are theirs.
                        _ = frame.withUnsafeBytes { f in
                            withUnsafePointer(to: &a) { p in
                                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                    sendto(fd, f.baseAddress, f.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                                }
                            }
                        }
                    }
                    next += interval
                    sent += 1
                    now = monotonicNanos()
                }
                var got = false
                while true {
                    // SAFETY: reads at most buffer.count bytes into the buffer's own storage.
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard n > 0 else { break }
                    got = true
                    let at = monotonicNanos()
                    if let sequence = buffer.withUnsafeBytes({ EchoProbeFrame.replySequence(UnsafeRawBufferPointer(rebasing: $0[..<n])) }) {
                        local.replied(sequence, at: at)
                    }
                }
                if !got && sent == 0 { usleep(50) }
            }
            lock.withLock { log = local }
            ended.signal()
        }.start()
    }

    /// Sends every later request to `port` too.
    func add(target port: Int) { lock.withLock { addresses.append(LoopbackPort.address(port)) } }

    /// No more requests; replies are still recorded.
    func stopSending() { lock.withLock { sending = false } }

    /// Ends the thread (if it runs) and returns what it recorded.
    @discardableResult
    func finish() -> ProbeLog {
        let wasRunning = lock.withLock { () -> Bool in
            defer { running = false }
            return running
        }
        if wasRunning { ended.wait() }
        return lock.withLock { log }
    }
}

/// Reads a child's output on a thread until a line appears.
final class ConsoleWatch: @unchecked Sendable {
    private let found = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle, line: String) {
        Thread { [found] in
            var text = ""
            var signalled = false
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                if !signalled {
                    text += String(decoding: data, as: UTF8.self)
                    if text.contains(line) {
                        signalled = true
                        found.signal()
                        text = ""
                    }
                }
            }
        }.start()
    }

    func wait(timeout: Double) -> Bool { found.wait(timeout: .now() + timeout) == .success }
}

/// Free ports on 127.0.0.1 (bound to port 0, read back, released).
enum LoopbackPort {
    /// 127.0.0.1:`port`.
    static func address(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A TCP (or UDP) port that was free a moment ago.
    static func free(udp: Bool = false) throws -> Int {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = address(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // SAFETY: `address` is a live sockaddr_in and `length` its size, for the calls' duration.
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s in
                bind(fd, s, length) == 0 && getsockname(fd, s, &length) == 0
            }
        }
        guard ok else { throw ValidationError("cannot bind 127.0.0.1:0: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A minimal QMP client over a Unix socket: one command at a time, events skipped.
final class QMPClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let timeout: Double

    /// Connects to `path`, retrying while QEMU creates it, and reads the greeting.
    init(path: String, timeout: Double) throws {
        self.timeout = timeout
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard s >= 0 else { throw ValidationError("socket: errno \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ValidationError("QMP path too long: \(path)") }
            // SAFETY: the path (checked shorter than sun_path, which starts zeroed) is copied into
            // the struct's own storage; the pointers live only for the calls.
            let connected = withUnsafeMutablePointer(to: &address) { p -> Bool in
                withUnsafeMutableBytes(of: &p.pointee.sun_path) { raw in raw.copyBytes(from: bytes) }
                return p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
            }
            if connected {
                fd = s
                break
            }
            Glibc.close(s)
            guard Date() < deadline else { throw ValidationError("cannot connect to QEMU's QMP socket \(path)") }
            usleep(20_000)
        }
        _ = try readObject()
    }

    /// Sends one command and returns its reply (`return` or `error`), skipping events.
    func execute(_ command: String) throws -> [String: Any] {
        let bytes = Array((command + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            // SAFETY: the buffer is alive and at least `bytes.count - sent` long past `sent`.
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            guard n > 0 else { throw ValidationError("QMP write failed: errno \(errno)") }
            sent += n
        }
        while true {
            let object = try readObject()
            if object["event"] != nil { continue }
            if let error = object["error"] { throw ValidationError("QMP \(command): \(error)") }
            return object
        }
    }

    /// The next JSON object (QMP sends one per line).
    private func readObject() throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw ValidationError("QMP sent something other than an object")
                }
                return object
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
            guard remaining > 0, poll(&p, 1, remaining) > 0 else { throw ValidationError("QMP timed out") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { throw ValidationError("QMP connection closed") }
            buffer += chunk[..<n]
        }
    }

    func close() { Glibc.close(fd) }
}
