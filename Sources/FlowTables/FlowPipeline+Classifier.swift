// The classifier: tuple-space search (one hash table per distinct mask, probed in descending
// order of the subtables' highest priorities, stopping once no remaining subtable can beat
// the best match) behind an exact-match cache keyed on the whole packet key and the table,
// which also caches misses and is voided by bumping `generation` on every change.

extension FlowPipeline {
    /// Looks `key` up in table `t` through the exact-match cache; the flow id or -1.
    @inlinable @inline(__always)
    func lookup(table t: Int, key: FlowKey) -> Int32 {
        let tp = tables + t
        tp.pointee.lookups &+= 1
        let h = key.hash(seed: UInt64(truncatingIfNeeded: t) &+ 0x51_7CC1_B727_220A)
        let e0 = cache + (Int(truncatingIfNeeded: h) & cacheMask & ~1)
        let e1 = e0 + 1
        let table = UInt8(truncatingIfNeeded: t)
        let f: Int32
        if e0.pointee.generation == generation && e0.pointee.table == table && e0.pointee.key.sameWords(key) {
            cacheHitCount &+= 1
            f = e0.pointee.flow
        } else if e1.pointee.generation == generation && e1.pointee.table == table && e1.pointee.key.sameWords(key) {
            cacheHitCount &+= 1
            f = e1.pointee.flow
        } else {
            cacheMissCount &+= 1
            f = classify(table: t, key: key)
            // Replace a stale way if there is one, else a way chosen by a hash bit.
            let e = e0.pointee.generation != generation ? e0 : e1.pointee.generation != generation ? e1 : h >> 63 == 0 ? e0 : e1
            e.pointee.key = key
            e.pointee.generation = generation
            e.pointee.flow = f
            e.pointee.table = table
        }
        if f >= 0 { tp.pointee.matched &+= 1 }
        return f
    }

    /// Tuple-space search of table `t` (no cache): the highest-priority match or -1.
    @inlinable
    func classify(table t: Int, key: FlowKey) -> Int32 {
        let tp = tables + t
        let count = tp.pointee.orderCount
        guard count > 0, let order = tp.pointee.order else { return -1 }
        var best: Int32 = -1
        var bestPriority = Int32.min
        var i = 0
        while i < count {
            let st = subtables + Int(order[i])
            i &+= 1
            if best >= 0 && st.pointee.maxPriority <= bestPriority { break }
            let mk = key.masked(by: st.pointee.mask)
            let h = mk.hash(seed: Self.subtableSeed)
            let buckets = st.pointee.buckets.unsafelyUnwrapped
            let tag = UInt32(truncatingIfNeeded: h >> 32)
            let mask = st.pointee.bucketMask
            var idx = Int(truncatingIfNeeded: h) & mask
            while true {
                let f = buckets[idx].flow
                if f < 0 { break }
                let fp = flows + Int(f)
                if buckets[idx].tag == tag && fp.pointee.hash == h && fp.pointee.value.sameWords(mk) {
                    if fp.pointee.priority > bestPriority {
                        best = f
                        bestPriority = fp.pointee.priority
                    }
                    break
                }
                idx = (idx &+ 1) & mask
            }
        }
        return best
    }

    /// The linear-scan reference result (highest priority wins), for tests.
    func linearLookup(table t: Int, key: FlowKey) -> Int32 {
        var best: Int32 = -1
        for i in 0..<flowHighWater where flows[i].live && Int(flows[i].table) == t {
            if key.matches(value: flows[i].value, mask: flows[i].mask),
               best < 0 || flows[i].priority > flows[Int(best)].priority { best = Int32(i) }
        }
        return best
    }

    // MARK: control path

    /// The bucket index of the head whose value is `value`, or nil.
    func findHead(subtable s: Int32, value: FlowKey, hash h: UInt64) -> Int? {
        let st = subtables[Int(s)]
        guard let buckets = st.buckets else { return nil }
        var idx = Int(truncatingIfNeeded: h) & st.bucketMask
        while buckets[idx].flow >= 0 {
            let f = flows[Int(buckets[idx].flow)]
            if f.hash == h && f.value == value { return idx }
            idx = (idx + 1) & st.bucketMask
        }
        return nil
    }

