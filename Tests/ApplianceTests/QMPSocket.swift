// ApplianceTests: the test's side of a QEMU `-qmp unix:PATH,server=on,wait=off` socket -- one
// JSON command per line, its `return` read back, events skipped -- to look at guest memory.
import Foundation

/// A QMP connection over a Unix socket, one command at a time.
final class QMPSocket {
    /// Why QMP could not be reached or refused a command.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let fd: Int32
    private var pending: [UInt8] = []
    private let timeout: Double

    /// Connects to `path` (retrying while QEMU creates it), reads the greeting and enters
    /// command mode.
    init(path: String, timeout: Double) throws {
        self.timeout = timeout
        let end = Date().addingTimeInterval(timeout)
        var connected: Int32 = -1
        while connected < 0 {
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard s >= 0 else { throw Failure(description: "socket: errno \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(s)
                throw Failure(description: "QMP path too long: \(path)")
            }
            // SAFETY: the path is shorter than sun_path (checked; the struct starts zeroed) and
            // is copied into the struct's own storage; the pointers live only for the calls.
            let ok = withUnsafeMutablePointer(to: &address) { pointer -> Bool in
                withUnsafeMutableBytes(of: &pointer.pointee.sun_path) { $0.copyBytes(from: bytes) }
                return pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            if ok {
                connected = s
            } else {
                close(s)
                guard Date() < end else { throw Failure(description: "cannot connect to \(path)") }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        fd = connected
        _ = try nextObject()
        _ = try execute("qmp_capabilities")
    }

    deinit { close(fd) }

    /// Runs `command` with `arguments`; returns its `return` value.
    @discardableResult
    func execute(_ command: String, _ arguments: [String: Any] = [:]) throws -> Any {
        var object: [String: Any] = ["execute": command]
        if !arguments.isEmpty { object["arguments"] = arguments }
        let line = Array(try JSONSerialization.data(withJSONObject: object)) + [10]
        var offset = 0
        while offset < line.count {
            // SAFETY: the pointer covers `line` and the length stays within it.
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress! + offset, line.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw Failure(description: "QMP write: errno \(errno)") }
            offset += written
        }
        while true {
            let reply = try nextObject()
            if reply["event"] != nil { continue }
            if let error = reply["error"] { throw Failure(description: "QMP \(command): \(error)") }
            return reply["return"] ?? [:]
        }
    }

    /// The next line's JSON object.
    private func nextObject() throws -> [String: Any] {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw Failure(description: "QMP sent something other than an object")
                }
                return object
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = end.timeIntervalSinceNow
            guard left > 0, poll(&entry, 1, Int32(max(1, left * 1000))) > 0 else { throw Failure(description: "QMP timed out") }
            var buffer = [UInt8](repeating: 0, count: 4096)
            // SAFETY: reads at most buffer.count bytes into the buffer's own storage.
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw Failure(description: "QMP connection closed") }
            pending += buffer[0..<got]
        }
    }
}
