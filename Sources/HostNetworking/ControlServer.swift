// ControlServer: the Unix socket of a running instance. It is served by the datapath loop
// itself (the listening socket and each client are descriptors in its epoll set), so
// requests read and change the switches on their own thread, between batches.

import ControlProtocol
import CLinuxShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Accepts control connections: one JSON request line in, one JSON reply line out; or, for a
/// request that attaches (`console`), the reply line and then raw bytes both ways.
///
/// Every client is untrusted: at most `limits.maxConnections` are served at once (more are
/// answered at once if their request is already complete, else told "busy" and closed), a
/// request line must arrive whole within `limits.requestTimeout` of connecting and the reply
/// be taken within `limits.replyTimeout` (total deadlines, swept by a timer on the loop), and
/// nothing blocks the datapath thread: reads and writes are non-blocking. Attached sessions
/// count against `maxConnections` and have no deadline while they last (once one has ended,
/// its client has `limits.replyTimeout` to take the last words); each holds two fixed buffers
/// (`SessionConnection`), and its socket is not read while its input is not taken.
public final class ControlServer {
    /// The socket's path.
    public let path: String
    /// The caps and deadlines it enforces.
    public let limits: ControlLimits
    private let listenFD: Int32
    private let timerFD: Int32
    private var connections: [Int32: ControlConnection] = [:]
    private var sessions: [Int32: SessionConnection] = [:]
    private let waker: SessionWaker
    private let handler: (ControlRequest, Datapath, ControlReplyStream) -> ControlResponse?
    private let chunk: UnsafeMutableRawBufferPointer
    private var closed = false
    private var listening = true
    private var timerArmed = false
    /// Connections closed at once because the cap was reached (tests, diagnostics).
    private(set) var refusedConnections = 0
    /// Connections closed because their request or reply missed its deadline.
    private(set) var expiredConnections = 0

    /// Connections accepted at most per wakeup, so a flood of connects cannot hold the loop.
    private static let acceptsPerWakeup = 64
    /// The kernel send buffer of an attached session's socket (bytes; Linux doubles it).
    static let sessionSendBuffer = 16_384
    /// Output sends per session per wakeup, so one fast session cannot hold the loop.
    private static let sendsPerPump = 16
    /// How often deadlines are checked and pending replies pushed (nanoseconds).
    private static let sweepInterval: Int64 = 50_000_000
    /// The error text of the reply to a connection beyond the cap (`ControlClient` retries).
    static let busyError = ControlResponse.busyError

