// TestSupport, shared by the test targets.
// ExternalTool: finds tcpdump/tshark and runs them with Foundation's Process; TemporaryDirectory
// gives each test its own scratch directory.
import Foundation

/// A command-line tool the tests compare against (tcpdump, tshark, editcap).
public struct ExternalTool {
    public let path: String

    public init(path: String) { self.path = path }

    /// Finds `name` on PATH or in /usr/bin, /usr/sbin, /usr/local/bin; nil when absent.
    public static func find(_ name: String) -> ExternalTool? {
        let pathDirectories = (ProcessInfo.processInfo.environment["PATH"] ?? "")
            .split(separator: ":").map(String.init)
        for directory in pathDirectories + ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/sbin", "/bin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return ExternalTool(path: candidate) }
        }
        return nil
    }

    /// Finds `name`, or prints a one-line reason for skipping and returns nil.
    public static func require(_ name: String, for test: String) -> ExternalTool? {
        if let tool = find(name) { return tool }
        print("skipping \(test): \(name) not found on PATH, /usr/bin or /usr/sbin")
        return nil
    }

    /// Runs the tool; returns its exit status and standard output. Standard error is discarded
    /// (tshark warns when run as root).
    public func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// tcpdump drops root to user "tcpdump" before writing; keep root so it can write our
    /// scratch directories.
    public static var tcpdumpPrivilegeArguments: [String] { getuid() == 0 ? ["-Z", "root"] : [] }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct TemporaryDirectory {
    public let path: String

    public init() throws {
        var template = Array((NSTemporaryDirectory() + "/switchboard-tests.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> UnsafeMutablePointer<CChar>? in
            guard let base = buffer.baseAddress else { return nil }
            return mkdtemp(base)
        }
        guard made != nil else { throw CocoaError(.fileWriteUnknown) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// File names in `path`, sorted.
    public static func list(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    /// File names in the directory, sorted.
    public func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}
