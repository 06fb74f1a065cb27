// FlowDecision: what the pipeline asks the caller (the switch) to do with a frame.

import Frames

/// One output of a processed frame. `handle` holds one pool reference the caller releases
/// after transmitting (or discarding) it; its bytes are the frame as modified at the time
/// of the output.
public struct FlowDecision: Sendable, Equatable {
    /// Where the frame goes.
    public enum Kind: UInt8, Sendable {
        /// To `port`.
        case output = 0
        /// Back out of the ingress port (OFPP_IN_PORT).
        case inPort = 1
        /// All ports but the ingress one, within the switch's flooding rules (OFPP_FLOOD).
        case flood = 2
        /// All ports but the ingress one (OFPP_ALL).
        case all = 3
        /// The L2 learning switch (OFPP_NORMAL).
        case normal = 4
        /// A packet-in: `reason`, `tableID`, `cookie`, `maxLength`, `metadata`.
        case controller = 5
        /// The local port (OFPP_LOCAL).
        case local = 6
    }
    public var kind: Kind
    /// The output port for `.output`; the ingress port otherwise.
    public var port: UInt32
    public var handle: PacketHandle
    public var reason: PacketInReason
    public var tableID: UInt8
    public var cookie: UInt64
    public var maxLength: UInt16
    /// Pipeline metadata at the time (for the packet-in match).
    public var metadata: UInt64

    /// A decision.
    public init(kind: Kind, port: UInt32, handle: PacketHandle, reason: PacketInReason = .action, tableID: UInt8 = 0,
                cookie: UInt64 = 0, maxLength: UInt16 = 0xFFFF, metadata: UInt64 = 0) {
        self.kind = kind
        self.port = port
        self.handle = handle
        self.reason = reason
        self.tableID = tableID
        self.cookie = cookie
        self.maxLength = maxLength
        self.metadata = metadata
    }
}
