// TopologyValidator: phase two of decoding: unique names, references between switches,
// ports, mirrors and captures, exclusive use of ports, VLAN membership and MAC uniqueness
// (placement on hypervisors, migrations and tunnels: TopologyValidator+Hypervisors.swift;
// resource limits: TopologyValidator+Limits.swift; shared disk images: TopologyValidator+Disks.swift).
import Frames

/// Checks the cross-references of a structurally valid topology.
public enum TopologyValidator {
    /// Every problem of `topology`; `positions` maps JSON paths to source positions (may be empty).
    public static func validate(_ topology: Topology, file: String,
                                positions: [String: SourcePosition]) -> [TopologyError] {
        var run = Run(topology: topology, file: file, positions: positions)
        // A file over a limit is refused before the checks whose cost grows with its size.
        run.checkLimits()
        if !run.errors.isEmpty { return run.errors }
        run.checkSwitches()
        run.checkLinksAndPortUse()
        run.checkCaptures()
        run.checkMachines()
        run.checkDisks()
        run.checkHypervisors()
        return run.errors
    }

    /// One validation pass; the checks of hypervisor placement are in
    /// TopologyValidator+Hypervisors.swift.
    struct Run {
        let topology: Topology
        let file: String
        let positions: [String: SourcePosition]
        var errors: [TopologyError] = []
        /// Ports in use by a link, attachment, NIC or host: who uses each.
        var portUsers: [PortRef: String] = [:]

        init(topology: Topology, file: String, positions: [String: SourcePosition]) {
            self.topology = topology
            self.file = file
            self.positions = positions
        }

        mutating func report(_ path: String, _ message: String) {
            let position = positions[path]
            errors.append(TopologyError(file: file, path: path, line: position?.line, column: position?.column,
                                        message: message))
        }

        /// Reports duplicates among `names` (at `path(i)`); returns nothing.
        mutating func checkUnique(_ names: [String], kind: String, path: (Int) -> String) {
            var first: [String: Int] = [:]
            for (i, name) in names.enumerated() {
                if let j = first[name] {
                    report(path(i), "duplicate \(kind) name \"\(name)\" (first used at \(path(j)))")
                } else {
                    first[name] = i
                }
            }
        }

        func switchIndex(_ name: String) -> Int? {
            topology.switches.firstIndex { $0.name == name }
        }

        /// Checks that `ref` names an existing switch and port; reports at `path` otherwise.
        mutating func resolve(_ ref: PortRef, at path: String) -> PortSpec? {
            guard let s = switchIndex(ref.switchName) else {
                report(path, "switch \"\(ref.switchName)\" not found"
                    + EditDistance.hint(for: ref.switchName, among: topology.switches.map(\.name)))
                return nil
            }
            return resolvePort(ref.port, inSwitch: s, at: path)
        }

        mutating func resolvePort(_ port: String, inSwitch s: Int, at path: String) -> PortSpec? {
            let sw = topology.switches[s]
            guard let spec = sw.port(named: port) else {
                report(path, "port \"\(port)\" not found on switch \"\(sw.name)\""
                    + EditDistance.hint(for: port, among: sw.ports.map(\.name)))
                return nil
            }
            return spec
        }

        /// Claims `ref` for the user at `path`; reports when another user has it.
        mutating func claim(_ ref: PortRef, by path: String) {
            if let other = portUsers[ref] {
                report(path, "port \(ref) is already used by \(other); a port connects to one link, attachment, NIC or host")
            } else {
                portUsers[ref] = path
            }
        }

        // MARK: - Switches

        mutating func checkSwitches() {
            checkUnique(topology.switches.map(\.name), kind: "switch") { "$.switches[\($0)].name" }
            for (s, sw) in topology.switches.enumerated() {
                let base = "$.switches[\(s)]"
                checkUnique(sw.ports.map(\.name), kind: "port") { "\(base).ports[\($0)].name" }
                checkUnique(sw.mirrors.map(\.name), kind: "mirror") { "\(base).mirrors[\($0)].name" }
                var seenStatic: [String: Int] = [:]
                for (e, entry) in sw.macTable.staticEntries.enumerated() {
                    let path = "\(base).mac_table.static[\(e)]"
                    if let port = resolvePort(entry.port, inSwitch: s, at: path + ".port"), !port.carries(entry.vlan) {
                        report(path + ".vlan", "port \"\(port.name)\" does not carry VLAN \(entry.vlan)")
                    }
                    let key = "\(entry.vlan)/\(entry.mac)"
                    if let first = seenStatic[key] {
                        report(path + ".mac", "duplicate static entry for \(entry.mac) in VLAN \(entry.vlan) "
                            + "(first at \(base).mac_table.static[\(first)])")
                    } else {
                        seenStatic[key] = e
                    }
                }
                for (m, mirror) in sw.mirrors.enumerated() {
                    checkMirror(mirror, inSwitch: s, path: "\(base).mirrors[\(m)]")
                }
            }
        }

