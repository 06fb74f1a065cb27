// ControlAttach: the client side of a control request that turns its connection into a byte
// stream (`console`): the request line, the one reply line, then the socket is the caller's,
// with any stream bytes that arrived together with the reply.

import CLinuxShims
import Foundation
import Glibc

/// A connection after an attaching request's reply.
public struct ControlAttachment {
    /// The socket (the caller closes it); -1 when the reply was not `ok`.
    public let socket: Int32
    /// The reply line.
    public let reply: ControlResponse
    /// Stream bytes read together with the reply line.
    public let leftover: [UInt8]
}

extension ControlClient {
    /// Sends `request` (such as `.console`) to the instance at `path` and reads its reply
    /// line. On `ok` the connection stays open for the stream (no receive timeout any more);
    /// otherwise it is closed. A "busy" server is asked again, with a growing pause, until
    /// `timeoutSeconds` have passed; `timeoutSeconds` also bounds the wait for the reply.
    public static func attach(_ request: ControlRequest, to path: String,
                              timeoutSeconds: Int = 10) throws(ControlClientError) -> ControlAttachment {
        let giveUp = Date(timeIntervalSinceNow: Double(timeoutSeconds))
        var pause = 0.01
        while true {
            let attempt = try attachOnce(request, to: path, timeoutSeconds: timeoutSeconds)
            guard attempt.reply.error == ControlResponse.busyError, Date() + pause < giveUp else { return attempt }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.5)
        }
    }

    private static func attachOnce(_ request: ControlRequest, to path: String,
                                   timeoutSeconds: Int) throws(ControlClientError) -> ControlAttachment {
        let fd = sb_unix_connect(path)
        if fd == -2 || fd == -111 {
            throw .invalid("no switchboard is running with control socket \(path) (start one with `switchboard run`, or pass --control PATH)")
        }
        guard fd >= 0 else { throw .system(operation: "connect to control socket", subject: path, errno: -fd) }
        var keep = false
        defer { if !keep { _ = Glibc.close(fd) } }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard var data = try? JSONEncoder().encode(request) else { throw .invalid("cannot encode request") }
        data.append(UInt8(ascii: "\n"))
        let written = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.firstIndex(of: UInt8(ascii: "\n")) == nil {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == ECONNRESET || errno == EPIPE) && buffer.isEmpty {
                // A server at its cap closed before reading the request: as busy.
                return ControlAttachment(socket: -1, reply: .failure(ControlResponse.busyError), leftover: [])
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw .invalid("\(path) did not reply within \(timeoutSeconds) s")
            }
            if n < 0 { throw .system(operation: "read reply from", subject: path, errno: errno) }
            if n == 0 {
                if buffer.isEmpty && written != data.count {
                    return ControlAttachment(socket: -1, reply: .failure(ControlResponse.busyError), leftover: [])
                }
                break
            }
            buffer += chunk[0..<n]
            if buffer.count > 1 << 20 { throw .invalid("reply from \(path) longer than 1 MiB") }
        }
        let end = buffer.firstIndex(of: UInt8(ascii: "\n")) ?? buffer.endIndex
        guard end > 0 else { throw .invalid("\(path) closed the connection without a reply") }
        let reply: ControlResponse
        do { reply = try JSONDecoder().decode(ControlResponse.self, from: Data(buffer[..<end])) } catch {
            throw .invalid("malformed reply from \(path): \(error)")
        }
        guard reply.ok else { return ControlAttachment(socket: -1, reply: reply, leftover: []) }
        var forever = timeval(tv_sec: 0, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever, socklen_t(MemoryLayout<timeval>.size))
        keep = true
        return ControlAttachment(socket: fd, reply: reply, leftover: end < buffer.endIndex ? Array(buffer[(end + 1)...]) : [])
    }
}
