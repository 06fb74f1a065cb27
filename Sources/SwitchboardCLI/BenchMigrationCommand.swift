// `switchboard bench migration`: live migration of idle appliance VMs (and of a memory-dirtying
// guest) over loopback TCP, beside QEMU migrating the same appliance over QMP in the same run.

import ArgumentParser
import Foundation
import RISCV
import Frames
import Migration
import VMHost

/// Benchmarks Switchboard's live migration against QEMU's.
struct BenchMigrationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migration",
        abstract: "Live migration of idle appliance VMs over loopback TCP, beside QEMU.")

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "VM memory sizes in MiB, comma separated.")
    var sizes = "64,256,1024"

    @Option(help: "Migrations per size and system; the median (by total time) is shown.")
    var rounds = 1

    @Option(help: "QEMU binary (its columns are skipped when missing).")
    var qemu = "/usr/bin/qemu-system-riscv64"

    @Option(help: ArgumentHelp("The guest appliance ELF (default: built from Tools/appliance).", valueName: "path"))
    var appliance: String?

    @Flag(help: "Skip the memory-dirtying guest's row.")
    var noDirty = false

    static let bootargs = "ip=10.0.0.1/24 role=echo"
    static let dirtySize = 64

    /// One QEMU migration as `query-migrate` reported it.
    struct QEMUResult {
        var totalMs: Double
        var downtimeMs: Double
        var rounds: Int
        var pages: Int
        var zeroPages: Int
    }

    func parsedSizes() throws -> [Int] {
        let parts = sizes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard !values.isEmpty, values.count == parts.count, values.allSatisfy({ $0 >= 16 && $0 <= 4096 }) else {
            throw ValidationError("--sizes must be comma-separated MiB values in 16...4096")
        }
        return values
    }

    func run() throws {
        let sizeList = try parsedSizes()
        guard rounds >= 1 && rounds <= 20 else { throw ValidationError("--rounds must be 1...20") }
        let elfPath: String
        switch ApplianceLocator.locate(explicit: appliance) {
        case .success(let path): elfPath = path
        case .failure(let error): throw ValidationError("\(error)")
        }
        guard let elfData = FileManager.default.contents(atPath: elfPath) else { throw ValidationError("cannot read \(elfPath)") }
        let elf = [UInt8](elfData)
        let haveQEMU = FileManager.default.isExecutableFile(atPath: qemu)
        var results: [String: Any] = ["build": isDebugBuild ? "debug" : "release", "network_outage": "not measured"]
        var rows: [(String, String, String)] = []

        for size in sizeList {
            let ours = try medianReport((0..<rounds).map { _ in try switchboardMigration(kernel: elf, memoryMiB: size, bootargs: Self.bootargs, waitReady: true) })
            results["switchboard_\(size)"] = object(ours)
            var theirs: QEMUResult? = nil
            if haveQEMU {
                theirs = try (0..<rounds).compactMap { _ in try qemuMigration(elf: elfPath, memoryMiB: size) }
                    .sorted { $0.totalMs < $1.totalMs }.dropFirst(rounds / 2).first
                results["qemu_\(size)"] = theirs.map(object) ?? "failed"
            }
            rows.append(("\(size) MiB idle", describe(ours), theirs.map(describe) ?? (haveQEMU ? "failed" : "-")))
        }
        if !noDirty {
            // The guest stores into every page of 8 MiB over and over: it never converges, so
            // this row shows the round limit and the stop-and-copy of a busy guest.
            let ours = try medianReport((0..<rounds).map { _ in
                try switchboardMigration(kernel: GuestELF.memoryDirtier, memoryMiB: Self.dirtySize, bootargs: "", waitReady: false)
            })
            results["switchboard_dirty_\(Self.dirtySize)"] = object(ours)
            rows.append(("\(Self.dirtySize) MiB dirtying 8 MiB", describe(ours), "-"))
        }

        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("switchboard bench migration (\(isDebugBuild ? "DEBUG build: use -c release" : "release build")), loopback TCP, median of \(rounds); network outage not measured")
            print("  " + "size".padding(toLength: 24, withPad: " ", startingAt: 0)
                  + "switchboard total / downtime / rounds / pages (zero)".padding(toLength: 56, withPad: " ", startingAt: 0)
                  + "qemu total / downtime / syncs " + (haveQEMU ? "(same appliance, NIC on an empty hub, defaults)" : "(not installed)"))
            for (name, a, b) in rows {
                print("  " + name.padding(toLength: 24, withPad: " ", startingAt: 0) + a.padding(toLength: 56, withPad: " ", startingAt: 0) + b)
            }
        }
    }

    func object(_ r: MigrationReport) -> [String: Any] {
        ["total_ms": round2(r.totalMs), "downtime_ms": round2(r.downtimeMs), "rounds": r.rounds, "pages": r.pages,
         "zero_pages": r.zeroPages, "bytes": r.bytes, "lost": r.lost]
    }

    func object(_ q: QEMUResult) -> [String: Any] {
        ["total_ms": round2(q.totalMs), "downtime_ms": round2(q.downtimeMs), "rounds": q.rounds, "pages": q.pages, "zero_pages": q.zeroPages]
    }

    func describe(_ r: MigrationReport) -> String {
        String(format: "%.1f ms / %.2f ms / %d / %d (%d), lost %d", r.totalMs, r.downtimeMs, r.rounds, r.pages, r.zeroPages, r.lost)
    }

    func describe(_ q: QEMUResult) -> String {
        String(format: "%.0f ms / %.0f ms / %d", q.totalMs, q.downtimeMs, q.rounds)
    }

    func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }

    func medianReport(_ runs: [MigrationReport]) throws -> MigrationReport {
        let sorted = runs.sorted { $0.totalMs < $1.totalMs }
        guard !sorted.isEmpty else { throw ValidationError("no migration finished") }
        return sorted[sorted.count / 2]
    }

    // MARK: Switchboard

    /// Boots a VM, migrates it over 127.0.0.1 to a second VM built in this process, and stops
    /// both. The VM's NIC is on no switch (the idle appliance talks to nobody).
    func switchboardMigration(kernel: [UInt8], memoryMiB: Int, bootargs: String, waitReady: Bool) throws -> MigrationReport {
        let pool = PacketPool(capacity: 256)
        let config = VMConfiguration(name: "bench", memoryMiB: memoryMiB, firmware: .none, kernel: kernel, bootargs: bootargs,
                                     nicMACs: [MACAddress(0x52, 0x54, 0, 0, 0, 1)], disks: [], consoleLog: nil,
                                     consoleToStdout: false, expect: [])
        let source = try VirtualMachine(config, pool: pool)
        source.start()
        defer { source.stop() }
        let deadline = Date().addingTimeInterval(30)
        if waitReady {
            while source.bootSeconds == nil && Date() < deadline { usleep(5_000) }
            guard source.bootSeconds != nil else { throw ValidationError("the \(memoryMiB) MiB appliance never became ready") }
        }
        usleep(200_000)

        let listener = try MigrationListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        // The hooks move to the destination thread and are used only there.
        let hooks = HooksTransfer(value: MigrationDestinationHooks(pool: pool) { _ in config })
        let incoming = IncomingBox()
        let destination = Thread {
            do { incoming.set(.success(try listener.receive(hooks: hooks.value))) } catch { incoming.set(.failure(error)) }
        }
        destination.start()
        let report: MigrationReport
        do { report = try migrate(vm: source, to: "127.0.0.1", port: listener.port) } catch {
            listener.close()
            _ = incoming.wait()
            throw ValidationError("migration of \(memoryMiB) MiB failed: \(error)")
        }
        switch incoming.wait() {
        case .success(let arrived):
            arrived.vm.stop()
            guard arrived.vm.board.memory.pageCount > 0 else { throw ValidationError("empty destination") }
        case .failure(let error):
            throw ValidationError("destination of \(memoryMiB) MiB failed: \(error)")
        }
        return report
    }

    // MARK: QEMU

    /// Migrates an idle appliance between two QEMUs over 127.0.0.1, driven over QMP; nil when
    /// QEMU does not get it done within 60 s (its migration parameters are QEMU's defaults). Both QEMUs are SIGKILLed at the end.
    func qemuMigration(elf: String, memoryMiB: Int) throws -> QEMUResult? {
        let port = try LoopbackPort.free()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-mig-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let qmpPath = dir.appendingPathComponent("qmp.sock").path
        let common = ["-M", "virt", "-cpu", "rv64,f=false,d=false,h=false", "-m", "\(memoryMiB)", "-nographic", "-monitor", "none",
                      "-bios", "none", "-kernel", elf, "-append", Self.bootargs, "-global", "virtio-mmio.force-legacy=false",
                      // The appliance needs a NIC: one on a QEMU hub with nothing else on it.
                      "-netdev", "hubport,id=n0,hubid=0", "-device", "virtio-net-device,netdev=n0,mac=52:54:00:00:00:01"]
        let destination = Process()
        destination.executableURL = URL(fileURLWithPath: qemu)
        destination.arguments = common + ["-serial", "none", "-incoming", "tcp:127.0.0.1:\(port)"]
        destination.standardOutput = FileHandle.nullDevice
        destination.standardError = FileHandle.nullDevice
        destination.standardInput = FileHandle.nullDevice
        let source = Process()
        source.executableURL = URL(fileURLWithPath: qemu)
        source.arguments = common + ["-serial", "stdio", "-qmp", "unix:\(qmpPath),server=on,wait=off"]
        let out = Pipe()
        source.standardOutput = out
        source.standardError = FileHandle.nullDevice
        source.standardInput = FileHandle.nullDevice
        defer {
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
        _ = try qmp.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:\(port)\"}}")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let reply = try qmp.execute("{\"execute\": \"query-migrate\"}")
            guard let info = reply["return"] as? [String: Any] else { return nil }
            let status = info["status"] as? String ?? ""
            if status == "completed" {
                let ram = info["ram"] as? [String: Any] ?? [:]
                let normal = (ram["normal"] as? NSNumber)?.intValue ?? 0
                let zero = (ram["duplicate"] as? NSNumber)?.intValue ?? 0
                return QEMUResult(totalMs: (info["total-time"] as? NSNumber)?.doubleValue ?? 0,
                                  downtimeMs: (info["downtime"] as? NSNumber)?.doubleValue ?? 0,
                                  rounds: (ram["dirty-sync-count"] as? NSNumber)?.intValue ?? 0,
                                  pages: normal + zero, zeroPages: zero)
            }
            if status == "failed" || status == "cancelled" { return nil }
            usleep(2_000)
        }
        return nil
    }
}

/// Destination hooks handed to the thread that runs the destination side.
private struct HooksTransfer: @unchecked Sendable { var value: MigrationDestinationHooks }

/// The destination thread's outcome, handed to the benchmark thread.
private final class IncomingBox: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<IncomingMigration, any Error>?

    func set(_ r: Result<IncomingMigration, any Error>) {
        result = r
        done.signal()
    }

    func wait() -> Result<IncomingMigration, any Error> {
        done.wait()
        done.signal()
        return result ?? .failure(ValidationError("no result"))
    }
}

/// Reads a child's output on a thread until a line appears.
private final class ConsoleWatch: @unchecked Sendable {
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

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, released).
enum LoopbackPort {
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
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
private final class QMPClient {
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
