// Phase two for topologies that span hypervisors: hypervisor references and listeners, where
// each port is (pinned, its switch's only hypervisor, or following its user), links between
// hypervisors, the migration schedule, and the VNIs and UDP ports of the tunnels.

extension TopologyValidator.Run {
    mutating func checkHypervisors() {
        checkUnique(topology.hypervisorNames, kind: "hypervisor") { "$.hypervisors[\($0)].name" }
        var listeners: [String: Int] = [:]
        for (i, hypervisor) in topology.hypervisors.enumerated() {
            let listener = "\(hypervisor.address):\(hypervisor.migrationPort)"
            if let j = listeners[listener] {
                report("$.hypervisors[\(i)]", "hypervisor \"\(hypervisor.name)\" would listen for migrations on "
                    + "\(listener), as \"\(topology.hypervisors[j].name)\" ($.hypervisors[\(j)]) does; "
                    + "give it another \"address\" or \"migration_port\"")
            } else {
                listeners[listener] = i
            }
        }
        checkNamespacedHypervisors()
        checkSwitchPlacement()
        checkLinkPlacement()
        checkMachinePlacement()
        checkMigrations()
        checkTunnels()
    }

    /// Hypervisors in network namespaces: all or none (a namespaced one cannot reach one on
    /// the machine's own loopback), each at its own address, all in one /24 (the underlay is
    /// one Ethernet segment), none on a loopback or unspecified address.
    mutating func checkNamespacedHypervisors() {
        let hypervisors = topology.hypervisors
        let namespaced = hypervisors.filter(\.netns)
        guard !namespaced.isEmpty else { return }
        for (i, h) in hypervisors.enumerated() where !h.netns {
            report(located("$.hypervisors[\(i)].netns", else: "$.hypervisors[\(i)]"),
                   "hypervisor \"\(h.name)\" is not in a network namespace while \(namespaced[0].name) is: "
                       + "a namespaced hypervisor reaches the others only over the underlay; set \"netns\": true on every hypervisor or on none")
        }
        var seen: [UInt32: String] = [:]
        let subnet = namespaced[0].address.rawValue & 0xFFFF_FF00
        for (i, h) in hypervisors.enumerated() where h.netns {
            let path = located("$.hypervisors[\(i)].address", else: "$.hypervisors[\(i)]")
            let a = h.address.rawValue
            if a >> 24 == 127 || a == 0 || a & 0xFF == 0 || a & 0xFF == 255 {
                report(path, "hypervisor \"\(h.name)\" runs in its own network namespace and needs an underlay address "
                    + "of its own (as 10.99.0.1), not \(h.address)")
            } else if let other = seen[a] {
                report(path, "hypervisor \"\(h.name)\" has the underlay address \(h.address) of \"\(other)\"")
            } else if a & 0xFFFF_FF00 != subnet {
                report(path, "hypervisor \"\(h.name)\" at \(h.address) is outside \(namespaced[0].name)'s /24: the underlay is one "
                    + "Ethernet segment, every namespaced hypervisor's address in one /24")
            }
            seen[a] = h.name
        }
    }

    /// `path` when the file has a value there, else `fallback` (for defaulted keys).
    func located(_ path: String, else fallback: String) -> String {
        positions[path] != nil ? path : fallback
    }

    /// Checks that `name` is a hypervisor of the topology; reports at `path` otherwise.
    mutating func resolveHypervisor(_ name: String, at path: String) -> Bool {
        let names = topology.hypervisorNames
        if names.contains(name) { return true }
        if names.isEmpty {
            report(path, "hypervisor \"\(name)\" not found: the topology lists no \"hypervisors\"")
        } else {
            let hint = EditDistance.hint(for: name, among: names)
            report(path, "hypervisor \"\(name)\" not found"
                + (hint.isEmpty ? "; the hypervisors are \(names.joined(separator: ", "))" : hint))
        }
        return false
    }

    /// "switch "sw0", which spans several hypervisors (a, b)".
    func spanning(_ sw: SwitchSpec) -> String {
        "switch \"\(sw.name)\", which spans several hypervisors (\(topology.hypervisors(of: sw).joined(separator: ", ")))"
    }

    /// "runs only on a, b" for messages about a switch's hypervisors.
    func runsOn(_ sw: SwitchSpec) -> String {
        "switch \"\(sw.name)\" runs only on \(topology.hypervisors(of: sw).joined(separator: ", "))"
    }

    // MARK: - Switches and ports

