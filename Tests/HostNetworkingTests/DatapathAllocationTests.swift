// DatapathAllocationTests: the datapath loop moves frames between socket ports (receive
// batch, switch, drain, gather-send with tag push) without a single heap allocation.
import CAllocationCounter
import Frames
import Switching
import Testing
@testable import HostNetworking

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DatapathAllocationTests {
    @Test func forwardingThroughTheLoopDoesNotAllocate() throws {
        try #require(sb_allocation_counter_active() == 1, "malloc interposition is not in effect")
        let trunk = PortConfiguration(name: "t", mode: .trunk(allowed: VLANSet([VLANID(unchecked: 10)]), native: nil))
        let lab = try SocketLab(ports: [PortConfiguration(name: "a", mode: .access(VLANID(unchecked: 10))), trunk])
        let out = frame(from: macA, to: macB)
        let back = frame(from: macB, to: macA, tags: [VLANTag(vid: 10)])
        var buffer = [UInt8](repeating: 0, count: 2048)
        // Warm up: learn both MACs, let every lazy structure settle.
        for _ in 0..<3 {
            lab.send(out, on: 0)
            lab.send(back, on: 1)
            lab.pump()
            _ = lab.received(on: 0)
            _ = lab.received(on: 1)
        }
        var allocations: UInt64 = 0
        var forwarded = 0
        for _ in 0..<20 {
            for _ in 0..<32 {
                lab.send(out, on: 0)
                lab.send(back, on: 1)
            }
            let before = sb_thread_allocation_count()
            lab.datapath.poll(timeoutMilliseconds: 0)
            lab.datapath.poll(timeoutMilliseconds: 0)
            allocations += sb_thread_allocation_count() - before
            for port in 0..<2 {
                while buffer.withUnsafeMutableBytes({ recv(lab.far[port], $0.baseAddress, $0.count, 0) }) > 0 { forwarded += 1 }
            }
        }
        #expect(forwarded == 20 * 64)
        #expect(allocations == 0, "\(allocations) allocations while forwarding \(forwarded) frames")
    }
}