    /// The default path for a topology: $XDG_RUNTIME_DIR/switchboard/NAME.sock when set,
    /// else /run/switchboard/NAME.sock.
    public static func defaultPath(topologyName: String) -> String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_RUNTIME_DIR"], !xdg.isEmpty { return xdg + "/switchboard/" + topologyName + ".sock" }
        return "/run/switchboard/" + topologyName + ".sock"
    }

    /// Listens on `path` (its directory is created; a stale socket file is replaced) and
    /// answers with `handler` on the datapath's thread.
    public convenience init(path: String, datapath: Datapath, limits: ControlLimits = ControlLimits(),
                            handler: @escaping (ControlRequest, Datapath) -> ControlResponse) throws(HostNetworkingError) {
        try self.init(path: path, datapath: datapath, limits: limits, streaming: { request, dp, _ in handler(request, dp) })
    }

    /// Listens on `path` and answers with `streaming` on the datapath's thread. A request
    /// that takes long (a migration) returns nil and answers through the `ControlReplyStream`
    /// instead, from any thread, one reply line at a time (progress, then the result).
    public init(path: String, datapath: Datapath, limits: ControlLimits = ControlLimits(),
                streaming: @escaping (ControlRequest, Datapath, ControlReplyStream) -> ControlResponse?) throws(HostNetworkingError) {
        if let problem = limits.problem { throw .invalid("control socket limits: \(problem)") }
        self.path = path
        self.limits = limits
        self.handler = streaming
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .invalid("control socket: cannot create directory \(directory): \(error.localizedDescription)")
            }
        }
        if let other = try? ControlClient.send(.stats(switchName: nil), to: path, timeoutSeconds: 1), other.ok {
            throw .invalid("control socket \(path) is in use by another running switchboard (use --control PATH)")
        }
        let timer = sb_timerfd()
        if timer < 0 { throw .system(operation: "create", subject: "timerfd", errno: -timer) }
        let waker: SessionWaker
        do { waker = try SessionWaker() } catch {
            _ = sb_close(timer)
            throw error
        }
        let listener = sb_unix_listen(path)
        if listener < 0 {
            _ = sb_close(timer)
            waker.close()
            throw .system(operation: "listen on control socket", subject: path, errno: -listener)
        }
        listenFD = listener
        timerFD = timer
        self.waker = waker
        chunk = .allocate(byteCount: 4096, alignment: 8)
        _ = fcntl(listenFD, F_SETFL, O_NONBLOCK)
        do {
            try datapath.watch(listenFD) { [unowned self] dp, _ in self.accept(dp) }
            try datapath.watch(timerFD) { [unowned self] dp, _ in self.sweep(dp) }
            try datapath.watch(waker.descriptor) { [unowned self] dp, _ in
                self.waker.drain()
                self.pumpSessions(dp)
            }
        } catch {
            closeSocket()
            throw error
        }
    }

    deinit {
        closeSocket()
        chunk.deallocate()
    }

    /// Connections open now (requests still arriving, replies still leaving).
    var openConnections: Int { connections.count }
    /// Attached sessions now (consoles).
    public var openSessions: Int { sessions.count }

    private static func monotonicNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    private static func nanoseconds(_ seconds: Double) -> Int64 { Int64(seconds * 1e9) }

    private func accept(_ datapath: Datapath) {
        for _ in 0..<Self.acceptsPerWakeup {
            let fd = sb_unix_accept(listenFD)
            if fd == -EAGAIN || fd == -EWOULDBLOCK { return }
            if fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM {
                // Out of descriptors: stop polling the listener (it would stay readable and
                // spin the loop) until the next sweep, when connections may have gone.
                datapath.unwatch(listenFD)
                listening = false
                armTimer(true)
                return
            }
            if fd < 0 { continue }  // ECONNABORTED and the like: that client is gone
            let now = Self.monotonicNow()
            if connections.count + sessions.count >= limits.maxConnections {
                // Beyond the cap: a client whose request is already here is still answered;
                // anyone else is told so and closed, and the open connections are not touched.
                refusedConnections += 1
                var excess = ControlConnection(deadline: now)
                switch readRequest(fd, &excess) {
                case .line(let line)?:
                    if respond(to: line, fd: fd, datapath, &excess, mayAttach: false) == .adopted { continue }
                case .finished?:
                    break
                case nil:
                    excess.queue(.failure(Self.busyError))
                }
                // Best effort: one small line into an empty socket buffer.
                _ = flush(fd, &excess)
                _ = Glibc.close(fd)
                continue
            }
            do {
                try datapath.watch(fd) { [unowned self] dp, _ in self.read(fd, dp) }
            } catch {
                _ = Glibc.close(fd)
                continue
            }
            connections[fd] = ControlConnection(deadline: now + Self.nanoseconds(limits.requestTimeout))
            armTimer(true)
            read(fd, datapath)  // the request is usually here already
        }
    }

    /// What one read found.
    private enum Arrival {
        /// A complete request line (or the bytes before the end of the stream).
        case line(ArraySlice<UInt8>)
        /// The client is gone, sent nothing usable or too much (already answered if so).
        case finished
    }

    /// Reads what is there; nil while the request is still incomplete.
    private func readRequest(_ fd: Int32, _ connection: inout ControlConnection) -> Arrival? {
        let n = Glibc.read(fd, chunk.baseAddress, chunk.count)
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
        if n > 0 {
            connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
        let input = connection.input
        if let newline = input.firstIndex(of: UInt8(ascii: "\n")), newline <= limits.maxRequestBytes {
            return .line(input[..<newline])
        }
        if input.count > limits.maxRequestBytes {
            connection.input = []
            connection.queue(.failure("request longer than \(limits.maxRequestBytes) bytes"))
            return .finished
        }
        if n <= 0 {
            // End of stream (or an error): a request without its newline is still one.
            return input.isEmpty ? .finished : .line(input[...])
        }
        return nil
    }

    private enum Outcome { case replied, adopted, attached }

    /// Runs the handler for one request line; queues the reply, lets go of the descriptor
    /// when the handler answers later through a `ControlReplyStream`, or turns the connection
    /// into a session when the handler attached one (only if `mayAttach`: not beyond the cap).
    private func respond(to line: ArraySlice<UInt8>, fd: Int32, _ datapath: Datapath,
                         _ connection: inout ControlConnection, mayAttach: Bool = true) -> Outcome {
        var response: ControlResponse
        do {
            let request = try JSONDecoder().decode(ControlRequest.self, from: Data(line))
            let stream = ControlReplyStream(fd: fd, waker: waker)
            guard let now = handler(request, datapath, stream) else {
                // The handler took the connection: the loop lets go of the descriptor.
                datapath.unwatch(fd)
                connections[fd] = nil
                stream.adopt()
                return .adopted
            }
            response = now
            if let session = stream.session {
                if !mayAttach {
                    session.close()
                    response = .failure(Self.busyError)
                } else if !response.ok {
                    session.close()
                } else {
                    connection.queue(response)
                    startSession(session, fd: fd, reply: connection.output, datapath)
                    return .attached
                }
            }
        } catch let error as ControlProtocolError {
            response = .failure(error.description)
        } catch {
            response = .failure("malformed request: \(error)")
        }
        connection.queue(response)
        return .replied
    }

    private func read(_ fd: Int32, _ datapath: Datapath) {
        guard var connection = connections[fd] else { return }
        guard connection.output.isEmpty else { return }
        guard let arrival = readRequest(fd, &connection) else {
            connections[fd] = connection
            return
        }
        if case .line(let line) = arrival, respond(to: line, fd: fd, datapath, &connection) != .replied { return }
        if connection.output.isEmpty || flush(fd, &connection) {
            finish(fd, datapath)
            return
        }
        // The client is slow to take its reply: the sweep pushes the rest, until the deadline.
        datapath.unwatch(fd)
        connection.deadline = Self.monotonicNow() + Self.nanoseconds(limits.replyTimeout)
        connections[fd] = connection
    }

    /// Writes what the socket takes of the queued reply; true once all of it is gone (or the
    /// client has gone).
    private func flush(_ fd: Int32, _ connection: inout ControlConnection) -> Bool {
        while connection.written < connection.output.count {
            let w = connection.output.withUnsafeBytes { bytes in
                Glibc.send(fd, bytes.baseAddress! + connection.written, bytes.count - connection.written, Int32(MSG_NOSIGNAL))
            }
            if w > 0 {
                connection.written += w
            } else if w < 0 && errno == EINTR {
                continue
            } else {
                return w < 0 && errno != EAGAIN && errno != EWOULDBLOCK
            }
        }
        return true
    }

    /// Runs on the timer: pushes pending replies, closes what missed its deadline, listens
    /// again after running out of descriptors.
    private func sweep(_ datapath: Datapath) {
        _ = sb_timerfd_drain(timerFD)
        if !listening && !closed {
            if (try? datapath.watch(listenFD) { [unowned self] dp, _ in self.accept(dp) }) != nil { listening = true }
        }
        let now = Self.monotonicNow()
        for fd in Array(connections.keys) {
            guard var connection = connections[fd] else { continue }
            if !connection.output.isEmpty && flush(fd, &connection) {
                finish(fd, datapath)
            } else if now >= connection.deadline {
                expiredConnections += 1
                finish(fd, datapath)
            } else {
                connections[fd] = connection
            }
        }
        for (fd, s) in sessions {
            if s.closeBy == nil && s.session.hasEnded { s.closeBy = now + Self.nanoseconds(limits.replyTimeout) }
            if let closeBy = s.closeBy, now >= closeBy {
                expiredConnections += 1
                endSession(fd, datapath)
            }
        }
        pumpSessions(datapath)
        if connections.isEmpty && sessions.isEmpty && listening { armTimer(false) }
    }

    // MARK: Attached sessions

    /// Turns connection `fd` into a session whose first output is the reply line.
    private func startSession(_ session: any ControlSession, fd: Int32, reply: [UInt8], _ datapath: Datapath) {
        connections[fd] = nil
        let s = SessionConnection(session: session, reply: reply)
        sessions[fd] = s
        // A small kernel buffer: what a client does not read is held (and dropped, oldest
        // first) by the session, not piled up in the kernel.
        var sendBuffer = Int32(Self.sessionSendBuffer)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
        datapath.unwatch(fd)
        s.reading = (try? datapath.watch(fd) { [unowned self] dp, _ in self.sessionReadable(fd, dp) }) != nil
        armTimer(true)
        pump(fd, datapath)
    }

    /// Input from a session's client: into its buffer, then to the session.
    private func sessionReadable(_ fd: Int32, _ datapath: Datapath) {
        guard let s = sessions[fd] else { return }
        let free = s.input.count - s.inputCount
        if free > 0 {
            let n = Glibc.read(fd, s.input.baseAddress! + s.inputCount, free)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK) {
                // The client left (or its socket failed): the session ends.
                endSession(fd, datapath)
                return
            }
            if n > 0 { s.inputCount += n }
        }
        pump(fd, datapath)
    }

    /// Moves a session's bytes both ways as far as each side takes them; never blocks.
    private func pump(_ fd: Int32, _ datapath: Datapath) {
        guard let s = sessions[fd] else { return }
        if s.inputCount > 0 {
            let taken = min(s.inputCount, s.session.input(UnsafeRawBufferPointer(rebasing: s.input[0..<s.inputCount])))
            if taken > 0 {
                // SAFETY: both ranges lie inside `input` (taken <= inputCount <= input.count).
                memmove(s.input.baseAddress!, s.input.baseAddress! + taken, s.inputCount - taken)
                s.inputCount -= taken
            }
        }
        // A full input buffer stops polling the socket (level-triggered epoll would spin);
        // the sweep offers the input again and polling resumes once there is room.
        if s.reading && s.inputCount == s.input.count {
            datapath.unwatch(fd)
            s.reading = false
        } else if !s.reading && s.inputCount < s.input.count {
            s.reading = (try? datapath.watch(fd) { [unowned self] dp, _ in self.sessionReadable(fd, dp) }) != nil
        }
        for _ in 0..<Self.sendsPerPump {
            if s.outStart < s.outEnd {
                let w = Glibc.send(fd, s.output.baseAddress! + s.outStart, s.outEnd - s.outStart, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if w > 0 { s.outStart += w; continue }
                if w < 0 && errno == EINTR { continue }
                if w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }  // the sweep tries again
                endSession(fd, datapath)
                return
            }
            s.outStart = 0
            s.outEnd = 0
            guard let n = s.session.output(into: s.output) else {
                endSession(fd, datapath)
                return
            }
            if n == 0 { return }
            s.outEnd = min(n, s.output.count)
        }
        // More output than one turn may send: come back at the next turn of the loop.
        waker.signal()
    }

    /// Pumps every session (on their wake-up and on the sweep, which also notices sessions
    /// whose far end ended without output, such as a VM that stopped).
    private func pumpSessions(_ datapath: Datapath) {
        for fd in Array(sessions.keys) { pump(fd, datapath) }
    }

    private func endSession(_ fd: Int32, _ datapath: Datapath) {
        guard let s = sessions.removeValue(forKey: fd) else { return }
        datapath.unwatch(fd)
        _ = Glibc.close(fd)
        s.session.close()
    }

    private func armTimer(_ on: Bool) {
        guard on != timerArmed else { return }
        timerArmed = on
        _ = sb_timerfd_arm(timerFD, on ? Self.sweepInterval : 0)
    }

    private func finish(_ fd: Int32, _ datapath: Datapath) {
        datapath.unwatch(fd)
        _ = Glibc.close(fd)
        connections[fd] = nil
    }

    /// Stops listening and removes the socket file.
    public func closeSocket() {
        if closed { return }
        closed = true
        _ = Glibc.close(listenFD)
        _ = Glibc.close(timerFD)
        unlink(path)
        for fd in connections.keys { _ = Glibc.close(fd) }
        connections.removeAll()
        for (fd, s) in sessions {
            // A last word for each attached client (why it ends), as far as its socket takes it.
            var turns = 0
            while turns < Self.sendsPerPump {
                turns += 1
                if s.outStart == s.outEnd {
                    s.outStart = 0
                    guard let n = s.session.output(into: s.output), n > 0 else { break }
                    s.outEnd = min(n, s.output.count)
                }
                let w = Glibc.send(fd, s.output.baseAddress! + s.outStart, s.outEnd - s.outStart, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if w <= 0 { break }
                s.outStart += w
            }
            _ = Glibc.close(fd)
            s.session.close()
        }
        sessions.removeAll()
        waker.close()
    }
}

