// TransmitEntry: a frame queued on an output port, with the tag it must leave with.

import Frames

/// A frame queued for transmission: a pool slot plus the egress tag operation. Flooded
/// frames share one slot, so the tag is applied when the frame is written out
/// (`Switch.materialize`), not in place.
public struct TransmitEntry: Equatable, Sendable {
    /// What to do with the 802.1Q tag on the way out.
    public enum TagAction: UInt8, Sendable {
        /// Leave the frame as it is (mirrored as received).
        case keep = 0
        /// Leave untagged: remove an 802.1Q tag if the frame has one.
        case untag = 1
        /// Leave with an 802.1Q tag carrying `tci`, replacing any tag the frame has.
        case tag = 2
    }

    public var handle: PacketHandle
    public var tci: UInt16
    public var action: TagAction

    @inlinable
    public init(handle: PacketHandle, tci: UInt16, action: TagAction) {
        self.handle = handle
        self.tci = tci
        self.action = action
    }

    /// The VLAN id the frame leaves tagged with, nil when untagged or kept.
    public var egressVLAN: UInt16? { action == .tag ? tci & 0x0FFF : nil }
}
