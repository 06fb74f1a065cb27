// DropReason: why the pipeline discarded a frame; every drop is counted under one.

/// Why a frame was dropped. Each port counts drops by reason (`PortCounters.drops`).
public enum DropReason: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Shorter than an Ethernet header.
    case runt
    /// A VLAN tag cut off, or VID 4095.
    case malformedTag
    /// A tagged frame on an access port (VLAN hopping attempt).
    case taggedOnAccessPort
    /// A trunk received a tag of a VLAN it does not allow.
    case vlanNotAllowed
    /// A trunk without a native VLAN received an untagged frame.
    case untaggedWithoutNativeVLAN
    /// An 802.1ad (QinQ) service tag, which customer-VLAN ports do not accept.
    case serviceTag
    /// The source address is a group address.
    case multicastSource
    /// 802.1D link-local destination (01:80:c2:00:00:0x), which bridges never forward.
    case linkLocalDestination
    /// The destination was learned on the port the frame came in on.
    case hairpin
    /// The ingress port, or the one learned for the destination, is down.
    case portDown
    /// Frames arriving on a mirror output port are not switched.
    case mirrorPort
    /// A transmit queue was full (the consumer did not keep up).
    case queueFull
    /// The source address is all zeros (00:00:00:00:00:00), which no station may use; the
    /// Linux bridge drops such frames too. Last, so saved counters keep their indices.
    case zeroSource

    /// The name used in counters, traces and JSON output.
    public var description: String {
        switch self {
        case .runt: return "runt"
        case .malformedTag: return "malformed-tag"
        case .taggedOnAccessPort: return "tagged-on-access-port"
        case .vlanNotAllowed: return "vlan-not-allowed"
        case .untaggedWithoutNativeVLAN: return "untagged-without-native-vlan"
        case .serviceTag: return "802.1ad-service-tag"
        case .multicastSource: return "multicast-source"
        case .linkLocalDestination: return "link-local-destination"
        case .hairpin: return "destination-on-ingress-port"
        case .portDown: return "port-down"
        case .mirrorPort: return "mirror-output-port"
        case .queueFull: return "transmit-queue-full"
        case .zeroSource: return "zero-source"
        }
    }
}

/// The counters of one port.
public struct PortCounters: Equatable, Sendable, Codable {
    public var rxFrames: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txFrames: UInt64 = 0
    public var txBytes: UInt64 = 0
    /// Drops by `DropReason.rawValue`, charged to the ingress port (or, for `queueFull` and
    /// `portDown` at egress, to the egress port).
    public var drops: [UInt64] = Array(repeating: 0, count: DropReason.allCases.count)

    public init() {}

    public var totalDrops: UInt64 { drops.reduce(0, +) }

    /// Drops for `reason` (0 for a reason newer than counters decoded from older state).
    public subscript(reason: DropReason) -> UInt64 { reason.rawValue < drops.count ? drops[reason.rawValue] : 0 }
}
