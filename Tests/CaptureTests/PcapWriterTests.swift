// PcapWriterTests: round trips through our reader, tcpdump and tshark; snap length,
// filters, errors and the no-allocation write path.
import CAllocationCounter
import Capture
import Foundation
import TestSupport
import Testing

@Suite struct PcapWriterTests {
    /// Distinct nanosecond digits per frame so a lost or rounded digit shows.
    static func timestamp(_ index: Int) -> UInt64 {
        1_700_000_000_123_456_789 + UInt64(index) * 1_000_000_007
    }

    /// "1700000000.123456789" for a timestamp in ns.
    static func epochString(_ nanoseconds: UInt64) -> String {
        let fraction = String(nanoseconds % 1_000_000_000)
        return "\(nanoseconds / 1_000_000_000)." + String(repeating: "0", count: 9 - fraction.count) + fraction
    }

    static func mixedFrames() -> [[UInt8]] {
        [TestFrames.icmpEcho(sequence: 1), TestFrames.arpRequest(), TestFrames.udp(),
         TestFrames.icmpEcho(src: TestFrames.macB, dst: TestFrames.macA, sequence: 2, payloadLength: 100),
         TestFrames.udp(src: TestFrames.macB, dst: TestFrames.macA, payloadLength: 300)]
    }

    @Test func roundTripThroughOurReader() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("round.pcap")
        let frames = Self.mixedFrames()
        let writer = try PcapWriter(path: path)
        for (index, frame) in frames.enumerated() {
            #expect(try writer.write(frame, timestampNanoseconds: Self.timestamp(index)))
        }
        try writer.close()
        try writer.close() // idempotent
        #expect(writer.framesWritten == UInt64(frames.count))
        #expect(writer.framesFilteredOut == 0)
        #expect(writer.filesOpened == 1)
        let fileSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(fileSize.map(UInt64.init) == writer.bytesWritten)

