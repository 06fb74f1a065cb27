// ControlClient: the client side of the control socket (`switchboard fdb`, `stats`, `capture`,
// `migrate`, and the cluster parent): one request line, then reply lines until the server
// closes; a server at its connection cap answers "busy" and the request is sent again.

import CLinuxShims
import Foundation
import Glibc

/// Why a control request got no reply.
public enum ControlClientError: Error, CustomStringConvertible, Equatable {
    /// Nothing listens, or the reply was not understood.
    case invalid(String)
    /// A system call failed.
    case system(operation: String, subject: String, errno: Int32)

    /// A readable message.
    public var description: String {
        switch self {
        case .invalid(let m): return m
        case .system(let op, let subject, let code): return "cannot \(op) \(subject): \(String(cString: strerror(code)))"
        }
    }
}

/// The client side: `switchboard fdb`, `stats`, `capture`.
public enum ControlClient {
    /// Sends `request` to the instance listening on `path` and waits up to `timeoutSeconds`
    /// for its reply.
    public static func send(_ request: ControlRequest, to path: String,
                            timeoutSeconds: Int = 10) throws(ControlClientError) -> ControlResponse {
        try stream(request, to: path, timeoutSeconds: timeoutSeconds) { _ in }
    }

    /// Sends `request` and calls `onReply` for every reply line until the server closes the
    /// connection (a request answered over time, such as `migrate`); returns the last reply.
    /// `timeoutSeconds` bounds the wait for each line. A server at its connection cap answers
    /// "busy" before reading the request: the request is sent again (with a growing pause)
    /// until `timeoutSeconds` have passed.
    public static func stream(_ request: ControlRequest, to path: String, timeoutSeconds: Int = 120,
                              onReply: (ControlResponse) -> Void) throws(ControlClientError) -> ControlResponse {
        let giveUp = Date(timeIntervalSinceNow: Double(timeoutSeconds))
        var pause = 0.01
        while true {
            var replies: [ControlResponse] = []
            let last: ControlResponse
            do {
                last = try attempt(request, to: path, timeoutSeconds: timeoutSeconds) { reply in
                    replies.append(reply)
                    if reply.error != ControlResponse.busyError { onReply(reply) }
                }
            } catch .system(let operation, let subject, let code) where replies.isEmpty && (code == ECONNRESET || code == EPIPE) {
                // A server at its cap closed before our request was read: its "busy" line was
                // lost with the reset. Try again, as after a busy reply.
                guard Date() + pause < giveUp else { throw .system(operation: operation, subject: subject, errno: code) }
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 0.5)
                continue
            }
            guard replies.count == 1, last.error == ControlResponse.busyError, Date() + pause < giveUp else {
                if replies.count == 1 && last.error == ControlResponse.busyError { onReply(last) }
                return last
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.5)
        }
    }

    private static func attempt(_ request: ControlRequest, to path: String, timeoutSeconds: Int,
                                onReply: (ControlResponse) -> Void) throws(ControlClientError) -> ControlResponse {
        let fd = sb_unix_connect(path)
        if fd == -2 || fd == -111 {
            throw .invalid("no switchboard is running with control socket \(path) (start one with `switchboard run`, or pass --control PATH)")
        }
        guard fd >= 0 else { throw .system(operation: "connect to control socket", subject: path, errno: -fd) }
        let socket = fd
        defer { _ = Glibc.close(socket) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard var data = try? JSONEncoder().encode(request) else { throw .invalid("cannot encode request") }
        data.append(UInt8(ascii: "\n"))
        // No SIGPIPE: a server at its cap may have closed already, after a "busy" line.
        let written = data.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let writeErrno = written == data.count ? 0 : (written < 0 ? errno : EIO)
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var last: ControlResponse?
        func consume(_ line: ArraySlice<UInt8>) throws(ControlClientError) {
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
            // A server that closes with our request unread resets the connection: after a reply
            // (a "busy" line) that is the end of the stream, not a failure.
            if n < 0 && errno == ECONNRESET && last != nil { break }
            if n < 0 && writeErrno != 0 && last == nil { throw .system(operation: "write to", subject: path, errno: writeErrno) }
            if n < 0 { throw .system(operation: "read reply from", subject: path, errno: errno) }
            if n == 0 { break }
            buffer += chunk[0..<n]
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                try consume(buffer[..<newline])
                buffer.removeSubrange(...newline)
            }
        }
        try consume(buffer[...])
        if last == nil && writeErrno != 0 { throw .system(operation: "write to", subject: path, errno: writeErrno) }
        guard let last else { throw .invalid("\(path) closed the connection without a reply") }
        return last
    }
}
