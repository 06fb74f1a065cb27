// Statistics the wire side answers multipart requests with: flow, aggregate and table
// stats as plain values (group desc/stats are in FlowPipeline+Groups.swift).

extension FlowPipeline {
    /// Flow stats of the entries `filter` selects (non-strict, like delete), by table then
    /// descending priority.
    public func flowStatistics(_ filter: FlowFilter = FlowFilter(), now: Int64) throws(FlowError) -> [FlowEntry] {
        guard filter.tableID == OFTable.all || Int(filter.tableID) < tableCount else { throw .badMatch(.badValue) }
        try filter.match.validate()
        return select(filter, strictPriority: nil).map { entry($0, now: now) }
            .sorted { ($0.tableID, -Int($0.priority)) < ($1.tableID, -Int($1.priority)) }
    }

    /// Aggregate stats of the entries `filter` selects (entries without counters add nothing).
    public func aggregateStatistics(_ filter: FlowFilter = FlowFilter()) throws(FlowError) -> AggregateStats {
        guard filter.tableID == OFTable.all || Int(filter.tableID) < tableCount else { throw .badMatch(.badValue) }
        try filter.match.validate()
        var out = AggregateStats(packets: 0, bytes: 0, flowCount: 0)
        for f in select(filter, strictPriority: nil) {
            out.flowCount += 1
            out.packets &+= flows[Int(f)].packets
            out.bytes &+= flows[Int(f)].bytes
        }
        return out
    }

    /// Per-table counters: active entries, lookups, matches.
    public func tableStatistics() -> [TableStats] {
        (0..<tableCount).map {
            TableStats(tableID: UInt8($0), activeCount: tables[$0].flowCount, lookups: tables[$0].lookups,
                       matched: tables[$0].matched)
        }
    }
}