    /// The entry of table `t` with exactly this match and priority, or nil.
    func findExact(table t: Int, value: FlowKey, mask: FlowKey, priority: Int32) -> Int32? {
        guard let s = subtableByMask[t][mask] else { return nil }
        let h = value.hash(seed: Self.subtableSeed)
        guard let b = findHead(subtable: s, value: value, hash: h) else { return nil }
        var f = subtables[Int(s)].buckets![b].flow
        while f >= 0 {
            if flows[Int(f)].priority == priority { return f }
            f = flows[Int(f)].nextSame
        }
        return nil
    }

    /// A free flow id, growing the flow array (the datapath thread is the caller, between frames).
    func allocateFlowID() -> Int32 {
        if let f = freeFlows.popLast() { return f }
        if flowHighWater == flowCapacity {
            let newCapacity = flowCapacity * 2
            let bigger = allocateAligned(newCapacity, FlowSlot())
            // SAFETY: both hold at least flowCapacity trivial records.
            bigger.update(from: flows, count: flowCapacity)
            deallocateAligned(flows)
            flows = bigger
            flowCapacity = newCapacity
        }
        let f = Int32(flowHighWater)
        flowHighWater += 1
        models.append(nil)
        return f
    }

    /// The subtable of `mask` in table `t`, created when missing.
    func subtable(table t: Int, mask: FlowKey) -> Int32 {
        if let s = subtableByMask[t][mask] { return s }
        let s: Int32
        if let free = freeSubtables.popLast() {
            s = free
        } else {
            if subtableHighWater == subtableCapacity {
                let newCapacity = subtableCapacity * 2
                let bigger = UnsafeMutablePointer<SubtableSlot>.allocate(capacity: newCapacity)
                bigger.moveInitialize(from: subtables, count: subtableCapacity)
                (bigger + subtableCapacity).initialize(repeating: SubtableSlot(), count: newCapacity - subtableCapacity)
                subtables.deallocate()
                subtables = bigger
                subtableCapacity = newCapacity
            }
            s = Int32(subtableHighWater)
            subtableHighWater += 1
            subtablePriorities.append([:])
        }
        var st = SubtableSlot()
        st.mask = mask
        st.table = UInt8(t)
        st.live = true
        st.bucketMask = 7
        let buckets = UnsafeMutablePointer<SubtableBucket>.allocate(capacity: 8)
        buckets.initialize(repeating: SubtableBucket(), count: 8)
        st.buckets = buckets
        subtables[Int(s)] = st
        subtablePriorities[Int(s)] = [:]
        subtableByMask[t][mask] = s
        tableSubtables[t].append(s)
        return s
    }

    /// Rebuilds table `t`'s probe order: subtables by descending highest priority.
    func reorder(table t: Int) {
        tableSubtables[t].sort { subtables[Int($0)].maxPriority > subtables[Int($1)].maxPriority }
        let list = tableSubtables[t]
        let tp = tables + t
        tp.pointee.order?.deallocate()
        tp.pointee.order = nil
        if !list.isEmpty {
            let order = UnsafeMutablePointer<Int32>.allocate(capacity: list.count)
            for (i, s) in list.enumerated() { order[i] = s }
            tp.pointee.order = order
        }
        tp.pointee.orderCount = list.count
    }

    /// Doubles a subtable's bucket array and reinserts its heads.
    func grow(subtable s: Int32) {
        let old = subtables[Int(s)]
        let oldCount = old.bucketMask + 1
        let newCount = oldCount * 2
        let buckets = UnsafeMutablePointer<SubtableBucket>.allocate(capacity: newCount)
        buckets.initialize(repeating: SubtableBucket(), count: newCount)
        for i in 0..<oldCount where old.buckets![i].flow >= 0 {
            let entry = old.buckets![i]
            var idx = Int(truncatingIfNeeded: flows[Int(entry.flow)].hash) & (newCount - 1)
            while buckets[idx].flow >= 0 { idx = (idx + 1) & (newCount - 1) }
            buckets[idx] = entry
        }
        old.buckets?.deallocate()
        subtables[Int(s)].buckets = buckets
        subtables[Int(s)].bucketMask = newCount - 1
    }

