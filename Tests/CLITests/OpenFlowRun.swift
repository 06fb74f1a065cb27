// OpenFlowRun: a `switchboard run` of one OpenFlow switch with Linux hosts in namespaces, for the
// controller tests: it starts the real binary, waits for its control socket, finds the
// listener's port in its log, and runs commands in the hosts' namespaces, ovs-ofctl against the
// listener and the controllers of the venv Tools/openflow-controllers makes.

import ControlProtocol
import Foundation
import Glibc
import TestSupport

/// A command's outcome.
struct ToolResult {
    var status: Int32
    var out: String
}

/// Runs `path arguments...` and waits at most `timeout` seconds (then kills it: status -9).
func runCommand(_ path: String, _ arguments: [String], timeout: Double = 60, environment: [String: String]? = nil) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    nonisolated(unsafe) var data = Data()
    let reader = DispatchGroup()
    reader.enter()
    DispatchQueue.global().async {
        data = pipe.fileHandleForReading.readDataToEndOfFile()
        reader.leave()
    }
    let deadline = Date(timeIntervalSinceNow: timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    let killed = process.isRunning
    if killed { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    reader.wait()
    return ToolResult(status: killed ? -9 : process.terminationStatus, out: String(decoding: data, as: UTF8.self))
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freeTCPPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a -> Int32 in
            _ = bind(fd, a, length)
            return getsockname(fd, a, &length)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls `condition` every 100 ms for up to `seconds`.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Date(timeIntervalSinceNow: seconds)
    while Date() < end {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// What the controller tests need of the machine, or nil with the reason printed.
enum OpenFlowLab {
    /// Root, `ip`, `ping`, and each of `tools`; prints why not for `test`.
    static func available(for test: String, tools: [String] = []) -> [String: String]? {
        guard getuid() == 0 else {
            print("skipping \(test): needs root (network namespaces)")
            return nil
        }
        var found: [String: String] = [:]
        for name in ["ip", "ping"] + tools {
            guard let tool = ExternalTool.require(name, for: test) else { return nil }
            found[name] = tool.path
        }
        return found
    }

    /// The controllers' venv (Tools/openflow-controllers), or nil with the reason printed.
    static func venv(for test: String) -> String? {
        let script = CLI.packageRoot + "/Tools/openflow-controllers"
        guard let r = try? runCommand("/bin/bash", [script], timeout: 900), r.status == 0,
              let path = r.out.split(separator: "\n").last.map(String.init),
              FileManager.default.isExecutableFile(atPath: path + "/bin/osken-manager") else {
            print("skipping \(test): Tools/openflow-controllers could not make the controllers' venv")
            return nil
        }
        return path
    }
}

/// One `switchboard run` of a topology whose switch `sw0` speaks OpenFlow.
final class OpenFlowRun {
    let directory: TemporaryDirectory
    let file: String
    let socket: String
    let logFile: String
    private let process = Process()
    /// The passive listener's port, when the switch has one.
    private(set) var listenPort: Int?

    /// Writes `json`, starts `switchboard run` and waits (up to 45 s) until its control socket
    /// answers `flows sw0`.
    init(json: String) throws {
        directory = try TemporaryDirectory()
        file = directory.file("topology.json")
        socket = directory.file("control.sock")
        logFile = directory.file("run.log")
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["run", file, "--control", socket, "--duration", "300"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        _ = eventually(45) { isRunning && flows().status == 0 }
        if let line = self.log.split(separator: "\n").first(where: { $0.contains("OpenFlow listener on ") }),
           let port = line.split(separator: ":").dropFirst().last.flatMap({ Int($0.prefix { $0.isNumber }) }) {
            listenPort = port
        }
    }

    var isRunning: Bool { process.isRunning }

    /// What the run has printed so far.
    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// `switchboard flows sw0`.
    func flows() -> ToolResult {
        (try? runCommand(CLI.binary, ["flows", "sw0", "--control", socket], timeout: 30)) ?? ToolResult(status: -1, out: "")
    }

    /// `switchboard trace FILE --switch sw0 --live --frame PORT:HEX`.
    func traceLive(port: String, hex: String) throws -> ToolResult {
        try runCommand(CLI.binary, ["trace", file, "--switch", "sw0", "--live", "--control", socket, "--frame", "\(port):\(hex)"], timeout: 30)
    }

    /// `ovs-ofctl -O OpenFlow13 COMMAND tcp:127.0.0.1:LISTENER ARGS...`.
    func ofctl(_ command: String, _ arguments: String...) throws -> ToolResult {
        guard let listenPort else { return ToolResult(status: -1, out: "no listener port in the log: \(log)") }
        return try runCommand(ExternalTool.find("ovs-ofctl")?.path ?? "/usr/bin/ovs-ofctl", ["-O", "OpenFlow13", command, "tcp:127.0.0.1:\(listenPort)"] + arguments, timeout: 30)
    }

    /// Runs a command in host `host`'s namespace.
    func inHost(_ host: String, _ arguments: [String], timeout: Double = 30) throws -> ToolResult {
        try runCommand(ExternalTool.find("ip")?.path ?? "/usr/sbin/ip", ["netns", "exec", "sb-" + host] + arguments, timeout: timeout)
    }

    /// Whether `count` pings from `host` to `address` are all answered (each within `wait` s).
    func pings(_ host: String, _ address: String, count: Int = 3, wait: Int = 5) throws -> Bool {
        try inHost(host, ["ping", "-n", "-q", "-c", "\(count)", "-i", "0.2", "-W", "\(wait)", address]).status == 0
    }

    /// Whether `host` gets no answer at all from `address` (two pings, a second each).
    func unreachable(_ host: String, _ address: String) throws -> Bool {
        let r = try inHost(host, ["ping", "-n", "-q", "-c", "2", "-i", "0.3", "-W", "1", address])
        return r.status != 0 && r.out.contains(" 0 received")
    }

    /// Stops the run (SIGTERM, then SIGKILL after 20 s) and removes its directory.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date(timeIntervalSinceNow: 20)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        directory.remove()
    }
}

/// A controller process (osken-manager or faucet) of the venv, with its log.
final class ControllerProcess {
    let process = Process()
    let logFile: String

    /// Starts `venv/bin/executable arguments...` with `environment` added; output goes to `logFile`.
    init(venv: String, executable: String, arguments: [String], environment: [String: String] = [:], logFile: String) throws {
        self.logFile = logFile
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.executableURL = URL(fileURLWithPath: venv + "/bin/" + executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = venv + "/bin:" + (env["PATH"] ?? "/usr/bin:/bin")
        process.environment = env.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// os-ken running `Tools/openflow-apps/APP` on 127.0.0.1:`port`.
    static func osken(venv: String, app: String, port: Int, logFile: String) throws -> ControllerProcess {
        try ControllerProcess(venv: venv, executable: "osken-manager",
                              arguments: ["--ofp-tcp-listen-port", "\(port)", "--ofp-listen-host", "127.0.0.1",
                                          CLI.packageRoot + "/Tools/openflow-apps/" + app],
                              logFile: logFile)
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Waits until something listens on 127.0.0.1:`port` (os-ken takes seconds to import):
    /// a switch that connects before would back off for up to 8 s.
    func waitListening(port: Int, timeout: Double = 60) -> Bool {
        eventually(timeout) {
            let listening = String(format: "0100007F:%04X 00000000:0000 0A", port)
            return ((try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? "").contains(listening)
        }
    }

    /// Kills it (SIGKILL: a controller that dies, not one that says goodbye) and waits.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
