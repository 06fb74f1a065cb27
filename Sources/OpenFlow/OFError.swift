// OFError: an OpenFlow 1.3 error as the spec numbers it (ofp_error_type and the code enums
// OFPHFC_*, OFPBRC_*, OFPBAC_*, OFPBIC_*, OFPBMC_*, OFPFMFC_*, OFPGMFC_*, OFPPMFC_*, OFPTMFC_*,
// OFPSCFC_*, OFPRRFC_*, OFPMMFC_*, OFPTFFC_*). The decoder throws it for malformed input and
// the channel sends it back in an ERROR message carrying the offending message's first 64
// bytes and xid (`OFError.reply(to:)`).

/// An OpenFlow error: the spec's numeric type and code.
public struct OFError: Error, Hashable, Sendable, CustomStringConvertible {
    /// ofp_error_type.
    public var type: UInt16
    /// The code within `type`.
    public var code: UInt16

    /// The error `type`/`code` as numbered in the spec.
    public init(type: UInt16, code: UInt16) {
        self.type = type
        self.code = code
    }

    /// ofp_error_type values.
    public enum ErrorType {
        public static let helloFailed: UInt16 = 0
        public static let badRequest: UInt16 = 1
        public static let badAction: UInt16 = 2
        public static let badInstruction: UInt16 = 3
        public static let badMatch: UInt16 = 4
        public static let flowModFailed: UInt16 = 5
        public static let groupModFailed: UInt16 = 6
        public static let portModFailed: UInt16 = 7
        public static let tableModFailed: UInt16 = 8
        public static let queueOpFailed: UInt16 = 9
        public static let switchConfigFailed: UInt16 = 10
        public static let roleRequestFailed: UInt16 = 11
        public static let meterModFailed: UInt16 = 12
        public static let tableFeaturesFailed: UInt16 = 13
        public static let experimenter: UInt16 = 0xFFFF
    }

    /// The bytes of the ERROR reply to `offending` (a whole message as received): the
    /// offending message's xid, and its first 64 bytes as data (all of it when shorter).
    public func reply(to offending: [UInt8]) -> [UInt8] {
        var xid: UInt32 = 0
        if offending.count >= 8 { for i in 4..<8 { xid = xid << 8 | UInt32(offending[i]) } }
        return OFCodec.encode(.error(OFErrorMessage(type: type, code: code, data: Array(offending.prefix(64)))), xid: xid)
    }

    /// "TYPE/CODE" with the spec's names where known.
    public var description: String {
        let t = OFError.typeNames[type] ?? "type \(type)"
        let c = OFError.codeNames[type]?[Int(code)] ?? "code \(code)"
        return "\(t)/\(c)"
    }

    static let typeNames: [UInt16: String] = [
        0: "HELLO_FAILED", 1: "BAD_REQUEST", 2: "BAD_ACTION", 3: "BAD_INSTRUCTION", 4: "BAD_MATCH",
        5: "FLOW_MOD_FAILED", 6: "GROUP_MOD_FAILED", 7: "PORT_MOD_FAILED", 8: "TABLE_MOD_FAILED",
        9: "QUEUE_OP_FAILED", 10: "SWITCH_CONFIG_FAILED", 11: "ROLE_REQUEST_FAILED", 12: "METER_MOD_FAILED",
        13: "TABLE_FEATURES_FAILED", 0xFFFF: "EXPERIMENTER",
    ]
    static let codeNames: [UInt16: [String]] = [
        0: ["INCOMPATIBLE", "EPERM"],
        1: ["BAD_VERSION", "BAD_TYPE", "BAD_MULTIPART", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "EPERM", "BAD_LEN",
            "BUFFER_EMPTY", "BUFFER_UNKNOWN", "BAD_TABLE_ID", "IS_SLAVE", "BAD_PORT", "BAD_PACKET",
            "MULTIPART_BUFFER_OVERFLOW"],
        2: ["BAD_TYPE", "BAD_LEN", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_OUT_PORT", "BAD_ARGUMENT", "EPERM",
            "TOO_MANY", "BAD_QUEUE", "BAD_OUT_GROUP", "MATCH_INCONSISTENT", "UNSUPPORTED_ORDER", "BAD_TAG",
            "BAD_SET_TYPE", "BAD_SET_LEN", "BAD_SET_ARGUMENT"],
        3: ["UNKNOWN_INST", "UNSUP_INST", "BAD_TABLE_ID", "UNSUP_METADATA", "UNSUP_METADATA_MASK",
            "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_LEN", "EPERM"],
        4: ["BAD_TYPE", "BAD_LEN", "BAD_TAG", "BAD_DL_ADDR_MASK", "BAD_NW_ADDR_MASK", "BAD_WILDCARDS",
            "BAD_FIELD", "BAD_VALUE", "BAD_MASK", "BAD_PREREQ", "DUP_FIELD", "EPERM"],
        5: ["UNKNOWN", "TABLE_FULL", "BAD_TABLE_ID", "OVERLAP", "EPERM", "BAD_TIMEOUT", "BAD_COMMAND", "BAD_FLAGS"],
        6: ["GROUP_EXISTS", "INVALID_GROUP", "WEIGHT_UNSUPPORTED", "OUT_OF_GROUPS", "OUT_OF_BUCKETS",
            "CHAINING_UNSUPPORTED", "WATCH_UNSUPPORTED", "LOOP", "UNKNOWN_GROUP", "CHAINED_GROUP", "BAD_TYPE",
            "BAD_COMMAND", "BAD_BUCKET", "BAD_WATCH", "EPERM"],
        7: ["BAD_PORT", "BAD_HW_ADDR", "BAD_CONFIG", "BAD_ADVERTISE", "EPERM"],
        8: ["BAD_TABLE", "BAD_CONFIG", "EPERM"],
        10: ["BAD_FLAGS", "BAD_LEN", "EPERM"],
        11: ["STALE", "UNSUP", "BAD_ROLE"],
        12: ["UNKNOWN", "METER_EXISTS", "INVALID_METER", "UNKNOWN_METER", "BAD_COMMAND", "BAD_FLAGS", "BAD_RATE",
             "BAD_BURST", "BAD_BAND", "BAD_BAND_VALUE", "OUT_OF_METERS", "OUT_OF_BANDS"],
        13: ["BAD_TABLE", "BAD_METADATA", "BAD_TYPE", "BAD_LEN", "BAD_ARGUMENT", "EPERM"],
    ]
}

