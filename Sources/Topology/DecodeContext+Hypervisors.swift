// Decoding of hypervisors, migrations, host ping jobs and the placement keys of switches,
// ports, links, VMs and hosts (phase one: structure, types, ranges, defaults).
import Frames

extension DecodeContext {
    static let hypervisorKeys = ["name", "address", "migration_port", "vxlan_port", "netns", "underlay", "disk_dir"]

    /// Reads the top-level `hypervisors` and remembers their names for the placement keys.
    func decodeHypervisors(_ at: Located) -> [HypervisorSpec] {
        guard let elements = array(at, minCount: 1, what: "hypervisor") else {
            hypervisorNames = []
            return []
        }
        let hypervisors = elements.enumerated().map { index, element in decodeHypervisor(element, index: index) }
        hypervisorNames = hypervisors.map(\.name)
        return hypervisors
    }

    func decodeHypervisor(_ at: Located, index: Int) -> HypervisorSpec {
        let defaultPort = HypervisorSpec.defaultMigrationPort(index: index)
        guard let hypervisor = object(at, what: "a hypervisor object") else {
            return HypervisorSpec(name: "", migrationPort: defaultPort)
        }
        hypervisor.checkKeys(Self.hypervisorKeys)
        let name = hypervisor.required("name").flatMap { self.name($0) } ?? ""
        let address = hypervisor.optional("address").flatMap { ipv4($0) } ?? HypervisorSpec.defaultAddress
        let migrationPort = hypervisor.optional("migration_port")
            .flatMap { integer($0, in: HypervisorSpec.portRange, label: "migration_port") } ?? defaultPort
        let vxlanPort = hypervisor.optional("vxlan_port")
            .flatMap { integer($0, in: HypervisorSpec.portRange, label: "vxlan_port") } ?? HypervisorSpec.defaultVXLANPort
        let netns = hypervisor.optional("netns").flatMap { bool($0) } ?? false
        var underlay: UnderlaySpec?
        if let at = hypervisor.optional("underlay"), let link = object(at, what: "an underlay object") {
            link.checkKeys(["rate_mbit"])
            underlay = UnderlaySpec(rateMbit: link.optional("rate_mbit")
                .flatMap { integer($0, in: UnderlaySpec.rateRange, label: "rate_mbit") })
            if !netns {
                report(at, "\"underlay\" is the link of a hypervisor in its own network namespace; set \"netns\": true")
            }
        }
        let diskDir = hypervisor.optional("disk_dir").flatMap { path($0, what: "disk_dir") }
        return HypervisorSpec(name: name, address: address, migrationPort: migrationPort, vxlanPort: vxlanPort,
                              netns: netns, underlay: underlay, diskDir: diskDir)
    }

    static let migrationKeys = ["vm", "to", "at", "downtime_ms", "max_rounds", "with_disks", "auto_converge", "postcopy"]

    func decodeMigration(_ at: Located) -> MigrationSpec {
        guard let migration = object(at, what: "a migration object") else { return MigrationSpec(vm: "", to: "", at: 0) }
        migration.checkKeys(Self.migrationKeys)
        let vm = migration.required("vm").flatMap { name($0) } ?? ""
        let to = migration.required("to").flatMap { name($0) } ?? ""
        let seconds = migration.required("at").flatMap { number($0, in: MigrationSpec.atRange, label: "at") } ?? 0
        let downtime = migration.optional("downtime_ms")
            .flatMap { number($0, in: MigrationSpec.downtimeRange, label: "downtime_ms") }
        let rounds = migration.optional("max_rounds")
            .flatMap { integer($0, in: MigrationSpec.maxRoundsRange, label: "max_rounds") }
        let withDisks = migration.optional("with_disks").flatMap { bool($0) } ?? false
        let autoConverge = migration.optional("auto_converge").flatMap { bool($0) } ?? false
        let postcopy = migration.optional("postcopy").flatMap { bool($0) } ?? false
        return MigrationSpec(vm: vm, to: to, at: seconds, downtimeMs: downtime, maxRounds: rounds,
                             withDisks: withDisks, autoConverge: autoConverge, postcopy: postcopy)
    }

    func decodePing(_ at: Located) -> PingSpec? {
        guard let ping = object(at, what: "a ping object") else { return nil }
        ping.checkKeys(["to", "interval_ms", "count"])
        let to = ping.required("to").flatMap { ipv4($0) }
        let interval = ping.optional("interval_ms")
            .flatMap { integer($0, in: PingSpec.intervalRange, label: "interval_ms") } ?? PingSpec.defaultIntervalMs
        let count = ping.optional("count").flatMap { integer($0, in: PingSpec.countRange, label: "count") }
        guard let to else { return nil }
        return PingSpec(to: to, intervalMs: interval, count: count)
    }

    // MARK: - Placement keys

    /// The member `key` of `reader`, reported when the file has no top-level `hypervisors`.
    func placementKey(_ reader: ObjectReader, _ key: String) -> Located? {
        guard let located = reader.optional(key) else { return nil }
        if hypervisorNames == nil {
            report(located, "\"\(key)\" needs the top-level \"hypervisors\" list, which this topology does not have")
            return nil
        }
        return located
    }

    /// A switch's `hypervisors` (default: all of the topology's) and `vni` (default: its index + 1).
    func decodeSwitchPlacement(_ sw: ObjectReader, index: Int) -> (hypervisors: [String], vni: Int?) {
        guard let all = hypervisorNames else {
            _ = placementKey(sw, "hypervisors")
            _ = placementKey(sw, "vni")
            return ([], nil)
        }
        var names = all
        if let listAt = sw.optional("hypervisors"), let elements = array(listAt, minCount: 1, what: "hypervisor") {
            names = []
            var first: [String: String] = [:]
            for element in elements {
                guard let name = self.name(element) else { continue }
                if let earlier = first[name] {
                    report(element, "duplicate hypervisor \"\(name)\" (first listed at \(earlier))")
                } else {
                    first[name] = element.path
                    names.append(name)
                }
            }
        }
        let vni = sw.optional("vni").flatMap { integer($0, in: TunnelSpec.vniRange, label: "vni") }
            ?? SwitchSpec.defaultVNI(index: index)
        return (names, vni)
    }

    /// The `hypervisor` of a VM or host: the one given, else the only hypervisor of the
    /// topology; required when there are several.
    func decodeMachinePlacement(_ machine: ObjectReader, what: String) -> String? {
        if let at = placementKey(machine, "hypervisor") { return name(at) }
        guard let names = hypervisorNames, !names.isEmpty else { return nil }
        if names.count == 1 { return names[0] }
        report(machine.path, machine.position, "missing required key \"hypervisor\": this topology has "
            + "\(names.count) hypervisors (\(names.joined(separator: ", "))); say which one the \(what) "
            + (what == "VM" ? "starts on" : "runs on"))
        return nil
    }
}
