// GuestMemory and MMIOBus tests: bounds checks, dirty logging, overlapping ranges.
import Testing
@testable import Machine

@Suite("GuestMemory")
struct GuestMemoryTests {
    @Test func boundsChecked() throws {
        let m = try GuestMemory(base: GuestPhysicalAddress(0x8000_0000), size: 0x10000)
        try m.store(UInt64(0x1122_3344_5566_7788), at: GuestPhysicalAddress(0x8000_0008))
        #expect(try m.load(UInt32.self, at: GuestPhysicalAddress(0x8000_000C)) == 0x1122_3344)
        #expect(throws: GuestMemoryError.self) { try m.store(UInt64(1), at: GuestPhysicalAddress(0x8000_FFFC)) }
        #expect(throws: GuestMemoryError.self) { _ = try m.read(at: GuestPhysicalAddress(0x7FFF_FFFF), count: 2) }
        #expect(m.hostPointer(GuestPhysicalAddress(0x9000_0000)) == nil)
    }

    @Test func rejectsBadRegions() {
        #expect(throws: GuestMemoryError.self) { _ = try GuestMemory(base: GuestPhysicalAddress(0x1001), size: 0x1000) }
        #expect(throws: GuestMemoryError.self) {
            _ = try GuestMemory(regions: [(GuestPhysicalAddress(0), 0x2000), (GuestPhysicalAddress(0x1000), 0x1000)])
        }
    }

    @Test func dirtyLogging() throws {
        let m = try GuestMemory(base: GuestPhysicalAddress(0x8000_0000), size: 0x10000)
        try m.store(UInt8(1), at: GuestPhysicalAddress(0x8000_0000))
        #expect(m.dirtyPages().isEmpty) // logging off
        m.setDirtyLogging(true)
        let gen = m.writeProtectGeneration
        try m.store(UInt8(1), at: GuestPhysicalAddress(0x8000_3FFF))
        try m.write([1, 2, 3], at: GuestPhysicalAddress(0x8000_5FFF))
        #expect(m.dirtyPages() == [3, 5, 6])
        m.clearDirty()
        #expect(m.dirtyPages().isEmpty)
        #expect(m.writeProtectGeneration != gen)
    }

    @Test func populatedPagesTellTouchedFromNeverWritten() throws {
        // 2 MiB with transparent huge pages off for the check's sake would need madvise;
        // touching pages far apart in a 64 MiB region keeps the answer exact either way.
        let m = try GuestMemory(base: GuestPhysicalAddress(0x8000_0000), size: 64 << 20)
        try m.store(UInt8(7), at: GuestPhysicalAddress(0x8000_0000 + 5 * 4096))
        let bits = try #require(m.populatedPages())
        func set(_ i: Int) -> Bool { bits[i >> 6] & (1 << UInt64(i & 63)) != 0 }
        #expect(set(5))
        // Far from the written page (beyond any 2 MiB huge page around it): never populated.
        #expect(!set(12_000) && !set(16_383))
        let populated = (0..<m.pageCount).filter(set).count
        #expect(populated >= 1 && populated <= 512, "\(populated) pages populated after one store")
    }

    @Test func discardZeroesAndLogs() throws {
        let m = try GuestMemory(base: GuestPhysicalAddress(0x8000_0000), size: 0x10000)
        try m.write([UInt8](repeating: 0xAB, count: 0x3000), at: GuestPhysicalAddress(0x8000_1000))
        m.setDirtyLogging(true)
        m.discard(pages: 2..<3)
        #expect(try m.read(at: GuestPhysicalAddress(0x8000_2000), count: 4096).allSatisfy { $0 == 0 })
        #expect(try m.read(at: GuestPhysicalAddress(0x8000_1000), count: 4096).allSatisfy { $0 == 0xAB })
        #expect(try m.read(at: GuestPhysicalAddress(0x8000_3000), count: 4096).allSatisfy { $0 == 0xAB })
        #expect(m.dirtyPages() == [2] && m.dirtyCount == 1)
    }
}

@Suite("MMIOBus")
struct MMIOBusTests {
    final class Reg: MMIODevice {
        var last: (UInt64, Int, UInt64)?
        func read(offset: UInt64, size: Int) -> UInt64 { offset + UInt64(size) }
        func write(offset: UInt64, size: Int, value: UInt64) { last = (offset, size, value) }
    }

    @Test func routesByRange() throws {
        let bus = MMIOBus()
        let a = Reg(), b = Reg()
        try bus.register(a, at: GuestPhysicalAddress(0x1000), size: 0x100, name: "a")
        try bus.register(b, at: GuestPhysicalAddress(0x2000), size: 0x100, name: "b")
        #expect(bus.read(GuestPhysicalAddress(0x1010), size: 4) == 0x14)
        #expect(bus.write(GuestPhysicalAddress(0x2008), size: 8, value: 7))
        #expect(b.last?.0 == 8 && b.last?.2 == 7)
        #expect(bus.read(GuestPhysicalAddress(0x10FE), size: 4) == nil) // straddles the end
        #expect(!bus.write(GuestPhysicalAddress(0x3000), size: 1, value: 0))
        #expect(throws: MMIOBusError.overlap(name: "c", with: "a")) {
            try bus.register(Reg(), at: GuestPhysicalAddress(0x10F0), size: 0x100, name: "c")
        }
    }

    @Test func statisticsFormat() {
        var s = ExitStatistics()
        s.record(.mmioRead, count: 3)
        s.record(.systemRegister)
        let text = s.formatted()
        #expect(text.contains("mmio_read"))
        #expect(s.total == 4)
        #expect(text.split(separator: "\n").count == 3)
    }
}
