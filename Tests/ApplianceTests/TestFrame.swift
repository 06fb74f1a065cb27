// ApplianceTests: builds the Ethernet/ARP/IPv4/ICMP/UDP frames the test sends to the appliance
// and reads fields of the frames it answers with (byte arrays, big-endian fields).
import Foundation

/// Frame builders and field readers for talking to the appliance over a socket link.
enum TestFrame {
    static let broadcast: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]

    static func be16(_ value: Int) -> [UInt8] { [UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }
    static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }
    static func be64(_ value: UInt64) -> [UInt8] { be32(UInt32(value >> 32)) + be32(UInt32(value & 0xffff_ffff)) }

    /// Reads a big-endian integer of `size` bytes at `offset`; 0 when out of range.
    static func field(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> UInt64 {
        guard offset >= 0, offset + size <= bytes.count else { return 0 }
        return bytes[offset..<(offset + size)].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The Internet checksum (RFC 1071) of `bytes`, starting from `initial`.
    static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        var sum = UInt64(initial)
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt64(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func ethernet(to destination: [UInt8], from source: [UInt8], type: Int, _ payload: [UInt8]) -> [UInt8] {
        let frame = destination + source + be16(type) + payload
        return frame.count < 60 ? frame + [UInt8](repeating: 0, count: 60 - frame.count) : frame
    }

    static func arpRequest(from mac: [UInt8], ip: [UInt8], for target: [UInt8]) -> [UInt8] {
        let arp = be16(1) + be16(0x0800) + [6, 4] + be16(1) + mac + ip + [UInt8](repeating: 0, count: 6) + target
        return ethernet(to: broadcast, from: mac, type: 0x0806, arp)
    }

    static func ipv4(from source: [UInt8], to destination: [UInt8], protocol number: UInt8, _ payload: [UInt8],
                     flagsAndOffset: Int = 0x4000) -> [UInt8] {
        var header = [0x45, 0] + be16(20 + payload.count) + be16(0x1234) + be16(flagsAndOffset) + [64, number]
            + [0, 0] + source + destination
        let sum = checksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xff)
        return header + payload
    }

    static func icmpEcho(id: Int, sequence: Int, _ payload: [UInt8]) -> [UInt8] {
        var icmp = [8, 0, 0, 0] + be16(id) + be16(sequence) + payload
        let sum = checksum(icmp)
        icmp[2] = UInt8(sum >> 8)
        icmp[3] = UInt8(sum & 0xff)
        return icmp
    }

    /// The sum of the IPv4 pseudo-header, for UDP checksums.
    static func pseudoHeaderSum(_ source: [UInt8], _ destination: [UInt8], length: Int) -> UInt32 {
        let words = (source + destination).chunked2()
        return words.reduce(0, +) + 17 + UInt32(length)
    }

    static func udp(from source: [UInt8], to destination: [UInt8], sourcePort: Int, destinationPort: Int,
                    _ payload: [UInt8]) -> [UInt8] {
        var datagram = be16(sourcePort) + be16(destinationPort) + be16(8 + payload.count) + [0, 0] + payload
        let sum = checksum(datagram, initial: pseudoHeaderSum(source, destination, length: datagram.count))
        datagram[6] = UInt8(sum >> 8)
        datagram[7] = UInt8(sum & 0xff)
        return datagram
    }

    /// A flow datagram of the appliance's format (docs/appliance.md), `size` bytes.
    static func flowMessage(type: UInt8, id: UInt32, sequence: UInt64, size: Int = 64) -> [UInt8] {
        let header = be32(0x5342_464c) + [type, 1, 0, 0] + be32(id) + be32(0) + be64(sequence) + be64(0)
        return header + [UInt8](repeating: 0xa5, count: max(0, size - header.count))
    }
}

extension Array where Element == UInt8 {
    /// Big-endian 16-bit words (the last odd byte padded with zero).
    func chunked2() -> [UInt32] {
        stride(from: 0, to: count, by: 2).map { index in
            UInt32(self[index]) << 8 | (index + 1 < count ? UInt32(self[index + 1]) : 0)
        }
    }
}
