// MirrorSpec: a port mirror (SPAN session) of a switch: which frames, copied where.
import Frames

/// A port mirror: frames matching `select` are copied to `output`.
public struct MirrorSpec: Sendable, Equatable {
    /// Unique within its switch.
    public var name: String
    /// Which frames are copied.
    public var select: MirrorSelectSpec
    /// Where the copies go.
    public var output: MirrorOutputSpec

    /// Creates a mirror.
    public init(name: String, select: MirrorSelectSpec, output: MirrorOutputSpec) {
        self.name = name
        self.select = select
        self.output = output
    }
}

/// The frames a mirror copies: a frame is selected when any criterion matches.
public struct MirrorSelectSpec: Sendable, Equatable {
    /// Frames received on these ports.
    public var ingressPorts: [String]
    /// Frames sent out these ports.
    public var egressPorts: [String]
    /// Frames in these VLANs.
    public var vlans: [VLANID]
    /// Every frame.
    public var all: Bool

    /// Creates a selection.
    public init(ingressPorts: [String] = [], egressPorts: [String] = [], vlans: [VLANID] = [], all: Bool = false) {
        self.ingressPorts = ingressPorts
        self.egressPorts = egressPorts
        self.vlans = vlans
        self.all = all
    }
}

/// Where a mirror sends its copies.
public enum MirrorOutputSpec: Sendable, Equatable {
    /// Out a port of the same switch.
    case port(String)
    /// Into the capture of that name.
    case capture(String)
}
