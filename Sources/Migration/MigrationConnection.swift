// MigrationConnection: messages over a `ByteStream`: framing on send, reassembly and checks on
// receive, timeouts, and the byte count the report needs.

import Foundation

/// Why receiving a message failed.
public enum ConnectionError: Error, CustomStringConvertible {
    case stream(StreamError)
    case wire(WireError)

    public var description: String {
        switch self {
        case .stream(let e): return "\(e)"
        case .wire(let e): return "\(e)"
        }
    }
}

/// A message-level connection; used by one protocol thread at a time.
public final class MigrationConnection: @unchecked Sendable {
    /// The underlying stream.
    public let stream: any ByteStream
    private var decoder = MessageDecoder()
    /// Bytes written so far (headers included).
    public private(set) var bytesSent = 0
    /// Seconds `receive` waits by default.
    public var timeout: Double
    /// When set, no `receive` waits past it: the total deadline of a whole phase or session,
    /// however the peer paces its bytes.
    public var deadline: Date?

    /// A connection over `stream`.
    public init(_ stream: any ByteStream, timeout: Double = 30) {
        self.stream = stream
        self.timeout = timeout
    }

    /// Serialises `send` (post-copy sends from a fault thread and the protocol thread).
    private let sendLock = NSLock()

    /// Sends one message (from any thread: sends are serialised).
    public func send(_ m: MigrationMessage) throws(ConnectionError) {
        let bytes = MigrationWire.encode(m)
        sendLock.lock()
        defer { sendLock.unlock() }
        do { try stream.write(bytes) } catch { throw .stream(error) }
        bytesSent += bytes.count
    }

    /// The next message, complete within `timeout` seconds (the connection's default when
    /// nil) and before `deadline`. The wait is total: a peer dribbling bytes does not extend it.
    public func receive(timeout: Double? = nil) throws(ConnectionError) -> MigrationMessage {
        var giveUp = Date(timeIntervalSinceNow: timeout ?? self.timeout)
        if let deadline, deadline < giveUp { giveUp = deadline }
        while true {
            do {
                if let m = try decoder.next() { return m }
            } catch { throw .wire(error) }
            let left = giveUp.timeIntervalSinceNow
            if left <= 0 { throw .stream(.timeout) }
            do { decoder.feed(try stream.read(timeout: left)) } catch { throw .stream(error) }
        }
    }

    /// A message if one is already complete or arrives within `wait` seconds, else nil.
    public func poll(wait: Double = 0) throws(ConnectionError) -> MigrationMessage? {
        do {
            return try receive(timeout: max(wait, 0.000_001))
        } catch {
            if case .stream(.timeout) = error { return nil }
            throw error
        }
    }

    /// Closes the stream.
    public func close() { stream.close() }
}
