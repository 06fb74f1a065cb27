// Shared helpers for the flow-table tests: frames (IPv4, IPv6, ARP, tagged), a pipeline
// with a pool, running a frame and collecting the output frames, checksum checks.

import Frames
@testable import FlowTables

let macA = MACAddress(rawValue: 0x0200_0000_000A)
let macB = MACAddress(rawValue: 0x0200_0000_000B)
let ipA = IPv4Address(10, 0, 0, 1)
let ipB = IPv4Address(10, 0, 0, 2)

/// A UDP/IPv4 frame, optionally tagged.
func udpFrame(src: IPv4Address = ipA, dst: IPv4Address = ipB, sport: UInt16 = 1000, dport: UInt16 = 2000,
              vlan: UInt16? = nil, pcp: UInt8 = 0, srcMAC: MACAddress = macA, dstMAC: MACAddress = macB,
              ttl: UInt8 = 64) -> [UInt8] {
    let udp = FrameBuilder.udp(source: src, destination: dst, sourcePort: sport, destinationPort: dport,
                               payload: Array("flow table payload".utf8))
    let ip = FrameBuilder.ipv4(source: src, destination: dst, protocol: IPProtocol.udp, payload: udp, ttl: ttl)
    let tags = vlan.map { [VLANTag(vid: $0, pcp: pcp)] } ?? []
    return FrameBuilder.padded(FrameBuilder.ethernet(destination: dstMAC, source: srcMAC, tags: tags, etherType: EtherType.ipv4, payload: ip))
}

/// A TCP/IPv4 SYN frame.
func tcpFrame(src: IPv4Address = ipA, dst: IPv4Address = ipB, sport: UInt16 = 1000, dport: UInt16 = 80) -> [UInt8] {
    let tcp = FrameBuilder.tcp(source: src, destination: dst, sourcePort: sport, destinationPort: dport, sequence: 1, flags: .syn,
                               payload: Array("hello".utf8))
    let ip = FrameBuilder.ipv4(source: src, destination: dst, protocol: IPProtocol.tcp, payload: tcp)
    return FrameBuilder.padded(FrameBuilder.ethernet(destination: macB, source: macA, etherType: EtherType.ipv4, payload: ip))
}

/// An ICMP echo request frame.
func icmpFrame() -> [UInt8] { FrameBuilder.ping(from: macA, ipA, to: macB, ipB) }

/// An IPv6 frame carrying TCP (or UDP) with a correct checksum.
func ipv6Frame(src: IPv6Bits, dst: IPv6Bits, proto: UInt8 = 6, sport: UInt16 = 1234, dport: UInt16 = 443,
               hopLimit: UInt8 = 64, trafficClass: UInt8 = 0) -> [UInt8] {
    var l4: [UInt8]
    if proto == 6 {
        l4 = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0,
              0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0] + Array("v6 data".utf8)
    } else {
        let len = 8 + 7
        l4 = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF), UInt8(len >> 8), UInt8(len & 0xFF), 0, 0]
            + Array("v6 data".utf8)
    }
    let sum = ipv6TransportChecksum(src: src, dst: dst, proto: proto, segment: l4)
    let at = proto == 6 ? 16 : 6
    l4[at] = UInt8(sum >> 8); l4[at + 1] = UInt8(sum & 0xFF)
    var ip: [UInt8] = [0x60 | trafficClass >> 4, trafficClass << 4, 0, 0, UInt8(l4.count >> 8), UInt8(l4.count & 0xFF), proto, hopLimit]
    ip += bytes(src) + bytes(dst)
    return FrameBuilder.ethernet(destination: macB, source: macA, etherType: EtherType.ipv6, payload: ip + l4)
}

func bytes(_ a: IPv6Bits) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: a.high >> UInt64(56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: a.low >> UInt64(56 - 8 * $0)) }
}

/// The IPv6 pseudo-header checksum of a segment (0 when the stored checksum is right).
func ipv6TransportChecksum(src: IPv6Bits, dst: IPv6Bits, proto: UInt8, segment: [UInt8]) -> UInt16 {
    var c = InternetChecksum()
    c.add(bytes(src)); c.add(bytes(dst))
    c.add(word: UInt16(segment.count >> 16)); c.add(word: UInt16(segment.count & 0xFFFF))
    c.add(word: 0); c.add(word: UInt16(proto))
    c.add(segment)
    return c.value
}

