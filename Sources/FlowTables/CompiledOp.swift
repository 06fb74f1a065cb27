// CompiledOp: instructions and actions compiled into flat, trivial records the datapath runs
// without touching Swift arrays or enums with payloads (no ARC on the hot path), and the
// flow-mod time checks of OF 1.3 that compiling performs.

/// One compiled step. `kind` is an `OpKind` raw value, plus `writeBit` when the action goes
/// into the action set instead of running now.
@usableFromInline
struct CompiledOp {
    @usableFromInline var kind: UInt8 = 0
    /// Set-field: the `FlowField.index`.
    @usableFromInline var field: UInt8 = 0
    /// Output: max length; push: TPID.
    @usableFromInline var a16: UInt16 = 0
    /// Output: port; group: group slot; goto: table.
    @usableFromInline var a32: UInt32 = 0
    /// Set-field value (IPv6: high half); write-metadata value.
    @usableFromInline var v: UInt64 = 0
    /// IPv6 low half; write-metadata mask.
    @usableFromInline var v2: UInt64 = 0

    @usableFromInline init() {}
}

/// Compiled operation kinds.
@usableFromInline
enum OpKind {
    @usableFromInline static let output: UInt8 = 1
    @usableFromInline static let pushVLAN: UInt8 = 2
    @usableFromInline static let popVLAN: UInt8 = 3
    @usableFromInline static let setField: UInt8 = 4
    @usableFromInline static let group: UInt8 = 5
    @usableFromInline static let decTTL: UInt8 = 6
    @usableFromInline static let clearActions: UInt8 = 10
    @usableFromInline static let writeMetadata: UInt8 = 11
    @usableFromInline static let gotoTable: UInt8 = 12
    /// Marks an action written into the action set.
    @usableFromInline static let writeBit: UInt8 = 0x80
}

/// The action set's slots in OF 1.3 §5.10 execution order: pop, push, dec TTL, the set-fields,
/// group, output. A set holds at most one action per slot.
@usableFromInline
enum ActionSetSlot {
    @usableFromInline static let pop = 0
    @usableFromInline static let push = 1
    @usableFromInline static let decTTL = 2
    @usableFromInline static let firstField = 3
    @usableFromInline static let group = 3 + Int(FlowField.count)
    @usableFromInline static let output = group + 1
    @usableFromInline static let count = output + 1

    /// The slot of a (non-write-bit) action kind.
    @inlinable @inline(__always)
    static func of(_ op: CompiledOp) -> Int {
        switch op.kind & ~OpKind.writeBit {
        case OpKind.popVLAN: pop
        case OpKind.pushVLAN: push
        case OpKind.decTTL: decTTL
        case OpKind.setField: firstField + Int(op.field)
        case OpKind.group: group
        default: output
        }
    }
}

/// What the compiler needs from the pipeline: table count, and group lookup.
struct CompileContext {
    var tableID: UInt8
    var tableCount: Int
    /// Slot of an existing group, nil when unknown.
    var groupSlot: (UInt32) -> Int32?
}

enum OpCompiler {
    /// Compiles a flow's instructions in OF 1.3 §5.9 order (apply, clear, write, metadata,
    /// goto), checking them against the match.
    static func compile(_ instructions: [FlowInstruction], match: FlowMatch, context: CompileContext) throws(FlowError) -> [CompiledOp] {
        var apply: [FlowAction]?, write: [FlowAction]?, clear = false, meta: (UInt64, UInt64)?, goto: UInt8?
        for ins in instructions {
            switch ins {
            case .applyActions(let a):
                guard apply == nil else { throw .badInstruction(.unsupInst) }
                apply = a
            case .writeActions(let a):
                guard write == nil else { throw .badInstruction(.unsupInst) }
                write = a
            case .clearActions:
                guard !clear else { throw .badInstruction(.unsupInst) }
                clear = true
            case .writeMetadata(let v, let m):
                guard meta == nil else { throw .badInstruction(.unsupInst) }
                guard v & ~m == 0 else { throw .badInstruction(.unsupMetadata) }
                meta = (v, m)
            case .gotoTable(let t):
                guard goto == nil else { throw .badInstruction(.unsupInst) }
                // Only forward: a goto to this table or an earlier one could loop.
                guard t > context.tableID, Int(t) < context.tableCount else { throw .badInstruction(.badTableID) }
                goto = t
            }
        }
        let pushes = (apply ?? []).contains { if case .pushVLAN = $0 { true } else { false } }
            || (write ?? []).contains { if case .pushVLAN = $0 { true } else { false } }
        var ops: [CompiledOp] = []
        for a in apply ?? [] { ops.append(try compile(a, match: match, tagged: pushes, context: context)) }
        if clear { var op = CompiledOp(); op.kind = OpKind.clearActions; ops.append(op) }
        if let write {
            var seen = Set<Int>()
            for a in write {
                var op = try compile(a, match: match, tagged: pushes, context: context)
                // The action set holds one action per type: a second one is a client error.
                guard seen.insert(ActionSetSlot.of(op)).inserted else { throw .badAction(.tooMany) }
                op.kind |= OpKind.writeBit
                ops.append(op)
            }
        }
        if let (v, m) = meta { var op = CompiledOp(); op.kind = OpKind.writeMetadata; op.v = v; op.v2 = m; ops.append(op) }
        if let goto { var op = CompiledOp(); op.kind = OpKind.gotoTable; op.a32 = UInt32(goto); ops.append(op) }
        return ops
    }

