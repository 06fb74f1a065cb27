// MigrationDescription: a destination whose RAM differs from the source's is refused with a
// message that names what differs (size, or page count and region layout at the same size).

import Foundation
import Frames
@testable import Migration
import Testing
import VMHost

@Suite struct MigrationDescriptionTests {
    static func description() throws -> (VirtualMachine, MigrationDescription) {
        let config = Guests.configuration("dirtier", mac: nil, memoryMiB: 32, bootargs: "", elf: Guests.dirtier)
        let vm = try VirtualMachine(config, pool: PacketPool(capacity: 16))
        return (vm, MigrationDescription(of: vm))
    }

    @Test func aDifferentSizeIsNamedInMiB() throws {
        let (_, source) = try Self.description()
        var destination = source
        destination.memoryMiB = 64
        destination.pageCount = 16_384
        #expect(source.incompatibility(with: destination) == "memory size differs: source 32 MiB, destination 64 MiB")
    }

    @Test func aPageCountMismatchAtTheSameSizeNamesThePageCounts() throws {
        let (_, source) = try Self.description()
        #expect(source.pageCount == 8192 && source.ramRegions == [.init(base: 0x8000_0000, size: 32 << 20)])
        #expect(source.incompatibility(with: source) == nil)
        var destination = source
        destination.pageCount = 8191
        destination.ramRegions = [.init(base: 0x8000_0000, size: (32 << 20) - 4096)]
        let why = try #require(source.incompatibility(with: destination))
        #expect(why == "RAM layout differs (both 32 MiB): source 8192 pages in 0x80000000+32768 KiB, "
            + "destination 8191 pages in 0x80000000+32764 KiB", "\(why)")
        #expect(!why.contains("memory size differs"))
    }

    @Test func theSamePageCountInOtherRegionsIsRefused() throws {
        let (_, source) = try Self.description()
        var destination = source
        destination.ramRegions = [.init(base: 0x8000_0000, size: 16 << 20), .init(base: 0x1_0000_0000, size: 16 << 20)]
        let why = try #require(source.incompatibility(with: destination))
        #expect(why.hasPrefix("RAM layout differs") && why.contains("0x100000000+16384 KiB"), "\(why)")
        // A sender that does not send its regions is compared by page count alone.
        destination.ramRegions = nil
        #expect(source.incompatibility(with: destination) == nil)
        destination.pageCount = 4096
        #expect(source.incompatibility(with: destination)?.contains("4096 pages (regions not sent)") == true)
    }

    @Test func regionsSurviveTheHelloAndOldHellosStillDecode() throws {
        let (_, source) = try Self.description()
        let decoded = try JSONDecoder().decode(MigrationDescription.self, from: JSONEncoder().encode(source))
        #expect(decoded == source)
        var object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(source)) as? [String: Any])
        object["ramRegions"] = nil
        let old = try JSONDecoder().decode(MigrationDescription.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.ramRegions == nil && old.pageCount == source.pageCount)
    }
}
