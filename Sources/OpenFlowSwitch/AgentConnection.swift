// AgentConnection: one controller connection's handler, answering its requests from the
// switch's agent (on the OpenFlow event loop).

import FlowTables
import OpenFlow

/// The `OFSwitchHandler` of one connection to an `OFSwitchAgent`.
final class AgentConnection: OFSwitchHandler {
    let agent: OFSwitchAgent
    let connection: any OFAsyncSink
    /// A connection the switch made to one of its controllers (not a listener's client).
    let primary: Bool

    init(agent: OFSwitchAgent, connection: any OFAsyncSink, primary: Bool) {
        self.agent = agent
        self.connection = connection
        self.primary = primary
    }

    func features(channel: OFChannel) -> OFFeatures {
        // FLOW_STATS | TABLE_STATS | PORT_STATS | GROUP_STATS
        OFFeatures(datapathID: agent.configuration.datapathID, nBuffers: 0, nTables: UInt8(agent.configuration.tables),
                   capabilities: 0x0F)
    }

    func config(channel: OFChannel) -> OFSwitchConfig { agent.config }

    func setConfig(_ config: OFSwitchConfig, channel: OFChannel) throws(OFError) {
        // Only OFPC_FRAG_NORMAL: fragments are forwarded as they are.
        guard config.flags & 3 == 0 else { throw .switchConfigBadFlags }
        agent.config = config
    }

    func flowMod(_ mod: OFFlowMod, channel: OFChannel) throws(OFError) {
        do { try agent.flowMod(mod) } catch {
            agent.count { $0.errors += 1 }
            throw error
        }
    }

    func groupMod(_ mod: OFGroupMod, channel: OFChannel) throws(OFError) {
        do { try agent.groupMod(mod) } catch {
            agent.count { $0.errors += 1 }
            throw error
        }
    }

    func packetOut(_ packet: OFPacketOut, channel: OFChannel) throws(OFError) {
        do { try agent.packetOut(packet) } catch {
            agent.count { $0.errors += 1 }
            throw error
        }
    }

    func multipart(_ request: OFMultipartRequest.Body, channel: OFChannel) throws(OFError) -> OFMultipartReply.Body {
        switch request {
        case .desc:
            let name = agent.sw.name
            return .desc(OFDescStats(manufacturer: "Switchboard", hardware: "Switchboard software switch",
                                     software: "Switchboard (OpenFlow 1.3)", serialNumber: "None", datapath: name))
        case .flow(let r):
            let filter = try WireTranslation.filter(r)
            let now = agent.clock()
            let entries: [FlowEntry]
            do { entries = try agent.withPipeline { p throws(FlowError) in try p.flowStatistics(filter, now: now) } } catch {
                throw WireTranslation.error(error)
            }
            return .flow(entries.map { WireTranslation.flowStats($0) })
        case .aggregate(let r):
            let filter = try WireTranslation.filter(r)
            let stats: AggregateStats
            do { stats = try agent.withPipeline { p throws(FlowError) in try p.aggregateStatistics(filter) } } catch {
                throw WireTranslation.error(error)
            }
            return .aggregate(OFAggregateStats(packetCount: stats.packets, byteCount: stats.bytes,
                                               flowCount: UInt32(clamping: stats.flowCount)))
        case .table:
            let stats = agent.withPipeline { $0.tableStatistics() }
            return .table(stats.map { OFTableStats(tableID: $0.tableID, activeCount: UInt32(clamping: $0.activeCount),
                                                   lookupCount: $0.lookups, matchedCount: $0.matched) })
        case .portStats(let port):
            return .portStats(try agent.portStatistics(port))
        case .portDesc:
            return .portDesc(agent.portDescriptions())
        case .group(let id):
            let now = agent.clock()
            return .group(agent.withPipeline { $0.groupStatistics(id, now: now) }.map { WireTranslation.groupStats($0) })
        case .groupDesc:
            return .groupDesc(agent.withPipeline { $0.groupDescriptions() }.map { WireTranslation.groupDesc($0) })
        case .groupFeatures:
            // ALL, SELECT, INDIRECT; SELECT_WEIGHT | CHAINING; output, push/pop VLAN, group, dec TTL, set-field.
            let actions: UInt32 = 1 << 0 | 1 << 17 | 1 << 18 | 1 << 22 | 1 << 24 | 1 << 25
            let limit = UInt32(clamping: agent.withPipeline { $0.configuration.maxGroups })
            return .groupFeatures(OFGroupFeatures(types: 0b111, capabilities: 0b101, maxGroups: [limit, limit, limit, 0],
                                                  actions: [actions, actions, actions, 0]))
        case .tableFeatures(let body):
            // The tables are fixed: a controller may read them, not rewrite them.
            guard body.isEmpty else { throw .tableFeaturesEPERM }
            return .tableFeatures(agent.tableFeatures())
        case .other:
            throw .badMultipart
        }
    }

    func roleChanged(_ role: OFRoleMessage.Role, channel: OFChannel) { agent.roleChanged(role, channel: channel) }

    func channelOpened(_ channel: OFChannel) { agent.opened(channel, connection: connection, primary: primary) }

    func channelClosed(_ channel: OFChannel, reason: OFChannel.CloseReason) { agent.closed(channel) }
}
