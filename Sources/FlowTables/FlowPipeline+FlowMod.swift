// Flow-mod semantics of OF 1.3 §6.4: add (overlap check, identical entries replaced with
// counters kept or reset), modify and modify-strict (instructions replaced, cookie filter),
// delete and delete-strict (out_port/out_group filters, cookie mask, table ALL), the flow
// cap, and timeouts (`expire`).

extension FlowPipeline {
    /// Applies a flow-mod at time `now` (nanoseconds). Returns the entries a delete removed
    /// (reason DELETE); the caller sends flow-removed for those with `.sendFlowRemoved`.
    @discardableResult
    public func apply(_ mod: FlowMod, now: Int64) throws(FlowError) -> [RemovedFlow] {
        guard mod.flags.rawValue & ~FlowModFlags.known.rawValue == 0 else { throw .flowModFailed(.badFlags) }
        switch mod.command {
        case .add:
            try add(mod, now: now)
            return []
        case .modify, .modifyStrict:
            try modify(mod, strict: mod.command == .modifyStrict, now: now)
            return []
        case .delete, .deleteStrict:
            guard mod.tableID == OFTable.all || Int(mod.tableID) < tableCount else { throw .flowModFailed(.badTableID) }
            try mod.match.validate()
            return delete(filter: FlowFilter(tableID: mod.tableID, outPort: mod.outPort, outGroup: mod.outGroup,
                                             cookie: mod.cookie, cookieMask: mod.cookieMask, match: mod.match),
                          strictPriority: mod.command == .deleteStrict ? Int32(mod.priority) : nil,
                          reason: .delete, now: now)
        }
    }

    func context(table: Int) -> CompileContext {
        CompileContext(tableID: UInt8(table), tableCount: tableCount, groupSlot: { [groupIndex] in groupIndex[$0] })
    }

    func add(_ mod: FlowMod, now: Int64) throws(FlowError) {
        let t = Int(mod.tableID)
        guard t < tableCount else { throw .flowModFailed(.badTableID) }
        try mod.match.validate()
        let (value, mask) = mod.match.compiled()
        let priority = Int32(mod.priority)
        let existing = findExact(table: t, value: value, mask: mask, priority: priority)
        if mod.flags.contains(.checkOverlap) && (existing != nil || overlaps(table: t, value: value, mask: mask, priority: priority)) {
            throw .flowModFailed(.overlap)
        }
        if existing == nil {
            // The cap is checked before compiling, so a flood of adds costs little.
            guard totalFlows < configuration.maxFlows, tables[t].flowCount < configuration.maxFlowsPerTable else {
                throw .flowModFailed(.tableFull)
            }
        }
        let ops = try OpCompiler.compile(mod.instructions, match: mod.match, context: context(table: t))
        let (p, n) = Self.store(ops)
        if let f = existing {
            // Identical match and priority: the entry is replaced, its duration restarts, and
            // its counters are kept unless RESET_COUNTS.
            let fp = flows + Int(f)
            fp.pointee.ops?.deallocate()
            fp.pointee.ops = p
            fp.pointee.opCount = n
            set(f, mod, now: now)
            if mod.flags.contains(.resetCounts) { fp.pointee.packets = 0; fp.pointee.bytes = 0 }
            models[Int(f)] = FlowModel(match: mod.match, instructions: mod.instructions)
            generation &+= 1
            return
        }
        let f = allocateFlowID()
        var slot = FlowSlot()
        slot.value = value
        slot.mask = mask
        slot.priority = priority
        slot.table = UInt8(t)
        slot.ops = p
        slot.opCount = n
        slot.live = true
        slot.tableMiss = priority == 0 && mod.match.isAllWildcard
        flows[Int(f)] = slot
        set(f, mod, now: now)
        models[Int(f)] = FlowModel(match: mod.match, instructions: mod.instructions)
        link(f)
    }

