// NamespaceLab: helpers for the integration tests that need root and network namespaces:
// running `switchboard run` as a user would, commands inside namespaces, and cleanup that
// happens even when an expectation fails.

import ControlProtocol
import Foundation
import HostNetworking
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

enum NamespaceLab {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func topology(_ name: String) -> String { packageRoot + "/Topologies/" + name }

    /// The `switchboard` executable beside the test bundle.
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("switchboard").path
    }()

    /// Why these tests cannot run here, or nil. Prints the reason once per test.
    static func skipReason(_ test: String, tools: [String] = ["ping"]) -> String? {
        var reason: String?
        if geteuid() != 0 { reason = "needs root for network namespaces" }
        else if IPCommand.path == nil { reason = "iproute2's ip not found" }
        else if !FileManager.default.isExecutableFile(atPath: binary) { reason = "switchboard binary not built at \(binary)" }
        else if let missing = tools.first(where: { ExternalTool.find($0) == nil }) { reason = "\(missing) not found" }
        else {
            // A name of its own: suites probe in parallel.
            let probe = "sb-probe-\(getpid())-\(UInt32.random(in: 0...999_999))"
            if IPCommand.attempt(["netns", "add", probe]) {
                IPCommand.attempt(["netns", "delete", probe])
            } else {
                reason = "cannot create network namespaces"
            }
        }
        if let reason { print("skipping \(test): \(reason)") }
        return reason
    }

    /// Runs `arguments` inside namespace `ns`; returns status and standard output + error.
    @discardableResult
    static func exec(_ ns: String, _ arguments: [String]) -> (status: Int32, output: String) {
        guard let ip = IPCommand.path, let r = try? IPCommand.execute(program: ip, ["netns", "exec", ns] + arguments) else {
            return (-1, "cannot run ip")
        }
        return (r.status, r.output + r.error)
    }

    /// Whether `ns` gets replies from `address` (two pings, 0.2 s apart, 1 s wait).
    static func ping(from ns: String, _ address: String, count: Int = 2) -> Bool {
        exec(ns, ["ping", "-n", "-q", "-c", "\(count)", "-i", "0.2", "-W", "1", address]).status == 0
    }

    /// Starts `arguments` inside `ns` in the background with no standard I/O (servers).
    static func spawn(_ ns: String, _ arguments: [String]) -> Process? {
        guard let ip = IPCommand.path else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = ["netns", "exec", ns] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        return process
    }

    /// Ends a process started by `spawn` (SIGKILL: it may have inherited blocked signals).
    static func end(_ process: Process?) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Polls `condition` every 50 ms for up to `seconds`; returns its last value.
    static func waitUntil(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    /// Whether switch `sw`'s port `port` of the instance at `run` is up (nil: no answer).
    static func portUp(_ run: SwitchboardRun, _ sw: String, _ port: String) -> Bool? {
        let stats = try? run.request(.stats(switchName: sw))
        return stats?.stats?.first?.ports.first { $0.name == port }?.up
    }

    /// Namespaces that exist now.
    static func namespaces() -> Set<String> { Set(IPCommand.namespaces()) }
}

/// A `switchboard run` child process, stopped (SIGTERM, then SIGKILL) by `stop()` or deinit.
final class SwitchboardRun {
    let process = Process()
    let directory: TemporaryDirectory
    let control: String
    private var stopped = false
    private(set) var stdout = ""
    private(set) var stderr = ""

    /// Starts `switchboard run TOPOLOGY` in a scratch directory, optionally inside namespace
    /// `namespace`, and waits until its control socket answers.
    init(_ topology: String, namespace: String? = nil, readyTimeout: Double = 20) throws {
        directory = try TemporaryDirectory()
        control = directory.file("control.sock")
        if let namespace, let ip = IPCommand.path {
            process.executableURL = URL(fileURLWithPath: ip)
            process.arguments = ["netns", "exec", namespace, NamespaceLab.binary, "run", topology, "--control", control]
        } else {
            process.executableURL = URL(fileURLWithPath: NamespaceLab.binary)
            process.arguments = ["run", topology, "--control", control]
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        _ = FileManager.default.createFile(atPath: directory.file("stdout"), contents: nil)
        _ = FileManager.default.createFile(atPath: directory.file("stderr"), contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: directory.file("stdout"))
        process.standardError = FileHandle(forWritingAtPath: directory.file("stderr"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(readyTimeout)
        while Date() < deadline && process.isRunning {
            if let r = try? ControlClient.send(.stats(switchName: nil), to: control), r.ok { return }
            usleep(50_000)
        }
    }

    /// Whether the instance is up and answering.
    var isReady: Bool {
        process.isRunning && ((try? ControlClient.send(.stats(switchName: nil), to: control))?.ok ?? false)
    }

    /// Sends a control request.
    func request(_ r: ControlRequest) throws -> ControlResponse { try ControlClient.send(r, to: control) }

    /// Runs a `switchboard` subcommand against this instance.
    func cli(_ arguments: [String]) -> (status: Int32, output: String) {
        guard let r = try? IPCommand.execute(program: NamespaceLab.binary, arguments + ["--control", control]) else {
            return (-1, "")
        }
        return (r.status, r.output + r.error)
    }

    /// Stops the process with `signal` and returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if !stopped {
            stopped = true
            if process.isRunning {
                kill(process.processIdentifier, signal)
                let deadline = Date().addingTimeInterval(10)
                while process.isRunning && Date() < deadline { usleep(20_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            process.waitUntilExit()
            stdout = (try? String(contentsOfFile: directory.file("stdout"), encoding: .utf8)) ?? ""
            stderr = (try? String(contentsOfFile: directory.file("stderr"), encoding: .utf8)) ?? ""
        }
        return process.terminationStatus
    }

    deinit {
        stop()
        directory.remove()
    }
}
