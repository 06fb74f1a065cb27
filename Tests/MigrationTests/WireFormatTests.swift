// The migration wire format: CRC32C, framing, checks on every header field and payload.

import Foundation
import Frames
import Testing
@testable import Migration

@Suite struct WireFormatTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA) // RFC 3720 B.4
        #expect(CRC32C.checksum([]) == 0)
        // The hardware path (when the CPU has one) and the tables agree on every length.
        var bytes = [UInt8](repeating: 0, count: 4099)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        for n in [1, 7, 8, 9, 63, 64, 4096, 4099] {
            bytes.withUnsafeBytes { b in
                let slice = UnsafeRawBufferPointer(rebasing: b[0..<n])
                #expect(CRC32C.checksum(slice) == CRC32C.software(slice), "length \(n)")
            }
        }
    }

    @Test func messagesSurviveArbitraryChunking() throws {
        let messages = [MigrationMessage(.hello, Array("{}".utf8)), MigrationMessage(.pages, (0..<5000).map { UInt8($0 & 0xFF) }),
                        MigrationMessage(.commit), MigrationMessage(.abort, text: "why")]
        let bytes = messages.flatMap(MigrationWire.encode)
        var decoder = MessageDecoder()
        var out: [MigrationMessage] = []
        var i = 0
        while i < bytes.count {
            let n = min(7 + i % 13, bytes.count - i)
            decoder.feed(Array(bytes[i..<i + n]))
            i += n
            while let m = try decoder.next() { out.append(m) }
        }
        #expect(out == messages)
    }

    @Test func everyBadHeaderAndPayloadIsRefused() {
        let good = MigrationWire.encode(MigrationMessage(.pages, [1, 2, 3, 4]))
        func decode(_ b: [UInt8]) -> WireError? {
            var d = MessageDecoder()
            d.feed(b)
            do { _ = try d.next(); return nil } catch { return error }
        }
        var b = good; b[0] ^= 1
        #expect({ if case .badMagic = decode(b) { true } else { false } }())
        b = good; b[4] = 9
        #expect(decode(b) == .unsupportedVersion(9))
        b = good; b[6] = 99
        #expect(decode(b) == .unknownType(99))
        b = good; b[b.count - 1] ^= 0xFF
        #expect({ if case .checksumMismatch = decode(b) { true } else { false } }())
        b = good; b[11] = 0x7F
        #expect({ if case .tooLong = decode(b) { true } else { false } }())
        #expect(decode(good) == nil)
    }

    @Test func pageBatchesRoundTripAndRejectGarbage() throws {
        var payload: [UInt8] = []
        payload.appendLE(UInt32(2))
        var page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeBytes { #expect(PageBatch.append(index: 3, page: $0.baseAddress!, to: &payload)) }
        page[100] = 7
        page.withUnsafeBytes { #expect(!PageBatch.append(index: 5, page: $0.baseAddress!, to: &payload)) }
        #expect(payload.count == 4 + 4 + 4 + 4096)
        var seen: [(Int, Bool)] = []
        try PageBatch.decode(payload, pageCount: 16) { i, bytes in seen.append((i, bytes == nil)) }
        #expect(seen.map(\.0) == [3, 5] && seen.map(\.1) == [true, false])
        #expect(throws: WireError.self) { try PageBatch.decode(payload, pageCount: 4) { _, _ in } }
        #expect(throws: WireError.self) { try PageBatch.decode(Array(payload.dropLast()), pageCount: 16) { _, _ in } }
        #expect(throws: WireError.self) { try PageBatch.decode(payload + [0], pageCount: 16) { _, _ in } }
        let frames = [QueuedFrame(nic: 0, bytes: [1, 2, 3]), QueuedFrame(nic: 1, bytes: Array(repeating: 9, count: 60))]
        #expect(try FrameBatch.decode(FrameBatch.encode(frames)) == frames)
        #expect(throws: WireError.self) { try FrameBatch.decode(Array(FrameBatch.encode(frames).dropLast())) }
    }

    @Test func zeroRunsDecodeAsRangesAndRejectRunsBeyondRAM() throws {
        func batch(_ entries: [(Int, Int)]) -> [UInt8] {
            var payload: [UInt8] = []
            payload.appendLE(UInt32(entries.count))
            for (index, count) in entries { PageBatch.appendZeroRun(index: index, count: count, to: &payload) }
            return payload
        }
        var runs: [Range<Int>] = []
        try PageBatch.decode(batch([(0, 4), (10, 6)]), pageCount: 16, { _, _ in Issue.record("no single pages") }) { runs.append($0) }
        #expect(runs == [0..<4, 10..<16])
        // Without a run handler every page of a run is reported as a zero page.
        var pages: [Int] = []
        try PageBatch.decode(batch([(2, 3)]), pageCount: 16) { i, bytes in if bytes == nil { pages.append(i) } }
        #expect(pages == [2, 3, 4])
        #expect(throws: WireError.self) { try PageBatch.decode(batch([(10, 7)]), pageCount: 16) { _, _ in } }
        #expect(throws: WireError.self) { try PageBatch.decode(batch([(3, 0)]), pageCount: 16) { _, _ in } }
        #expect(throws: WireError.self) { try PageBatch.decode(Array(batch([(3, 2)]).dropLast()), pageCount: 16) { _, _ in } }
        var both = batch([(1, 1)])
        both[7] |= 0x80  // zero-page and run flags together
        #expect(throws: WireError.self) { try PageBatch.decode(both, pageCount: 16) { _, _ in } }
    }

    @Test func outcomesRoundTripAndRejectGarbage() throws {
        let frames = [QueuedFrame(nic: 0, bytes: [1, 2, 3])]
        for o in [MigrationOutcome.inProgress, .committed(frames), .committed([]), .aborted, .unknown] {
            #expect(try MigrationOutcome(payload: o.payload) == o)
        }
        #expect(throws: WireError.self) { try MigrationOutcome(payload: []) }
        #expect(throws: WireError.self) { try MigrationOutcome(payload: [2, 0]) }
        #expect(throws: WireError.self) { try MigrationOutcome(payload: [9]) }
        #expect(throws: WireError.self) { try MigrationOutcome(payload: [1, 1, 0]) }
        let registry = MigrationOutcomes()
        registry.capacity = 2
        registry.record("a", .inProgress)
        registry.record("a", .aborted)
        registry.record("b", .committed(frames))
        registry.record("c", .aborted)
        #expect(registry.outcome("a") == .unknown, "the oldest is forgotten beyond the capacity")
        #expect(registry.outcome("b") == .committed(frames) && registry.outcome("c") == .aborted)
    }

    @Test func selfAnnounceIsQEMUsRARPOnQEMUsSchedule() {
        #expect(SelfAnnounce.Schedule().offsets == [0, 0.05, 0.2, 0.45, 0.8])
        let mac = MACAddress(0x52, 0x54, 0, 0, 0, 0x21)
        let f = SelfAnnounce.frame(mac: mac)
        #expect(f.count == 60)
        #expect(Array(f[0..<6]) == [UInt8](repeating: 0xFF, count: 6) && Array(f[6..<12]) == mac.bytes)
        #expect(f[12] == 0x80 && f[13] == 0x35, "EtherType RARP")
        // htype 1, ptype IPv4, hlen 6, plen 4, opcode 3 (request reverse); sender and target MAC
        // are the VM's, both IPs zero.
        #expect(Array(f[14..<22]) == [0, 1, 8, 0, 6, 4, 0, 3])
        #expect(Array(f[22..<28]) == mac.bytes && Array(f[28..<32]) == [0, 0, 0, 0])
        #expect(Array(f[32..<38]) == mac.bytes && Array(f[38..<42]) == [0, 0, 0, 0])
    }

    @Test func reportUsesTheBenchmarkKeys() throws {
        let json = String(decoding: try JSONEncoder().encode(MigrationReport()), as: UTF8.self)
        for key in ["total_ms", "downtime_ms", "rounds", "pages", "zero_pages", "bytes", "queued", "lost"] {
            #expect(json.contains("\"\(key)\""), "\(key) missing in \(json)")
        }
    }
}
