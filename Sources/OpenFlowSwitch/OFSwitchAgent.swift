// OFSwitchAgent: one switch programmed over OpenFlow 1.3. It owns the switch's flow pipeline,
// takes over the switch's forwarding (an `IngressProcessor`) while its fail mode says so,
// answers every controller connection's requests (an `OFSwitchHandler` per connection), and
// sends packet-ins, flow-removed and port-status messages.
//
// Threads: frames, timeouts and port changes run on the datapath thread; requests arrive on
// the OpenFlow event loop. The pipeline is shared under one lock, taken once per batch by the
// datapath and once per request by the event loop (a flow-mod's error goes back in order, and
// a barrier has nothing left to wait for). What touches the switch's ports (packet-out, port
// stats and descriptions) runs on the datapath thread through `onDatapath`.

import FlowTables
import Foundation
import Frames
import OpenFlow
import Switching
import Synchronization

/// How an `OFSwitchAgent` is set up.
public struct OFSwitchAgentConfiguration: Sendable {
    /// What the switch forwards with while none of its controllers is connected.
    public enum FailMode: String, Sendable {
        /// The L2 learning switch until a controller connects (Open vSwitch's default).
        case standalone
        /// Flows only, connected or not.
        case secure
    }

    public var datapathID: UInt64
    public var failMode: FailMode
    /// Whether the switch has controllers of its own (`tcp:`): then only their connections
    /// decide the fail mode; connections to the listener (ovs-ofctl) are service connections.
    public var hasControllers: Bool
    public var tables: Int
    /// Packet-ins sent per second at most (more are dropped and counted).
    public var packetInsPerSecond: Int
    /// Exact-match cache entries (a power of two). 65,536 (about 6 MiB) keeps 10,000 streams
    /// in the cache; FlowTables' own default, 8,192, held fewer than half of them.
    public var cacheEntries: Int

    /// A configuration.
    public init(datapathID: UInt64, failMode: FailMode = .standalone, hasControllers: Bool, tables: Int = 8,
                packetInsPerSecond: Int = 10_000, cacheEntries: Int = 65_536) {
        self.cacheEntries = cacheEntries
        self.datapathID = datapathID
        self.failMode = failMode
        self.hasControllers = hasControllers
        self.tables = tables
        self.packetInsPerSecond = packetInsPerSecond
    }
}

/// Where a connection's asynchronous messages go (an `OFConnection`; a test's recorder).
public protocol OFAsyncSink: AnyObject, Sendable {
    /// Queues a PACKET_IN, FLOW_REMOVED or PORT_STATUS; safe from any thread.
    func sendAsync(_ message: OFMessage)
}

extension OFConnection: OFAsyncSink {}

/// Counters of what an agent did (for `switchboard flows` and tests).
public struct OFSwitchAgentCounters: Sendable, Equatable {
    public var packetIns = 0
    public var packetInsDropped = 0
    public var packetOuts = 0
    public var flowMods = 0
    public var errors = 0
    public var portStatus = 0
    public var flowRemoved = 0
}

/// A switch programmed by OpenFlow controllers.
public final class OFSwitchAgent: IngressProcessor, @unchecked Sendable {
    public let sw: Switch
    public let configuration: OFSwitchAgentConfiguration
    /// The flow tables (touch only under `withPipeline`).
    let pipeline: FlowPipeline
    private let lock = NSLock()
    /// Runs a body on the datapath thread with its `now` and waits for it (then drains).
    let onDatapath: @Sendable (@escaping (Int64) -> Void) -> Void
    let clock: @Sendable () -> Int64
    public let generations = OFRoleGenerations()

    // Connections (event loop and datapath; under `registryLock`).
    private let registryLock = NSLock()
    private var channels: [ObjectIdentifier: (channel: OFChannel, connection: any OFAsyncSink, primary: Bool)] = [:]
    private let primaryConnected = Atomic<Int>(0)
    private var _counters = OFSwitchAgentCounters()
    private var switchConfig = OFSwitchConfig(flags: 0, missSendLength: 128)

    // Datapath-thread state.
    private var pendingPacketIns: [OFPacketIn] = []
    private var packetInBudget: Int
    private var lastPortUp: [Bool]
    private let startTime: Int64

