// FakeSwitch: a minimal switch behind an OFChannel for the tests: flows in an array (add,
// modify, delete, strict or not, by cookie and out_port), groups in a dictionary, two ports,
// and a log of every request and of every message that did not decode.

import Foundation
import Frames
@testable import OpenFlow

final class FakeSwitch: OFSwitchHandler, @unchecked Sendable {
    struct Flow: Equatable {
        var tableID: UInt8
        var priority: UInt16
        var cookie: UInt64
        var match: OFMatch
        var instructions: [OFInstruction]
        var idleTimeout: UInt16
        var hardTimeout: UInt16
        var flags: UInt16
    }

    private let lock = NSLock()
    private var _flows: [Flow] = []
    private var _groups: [UInt32: OFGroupMod] = [:]
    private var _log: [String] = []
    private var _undecodable: [(OFError, [UInt8])] = []
    private var _closed: [OFChannel.CloseReason] = []
    var barriers = 0
    var packetOuts: [OFPacketOut] = []
    var multipartRequests: [OFMultipartRequest.Body] = []
    /// Flows handed to the handler (the million-flow-mod test counts, it does not store).
    var flowModCount = 0
    var storeFlows = true
    /// Tables the switch says it has.
    var tableCount = 4
    var extraFlowsInDump = 0

    var flows: [Flow] { lock.withLock { _flows } }
    var groups: [UInt32: OFGroupMod] { lock.withLock { _groups } }
    var log: [String] { lock.withLock { _log } }
    var undecodable: [(OFError, [UInt8])] { lock.withLock { _undecodable } }
    var closeReasons: [OFChannel.CloseReason] { lock.withLock { _closed } }

    let ports = [
        OFPortDescription(portNo: 1, hwAddr: MACAddress(0x02, 0, 0, 0, 0, 1), name: "p1", curr: 0x840, currSpeed: 10_000_000, maxSpeed: 10_000_000),
        OFPortDescription(portNo: 2, hwAddr: MACAddress(0x02, 0, 0, 0, 0, 2), name: "p2", curr: 0x840, currSpeed: 10_000_000, maxSpeed: 10_000_000),
    ]

    private func note(_ s: String) { lock.withLock { _log.append(s) } }

    func features(channel: OFChannel) -> OFFeatures {
        note("features")
        return OFFeatures(datapathID: 0x5B, nBuffers: 0, nTables: UInt8(tableCount), capabilities: 0x4F)
    }

    func config(channel: OFChannel) -> OFSwitchConfig { note("get-config"); return OFSwitchConfig(flags: 0, missSendLength: 128) }

    func setConfig(_ config: OFSwitchConfig, channel: OFChannel) throws(OFError) { note("set-config \(config.missSendLength)") }

    private static func covers(_ outer: OFMatch, _ inner: OFMatch) -> Bool {
        outer.fields.allSatisfy { f in inner.fields.contains(f) }
    }

    func flowMod(_ mod: OFFlowMod, channel: OFChannel) throws(OFError) {
        flowModCount += 1
        guard storeFlows else { return }
        guard let command = mod.knownCommand else { throw .flowModBadCommand }
        note("flow-mod \(command)")
        lock.lock()
        defer { lock.unlock() }
        func selected(_ f: Flow, strict: Bool) -> Bool {
            if mod.tableID != OFConstant.allTables && f.tableID != mod.tableID { return false }
            if f.cookie & mod.cookieMask != mod.cookie & mod.cookieMask { return false }
            if strict { return f.priority == mod.priority && f.match == mod.match }
            guard FakeSwitch.covers(mod.match, f.match) else { return false }
            if mod.outPort != OFPortNumber.any {
                return f.instructions.contains { i in
                    if case .applyActions(let a) = i { return a.contains(.output(port: mod.outPort, maxLength: 0)) || a.contains { if case .output(mod.outPort, _) = $0 { return true } else { return false } } }
                    return false
                }
            }
            return true
        }
        switch command {
        case .add:
            guard mod.tableID < tableCount else { throw .flowModBadTableID }
            _flows.removeAll { $0.tableID == mod.tableID && $0.priority == mod.priority && $0.match == mod.match }
            _flows.append(Flow(tableID: mod.tableID, priority: mod.priority, cookie: mod.cookie, match: mod.match,
                               instructions: mod.instructions, idleTimeout: mod.idleTimeout, hardTimeout: mod.hardTimeout,
                               flags: mod.flags))
        case .modify, .modifyStrict:
            for i in _flows.indices where selected(_flows[i], strict: command == .modifyStrict) { _flows[i].instructions = mod.instructions }
        case .delete, .deleteStrict:
            _flows.removeAll { selected($0, strict: command == .deleteStrict) }
        }
    }

