import Testing
@testable import Frames

private let macA = MACAddress(0x02, 0, 0, 0, 0, 0x0a)
private let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0b)
private let ipA = IPv4Address(10, 0, 0, 1)
private let ipB = IPv4Address(10, 0, 0, 2)

@Suite struct EthernetFrameTests {
    @Test func untaggedFrame() throws {
        let bytes = FrameBuilder.ping(from: macA, ipA, to: macB, ipB)
        try bytes.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            #expect(frame.destination == macB && frame.source == macA)
            #expect(frame.tag == nil && frame.outerTag == nil)
            #expect(frame.etherType == EtherType.ipv4 && frame.payloadOffset == 14)
        }
    }

    @Test func singleAndDoubleTags() throws {
        let single = FrameBuilder.ethernet(destination: macB, source: macA, tags: [VLANTag(vid: 10, pcp: 5)],
                                           etherType: EtherType.arp, payload: [UInt8](repeating: 0, count: 28))
        try single.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            #expect(frame.tag?.vid == 10 && frame.tag?.pcp == 5 && frame.outerTag == nil)
            #expect(frame.etherType == EtherType.arp && frame.payloadOffset == 18)
        }
        let qinq = FrameBuilder.ethernet(destination: macB, source: macA,
                                         tags: [VLANTag(tpid: EtherType.qinq, vid: 100), VLANTag(vid: 20)],
                                         etherType: EtherType.ipv4, payload: [])
        try qinq.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            #expect(frame.outerTag?.vid == 100 && frame.outerTag?.isServiceTag == true)
            #expect(frame.tag?.vid == 20 && frame.payloadOffset == 22)
        }
    }

    @Test(arguments: [0, 1, 13])
    func runtsAreRejected(_ length: Int) {
        let bytes = [UInt8](repeating: 0xff, count: length)
        bytes.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.runt(length: length)) { try EthernetFrame(raw) }
        }
    }

    @Test func truncatedTagsAreRejected() {
        // 802.1Q TPID with only two of the four tag bytes and no inner EtherType.
        let cut: [UInt8] = macB.bytes + macA.bytes + [0x81, 0x00, 0x00, 0x0a]
        cut.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.truncatedTag(offset: 12)) { try EthernetFrame(raw) }
        }
        let cutInner: [UInt8] = macB.bytes + macA.bytes + [0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00]
        cutInner.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.truncatedTag(offset: 16)) { try EthernetFrame(raw) }
        }
    }
}

@Suite struct ProtocolViewTests {
    @Test func pingParsesThroughEveryLayer() throws {
        let bytes = FrameBuilder.ping(from: macA, ipA, to: macB, ipB, vlan: 10, sequence: 7)
        try bytes.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            let ip = try IPv4Packet(frame: frame)
            #expect(ip.source == ipA && ip.destination == ipB && ip.protocol == IPProtocol.icmp)
            #expect(ip.isHeaderChecksumValid)
            let icmp = try ICMPMessage(packet: ip)
            #expect(icmp.type == ICMPMessage.echoRequest && icmp.sequence == 7 && icmp.isChecksumValid)
        }
    }

    @Test func arpRequest() throws {
        let bytes = FrameBuilder.arpRequest(from: macA, ipA, for: ipB)
        try bytes.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            #expect(frame.destination.isBroadcast)
            let arp = try ARPPacket(frame: frame)
            #expect(arp.operation == .request && arp.senderMAC == macA && arp.senderIP == ipA && arp.targetIP == ipB)
        }
    }

    @Test func udpAndTCPChecksumsVerify() throws {
        let udp = FrameBuilder.udp(source: ipA, destination: ipB, sourcePort: 5000, destinationPort: 7, payload: [1, 2, 3])
        let ip = FrameBuilder.ipv4(source: ipA, destination: ipB, protocol: IPProtocol.udp, payload: udp)
        try ip.withUnsafeBytes { raw in
            let packet = try IPv4Packet(raw)
            let datagram = try UDPDatagram(packet: packet)
            #expect(datagram.sourcePort == 5000 && datagram.destinationPort == 7 && datagram.payload.count == 3)
            #expect(InternetChecksum.transport(source: ipA, destination: ipB, protocol: IPProtocol.udp,
                                               segment: datagram.bytes) == 0)
        }
        let tcp = FrameBuilder.tcp(source: ipA, destination: ipB, sourcePort: 40000, destinationPort: 80,
                                   sequence: 0xdeadbeef, flags: [.syn], payload: [9])
        try tcp.withUnsafeBytes { raw in
            let segment = try TCPSegment(raw)
            #expect(segment.flags == [.syn] && segment.sequenceNumber == 0xdeadbeef && segment.payload.count == 1)
            #expect(InternetChecksum.transport(source: ipA, destination: ipB, protocol: IPProtocol.tcp, segment: raw) == 0)
        }
    }

    @Test func lyingLengthsAreRejected() {
        var ip = FrameBuilder.ipv4(source: ipA, destination: ipB, protocol: IPProtocol.udp, payload: [UInt8](repeating: 0, count: 8))
        ip.storeBE16(200, at: 2) // total length beyond the buffer
        ip.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.badLength(protocol: "IPv4", field: 200, available: 28)) { try IPv4Packet(raw) }
        }
        var badIHL = ip
        badIHL[0] = 0x43
        badIHL.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.badField(protocol: "IPv4", field: "IHL", value: 3)) { try IPv4Packet(raw) }
        }
        let udp: [UInt8] = [0, 1, 0, 2, 0, 50, 0, 0, 1]
        udp.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.badLength(protocol: "UDP", field: 50, available: 9)) { try UDPDatagram(raw) }
        }
        var tcp = [UInt8](repeating: 0, count: 20)
        tcp[12] = 0xF0 // data offset 60 > 20 bytes
        tcp.withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.badLength(protocol: "TCP", field: 60, available: 20)) { try TCPSegment(raw) }
        }
        [UInt8](repeating: 0, count: 27).withUnsafeBytes { raw in
            _ = #expect(throws: FrameError.truncatedHeader(protocol: "ARP", needed: 28, available: 27)) { try ARPPacket(raw) }
        }
    }

    /// Fuzz-style: every prefix of a valid frame parses or fails cleanly, never traps.
    @Test func everyPrefixFailsCleanly() {
        let bytes = FrameBuilder.ping(from: macA, ipA, to: macB, ipB, vlan: 42)
        for length in 0...bytes.count {
            Array(bytes[0..<length]).withUnsafeBytes { raw in
                guard let frame = try? EthernetFrame(raw) else { return }
                guard let ip = try? IPv4Packet(frame: frame) else { return }
                _ = try? ICMPMessage(packet: ip)
            }
        }
    }
}

@Suite struct ChecksumTests {
    /// The worked example of RFC 1071 section 3: the sum of these bytes is 0xddf2.
    @Test func rfc1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        #expect(InternetChecksum.of(bytes) == ~UInt16(0xddf2))
    }

    @Test func oddLengthsAndSplitsAgree() {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        var split = InternetChecksum()
        split.add(Array(bytes[0..<3]))
        split.add(Array(bytes[3...]))
        #expect(split.value == InternetChecksum.of(bytes))
    }

    @Test func ipv4AddressParsing() {
        #expect(IPv4Address("192.0.2.1")?.description == "192.0.2.1")
        for bad in ["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }
}