extension OFError {
    // HELLO_FAILED
    public static let helloIncompatible = OFError(type: 0, code: 0)
    public static let helloEPERM = OFError(type: 0, code: 1)
    // BAD_REQUEST
    public static let badVersion = OFError(type: 1, code: 0)
    public static let badType = OFError(type: 1, code: 1)
    public static let badMultipart = OFError(type: 1, code: 2)
    public static let badExperimenter = OFError(type: 1, code: 3)
    public static let badExpType = OFError(type: 1, code: 4)
    public static let requestEPERM = OFError(type: 1, code: 5)
    public static let badLen = OFError(type: 1, code: 6)
    public static let bufferEmpty = OFError(type: 1, code: 7)
    public static let bufferUnknown = OFError(type: 1, code: 8)
    public static let badTableID = OFError(type: 1, code: 9)
    public static let isSlave = OFError(type: 1, code: 10)
    public static let badPort = OFError(type: 1, code: 11)
    public static let badPacket = OFError(type: 1, code: 12)
    public static let multipartBufferOverflow = OFError(type: 1, code: 13)
    // BAD_ACTION
    public static let actionBadType = OFError(type: 2, code: 0)
    public static let actionBadLen = OFError(type: 2, code: 1)
    public static let actionBadExperimenter = OFError(type: 2, code: 2)
    public static let actionBadOutPort = OFError(type: 2, code: 4)
    public static let actionBadArgument = OFError(type: 2, code: 5)
    public static let actionBadOutGroup = OFError(type: 2, code: 9)
    public static let actionBadSetType = OFError(type: 2, code: 13)
    public static let actionBadSetLen = OFError(type: 2, code: 14)
    public static let actionBadSetArgument = OFError(type: 2, code: 15)
    // BAD_INSTRUCTION
    public static let instructionUnknown = OFError(type: 3, code: 0)
    public static let instructionUnsupported = OFError(type: 3, code: 1)
    public static let instructionBadTableID = OFError(type: 3, code: 2)
    public static let instructionBadExperimenter = OFError(type: 3, code: 5)
    public static let instructionBadLen = OFError(type: 3, code: 7)
    // BAD_MATCH
    public static let matchBadType = OFError(type: 4, code: 0)
    public static let matchBadLen = OFError(type: 4, code: 1)
    public static let matchBadWildcards = OFError(type: 4, code: 5)
    public static let matchBadField = OFError(type: 4, code: 6)
    public static let matchBadValue = OFError(type: 4, code: 7)
    public static let matchBadMask = OFError(type: 4, code: 8)
    public static let matchBadPrereq = OFError(type: 4, code: 9)
    public static let matchDupField = OFError(type: 4, code: 10)
    // FLOW_MOD_FAILED
    public static let flowModUnknown = OFError(type: 5, code: 0)
    public static let flowModTableFull = OFError(type: 5, code: 1)
    public static let flowModBadTableID = OFError(type: 5, code: 2)
    public static let flowModOverlap = OFError(type: 5, code: 3)
    public static let flowModBadCommand = OFError(type: 5, code: 6)
    public static let flowModBadFlags = OFError(type: 5, code: 7)
    // GROUP_MOD_FAILED
    public static let groupExists = OFError(type: 6, code: 0)
    public static let groupInvalid = OFError(type: 6, code: 1)
    public static let groupUnknown = OFError(type: 6, code: 8)
    public static let groupBadType = OFError(type: 6, code: 10)
    public static let groupBadCommand = OFError(type: 6, code: 11)
    public static let groupBadBucket = OFError(type: 6, code: 12)
    // PORT_MOD_FAILED
    public static let portModBadPort = OFError(type: 7, code: 0)
    public static let portModBadConfig = OFError(type: 7, code: 2)
    public static let portModEPERM = OFError(type: 7, code: 4)
    // TABLE_MOD_FAILED
    public static let tableModBadTable = OFError(type: 8, code: 0)
    public static let tableModBadConfig = OFError(type: 8, code: 1)
    // SWITCH_CONFIG_FAILED
    public static let switchConfigBadFlags = OFError(type: 10, code: 0)
    // ROLE_REQUEST_FAILED
    public static let roleStale = OFError(type: 11, code: 0)
    public static let roleUnsupported = OFError(type: 11, code: 1)
    public static let roleBad = OFError(type: 11, code: 2)
    // METER_MOD_FAILED
    public static let meterUnknownMeter = OFError(type: 12, code: 3)
    public static let meterOutOfMeters = OFError(type: 12, code: 10)
    // TABLE_FEATURES_FAILED
    public static let tableFeaturesEPERM = OFError(type: 13, code: 5)
}