    /// Links flow `f` (value, mask, priority, table set) into its table's classifier.
    func link(_ f: Int32) {
        let t = Int(flows[Int(f)].table)
        let s = subtable(table: t, mask: flows[Int(f)].mask)
        let h = flows[Int(f)].value.hash(seed: Self.subtableSeed)
        flows[Int(f)].hash = h
        flows[Int(f)].subtable = s
        flows[Int(f)].nextSame = -1
        let priority = flows[Int(f)].priority
        if let b = findHead(subtable: s, value: flows[Int(f)].value, hash: h) {
            let buckets = subtables[Int(s)].buckets!
            let head = buckets[b].flow
            if priority > flows[Int(head)].priority {
                flows[Int(f)].nextSame = head
                buckets[b].flow = f // same value, same hash: the tag stands
            } else {
                var prev = head
                while flows[Int(prev)].nextSame >= 0 && flows[Int(flows[Int(prev)].nextSame)].priority >= priority {
                    prev = flows[Int(prev)].nextSame
                }
                flows[Int(f)].nextSame = flows[Int(prev)].nextSame
                flows[Int(prev)].nextSame = f
            }
        } else {
            if (subtables[Int(s)].heads + 1) * 2 > subtables[Int(s)].bucketMask + 1 { grow(subtable: s) }
            let st = subtables[Int(s)]
            var idx = Int(truncatingIfNeeded: h) & st.bucketMask
            while st.buckets![idx].flow >= 0 { idx = (idx + 1) & st.bucketMask }
            st.buckets![idx].flow = f
            st.buckets![idx].tag = UInt32(truncatingIfNeeded: h >> 32)
            subtables[Int(s)].heads += 1
        }
        subtables[Int(s)].flows += 1
        subtablePriorities[Int(s)][priority, default: 0] += 1
        tables[t].flowCount += 1
        totalFlows += 1
        if priority > subtables[Int(s)].maxPriority || subtables[Int(s)].flows == 1 {
            subtables[Int(s)].maxPriority = max(priority, subtables[Int(s)].flows == 1 ? .min : subtables[Int(s)].maxPriority)
            reorder(table: t)
        }
        generation &+= 1
    }

    /// Unlinks flow `f` from the classifier (its slot stays allocated).
    func unlink(_ f: Int32) {
        let t = Int(flows[Int(f)].table)
        let s = flows[Int(f)].subtable
        let h = flows[Int(f)].hash
        let priority = flows[Int(f)].priority
        guard let b = findHead(subtable: s, value: flows[Int(f)].value, hash: h) else {
            preconditionFailure("flow \(f) not in its subtable")
        }
        let buckets = subtables[Int(s)].buckets!
        if buckets[b].flow == f {
            let next = flows[Int(f)].nextSame
            if next >= 0 {
                buckets[b].flow = next
            } else {
                // Backward-shift deletion keeps every probe sequence unbroken.
                let mask = subtables[Int(s)].bucketMask
                var i = b, j = b
                while true {
                    j = (j + 1) & mask
                    let g = buckets[j].flow
                    if g < 0 { break }
                    let home = Int(truncatingIfNeeded: flows[Int(g)].hash) & mask
                    let stays = i <= j ? (i < home && home <= j) : (i < home || home <= j)
                    if stays { continue }
                    buckets[i] = buckets[j]
                    i = j
                }
                buckets[i] = SubtableBucket()
                subtables[Int(s)].heads -= 1
            }
        } else {
            var prev = buckets[b].flow
            while flows[Int(prev)].nextSame != f { prev = flows[Int(prev)].nextSame }
            flows[Int(prev)].nextSame = flows[Int(f)].nextSame
        }
        flows[Int(f)].nextSame = -1
        subtables[Int(s)].flows -= 1
        tables[t].flowCount -= 1
        totalFlows -= 1
        let left = subtablePriorities[Int(s)][priority, default: 1] - 1
        subtablePriorities[Int(s)][priority] = left == 0 ? nil : left
        if subtables[Int(s)].flows == 0 {
            subtables[Int(s)].buckets?.deallocate()
            subtables[Int(s)] = SubtableSlot()
            subtableByMask[t][flows[Int(f)].mask] = nil
            tableSubtables[t].removeAll { $0 == s }
            freeSubtables.append(s)
            reorder(table: t)
        } else if left == 0 && priority == subtables[Int(s)].maxPriority {
            subtables[Int(s)].maxPriority = subtablePriorities[Int(s)].keys.max() ?? .min
            reorder(table: t)
        }
        generation &+= 1
    }
}
