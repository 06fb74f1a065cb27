// Decoding of the root object, links and captures (phase one: structure, types, ranges).
import Frames

extension DecodeContext {
    static let topologyKeys = ["$schema", "version", "name", "description", "switches", "links", "captures",
                               "vms", "hosts", "hypervisors", "migrations"]

    func decodeTopology(_ at: Located) -> Topology? {
        positions[at.path] = at.node.position
        guard let root = object(at, what: "a topology object") else { return nil }
        root.checkKeys(Self.topologyKeys)
        _ = root.optional("$schema").flatMap { string($0) }
        // A missing version is reported and the rest read as version 1; another version stops here.
        var version = Topology.currentVersion
        if let versionAt = root.required("version") {
            guard let value = integer(versionAt, in: Int.min...Int.max, label: "version") else { return nil }
            guard value == Topology.currentVersion else {
                report(versionAt, "unsupported version \(value): this build reads version \(Topology.currentVersion)")
                return nil
            }
            version = value
        }
        let name = root.optional("name").flatMap { self.name($0) }
        let description = root.optional("description").flatMap { string($0) }
        // Hypervisors first: the placement keys of switches, ports, VMs and hosts depend on them.
        let hypervisors = root.optional("hypervisors").map { decodeHypervisors($0) } ?? []
        var switches: [SwitchSpec] = []
        if let switchesAt = root.required("switches"), let elements = array(switchesAt, minCount: 1, what: "switch") {
            switches = elements.enumerated().map { index, element in decodeSwitch(element, index: index) }
        }
        let links = root.optional("links").flatMap { array($0) }?.map { decodeLink($0) } ?? []
        let captures = root.optional("captures").flatMap { array($0) }?.map { decodeCapture($0) } ?? []
        let vms = root.optional("vms").flatMap { array($0) }?.map { decodeVM($0) } ?? []
        let hosts = root.optional("hosts").flatMap { array($0) }?.map { decodeHost($0) } ?? []
        var migrations: [MigrationSpec] = []
        if let migrationsAt = placementKey(root, "migrations") {
            migrations = array(migrationsAt)?.map { decodeMigration($0) } ?? []
        }
        return Topology(version: version, name: name, description: description, switches: switches,
                        links: links, captures: captures, vms: vms, hosts: hosts, hypervisors: hypervisors,
                        migrations: migrations)
    }

    /// A placeholder reference for values that failed to decode (the result is then discarded).
    static let invalidRef = PortRef(switchName: "", port: "")

    func portRef(_ at: Located) -> PortRef? {
        guard let text = string(at) else { return nil }
        guard let ref = PortRef(text), Self.isValidName(ref.switchName), Self.isValidName(ref.port) else {
            report(at, "invalid port reference \"\(text.escapedForTerminal)\": expected \"switch:port\" such as \"sw0:t1\"")
            return nil
        }
        return ref
    }

    func decodeLink(_ at: Located) -> LinkSpec {
        guard let link = object(at, what: "a link object") else { return LinkSpec(a: Self.invalidRef, b: Self.invalidRef) }
        link.checkKeys(["a", "b", "vni"])
        let a = link.required("a").flatMap { portRef($0) }
        let b = link.required("b").flatMap { portRef($0) }
        let vni = placementKey(link, "vni").flatMap { integer($0, in: TunnelSpec.vniRange, label: "vni") }
        return LinkSpec(a: a ?? Self.invalidRef, b: b ?? Self.invalidRef, vni: vni)
    }

    static let captureKeys = ["name", "file", "switch", "port", "vlan", "direction", "snaplen", "filter", "rotate"]

    func decodeCapture(_ at: Located) -> CaptureSpec {
        guard let capture = object(at, what: "a capture object") else { return CaptureSpec(name: "", file: "") }
        capture.checkKeys(Self.captureKeys)
        let name = capture.required("name").flatMap { self.name($0) } ?? ""
        let file = capture.required("file").flatMap { path($0, what: "capture file") } ?? ""
        let switchName = capture.optional("switch").flatMap { self.name($0) }
        let portAt = capture.optional("port")
        let port = portAt.flatMap { self.name($0) }
        let vlanAt = capture.optional("vlan")
        let vlan = vlanAt.flatMap { self.vlan($0) }
        if !capture.has("switch") {
            if let portAt { report(portAt, "\"port\" needs \"switch\": name the switch the port belongs to") }
            if let vlanAt { report(vlanAt, "\"vlan\" needs \"switch\": name the switch whose VLAN is captured") }
        }
        let direction = capture.optional("direction")
            .flatMap { choice($0, CaptureDirectionSpec.allCases.map(\.rawValue)) }
            .flatMap { CaptureDirectionSpec(rawValue: $0) } ?? .both
        let snaplen = capture.optional("snaplen")
            .flatMap { integer($0, in: CaptureSpec.snaplenRange, label: "snaplen") } ?? CaptureSpec.defaultSnaplen
        let filter = capture.optional("filter").flatMap { cString($0, what: "filter") }
        let rotate = capture.optional("rotate").flatMap { decodeRotate($0) }
        return CaptureSpec(name: name, file: file, switchName: switchName, port: port, vlan: vlan,
                           direction: direction, snaplen: snaplen, filter: filter, rotate: rotate)
    }

    func decodeRotate(_ at: Located) -> RotateSpec? {
        guard let rotate = object(at, what: "a rotate object") else { return nil }
        rotate.checkKeys(["size_mb", "files"])
        let size = rotate.required("size_mb").flatMap { integer($0, in: 1...1_000_000, label: "size_mb") } ?? 1
        let files = rotate.optional("files").flatMap { integer($0, in: 1...1_000_000, label: "files") }
        return RotateSpec(sizeMB: size, files: files)
    }
}