    mutating func checkSwitchPlacement() {
        for (s, sw) in topology.switches.enumerated() {
            let base = "$.switches[\(s)]"
            for (i, name) in sw.hypervisors.enumerated() {
                _ = resolveHypervisor(name, at: "\(base).hypervisors[\(i)]")
            }
            let names = topology.hypervisors(of: sw)
            for (p, port) in sw.ports.enumerated() {
                let path = "\(base).ports[\(p)]"
                if let pin = port.hypervisor {
                    if resolveHypervisor(pin, at: path + ".hypervisor"), !names.contains(pin) {
                        report(path + ".hypervisor", "port \"\(port.name)\" is pinned to \"\(pin)\", but \(runsOn(sw))")
                    }
                } else if names.count >= 2 && port.attach != nil {
                    report(path, "port \"\(port.name)\" has an attachment on \(spanning(sw)): add \"hypervisor\" "
                        + "to say which one the attached device is on")
                }
            }
            guard names.count >= 2 else { continue }
            for (m, mirror) in sw.mirrors.enumerated() {
                guard case .port(let output) = mirror.output, let port = sw.port(named: output),
                      port.hypervisor == nil else { continue }
                report("\(base).mirrors[\(m)].output.port", "output port \"\(output)\" is on \(spanning(sw)): "
                    + "add \"hypervisor\" to the port to say which segment has it")
            }
        }
    }

    // MARK: - Links

    mutating func checkLinkPlacement() {
        for (l, link) in topology.links.enumerated() {
            let path = "$.links[\(l)]"
            for (key, ref) in [("a", link.a), ("b", link.b)] {
                guard let sw = topology.switchSpec(named: ref.switchName), let port = sw.port(named: ref.port),
                      port.hypervisor == nil, topology.hypervisors(of: sw).count >= 2 else { continue }
                report("\(path).\(key)", "port \(ref) is a link end on \(spanning(sw)): add \"hypervisor\" to the "
                    + "port to say which one the link is plugged in on")
            }
            if link.vni != nil, let a = topology.hypervisor(ofPort: link.a), a == topology.hypervisor(ofPort: link.b) {
                report("\(path).vni", "\"vni\" is only for a link between two hypervisors, and both ends of this "
                    + "link are on \"\(a)\"")
            }
        }
    }

    // MARK: - VMs and hosts

    mutating func checkMachinePlacement() {
        let several = topology.hypervisors.count >= 2
        for (v, vm) in topology.vms.enumerated() {
            let path = "$.vms[\(v)]"
            for (n, nic) in vm.nics.enumerated() {
                guard let s = switchIndex(nic.switchName), let p = topology.switches[s].ports.firstIndex(where: { $0.name == nic.port }),
                      topology.switches[s].ports[p].hypervisor != nil else { continue }
                report("$.switches[\(s)].ports[\(p)].hypervisor", "port \(nic.switchName):\(nic.port) is used by VM "
                    + "\"\(vm.name)\" (\(path).nics[\(n)]); a VM's port follows the VM, so it cannot be pinned: "
                    + "remove \"hypervisor\"")
            }
            if let name = vm.hypervisor {
                guard resolveHypervisor(name, at: path + ".hypervisor") else { continue }
            } else if several {
                report(path, "VM \"\(vm.name)\" needs \"hypervisor\": the topology has several hypervisors "
                    + "(\(topology.hypervisorNames.joined(separator: ", ")))")
                continue
            }
            guard let start = topology.startHypervisor(of: vm) else { continue }
            for (n, nic) in vm.nics.enumerated() {
                guard let sw = topology.switchSpec(named: nic.switchName), !topology.hypervisors(of: sw).contains(start) else { continue }
                report(located(path + ".hypervisor", else: path), "VM \"\(vm.name)\" starts on \"\(start)\", but its NIC "
                    + "\(path).nics[\(n)] is on a switch that is not there: \(runsOn(sw))")
            }
        }
        for (h, host) in topology.hosts.enumerated() {
            let path = "$.hosts[\(h)]"
            if let name = host.hypervisor {
                guard resolveHypervisor(name, at: path + ".hypervisor") else { continue }
            } else if several {
                report(path, "host \"\(host.name)\" needs \"hypervisor\": the topology has several hypervisors "
                    + "(\(topology.hypervisorNames.joined(separator: ", ")))")
                continue
            }
            guard let at = topology.hypervisor(of: host), let sw = topology.switchSpec(named: host.switchName) else { continue }
            let placePath = located(path + ".hypervisor", else: path)
            if !topology.hypervisors(of: sw).contains(at) {
                report(placePath, "host \"\(host.name)\" is on \"\(at)\", but \(runsOn(sw))")
            } else if let pin = sw.port(named: host.port)?.hypervisor, pin != at {
                report(placePath, "host \"\(host.name)\" is on \"\(at)\", but its port \(host.switchName):\(host.port) "
                    + "is pinned to \"\(pin)\"")
            }
        }
    }

    // MARK: - Migrations