        let reader = try PcapReader(path: path)
        let packets = try reader.readAll()
        #expect(packets.count == frames.count)
        for (index, packet) in packets.enumerated() where index < frames.count {
            #expect(packet.bytes == frames[index])
            #expect(packet.timestampNanoseconds == Self.timestamp(index))
            #expect(packet.capturedLength == frames[index].count)
            #expect(packet.originalLength == frames[index].count)
        }
        #expect(try reader.next() == nil)
        #expect(reader.packetsRead == UInt64(frames.count))
    }

    @Test func zeroCopyReadSeesSameBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("zc.pcap")
        let frame = TestFrames.icmpEcho()
        let writer = try PcapWriter(path: path)
        let written = try frame.withUnsafeBytes { bytes in
            try writer.write(bytes, timestampNanoseconds: 42)
        }
        #expect(written)
        try writer.close()
        let reader = try PcapReader(path: path)
        let seen = try reader.withNextPacket { bytes, timestamp, originalLength in
            (Array(bytes), timestamp, originalLength)
        }
        #expect(seen?.0 == frame)
        #expect(seen?.1 == 42)
        #expect(seen?.2 == frame.count)
        #expect(try reader.withNextPacket { _, _, _ in 1 } == nil)
    }

    @Test func tcpdumpReadsNanosecondTimestamps() throws {
        guard let tcpdump = ExternalTool.require("tcpdump", for: "tcpdumpReadsNanosecondTimestamps") else { return }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("ns.pcap")
        let frames = Self.mixedFrames()
        let writer = try PcapWriter(path: path)
        for (index, frame) in frames.enumerated() {
            try writer.write(frame, timestampNanoseconds: Self.timestamp(index))
        }
        try writer.close()

        let (status, output) = try tcpdump.run(["-r", path, "-nn", "--nano", "-tt"])
        #expect(status == 0)
        let lines = output.split(separator: "\n").filter { !$0.hasPrefix("\t") && !$0.hasPrefix(" ") }
        #expect(lines.count == frames.count)
        for (index, line) in lines.enumerated() {
            #expect(line.hasPrefix(Self.epochString(Self.timestamp(index)) + " "), "tcpdump line: \(line)")
        }
        #expect(lines.first?.contains("ICMP echo request") == true)
        #expect(lines.dropFirst().first?.contains("ARP, Request who-has 10.0.0.2 tell 10.0.0.1") == true)
        #expect(lines.dropFirst(2).first?.contains("UDP, length 32") == true)
    }

    @Test func tsharkSeesMacsLengthsAndGoodChecksums() throws {
        guard let tshark = ExternalTool.require("tshark", for: "tsharkSeesMacsLengthsAndGoodChecksums") else { return }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("shark.pcap")
        let frames = Self.mixedFrames()
        let writer = try PcapWriter(path: path)
        for (index, frame) in frames.enumerated() {
            try writer.write(frame, timestampNanoseconds: Self.timestamp(index))
        }
        try writer.close()

        let (status, output) = try tshark.run([
            "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "eth.src",
            "-e", "frame.len", "-e", "frame.cap_len"])
        #expect(status == 0)
        let rows = output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(rows.count == frames.count)
        for (index, row) in rows.enumerated() where index < frames.count {
            #expect(row.count == 4)
            guard row.count == 4 else { continue }
            #expect(String(row[0]) == Self.epochString(Self.timestamp(index)))
            #expect(String(row[1]) == TestFrames.macString(Array(frames[index][6..<12])))
            #expect(String(row[2]) == String(frames[index].count))
            #expect(String(row[3]) == String(frames[index].count))
        }

        // Checksums: tshark validates IPv4/UDP when asked; ICMP always. 1 = "Good".
        let (checkStatus, checks) = try tshark.run([
            "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-T", "fields", "-e", "ip.checksum.status", "-e", "icmp.checksum.status",
            "-e", "udp.checksum.status", "-e", "_ws.expert.severity"])
        #expect(checkStatus == 0)
        let checkRows = checks.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(checkRows.count == frames.count)
        for row in checkRows {
            let fields = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            for field in fields.prefix(3) where !field.isEmpty {
                #expect(field == "1", "checksum status row: \(row)")
            }
        }
    }

    @Test func snapLengthTruncatesButKeepsOriginalLength() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("snap.pcap")
        let long = TestFrames.udp(payloadLength: 500) // 42 + 500 bytes
        let short = TestFrames.arpRequest()            // 60 bytes
        let writer = try PcapWriter(path: path, options: .init(snapLength: 100))
        try writer.write(long, timestampNanoseconds: Self.timestamp(0))
        try writer.write(short, timestampNanoseconds: Self.timestamp(1))
        try writer.close()
        #expect(writer.framesTruncated == 1)

        let packets = try PcapReader(path: path).readAll()
        #expect(packets.count == 2)
        #expect(packets.first?.capturedLength == 100)
        #expect(packets.first?.originalLength == long.count)
        #expect(packets.first?.bytes == Array(long.prefix(100)))
        #expect(packets.first?.isTruncated == true)
        #expect(packets.last?.bytes == short)

        guard let tshark = ExternalTool.require("tshark", for: "snapLengthTruncatesButKeepsOriginalLength") else { return }
        let (_, output) = try tshark.run(["-r", path, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"])
        #expect(output.split(separator: "\n") == ["\(long.count)\t100", "\(short.count)\t\(short.count)"])
    }

    @Test func filterWritesOnlyMatchingFrames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("filter.pcap")
        let frames = Self.mixedFrames() // icmp, arp, udp, icmp, udp
        let writer = try PcapWriter(path: path, options: .init(filter: "icmp or arp"))
        var accepted: [Bool] = []
        for (index, frame) in frames.enumerated() {
            accepted.append(try writer.write(frame, timestampNanoseconds: Self.timestamp(index)))
        }
        try writer.close()
        #expect(accepted == [true, true, false, true, false])
        #expect(writer.framesWritten == 3)
        #expect(writer.framesFilteredOut == 2)

        let packets = try PcapReader(path: path).readAll()
        #expect(packets.map(\.bytes) == [frames[0], frames[1], frames[3]])
        #expect(packets.map(\.timestampNanoseconds) == [Self.timestamp(0), Self.timestamp(1), Self.timestamp(3)])

        guard let tshark = ExternalTool.require("tshark", for: "filterWritesOnlyMatchingFrames") else { return }
        let (_, output) = try tshark.run(["-r", path, "-T", "fields", "-e", "frame.protocols"])
        #expect(output.split(separator: "\n") == ["eth:ethertype:ip:icmp:data", "eth:ethertype:arp", "eth:ethertype:ip:icmp:data"])
    }

    @Test func invalidFilterCarriesLibpcapMessage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("bad.pcap")
        do {
            _ = try PcapWriter(path: path, options: .init(filter: "icmp and and"))
            Issue.record("a bad filter was accepted")
        } catch let CaptureError.invalidFilter(expression, message) {
            #expect(expression == "icmp and and")
            #expect(message.contains("syntax error"), "libpcap message: \(message)")
            #expect(CaptureError.invalidFilter(expression: expression, message: message).description
                .contains("icmp and and"))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func missingDirectoryThrows() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("no/such/dir/out.pcap")
        #expect(throws: CaptureError.directoryNotFound(path: path, directory: directory.file("no/such/dir"))) {
            try PcapWriter(path: path)
        }
    }

    @Test func aNULInThePathIsRefusedAndWritesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // libpcap's fopen would stop at the NUL and write "x" instead.
        #expect(throws: CaptureError.self) { try PcapWriter(path: directory.file("x\u{0}y.pcap")) }
        #expect(!FileManager.default.fileExists(atPath: directory.file("x")))
        #expect(throws: CaptureError.self) { try PcapReader(path: directory.file("x\u{0}y.pcap")) }
        #expect(throws: CaptureError.self) {
            try PcapWriter(path: directory.file("ok.pcap"), options: PcapWriter.Options(filter: "icmp\u{0} or arp"))
        }
        // Errors print the path with the control character escaped.
        do {
            _ = try PcapWriter(path: directory.file("a\u{1b}[2J\u{0}.pcap"))
        } catch {
            #expect("\(error)".contains(#"a\u001b[2J\u0000.pcap"#), "\(error)")
        }
    }

    @Test func unwritableFileCarriesLibpcapMessage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The output path is an existing directory: fopen fails even as root.
        try FileManager.default.createDirectory(atPath: directory.file("taken"), withIntermediateDirectories: false)
        do {
            _ = try PcapWriter(path: directory.file("taken"))
            Issue.record("opened a directory for writing")
        } catch let CaptureError.cannotOpenForWriting(path, message) {
            #expect(path == directory.file("taken"))
            #expect(message.contains("Is a directory"), "libpcap message: \(message)")
        }
    }

    @Test func badOptionsAndMisuseThrow() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("opts.pcap")
        #expect(throws: CaptureError.self) { try PcapWriter(path: path, options: .init(snapLength: 0)) }
        #expect(throws: CaptureError.self) { try PcapWriter(path: path, options: .init(snapLength: 262_145)) }
        #expect(throws: CaptureError.self) {
            try PcapWriter(path: path, options: .init(rotation: .init(fileSizeBytes: 0)))
        }
        #expect(throws: CaptureError.self) {
            try PcapWriter(path: path, options: .init(rotation: .init(fileSizeBytes: 100, fileCount: 0)))
        }
        #expect(throws: CaptureError.self) {
            try PcapWriter(path: "-", options: .init(rotation: .init(fileSizeBytes: 100)))
        }
        let writer = try PcapWriter(path: path)
        let tooLate = UInt64(UInt32.max) * 1_000_000_000 + 1_000_000_000
        #expect(throws: CaptureError.timestampOutOfRange(nanoseconds: tooLate)) {
            try writer.write(TestFrames.arpRequest(), timestampNanoseconds: tooLate)
        }
        try writer.flush()
        try writer.close()
        #expect(!writer.isOpen)
        #expect(throws: CaptureError.closed(path: path)) {
            try writer.write(TestFrames.arpRequest(), timestampNanoseconds: 1)
        }
        #expect(try PcapReader(path: path).readAll().isEmpty)
    }

    @Test func emptyFrameIsWrittenAsZeroLengthRecord() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("empty.pcap")
        let writer = try PcapWriter(path: path, options: .init(filter: "arp"))
        #expect(try writer.write(UnsafeRawBufferPointer(start: nil, count: 0), timestampNanoseconds: 5) == false)
        try writer.close()
        let plain = try PcapWriter(path: path)
        #expect(try plain.write([], timestampNanoseconds: 5))
        try plain.close()
        let packets = try PcapReader(path: path).readAll()
        #expect(packets == [PcapPacket(timestampNanoseconds: 5, capturedLength: 0, originalLength: 0, bytes: [])])
    }

    /// The raw-buffer write path must not allocate per frame, filter and truncation included.
    /// Counted per thread, so tests running in parallel do not disturb the count.
    @Test func writeDoesNotAllocatePerFrame() throws {
        try #require(sb_allocation_counter_active() != 0, "allocation counter not interposed")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try PcapWriter(path: directory.file("alloc.pcap"),
                                    options: .init(snapLength: 64, filter: "icmp or arp"))
        let icmp = TestFrames.icmpEcho(payloadLength: 100)
        let udp = TestFrames.udp()
        let framesPerRound = 1000
        var allocations = UInt64.max
        try icmp.withUnsafeBytes { icmpBytes in
            try udp.withUnsafeBytes { udpBytes in
                for index in 0..<16 { // warm up: stdio buffer, lazy libpcap state
                    try writer.write(index % 2 == 0 ? icmpBytes : udpBytes, timestampNanoseconds: UInt64(index))
                }
                let before = sb_thread_allocation_count()
                for index in 0..<framesPerRound {
                    try writer.write(index % 2 == 0 ? icmpBytes : udpBytes, timestampNanoseconds: UInt64(index) &* 1_000)
                }
                allocations = sb_thread_allocation_count() - before
            }
        }
        try writer.close()
        #expect(allocations == 0, "allocations per \(framesPerRound) writes: \(allocations)")
        #expect(writer.framesFilteredOut > 0)
        #expect(writer.framesTruncated > 0)
    }
}
