// Packet-out and trace: the control-path entries into the pipeline. Packet-out runs a
// controller's action list on a frame (OFPP_TABLE submits it to table 0); trace runs a frame
// and reports which table and entry it matched at each step (like ofproto/trace).

import Frames

/// One step of a traced frame: the table looked up and the entry that matched (nil: miss).
public struct TraceStep: Sendable, Hashable {
    public var tableID: UInt8
    public var entry: FlowEntry?
}

extension FlowPipeline {
    @usableFromInline
    func recordTrace(table: Int, flow: Int32) {
        guard traceCount < 256 else { return }
        traceSteps[traceCount] = (Int32(table), flow)
        traceCount += 1
    }

    /// Runs a packet-out's actions on `handle` (the pipeline takes over one reference), as an
    /// apply-actions list; an output to `OFPort.table` submits the frame as it is then to
    /// table 0. Returns the number of decisions (read `decisions`). `inPort` is the message's
    /// in_port (a port, or `OFPort.controller`). Errors are those of a flow-mod's actions;
    /// on an error nothing is done and the reference is released.
    @discardableResult
    public func packetOut(_ handle: PacketHandle, inPort: UInt32, actions: [FlowAction], now: Int64) throws(FlowError) -> Int {
        var ops: [CompiledOp] = []
        do {
            for a in actions {
                if case .output(OFPort.table, _) = a {
                    var op = CompiledOp()
                    op.kind = OpKind.output
                    op.a32 = OFPort.table
                    ops.append(op)
                } else {
                    ops.append(try OpCompiler.compile(a, match: nil, tagged: true, context: context(table: 0)))
                }
            }
        } catch {
            pool.release(handle)
            throw error
        }
        decisionCount = 0
        wHandle = handle
        var ctx = FrameContext(key: FlowKey.extract(UnsafeRawPointer(pool.data(handle)), length: pool.length(handle), inPort: inPort),
                               inPort: inPort)
        ctx.table = OFTable.all
        for op in ops {
            if op.kind == OpKind.output && op.a32 == OFPort.table {
                // The tables see a logical copy: later actions still apply to this frame.
                let saved = wHandle
                pool.retain(wHandle)
                runTables(inPort: inPort, now: now)
                pool.release(wHandle)
                wHandle = saved
                ctx.keyDirty = true
                continue
            }
            guard perform(op, &ctx, depth: 0) else { break }
        }
        pool.release(wHandle)
        return decisionCount
    }

    /// Runs a copy of `frame` through the pipeline as if it arrived on `inPort` and returns
    /// the steps (table, matched entry) and the decisions' kinds, ports and frames. Counters
    /// change as for a real frame. Nil when the pool has no free slot or the frame is too big.
    public func trace(_ frame: [UInt8], inPort: UInt32, now: Int64) -> (steps: [TraceStep], outputs: [(FlowDecision, [UInt8])])? {
        guard let h = pool.make(copying: frame) else { return nil }
        traceCount = 0
        process(h, inPort: inPort, now: now)
        let steps = (0..<traceCount).map { i -> TraceStep in
            let (t, f) = traceSteps[i]
            return TraceStep(tableID: UInt8(t), entry: f >= 0 ? entry(f, now: now) : nil)
        }
        traceCount = -1
        var outputs: [(FlowDecision, [UInt8])] = []
        for d in decisions {
            outputs.append((d, Array(pool.bytes(d.handle))))
            pool.release(d.handle)
        }
        decisionCount = 0
        return (steps, outputs)
    }
}
