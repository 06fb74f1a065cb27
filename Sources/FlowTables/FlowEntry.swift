// FlowEntry model: flow-mod requests, flags, and the plain values stats and removals return.

/// OF 1.3 flow-mod flags (`ofp_flow_mod_flags`).
public struct FlowModFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let sendFlowRemoved = FlowModFlags(rawValue: 1)
    public static let checkOverlap = FlowModFlags(rawValue: 2)
    public static let resetCounts = FlowModFlags(rawValue: 4)
    public static let noPacketCounts = FlowModFlags(rawValue: 8)
    public static let noByteCounts = FlowModFlags(rawValue: 16)
    /// Every flag this datapath knows.
    public static let known: FlowModFlags = [.sendFlowRemoved, .checkOverlap, .resetCounts, .noPacketCounts, .noByteCounts]
}

/// A flow-mod request (`ofp_flow_mod` without buffer handling).
public struct FlowMod: Sendable, Hashable {
    /// `ofp_flow_mod_command`.
    public enum Command: UInt8, Sendable {
        case add = 0, modify = 1, modifyStrict = 2, delete = 3, deleteStrict = 4
    }
    public var command: Command
    /// A table, or `OFTable.all` (delete only).
    public var tableID: UInt8
    public var priority: UInt16
    public var cookie: UInt64
    /// Selects entries for modify/delete: `entry.cookie & cookieMask == cookie & cookieMask`.
    public var cookieMask: UInt64
    /// Seconds; 0 = none.
    public var idleTimeout: UInt16
    /// Seconds; 0 = none.
    public var hardTimeout: UInt16
    public var flags: FlowModFlags
    /// Delete filter: entries with an output to this port (`OFPort.any` = no filter).
    public var outPort: UInt32
    /// Delete filter: entries with a group action on this group (`OFGroup.any` = no filter).
    public var outGroup: UInt32
    public var match: FlowMatch
    public var instructions: [FlowInstruction]

    /// A flow-mod; defaults are those of an `add` in table 0 at the default priority.
    public init(command: Command = .add, tableID: UInt8 = 0, priority: UInt16 = 0x8000, cookie: UInt64 = 0,
                cookieMask: UInt64 = 0, idleTimeout: UInt16 = 0, hardTimeout: UInt16 = 0, flags: FlowModFlags = [],
                outPort: UInt32 = OFPort.any, outGroup: UInt32 = OFGroup.any, match: FlowMatch = FlowMatch(),
                instructions: [FlowInstruction] = []) {
        self.command = command
        self.tableID = tableID
        self.priority = priority
        self.cookie = cookie
        self.cookieMask = cookieMask
        self.idleTimeout = idleTimeout
        self.hardTimeout = hardTimeout
        self.flags = flags
        self.outPort = outPort
        self.outGroup = outGroup
        self.match = match
        self.instructions = instructions
    }
}

/// One flow entry as stats and flow-removed report it.
public struct FlowEntry: Sendable, Hashable {
    public var tableID: UInt8
    public var priority: UInt16
    public var cookie: UInt64
    public var idleTimeout: UInt16
    public var hardTimeout: UInt16
    public var flags: FlowModFlags
    public var match: FlowMatch
    public var instructions: [FlowInstruction]
    /// Packets matched (UInt64.max when NO_PKT_COUNTS).
    public var packets: UInt64
    /// Bytes matched (UInt64.max when NO_BYT_COUNTS).
    public var bytes: UInt64
    /// When the entry was installed (the clock's nanoseconds).
    public var installTime: Int64
    /// Nanoseconds since installation at the time of the query.
    public var durationNanoseconds: Int64
}

/// A flow entry that left its table, and why (send flow-removed when its flags ask).
public struct RemovedFlow: Sendable, Hashable {
    public var entry: FlowEntry
    public var reason: FlowRemovedReason
}

/// Which entries a flow-stats, aggregate or delete request selects.
public struct FlowFilter: Sendable, Hashable {
    /// A table or `OFTable.all`.
    public var tableID: UInt8
    public var outPort: UInt32
    public var outGroup: UInt32
    public var cookie: UInt64
    public var cookieMask: UInt64
    /// Non-strict: entries at least as specific as this match.
    public var match: FlowMatch

    /// A filter; the defaults select everything.
    public init(tableID: UInt8 = OFTable.all, outPort: UInt32 = OFPort.any, outGroup: UInt32 = OFGroup.any,
                cookie: UInt64 = 0, cookieMask: UInt64 = 0, match: FlowMatch = FlowMatch()) {
        self.tableID = tableID
        self.outPort = outPort
        self.outGroup = outGroup
        self.cookie = cookie
        self.cookieMask = cookieMask
        self.match = match
    }
}

/// Aggregate flow statistics.
public struct AggregateStats: Sendable, Hashable {
    public var packets: UInt64
    public var bytes: UInt64
    public var flowCount: Int
}

/// One table's statistics.
public struct TableStats: Sendable, Hashable {
    public var tableID: UInt8
    public var activeCount: Int
    public var lookups: UInt64
    public var matched: UInt64
}
