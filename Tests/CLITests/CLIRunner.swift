// Runs the built `switchboard` binary for end-to-end tests.

import Foundation
import TestSupport

/// The `switchboard` executable next to the test bundle, run as a user would.
enum CLI {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func topology(_ name: String) -> String { packageRoot + "/Topologies/" + name }

    /// The text of Topologies/`name` with its Linux guest images taken from `images` and
    /// everything it writes under vm-data/ put in `dir` (the Linux topologies' tests).
    /// `linuxTopologyText` written to `dir`/`name`; its path.
    static func writeLinuxTopology(_ name: String, images: String, in dir: String) throws -> String {
        let file = dir + "/" + name
        try linuxTopologyText(name, images: images, in: dir).write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    static func linuxTopologyText(_ name: String, images: String, in dir: String) throws -> String {
        try String(contentsOfFile: topology(name), encoding: .utf8)
            .replacingOccurrences(of: "\".build/guest-linux/", with: "\"" + images + "/")
            .replacingOccurrences(of: "\"vm-data/", with: "\"" + dir + "/")
    }

    /// The binary: the test bundle and the executable share a build directory.
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if url.lastPathComponent == "MacOS" || url.lastPathComponent == "Contents" { url.deleteLastPathComponent() }
        return url.appendingPathComponent("switchboard").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `switchboard arguments...` in `directory`; `signal` is sent after `signalAfter` seconds.
    /// A run still going after `timeout` seconds gets SIGTERM (and SIGKILL 15 s later), so a
    /// hung run ends with what it printed instead of outliving its test (and holding the
    /// namespaces the next test builds).
    static func run(_ arguments: [String], in directory: String? = nil, signal: Int32? = nil,
                    signalAfter: Double = 0.5, binary: String = CLI.binary, timeout: Double? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                guard process.isRunning else { return }
                kill(pid, SIGTERM)
                DispatchQueue.global().asyncAfter(deadline: .now() + 15) { if process.isRunning { kill(pid, SIGKILL) } }
            }
        }
        if let signal {
            Thread.sleep(forTimeInterval: signalAfter)
            kill(process.processIdentifier, signal)
        }
        // Read both pipes concurrently so neither fills up.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
