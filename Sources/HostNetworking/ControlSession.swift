// ControlSession: a control connection that a request turns into a long-lived byte stream
// (`console`: a VM's serial console). After the request's one reply line the `ControlServer`
// moves raw bytes both ways on the datapath loop, through two fixed buffers per session: it
// never blocks on a client and never spends a thread on one.

import CLinuxShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The far end of an attached control connection (a VM console), driven by the server on the
/// datapath thread.
public protocol ControlSession: AnyObject {
    /// Copies output for the client into `buffer`: how many bytes (0: none now), or nil once
    /// the session has ended and everything it had to say was given.
    func output(into buffer: UnsafeMutableRawBufferPointer) -> Int?
    /// Bytes the client sent; returns how many were taken (the rest is offered again later).
    func input(_ bytes: UnsafeRawBufferPointer) -> Int
    /// The connection is gone (the client left, the session ended, the server closes); called once.
    func close()
    /// Whether the far end is over (the VM stopped or left) and only the last words remain:
    /// the server then gives the client `ControlLimits.replyTimeout` to take them.
    var hasEnded: Bool { get }
}

/// Wakes the server's loop when a session has output (from any thread, e.g. a vCPU's); does
/// nothing once the server has closed.
final class SessionWaker: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32

    init() throws(HostNetworkingError) {
        let fd = sb_eventfd()
        if fd < 0 { throw .system(operation: "create", subject: "eventfd", errno: -fd) }
        self.fd = fd
    }

    /// The eventfd the loop polls.
    var descriptor: Int32 { lock.withLock { fd } }

    /// Signals the loop.
    func signal() { lock.withLock { if fd >= 0 { _ = sb_eventfd_signal(fd) } } }

    /// Clears the signal (loop thread).
    func drain() { lock.withLock { if fd >= 0 { _ = sb_eventfd_drain(fd) } } }

    /// Closes the eventfd; later signals do nothing.
    func close() {
        lock.withLock {
            if fd >= 0 { _ = sb_close(fd) }
            fd = -1
        }
    }
}

/// One attached connection's state on the loop: the session, and a fixed buffer each way.
final class SessionConnection {
    let session: any ControlSession
    /// Bytes for the client: `output[outStart..<outEnd]` is still to be sent.
    let output: UnsafeMutableRawBufferPointer
    var outStart = 0
    var outEnd = 0
    /// Bytes from the client the session has not taken yet.
    let input: UnsafeMutableRawBufferPointer
    var inputCount = 0
    /// Whether the loop polls the socket for input (not while `input` is full).
    var reading = false
    /// When the server closes the session whatever is left unsent (monotonic nanoseconds),
    /// set once the session has ended: a client that stopped reading cannot hold it forever.
    var closeBy: Int64?

    /// Buffer sizes: what one connection may hold in the server besides the session's own.
    static let bufferBytes = 4096

    /// A session whose first output is `reply` (the request's reply line).
    init(session: any ControlSession, reply: [UInt8]) {
        self.session = session
        // SAFETY: allocated here, freed in deinit; every access is bounded by outEnd/inputCount,
        // which never exceed the buffers' sizes.
        output = .allocate(byteCount: max(Self.bufferBytes, reply.count), alignment: 8)
        input = .allocate(byteCount: Self.bufferBytes, alignment: 8)
        reply.withUnsafeBytes { output.copyMemory(from: $0) }
        outEnd = reply.count
    }

    deinit {
        output.deallocate()
        input.deallocate()
    }
}
