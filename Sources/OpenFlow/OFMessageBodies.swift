// OFMessageBodies: the bodies of the OpenFlow 1.3 messages that carry structure (features,
// config, packet-in/out, flow-mod, flow-removed, port status, group-mod, port-mod, table-mod,
// role, async config, meter-mod), as plain values with the spec's field names and constants.

import Frames

/// Reserved port numbers (ofp_port_no).
public enum OFPortNumber {
    public static let max: UInt32 = 0xFFFF_FF00
    public static let inPort: UInt32 = 0xFFFF_FFF8
    public static let table: UInt32 = 0xFFFF_FFF9
    public static let normal: UInt32 = 0xFFFF_FFFA
    public static let flood: UInt32 = 0xFFFF_FFFB
    public static let all: UInt32 = 0xFFFF_FFFC
    public static let controller: UInt32 = 0xFFFF_FFFD
    public static let local: UInt32 = 0xFFFF_FFFE
    public static let any: UInt32 = 0xFFFF_FFFF
}

/// Other reserved numbers of the spec.
public enum OFConstant {
    /// OFP_NO_BUFFER: the packet is in the message, not in a switch buffer.
    public static let noBuffer: UInt32 = 0xFFFF_FFFF
    /// OFPTT_ALL: every table (flow-mod delete, flow stats).
    public static let allTables: UInt8 = 0xFF
    /// OFPG_ALL / OFPG_ANY.
    public static let allGroups: UInt32 = 0xFFFF_FFFC
    public static let anyGroup: UInt32 = 0xFFFF_FFFF
    /// OFPCML_NO_BUFFER: send the whole packet to the controller.
    public static let controllerNoBuffer: UInt16 = 0xFFFF
}

/// A HELLO: the sender's highest version (header) and optional elements.
public struct OFHello: Hashable, Sendable {
    /// The version in the header.
    public var version: UInt8
    /// Hello elements.
    public var elements: [OFHelloElement]

    /// A hello at `version` with `elements`.
    public init(version: UInt8 = OFCodec.version, elements: [OFHelloElement] = []) {
        self.version = version
        self.elements = elements
    }

    /// The versions the peer announces: its bitmap when it sent one, else nil.
    public var versionBitmap: [UInt32]? {
        for e in elements { if case .versionBitmap(let b) = e { return b } }
        return nil
    }
}

/// A hello element (ofp_hello_elem_header).
public enum OFHelloElement: Hashable, Sendable {
    /// OFPHET_VERSIONBITMAP: bit n of word n/32 set when version n is supported.
    case versionBitmap([UInt32])
    /// Another element type, kept as is (ignored by the negotiation).
    case unknown(type: UInt16, data: [UInt8])
}

/// An ERROR message body.
public struct OFErrorMessage: Hashable, Sendable {
    /// ofp_error_type (0xFFFF: experimenter; then `code` is exp_type and `data` starts with
    /// the experimenter id).
    public var type: UInt16
    /// The code.
    public var code: UInt16
    /// The offending message's first bytes, or ASCII text for HELLO_FAILED.
    public var data: [UInt8]

    /// An error body.
    public init(type: UInt16, code: UInt16, data: [UInt8] = []) {
        self.type = type
        self.code = code
        self.data = data
    }

    /// The error as `OFError`.
    public var error: OFError { OFError(type: type, code: code) }
}

/// An EXPERIMENTER message body.
public struct OFExperimenterMessage: Hashable, Sendable {
    public var experimenter: UInt32
    public var expType: UInt32
    public var data: [UInt8]

    /// An experimenter body.
    public init(experimenter: UInt32, expType: UInt32, data: [UInt8] = []) {
        self.experimenter = experimenter
        self.expType = expType
        self.data = data
    }
}

/// FEATURES_REPLY (ofp_switch_features).
public struct OFFeatures: Hashable, Sendable {
    public var datapathID: UInt64
    public var nBuffers: UInt32
    public var nTables: UInt8
    public var auxiliaryID: UInt8
    /// OFPC_* bits: FLOW_STATS 1, TABLE_STATS 2, PORT_STATS 4, GROUP_STATS 8, IP_REASM 32,
    /// QUEUE_STATS 64, PORT_BLOCKED 256.
    public var capabilities: UInt32
    public var reserved: UInt32

    /// Features with the given values.
    public init(datapathID: UInt64, nBuffers: UInt32 = 0, nTables: UInt8 = 1, auxiliaryID: UInt8 = 0,
                capabilities: UInt32 = 0, reserved: UInt32 = 0) {
        self.datapathID = datapathID
        self.nBuffers = nBuffers
        self.nTables = nTables
        self.auxiliaryID = auxiliaryID
        self.capabilities = capabilities
        self.reserved = reserved
    }
}

