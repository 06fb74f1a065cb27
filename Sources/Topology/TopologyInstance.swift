// TopologyInstance: a decoded topology turned into running objects: switches in a fabric,
// patch links, mirrors and captures writing pcap files.

#if canImport(Glibc)
import Glibc
#endif
import Capture
import Frames
import Switching

/// Why a topology could not be instantiated.
public struct TopologyInstanceError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The running form of a `Topology`: switches in a fabric, links, mirrors and captures; VMs
/// come from `makeVirtualMachines`, host devices from HostNetworking. Use from one thread,
/// the datapath's.
public final class TopologyInstance {
    /// How to instantiate.
    public struct Options: Sendable {
        /// Slots in the shared packet pool.
        public var poolCapacity = 16384
        /// Relative capture paths are resolved against this directory (nil: the working directory).
        public var captureDirectory: String?
        /// Create missing parent directories of capture files.
        public var createCaptureDirectories = true
        /// Open the topology's captures (trace does not).
        public var openCaptures = true
        public init() {}
    }

    public let topology: Topology
    public let pool: PacketPool
    public let fabric: Fabric
    /// Open captures, in the order of the file.
    public private(set) var captures: [CaptureRecorder] = []

    public init(_ topology: Topology, options: Options = Options()) throws(TopologyInstanceError) {
        self.topology = topology
        pool = PacketPool(capacity: options.poolCapacity)
        fabric = Fabric(pool: pool)
        var sinks: [String: CaptureRecorder] = [:]
        if options.openCaptures {
            for spec in topology.captures {
                let path = Self.resolve(spec.file, against: options.captureDirectory)
                if options.createCaptureDirectories { try Self.makeParentDirectories(of: path) }
                do {
                    let recorder = try CaptureRecorder(spec: spec, path: path)
                    sinks[spec.name] = recorder
                    captures.append(recorder)
                } catch {
                    throw TopologyInstanceError("capture \(spec.name): \(error)")
                }
            }
        }
        for spec in topology.switches {
            let configuration = Self.switchConfiguration(spec, captures: topology.captures, sinks: sinks)
            do {
                fabric.add(try Switch(configuration: configuration, pool: pool))
            } catch {
                throw TopologyInstanceError("switch \(spec.name): \(error)")
            }
        }
        for link in topology.links {
            do {
                try fabric.link(try fabric.port(link.a.switchName, link.a.port), try fabric.port(link.b.switchName, link.b.port))
            } catch {
                throw TopologyInstanceError("link \(link.a) - \(link.b): \(error)")
            }
        }
    }

    /// The switch configuration for `spec`: ports, table policy, static entries, mirrors, and
    /// the captures selecting this switch. Captures without a sink in `sinks` are left out.
    public static func switchConfiguration(_ spec: SwitchSpec, captures: [CaptureSpec],
                                           sinks: [String: any FrameObserverSink & Sendable]) -> SwitchConfiguration {
        let ports = spec.ports.map(\.configuration)
        var observers: [ObserverConfiguration] = []
        for mirror in spec.mirrors {
            var selection = ObserverSelection(ingressPorts: Set(mirror.select.ingressPorts),
                                              egressPorts: Set(mirror.select.egressPorts),
                                              vlans: Set(mirror.select.vlans))
            if mirror.select.all {
                selection.allIngress = true
                selection.allEgress = true
            }
            switch mirror.output {
            case .port(let port):
                observers.append(ObserverConfiguration(name: mirror.name, selection: selection, output: .port(port)))
            case .capture(let name):
                if let sink = sinks[name] {
                    observers.append(ObserverConfiguration(name: mirror.name, selection: selection, output: .sink(sink)))
                }
            }
        }
        for capture in captures where capture.switchName == spec.name {
            guard let sink = sinks[capture.name] else { continue }
            let rx = capture.direction != .tx, tx = capture.direction != .rx
            var selection = ObserverSelection(vlans: capture.vlan.map { [$0] } ?? [])
            if let port = capture.port {
                if rx { selection.ingressPorts = [port] }
                if tx { selection.egressPorts = [port] }
            } else {
                selection.allIngress = rx
                selection.allEgress = tx
            }
            observers.append(ObserverConfiguration(name: "capture:\(capture.name)", selection: selection, output: .sink(sink)))
        }
        return SwitchConfiguration(
            name: spec.name, ports: ports, macTableCapacity: spec.macTable.capacity,
            agingSeconds: spec.macTable.agingSeconds,
            staticEntries: spec.macTable.staticEntries,
            observers: observers)
    }

    /// Flushes and closes every capture; returns the errors met, one line each.
    public func closeCaptures() -> [String] {
        captures.compactMap { recorder in recorder.close().map { "capture \(recorder.spec.name): \($0)" } }
    }

    static func resolve(_ path: String, against directory: String?) -> String {
        guard let directory, !path.hasPrefix("/") else { return path }
        return directory.hasSuffix("/") ? directory + path : directory + "/" + path
    }

    /// `mkdir -p` of the directory holding `path`.
    static func makeParentDirectories(of path: String) throws(TopologyInstanceError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        guard !directory.isEmpty else { return }
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw TopologyInstanceError("cannot create directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
