// ApplianceTests: the test's own end of a QEMU `-netdev socket` link -- a loopback TCP listener
// that QEMU connects to, carrying Ethernet frames each prefixed by a 4-byte big-endian length.
import Foundation

/// A loopback TCP listener speaking QEMU's socket-netdev framing.
final class SocketPeer {
    /// Why the peer could not be set up or talk.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let port: UInt16
    private let listener: Int32
    private var connection: Int32 = -1
    private var pending: [UInt8] = []

    /// Listens on 127.0.0.1 on a free port.
    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // SAFETY: `address` is a live sockaddr_in for the whole closure and `length` is its size.
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(listener, socketAddress, length) == 0 && getsockname(listener, socketAddress, &length) == 0
            }
        }
        guard ok, listen(listener, 1) == 0 else {
            close(listener)
            throw Failure(description: "bind/listen on 127.0.0.1: errno \(errno)")
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        if connection >= 0 { close(connection) }
        close(listener)
    }

    /// Waits for QEMU to connect.
    func accept(timeout: Double) throws {
        guard wait(listener, timeout: timeout) else { throw Failure(description: "QEMU did not connect") }
        connection = Glibc.accept(listener, nil, nil)
        guard connection >= 0 else { throw Failure(description: "accept: errno \(errno)") }
    }

    /// Sends one frame to the guest.
    func send(_ frame: [UInt8]) throws {
        let count = UInt32(frame.count)
        let message = [UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff),
                       UInt8(count & 0xff)] + frame
        var offset = 0
        while offset < message.count {
            // SAFETY: the pointer covers `message` and the length stays within it.
            let written = message.withUnsafeBytes { bytes -> Int in
                guard let base = bytes.baseAddress else { return -1 }
                return write(connection, base + offset, message.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw Failure(description: "write: errno \(errno)") }
            offset += written
        }
    }

    /// The next frame from the guest, or nil when none arrives within `timeout` seconds.
    func receive(timeout: Double) throws -> [UInt8]? {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if pending.count >= 4 {
                let length = Int(pending[0]) << 24 | Int(pending[1]) << 16 | Int(pending[2]) << 8 | Int(pending[3])
                if pending.count >= 4 + length {
                    let frame = Array(pending[4..<(4 + length)])
                    pending.removeFirst(4 + length)
                    return frame
                }
            }
            let left = end.timeIntervalSinceNow
            guard left > 0, wait(connection, timeout: left) else { return nil }
            var buffer = [UInt8](repeating: 0, count: 65536)
            // SAFETY: reads at most buffer.count bytes into the buffer's own storage.
            let got = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw Failure(description: "the guest's link closed") }
            pending += buffer[0..<got]
        }
    }

    /// Frames from the guest until one satisfies `match`; nil after `timeout` seconds.
    func receive(timeout: Double, where match: ([UInt8]) -> Bool) throws -> [UInt8]? {
        let end = Date().addingTimeInterval(timeout)
        while end.timeIntervalSinceNow > 0 {
            guard let frame = try receive(timeout: end.timeIntervalSinceNow) else { return nil }
            if match(frame) { return frame }
        }
        return nil
    }

    private func wait(_ fd: Int32, timeout: Double) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let result = poll(&entry, 1, Int32(max(1, timeout * 1000)))
        return result > 0
    }
}