/// GET_CONFIG_REPLY / SET_CONFIG (ofp_switch_config).
public struct OFSwitchConfig: Hashable, Sendable {
    /// OFPC_FRAG_* (0 normal, 1 drop, 2 reassemble).
    public var flags: UInt16
    /// Bytes of a table-miss packet sent to the controller (0xFFFF: the whole packet).
    public var missSendLength: UInt16

    /// A config.
    public init(flags: UInt16 = 0, missSendLength: UInt16 = 128) {
        self.flags = flags
        self.missSendLength = missSendLength
    }
}

/// PACKET_IN.
public struct OFPacketIn: Hashable, Sendable {
    public var bufferID: UInt32
    public var totalLength: UInt16
    /// OFPR_NO_MATCH 0, OFPR_ACTION 1, OFPR_INVALID_TTL 2.
    public var reason: UInt8
    public var tableID: UInt8
    public var cookie: UInt64
    /// Pipeline fields (at least in_port).
    public var match: OFMatch
    /// The packet (or its first bytes).
    public var data: [UInt8]

    /// A packet-in.
    public init(bufferID: UInt32 = OFConstant.noBuffer, totalLength: UInt16, reason: UInt8, tableID: UInt8,
                cookie: UInt64, match: OFMatch, data: [UInt8]) {
        self.bufferID = bufferID
        self.totalLength = totalLength
        self.reason = reason
        self.tableID = tableID
        self.cookie = cookie
        self.match = match
        self.data = data
    }
}

/// FLOW_REMOVED.
public struct OFFlowRemoved: Hashable, Sendable {
    public var cookie: UInt64
    public var priority: UInt16
    /// OFPRR_IDLE_TIMEOUT 0, HARD_TIMEOUT 1, DELETE 2, GROUP_DELETE 3.
    public var reason: UInt8
    public var tableID: UInt8
    public var durationSec: UInt32
    public var durationNsec: UInt32
    public var idleTimeout: UInt16
    public var hardTimeout: UInt16
    public var packetCount: UInt64
    public var byteCount: UInt64
    public var match: OFMatch

    /// A flow-removed.
    public init(cookie: UInt64, priority: UInt16, reason: UInt8, tableID: UInt8, durationSec: UInt32,
                durationNsec: UInt32, idleTimeout: UInt16, hardTimeout: UInt16, packetCount: UInt64,
                byteCount: UInt64, match: OFMatch) {
        self.cookie = cookie
        self.priority = priority
        self.reason = reason
        self.tableID = tableID
        self.durationSec = durationSec
        self.durationNsec = durationNsec
        self.idleTimeout = idleTimeout
        self.hardTimeout = hardTimeout
        self.packetCount = packetCount
        self.byteCount = byteCount
        self.match = match
    }
}

/// A port's description (ofp_port, 64 bytes).
public struct OFPortDescription: Hashable, Sendable {
    public var portNo: UInt32
    public var hwAddr: MACAddress
    /// Up to 15 bytes of UTF-8 on the wire.
    public var name: String
    /// OFPPC_* (PORT_DOWN 1, NO_RECV 4, NO_FWD 32, NO_PACKET_IN 64).
    public var config: UInt32
    /// OFPPS_* (LINK_DOWN 1, BLOCKED 2, LIVE 4).
    public var state: UInt32
    public var curr: UInt32
    public var advertised: UInt32
    public var supported: UInt32
    public var peer: UInt32
    /// kbps.
    public var currSpeed: UInt32
    public var maxSpeed: UInt32

    /// A port description.
    public init(portNo: UInt32, hwAddr: MACAddress, name: String, config: UInt32 = 0, state: UInt32 = 0,
                curr: UInt32 = 0, advertised: UInt32 = 0, supported: UInt32 = 0, peer: UInt32 = 0,
                currSpeed: UInt32 = 0, maxSpeed: UInt32 = 0) {
        self.portNo = portNo
        self.hwAddr = hwAddr
        self.name = name
        self.config = config
        self.state = state
        self.curr = curr
        self.advertised = advertised
        self.supported = supported
        self.peer = peer
        self.currSpeed = currSpeed
        self.maxSpeed = maxSpeed
    }

    static let wireLength = 64

    func encode(_ w: inout OFWriter) {
        w.u32(portNo); w.zeros(4)
        w.append(hwAddr.bytes); w.zeros(2)
        w.text(name, width: 16)
        for v in [config, state, curr, advertised, supported, peer, currSpeed, maxSpeed] { w.u32(v) }
    }