    /// An agent for `sw` (built on the switch's pool). `onDatapath` must run its body on the
    /// thread that owns the switch and wait for it; `clock` is that thread's `now`.
    public init(switch sw: Switch, configuration: OFSwitchAgentConfiguration,
                clock: @escaping @Sendable () -> Int64,
                onDatapath: @escaping @Sendable (@escaping (Int64) -> Void) -> Void) throws(FlowConfigurationError) {
        self.sw = sw
        self.configuration = configuration
        self.clock = clock
        self.onDatapath = onDatapath
        pipeline = try FlowPipeline(configuration: FlowPipelineConfiguration(tableCount: configuration.tables,
                                                                              cacheEntries: configuration.cacheEntries), pool: sw.pool)
        packetInBudget = configuration.packetInsPerSecond
        lastPortUp = (0..<sw.portCount).map { sw.isPortUp($0) }
        startTime = clock()
        if !configuration.hasControllers && configuration.failMode == .standalone {
            // As Open vSwitch without a controller: one table-miss flow to the L2 switch.
            _ = try? pipeline.apply(FlowMod(command: .add, tableID: 0, priority: 0,
                                            instructions: [.applyActions([.output(port: OFPort.normal)])]), now: startTime)
        }
    }

    /// Runs `body` with the pipeline locked (any thread).
    public func withPipeline<T, E: Error>(_ body: (FlowPipeline) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(pipeline)
    }

    public var counters: OFSwitchAgentCounters { registryLock.withLock { _counters } }

    /// Open connections, and how many of them are the switch's own controllers.
    public var connectionCount: (all: Int, primary: Int) {
        registryLock.withLock { (channels.count, channels.values.filter(\.primary).count) }
    }

    // MARK: IngressProcessor (datapath thread)

    public var takesOver: Bool {
        configuration.failMode == .secure || !configuration.hasControllers
            || primaryConnected.load(ordering: .relaxed) > 0
    }

    public func process(_ sw: Switch, port: Int, batch: UnsafeBufferPointer<PacketHandle>, now: Int64) {
        let inPort = UInt32(port + 1)
        let pool = sw.pool // one reference a batch, not one a frame
        lock.lock()
        for handle in batch {
            guard sw.admitReceived(handle, port: port, now: now) else {
                pool.release(handle)
                continue
            }
            let n = pipeline.process(handle, inPort: inPort, now: now)
            if n > 0 { dispatch(n, sw, pool, inPort: port, now: now) }
        }
        lock.unlock()
        flushPacketIns()
    }

    /// Carries out the pipeline's `n` decisions on `sw`, whose pool is `pool` (lock held).
    ///
    /// Each decision's fields are read in place, one load each: the pipeline has just stored
    /// them field by field, and copying the whole 40-byte record out with 16-byte loads
    /// spanning several of those stores stalled on store forwarding (perf: a third of this
    /// function's time on one such load). The switch and pool come from the caller, so a
    /// frame takes no reference count (reading `sw.pool` here cost a retain and a release
    /// per frame, a fifth of the agent's time).
    @inline(__always)
    private func dispatch(_ n: Int, _ sw: Switch, _ pool: PacketPool, inPort: Int, now: Int64) {
        guard let decisions = pipeline.decisions.baseAddress else { return }
        for i in 0..<n {
            let d = decisions + i
            let handle = d.pointee.handle
            switch d.pointee.kind {
            case .output:
                sw.output(handle, port: Int(d.pointee.port) - 1, now: now)
            case .inPort:
                if inPort >= 0 { sw.output(handle, port: inPort, now: now) }
            case .flood, .all:
                sw.flood(handle, except: inPort, now: now)
            case .normal:
                if inPort >= 0 { sw.forwardNormally(handle, inPort: inPort, now: now) }
            case .controller:
                packetIn(d.pointee, inPort: inPort)
            case .local:
                break  // no local port: the switch has no host-side interface of its own
            }
            pool.release(handle)
        }
    }

    private func packetIn(_ d: FlowDecision, inPort: Int) {
        guard packetInBudget > 0 else {
            registryLock.withLock { _counters.packetInsDropped += 1 }
            return
        }
        packetInBudget -= 1
        let length = sw.pool.length(d.handle)
        let keep = d.maxLength == OFConstant.controllerNoBuffer ? length : min(length, Int(d.maxLength))
        let bytes = [UInt8](UnsafeRawBufferPointer(start: sw.pool.data(d.handle), count: keep))
        var fields: [OXMField] = [.inPort(inPort >= 0 ? UInt32(inPort + 1) : OFPortNumber.controller)]
        if d.metadata != 0 { fields.append(OXMField(.metadata, d.metadata)) }
        pendingPacketIns.append(OFPacketIn(totalLength: UInt16(clamping: length), reason: d.reason.rawValue, tableID: d.tableID,
                                           cookie: d.cookie, match: OFMatch(fields), data: bytes))
    }

    private func flushPacketIns() {
        guard !pendingPacketIns.isEmpty else { return }
        let connections = registryLock.withLock { () -> [any OFAsyncSink] in
            _counters.packetIns += pendingPacketIns.count
            return channels.values.map(\.connection)
        }
        for message in pendingPacketIns {
            for c in connections { c.sendAsync(.packetIn(message)) }
        }
        pendingPacketIns.removeAll(keepingCapacity: true)
    }

