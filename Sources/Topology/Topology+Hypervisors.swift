// Topology+Hypervisors: where the parts of a topology that spans hypervisors are: the
// hypervisors of a switch, a port, a VM (over its migrations) and a host; VNIs; the tunnels.

extension Topology {
    /// The names of the hypervisors, in file order.
    public var hypervisorNames: [String] { hypervisors.map(\.name) }

    /// The hypervisor named `name`.
    public func hypervisor(named name: String) -> HypervisorSpec? {
        hypervisors.first { $0.name == name }
    }

    /// The index in `hypervisors` of the hypervisor named `name`.
    public func hypervisorIndex(named name: String) -> Int? {
        hypervisors.firstIndex { $0.name == name }
    }

    /// The hypervisors `sw` has a segment on, in the order of `hypervisors`: those it names,
    /// or all when it names none. Names that are not hypervisors of the topology are left out.
    public func hypervisors(of sw: SwitchSpec) -> [String] {
        let names = hypervisorNames
        if sw.hypervisors.isEmpty { return names }
        return names.filter { sw.hypervisors.contains($0) }
    }

    /// The VNI of the tunnels of the switch at `index`: its own, else `index + 1`.
    public func vni(ofSwitchAt index: Int) -> Int {
        switches[index].vni ?? SwitchSpec.defaultVNI(index: index)
    }

    /// The VNI of the tunnel the link at `index` becomes between two hypervisors: its own,
    /// else `10000 + index`.
    public func vni(ofLinkAt index: Int) -> Int {
        links[index].vni ?? LinkSpec.defaultVNI(index: index)
    }

    /// Where the port `ref` is: its pin, else the only hypervisor of its switch. Nil when it
    /// follows its user (an unpinned port of a switch on several hypervisors, which every
    /// segment has) or does not exist.
    public func hypervisor(ofPort ref: PortRef) -> String? {
        guard let sw = switchSpec(named: ref.switchName), let port = sw.port(named: ref.port) else { return nil }
        if let pin = port.hypervisor { return pin }
        let names = hypervisors(of: sw)
        return names.count == 1 ? names[0] : nil
    }

    /// The hypervisor `vm` starts on: its own, else the only hypervisor of the topology.
    public func startHypervisor(of vm: VMSpec) -> String? {
        vm.hypervisor ?? (hypervisors.count == 1 ? hypervisors[0].name : nil)
    }

    /// The hypervisor the VM named `name` starts on.
    public func startHypervisor(ofVM name: String) -> String? {
        vms.first { $0.name == name }.flatMap { startHypervisor(of: $0) }
    }

    /// The hypervisor `host` runs on: its own, else the only hypervisor of the topology.
    public func hypervisor(of host: HostSpec) -> String? {
        host.hypervisor ?? (hypervisors.count == 1 ? hypervisors[0].name : nil)
    }

    /// The migrations of the VM named `name`, in file order (which is time order).
    public func migrations(ofVM name: String) -> [MigrationSpec] {
        migrations.filter { $0.vm == name }
    }

    /// The hypervisor the VM named `name` is on `seconds` into the run, when every migration
    /// scheduled up to then has completed.
    public func hypervisor(ofVM name: String, at seconds: Double) -> String? {
        var current = startHypervisor(ofVM: name)
        for migration in migrations(ofVM: name) where migration.at <= seconds { current = migration.to }
        return current
    }

    /// Every VXLAN tunnel between hypervisors, numbered: first, for each switch on two or more
    /// hypervisors (file order), one per pair i < j of their indices in `hypervisors`; then
    /// each link whose ends are on two hypervisors (file order). Links whose ends are not
    /// both placed are left out (validation reports them).
    public var tunnels: [TunnelSpec] {
        var result: [TunnelSpec] = []
        func end(_ index: Int, _ switchName: String, _ port: String, odd: Bool) -> TunnelSpec.End {
            let hypervisor = hypervisors[index]
            return TunnelSpec.End(hypervisor: hypervisor.name, switchName: switchName, port: port,
                                  udpPort: hypervisor.vxlanPort + 2 * result.count + (odd ? 1 : 0))
        }
        for (s, sw) in switches.enumerated() {
            let indices = hypervisors(of: sw).compactMap { hypervisorIndex(named: $0) }
            guard indices.count >= 2 else { continue }
            for (n, i) in indices.enumerated() {
                for j in indices[(n + 1)...] {
                    let first = end(i, sw.name, TunnelSpec.portName(towards: hypervisors[j].name), odd: false)
                    let second = end(j, sw.name, TunnelSpec.portName(towards: hypervisors[i].name), odd: true)
                    result.append(TunnelSpec(number: result.count, origin: .switchSegments(switchIndex: s),
                                             vni: vni(ofSwitchAt: s), first: first, second: second))
                }
            }
        }
        for (l, link) in links.enumerated() {
            guard let a = hypervisor(ofPort: link.a).flatMap({ hypervisorIndex(named: $0) }),
                  let b = hypervisor(ofPort: link.b).flatMap({ hypervisorIndex(named: $0) }), a != b else { continue }
            let (low, high) = a < b ? (link.a, link.b) : (link.b, link.a)
            let first = end(min(a, b), low.switchName, low.port, odd: false)
            let second = end(max(a, b), high.switchName, high.port, odd: true)
            result.append(TunnelSpec(number: result.count, origin: .link(index: l), vni: vni(ofLinkAt: l),
                                     first: first, second: second))
        }
        return result
    }
}
