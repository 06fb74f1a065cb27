// CaptureSpec: a packet capture into a pcap file, of a switch, one port, one VLAN, or the
// output of a mirror; optional libpcap filter and file rotation as tcpdump's -C/-W.
import Frames

/// A capture written to a pcap file.
public struct CaptureSpec: Sendable, Equatable {
    /// The default snapshot length, as tcpdump.
    public static let defaultSnaplen = 262_144
    /// Accepted snapshot lengths.
    public static let snaplenRange = 64...262_144

    /// Unique among captures.
    public var name: String
    /// The pcap file to write.
    public var file: String
    /// The switch captured (nil: the capture only receives mirror output).
    public var switchName: String?
    /// Only this port of the switch.
    public var port: String?
    /// Only frames of this VLAN.
    public var vlan: VLANID?
    /// Received, sent or both (relative to the port or switch).
    public var direction: CaptureDirectionSpec
    /// Bytes kept of each frame.
    public var snaplen: Int
    /// A libpcap filter expression, compiled when the capture opens.
    public var filter: String?
    /// File rotation.
    public var rotate: RotateSpec?

    /// Creates a capture; the defaults are those of the format.
    public init(name: String, file: String, switchName: String? = nil, port: String? = nil, vlan: VLANID? = nil,
                direction: CaptureDirectionSpec = .both, snaplen: Int = CaptureSpec.defaultSnaplen,
                filter: String? = nil, rotate: RotateSpec? = nil) {
        self.name = name
        self.file = file
        self.switchName = switchName
        self.port = port
        self.vlan = vlan
        self.direction = direction
        self.snaplen = snaplen
        self.filter = filter
        self.rotate = rotate
    }
}

/// Which direction of traffic a capture records.
public enum CaptureDirectionSpec: String, Sendable, Equatable, CaseIterable {
    /// Frames received.
    case rx
    /// Frames sent.
    case tx
    /// Both (the default).
    case both
}

/// Rotation of a capture file: start a new file every `sizeMB` megabytes, keep `files`.
public struct RotateSpec: Sendable, Equatable {
    /// Megabytes (1,000,000 bytes, as tcpdump -C) per file, at least 1.
    public var sizeMB: Int
    /// How many files to keep in a ring (nil: keep all).
    public var files: Int?

    /// Creates rotation settings.
    public init(sizeMB: Int, files: Int? = nil) {
        self.sizeMB = sizeMB
        self.files = files
    }
}
