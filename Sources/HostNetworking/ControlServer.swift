// ControlServer: the Unix socket of a running instance. It is served by the datapath loop
// itself (the listening socket and each client are descriptors in its epoll set), so
// requests read and change the switches on their own thread, between batches.

import CLinuxShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Accepts control connections: one JSON request line in, one JSON reply line out.
public final class ControlServer {
    /// The socket's path.
    public let path: String
    private let listenFD: Int32
    private var buffers: [Int32: [UInt8]] = [:]
    private let handler: (ControlRequest, Datapath, ControlReplyStream) -> ControlResponse?
    private var closed = false

    /// The default path for a topology: $XDG_RUNTIME_DIR/switchboard/NAME.sock when set,
    /// else /run/switchboard/NAME.sock.
    public static func defaultPath(topologyName: String) -> String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_RUNTIME_DIR"], !xdg.isEmpty { return xdg + "/switchboard/" + topologyName + ".sock" }
        return "/run/switchboard/" + topologyName + ".sock"
    }

    /// Listens on `path` (its directory is created; a stale socket file is replaced) and
    /// answers with `handler` on the datapath's thread.
    public convenience init(path: String, datapath: Datapath,
                            handler: @escaping (ControlRequest, Datapath) -> ControlResponse) throws(HostNetworkingError) {
        try self.init(path: path, datapath: datapath, streaming: { request, dp, _ in handler(request, dp) })
    }

    /// Listens on `path` and answers with `streaming` on the datapath's thread. A request
    /// that takes long (a migration) returns nil and answers through the `ControlReplyStream`
    /// instead, from any thread, one reply line at a time (progress, then the result).
    public init(path: String, datapath: Datapath,
                streaming: @escaping (ControlRequest, Datapath, ControlReplyStream) -> ControlResponse?) throws(HostNetworkingError) {
        self.path = path
        self.handler = streaming
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .invalid("control socket: cannot create directory \(directory): \(error.localizedDescription)")
            }
        }
        if let other = try? ControlClient.send(ControlRequest(command: "stats"), to: path, timeoutSeconds: 1), other.ok {
            throw .invalid("control socket \(path) is in use by another running switchboard (use --control PATH)")
        }
        listenFD = try HostNetworkingError.check(sb_unix_listen(path), "listen on control socket", path)
        _ = fcntl(listenFD, F_SETFL, O_NONBLOCK)
        try datapath.watch(listenFD) { [unowned self] dp, _ in self.accept(dp) }
    }

    deinit { closeSocket() }

    private func accept(_ datapath: Datapath) {
        while true {
            let fd = sb_unix_accept(listenFD)
            if fd < 0 { return }
            buffers[fd] = []
            do {
                try datapath.watch(fd) { [unowned self] dp, _ in self.read(fd, dp) }
            } catch {
                _ = Glibc.close(fd)
                buffers[fd] = nil
            }
        }
    }

    private func read(_ fd: Int32, _ datapath: Datapath) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        if n > 0 { buffers[fd, default: []] += chunk[0..<n] }
        let buffer = buffers[fd] ?? []
        guard let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) ?? (n <= 0 && !buffer.isEmpty ? buffer.endIndex : nil) else {
            if n <= 0 || buffer.count > 65_536 { finish(fd, datapath) }
            return
        }
        let response: ControlResponse
        do {
            let request = try JSONDecoder().decode(ControlRequest.self, from: Data(buffer[..<newline]))
            let stream = ControlReplyStream(fd: fd)
            guard let now = handler(request, datapath, stream) else {
                // The handler took the connection: the loop lets go of the descriptor.
                datapath.unwatch(fd)
                buffers[fd] = nil
                stream.adopt()
                return
            }
            response = now
        } catch {
            response = .failure("malformed request: \(error)")
        }
        if var data = try? JSONEncoder().encode(response) {
            data.append(UInt8(ascii: "\n"))
            // The socket is non-blocking; replies are small, so retry briefly if full.
            var offset = 0
            var spins = 0
            while offset < data.count && spins < 10_000 {
                let w = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if w > 0 { offset += w } else if errno == EAGAIN || errno == EINTR { spins += 1; usleep(100) } else { break }
            }
        }
        finish(fd, datapath)
    }

    private func finish(_ fd: Int32, _ datapath: Datapath) {
        datapath.unwatch(fd)
        _ = Glibc.close(fd)
        buffers[fd] = nil
    }

    /// Stops listening and removes the socket file.
    public func closeSocket() {
        if closed { return }
        closed = true
        _ = Glibc.close(listenFD)
        unlink(path)
        for fd in buffers.keys { _ = Glibc.close(fd) }
        buffers.removeAll()
    }
}

