// RotationTests: PcapWriter.Rotation names and splits files exactly as tcpdump -C/-W does,
// compared byte for byte with files tcpdump itself writes.
import Capture
import Foundation
import TestSupport
import Testing

@Suite struct RotationTests {
    @Test func fileNamesFollowTcpdump() {
        let name = PcapWriter.Rotation.fileName
        #expect(name("out.pcap", 0, nil) == "out.pcap")
        #expect(name("out.pcap", 1, nil) == "out.pcap1")
        #expect(name("out.pcap", 12, nil) == "out.pcap12")
        #expect(name("out.pcap", 0, 1) == "out.pcap")       // -W 1: width of 0 digits
        #expect(name("out.pcap", 0, 2) == "out.pcap0")
        #expect(name("out.pcap", 9, 10) == "out.pcap9")     // -W 10: 0...9, one digit
        #expect(name("out.pcap", 0, 11) == "out.pcap00")    // -W 11: 0...10, two digits
        #expect(name("out.pcap", 5, 100) == "out.pcap05")
        #expect(name("out.pcap", 7, 101) == "out.pcap007")
        #expect(PcapWriter.Rotation(fileSizeMegabytes: 3).fileSizeBytes == 3_000_000)
    }

    /// 1000-byte frames make 1016-byte records: 24 + 10 * 1016 > 10_000, so ten per file.
    static func writeRotated(_ base: String, frames: Int, fileCount: Int?) throws -> PcapWriter {
        let writer = try PcapWriter(path: base, options: .init(
            rotation: .init(fileSizeBytes: 10_000, fileCount: fileCount)))
        for index in 0..<frames {
            try writer.write(TestFrames.filler(length: 1000, tag: index), timestampNanoseconds: UInt64(index) * 1_000_000_001)
        }
        try writer.close()
        return writer
    }

    static func timestamps(_ path: String) throws -> [UInt64] {
        try PcapReader(path: path).readAll().map(\.timestampNanoseconds)
    }

    @Test func sizeRotationWithoutCountKeepsEveryFrame() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let base = directory.file("r.pcap")
        let writer = try Self.writeRotated(base, frames: 35, fileCount: nil)
        #expect(try directory.contents() == ["r.pcap", "r.pcap1", "r.pcap2", "r.pcap3"])
        #expect(writer.filesOpened == 4)
        #expect(writer.currentPath == base + "3")
        var all: [UInt64] = []
        for name in try directory.contents() { all += try Self.timestamps(directory.file(name)) }
        #expect(all == (0..<35).map { UInt64($0) * 1_000_000_001 })
        #expect(try Self.timestamps(base).count == 10)

        guard let tcpdump = ExternalTool.require("tcpdump", for: "sizeRotationWithoutCountKeepsEveryFrame") else { return }
        var total = 0
        for name in try directory.contents() {
            let (status, output) = try tcpdump.run(["-r", directory.file(name), "-nn", "-tt"])
            #expect(status == 0, "tcpdump -r \(name)")
            total += output.split(separator: "\n").filter { !$0.hasPrefix("\t") }.count
        }
        #expect(total == 35)
    }

    /// tcpdump rotates only when the file is *larger* than the size: a file of exactly
    /// 24 + 10 * 1016 bytes still takes an eleventh record.
    @Test func fileOfExactlyTheSizeTakesOneMoreRecord() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let base = directory.file("x.pcap")
        let writer = try PcapWriter(path: base, options: .init(
            rotation: .init(fileSizeBytes: 24 + 10 * 1016)))
        for index in 0..<23 {
            try writer.write(TestFrames.filler(length: 1000, tag: index), timestampNanoseconds: UInt64(index))
        }
        try writer.close()
        #expect(try directory.contents() == ["x.pcap", "x.pcap1", "x.pcap2"])
        #expect(try Self.timestamps(base).count == 11)
        #expect(try Self.timestamps(base + "1").count == 11)
        #expect(try Self.timestamps(base + "2").count == 1)
    }

    @Test func countWrapsAroundOverwritingOldest() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let base = directory.file("w.pcap")
        let writer = try Self.writeRotated(base, frames: 35, fileCount: 3)
        #expect(try directory.contents() == ["w.pcap0", "w.pcap1", "w.pcap2"])
        #expect(writer.filesOpened == 4)
        let ts = { (range: Range<Int>) in range.map { UInt64($0) * 1_000_000_001 } }
        #expect(try Self.timestamps(base + "0") == ts(30..<35)) // the fourth file overwrote the first
        #expect(try Self.timestamps(base + "1") == ts(10..<20))
        #expect(try Self.timestamps(base + "2") == ts(20..<30))
    }

    /// Our rotation against tcpdump's own: same file names, byte-identical files.
    @Test(arguments: [nil, 1, 2, 3, 11] as [Int?])
    func matchesTcpdumpByteForByte(fileCount: Int?) throws {
        guard let tcpdump = ExternalTool.require("tcpdump", for: "matchesTcpdumpByteForByte") else { return }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ours = directory.file("ours")
        let theirs = directory.file("theirs")
        try FileManager.default.createDirectory(atPath: ours, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: false)

        // 3000 records of 1016 bytes: about 3 MB, so -C 1 gives four files.
        let single = try PcapWriter(path: directory.file("all.pcap"))
        let rotated = try PcapWriter(path: ours + "/cap.pcap", options: .init(
            rotation: .init(fileSizeMegabytes: 1, fileCount: fileCount)))
        // One 1232-byte frame makes the first file exactly 1,000,000 bytes after 984
        // records (24 + 983 * 1016 + 1248), the boundary where "larger than" matters.
        for index in 0..<3000 {
            let frame = TestFrames.filler(length: index == 500 ? 1232 : 1000, tag: index)
            let timestamp = 1_700_000_000_000_000_000 + UInt64(index) * 333_333_337
            try single.write(frame, timestampNanoseconds: timestamp)
            try rotated.write(frame, timestampNanoseconds: timestamp)
        }
        try single.close()
        try rotated.close()

        var arguments = ExternalTool.tcpdumpPrivilegeArguments
            + ["--nano", "-r", directory.file("all.pcap"), "-w", theirs + "/cap.pcap", "-C", "1"]
        if let fileCount { arguments += ["-W", String(fileCount)] }
        let (status, _) = try tcpdump.run(arguments)
        #expect(status == 0)

        let ourNames = try FileManager.default.contentsOfDirectory(atPath: ours).sorted()
        let theirNames = try FileManager.default.contentsOfDirectory(atPath: theirs).sorted()
        #expect(ourNames == theirNames)
        #expect(!ourNames.isEmpty)
        for name in ourNames where theirNames.contains(name) {
            let a = try Data(contentsOf: URL(fileURLWithPath: ours + "/" + name))
            let b = try Data(contentsOf: URL(fileURLWithPath: theirs + "/" + name))
            #expect(a == b, "\(name): ours \(a.count) bytes, tcpdump's \(b.count) bytes")
        }
    }
}
