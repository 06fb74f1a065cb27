// `bench migration`'s plumbing for QEMU: watching a child's console for a line, free loopback
// ports, and a minimal QMP client over a Unix socket.

import ArgumentParser
import Foundation

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
