// SwitchConfiguration: ports, MAC table policy and observers (mirrors, captures) of a switch.

import Frames

/// A static MAC table entry: never aged, never moved by learning.
public struct StaticEntry: Equatable, Sendable {
    public var mac: MACAddress
    public var vlan: VLANID
    public var port: String
    public init(mac: MACAddress, vlan: VLANID, port: String) {
        self.mac = mac
        self.vlan = vlan
        self.port = port
    }
}

/// Which frames an observer (mirror or capture) copies.
///
/// A frame is selected once per observer: when it is received on a selected ingress port,
/// or else when it is sent on a selected egress port; if `vlans` is not empty, only frames
/// of those VLANs. `allIngress` and `allEgress` select every port in that direction.
public struct ObserverSelection: Equatable, Sendable {
    public var ingressPorts: Set<String>
    public var egressPorts: Set<String>
    public var allIngress: Bool
    public var allEgress: Bool
    public var vlans: Set<VLANID>

    public init(ingressPorts: Set<String> = [], egressPorts: Set<String> = [], allIngress: Bool = false,
                allEgress: Bool = false, vlans: Set<VLANID> = []) {
        self.ingressPorts = ingressPorts
        self.egressPorts = egressPorts
        self.allIngress = allIngress
        self.allEgress = allEgress
        self.vlans = vlans
    }
}

/// Receives copies of observed frames, exactly as they crossed the port (with the tag they
/// arrived or left with). Called on the datapath thread; captures implement it.
public protocol FrameObserverSink: AnyObject {
    /// `frame` is valid only during the call; `timestamp` is nanoseconds since the epoch.
    func observe(frame: UnsafeRawBufferPointer, timestamp: Int64)
}

/// Where an observer's copies go.
public enum ObserverOutput: Sendable {
    /// A mirror (SPAN) port, which then takes no part in normal forwarding.
    case port(String)
    /// A capture or any other sink.
    case sink(any FrameObserverSink & Sendable)
}

/// A mirror or capture attached to a switch.
public struct ObserverConfiguration: Sendable {
    public var name: String
    public var selection: ObserverSelection
    public var output: ObserverOutput
    public init(name: String, selection: ObserverSelection, output: ObserverOutput) {
        self.name = name
        self.selection = selection
        self.output = output
    }
}

/// Everything a `Switch` is built from.
public struct SwitchConfiguration: Sendable {
    public var name: String
    public var ports: [PortConfiguration]
    /// Maximum MAC table entries (Open vSwitch's default is 8192).
    public var macTableCapacity: Int
    /// Idle time after which a learned entry expires.
    public var agingSeconds: Int
    public var staticEntries: [StaticEntry]
    public var observers: [ObserverConfiguration]

    public init(name: String, ports: [PortConfiguration], macTableCapacity: Int = 8192, agingSeconds: Int = 300,
                staticEntries: [StaticEntry] = [], observers: [ObserverConfiguration] = []) {
        self.name = name
        self.ports = ports
        self.macTableCapacity = macTableCapacity
        self.agingSeconds = agingSeconds
        self.staticEntries = staticEntries
        self.observers = observers
    }
}