    private func set(_ f: Int32, _ mod: FlowMod, now: Int64) {
        let fp = flows + Int(f)
        fp.pointee.cookie = mod.cookie
        fp.pointee.idle = mod.idleTimeout
        fp.pointee.hard = mod.hardTimeout
        fp.pointee.flags = mod.flags.rawValue
        fp.pointee.installed = now
        fp.pointee.lastUsed = now
        fp.pointee.timerToken = 0
        if mod.idleTimeout != 0 || mod.hardTimeout != 0 {
            // A fresh token voids the timer of the entry this one replaces.
            nextTimerToken = nextTimerToken == .max ? 1 : nextTimerToken + 1
            fp.pointee.timerToken = nextTimerToken
            timers.push(TimerHeap.Item(deadline: deadline(fp.pointee), flow: f, token: nextTimerToken))
            // Replaced and deleted entries leave stale items behind: compact before they pile up.
            if timers.items.count > 2 * totalFlows + 1024 { rebuildTimers() }
        }
    }

    /// Rebuilds the timer heap from the live entries (amortised over the pushes that grew it).
    func rebuildTimers() {
        var items: [TimerHeap.Item] = []
        for i in 0..<flowHighWater where flows[i].live && flows[i].timerToken != 0 {
            items.append(TimerHeap.Item(deadline: deadline(flows[i]), flow: Int32(i), token: flows[i].timerToken))
        }
        timers = TimerHeap(sorted: items.sorted { $0.deadline < $1.deadline })
    }

    /// The earliest time the entry can expire: its hard deadline, or its idle deadline
    /// counted from the last packet (which only moves later).
    func deadline(_ fl: FlowSlot) -> Int64 {
        let hard = fl.hard != 0 ? fl.installed + Int64(fl.hard) * 1_000_000_000 : .max
        let idle = fl.idle != 0 ? fl.lastUsed + Int64(fl.idle) * 1_000_000_000 : .max
        return min(hard, idle)
    }

    /// True when an entry of table `t` at `priority` could match a packet this match matches.
    func overlaps(table t: Int, value: FlowKey, mask: FlowKey, priority: Int32) -> Bool {
        for s in tableSubtables[t] {
            let st = subtables[Int(s)]
            guard subtablePriorities[Int(s)][priority] != nil else { continue }
            let common = mask.masked(by: st.mask)
            for b in 0...st.bucketMask where st.buckets![b].flow >= 0 {
                var f = st.buckets![b].flow
                while f >= 0 {
                    let fl = flows[Int(f)]
                    if fl.priority == priority && fl.value.masked(by: common) == value.masked(by: common) { return true }
                    f = fl.nextSame
                }
            }
        }
        return false
    }

    func modify(_ mod: FlowMod, strict: Bool, now: Int64) throws(FlowError) {
        let t = Int(mod.tableID)
        guard t < tableCount else { throw .flowModFailed(.badTableID) }
        try mod.match.validate()
        let ops = try OpCompiler.compile(mod.instructions, match: mod.match, context: context(table: t))
        let targets = select(FlowFilter(tableID: mod.tableID, cookie: mod.cookie, cookieMask: mod.cookieMask, match: mod.match),
                             strictPriority: strict ? Int32(mod.priority) : nil)
        // OF 1.3: a modify that selects nothing changes nothing (and is not an error).
        for f in targets {
            let fp = flows + Int(f)
            let (p, n) = Self.store(ops)
            fp.pointee.ops?.deallocate()
            fp.pointee.ops = p
            fp.pointee.opCount = n
            if mod.flags.contains(.resetCounts) { fp.pointee.packets = 0; fp.pointee.bytes = 0 }
            models[Int(f)]?.instructions = mod.instructions
        }
        if !targets.isEmpty { generation &+= 1 }
    }

