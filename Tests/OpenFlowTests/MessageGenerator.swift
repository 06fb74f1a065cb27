// MessageGenerator: seeded random OpenFlow messages for the round-trip property tests, and a
// seeded generator of bytes for the fuzz loop (TestSupport's SeededRandom: the same seed, the same run).

import Frames
import TestSupport
@testable import OpenFlow

/// Random valid messages of every kind.
struct MessageGenerator {
    var rng: SeededRandom

    init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    mutating func u8() -> UInt8 { UInt8.random(in: .min ... .max, using: &rng) }
    mutating func u16() -> UInt16 { UInt16.random(in: .min ... .max, using: &rng) }
    mutating func u32() -> UInt32 { UInt32.random(in: .min ... .max, using: &rng) }
    mutating func u64() -> UInt64 { rng.next() }
    mutating func bool() -> Bool { rng.next() & 1 == 0 }
    mutating func count(_ max: Int) -> Int { Int.random(in: 0...max, using: &rng) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in u8() } }
    mutating func text(_ max: Int) -> String { String((0..<count(max)).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x21...0x7E, using: &rng))) }) }

    mutating func value(_ id: OXMFieldID) -> OXMValue {
        let bits = id.size >= 8 ? UInt64.max : (UInt64(1) << UInt64(8 * id.size)) - 1
        let low = u64() & bits & (id.validBits ?? .max)
        return OXMValue(high: id.size == 16 ? u64() : 0, low: low)
    }

    mutating func field(_ id: OXMFieldID, masked: Bool) -> OXMField {
        var v = value(id)
        guard masked, id.maskable else { return OXMField(id, v) }
        let m = value(id)
        v.high &= m.high
        v.low &= m.low
        return OXMField(id, v, mask: m)
    }

    mutating func match() -> OFMatch {
        var ids = OXMFieldID.allCases
        ids.shuffle(using: &rng)
        return OFMatch(ids.prefix(count(6)).map { field($0, masked: bool()) })
    }

    mutating func action() -> OFAction {
        switch count(16) {
        case 0: return .output(port: u32(), maxLength: u16())
        case 1: return .copyTTLOut
        case 2: return .copyTTLIn
        case 3: return .setMPLSTTL(u8())
        case 4: return .decMPLSTTL
        case 5: return .pushVLAN(ethertype: u16())
        case 6: return .popVLAN
        case 7: return .pushMPLS(ethertype: u16())
        case 8: return .popMPLS(ethertype: u16())
        case 9: return .setQueue(u32())
        case 10: return .group(u32())
        case 11: return .setNWTTL(u8())
        case 12: return .decNWTTL
        case 13: return .setField(field(OXMFieldID.allCases.randomElement(using: &rng)!, masked: false))
        case 14: return .pushPBB(ethertype: u16())
        case 15: return .popPBB
        default: return .experimenter(id: u32(), data: bytes(8 * count(2)))
        }
    }

    mutating func actions() -> [OFAction] { (0..<count(4)).map { _ in action() } }

    mutating func instruction() -> OFInstruction {
        switch count(6) {
        case 0: return .gotoTable(u8())
        case 1: return .writeMetadata(value: u64(), mask: u64())
        case 2: return .writeActions(actions())
        case 3: return .applyActions(actions())
        case 4: return .clearActions
        case 5: return .meter(u32())
        default: return .experimenter(id: u32(), data: bytes(8 * count(2)))
        }
    }

    mutating func port() -> OFPortDescription {
        OFPortDescription(portNo: u32(), hwAddr: MACAddress(rawValue: u64()), name: text(15), config: u32(), state: u32(),
                          curr: u32(), advertised: u32(), supported: u32(), peer: u32(), currSpeed: u32(), maxSpeed: u32())
    }

    mutating func buckets() -> [OFBucket] {
        (0..<count(3)).map { _ in OFBucket(weight: u16(), watchPort: u32(), watchGroup: u32(), actions: actions()) }
    }

    mutating func flowStatsRequest() -> OFFlowStatsRequest {
        OFFlowStatsRequest(tableID: u8(), outPort: u32(), outGroup: u32(), cookie: u64(), cookieMask: u64(), match: match())
    }

    mutating func multipartRequest() -> OFMultipartRequest {
        let bodies: [OFMultipartRequest.Body] = [
            .desc, .flow(flowStatsRequest()), .aggregate(flowStatsRequest()), .table, .portStats(port: u32()), .portDesc,
            .group(u32()), .groupDesc, .groupFeatures, .tableFeatures(bytes(8 * count(3))),
            .other(type: [5, 9, 10, 11, 0xFFFF].randomElement(using: &rng)!, data: bytes(count(16))),
        ]
        return OFMultipartRequest(flags: u16() & 1, body: bodies.randomElement(using: &rng)!)
    }

    mutating func multipartReply() -> OFMultipartReply {
        let bodies: [OFMultipartReply.Body] = [
            .desc(OFDescStats(manufacturer: text(40), hardware: text(40), software: text(40), serialNumber: text(31), datapath: text(40))),
            .flow((0..<count(3)).map { _ in
                OFFlowStats(tableID: u8(), durationSec: u32(), durationNsec: u32(), priority: u16(), idleTimeout: u16(),
                            hardTimeout: u16(), flags: u16(), cookie: u64(), packetCount: u64(), byteCount: u64(),
                            match: match(), instructions: (0..<count(3)).map { _ in instruction() })
            }),
            .aggregate(OFAggregateStats(packetCount: u64(), byteCount: u64(), flowCount: u32())),
            .table((0..<count(3)).map { _ in OFTableStats(tableID: u8(), activeCount: u32(), lookupCount: u64(), matchedCount: u64()) }),
            .portStats((0..<count(3)).map { _ in OFPortStats(portNo: u32(), counters: (0..<12).map { _ in u64() }, durationSec: u32(), durationNsec: u32()) }),
            .portDesc((0..<count(3)).map { _ in port() }),
            .group((0..<count(3)).map { _ in
                OFGroupStats(groupID: u32(), refCount: u32(), packetCount: u64(), byteCount: u64(), durationSec: u32(),
                             durationNsec: u32(), bucketCounts: (0..<count(3)).map { _ in [u64(), u64()] })
            }),
            .groupDesc((0..<count(3)).map { _ in OFGroupDesc(type: u8(), groupID: u32(), buckets: buckets()) }),
            .groupFeatures(OFGroupFeatures(types: u32(), capabilities: u32(), maxGroups: (0..<4).map { _ in u32() },
                                           actions: (0..<4).map { _ in u32() })),
            .tableFeatures(bytes(8 * count(3))),
            .other(type: [5, 9, 10, 11, 0xFFFF].randomElement(using: &rng)!, data: bytes(count(16))),
        ]
        return OFMultipartReply(flags: u16() & 1, body: bodies.randomElement(using: &rng)!)
    }

    /// A random message of a random type.
    mutating func message() -> OFMessage {
        switch count(29) {
        case 0:
            return .hello(OFHello(version: u8(), elements: (0..<count(2)).map { _ in
                bool() ? .versionBitmap((0..<count(2)).map { _ in u32() }) : .unknown(type: u16() | 2, data: bytes(count(9)))
            }))
        case 1: return .error(OFErrorMessage(type: u16(), code: u16(), data: bytes(count(64))))
        case 2: return .echoRequest(bytes(count(20)))
        case 3: return .echoReply(bytes(count(20)))
        case 4: return .experimenter(OFExperimenterMessage(experimenter: u32(), expType: u32(), data: bytes(count(12))))
        case 5: return .featuresRequest
        case 6: return .featuresReply(OFFeatures(datapathID: u64(), nBuffers: u32(), nTables: u8(), auxiliaryID: u8(),
                                                 capabilities: u32(), reserved: u32()))
        case 7: return .getConfigRequest
        case 8: return .getConfigReply(OFSwitchConfig(flags: u16(), missSendLength: u16()))
        case 9: return .setConfig(OFSwitchConfig(flags: u16(), missSendLength: u16()))
        case 10: return .packetIn(OFPacketIn(bufferID: u32(), totalLength: u16(), reason: u8(), tableID: u8(), cookie: u64(),
                                             match: match(), data: bytes(count(80))))
        case 11: return .flowRemoved(OFFlowRemoved(cookie: u64(), priority: u16(), reason: u8(), tableID: u8(), durationSec: u32(),
                                                   durationNsec: u32(), idleTimeout: u16(), hardTimeout: u16(), packetCount: u64(),
                                                   byteCount: u64(), match: match()))
        case 12: return .portStatus(OFPortStatus(reason: u8(), port: port()))
        case 13: return .packetOut(OFPacketOut(bufferID: u32(), inPort: u32(), actions: actions(), data: bytes(count(80))))
        case 14:
            var m = OFFlowMod(cookie: u64(), cookieMask: u64(), tableID: u8(), idleTimeout: u16(), hardTimeout: u16(),
                              priority: u16(), bufferID: u32(), outPort: u32(), outGroup: u32(), flags: u16(), match: match(),
                              instructions: (0..<count(4)).map { _ in instruction() })
            m.command = u8()
            return .flowMod(m)
        case 15: return .groupMod(OFGroupMod(command: u16(), type: u8(), groupID: u32(), buckets: buckets()))
        case 16: return .portMod(OFPortMod(portNo: u32(), hwAddr: MACAddress(rawValue: u64()), config: u32(), mask: u32(), advertise: u32()))
        case 17: return .tableMod(OFTableMod(tableID: u8(), config: u32()))
        case 18: return .multipartRequest(multipartRequest())
        case 19: return .multipartReply(multipartReply())
        case 20: return .barrierRequest
        case 21: return .barrierReply
        case 22: return .queueGetConfigRequest(port: u32())
        case 23: return .queueGetConfigReply(port: u32(), queues: bytes(count(16)))
        case 24: return .roleRequest(OFRoleMessage(rawRole: u32(), generationID: u64()))
        case 25: return .roleReply(OFRoleMessage(rawRole: u32(), generationID: u64()))
        case 26: return .getAsyncRequest
        case 27: return .getAsyncReply(OFAsyncConfig(packetInMask: [u32(), u32()], portStatusMask: [u32(), u32()], flowRemovedMask: [u32(), u32()]))
        case 28: return .setAsync(OFAsyncConfig(packetInMask: [u32(), u32()], portStatusMask: [u32(), u32()], flowRemovedMask: [u32(), u32()]))
        default: return .meterMod(OFMeterMod(command: u16(), flags: u16(), meterID: u32(), bands: bytes(count(16))))
        }
    }
}
