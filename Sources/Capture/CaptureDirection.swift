// CaptureDirection: which frames of a port a capture records, as in tcpdump's -Q.

/// Which frames of a port a capture records: those received, those sent, or both.
///
/// The raw values are the words topologies and the CLI use (`"rx"`, `"tx"`, `"both"`).
public enum CaptureDirection: String, CaseIterable, Codable, Sendable {
    /// Frames the port receives (ingress into the switch).
    case rx
    /// Frames the port transmits (egress from the switch).
    case tx
    /// Frames in both directions.
    case both

    /// True when frames received on the port are captured.
    @inlinable public var includesReceive: Bool { self != .tx }
    /// True when frames transmitted on the port are captured.
    @inlinable public var includesTransmit: Bool { self != .rx }
}
