// Topology+Partition: one hypervisor's part of a topology that spans several, an ordinary
// single-process topology: its switch segments with tunnel ports to the other segments,
// links between hypervisors as tunnel ends, and the mirrors, captures, VMs and hosts there.

extension Topology {
    /// The part of this topology that runs on `hypervisor`, as an ordinary topology (no
    /// hypervisors, no migrations, no placement keys). Call it on a validated topology;
    /// docs/topology-format.md, "Several hypervisors", describes the result.
    public func part(for hypervisor: String) throws(TopologyInstanceError) -> Topology {
        guard !hypervisors.isEmpty else { throw TopologyInstanceError("the topology lists no hypervisors") }
        guard self.hypervisor(named: hypervisor) != nil else {
            throw TopologyInstanceError("hypervisor \"\(hypervisor)\" not found; the topology has "
                + hypervisorNames.joined(separator: ", "))
        }
        let tunnels = self.tunnels
        for tunnel in tunnels {
            for end in [tunnel.first, tunnel.second] where !HypervisorSpec.portRange.contains(end.udpPort) {
                throw TopologyInstanceError("tunnel \(tunnel.number) needs UDP port \(end.udpPort) on hypervisor "
                    + "\"\(end.hypervisor)\", outside 1-65535")
            }
        }
        var part = Topology(version: version, name: name, description: description, switches: [])
        var mirrorCaptures: Set<String> = []
        for (s, sw) in switches.enumerated() where hypervisors(of: sw).contains(hypervisor) {
            var segment = segment(of: sw, for: hypervisor)
            for tunnel in tunnels where tunnel.origin == .switchSegments(switchIndex: s) {
                guard let (local, remote) = tunnel.ends(on: hypervisor) else { continue }
                let attach = try vxlan(local, remote, vni: tunnel.vni)
                segment.ports.append(PortSpec(name: local.port, mode: .trunk(allowed: .all, native: nil),
                                              learning: true, attach: attach, splitHorizon: true))
            }
            // Entries for a port pinned elsewhere point into the tunnel towards its hypervisor.
            let ports = Set(segment.ports.map(\.name))
            let entries = sw.macTable.staticEntries.compactMap { entry -> StaticMACSpec? in
                var entry = entry
                if let pin = sw.port(named: entry.port)?.hypervisor, pin != hypervisor {
                    entry.port = TunnelSpec.portName(towards: pin)
                }
                return ports.contains(entry.port) ? entry : nil
            }
            segment.macTable.staticEntries = entries
            segment.mirrors = sw.mirrors.compactMap { segmentMirror($0, ports: ports) }
            for mirror in segment.mirrors {
                if case .capture(let capture) = mirror.output { mirrorCaptures.insert(capture) }
            }
            part.switches.append(segment)
        }
        for (l, link) in links.enumerated() {
            if let tunnel = tunnels.first(where: { $0.origin == .link(index: l) }) {
                guard let (local, remote) = tunnel.ends(on: hypervisor) else { continue }
                let attach = try vxlan(local, remote, vni: tunnel.vni)
                guard let s = part.switches.firstIndex(where: { $0.name == local.switchName }),
                      let p = part.switches[s].ports.firstIndex(where: { $0.name == local.port }) else {
                    throw TopologyInstanceError("link \(link.a) - \(link.b): port \(local.switchName):\(local.port) "
                        + "is not on hypervisor \"\(hypervisor)\"")
                }
                part.switches[s].ports[p].attach = attach
                continue
            }
            guard let a = self.hypervisor(ofPort: link.a), let b = self.hypervisor(ofPort: link.b) else {
                throw TopologyInstanceError("link \(link.a) - \(link.b): an end is on no single hypervisor "
                    + "(validate the topology first)")
            }
            if a == hypervisor && b == hypervisor { part.links.append(LinkSpec(a: link.a, b: link.b)) }
        }
        let several = hypervisors.count > 1
        for var capture in captures {
            var here = false
            if let switchName = capture.switchName, let sw = part.switchSpec(named: switchName) {
                here = capture.port.map { sw.port(named: $0) != nil } ?? true
            }
            if !here {
                guard mirrorCaptures.contains(capture.name) else { continue }
                // Kept only as the output of a mirror here: it captures nothing else.
                capture.switchName = nil
                capture.port = nil
                capture.vlan = nil
            }
            if several { capture.file = Self.fileName(capture.file, onHypervisor: hypervisor) }
            part.captures.append(capture)
        }
        for var vm in vms where startHypervisor(of: vm) == hypervisor {
            vm.hypervisor = nil
            part.vms.append(vm)
        }
        for var host in hosts where self.hypervisor(of: host) == hypervisor {
            host.hypervisor = nil
            part.hosts.append(host)
        }
        return part
    }

    /// `file` with `-HYPERVISOR` inserted before the extension of its last path component:
    /// `captures/m.pcap` becomes `captures/m-a.pcap`, `out` becomes `out-a`.
    public static func fileName(_ file: String, onHypervisor hypervisor: String) -> String {
        let nameStart = file.lastIndex(of: "/").map { file.index(after: $0) } ?? file.startIndex
        guard let dot = file[nameStart...].lastIndex(of: "."), dot != nameStart else { return file + "-" + hypervisor }
        return String(file[..<dot]) + "-" + hypervisor + String(file[dot...])
    }

    /// `sw` on `hypervisor` without mirrors, static entries or tunnel ports: its ports that are
    /// not pinned elsewhere, placement keys cleared.
    private func segment(of sw: SwitchSpec, for hypervisor: String) -> SwitchSpec {
        var segment = sw
        segment.hypervisors = []
        segment.vni = nil
        segment.mirrors = []
        segment.ports = sw.ports.compactMap { port in
            guard port.hypervisor == nil || port.hypervisor == hypervisor else { return nil }
            var port = port
            port.hypervisor = nil
            return port
        }
        return segment
    }

    /// `mirror` on a segment with `ports`: sources not there removed; nil when no criterion is
    /// left or the output port is not there.
    private func segmentMirror(_ mirror: MirrorSpec, ports: Set<String>) -> MirrorSpec? {
        var mirror = mirror
        mirror.select.ingressPorts.removeAll { !ports.contains($0) }
        mirror.select.egressPorts.removeAll { !ports.contains($0) }
        let select = mirror.select
        if select.ingressPorts.isEmpty && select.egressPorts.isEmpty && select.vlans.isEmpty && !select.all { return nil }
        if case .port(let port) = mirror.output, !ports.contains(port) { return nil }
        return mirror
    }

    /// The attachment of tunnel end `local` talking to `remote`.
    private func vxlan(_ local: TunnelSpec.End, _ remote: TunnelSpec.End, vni: Int) throws(TopologyInstanceError)
        -> AttachSpec {
        guard let here = self.hypervisor(named: local.hypervisor), let there = self.hypervisor(named: remote.hypervisor) else {
            throw TopologyInstanceError("tunnel between unknown hypervisors \(local.hypervisor) and \(remote.hypervisor)")
        }
        return .vxlan(VXLANSpec(remote: there.address, local: here.address, vni: vni,
                                remotePort: remote.udpPort, localPort: local.udpPort))
    }
}