    /// The entries a filter selects: non-strict (at least as specific as the filter's match)
    /// or strict (the same match at `strictPriority`), then cookie, out_port and out_group.
    func select(_ filter: FlowFilter, strictPriority: Int32?) -> [Int32] {
        let (value, mask) = filter.match.compiled()
        var groupSlot: Int32 = -1
        if filter.outGroup != OFGroup.any {
            guard let g = groupIndex[filter.outGroup] else { return [] }
            groupSlot = g
        }
        var out: [Int32] = []
        if let p = strictPriority {
            // Strict: one hash lookup per table instead of a scan.
            let range = filter.tableID == OFTable.all ? 0..<tableCount : Int(filter.tableID)..<Int(filter.tableID) + 1
            for t in range {
                guard let f = findExact(table: t, value: value, mask: mask, priority: p) else { continue }
                let fl = flows[Int(f)]
                guard fl.cookie & filter.cookieMask == filter.cookie & filter.cookieMask else { continue }
                if filter.outPort != OFPort.any && !hasOp(fl, kind: OpKind.output, a32: filter.outPort) { continue }
                if groupSlot >= 0 && !hasOp(fl, kind: OpKind.group, a32: UInt32(bitPattern: groupSlot)) { continue }
                out.append(f)
            }
            return out
        }
        for i in 0..<flowHighWater {
            let fl = flows[i]
            guard fl.live, filter.tableID == OFTable.all || fl.table == filter.tableID else { continue }
            if let p = strictPriority {
                guard fl.priority == p, fl.mask == mask, fl.value == value else { continue }
            } else {
                guard fl.mask.masked(by: mask) == mask, fl.value.masked(by: mask) == value else { continue }
            }
            guard fl.cookie & filter.cookieMask == filter.cookie & filter.cookieMask else { continue }
            if filter.outPort != OFPort.any && !hasOp(fl, kind: OpKind.output, a32: filter.outPort) { continue }
            if groupSlot >= 0 && !hasOp(fl, kind: OpKind.group, a32: UInt32(bitPattern: groupSlot)) { continue }
            out.append(Int32(i))
        }
        return out
    }

    func hasOp(_ fl: FlowSlot, kind: UInt8, a32: UInt32) -> Bool {
        for i in 0..<Int(fl.opCount) {
            let op = fl.ops![i]
            if op.kind & ~OpKind.writeBit == kind && op.a32 == a32 { return true }
        }
        return false
    }

    /// Deletes what `filter` selects and returns the removed entries.
    func delete(filter: FlowFilter, strictPriority: Int32?, reason: FlowRemovedReason, now: Int64) -> [RemovedFlow] {
        select(filter, strictPriority: strictPriority).map { remove($0, reason: reason, now: now) }
    }

    /// Removes one entry and reports it.
    func remove(_ f: Int32, reason: FlowRemovedReason, now: Int64) -> RemovedFlow {
        let entry = self.entry(f, now: now)
        unlink(f)
        flows[Int(f)].ops?.deallocate()
        flows[Int(f)] = FlowSlot()
        models[Int(f)] = nil
        freeFlows.append(f)
        return RemovedFlow(entry: entry, reason: reason)
    }

    /// Removes entries whose hard timeout (since installation) or idle timeout (since the
    /// last matched packet) has passed at `now`, hard first. The deadlines wait in a heap: a
    /// call costs O(log n) per entry due or found still in use (then rearmed), and nothing
    /// more however many entries there are.
    public func expire(now: Int64) -> [RemovedFlow] {
        var removed: [RemovedFlow] = []
        while let top = timers.top, top.deadline <= now {
            timers.pop()
            let f = top.flow
            // Items of replaced or removed entries are stale: the entry's token moved on.
            guard Int(f) < flowHighWater, flows[Int(f)].live, flows[Int(f)].timerToken == top.token else { continue }
            let fl = flows[Int(f)]
            if fl.hard != 0 && now - fl.installed >= Int64(fl.hard) * 1_000_000_000 {
                removed.append(remove(f, reason: .hardTimeout, now: now))
            } else if fl.idle != 0 && now - fl.lastUsed >= Int64(fl.idle) * 1_000_000_000 {
                removed.append(remove(f, reason: .idleTimeout, now: now))
            } else {
                timers.push(TimerHeap.Item(deadline: deadline(fl), flow: f, token: top.token))
            }
        }
        return removed
    }

    /// The model view of entry `f`.
    func entry(_ f: Int32, now: Int64) -> FlowEntry {
        let fl = flows[Int(f)]
        let model = models[Int(f)]!
        let flags = FlowModFlags(rawValue: fl.flags)
        return FlowEntry(tableID: fl.table, priority: UInt16(fl.priority), cookie: fl.cookie, idleTimeout: fl.idle,
                         hardTimeout: fl.hard, flags: flags, match: model.match, instructions: model.instructions,
                         packets: flags.contains(.noPacketCounts) ? .max : fl.packets,
                         bytes: flags.contains(.noByteCounts) ? .max : fl.bytes,
                         installTime: fl.installed, durationNanoseconds: now - fl.installed)
    }
}