    /// A port's link changed (datapath thread): PORT_STATUS at once, so a controller can
    /// move its flows off a port a VM has just left.
    public func portStateChanged(_ sw: Switch, port: Int, up: Bool) {
        reportPortChanges()
    }

    /// Once a second on the datapath thread: flow timeouts (flow-removed), port changes
    /// missed (port-status), the packet-in budget.
    public func tick(now: Int64) {
        packetInBudget = configuration.packetInsPerSecond
        let removed = withPipeline { $0.expire(now: now) }
        sendFlowRemoved(removed)
        reportPortChanges()
    }

    private func reportPortChanges() {
        var changed: [OFPortDescription] = []
        for p in 0..<sw.portCount where sw.isPortUp(p) != lastPortUp[p] {
            lastPortUp[p] = sw.isPortUp(p)
            changed.append(portDescription(p))
        }
        guard !changed.isEmpty else { return }
        let connections = registryLock.withLock { () -> [any OFAsyncSink] in
            _counters.portStatus += changed.count
            return channels.values.map(\.connection)
        }
        for d in changed {
            for c in connections { c.sendAsync(.portStatus(OFPortStatus(reason: 2, port: d))) }
        }
    }

    private func sendFlowRemoved(_ removed: [RemovedFlow]) {
        let wanted = removed.filter { $0.entry.flags.contains(.sendFlowRemoved) }
        guard !wanted.isEmpty else { return }
        let connections = registryLock.withLock { () -> [any OFAsyncSink] in
            _counters.flowRemoved += wanted.count
            return channels.values.map(\.connection)
        }
        for r in wanted {
            let message = OFMessage.flowRemoved(WireTranslation.flowRemoved(r))
            for c in connections { c.sendAsync(message) }
        }
    }

    // MARK: Ports

    /// The port's description (datapath thread: reads the port's state).
    func portDescription(_ p: Int) -> OFPortDescription {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (sw.name + "\0" + sw.portNames[p]).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let mac = MACAddress(rawValue: 0x02_00_0000_0000 | h & 0x00FF_FFFF_FFFF)
        let up = sw.isPortUp(p)
        return OFPortDescription(portNo: UInt32(p + 1), hwAddr: mac, name: sw.portNames[p], config: 0,
                                 state: up ? 4 : 1, curr: 0x840, currSpeed: 10_000_000, maxSpeed: 10_000_000)
    }

    // MARK: Connections (event loop)

    /// The handler for a new connection; `primary` when the switch made it (`tcp:`).
    public func makeHandler(_ connection: any OFAsyncSink, primary: Bool) -> any OFSwitchHandler {
        AgentConnection(agent: self, connection: connection, primary: primary)
    }

    func opened(_ channel: OFChannel, connection: any OFAsyncSink, primary: Bool) {
        registryLock.withLock { channels[ObjectIdentifier(channel)] = (channel, connection, primary) }
        if primary { primaryConnected.add(1, ordering: .relaxed) }
    }

    func closed(_ channel: OFChannel) {
        let entry = registryLock.withLock { channels.removeValue(forKey: ObjectIdentifier(channel)) }
        if let entry, entry.primary { primaryConnected.subtract(1, ordering: .relaxed) }
    }

    func roleChanged(_ role: OFRoleMessage.Role, channel: OFChannel) {
        guard role == .master else { return }
        // Every channel lives on the one OpenFlow event loop, this thread.
        let others = registryLock.withLock { channels.values.map(\.channel).filter { $0 !== channel } }
        for other in others where other.role == .master { other.demoteToSlave() }
    }

    func count(_ update: (inout OFSwitchAgentCounters) -> Void) { registryLock.withLock { update(&_counters) } }

    var config: OFSwitchConfig {
        get { registryLock.withLock { switchConfig } }
        set { registryLock.withLock { switchConfig = newValue } }
    }

    // MARK: Requests (event loop)

    /// Whether a wire action list outputs only to ports the switch has (or reserved ones).
    func checkPorts(_ actions: [OFAction], packetOut: Bool = false) throws(OFError) {
        for a in actions {
            guard case .output(let port, _) = a else { continue }
            if port >= 1 && port <= UInt32(sw.portCount) { continue }
            switch port {
            case OFPortNumber.inPort, OFPortNumber.normal, OFPortNumber.flood, OFPortNumber.all,
                 OFPortNumber.controller, OFPortNumber.local: continue
            case OFPortNumber.table where packetOut: continue
            default: throw .actionBadOutPort
            }
        }
    }

    func flowMod(_ mod: OFFlowMod) throws(OFError) {
        for i in mod.instructions {
            switch i {
            case .applyActions(let a), .writeActions(let a): try checkPorts(a)
            default: break
            }
        }
        let translated = try WireTranslation.flowMod(mod)
        let now = clock()
        let removed: [RemovedFlow]
        lock.lock()
        do {
            removed = try pipeline.apply(translated, now: now)
        } catch {
            lock.unlock()
            throw WireTranslation.error(error)
        }
        lock.unlock()
        count { $0.flowMods += 1 }
        sendFlowRemoved(removed)
    }

