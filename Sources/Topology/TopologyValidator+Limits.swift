// The resource limits of TopologyLimits: each error names the limit, the value found and the
// JSON path where the file goes over it (for a total: the element that takes it over).

extension TopologyValidator.Run {
    /// Reports `value` over `limit` at `path`.
    mutating func reportLimit(_ limit: TopologyLimit, _ value: Int, at path: String) {
        report(path, "\(value) \(limit.counts) exceeds the limit \"\(limit.name)\" of \(limit.maximum)"
            + " (docs/topology-format.md, Limits)")
    }

    /// Checks the file against every limit of `TopologyLimits`.
    mutating func checkLimits() {
        if topology.switches.count > TopologyLimits.switches.maximum {
            reportLimit(TopologyLimits.switches, topology.switches.count, at: "$.switches")
        }
        var ports = 0, entries = 0
        var portsReported = false, entriesReported = false
        for (s, sw) in topology.switches.enumerated() {
            let base = "$.switches[\(s)]"
            if sw.ports.count > TopologyLimits.portsPerSwitch.maximum {
                reportLimit(TopologyLimits.portsPerSwitch, sw.ports.count, at: base + ".ports")
            }
            ports += sw.ports.count
            if ports > TopologyLimits.totalPorts.maximum && !portsReported {
                portsReported = true
                let total = topology.switches.reduce(0) { $0 + $1.ports.count }
                reportLimit(TopologyLimits.totalPorts, total, at: base + ".ports")
            }
            // Decoding keeps one switch's capacity in range; a table built in code may not be.
            if sw.macTable.capacity > TopologyLimits.macTableCapacity.maximum {
                reportLimit(TopologyLimits.macTableCapacity, sw.macTable.capacity, at: base + ".mac_table.capacity")
            }
            entries += sw.macTable.capacity
            if entries > TopologyLimits.totalMACTableCapacity.maximum && !entriesReported {
                entriesReported = true
                let total = topology.switches.reduce(0) { $0 + $1.macTable.capacity }
                let at = positions[base + ".mac_table.capacity"] != nil ? base + ".mac_table.capacity" : base
                reportLimit(TopologyLimits.totalMACTableCapacity, total, at: at)
            }
        }
        if topology.vms.count > TopologyLimits.vms.maximum {
            reportLimit(TopologyLimits.vms, topology.vms.count, at: "$.vms")
        }
        var memory = 0
        for (v, vm) in topology.vms.enumerated() {
            memory += vm.memoryMiB
            if memory > TopologyLimits.totalVMMemoryMiB.maximum {
                let total = topology.vms.reduce(0) { $0 + $1.memoryMiB }
                let at = positions["$.vms[\(v)].memory_mib"] != nil ? "$.vms[\(v)].memory_mib" : "$.vms[\(v)]"
                reportLimit(TopologyLimits.totalVMMemoryMiB, total, at: at)
                break
            }
        }
    }
}
