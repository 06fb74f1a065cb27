// IPCommand: runs iproute2's `ip` for what is simplest to say with it (namespaces, veth
// pairs, moving devices between namespaces, addresses). Control path only.

import Foundation

/// Runs `ip` (iproute2) and turns failures into `HostNetworkingError`.
public enum IPCommand {
    /// The `ip` binary: the first of /usr/sbin/ip, /sbin/ip, /usr/bin/ip, /bin/ip that exists.
    public static let path: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `ip ARGS`; returns its standard output. Fails with the first line of its error.
    @discardableResult
    public static func run(_ arguments: [String]) throws(HostNetworkingError) -> String {
        let result = try execute(arguments)
        guard result.status == 0 else {
            let text = result.error.isEmpty ? result.output : result.error
            if text.contains("Operation not permitted") || text.contains("Permission denied") {
                throw .needsRoot("ip " + arguments.joined(separator: " "))
            }
            throw .command("ip " + arguments.joined(separator: " "), status: result.status, output: text)
        }
        return result.output
    }

    /// Runs `ip ARGS` and reports only whether it succeeded (for cleanup of what may not exist).
    @discardableResult
    public static func attempt(_ arguments: [String]) -> Bool {
        (try? execute(arguments))?.status == 0
    }

    /// Runs a program and collects its exit status, standard output and standard error.
    public static func execute(program: String, _ arguments: [String]) throws(HostNetworkingError)
        -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw .invalid("cannot run \(program): \(error)")
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self),
                String(decoding: errData, as: UTF8.self))
    }

    private static func execute(_ arguments: [String]) throws(HostNetworkingError) -> (status: Int32, output: String, error: String) {
        guard let path else { throw .invalid("iproute2's `ip` was not found in /usr/sbin, /sbin, /usr/bin or /bin") }
        return try execute(program: path, arguments)
    }

    /// The network namespaces `ip netns list` shows.
    public static func namespaces() -> [String] {
        guard let text = try? run(["netns", "list"]) else { return [] }
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }
}