    func groupMod(_ mod: OFGroupMod, channel: OFChannel) throws(OFError) {
        note("group-mod \(mod.command) \(mod.groupID)")
        lock.lock()
        defer { lock.unlock() }
        switch mod.command {
        case 0:
            if _groups[mod.groupID] != nil { throw .groupExists }
            _groups[mod.groupID] = mod
        case 1:
            if _groups[mod.groupID] == nil { throw .groupUnknown }
            _groups[mod.groupID] = mod
        case 2:
            if mod.groupID == OFConstant.allGroups { _groups.removeAll() } else { _groups[mod.groupID] = nil }
        default: throw .groupBadCommand
        }
    }

    func packetOut(_ packet: OFPacketOut, channel: OFChannel) throws(OFError) {
        lock.withLock { packetOuts.append(packet) }
    }

    func multipart(_ request: OFMultipartRequest.Body, channel: OFChannel) throws(OFError) -> OFMultipartReply.Body {
        note("multipart \(request.typeCode)")
        lock.withLock { multipartRequests.append(request) }
        switch request {
        case .desc:
            return .desc(OFDescStats(manufacturer: "Switchboard", hardware: "fake", software: "tests", serialNumber: "1", datapath: "fake"))
        case .portDesc:
            return .portDesc(ports)
        case .portStats(let port):
            return .portStats(ports.filter { port == OFPortNumber.any || $0.portNo == port }.map {
                OFPortStats(portNo: $0.portNo, rxPackets: 10 * UInt64($0.portNo), txPackets: 20, rxBytes: 1000, txBytes: 2000)
            })
        case .flow(let r):
            let all = flows.filter { r.tableID == OFConstant.allTables || $0.tableID == r.tableID }
            var stats = all.map { f in
                OFFlowStats(tableID: f.tableID, priority: f.priority, idleTimeout: f.idleTimeout, hardTimeout: f.hardTimeout,
                            flags: f.flags, cookie: f.cookie, match: f.match, instructions: f.instructions)
            }
            for i in 0..<extraFlowsInDump {
                stats.append(OFFlowStats(tableID: 1, priority: UInt16(truncatingIfNeeded: i), match: OFMatch([.inPort(UInt32(i))]),
                                         instructions: [.applyActions([.output(port: 2, maxLength: 0)])]))
            }
            return .flow(stats)
        case .aggregate:
            return .aggregate(OFAggregateStats(packetCount: 0, byteCount: 0, flowCount: UInt32(flows.count)))
        case .table:
            return .table((0..<tableCount).map { t in OFTableStats(tableID: UInt8(t), activeCount: UInt32(flows.filter { $0.tableID == t }.count), lookupCount: 0, matchedCount: 0) })
        case .group(let id):
            return .group(groups.values.filter { id == OFConstant.allGroups || $0.groupID == id }.sorted { $0.groupID < $1.groupID }.map {
                OFGroupStats(groupID: $0.groupID, bucketCounts: $0.buckets.map { _ in [0, 0] })
            })
        case .groupDesc:
            return .groupDesc(groups.values.sorted { $0.groupID < $1.groupID }.map { OFGroupDesc(type: $0.type, groupID: $0.groupID, buckets: $0.buckets) })
        case .groupFeatures:
            return .groupFeatures(OFGroupFeatures(types: 0b111, capabilities: 0, maxGroups: [64, 64, 64, 0], actions: [1, 1, 1, 0]))
        case .tableFeatures:
            return .tableFeatures(OFTableFeatures.encode((0..<tableCount).map { t in
                let fields: [OXMFieldID] = [.inPort, .ethDst, .ethSrc, .ethType, .vlanVID, .ipv4Src, .ipv4Dst, .ipProto, .tcpDst]
                return OFTableFeatures(tableID: UInt8(t), name: "table\(t)", maxEntries: 1000,
                                       properties: OFTableFeatures.requiredProperties(
                                           instructions: [1, 2, 3, 4, 5], nextTables: (UInt8(t) + 1..<UInt8(tableCount)).map { $0 }, actions: [0, 17, 18, 22, 24, 25],
                                           matchFields: fields, wildcards: fields, setFields: fields))
            }))
        case .other:
            throw .badMultipart
        }
    }

    func barrier(channel: OFChannel) { barriers += 1; note("barrier") }

    func decodeFailed(_ error: OFError, message: [UInt8], channel: OFChannel) {
        lock.withLock { _undecodable.append((error, message)) }
    }

    func channelClosed(_ channel: OFChannel, reason: OFChannel.CloseReason) {
        lock.withLock { _closed.append(reason) }
    }
}
