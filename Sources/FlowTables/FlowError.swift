// FlowError: the OpenFlow 1.3 error (type, code) pairs the datapath reports, so the wire side
// can answer a bad flow-mod or group-mod with the exact error message the spec defines.

/// An error from validating or applying a flow-mod or group-mod, carrying its OF 1.3 numbers.
public enum FlowError: Error, Equatable, Sendable, CustomStringConvertible {
    /// OFPET_BAD_ACTION (2).
    case badAction(BadAction)
    /// OFPET_BAD_INSTRUCTION (3).
    case badInstruction(BadInstruction)
    /// OFPET_BAD_MATCH (4).
    case badMatch(BadMatch)
    /// OFPET_FLOW_MOD_FAILED (5).
    case flowModFailed(FlowModFailed)
    /// OFPET_GROUP_MOD_FAILED (6).
    case groupModFailed(GroupModFailed)

    /// OFPBAC_* codes.
    public enum BadAction: UInt16, Sendable {
        case badType = 0, badLen = 1, badExperimenter = 2, badExpType = 3, badOutPort = 4, badArgument = 5
        case eperm = 6, tooMany = 7, badQueue = 8, badOutGroup = 9, matchInconsistent = 10
        case unsupportedOrder = 11, badTag = 12, badSetType = 13, badSetLen = 14, badSetArgument = 15
    }

    /// OFPBIC_* codes.
    public enum BadInstruction: UInt16, Sendable {
        case unknownInst = 0, unsupInst = 1, badTableID = 2, unsupMetadata = 3, unsupMetadataMask = 4
        case badExperimenter = 5, badExpType = 6, badLen = 7, eperm = 8
    }

    /// OFPBMC_* codes.
    public enum BadMatch: UInt16, Sendable {
        case badType = 0, badLen = 1, badTag = 2, badDLAddrMask = 3, badNWAddrMask = 4, badWildcards = 5
        case badField = 6, badValue = 7, badMask = 8, badPrereq = 9, dupField = 10, eperm = 11
    }

    /// OFPFMFC_* codes.
    public enum FlowModFailed: UInt16, Sendable {
        case unknown = 0, tableFull = 1, badTableID = 2, overlap = 3, eperm = 4, badTimeout = 5
        case badCommand = 6, badFlags = 7
    }

    /// OFPGMFC_* codes.
    public enum GroupModFailed: UInt16, Sendable {
        case groupExists = 0, invalidGroup = 1, weightUnsupported = 2, outOfGroups = 3, outOfBuckets = 4
        case chainingUnsupported = 5, watchUnsupported = 6, loop = 7, unknownGroup = 8, chainedGroup = 9
        case badType = 10, badCommand = 11, badBucket = 12, badWatch = 13, eperm = 14
    }

    /// The ofp_error_msg `type` field.
    public var type: UInt16 {
        switch self {
        case .badAction: 2
        case .badInstruction: 3
        case .badMatch: 4
        case .flowModFailed: 5
        case .groupModFailed: 6
        }
    }

    /// The ofp_error_msg `code` field.
    public var code: UInt16 {
        switch self {
        case .badAction(let c): c.rawValue
        case .badInstruction(let c): c.rawValue
        case .badMatch(let c): c.rawValue
        case .flowModFailed(let c): c.rawValue
        case .groupModFailed(let c): c.rawValue
        }
    }

    public var description: String {
        switch self {
        case .badAction(let c): "bad action (\(c))"
        case .badInstruction(let c): "bad instruction (\(c))"
        case .badMatch(let c): "bad match (\(c))"
        case .flowModFailed(let c): "flow-mod failed (\(c))"
        case .groupModFailed(let c): "group-mod failed (\(c))"
        }
    }
}
