// FlowPipeline: the OF 1.3 flow tables of one switch, their classifier, groups and counters.
//
// Storage is split like the L2 switch's: what the datapath reads per frame (flow records,
// subtables, tables, groups, the exact-match cache) lives in flat unsafe arrays of trivial
// records, so a lookup or an action touches no reference counts and allocates nothing; the
// model (matches and instructions as given, for stats and replies) lives in Swift arrays
// that only flow-mods and queries touch. One thread owns a pipeline: flow-mods from another
// thread go through a `FlowUpdateQueue` that the owner drains between batches.

import Frames

/// Limits and options of a pipeline.
public struct FlowPipelineConfiguration: Sendable, Hashable {
    /// Number of flow tables, 1...255 (default 8).
    public var tableCount: Int
    /// Most flow entries in all tables together (default 1,000,000).
    public var maxFlows: Int
    /// Most flow entries in one table (default 100,000).
    public var maxFlowsPerTable: Int
    /// Most groups (default 4,096).
    public var maxGroups: Int
    /// Most buckets in one group (default 64).
    public var maxBucketsPerGroup: Int
    /// Exact-match cache entries, a power of two (default 8,192).
    public var cacheEntries: Int
    /// OFPC_INVALID_TTL_TO_CONTROLLER: a dec_nw_ttl at TTL <= 1 sends the packet to the
    /// controller (reason INVALID_TTL) instead of dropping it.
    public var invalidTTLToController: Bool

    /// A configuration; see the properties for the defaults.
    public init(tableCount: Int = 8, maxFlows: Int = 1_000_000, maxFlowsPerTable: Int = 100_000, maxGroups: Int = 4096,
                maxBucketsPerGroup: Int = 64, cacheEntries: Int = 8192, invalidTTLToController: Bool = false) {
        self.tableCount = tableCount
        self.maxFlows = maxFlows
        self.maxFlowsPerTable = maxFlowsPerTable
        self.maxGroups = maxGroups
        self.maxBucketsPerGroup = maxBucketsPerGroup
        self.cacheEntries = cacheEntries
        self.invalidTTLToController = invalidTTLToController
    }
}

/// A configuration the pipeline cannot run with.
public struct FlowConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
}

/// The hot-path record of one flow entry. What every matched frame touches comes first,
/// in one cache line; the match words follow for the classifier's compare.
@usableFromInline
struct FlowSlot {
    /// Hash of `value` with the subtable seed.
    @usableFromInline var hash: UInt64 = 0
    @usableFromInline var ops: UnsafeMutablePointer<CompiledOp>?
    @usableFromInline var packets: UInt64 = 0
    @usableFromInline var bytes: UInt64 = 0
    @usableFromInline var lastUsed: Int64 = 0
    @usableFromInline var cookie: UInt64 = 0
    @usableFromInline var opCount: Int32 = 0
    @usableFromInline var priority: Int32 = 0
    @usableFromInline var flags: UInt16 = 0
    /// Priority 0, all wildcards: its controller outputs are packet-ins with reason NO_MATCH.
    @usableFromInline var tableMiss = false
    @usableFromInline var live = false
    @usableFromInline var table: UInt8 = 0
    @usableFromInline var value = FlowKey()
    @usableFromInline var mask = FlowKey()
    @usableFromInline var installed: Int64 = 0
    @usableFromInline var subtable: Int32 = -1
    /// The next entry with the same match at a lower priority.
    @usableFromInline var nextSame: Int32 = -1
    @usableFromInline var idle: UInt16 = 0
    @usableFromInline var hard: UInt16 = 0
    /// Names the entry's one live timer in the timeout heap (0: no timeouts).
    @usableFromInline var timerToken: UInt32 = 0
    /// Padding to 256 bytes: with 64-byte aligned storage the hot fields share one line.
    @usableFromInline var reserved1: UInt64 = 0
    @usableFromInline init() {}
}

/// Allocates `count` records on a 64-byte boundary (a cache line), initialised to `value`.
func allocateAligned<T>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<T>.stride, alignment: 64)
    let p = raw.bindMemory(to: T.self, capacity: count)
    p.initialize(repeating: value, count: count)
    return p
}

/// Frees what `allocateAligned` returned (records are trivial: nothing to deinitialise).
func deallocateAligned<T>(_ p: UnsafeMutablePointer<T>) {
    UnsafeMutableRawPointer(p).deallocate()
}

/// One mask's hash table (a "subtable" of tuple-space search): open addressing, linear
/// probing, each slot the flow id of the highest-priority entry with that masked value.
@usableFromInline
struct SubtableSlot {
    @usableFromInline var mask = FlowKey()
    @usableFromInline var buckets: UnsafeMutablePointer<SubtableBucket>?
    @usableFromInline var bucketMask = 0
    /// Occupied buckets (distinct values).
    @usableFromInline var heads = 0
    @usableFromInline var flows = 0
    @usableFromInline var maxPriority: Int32 = .min
    @usableFromInline var table: UInt8 = 0
    @usableFromInline var live = false
    @usableFromInline init() {}
}

