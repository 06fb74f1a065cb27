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
                    // SAFETY: the view covers the `n` bytes just received into the buffer.
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