/// One control connection the loop still serves: the request arriving, or the reply leaving.
struct ControlConnection {
    /// Request bytes so far.
    var input: [UInt8] = []
    /// The encoded reply line, and how much of it was written.
    var output: [UInt8] = []
    var written = 0
    /// When it is closed, request or not (CLOCK_MONOTONIC nanoseconds).
    var deadline: Int64

    init(deadline: Int64) { self.deadline = deadline }

    /// Encodes `response` as the reply line.
    mutating func queue(_ response: ControlResponse) {
        guard let data = try? JSONEncoder().encode(response) else { return }
        output = Array(data)
        output.append(UInt8(ascii: "\n"))
        written = 0
    }
}

/// A control connection whose replies are written later, from any thread: one JSON line
/// per `send`, then `finish` closes it.
public final class ControlReplyStream: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var owned = false
    private var finished = false
    private let waker: SessionWaker
    /// The session the handler attached (datapath thread).
    private(set) var session: (any ControlSession)?

    init(fd: Int32, waker: SessionWaker) {
        self.fd = fd
        self.waker = waker
    }

    /// Wakes the server to pump attached sessions (any thread; give it to what produces a
    /// session's output).
    public var wake: @Sendable () -> Void { { [waker] in waker.signal() } }

    /// Turns the connection into `session` once the handler's reply (which must be `ok`) is
    /// queued: the reply line, then raw bytes both ways. On a reply that is not `ok`, or a
    /// connection beyond the cap, the server calls `session.close()` instead.
    public func attach(_ session: any ControlSession) {
        self.session = session
    }

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