    static func decode(_ r: inout OFReader, _ e: OFError) throws(OFError) -> OFPortDescription {
        let portNo = try r.u32(e)
        try r.skip(4, e)
        let mac = try r.take(6, e)
        try r.skip(2, e)
        let name = try r.text(width: 16, e)
        var v: [UInt32] = []
        for _ in 0..<8 { v.append(try r.u32(e)) }
        return OFPortDescription(portNo: portNo, hwAddr: MACAddress(mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]),
                                 name: name, config: v[0], state: v[1], curr: v[2], advertised: v[3],
                                 supported: v[4], peer: v[5], currSpeed: v[6], maxSpeed: v[7])
    }
}

/// PORT_STATUS.
public struct OFPortStatus: Hashable, Sendable {
    /// OFPPR_ADD 0, DELETE 1, MODIFY 2.
    public var reason: UInt8
    public var port: OFPortDescription

    /// A port status.
    public init(reason: UInt8, port: OFPortDescription) {
        self.reason = reason
        self.port = port
    }
}

/// PACKET_OUT.
public struct OFPacketOut: Hashable, Sendable {
    public var bufferID: UInt32
    public var inPort: UInt32
    public var actions: [OFAction]
    /// The packet (when `bufferID` is OFP_NO_BUFFER).
    public var data: [UInt8]

    /// A packet-out.
    public init(bufferID: UInt32 = OFConstant.noBuffer, inPort: UInt32, actions: [OFAction], data: [UInt8]) {
        self.bufferID = bufferID
        self.inPort = inPort
        self.actions = actions
        self.data = data
    }
}

/// FLOW_MOD.
public struct OFFlowMod: Hashable, Sendable {
    /// ofp_flow_mod_command.
    public enum Command: UInt8, Sendable {
        case add = 0, modify, modifyStrict, delete, deleteStrict
    }
    /// OFPFF_* flags.
    public enum Flag {
        public static let sendFlowRemoved: UInt16 = 1
        public static let checkOverlap: UInt16 = 2
        public static let resetCounts: UInt16 = 4
        public static let noPacketCounts: UInt16 = 8
        public static let noByteCounts: UInt16 = 16
    }

    public var cookie: UInt64
    public var cookieMask: UInt64
    public var tableID: UInt8
    /// The raw command (see `Command`; an unknown value is FLOW_MOD_FAILED/BAD_COMMAND for the
    /// integrator, kept here so the codec round-trips).
    public var command: UInt8
    public var idleTimeout: UInt16
    public var hardTimeout: UInt16
    public var priority: UInt16
    public var bufferID: UInt32
    public var outPort: UInt32
    public var outGroup: UInt32
    public var flags: UInt16
    public var match: OFMatch
    public var instructions: [OFInstruction]

    /// A flow-mod (defaults: table 0, add, priority 0x8000, no buffer, any port/group).
    public init(cookie: UInt64 = 0, cookieMask: UInt64 = 0, tableID: UInt8 = 0, command: Command = .add,
                idleTimeout: UInt16 = 0, hardTimeout: UInt16 = 0, priority: UInt16 = 0x8000,
                bufferID: UInt32 = OFConstant.noBuffer, outPort: UInt32 = OFPortNumber.any,
                outGroup: UInt32 = OFConstant.anyGroup, flags: UInt16 = 0, match: OFMatch = OFMatch(),
                instructions: [OFInstruction] = []) {
        self.cookie = cookie
        self.cookieMask = cookieMask
        self.tableID = tableID
        self.command = command.rawValue
        self.idleTimeout = idleTimeout
        self.hardTimeout = hardTimeout
        self.priority = priority
        self.bufferID = bufferID
        self.outPort = outPort
        self.outGroup = outGroup
        self.flags = flags
        self.match = match
        self.instructions = instructions
    }

    /// The command, or nil when the value is not one of the spec's.
    public var knownCommand: Command? { Command(rawValue: command) }
}

/// A group bucket (ofp_bucket).
public struct OFBucket: Hashable, Sendable {
    public var weight: UInt16
    public var watchPort: UInt32
    public var watchGroup: UInt32
    public var actions: [OFAction]

    /// A bucket.
    public init(weight: UInt16 = 0, watchPort: UInt32 = OFPortNumber.any, watchGroup: UInt32 = OFConstant.anyGroup,
                actions: [OFAction]) {
        self.weight = weight
        self.watchPort = watchPort
        self.watchGroup = watchGroup
        self.actions = actions
    }

    var wireLength: Int { 16 + OFAction.listLength(actions) }