/// A control connection whose replies are written later, from any thread: one JSON line
/// per `send`, then `finish` closes it.
public final class ControlReplyStream: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var owned = false
    private var finished = false

    init(fd: Int32) { self.fd = fd }

    /// The server hands the descriptor over (made blocking, with a send timeout).
    func adopt() {
        lock.withLock {
            owned = true
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// Writes one reply line; false when the client has gone.
    @discardableResult
    public func send(_ response: ControlResponse) -> Bool {
        guard var data = try? JSONEncoder().encode(response) else { return false }
        data.append(UInt8(ascii: "\n"))
        return lock.withLock {
            guard owned, !finished else { return false }
            var offset = 0
            while offset < data.count {
                let w = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                if w > 0 { offset += w } else if w < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
    }

    /// Closes the connection (idempotent).
    public func finish() {
        lock.withLock {
            guard owned, !finished else { return }
            finished = true
            _ = Glibc.close(fd)
        }
    }
}

/// The client side: `switchboard fdb`, `stats`, `capture`.
public enum ControlClient {
    /// Sends `request` to the instance listening on `path` and waits up to `timeoutSeconds`
    /// for its reply.
    public static func send(_ request: ControlRequest, to path: String,
                            timeoutSeconds: Int = 10) throws(HostNetworkingError) -> ControlResponse {
        try stream(request, to: path, timeoutSeconds: timeoutSeconds) { _ in }
    }

    /// Sends `request` and calls `onReply` for every reply line until the server closes the
    /// connection (a request answered over time, such as `migrate`); returns the last reply.
    /// `timeoutSeconds` bounds the wait for each line.
    public static func stream(_ request: ControlRequest, to path: String, timeoutSeconds: Int = 120,
                              onReply: (ControlResponse) -> Void) throws(HostNetworkingError) -> ControlResponse {
        let fd = sb_unix_connect(path)
        if fd == -2 || fd == -111 {
            throw .invalid("no switchboard is running with control socket \(path) (start one with `switchboard run`, or pass --control PATH)")
        }
        let socket = try HostNetworkingError.check(fd, "connect to control socket", path)
        defer { _ = Glibc.close(socket) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard var data = try? JSONEncoder().encode(request) else { throw .invalid("cannot encode request") }
        data.append(UInt8(ascii: "\n"))
        let written = data.withUnsafeBytes { Glibc.write(socket, $0.baseAddress, $0.count) }
        guard written == data.count else { throw .system(operation: "write to", subject: path, errno: errno) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var last: ControlResponse?
        func consume(_ line: ArraySlice<UInt8>) throws(HostNetworkingError) {
            guard !line.isEmpty else { return }
            do {
                let reply = try JSONDecoder().decode(ControlResponse.self, from: Data(line))
                last = reply
                onReply(reply)
            } catch {
                throw .invalid("malformed reply from \(path): \(error)")
            }
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw .system(operation: "read reply from", subject: path, errno: errno) }
            if n == 0 { break }
            buffer += chunk[0..<n]
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                try consume(buffer[..<newline])
                buffer.removeSubrange(...newline)
            }
        }
        try consume(buffer[...])
        guard let last else { throw .invalid("\(path) closed the connection without a reply") }
        return last
    }
}