/// Offset of the IPv4/IPv6 header in a frame (after any tags).
func l3Offset(_ f: [UInt8]) -> Int {
    var off = 12
    while f[off] == 0x81 && f[off + 1] == 0x00 || f[off] == 0x88 && f[off + 1] == 0xA8 { off += 4 }
    return off + 2
}

/// True when the IPv4 header checksum and the TCP/UDP/ICMP checksum of the frame verify.
func ipv4ChecksumsValid(_ f: [UInt8]) -> Bool {
    let l3 = l3Offset(f)
    let ihl = Int(f[l3] & 0x0F) * 4
    let total = Int(f[l3 + 2]) << 8 | Int(f[l3 + 3])
    guard InternetChecksum.of(Array(f[l3..<l3 + ihl])) == 0 else { return false }
    let segment = Array(f[(l3 + ihl)..<(l3 + total)])
    let src = IPv4Address(rawValue: UInt32(f[l3 + 12]) << 24 | UInt32(f[l3 + 13]) << 16 | UInt32(f[l3 + 14]) << 8 | UInt32(f[l3 + 15]))
    let dst = IPv4Address(rawValue: UInt32(f[l3 + 16]) << 24 | UInt32(f[l3 + 17]) << 16 | UInt32(f[l3 + 18]) << 8 | UInt32(f[l3 + 19]))
    switch f[l3 + 9] {
    case 1: return InternetChecksum.of(segment) == 0
    case 6, 17: return segment.withUnsafeBytes { InternetChecksum.transport(source: src, destination: dst, protocol: f[l3 + 9], segment: $0) } == 0
    default: return true
    }
}

/// A pipeline with a pool, and helpers to push frames through it.
final class Harness {
    let pool: PacketPool
    let pipeline: FlowPipeline
    var now: Int64 = 1_000_000_000

    init(_ configuration: FlowPipelineConfiguration = FlowPipelineConfiguration(), poolSize: Int = 1024) {
        pool = PacketPool(capacity: poolSize)
        pipeline = try! FlowPipeline(configuration: configuration, pool: pool)
    }

    /// A flow-mod add; traps on an error (use `pipeline.apply` to test errors).
    func add(table: UInt8 = 0, priority: UInt16 = 100, cookie: UInt64 = 0, flags: FlowModFlags = [], idle: UInt16 = 0,
             hard: UInt16 = 0, _ match: FlowMatch = FlowMatch(), _ instructions: [FlowInstruction]) {
        try! pipeline.apply(FlowMod(command: .add, tableID: table, priority: priority, cookie: cookie, idleTimeout: idle,
                                    hardTimeout: hard, flags: flags, match: match, instructions: instructions), now: now)
    }

    /// Runs one frame and returns its decisions with the output frames' bytes; releases them.
    @discardableResult
    func run(_ bytes: [UInt8], inPort: UInt32 = 1) -> [(decision: FlowDecision, frame: [UInt8])] {
        let h = pool.make(copying: bytes)!
        let free = pool.available
        pipeline.process(h, inPort: inPort, now: now)
        var out: [(FlowDecision, [UInt8])] = []
        for d in pipeline.decisions {
            out.append((d, Array(pool.bytes(d.handle))))
            pool.release(d.handle)
        }
        precondition(pool.available == free + 1, "pipeline leaked or over-released pool slots")
        return out
    }

    /// The output ports (reserved ports by their kind) of one frame.
    func ports(_ bytes: [UInt8], inPort: UInt32 = 1) -> [UInt32] {
        run(bytes, inPort: inPort).map { $0.decision.kind == .output ? $0.decision.port : 0xFFFF_FF00 + UInt32($0.decision.kind.rawValue) }
    }
}

/// apply-actions output to a port.
func out(_ port: UInt32) -> FlowInstruction { .applyActions([.output(port: port)]) }

extension FlowMatch {
    /// A match built by a closure (tests read better).
    static func with(_ body: (inout FlowMatch) -> Void) -> FlowMatch {
        var m = FlowMatch()
        body(&m)
        return m
    }
}
