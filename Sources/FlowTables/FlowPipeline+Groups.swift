// The group table (OF 1.3 §5.6): ALL, SELECT (weighted, by packet-key hash) and INDIRECT
// groups; group-mod add/modify/delete with the spec's errors, chaining without loops, and
// deleting a group deletes the flows that use it.

extension FlowPipeline {
    /// Applies a group-mod. A delete returns the flow entries removed with it (reason
    /// GROUP_DELETE).
    @discardableResult
    public func apply(_ mod: GroupMod, now: Int64) throws(FlowError) -> [RemovedFlow] {
        switch mod.command {
        case .add:
            guard mod.groupID <= OFGroup.max else { throw .groupModFailed(.invalidGroup) }
            guard groupIndex[mod.groupID] == nil else { throw .groupModFailed(.groupExists) }
            let compiled = try compileBuckets(mod)
            guard let g = freeGroups.popLast() else { throw .groupModFailed(.outOfGroups) }
            install(g, mod, compiled)
            groupIndex[mod.groupID] = g
            groupInstalled[Int(g)] = now
            generation &+= 1
            return []
        case .modify:
            guard let g = groupIndex[mod.groupID] else { throw .groupModFailed(.unknownGroup) }
            let compiled = try compileBuckets(mod)
            if reaches(from: mod.buckets, target: mod.groupID) { throw .groupModFailed(.loop) }
            freeBuckets(g)
            install(g, mod, compiled)
            generation &+= 1
            return []
        case .delete:
            let ids = mod.groupID == OFGroup.all ? Array(groupIndex.keys) : [mod.groupID]
            if mod.groupID != OFGroup.all {
                // OF 1.3: deleting a group that does not exist is not an error.
                guard groupIndex[mod.groupID] != nil else { return [] }
                if groupModels.contains(where: { $0.map { $0.groupID != mod.groupID && Self.references($0.buckets, mod.groupID) } ?? false }) {
                    throw .groupModFailed(.chainedGroup)
                }
            }
            var removed: [RemovedFlow] = []
            for id in ids {
                guard let g = groupIndex[id] else { continue }
                removed += delete(filter: FlowFilter(outGroup: id), strictPriority: nil, reason: .groupDelete, now: now)
                freeBuckets(g)
                groups[Int(g)] = GroupSlot()
                groupModels[Int(g)] = nil
                groupIndex[id] = nil
                freeGroups.append(g)
            }
            generation &+= 1
            return removed
        }
    }

    static func references(_ buckets: [GroupBucket], _ id: UInt32) -> Bool {
        buckets.contains { $0.actions.contains { if case .group(id) = $0 { true } else { false } } }
    }

    /// True when following group actions from `buckets` reaches `target`.
    func reaches(from buckets: [GroupBucket], target: UInt32) -> Bool {
        var stack: [UInt32] = buckets.flatMap { $0.actions.compactMap { if case .group(let id) = $0 { id } else { nil } } }
        var seen = Set<UInt32>()
        while let id = stack.popLast() {
            if id == target { return true }
            guard seen.insert(id).inserted, let g = groupIndex[id], let desc = groupModels[Int(g)] else { continue }
            stack += desc.buckets.flatMap { $0.actions.compactMap { if case .group(let id) = $0 { id } else { nil } } }
        }
        return false
    }

    func compileBuckets(_ mod: GroupMod) throws(FlowError) -> [[CompiledOp]] {
        guard mod.type != .fastFailover else { throw .groupModFailed(.badType) }
        guard mod.buckets.count <= configuration.maxBucketsPerGroup else { throw .groupModFailed(.outOfBuckets) }
        if mod.type == .indirect && mod.buckets.count != 1 { throw .groupModFailed(.invalidGroup) }
        if mod.type != .select && mod.buckets.contains(where: { $0.weight != 1 && $0.weight != 0 }) {
            throw .groupModFailed(.weightUnsupported)
        }
        if mod.type == .select && !mod.buckets.isEmpty && mod.buckets.allSatisfy({ $0.weight == 0 }) {
            throw .groupModFailed(.weightUnsupported)
        }
        var out: [[CompiledOp]] = []
        for b in mod.buckets {
            out.append(try OpCompiler.compileBucket(b.actions, context: context(table: 0)))
        }
        return out
    }

    func install(_ g: Int32, _ mod: GroupMod, _ compiled: [[CompiledOp]]) {
        var slot = GroupSlot()
        slot.type = mod.type.rawValue
        slot.live = true
        slot.bucketCount = Int32(compiled.count)
        if !compiled.isEmpty {
            let buckets = UnsafeMutablePointer<BucketSlot>.allocate(capacity: compiled.count)
            buckets.initialize(repeating: BucketSlot(), count: compiled.count)
            for (i, ops) in compiled.enumerated() {
                let (p, n) = Self.store(ops)
                buckets[i].ops = p
                buckets[i].opCount = n
                buckets[i].weight = mod.type == .select ? UInt32(mod.buckets[i].weight) : 1
                slot.totalWeight += buckets[i].weight
            }
            slot.buckets = buckets
        }
        // Counters survive a modify (the spec leaves it open; OVS keeps them).
        slot.packets = groups[Int(g)].live ? groups[Int(g)].packets : 0
        slot.bytes = groups[Int(g)].live ? groups[Int(g)].bytes : 0
        groups[Int(g)] = slot
        groupModels[Int(g)] = GroupDesc(groupID: mod.groupID, type: mod.type, buckets: mod.buckets)
    }

    func freeBuckets(_ g: Int32) {
        let slot = groups[Int(g)]
        if let b = slot.buckets {
            for i in 0..<Int(slot.bucketCount) { b[i].ops?.deallocate() }
            b.deallocate()
        }
        groups[Int(g)].buckets = nil
        groups[Int(g)].bucketCount = 0
    }

    /// Group descriptions (`OFGroup.all` for every group), by group id.
    public func groupDescriptions(_ id: UInt32 = OFGroup.all) -> [GroupDesc] {
        groupModels.compactMap { $0 }.filter { id == OFGroup.all || $0.groupID == id }.sorted { $0.groupID < $1.groupID }
    }

    /// Group statistics (`OFGroup.all` for every group), by group id.
    public func groupStatistics(_ id: UInt32 = OFGroup.all, now: Int64) -> [GroupStats] {
        groupDescriptions(id).map { desc in
            let g = Int(groupIndex[desc.groupID]!)
            let slot = groups[g]
            let flowRefs = select(FlowFilter(outGroup: desc.groupID), strictPriority: nil).count
            let groupRefs = groupModels.filter { $0.map { Self.references($0.buckets, desc.groupID) } ?? false }.count
            let buckets = (0..<Int(slot.bucketCount)).map { (packets: slot.buckets![$0].packets, bytes: slot.buckets![$0].bytes) }
            return GroupStats(groupID: desc.groupID, referenceCount: flowRefs + groupRefs, packets: slot.packets,
                              bytes: slot.bytes, buckets: buckets, durationNanoseconds: now - groupInstalled[g])
        }
    }
}
