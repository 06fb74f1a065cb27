// MigrationConnection: messages over a `ByteStream`: framing on send, reassembly and checks on
// receive, timeouts, and the byte count the report needs.

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

    /// A connection over `stream`.
    public init(_ stream: any ByteStream, timeout: Double = 30) {
        self.stream = stream
        self.timeout = timeout
    }

    /// Sends one message.
    public func send(_ m: MigrationMessage) throws(ConnectionError) {
        let bytes = MigrationWire.encode(m)
        do { try stream.write(bytes) } catch { throw .stream(error) }
        bytesSent += bytes.count
    }

    /// The next message, waiting up to `timeout` seconds (the connection's default when nil).
    public func receive(timeout: Double? = nil) throws(ConnectionError) -> MigrationMessage {
        while true {
            do {
                if let m = try decoder.next() { return m }
            } catch { throw .wire(error) }
            do { decoder.feed(try stream.read(timeout: timeout ?? self.timeout)) } catch { throw .stream(error) }
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