    func groupMod(_ mod: OFGroupMod) throws(OFError) {
        for b in mod.buckets { try checkPorts(b.actions) }
        let translated = try WireTranslation.groupMod(mod)
        let now = clock()
        let removed: [RemovedFlow]
        lock.lock()
        do {
            removed = try pipeline.apply(translated, now: now)
        } catch {
            lock.unlock()
            throw WireTranslation.error(error)
        }
        lock.unlock()
        sendFlowRemoved(removed)
    }

    func packetOut(_ packet: OFPacketOut) throws(OFError) {
        guard packet.bufferID == OFConstant.noBuffer else { throw .bufferUnknown }
        guard !packet.data.isEmpty else { throw .badPacket }
        guard packet.data.count <= sw.pool.slotSize - 64 else { throw .badPacket }
        let inIndex: Int
        if packet.inPort >= 1 && packet.inPort <= UInt32(sw.portCount) {
            inIndex = Int(packet.inPort) - 1
        } else if packet.inPort == OFPortNumber.controller || packet.inPort == OFPortNumber.any {
            inIndex = -1
        } else {
            throw .badPort
        }
        try checkPorts(packet.actions, packetOut: true)
        let actions = try WireTranslation.actions(packet.actions)
        let inPort = inIndex >= 0 ? UInt32(inIndex + 1) : OFPortNumber.controller
        let outcome = Box<FlowError?>(nil)
        onDatapath { [self] now in
            let made = packet.data.withUnsafeBytes { sw.pool.make(copying: $0) }
            guard let handle = made else { return }
            lock.lock()
            do throws(FlowError) {
                let n = try pipeline.packetOut(handle, inPort: inPort, actions: actions, now: now)
                if n > 0 { dispatch(n, sw, sw.pool, inPort: inIndex, now: now) }
            } catch {
                outcome.value = error
            }
            lock.unlock()
            flushPacketIns()
        }
        if let error = outcome.value { throw WireTranslation.error(error) }
        count { $0.packetOuts += 1 }
    }

    func portDescriptions() -> [OFPortDescription] {
        let out = Box<[OFPortDescription]>([])
        onDatapath { [self] _ in out.value = (0..<sw.portCount).map { portDescription($0) } }
        return out.value
    }

    func portStatistics(_ port: UInt32) throws(OFError) -> [OFPortStats] {
        if port != OFPortNumber.any && !(port >= 1 && port <= UInt32(sw.portCount)) { throw .badPort }
        let out = Box<[OFPortStats]>([])
        let start = startTime
        onDatapath { [self] now in
            let seconds = UInt32(clamping: max(0, now - start) / 1_000_000_000)
            out.value = (0..<sw.portCount).filter { port == OFPortNumber.any || UInt32($0 + 1) == port }.map { p in
                let c = sw.counters(port: p)
                let drops = c.drops.reduce(0, &+)
                return OFPortStats(portNo: UInt32(p + 1), rxPackets: c.rxFrames, txPackets: c.txFrames, rxBytes: c.rxBytes,
                                   txBytes: c.txBytes, rxDropped: drops, durationSec: seconds)
            }
        }
        return out.value
    }

    /// The TABLE_FEATURES records: what each table matches, sets and does.
    func tableFeatures() -> [UInt8] {
        let fields: [OXMFieldID] = [.inPort, .metadata, .ethDst, .ethSrc, .ethType, .vlanVID, .vlanPCP, .ipDSCP, .ipECN,
                                    .ipProto, .ipv4Src, .ipv4Dst, .tcpSrc, .tcpDst, .udpSrc, .udpDst, .icmpv4Type,
                                    .icmpv4Code, .arpOp, .arpSPA, .arpTPA, .arpSHA, .arpTHA, .ipv6Src, .ipv6Dst]
        let setFields = fields.filter { $0 != .inPort && $0 != .metadata && $0 != .ethType && $0 != .ipProto }
        let n = configuration.tables
        return OFTableFeatures.encode((0..<n).map { t in
            OFTableFeatures(tableID: UInt8(t), name: "table\(t)", maxEntries: UInt32(pipeline.configuration.maxFlowsPerTable),
                            properties: OFTableFeatures.requiredProperties(
                                instructions: t + 1 < n ? [1, 2, 3, 4, 5] : [2, 3, 4, 5],
                                nextTables: (t + 1 < n ? (t + 1..<n).map { UInt8($0) } : []),
                                actions: [0, 17, 18, 22, 24, 25],
                                matchFields: fields, wildcards: fields, setFields: setFields))
        })
    }
}

/// A value filled in by a body run on another thread (read after that thread has signalled).
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
