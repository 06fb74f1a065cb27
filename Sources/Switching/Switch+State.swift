// Saved switch state: the MAC table, port states and counters, for snapshots and migration.

import Frames

/// The dynamic state of a switch, separate from the live object (restored through
/// `Switch.restore(_:)`, which checks it against the switch's own ports).
public struct SwitchState: Equatable, Sendable, Codable {
    /// One port's saved state.
    public struct Port: Equatable, Sendable, Codable {
        public var name: String
        public var up: Bool
        public var counters: PortCounters
        /// How the port was configured (`PortConfiguration.summary`); a restore refuses a
        /// state whose port is configured differently. Nil in states saved before it existed.
        public var configuration: String?
    }

    /// A MAC table entry by port name, so the state is independent of port order.
    public struct MACEntry: Equatable, Sendable, Codable {
        public var mac: MACAddress
        public var vlan: VLANID
        public var port: String
        public var isStatic: Bool
        public var lastSeen: Int64
    }

    public var name: String
    public var ports: [Port]
    public var entries: [MACEntry]
    public var tableCounters: MACTable.Counters
}

/// Why saved state does not fit a switch.
public enum SwitchStateError: Error, Equatable, CustomStringConvertible {
    case unknownPort(String)
    case configurationDiffers(port: String, saved: String, here: String)
    public var description: String {
        switch self {
        case .unknownPort(let p): return "saved state names port \(p), which this switch does not have"
        case .configurationDiffers(let p, let saved, let here):
            return "port \(p) is \(here) here but was \(saved) where the state was saved"
        }
    }
}

extension Switch {
    /// The current state; `now` decides which entries are still alive.
    public func saveState(now: Int64) -> SwitchState {
        SwitchState(
            name: name,
            ports: portNames.indices.map {
                SwitchState.Port(name: portNames[$0], up: portUp[$0], counters: counters(port: $0),
                                 configuration: configuration.ports[$0].summary)
            },
            entries: macTable.entries(now: now).map {
                SwitchState.MACEntry(mac: $0.mac, vlan: $0.vlan, port: portNames[$0.port], isStatic: $0.isStatic, lastSeen: $0.lastSeen)
            },
            tableCounters: macTable.counters)
    }

    /// Installs saved entries, port states and counters. Nothing changes when the state
    /// names a port this switch does not have.
    public func restore(_ state: SwitchState) throws(SwitchStateError) {
        for port in state.ports {
            guard let p = portIndex(named: port.name) else { throw .unknownPort(port.name) }
            let here = configuration.ports[p].summary
            if let saved = port.configuration, saved != here { throw .configurationDiffers(port: port.name, saved: saved, here: here) }
        }
        for entry in state.entries where portIndex(named: entry.port) == nil { throw .unknownPort(entry.port) }
        for port in state.ports {
            let p = portIndex(named: port.name)!
            // Through setPortUp, so whoever watches the links (OpenFlow's port-status) hears it.
            if portUp[p] != port.up { setPortUp(p, port.up) }
            setCounters(port: p, port.counters)
        }
        for entry in state.entries {
            macTable.install(MACTable.Entry(mac: entry.mac, vlan: entry.vlan, port: portIndex(named: entry.port)!,
                                            isStatic: entry.isStatic, lastSeen: entry.lastSeen))
        }
    }
}
