// OpenFlowSpec: how a switch is programmed over OpenFlow 1.3: the controllers it connects to,
// its passive listener, its fail mode, datapath id and table count.

import OpenFlow

/// A switch's OpenFlow settings (absent: the switch is programmed by its file only).
public struct OpenFlowSpec: Sendable, Equatable {
    /// What the switch forwards with while no controller is connected.
    public enum FailMode: String, Sendable, Equatable, CaseIterable {
        /// The L2 learning switch (today's pipeline) until a controller connects.
        case standalone
        /// Only flows, connected or not: without a controller nothing new is learned.
        case secure
    }

    /// Accepted table counts.
    public static let tableRange = 1...255
    /// Tables when the file gives none (Faucet's pipeline with ACLs and mirroring fits).
    public static let defaultTables = 8

    /// `tcp:IP[:PORT]` controllers the switch keeps connections to.
    public var controllers: [OFEndpoint]
    /// `ptcp:PORT[:IP]` where controllers and `ovs-ofctl` may connect.
    public var listen: OFEndpoint?
    /// Forwarding while no controller is connected (default standalone, as Open vSwitch).
    public var failMode: FailMode
    /// The datapath id (default: derived from the switch's name); a hypervisor's segment adds
    /// its hypervisor's index so that every segment is a switch of its own to a controller.
    public var datapathID: UInt64?
    /// Flow tables (1...255).
    public var tables: Int

    /// Creates OpenFlow settings.
    public init(controllers: [OFEndpoint] = [], listen: OFEndpoint? = nil, failMode: FailMode = .standalone,
                datapathID: UInt64? = nil, tables: Int = OpenFlowSpec.defaultTables) {
        self.controllers = controllers
        self.listen = listen
        self.failMode = failMode
        self.datapathID = datapathID
        self.tables = tables
    }

    /// The datapath id a switch called `name` has when the file gives none: 0x5B (for
    /// "Switchboard") in the top byte, then 56 bits of an FNV-1a hash of the name.
    public static func defaultDatapathID(switchName name: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return 0x5B << 56 | h & 0x00FF_FFFF_FFFF_FFFF
    }
}
