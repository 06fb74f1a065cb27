// Decoding of switches, ports (VLAN modes, attachments, placement), MAC tables and mirrors.
import Frames
import Switching

extension DecodeContext {
    func decodeSwitch(_ at: Located, index: Int) -> SwitchSpec {
        guard let sw = object(at, what: "a switch object") else { return SwitchSpec(name: "", ports: []) }
        sw.checkKeys(["name", "ports", "mac_table", "mirrors", "hypervisors", "vni"] + Self.openFlowKeys)
        let name = sw.required("name").flatMap { self.name($0) } ?? ""
        var ports: [PortSpec] = []
        if let portsAt = sw.required("ports"), let elements = array(portsAt, minCount: 1, what: "port") {
            ports = elements.map { decodePort($0) }
        }
        let macTable = sw.optional("mac_table").flatMap { decodeMACTable($0) } ?? MACTableSpec()
        let mirrors = sw.optional("mirrors").flatMap { array($0) }?.map { decodeMirror($0) } ?? []
        let placement = decodeSwitchPlacement(sw, index: index)
        return SwitchSpec(name: name, ports: ports, macTable: macTable, mirrors: mirrors,
                          hypervisors: placement.hypervisors, vni: placement.vni, openflow: decodeOpenFlow(sw))
    }

    static let portKeys = ["name", "mode", "vlan", "allowed_vlans", "native_vlan", "learning", "learn_limit", "attach",
                           "hypervisor"]

    func decodePort(_ at: Located) -> PortSpec {
        guard let port = object(at, what: "a port object") else { return PortSpec(name: "") }
        port.checkKeys(Self.portKeys)
        let name = port.required("name").flatMap { self.name($0) } ?? ""
        let modeName = port.optional("mode").flatMap { choice($0, ["access", "trunk"]) } ?? "access"
        var mode = VLANMode.access(.defaultVLAN)
        if modeName == "access" {
            for key in ["allowed_vlans", "native_vlan"] {
                if let misplaced = port.optional(key) {
                    report(misplaced, "\"\(key)\" is only valid on a trunk port; this port is in access mode"
                        + " (set \"mode\": \"trunk\" or use \"vlan\")")
                }
            }
            let vlan = port.optional("vlan").flatMap { self.vlan($0) } ?? .defaultVLAN
            mode = .access(vlan)
        } else if modeName == "trunk" {
            if let misplaced = port.optional("vlan") {
                report(misplaced, "\"vlan\" is only valid on an access port; a trunk uses \"allowed_vlans\" and \"native_vlan\"")
            }
            let allowed = port.optional("allowed_vlans").flatMap { decodeAllowedVLANs($0) } ?? .all
            var native: VLANID? = .defaultVLAN
            if let nativeAt = port.optional("native_vlan") {
                native = nativeAt.node.value == .null ? nil : vlan(nativeAt)
            }
            mode = .trunk(allowed: allowed, native: native)
        }
        let learning = port.optional("learning").flatMap { bool($0) } ?? true
        let learnLimit = port.optional("learn_limit").flatMap { integer($0, in: 1...1_048_576, label: "learn_limit") }
        let attach = port.optional("attach").flatMap { decodeAttach($0) }
        let hypervisor = placementKey(port, "hypervisor").flatMap { self.name($0) }
        return PortSpec(name: name, mode: mode, learning: learning, learnLimit: learnLimit, attach: attach,
                        hypervisor: hypervisor)
    }

    /// `[10, 20, "30-40"]`: VLAN ids and inclusive "low-high" ranges.
    func decodeAllowedVLANs(_ at: Located) -> VLANSet? {
        guard let elements = array(at, minCount: 1, what: "VLAN") else { return nil }
        var set = VLANSet()
        for element in elements {
            switch element.node.value {
            case .integer, .double:
                if let vlan = vlan(element) { set.insert(vlan) }
            case .string(let text):
                if let range = vlanRange(text, at: element) { set.insert(range) }
            default:
                report(element, "expected a VLAN id or a \"low-high\" range string, found \(element.node.value.kindDescription)")
            }
        }
        return set
    }

    private func vlanRange(_ text: String, at: Located) -> ClosedRange<VLANID>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let isNumber = { (part: Substring) in
            (1...4).contains(part.count) && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        guard parts.count == 2, isNumber(parts[0]), isNumber(parts[1]),
              let low = Int(parts[0]), let high = Int(parts[1]) else {
            report(at, "invalid VLAN range \"\(text.escapedForTerminal)\": expected \"low-high\" such as \"30-40\"")
            return nil
        }
        for value in [low, high] where VLANID(value) == nil {
            report(at, "VLAN \(value) is outside 1-4094")
            return nil
        }
        guard let lowID = VLANID(low), let highID = VLANID(high), low <= high else {
            report(at, "invalid VLAN range \"\(text.escapedForTerminal)\": the low end is above the high end")
            return nil
        }
        return lowID...highID
    }

