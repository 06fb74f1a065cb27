// The per-frame pipeline: table 0 onward through goto-table, apply-actions on the frame in
// place, write/clear-actions into the action set, write-metadata, then the action set in
// OF 1.3 §5.10 order. Outputs are copy-on-write: an output shares the slot with the caller,
// and a later edit first moves the frame to a fresh slot, so each decision carries the frame
// as it was when it was output; a slot another holder still references is never edited in
// place. Nothing here allocates or touches a reference count.

import Frames

/// The per-frame state the actions read and write.
@usableFromInline
struct FrameContext {
    @usableFromInline var key: FlowKey
    @usableFromInline var inPort: UInt32
    @usableFromInline var metadata: UInt64 = 0
    @usableFromInline var cookie: UInt64 = 0
    @usableFromInline var table: UInt8 = 0
    @usableFromInline var keyDirty = false
    @usableFromInline var tableMiss = false

    @inlinable init(key: FlowKey, inPort: UInt32) {
        self.key = key
        self.inPort = inPort
    }
}

extension FlowPipeline {
    /// Runs one frame that arrived on `inPort` through the pipeline at time `now`
    /// (nanoseconds) and returns the number of decisions (read them from `decisions`).
    ///
    /// The pipeline takes over one reference to `handle`; every decision holds one reference
    /// to its own handle, which the caller releases. With no decision the frame was dropped
    /// (table miss without a miss entry, an empty action set, a TTL that ran out).
    @inlinable
    @discardableResult
    public func process(_ handle: PacketHandle, inPort: UInt32, now: Int64) -> Int {
        decisionCount = 0
        wHandle = handle
        runTables(inPort: inPort, now: now)
        pool.release(wHandle)
        return decisionCount
    }

    /// Runs the working frame (`wHandle`) through the tables from table 0, appending decisions.
    @inlinable
    func runTables(inPort: UInt32, now: Int64) {
        setMask = 0
        let length = pool.length(wHandle)
        var ctx = FrameContext(key: FlowKey.extract(UnsafeRawPointer(pool.data(wHandle)), length: length, inPort: inPort),
                               inPort: inPort)
        var t = 0
        outer: while true {
            if ctx.keyDirty {
                ctx.key = FlowKey.extract(UnsafeRawPointer(pool.data(wHandle)), length: pool.length(wHandle),
                                          inPort: inPort, metadata: ctx.metadata)
                ctx.keyDirty = false
            }
            let f = lookup(table: t, key: ctx.key)
            if traceCount >= 0 { recordTrace(table: t, flow: f) }
            // A table miss without a table-miss entry drops the packet (OF 1.3 §5.4).
            guard f >= 0 else { break }
            let fp = flows + Int(f)
            if fp.pointee.flags & FlowModFlags.noPacketCounts.rawValue == 0 { fp.pointee.packets &+= 1 }
            if fp.pointee.flags & FlowModFlags.noByteCounts.rawValue == 0 {
                fp.pointee.bytes &+= UInt64(truncatingIfNeeded: pool.length(wHandle))
            }
            fp.pointee.lastUsed = now
            ctx.cookie = fp.pointee.cookie
            ctx.table = UInt8(truncatingIfNeeded: t)
            ctx.tableMiss = fp.pointee.tableMiss
            var next = -1
            let ops = fp.pointee.ops
            let n = Int(fp.pointee.opCount)
            var i = 0
            while i < n {
                let op = ops.unsafelyUnwrapped[i]
                i &+= 1
                if op.kind & OpKind.writeBit != 0 {
                    let slot = ActionSetSlot.of(op)
                    setOps[slot] = op
                    setMask |= 1 << UInt32(slot)
                    continue
                }
                switch op.kind {
                case OpKind.clearActions: setMask = 0
                case OpKind.writeMetadata:
                    ctx.metadata = ctx.metadata & ~op.v2 | op.v
                    ctx.key.w5 = ctx.metadata
                case OpKind.gotoTable: next = Int(op.a32)
                default:
                    guard perform(op, &ctx, depth: 0) else { break outer }
                }
            }
            if next < 0 {
                runActionSet(&ctx)
                break
            }
            t = next
        }
    }

    /// Executes the action set: slots in ascending order; with a group, output is ignored.
    @inlinable
    func runActionSet(_ ctx: inout FrameContext) {
        var mask = setMask
        if mask & (1 << UInt32(ActionSetSlot.group)) != 0 { mask &= ~(1 << UInt32(ActionSetSlot.output)) }
        while mask != 0 {
            let slot = mask.trailingZeroBitCount
            mask &= mask &- 1
            guard perform(setOps[slot], &ctx, depth: 0) else { return }
        }
    }

    /// Before an edit: a frame someone else also holds (a decision, the caller, another
    /// queue) is copied to a fresh slot, so only the pipeline's own copy changes.
    @inlinable @inline(__always)
    func ownFrame() -> Bool {
        guard pool.referenceCount(wHandle) > 1 else { return true }
        guard let copy = pool.allocate() else { droppedOutputs &+= 1; return false }
        let length = pool.length(wHandle)
        // SAFETY: both slots hold at least `length` bytes (length <= slotSize + 8 < stride).
        pool.data(copy).copyMemory(from: pool.data(wHandle), byteCount: length)
        pool.setLength(copy, length)
        pool.release(wHandle)
        wHandle = copy
        return true
    }

