// OFChannel: one OpenFlow 1.3 connection as a transport-free state machine: bytes in, decoded
// requests handed to an `OFSwitchHandler` one at a time, replies and asynchronous messages out
// through a bounded output queue the transport drains. It frames messages across partial reads
// (and many per read), exchanges HELLO and negotiates the version, answers ECHO, enforces the
// connection's role, keeps the async configuration, orders barriers, reassembles multipart
// requests and splits multipart replies, and turns every malformed message into the spec's
// ERROR, never into a dropped connection (only a length field below 8, a failed version
// negotiation, a silent peer or an output queue past its hard cap close it).

import Foundation

/// Caps of one channel (see docs/openflow.md, "Backpressure").
public struct OFChannelLimits: Sendable, Equatable {
    /// Queued output beyond which a reply closes the channel (a controller that sends
    /// requests and never reads its replies): 4 MiB. A multipart reply to a request read while
    /// less than `readPauseBytes` was queued is queued whole, past this cap if it must.
    public var maxOutputBytes = 4 << 20
    /// Queued output at which asynchronous messages (packet-in, flow-removed, port-status)
    /// are dropped and counted instead of queued: 256 KiB.
    public var asyncOutputLimit = 256 << 10
    /// Queued output above which the transport should stop reading (`wantsInput`): 1 MiB.
    public var readPauseBytes = 1 << 20
    /// Bytes of a multipart request being reassembled (all parts): 1 MiB.
    public var maxMultipartRequestBytes = 1 << 20

    /// The defaults.
    public init() {}
}

/// Counts kept by a channel.
public struct OFChannelCounters: Sendable, Equatable {
    /// Messages received whole (decoded or not).
    public var received = 0
    /// Messages that did not decode (each answered with an ERROR).
    public var undecodable = 0
    /// ERROR messages sent.
    public var errorsSent = 0
    /// Asynchronous messages dropped: output queue at its async limit, or filtered out by the
    /// role and async configuration.
    public var asyncDropped = 0
    /// Asynchronous messages queued.
    public var asyncSent = 0
}

/// Role generation ids shared by the connections of one switch (ROLE_REQUEST staleness).
public final class OFRoleGenerations: @unchecked Sendable {
    private let lock = NSLock()
    private var current: UInt64?

    /// No generation seen yet.
    public init() {}

    /// Accepts `id` unless it is older than the newest seen (distance as a signed 64-bit
    /// difference, as the spec says); records it when accepted.
    func admit(_ id: UInt64) -> Bool {
        lock.withLock {
            if let c = current, Int64(bitPattern: id &- c) < 0 { return false }
            current = id
            return true
        }
    }
}

/// One OpenFlow connection, switch side. Not thread-safe: one thread (the transport's event
/// loop) feeds it and drains it.
public final class OFChannel {
    /// Where the connection is.
    public enum State: Equatable, Sendable {
        /// Waiting for the peer's HELLO.
        case handshake
        /// Version 1.3 agreed.
        case open
        /// Closed; the output may still hold a last ERROR to flush.
        case closed(CloseReason)
    }

    /// Why a channel closed.
    public enum CloseReason: Equatable, Sendable {
        /// A header with a length below 8: the stream cannot be framed any further.
        case badLength
        /// The peer supports no version we do (HELLO_FAILED/INCOMPATIBLE sent).
        case incompatible
        /// The first message was not a HELLO (HELLO_FAILED/EPERM sent).
        case noHello
        /// A reply would have pushed the output queue past `maxOutputBytes`.
        case outputOverflow
        /// No input for two probe intervals, the echo request unanswered.
        case idle
        /// The transport ended it (peer gone, shutdown, handshake deadline).
        case transport(String)
    }

