// PortConfiguration: how a switch port classifies and tags frames (802.1Q access/trunk).

import Frames

/// A port's VLAN behaviour.
public enum VLANMode: Equatable, Sendable {
    /// One VLAN; frames leave untagged; tagged frames arriving are dropped (no VLAN hopping),
    /// except priority-tagged frames (VID 0), which belong to the port's VLAN.
    case access(VLANID)
    /// Tagged frames of the allowed VLANs; untagged frames belong to the native VLAN and leave
    /// untagged in it. With no native VLAN, untagged frames are dropped. The native VLAN is
    /// always carried, as in Open vSwitch's native-untagged mode.
    case trunk(allowed: VLANSet, native: VLANID?)
}

/// The configuration of one switch port.
public struct PortConfiguration: Equatable, Sendable {
    public var name: String
    public var mode: VLANMode
    /// Learn source MACs arriving here.
    public var learning: Bool
    /// At most this many MACs are learned on the port (new ones are not learned beyond it).
    public var learnLimit: Int?
    /// Split horizon: a frame flooded from one split-horizon port is not flooded to another.
    /// The tunnels joining the segments of a switch that spans hypervisors are split-horizon
    /// ports, so a full mesh of tunnels never loops a broadcast (as VXLAN ingress replication).
    public var splitHorizon: Bool

    public init(name: String, mode: VLANMode = .access(.defaultVLAN), learning: Bool = true, learnLimit: Int? = nil,
                splitHorizon: Bool = false) {
        self.name = name
        self.mode = mode
        self.learning = learning
        self.learnLimit = learnLimit
        self.splitHorizon = splitHorizon
    }

    /// Whether the port carries `vlan`.
    public func carries(_ vlan: VLANID) -> Bool {
        switch mode {
        case .access(let v): return v == vlan
        case .trunk(let allowed, let native): return allowed.contains(vlan) || native == vlan
        }
    }
}

extension PortConfiguration {
    /// A canonical one-line form of how the port switches frames ("access 10", "trunk 10,20
    /// native 1", learning settings): saved with a port's state so a restore on another
    /// switch can tell when the two ports would not treat the VM's frames alike.
    public var summary: String {
        var text: String
        switch mode {
        case .access(let v): text = "access \(v.rawValue)"
        case .trunk(let allowed, let native): text = "trunk \(allowed) native \(native.map { "\($0.rawValue)" } ?? "none")"
        }
        if !learning { text += " no-learning" }
        if let learnLimit { text += " learn-limit \(learnLimit)" }
        return text
    }
}
