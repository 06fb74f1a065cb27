// Group model: group-mod requests and the group desc/stats values (OF 1.3 §5.6).

/// `ofp_group_type` (fast-failover is not supported).
public enum GroupType: UInt8, Sendable {
    case all = 0, select = 1, indirect = 2, fastFailover = 3
}

/// A group bucket: weight (select groups) and an action list executed in order.
public struct GroupBucket: Sendable, Hashable {
    public var weight: UInt16
    public var actions: [FlowAction]

    /// A bucket.
    public init(weight: UInt16 = 1, actions: [FlowAction]) {
        self.weight = weight
        self.actions = actions
    }
}

/// A group-mod request.
public struct GroupMod: Sendable, Hashable {
    /// `ofp_group_mod_command`.
    public enum Command: UInt16, Sendable { case add = 0, modify = 1, delete = 2 }
    public var command: Command
    public var type: GroupType
    /// A group number, or `OFGroup.all` for delete.
    public var groupID: UInt32
    public var buckets: [GroupBucket]

    /// A group-mod.
    public init(command: Command, type: GroupType = .all, groupID: UInt32, buckets: [GroupBucket] = []) {
        self.command = command
        self.type = type
        self.groupID = groupID
        self.buckets = buckets
    }
}

/// A group as group-desc reports it.
public struct GroupDesc: Sendable, Hashable {
    public var groupID: UInt32
    public var type: GroupType
    public var buckets: [GroupBucket]
}

/// A group's counters as group-stats reports them.
public struct GroupStats: Sendable, Hashable {
    public var groupID: UInt32
    /// Flows (and groups) whose actions name this group.
    public var referenceCount: Int
    public var packets: UInt64
    public var bytes: UInt64
    /// (packets, bytes) per bucket.
    public var buckets: [(packets: UInt64, bytes: UInt64)]
    public var durationNanoseconds: Int64

    public static func == (a: GroupStats, b: GroupStats) -> Bool {
        a.groupID == b.groupID && a.referenceCount == b.referenceCount && a.packets == b.packets && a.bytes == b.bytes
            && a.buckets.map(\.packets) == b.buckets.map(\.packets) && a.buckets.map(\.bytes) == b.buckets.map(\.bytes)
            && a.durationNanoseconds == b.durationNanoseconds
    }

    public func hash(into h: inout Hasher) { h.combine(groupID) }
}