    /// The handler answering requests.
    public let handler: any OFSwitchHandler
    /// The caps.
    public let limits: OFChannelLimits
    /// The state.
    public private(set) var state: State = .handshake
    /// The connection's role (EQUAL until a ROLE_REQUEST changes it).
    public private(set) var role: OFRoleMessage.Role = .equal
    /// The async configuration (SET_ASYNC).
    public private(set) var asyncConfig = OFAsyncConfig()
    /// Counts.
    public private(set) var counters = OFChannelCounters()
    /// Free-form label for logs (the peer's address).
    public var label: String

    private let generations: OFRoleGenerations
    private var generationID: UInt64 = 0
    private var input: [UInt8] = []
    private var inputHead = 0
    private var output: [UInt8] = []
    private var helloSent = false
    private var nextXID: UInt32 = 0x5B00_0000
    private var inputSinceTick = false
    private var echoOutstanding = false
    private var pendingMultipart: (xid: UInt32, parts: [OFMultipartRequest.Body], bytes: Int)?

    /// A channel answering with `handler`; `generations` is shared by the connections of one
    /// switch.
    public init(handler: any OFSwitchHandler, limits: OFChannelLimits = OFChannelLimits(),
                generations: OFRoleGenerations = OFRoleGenerations(), label: String = "") {
        self.handler = handler
        self.limits = limits
        self.generations = generations
        self.label = label
    }

    /// Queues our HELLO (version 1.3, with a version bitmap). Call once when connected.
    public func start() {
        guard !helloSent else { return }
        helloSent = true
        queue(OFCodec.encode(.hello(OFHello(elements: [.versionBitmap([1 << UInt32(OFCodec.version)])])), xid: takeXID()))
    }

    /// Whether the channel is closed.
    public var isClosed: Bool { if case .closed = state { return true } else { return false } }

    /// Bytes queued for the peer.
    public var pendingOutputBytes: Int { output.count }

    /// Whether the transport should keep reading: false while the output queue is above
    /// `readPauseBytes` (the peer is not reading its replies) or once closed.
    public var wantsInput: Bool { !isClosed && output.count < limits.readPauseBytes }