/// A subtable bucket: the head entry's flow id (-1: empty) and the top 32 bits of its hash,
/// which a probe compares before it touches the flow record (likely not in the CPU cache).
@usableFromInline
struct SubtableBucket {
    @usableFromInline var flow: Int32 = -1
    @usableFromInline var tag: UInt32 = 0
    @usableFromInline init() {}
}

/// A table: its subtables in descending order of their highest priority, and counters.
@usableFromInline
struct TableSlot {
    @usableFromInline var order: UnsafeMutablePointer<Int32>?
    @usableFromInline var orderCount = 0
    @usableFromInline var lookups: UInt64 = 0
    @usableFromInline var matched: UInt64 = 0
    @usableFromInline var flowCount = 0
    @usableFromInline init() {}
}

/// An exact-match cache entry: the full key of a lookup in one table and its result
/// (a flow id, or -1 for a miss), valid while `generation` is the pipeline's. Entries go in
/// two-way sets, so two hot keys that share a set do not evict each other.
@usableFromInline
struct CacheEntry {
    @usableFromInline var key = FlowKey()
    @usableFromInline var generation: UInt64 = 0
    @usableFromInline var flow: Int32 = -1
    @usableFromInline var table: UInt8 = 0
    @usableFromInline init() {}
}

/// A group's hot-path record.
@usableFromInline
struct GroupSlot {
    @usableFromInline var buckets: UnsafeMutablePointer<BucketSlot>?
    @usableFromInline var bucketCount: Int32 = 0
    @usableFromInline var type: UInt8 = 0
    @usableFromInline var totalWeight: UInt32 = 0
    @usableFromInline var packets: UInt64 = 0
    @usableFromInline var bytes: UInt64 = 0
    @usableFromInline var live = false
    @usableFromInline init() {}
}

/// A bucket's hot-path record.
@usableFromInline
struct BucketSlot {
    @usableFromInline var ops: UnsafeMutablePointer<CompiledOp>?
    @usableFromInline var opCount: Int32 = 0
    @usableFromInline var weight: UInt32 = 0
    @usableFromInline var packets: UInt64 = 0
    @usableFromInline var bytes: UInt64 = 0
    @usableFromInline init() {}
}

/// The model side of a flow entry (what was asked for), for stats and removal reports.
struct FlowModel {
    var match: FlowMatch
    var instructions: [FlowInstruction]
}

/// The OF 1.3 pipeline of one switch: flow tables, groups, the classifier and its cache.
/// Not thread-safe: one thread owns it (see `FlowUpdateQueue`).
public final class FlowPipeline {
    /// The limits it was created with.
    public let configuration: FlowPipelineConfiguration
    /// The pool the processed frames live in.
    public let pool: PacketPool
    /// Most decisions one frame can produce; further outputs are dropped and counted.
    public static let maxDecisions = 64
    /// Hash seed of the subtables.
    @usableFromInline static let subtableSeed: UInt64 = 0x2545_F491_4F6C_DD1D

    // Hot-path state.
    @usableFromInline var flows: UnsafeMutablePointer<FlowSlot>
    @usableFromInline var flowCapacity: Int
    @usableFromInline var subtables: UnsafeMutablePointer<SubtableSlot>
    @usableFromInline var subtableCapacity: Int
    @usableFromInline let tables: UnsafeMutablePointer<TableSlot>
    @usableFromInline let tableCount: Int
    @usableFromInline let groups: UnsafeMutablePointer<GroupSlot>
    @usableFromInline let cache: UnsafeMutablePointer<CacheEntry>
    @usableFromInline let cacheMask: Int
    /// Bumped by every change to tables or groups; cache entries of older generations are void.
    @usableFromInline var generation: UInt64 = 1
    @usableFromInline let decisionBuffer: UnsafeMutablePointer<FlowDecision>
    @usableFromInline var decisionCount = 0
    @usableFromInline let setOps: UnsafeMutablePointer<CompiledOp>
    @usableFromInline var setMask: UInt32 = 0
    @usableFromInline var wHandle: PacketHandle = 0
    @usableFromInline let invalidTTLToController: Bool
    /// Exact-match cache hits and misses (lookups per table).
    @usableFromInline var cacheHitCount: UInt64 = 0
    @usableFromInline var cacheMissCount: UInt64 = 0
    /// Outputs dropped: decision list full, no pool slot for a copy, no room for a tag.
    @usableFromInline var droppedOutputs: UInt64 = 0
    /// Steps recorded by `trace` (-1: not tracing).
    @usableFromInline var traceCount = -1
    @usableFromInline let traceSteps: UnsafeMutablePointer<(table: Int32, flow: Int32)>

