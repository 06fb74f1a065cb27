// TestFrames: hand-built Ethernet II frames (IPv4 + ICMP echo, ARP request, IPv4 + UDP)
// with correct IPv4, ICMP and UDP checksums, for Capture tests.

/// Builders for well-formed test frames as byte arrays.
enum TestFrames {
    static let macA: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a]
    static let macB: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b]
    static let broadcast: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    static let ipA: [UInt8] = [10, 0, 0, 1]
    static let ipB: [UInt8] = [10, 0, 0, 2]

    /// Ethernet II header: destination, source, EtherType.
    static func ethernet(dst: [UInt8], src: [UInt8], etherType: UInt16) -> [UInt8] {
        dst + src + be16(etherType)
    }

    /// IPv4 header (20 bytes, DF, TTL 64) with a correct header checksum.
    static func ipv4Header(src: [UInt8], dst: [UInt8], protocolNumber: UInt8, payloadLength: Int,
                           identification: UInt16 = 1) -> [UInt8] {
        var header: [UInt8] = [0x45, 0x00]
        header += be16(UInt16(20 + payloadLength))
        header += be16(identification)
        header += [0x40, 0x00, 64, protocolNumber, 0, 0]
        header += src + dst
        let sum = internetChecksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xff)
        return header
    }

    /// Ethernet + IPv4 + ICMP echo request with `payloadLength` payload bytes.
    static func icmpEcho(src: [UInt8] = macA, dst: [UInt8] = macB, sequence: UInt16 = 1,
                         payloadLength: Int = 56) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0]
        icmp += be16(0x1234) + be16(sequence)
        icmp += (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0) }
        let sum = internetChecksum(icmp)
        icmp[2] = UInt8(sum >> 8)
        icmp[3] = UInt8(sum & 0xff)
        return ethernet(dst: dst, src: src, etherType: 0x0800)
            + ipv4Header(src: ipA, dst: ipB, protocolNumber: 1, payloadLength: icmp.count,
                         identification: sequence)
            + icmp
    }

    /// Ethernet broadcast ARP request "who has ipB, tell ipA", padded to 60 bytes.
    static func arpRequest(src: [UInt8] = macA) -> [UInt8] {
        var frame = ethernet(dst: broadcast, src: src, etherType: 0x0806)
        frame += be16(1) + be16(0x0800) + [6, 4] + be16(1)
        frame += src + ipA + [0, 0, 0, 0, 0, 0] + ipB
        frame += [UInt8](repeating: 0, count: max(0, 60 - frame.count))
        return frame
    }

    /// Ethernet + IPv4 + UDP with a correct UDP checksum (pseudo-header included).
    static func udp(src: [UInt8] = macA, dst: [UInt8] = macB, sourcePort: UInt16 = 40000,
                    destinationPort: UInt16 = 9, payloadLength: Int = 32) -> [UInt8] {
        let payload = (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let udpLength = 8 + payload.count
        var segment = be16(sourcePort) + be16(destinationPort) + be16(UInt16(udpLength)) + [0, 0] + payload
        let pseudo = ipA + ipB + [0, 17] + be16(UInt16(udpLength))
        var sum = internetChecksum(pseudo + segment)
        if sum == 0 { sum = 0xffff }
        segment[6] = UInt8(sum >> 8)
        segment[7] = UInt8(sum & 0xff)
        return ethernet(dst: dst, src: src, etherType: 0x0800)
            + ipv4Header(src: ipA, dst: ipB, protocolNumber: 17, payloadLength: segment.count)
            + segment
    }

    /// An Ethernet frame of exactly `length` bytes (local experimental EtherType 0x88b5).
    static func filler(length: Int, tag: Int) -> [UInt8] {
        var frame = ethernet(dst: broadcast, src: macA, etherType: 0x88b5)
        frame += (0..<max(0, length - frame.count)).map { UInt8(truncatingIfNeeded: $0 &+ tag) }
        return frame
    }

    /// RFC 1071 one's-complement sum of 16-bit big-endian words, complemented.
    static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    /// Colon notation of a MAC given as bytes, lower case (as tshark prints eth.src).
    static func macString(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
