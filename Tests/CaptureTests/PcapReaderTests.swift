// PcapReaderTests: missing, garbage, truncated, corrupt and non-Ethernet files give errors
// (never a crash); pcapng and microsecond files read with nanosecond timestamps; read filters.
import CPcap
import Capture
import Foundation
import TestSupport
import Testing

@Suite struct PcapReaderTests {
    /// Writes `count` mixed frames and returns the file's bytes.
    static func writeSample(_ path: String, count: Int = 6) throws -> [[UInt8]] {
        let writer = try PcapWriter(path: path)
        var frames: [[UInt8]] = []
        for index in 0..<count {
            let frame = index % 2 == 0 ? TestFrames.icmpEcho(sequence: UInt16(index)) : TestFrames.arpRequest()
            try writer.write(frame, timestampNanoseconds: PcapWriterTests.timestamp(index))
            frames.append(frame)
        }
        try writer.close()
        return frames
    }

    static func bytes(of path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func store(_ bytes: [UInt8], at path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Reads packets until the end or an error; returns how many were read and the error.
    static func drain(_ reader: PcapReader) -> (count: Int, error: CaptureError?) {
        var count = 0
        do {
            while try reader.next() != nil { count += 1 }
            return (count, nil)
        } catch let error as CaptureError {
            return (count, error)
        } catch {
            return (count, nil)
        }
    }

    @Test func missingFileThrows() throws {
        let path = "/nonexistent-switchboard-dir/missing.pcap"
        do {
            _ = try PcapReader(path: path)
            Issue.record("opened a missing file")
        } catch let CaptureError.cannotOpenForReading(errorPath, message) {
            #expect(errorPath == path)
            #expect(message.contains("No such file or directory"), "libpcap message: \(message)")
        }
    }

    @Test func garbageAndEmptyFilesThrow() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let garbage = directory.file("garbage.pcap")
        try Self.store((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }, at: garbage)
        #expect(throws: CaptureError.self) { try PcapReader(path: garbage) }
        let empty = directory.file("empty.pcap")
        try Self.store([], at: empty)
        #expect(throws: CaptureError.self) { try PcapReader(path: empty) }
        let shortHeader = directory.file("short.pcap")
        _ = try Self.writeSample(shortHeader)
        try Self.store(Array(try Self.bytes(of: shortHeader).prefix(10)), at: shortHeader)
        #expect(throws: CaptureError.self) { try PcapReader(path: shortHeader) }
    }

    @Test func fileCutMidRecordThrowsAfterGoodRecords() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("cut.pcap")
        let frames = try Self.writeSample(path)
        let whole = try Self.bytes(of: path)
        // Cut inside the data of the last record.
        try Self.store(Array(whole.dropLast(10)), at: path)
        let (count, error) = Self.drain(try PcapReader(path: path))
        #expect(count == frames.count - 1)
        guard case let .readFailed(errorPath, message)? = error else {
            Issue.record("expected readFailed, got \(String(describing: error))")
            return
        }
        #expect(errorPath == path)
        #expect(message.contains("truncated"), "libpcap message: \(message)")

        // Cut inside a record header: an error or a clean end, never a crash.
        let headerCut = 24 + 16 + frames[0].count + 7
        try Self.store(Array(whole.prefix(headerCut)), at: path)
        let (headerCount, _) = Self.drain(try PcapReader(path: path))
        #expect(headerCount == 1)
    }

    @Test func corruptRecordLengthThrows() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("corrupt.pcap")
        _ = try Self.writeSample(path)
        var bytes = try Self.bytes(of: path)
        // First record's caplen (little-endian here: we wrote it) := 0xfffffff0.
        bytes.replaceSubrange(24 + 8..<24 + 12, with: [0xf0, 0xff, 0xff, 0xff])
        try Self.store(bytes, at: path)
        let (count, error) = Self.drain(try PcapReader(path: path))
        #expect(count == 0)
        #expect(error != nil)
        if let error { #expect(error.description.contains(path)) }
    }

    @Test func nonEthernetLinkTypeThrows() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("raw.pcap")
        let dead = try #require(pcap_open_dead(DLT_RAW, 65535))
        defer { pcap_close(dead) }
        let dumper = try #require(pcap_dump_open(dead, path))
        pcap_dump_close(dumper)
        do {
            _ = try PcapReader(path: path)
            Issue.record("accepted a DLT_RAW file")
        } catch let CaptureError.unsupportedLinkType(errorPath, linkType, name) {
            #expect(errorPath == path)
            #expect(linkType == DLT_RAW)
            #expect(name == "RAW")
        }
    }

    @Test func readFilterSkipsPackets() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("rf.pcap")
        let frames = try Self.writeSample(path)
        let packets = try PcapReader(path: path, filter: "arp").readAll()
        #expect(packets.map(\.bytes) == frames.filter { $0[12] == 0x08 && $0[13] == 0x06 })
        #expect(packets.map(\.timestampNanoseconds) == [1, 3, 5].map(PcapWriterTests.timestamp))
        #expect(throws: CaptureError.self) { try PcapReader(path: path, filter: "not a filter (") }
    }

    @Test func closedReaderThrows() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("closed.pcap")
        _ = try Self.writeSample(path, count: 1)
        let reader = try PcapReader(path: path)
        reader.close()
        reader.close()
        #expect(throws: CaptureError.closed(path: path)) { try reader.next() }
    }

    @Test func readsPcapngWithNanosecondTimestamps() throws {
        guard let editcap = ExternalTool.require("editcap", for: "readsPcapngWithNanosecondTimestamps") else { return }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("src.pcap")
        let frames = try Self.writeSample(path)
        let pcapng = directory.file("dst.pcapng")
        let (status, _) = try editcap.run(["-F", "pcapng", path, pcapng])
        #expect(status == 0)
        let packets = try PcapReader(path: pcapng).readAll()
        #expect(packets.map(\.bytes) == frames)
        #expect(packets.map(\.timestampNanoseconds) == frames.indices.map(PcapWriterTests.timestamp))
    }

    @Test func microsecondFileIsScaledToNanoseconds() throws {
        guard let tcpdump = ExternalTool.require("tcpdump", for: "microsecondFileIsScaledToNanoseconds") else { return }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("ns.pcap")
        let frames = try Self.writeSample(path)
        // Without --nano tcpdump reads at microsecond precision and writes a microsecond file.
        let micro = directory.file("us.pcap")
        let (status, _) = try tcpdump.run(ExternalTool.tcpdumpPrivilegeArguments + ["-r", path, "-w", micro])
        #expect(status == 0)
        let packets = try PcapReader(path: micro).readAll()
        #expect(packets.map(\.bytes) == frames)
        #expect(packets.map(\.timestampNanoseconds)
            == frames.indices.map { PcapWriterTests.timestamp($0) / 1_000 * 1_000 })
    }
}