    // Control-path state.
    var models: [FlowModel?] = []
    var freeFlows: [Int32] = []
    var flowHighWater = 0
    var totalFlows = 0
    /// Deadlines of entries with timeouts (a min-heap; stale items are skipped by token).
    var timers = TimerHeap()
    var nextTimerToken: UInt32 = 0
    var freeSubtables: [Int32] = []
    var subtableHighWater = 0
    /// Per subtable: priority -> number of entries.
    var subtablePriorities: [[Int32: Int]] = []
    /// Per table: mask -> subtable id.
    var subtableByMask: [[FlowKey: Int32]]
    /// Per table: its subtable ids (order rebuilt from it).
    var tableSubtables: [[Int32]]
    var groupIndex: [UInt32: Int32] = [:]
    var groupModels: [GroupDesc?]
    var groupInstalled: [Int64]
    var freeGroups: [Int32]

    /// A pipeline over `pool`; throws when the configuration is out of range.
    public init(configuration: FlowPipelineConfiguration = FlowPipelineConfiguration(), pool: PacketPool) throws(FlowConfigurationError) {
        let c = configuration
        guard (1...255).contains(c.tableCount) else { throw FlowConfigurationError(description: "table count must be 1...255") }
        guard c.maxFlows >= 1, c.maxFlows <= 10_000_000, c.maxFlowsPerTable >= 1 else {
            throw FlowConfigurationError(description: "flow limits must be 1...10000000")
        }
        guard (0...65_536).contains(c.maxGroups), (1...1024).contains(c.maxBucketsPerGroup) else {
            throw FlowConfigurationError(description: "group limits out of range")
        }
        guard c.cacheEntries >= 16, c.cacheEntries <= 1 << 22, c.cacheEntries & (c.cacheEntries - 1) == 0 else {
            throw FlowConfigurationError(description: "cache entries must be a power of two, 16...4194304")
        }
        self.configuration = c
        self.pool = pool
        tableCount = c.tableCount
        invalidTTLToController = c.invalidTTLToController
        flowCapacity = 64
        flows = allocateAligned(flowCapacity, FlowSlot())
        subtableCapacity = 16
        subtables = .allocate(capacity: subtableCapacity)
        subtables.initialize(repeating: SubtableSlot(), count: subtableCapacity)
        tables = .allocate(capacity: c.tableCount)
        tables.initialize(repeating: TableSlot(), count: c.tableCount)
        groups = .allocate(capacity: max(1, c.maxGroups))
        groups.initialize(repeating: GroupSlot(), count: max(1, c.maxGroups))
        cache = allocateAligned(c.cacheEntries, CacheEntry())
        cacheMask = c.cacheEntries - 1
        decisionBuffer = .allocate(capacity: Self.maxDecisions)
        decisionBuffer.initialize(repeating: FlowDecision(kind: .output, port: 0, handle: 0), count: Self.maxDecisions)
        traceSteps = .allocate(capacity: 256)
        traceSteps.initialize(repeating: (0, 0), count: 256)
        setOps = .allocate(capacity: ActionSetSlot.count)
        setOps.initialize(repeating: CompiledOp(), count: ActionSetSlot.count)
        subtableByMask = Array(repeating: [:], count: c.tableCount)
        tableSubtables = Array(repeating: [], count: c.tableCount)
        groupModels = Array(repeating: nil, count: c.maxGroups)
        groupInstalled = Array(repeating: 0, count: c.maxGroups)
        freeGroups = (0..<Int32(c.maxGroups)).reversed()
    }

    deinit {
        for i in 0..<flowHighWater where flows[i].live { flows[i].ops?.deallocate() }
        for i in 0..<subtableHighWater where subtables[i].live { subtables[i].buckets?.deallocate() }
        for t in 0..<tableCount { tables[t].order?.deallocate() }
        for g in 0..<configuration.maxGroups where groups[g].live { freeBuckets(Int32(g)) }
        deallocateAligned(flows)
        subtables.deallocate()
        tables.deallocate()
        groups.deallocate()
        deallocateAligned(cache)
        decisionBuffer.deallocate()
        setOps.deallocate()
        traceSteps.deallocate()
    }

    /// The decisions of the last `process` call; valid until the next one.
    public var decisions: UnsafeBufferPointer<FlowDecision> {
        UnsafeBufferPointer(start: decisionBuffer, count: decisionCount)
    }

    /// Exact-match cache hits so far.
    public var cacheHits: UInt64 { cacheHitCount }
    /// Exact-match cache misses so far (classifier searches).
    public var cacheMisses: UInt64 { cacheMissCount }
    /// Outputs dropped because the decision list was full, the pool had no slot for a
    /// copy-on-write, or a pushed tag did not fit.
    public var outputsDropped: UInt64 { droppedOutputs }
    /// Flow entries in all tables.
    public var flowCount: Int { totalFlows }
    /// The change generation (bumped by every flow or group change).
    public var changeGeneration: UInt64 { generation }

    /// Copies `ops` into a fresh allocation (nil for none).
    static func store(_ ops: [CompiledOp]) -> (UnsafeMutablePointer<CompiledOp>?, Int32) {
        guard !ops.isEmpty else { return (nil, 0) }
        let p = UnsafeMutablePointer<CompiledOp>.allocate(capacity: ops.count)
        // SAFETY: p has room for ops.count trivial records.
        ops.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: ops.count) }
        return (p, Int32(ops.count))
    }
}