        mutating func checkMirror(_ mirror: MirrorSpec, inSwitch s: Int, path: String) {
            for (i, port) in mirror.select.ingressPorts.enumerated() {
                _ = resolvePort(port, inSwitch: s, at: "\(path).select.ingress_ports[\(i)]")
            }
            for (i, port) in mirror.select.egressPorts.enumerated() {
                _ = resolvePort(port, inSwitch: s, at: "\(path).select.egress_ports[\(i)]")
            }
            switch mirror.output {
            case .port(let port):
                let outputPath = "\(path).output.port"
                if resolvePort(port, inSwitch: s, at: outputPath) != nil,
                   mirror.select.ingressPorts.contains(port) || mirror.select.egressPorts.contains(port) {
                    report(outputPath, "output port \"\(port)\" is also a source of this mirror")
                }
            case .capture(let capture):
                if !topology.captures.contains(where: { $0.name == capture }) {
                    report("\(path).output.capture", "capture \"\(capture)\" not found"
                        + EditDistance.hint(for: capture, among: topology.captures.map(\.name)))
                }
            }
        }

        // MARK: - Links and exclusive port use

        /// Union-find over switches joined by links.
        var linkParent: [Int: Int] = [:]

        func root(_ s: Int, _ parent: inout [Int: Int]) -> Int {
            var r = s
            while let p = parent[r], p != r { r = p }
            return r
        }

        mutating func checkLinksAndPortUse() {
            for (l, link) in topology.links.enumerated() {
                let aPath = "$.links[\(l)].a", bPath = "$.links[\(l)].b"
                let a = resolve(link.a, at: aPath)
                let b = resolve(link.b, at: bPath)
                if link.a == link.b {
                    report(bPath, "a link cannot join port \(link.a) to itself")
                    continue
                }
                if a != nil { claim(link.a, by: aPath) }
                if b != nil { claim(link.b, by: bPath) }
                // Links must form a forest: with no spanning tree, a loop would circulate
                // broadcasts forever.
                if a != nil, b != nil, let sa = switchIndex(link.a.switchName), let sb = switchIndex(link.b.switchName) {
                    let ra = root(sa, &linkParent), rb = root(sb, &linkParent)
                    if ra == rb {
                        report("$.links[\(l)]", "link \(link.a) - \(link.b) closes a loop between switches "
                            + "(Switchboard runs no spanning tree, so frames would circulate forever)")
                    } else {
                        linkParent[ra] = rb
                    }
                }
            }
            for (s, sw) in topology.switches.enumerated() {
                for (p, port) in sw.ports.enumerated() where port.attach != nil {
                    claim(PortRef(switchName: sw.name, port: port.name), by: "$.switches[\(s)].ports[\(p)].attach")
                }
            }
            for (v, vm) in topology.vms.enumerated() {
                for (n, nic) in vm.nics.enumerated() {
                    let path = "$.vms[\(v)].nics[\(n)]"
                    let ref = PortRef(switchName: nic.switchName, port: nic.port)
                    if resolveSplit(ref, path: path) { claim(ref, by: path) }
                }
            }
            for (h, host) in topology.hosts.enumerated() {
                let path = "$.hosts[\(h)]"
                let ref = PortRef(switchName: host.switchName, port: host.port)
                if resolveSplit(ref, path: path) { claim(ref, by: path) }
            }
        }

        /// Resolves a reference written as separate "switch" and "port" keys under `path`.
        mutating func resolveSplit(_ ref: PortRef, path: String) -> Bool {
            guard let s = switchIndex(ref.switchName) else {
                report(path + ".switch", "switch \"\(ref.switchName)\" not found"
                    + EditDistance.hint(for: ref.switchName, among: topology.switches.map(\.name)))
                return false
            }
            return resolvePort(ref.port, inSwitch: s, at: path + ".port") != nil
        }

        // MARK: - Captures

        mutating func checkCaptures() {
            checkUnique(topology.captures.map(\.name), kind: "capture") { "$.captures[\($0)].name" }
            let mirrorOutputs = Set(topology.switches.flatMap(\.mirrors).compactMap { mirror -> String? in
                if case .capture(let name) = mirror.output { return name }
                return nil
            })
            for (c, capture) in topology.captures.enumerated() {
                let path = "$.captures[\(c)]"
                guard let switchName = capture.switchName else {
                    if !mirrorOutputs.contains(capture.name) {
                        report(path, "capture \"\(capture.name)\" has no \"switch\" and is not the output of any mirror")
                    }
                    continue
                }
                guard let s = switchIndex(switchName) else {
                    report(path + ".switch", "switch \"\(switchName)\" not found"
                        + EditDistance.hint(for: switchName, among: topology.switches.map(\.name)))
                    continue
                }
                if let port = capture.port {
                    _ = resolvePort(port, inSwitch: s, at: path + ".port")
                }
            }
        }

        // MARK: - VMs and hosts

        mutating func checkMachines() {
            checkUnique(topology.vms.map(\.name), kind: "VM") { "$.vms[\($0)].name" }
            checkUnique(topology.hosts.map(\.name), kind: "host") { "$.hosts[\($0)].name" }
            var macUsers: [MACAddress: String] = [:]
            var claims: [(MACAddress, String)] = []
            for (v, vm) in topology.vms.enumerated() {
                for (n, nic) in vm.nics.enumerated() { claims.append((nic.mac, "$.vms[\(v)].nics[\(n)].mac")) }
            }
            for (h, host) in topology.hosts.enumerated() {
                if let mac = host.mac { claims.append((mac, "$.hosts[\(h)].mac")) }
            }
            for (mac, path) in claims {
                if let other = macUsers[mac] {
                    report(path, "MAC \(mac) is already used by \(other)")
                } else {
                    macUsers[mac] = path
                }
            }
        }
    }
}