    mutating func checkMigrations() {
        // Where each VM is after its migrations so far, when the last one was, and its path.
        var state: [String: (at: String?, seconds: Double, path: String?)] = [:]
        for (m, migration) in topology.migrations.enumerated() {
            let path = "$.migrations[\(m)]"
            let toKnown = resolveHypervisor(migration.to, at: path + ".to")
            guard let vm = topology.vms.first(where: { $0.name == migration.vm }) else {
                report(path + ".vm", "VM \"\(migration.vm)\" not found"
                    + EditDistance.hint(for: migration.vm, among: topology.vms.map(\.name)))
                continue
            }
            var current: (at: String?, seconds: Double, path: String?) =
                state[vm.name] ?? (at: topology.startHypervisor(of: vm), seconds: 0, path: nil)
            let time = DecodeContext.format(migration.at)
            if let previous = current.path, migration.at < current.seconds {
                report(path + ".at", "VM \"\(vm.name)\" migrates at \(time) s, before its previous migration at "
                    + "\(DecodeContext.format(current.seconds)) s (\(previous)); list a VM's migrations in time order")
            }
            if toKnown {
                if migration.to == current.at {
                    report(path + ".to", "VM \"\(vm.name)\" is already on \"\(migration.to)\" at \(time) s")
                } else if let sw = switchNotOn(migration.to, of: vm) {
                    report(path + ".to", "VM \"\(vm.name)\" cannot move to \"\(migration.to)\": it has a NIC on "
                        + "switch \"\(sw.name)\", which runs only on \(topology.hypervisors(of: sw).joined(separator: ", "))")
                }
            }
            current = (toKnown ? migration.to : current.at, max(current.seconds, migration.at), path)
            state[vm.name] = current
        }
    }

    /// The first switch of `vm`'s NICs that has no segment on `hypervisor`.
    func switchNotOn(_ hypervisor: String, of vm: VMSpec) -> SwitchSpec? {
        for nic in vm.nics {
            if let sw = topology.switchSpec(named: nic.switchName), !topology.hypervisors(of: sw).contains(hypervisor) {
                return sw
            }
        }
        return nil
    }

    // MARK: - Tunnels

    mutating func checkTunnels() {
        let tunnels = topology.tunnels
        // One VNI per spanning switch and per link between hypervisors.
        var users: [Int: String] = [:]
        var seenSwitches: Set<Int> = []
        for tunnel in tunnels {
            let object: String, user: String
            switch tunnel.origin {
            case .switchSegments(let s):
                guard seenSwitches.insert(s).inserted else { continue }
                object = "$.switches[\(s)]"
                user = "the tunnels of switch \"\(topology.switches[s].name)\""
            case .link(let l):
                object = "$.links[\(l)]"
                user = "the tunnel of link \(topology.links[l].a) - \(topology.links[l].b)"
            }
            let path = located(object + ".vni", else: object)
            if let other = users[tunnel.vni] {
                let defaulted = positions[object + ".vni"] == nil && positions[object] != nil
                report(path, "VNI \(tunnel.vni)\(defaulted ? " (the default here)" : "") is already used by \(other); "
                    + "the VNIs of tunnels must be unique: set \"vni\"")
            } else {
                users[tunnel.vni] = user
            }
        }
        // The UDP ports the tunnel ends bind: in range, and no two on one address.
        var reported: Set<String> = []
        var bound: [String: TunnelSpec.End] = [:]
        for tunnel in tunnels {
            for end in [tunnel.first, tunnel.second] {
                guard let h = topology.hypervisorIndex(named: end.hypervisor), !reported.contains(end.hypervisor) else { continue }
                let hypervisor = topology.hypervisors[h]
                let path = located("$.hypervisors[\(h)].vxlan_port", else: "$.hypervisors[\(h)]")
                if end.udpPort > HypervisorSpec.portRange.upperBound {
                    reported.insert(end.hypervisor)
                    report(path, "tunnel \(tunnel.number) needs UDP port \(end.udpPort) on \"\(end.hypervisor)\" "
                        + "(vxlan_port \(hypervisor.vxlanPort) + 2 × \(tunnel.number)\(end == tunnel.second ? " + 1" : "")), "
                        + "above 65535: lower \"vxlan_port\"")
                    continue
                }
                let socket = "\(hypervisor.address):\(end.udpPort)"
                if let other = bound[socket], other.hypervisor != end.hypervisor {
                    reported.insert(end.hypervisor)
                    report(path, "a tunnel end on \"\(end.hypervisor)\" would bind UDP \(socket), as one on "
                        + "\"\(other.hypervisor)\" does; give the hypervisors different addresses or set their "
                        + "\"vxlan_port\" far enough apart")
                } else {
                    bound[socket] = end
                }
            }
        }
    }
}
