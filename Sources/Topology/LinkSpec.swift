// LinkSpec and PortRef: a patch cable between two switch ports, named "switch:port".

/// A reference to a port of a switch, written "switch:port".
public struct PortRef: Sendable, Hashable, CustomStringConvertible {
    /// The switch's name.
    public var switchName: String
    /// The port's name.
    public var port: String

    /// Creates a reference.
    public init(switchName: String, port: String) {
        self.switchName = switchName
        self.port = port
    }

    /// Parses "switch:port"; nil unless there is exactly one ':' with text on both sides.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.switchName = String(parts[0])
        self.port = String(parts[1])
    }

    public var description: String { "\(switchName):\(port)" }
}

/// A patch cable: frames sent out one end are received on the other. Between ports on two
/// hypervisors it is a VXLAN tunnel.
public struct LinkSpec: Sendable, Equatable {
    /// One end.
    public var a: PortRef
    /// The other end.
    public var b: PortRef
    /// The VXLAN network id of the tunnel a link between two hypervisors becomes
    /// (nil: 10000 + the link's index; see `Topology.vni(ofLinkAt:)`).
    public var vni: Int?

    /// The VNI of the tunnel of the link at `index` when the file gives none.
    public static func defaultVNI(index: Int) -> Int { 10_000 + index }

    /// Creates a link.
    public init(a: PortRef, b: PortRef, vni: Int? = nil) {
        self.a = a
        self.b = b
        self.vni = vni
    }
}