    func encode(_ w: inout OFWriter) {
        w.u16(UInt16(truncatingIfNeeded: wireLength)); w.u16(weight); w.u32(watchPort); w.u32(watchGroup); w.zeros(4)
        OFAction.encodeList(actions, &w)
    }

    static func decodeList(_ r: inout OFReader) throws(OFError) -> [OFBucket] {
        var buckets: [OFBucket] = []
        while !r.isAtEnd {
            let length = Int(try r.peek16(.groupBadBucket))
            guard length >= 16, length % 8 == 0 else { throw .groupBadBucket }
            var b = try r.sub(length, .groupBadBucket)
            try b.skip(2, .groupBadBucket)
            let weight = try b.u16(.groupBadBucket)
            let watchPort = try b.u32(.groupBadBucket)
            let watchGroup = try b.u32(.groupBadBucket)
            try b.skip(4, .groupBadBucket)
            buckets.append(OFBucket(weight: weight, watchPort: watchPort, watchGroup: watchGroup,
                                    actions: try OFAction.decodeList(&b)))
        }
        return buckets
    }
}

/// GROUP_MOD.
public struct OFGroupMod: Hashable, Sendable {
    /// OFPGC_ADD 0, MODIFY 1, DELETE 2.
    public var command: UInt16
    /// OFPGT_ALL 0, SELECT 1, INDIRECT 2, FF 3.
    public var type: UInt8
    public var groupID: UInt32
    public var buckets: [OFBucket]

    /// A group-mod.
    public init(command: UInt16, type: UInt8, groupID: UInt32, buckets: [OFBucket]) {
        self.command = command
        self.type = type
        self.groupID = groupID
        self.buckets = buckets
    }
}

/// PORT_MOD.
public struct OFPortMod: Hashable, Sendable {
    public var portNo: UInt32
    public var hwAddr: MACAddress
    public var config: UInt32
    public var mask: UInt32
    public var advertise: UInt32

    /// A port-mod.
    public init(portNo: UInt32, hwAddr: MACAddress, config: UInt32, mask: UInt32, advertise: UInt32) {
        self.portNo = portNo
        self.hwAddr = hwAddr
        self.config = config
        self.mask = mask
        self.advertise = advertise
    }
}

/// TABLE_MOD.
public struct OFTableMod: Hashable, Sendable {
    public var tableID: UInt8
    /// OFPTC_* (deprecated in 1.3: only 0 is meaningful).
    public var config: UInt32

    /// A table-mod.
    public init(tableID: UInt8, config: UInt32) {
        self.tableID = tableID
        self.config = config
    }
}

/// ROLE_REQUEST / ROLE_REPLY.
public struct OFRoleMessage: Hashable, Sendable {
    /// ofp_controller_role.
    public enum Role: UInt32, Sendable {
        case noChange = 0, equal, master, slave
    }
    /// The raw role (an unknown value is ROLE_REQUEST_FAILED/BAD_ROLE).
    public var role: UInt32
    public var generationID: UInt64

    /// A role message.
    public init(role: Role, generationID: UInt64 = 0) {
        self.role = role.rawValue
        self.generationID = generationID
    }

    /// A role message with a raw role value.
    public init(rawRole: UInt32, generationID: UInt64) {
        self.role = rawRole
        self.generationID = generationID
    }
}

/// GET_ASYNC_REPLY / SET_ASYNC (ofp_async_config): per reason bit masks, for master/equal
/// ([0]) and slave ([1]) connections.
public struct OFAsyncConfig: Hashable, Sendable {
    public var packetInMask: [UInt32]
    public var portStatusMask: [UInt32]
    public var flowRemovedMask: [UInt32]

    /// An async config; the defaults are the spec's: master/equal receive every packet-in,
    /// port-status and flow-removed reason, slaves port-status only.
    public init(packetInMask: [UInt32] = [0x7, 0], portStatusMask: [UInt32] = [0x7, 0x7],
                flowRemovedMask: [UInt32] = [0xF, 0]) {
        self.packetInMask = packetInMask
        self.portStatusMask = portStatusMask
        self.flowRemovedMask = flowRemovedMask
    }
}

/// METER_MOD: decoded to answer it (Switchboard has no meters); the bands stay raw.
public struct OFMeterMod: Hashable, Sendable {
    /// OFPMC_ADD 0, MODIFY 1, DELETE 2.
    public var command: UInt16
    public var flags: UInt16
    public var meterID: UInt32
    /// ofp_meter_band_* as received.
    public var bands: [UInt8]

    /// A meter-mod.
    public init(command: UInt16, flags: UInt16, meterID: UInt32, bands: [UInt8] = []) {
        self.command = command
        self.flags = flags
        self.meterID = meterID
        self.bands = bands
    }
}