    /// Compiles a group bucket's action list.
    static func compileBucket(_ actions: [FlowAction], context: CompileContext) throws(FlowError) -> [CompiledOp] {
        var ops: [CompiledOp] = []
        for a in actions {
            // Buckets run without a match to check against: set-fields apply when the header is there.
            ops.append(try compile(a, match: nil, tagged: true, context: context))
        }
        return ops
    }

    static func compile(_ action: FlowAction, match: FlowMatch?, tagged: Bool, context: CompileContext) throws(FlowError) -> CompiledOp {
        var op = CompiledOp()
        switch action {
        case .output(let port, let maxLength):
            guard port != 0, port <= OFPort.max || port == OFPort.inPort || port == OFPort.normal || port == OFPort.flood
                || port == OFPort.all || port == OFPort.controller || port == OFPort.local else { throw .badAction(.badOutPort) }
            op.kind = OpKind.output; op.a32 = port; op.a16 = maxLength
        case .pushVLAN(let tpid):
            guard tpid == 0x8100 || tpid == 0x88A8 else { throw .badAction(.badArgument) }
            op.kind = OpKind.pushVLAN; op.a16 = tpid
        case .popVLAN:
            op.kind = OpKind.popVLAN
        case .decNwTTL:
            // On a frame without IPv4 or IPv6 it does nothing (checked per frame).
            op.kind = OpKind.decTTL
        case .group(let id):
            guard let slot = context.groupSlot(id) else { throw .badAction(.badOutGroup) }
            op.kind = OpKind.group; op.a32 = UInt32(bitPattern: slot)
        case .setQueue:
            throw .badAction(.badType)
        case .setField(let f):
            op.kind = OpKind.setField
            op.field = f.index
            if let match { try checkPrerequisites(f, match: match, tagged: tagged) }
            switch f {
            case .ethDst(let m), .ethSrc(let m), .arpSHA(let m), .arpTHA(let m):
                guard m >> 48 == 0 else { throw .badAction(.badSetArgument) }
                op.v = m
            case .vlanVID(let v):
                guard v <= 0x1FFF else { throw .badAction(.badSetArgument) }
                op.v = UInt64(v & 0x0FFF)
            case .vlanPCP(let p):
                guard p <= 7 else { throw .badAction(.badSetArgument) }
                op.v = UInt64(p)
            case .ipDSCP(let d):
                guard d <= 63 else { throw .badAction(.badSetArgument) }
                op.v = UInt64(d)
            case .ipECN(let e):
                guard e <= 3 else { throw .badAction(.badSetArgument) }
                op.v = UInt64(e)
            case .ipv4Src(let a), .ipv4Dst(let a), .arpSPA(let a), .arpTPA(let a): op.v = UInt64(a)
            case .ipv6Src(let a), .ipv6Dst(let a): op.v = a.high; op.v2 = a.low
            case .tcpSrc(let p), .tcpDst(let p), .udpSrc(let p), .udpDst(let p), .arpOp(let p): op.v = UInt64(p)
            case .icmpv4Type(let t), .icmpv4Code(let t): op.v = UInt64(t)
            }
        }
        return op
    }

    /// OF 1.3: a set-field whose prerequisites the match does not guarantee is
    /// BAD_ACTION/MATCH_INCONSISTENT. A VLAN field needs a tagged match or a push in the flow.
    static func checkPrerequisites(_ f: FlowField, match m: FlowMatch, tagged: Bool) throws(FlowError) {
        let ip = m.ethType == 0x0800 || m.ethType == 0x86DD
        let ok: Bool
        switch f {
        case .ethDst, .ethSrc: ok = true
        case .vlanVID, .vlanPCP: ok = tagged || (m.vlanVID.map { $0.value & 0x1000 != 0 && $0.mask & 0x1000 != 0 } ?? false)
        case .ipDSCP, .ipECN: ok = ip
        case .ipv4Src, .ipv4Dst: ok = m.ethType == 0x0800
        case .ipv6Src, .ipv6Dst: ok = m.ethType == 0x86DD
        case .tcpSrc, .tcpDst: ok = ip && m.ipProto == 6
        case .udpSrc, .udpDst: ok = ip && m.ipProto == 17
        case .icmpv4Type, .icmpv4Code: ok = m.ethType == 0x0800 && m.ipProto == 1
        case .arpOp, .arpSPA, .arpTPA, .arpSHA, .arpTHA: ok = m.ethType == 0x0806
        }
        guard ok else { throw .badAction(.matchInconsistent) }
    }
}
