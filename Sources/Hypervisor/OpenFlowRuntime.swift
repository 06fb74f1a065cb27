// OpenFlowRuntime: the OpenFlow side of a run: an agent for every switch with controllers or a
// listener, its `tcp:` connectors and `ptcp:` listener, the once-a-second tick, and the
// control socket's `flows` and `flow-trace` requests.

import ControlProtocol
import Foundation
import HostNetworking
import OpenFlow
import OpenFlowSwitch
import Switching
import Topology

/// The OpenFlow agents of one host's run and their connections.
final class OpenFlowRuntime {
    private(set) var agents: [String: OFSwitchAgent] = [:]
    private var listeners: [OFListener] = []
    private var connectors: [OFConnector] = []

    /// Agents for the OpenFlow switches of `topology` running on `datapath` (`hypervisor`:
    /// this process runs that hypervisor's part of `fullTopology`).
    init(topology: Topology, fullTopology: Topology, hypervisor: String?, datapath: Datapath,
         log: @escaping @Sendable (String) -> Void) throws {
        let fabric = datapath.fabric
        let hypervisorIndex = hypervisor.flatMap { h in fullTopology.hypervisors.firstIndex { $0.name == h } } ?? 0
        let hypervisorAddress = hypervisor.flatMap { fullTopology.hypervisor(named: $0) }.map { "\($0.address)" }
        let clock = datapath.clock
        let onDatapath: @Sendable (@escaping (Int64) -> Void) -> Void = { [datapath] body in
            datapath.sync {
                let now = datapath.clock.now()
                body(now)
                datapath.fabric.drain(now: now)
            }
        }
        do {
            for spec in topology.switches {
                guard let of = spec.openflow, let sw = fabric.switches.first(where: { $0.name == spec.name }) else { continue }
                let dpid = (of.datapathID ?? OpenFlowSpec.defaultDatapathID(switchName: spec.name)) &+ UInt64(hypervisorIndex)
                let configuration = OFSwitchAgentConfiguration(
                    datapathID: dpid, failMode: of.failMode == .secure ? .secure : .standalone,
                    hasControllers: !of.controllers.isEmpty, tables: of.tables)
                let agent = try OFSwitchAgent(switch: sw, configuration: configuration, clock: { clock.now() }, onDatapath: onDatapath)
                sw.ingressProcessor = agent
                agents[spec.name] = agent
                if case .passive(let host, let port)? = of.listen {
                    // A hypervisor's segment listens on its hypervisor's address unless the file names one.
                    let bindHost = host == "0.0.0.0" ? (hypervisorAddress ?? host) : host
                    let listener = try OFListener(host: bindHost, port: port, generations: agent.generations) { connection in
                        agent.makeHandler(connection, primary: false)
                    }
                    listeners.append(listener)
                    log("switch \(spec.name): OpenFlow listener on \(bindHost):\(listener.port), datapath \(String(format: "%016llx", dpid))")
                }
                for case .active(let host, let port) in of.controllers {
                    connectors.append(try OFConnector(host: host, port: port, generations: agent.generations) { connection in
                        agent.makeHandler(connection, primary: true)
                    })
                    log("switch \(spec.name): OpenFlow controller tcp:\(host):\(port) (fail mode \(of.failMode.rawValue))")
                }
            }
        } catch {
            close()
            throw error
        }
    }

    /// Once a second on the datapath thread: timeouts, port status.
    func tick(now: Int64) {
        for agent in agents.values { agent.tick(now: now) }
    }

    /// Serves `flows` and `flow-trace` (datapath thread); nil for other requests.
    func handle(_ request: ControlRequest, _ datapath: Datapath) -> ControlResponse? {
        switch request {
        case .flows(let name):
            guard let agent = agents[name] else { return nil }
            var reply = ControlResponse(ok: true)
            reply.lines = agent.dumpFlows(now: datapath.clock.now())
            return reply
        case .flowTrace(let name, let portName, let hex):
            guard let agent = agents[name] else { return nil }
            guard let port = agent.sw.portIndex(named: portName) else {
                return .failure("switch \(name.escapedForTerminal) has no port \(portName.escapedForTerminal) (ports: \(agent.sw.portNames.joined(separator: ", ")))")
            }
            guard let bytes = Self.bytes(hex), bytes.count >= 14 else {
                return .failure("the frame is not an even number of hex digits of at least 14 bytes")
            }
            guard let lines = agent.trace(bytes, port: port, now: datapath.clock.now()) else {
                return .failure("the frame does not fit a packet slot, or the pool is empty")
            }
            var reply = ControlResponse(ok: true)
            reply.lines = lines
            return reply
        default:
            return nil
        }
    }

    private static func bytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8.filter { $0 != 0x20 && $0 != 0x3A })
        guard digits.count % 2 == 0, digits.count <= 2 * 65_536 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let v = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(v)
            i += 2
        }
        return out
    }

    /// Ends every connection and listener.
    func close() {
        connectors.forEach { $0.stop() }
        listeners.forEach { $0.close() }
        connectors.removeAll()
        listeners.removeAll()
    }
}