    /// Performs one action; false when the packet must not go further (TTL, no memory).
    @inlinable
    func perform(_ op: CompiledOp, _ ctx: inout FrameContext, depth: Int) -> Bool {
        switch op.kind & ~OpKind.writeBit {
        case OpKind.output:
            output(op, &ctx)
        case OpKind.setField:
            guard ownFrame() else { return false }
            FrameEditor.setField(pool.data(wHandle), pool.length(wHandle), field: op.field, v: op.v, v2: op.v2)
            ctx.keyDirty = true
        case OpKind.pushVLAN:
            guard ownFrame() else { return false }
            var length = pool.length(wHandle)
            guard FrameEditor.pushVLAN(pool.data(wHandle), &length, capacity: pool.slotSize &+ 8, tpid: op.a16) else {
                droppedOutputs &+= 1
                return false
            }
            pool.setLength(wHandle, length)
            ctx.keyDirty = true
        case OpKind.popVLAN:
            guard ownFrame() else { return false }
            var length = pool.length(wHandle)
            FrameEditor.popVLAN(pool.data(wHandle), &length)
            pool.setLength(wHandle, length)
            ctx.keyDirty = true
        case OpKind.decTTL:
            guard ownFrame() else { return false }
            ctx.keyDirty = true
            guard FrameEditor.decTTL(pool.data(wHandle), pool.length(wHandle)) else {
                if invalidTTLToController {
                    emit(.controller, port: ctx.inPort, &ctx, reason: .invalidTTL, maxLength: 0xFFFF)
                }
                return false
            }
        case OpKind.group:
            runGroup(Int(op.a32), &ctx, depth: depth)
        default:
            break
        }
        return true
    }

    @inlinable @inline(__always)
    func output(_ op: CompiledOp, _ ctx: inout FrameContext) {
        let port = op.a32
        switch port {
        case OFPort.inPort: emit(.inPort, port: ctx.inPort, &ctx)
        case OFPort.flood: emit(.flood, port: ctx.inPort, &ctx)
        case OFPort.all: emit(.all, port: ctx.inPort, &ctx)
        case OFPort.normal: emit(.normal, port: ctx.inPort, &ctx)
        case OFPort.local: emit(.local, port: ctx.inPort, &ctx)
        case OFPort.controller:
            emit(.controller, port: ctx.inPort, &ctx, reason: ctx.tableMiss ? .noMatch : .action, maxLength: op.a16)
        case OFPort.table: break // only meaningful in packet-out, which the wire side handles
        default:
            // OF 1.3: a frame leaves by its ingress port only through OFPP_IN_PORT.
            if port != ctx.inPort { emit(.output, port: port, &ctx) }
        }
    }

    @inlinable @inline(__always)
    func emit(_ kind: FlowDecision.Kind, port: UInt32, _ ctx: inout FrameContext, reason: PacketInReason = .action,
              maxLength: UInt16 = 0xFFFF) {
        guard decisionCount < Self.maxDecisions else { droppedOutputs &+= 1; return }
        pool.retain(wHandle)
        decisionBuffer[decisionCount] = FlowDecision(kind: kind, port: port, handle: wHandle, reason: reason, tableID: ctx.table,
                                                     cookie: ctx.cookie, maxLength: maxLength, metadata: ctx.metadata)
        decisionCount &+= 1
    }

    /// Runs a group on a logical copy of the frame per bucket (copy-on-write).
    @inlinable
    func runGroup(_ g: Int, _ ctx: inout FrameContext, depth: Int) {
        let gp = groups + g
        guard depth < 8, gp.pointee.live else { return }
        let length = UInt64(truncatingIfNeeded: pool.length(wHandle))
        gp.pointee.packets &+= 1
        gp.pointee.bytes &+= length
        let count = Int(gp.pointee.bucketCount)
        guard count > 0, let buckets = gp.pointee.buckets else { return }
        switch gp.pointee.type {
        case GroupType.all.rawValue:
            for b in 0..<count { runBucket(buckets + b, &ctx, depth: depth, length: length) }
        case GroupType.select.rawValue:
            if ctx.keyDirty {
                ctx.key = FlowKey.extract(UnsafeRawPointer(pool.data(wHandle)), length: pool.length(wHandle),
                                          inPort: ctx.inPort, metadata: ctx.metadata)
                ctx.keyDirty = false
            }
            let total = UInt64(gp.pointee.totalWeight)
            var pick = ctx.key.hash(seed: 0x5E1E_C7ED) % total
            var b = 0
            while b < count &- 1 {
                let w = UInt64(buckets[b].weight)
                if pick < w { break }
                pick &-= w
                b &+= 1
            }
            runBucket(buckets + b, &ctx, depth: depth, length: length)
        default:
            runBucket(buckets, &ctx, depth: depth, length: length)
        }
    }

    @inlinable
    func runBucket(_ bp: UnsafeMutablePointer<BucketSlot>, _ ctx: inout FrameContext, depth: Int, length: UInt64) {
        bp.pointee.packets &+= 1
        bp.pointee.bytes &+= length
        let savedHandle = wHandle
        let savedKey = ctx.key, savedDirty = ctx.keyDirty
        pool.retain(wHandle)
        let n = Int(bp.pointee.opCount)
        var i = 0
        while i < n {
            guard perform(bp.pointee.ops.unsafelyUnwrapped[i], &ctx, depth: depth &+ 1) else { break }
            i &+= 1
        }
        pool.release(wHandle)
        wHandle = savedHandle
        ctx.key = savedKey
        ctx.keyDirty = savedDirty
    }
}
