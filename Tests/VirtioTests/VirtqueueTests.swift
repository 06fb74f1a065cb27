// Virtqueue tests: chain walking over direct and indirect descriptors, the chain cursors,
// index wraparound at 2^16, and used-ring publication.

import Machine
import Testing
@testable import Virtio

@Suite struct VirtqueueTests {
    func makeQueue(_ memory: GuestMemory, size: UInt16 = 8) throws -> (Virtqueue, MockSplitQueue) {
        let mock = MockSplitQueue(memory: memory, base: ramBase, size: size)
        let q = Virtqueue(memory: memory, maxSize: 16)
        q.size = size
        q.descriptorTable = mock.descriptorTable
        q.driverArea = mock.availableRing
        q.deviceArea = mock.usedRing
        q.indirectAllowed = true
        try q.activate()
        return (q, mock)
    }

    @Test func walksReadableAndWritableSegments() throws {
        let memory = try makeMemory()
        let (q, mock) = try makeQueue(memory)
        let a = ramBase + 0x2_0000
        try memory.write([1, 2, 3, 4, 5, 6], at: GuestPhysicalAddress(a))
        mock.publish(mock.addChain([MockBuffer(address: a, length: 4, writable: false),
                                    MockBuffer(address: a + 4, length: 2, writable: false),
                                    MockBuffer(address: a + 0x100, length: 3, writable: true),
                                    MockBuffer(address: a + 0x200, length: 5, writable: true)]))
        #expect(q.hasAvailable)
        #expect(q.pop() == .chain(head: 0, faulty: false))
        #expect(q.segmentCount == 4 && q.readableLength == 6 && q.writableLength == 8)
        var r = q.reader()
        var buffer = [UInt8](repeating: 0, count: 5)
        let skipped = r.skip(1)
        #expect(skipped)
        let first = buffer.withUnsafeMutableBytes { r.read(into: $0.baseAddress!, length: 5) }
        #expect(first)
        #expect(buffer == [2, 3, 4, 5, 6])
        let beyond = buffer.withUnsafeMutableBytes { r.read(into: $0.baseAddress!, length: 1) }
        #expect(!beyond)
        var w = q.writer()
        let out: [UInt8] = [9, 8, 7, 6, 5, 4, 3, 2]
        let wrote = out.withUnsafeBytes { w.write($0.baseAddress!, length: 8) }
        #expect(wrote)
        let overflow = out.withUnsafeBytes { w.write($0.baseAddress!, length: 1) }
        #expect(!overflow)
        #expect(try memory.read(at: GuestPhysicalAddress(a + 0x100), count: 3) == [9, 8, 7])
        #expect(try memory.read(at: GuestPhysicalAddress(a + 0x200), count: 5) == [6, 5, 4, 3, 2])
        q.push(head: 0, length: 8)
        #expect(mock.takeUsed().map { [$0.id, $0.length] } == [[0, 8]])
        #expect(q.pop() == .empty)
    }

    @Test func indirectTables() throws {
        let memory = try makeMemory()
        let (q, mock) = try makeQueue(memory)
        let table = ramBase + 0x3_0000
        mock.publish(mock.addIndirectChain((0..<12).map { MockBuffer(address: ramBase + 0x4_0000 + UInt64($0) * 64, length: 64, writable: $0 >= 6) },
                                           table: table))
        // 12 buffers in one indirect table of an 8-entry queue is too long.
        guard case .broken(.chainTooLong) = q.pop() else {
            Issue.record("expected chainTooLong")
            return
        }
        let (q2, mock2) = try makeQueue(memory)
        mock2.publish(mock2.addIndirectChain((0..<6).map { MockBuffer(address: ramBase + 0x4_0000 + UInt64($0) * 64, length: 64, writable: $0 >= 3) },
                                             table: table))
        #expect(q2.pop() == .chain(head: 0, faulty: false))
        #expect(q2.readableLength == 192 && q2.writableLength == 192)
        // Indirect descriptors are refused when not negotiated.
        q2.indirectAllowed = false
        mock2.publish(mock2.addIndirectChain([MockBuffer(address: ramBase, length: 8, writable: false)], table: table))
        guard case .broken(.badIndirect) = q2.pop() else {
            Issue.record("expected badIndirect")
            return
        }
    }

    @Test func indicesWrapAtSixtyFourK() throws {
        let memory = try makeMemory()
        let (q, mock) = try makeQueue(memory, size: 4)
        q.nextAvailable = 65534
        q.nextUsed = 65534
        mock.availableIndex = 65534
        mock.lastUsed = 65534
        try memory.store(UInt16(65534), at: GuestPhysicalAddress(mock.usedRing + 2))
        for round in 0..<6 {
            let head = mock.addChain([MockBuffer(address: ramBase + 0x2_0000, length: 16, writable: true)])
            mock.publish(head)
            guard case .chain(let h, false) = q.pop() else {
                Issue.record("round \(round): no chain")
                return
            }
            q.push(head: h, length: UInt32(round))
            #expect(mock.takeUsed().map(\.length) == [UInt32(round)])
        }
        #expect(q.nextAvailable == 4)
        #expect(q.nextUsed == 4)
    }
}