    func decodeAttach(_ at: Located) -> AttachSpec? {
        guard let attach = object(at, what: "an attach object") else { return nil }
        guard let typeAt = attach.required("type"), let type = choice(typeAt, ["tap", "pcap", "vxlan"]) else {
            attach.checkKeys(["type", "device", "mtu", "interface", "remote", "local", "vni", "remote_port", "local_port"])
            return nil
        }
        switch type {
        case "tap":
            attach.checkKeys(["type", "device", "mtu"], context: " for attach type \"tap\"")
            let device = attach.required("device").flatMap { interfaceName($0) }
            let mtu = attach.optional("mtu").flatMap { integer($0, in: 68...65_535, label: "mtu") }
            guard let device else { return nil }
            return .tap(device: device, mtu: mtu)
        case "pcap":
            attach.checkKeys(["type", "interface"], context: " for attach type \"pcap\"")
            guard let interface = attach.required("interface").flatMap({ interfaceName($0) }) else { return nil }
            return .pcap(interface: interface)
        default:
            attach.checkKeys(["type", "remote", "local", "vni", "remote_port", "local_port"],
                             context: " for attach type \"vxlan\"")
            let remote = attach.required("remote").flatMap { ipv4($0) }
            let local = attach.optional("local").flatMap { ipv4($0) }
            let vni = attach.required("vni").flatMap { integer($0, in: VXLANSpec.vniRange, label: "vni") }
            let remotePort = attach.optional("remote_port")
                .flatMap { integer($0, in: 1...65_535, label: "remote_port") } ?? VXLANSpec.defaultPort
            let localPort = attach.optional("local_port")
                .flatMap { integer($0, in: 1...65_535, label: "local_port") } ?? VXLANSpec.defaultPort
            guard let remote, let vni else { return nil }
            return .vxlan(VXLANSpec(remote: remote, local: local, vni: vni, remotePort: remotePort, localPort: localPort))
        }
    }

    func ipv4(_ at: Located) -> IPv4Address? {
        guard let text = string(at) else { return nil }
        guard let address = IPv4Address(text) else {
            report(at, "invalid IPv4 address \"\(text.escapedForTerminal)\": expected a dotted quad such as 192.0.2.1")
            return nil
        }
        return address
    }

    func decodeMACTable(_ at: Located) -> MACTableSpec? {
        guard let table = object(at, what: "a mac_table object") else { return nil }
        table.checkKeys(["capacity", "aging_seconds", "static"])
        let capacity = table.optional("capacity")
            .flatMap { integer($0, in: MACTableSpec.capacityRange, label: "capacity") } ?? MACTableSpec.defaultCapacity
        let aging = table.optional("aging_seconds")
            .flatMap { integer($0, in: MACTableSpec.agingRange, label: "aging_seconds") } ?? MACTableSpec.defaultAgingSeconds
        var entries: [StaticMACSpec] = []
        for element in table.optional("static").flatMap({ array($0) }) ?? [] {
            guard let entry = object(element, what: "a static entry object") else { continue }
            entry.checkKeys(["mac", "vlan", "port"])
            let mac = entry.required("mac").flatMap { self.mac($0, unicast: true, role: "static entry") }
            let vlan = entry.required("vlan").flatMap { self.vlan($0) }
            let port = entry.required("port").flatMap { name($0) }
            if let mac, let vlan, let port { entries.append(StaticMACSpec(mac: mac, vlan: vlan, port: port)) }
        }
        return MACTableSpec(capacity: capacity, agingSeconds: aging, staticEntries: entries)
    }

    func decodeMirror(_ at: Located) -> MirrorSpec {
        let invalid = MirrorSpec(name: "", select: MirrorSelectSpec(), output: .port(""))
        guard let mirror = object(at, what: "a mirror object") else { return invalid }
        mirror.checkKeys(["name", "select", "output"])
        let name = mirror.required("name").flatMap { self.name($0) } ?? ""
        var select = MirrorSelectSpec()
        if let selectAt = mirror.required("select"), let reader = object(selectAt, what: "a select object") {
            reader.checkKeys(["ingress_ports", "egress_ports", "vlans", "all"])
            select.ingressPorts = reader.optional("ingress_ports").flatMap { names($0) } ?? []
            select.egressPorts = reader.optional("egress_ports").flatMap { names($0) } ?? []
            select.vlans = reader.optional("vlans").flatMap { vlans($0) } ?? []
            select.all = reader.optional("all").flatMap { bool($0) } ?? false
            let nonEmpty = { (key: String) -> Bool in
                guard let list = reader.optional(key), case .array(let items) = list.node.value else { return false }
                return !items.isEmpty
            }
            let allTrue = reader.optional("all")?.node.value == .bool(true)
            if !nonEmpty("ingress_ports") && !nonEmpty("egress_ports") && !nonEmpty("vlans") && !allTrue {
                report(selectAt, "a mirror needs at least one criterion: \"ingress_ports\", \"egress_ports\", "
                    + "\"vlans\" or \"all\": true")
            }
        }
        var output = MirrorOutputSpec.port("")
        if let outputAt = mirror.required("output"), let reader = object(outputAt, what: "an output object") {
            reader.checkKeys(["port", "capture"])
            let port = reader.optional("port")
            let capture = reader.optional("capture")
            if (port == nil) == (capture == nil) {
                report(outputAt, "an output takes exactly one of \"port\" or \"capture\"")
            } else if let port, let portName = self.name(port) {
                output = .port(portName)
            } else if let capture, let captureName = self.name(capture) {
                output = .capture(captureName)
            }
        }
        return MirrorSpec(name: name, select: select, output: output)
    }
}