    /// Takes everything queued for the peer.
    public func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: output.count <= 64 << 10) }
        return output
    }

    /// Feeds received bytes: every whole message in them is handled in order; a partial one
    /// waits for the rest.
    public func receive(_ bytes: some Collection<UInt8>) {
        guard !isClosed else { return }
        if !bytes.isEmpty { inputSinceTick = true; echoOutstanding = false }
        input.append(contentsOf: bytes)
        while !isClosed {
            let available = input.count - inputHead
            guard available >= OFCodec.headerLength else { break }
            let length = Int(input[inputHead + 2]) << 8 | Int(input[inputHead + 3])
            if length < OFCodec.headerLength {
                let header = Array(input[inputHead..<inputHead + OFCodec.headerLength])
                inputHead = input.count
                counters.received += 1
                counters.undecodable += 1
                queueError(.badLen, offending: header)
                handler.decodeFailed(.badLen, message: header, channel: self)
                close(.badLength)
                break
            }
            guard available >= length else { break }
            let start = inputHead
            inputHead += length
            counters.received += 1
            handleMessage(start: start, length: length)
        }
        if isClosed {
            input = []
            inputHead = 0
        } else if inputHead == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 128 << 10)
            inputHead = 0
        } else if inputHead >= 64 << 10 {
            input.removeFirst(inputHead)
            inputHead = 0
        }
    }

    /// Queues an asynchronous message (PACKET_IN, FLOW_REMOVED, PORT_STATUS) unless the role
    /// and async configuration filter it out or the output queue is at `asyncOutputLimit`;
    /// returns whether it was queued (a drop is counted).
    @discardableResult
    public func sendAsync(_ message: OFMessage) -> Bool {
        guard state == .open, admitsAsync(message), output.count < limits.asyncOutputLimit else {
            counters.asyncDropped += 1
            return false
        }
        let bytes = OFCodec.encode(message, xid: 0)
        guard bytes.count <= OFCodec.maxLength else {
            counters.asyncDropped += 1
            return false
        }
        output.append(contentsOf: bytes)
        counters.asyncSent += 1
        return true
    }

    /// Called by the transport when queued output reached the socket: the peer is reading,
    /// so it is alive even while it sends nothing (or while we have stopped reading it).
    public func noteOutputProgress() {
        inputSinceTick = true
        echoOutstanding = false
    }

    /// Called by the transport every probe interval: a peer silent for a whole interval gets an
    /// ECHO_REQUEST; silent for the next one too, the channel closes (`.idle`).
    public func tick() {
        guard state == .open else { return }
        if inputSinceTick {
            inputSinceTick = false
            return
        }
        if echoOutstanding {
            close(.idle)
            return
        }
        echoOutstanding = true
        queue(OFCodec.encode(.echoRequest([]), xid: takeXID()))
    }

    /// Makes this connection a slave (another connection became master).
    public func demoteToSlave() {
        if role == .master { role = .slave }
    }

    /// Closes the channel (idempotent); the handler hears of it once.
    public func close(_ reason: CloseReason) {
        guard !isClosed else { return }
        state = .closed(reason)
        pendingMultipart = nil
        // The input buffer is released by `receive` once it stops: a handler may close the
        // channel from inside a request whose bytes are still being read.
        handler.channelClosed(self, reason: reason)
    }

    // MARK: - Handling

    private func takeXID() -> UInt32 {
        nextXID &+= 1
        return nextXID
    }

    private func queue(_ bytes: [UInt8]) {
        output.append(contentsOf: bytes)
    }

    /// Queues a reply; past the hard cap the channel closes instead, unless `whole` (a part of
    /// a multipart reply whose request arrived while the queue was short: see `multipart`).
    private func reply(_ message: OFMessage, xid: UInt32, whole: Bool = false) {
        let bytes = OFCodec.encode(message, xid: xid)
        if !whole && output.count + bytes.count > limits.maxOutputBytes {
            close(.outputOverflow)
            return
        }
        output.append(contentsOf: bytes)
    }

    private func queueError(_ error: OFError, offending: [UInt8]) {
        counters.errorsSent += 1
        let bytes = error.reply(to: offending)
        if output.count + bytes.count > limits.maxOutputBytes {
            close(.outputOverflow)
            return
        }
        output.append(contentsOf: bytes)
    }

    private func copy(_ start: Int, _ length: Int) -> [UInt8] { Array(input[start..<start + length]) }

    private func handleMessage(start: Int, length: Int) {
        let decoded: (xid: UInt32, message: OFMessage)
        do {
            decoded = try OFCodec.decode(input, start: start, length: length)
        } catch {
            let bytes = copy(start, length)
            counters.undecodable += 1
            if state == .handshake {
                // Only a HELLO may come first; a broken HELLO gets the same answer.
                failHandshake(bytes, isHello: input[start + 1] == 0)
                return
            }
            queueError(error, offending: bytes)
            handler.decodeFailed(error, message: bytes, channel: self)
            return
        }
        if state == .handshake {
            guard case .hello(let hello) = decoded.message else {
                failHandshake(copy(start, length), isHello: false)
                return
            }
            negotiate(hello, offending: copy(start, length))
            return
        }
        dispatch(decoded.message, xid: decoded.xid, start: start, length: length)
    }

    private func failHandshake(_ bytes: [UInt8], isHello: Bool) {
        start()
        let text = isHello ? "unreadable HELLO" : "expected HELLO first"
        counters.errorsSent += 1
        var xid: UInt32 = 0
        if let h = OFCodec.header(bytes) { xid = h.xid }
        queue(OFCodec.encode(.error(OFErrorMessage(type: OFError.ErrorType.helloFailed,
                                                   code: isHello ? OFError.helloIncompatible.code : OFError.helloEPERM.code,
                                                   data: Array(text.utf8))), xid: xid))
        close(isHello ? .incompatible : .noHello)
    }

    private func negotiate(_ hello: OFHello, offending: [UInt8]) {
        start()
        let ours = Int(OFCodec.version)
        let agreed: Bool
        if let bitmap = hello.versionBitmap {
            agreed = bitmap.count > ours / 32 && bitmap[ours / 32] & (1 << UInt32(ours % 32)) != 0
        } else {
            agreed = hello.version >= OFCodec.version
        }
        guard agreed else {
            counters.errorsSent += 1
            let xid = OFCodec.header(offending)?.xid ?? 0
            let text = "Switchboard supports OpenFlow 1.3 (0x04) only; peer offered \(hello.versionBitmap.map { "bitmap \($0)" } ?? "version \(hello.version)")"
            queue(OFCodec.encode(.error(OFErrorMessage(type: OFError.ErrorType.helloFailed, code: OFError.helloIncompatible.code,
                                                       data: Array(text.utf8))), xid: xid))
            close(.incompatible)
            return
        }
        state = .open
        handler.channelOpened(self)
    }

    /// Requests a slave may not make (spec 6.3.5): they change the switch's state.
    private func isModifying(_ message: OFMessage) -> Bool {
        switch message {
        case .packetOut, .flowMod, .groupMod, .portMod, .tableMod, .meterMod: return true
        case .multipartRequest(let m):
            if case .tableFeatures(let body) = m.body { return !body.isEmpty }
            return false
        default: return false
        }
    }

    private func dispatch(_ message: OFMessage, xid: UInt32, start: Int, length: Int) {
        if role == .slave && isModifying(message) {
            queueError(.isSlave, offending: copy(start, length))
            return
        }
        do throws(OFError) {
            switch message {
            case .hello:
                break  // a second HELLO changes nothing
            case .error(let e):
                handler.controllerError(e, xid: xid, channel: self)
            case .echoRequest(let data):
                reply(.echoReply(data), xid: xid)
            case .echoReply:
                break
            case .experimenter:
                throw .badExperimenter
            case .featuresRequest:
                reply(.featuresReply(handler.features(channel: self)), xid: xid)
            case .getConfigRequest:
                reply(.getConfigReply(handler.config(channel: self)), xid: xid)
            case .setConfig(let c):
                try handler.setConfig(c, channel: self)
            case .packetOut(let p):
                try handler.packetOut(p, channel: self)
            case .flowMod(let f):
                try handler.flowMod(f, channel: self)
            case .groupMod(let g):
                try handler.groupMod(g, channel: self)
            case .portMod(let p):
                try handler.portMod(p, channel: self)
            case .tableMod(let t):
                try handler.tableMod(t, channel: self)
            case .multipartRequest(let m):
                try multipart(m, xid: xid)
            case .barrierRequest:
                handler.barrier(channel: self)
                reply(.barrierReply, xid: xid)
            case .queueGetConfigRequest(let port):
                reply(.queueGetConfigReply(port: port, queues: []), xid: xid)
            case .roleRequest(let r):
                try roleRequest(r, xid: xid)
            case .getAsyncRequest:
                reply(.getAsyncReply(asyncConfig), xid: xid)
            case .setAsync(let c):
                asyncConfig = c
            case .meterMod(let m):
                // No meters: deleting is a no-op, adding finds no room, modifying finds none.
                if m.command == 2 { break }
                throw m.command == 0 ? .meterOutOfMeters : .meterUnknownMeter
            case .featuresReply, .getConfigReply, .packetIn, .flowRemoved, .portStatus, .multipartReply,
                 .barrierReply, .queueGetConfigReply, .roleReply, .getAsyncReply:
                // Switch-to-controller messages make no sense in this direction.
                throw .badType
            }
        } catch {
            queueError(error, offending: copy(start, length))
        }
    }

    private func roleRequest(_ r: OFRoleMessage, xid: UInt32) throws(OFError) {
        guard let requested = OFRoleMessage.Role(rawValue: r.role) else { throw .roleBad }
        switch requested {
        case .noChange:
            break
        case .equal:
            if role != .equal { role = .equal; handler.roleChanged(.equal, channel: self) }
        case .master, .slave:
            guard generations.admit(r.generationID) else { throw .roleStale }
            generationID = r.generationID
            if role != requested { role = requested; handler.roleChanged(requested, channel: self) }
        }
        reply(.roleReply(OFRoleMessage(role: role, generationID: generationID)), xid: xid)
    }

    private func multipart(_ m: OFMultipartRequest, xid: UInt32) throws(OFError) {
        var body = m.body
        if var pending = pendingMultipart, pending.xid == xid {
            pendingMultipart = nil
            guard pending.parts[0].typeCode == body.typeCode else { throw .badMultipart }
            pending.parts.append(body)
            pending.bytes += body.rawBytes
            guard pending.bytes <= limits.maxMultipartRequestBytes else { throw .multipartBufferOverflow }
            if m.flags & OFMultipartType.more != 0 {
                pendingMultipart = pending
                return
            }
            body = OFMultipartRequest.Body.merge(pending.parts)
        } else if m.flags & OFMultipartType.more != 0 {
            // A new request replaces an unfinished one with another xid.
            guard body.rawBytes <= limits.maxMultipartRequestBytes else { throw .multipartBufferOverflow }
            pendingMultipart = (xid, [body], body.rawBytes)
            return
        }
        // A request read while the queue was below the read pause gets its whole reply, however
        // large (a dump of 100,000 flows is about 10 MB): the hard cap is for a controller that
        // keeps asking without reading, and a reply this size already pauses reading, so the
        // next request that finds the queue long is held to the cap. At most one such reply is
        // queued beyond the cap.
        let whole = output.count < limits.readPauseBytes
        let answer = try handler.multipart(body, channel: self)
        guard answer.typeCode == body.typeCode else { throw .badMultipart }
        let parts = answer.split(maxBodyBytes: OFCodec.maxLength - 16)
        for (i, part) in parts.enumerated() {
            reply(.multipartReply(OFMultipartReply(flags: i + 1 < parts.count ? OFMultipartType.more : 0, body: part)), xid: xid,
                  whole: whole)
            if isClosed { return }
        }
    }

    private func admitsAsync(_ message: OFMessage) -> Bool {
        let slot = role == .slave ? 1 : 0
        let mask: UInt32, reason: UInt8
        switch message {
        case .packetIn(let p): mask = Self.pick(asyncConfig.packetInMask, slot); reason = p.reason
        case .portStatus(let s): mask = Self.pick(asyncConfig.portStatusMask, slot); reason = s.reason
        case .flowRemoved(let f): mask = Self.pick(asyncConfig.flowRemovedMask, slot); reason = f.reason
        default: return true
        }
        return reason < 32 && mask & (1 << UInt32(reason)) != 0
    }

    /// The mask of `masks` for `slot` (0 master/equal, 1 slave); 0 when the array is short.
    private static func pick(_ masks: [UInt32], _ slot: Int) -> UInt32 {
        masks.count > slot ? masks[slot] : 0
    }
}

extension OFCodec {
    /// Decodes the message at `bytes[start..<start + length]` (the framing already checked the
    /// length against the header).
    static func decode(_ bytes: [UInt8], start: Int, length: Int) throws(OFError) -> (xid: UInt32, message: OFMessage) {
        let version = bytes[start], type = bytes[start + 1]
        let declared = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
        guard declared == length, length >= headerLength else { throw .badLen }
        var xid: UInt32 = 0
        for i in 4..<8 { xid = xid << 8 | UInt32(bytes[start + i]) }
        if version != OFCodec.version && type != 0 && type != 1 { throw .badVersion }
        var r = OFReader(bytes, start: start + headerLength, end: start + length)
        return (xid, try decodeBody(type: type, version: version, &r))
    }
}
