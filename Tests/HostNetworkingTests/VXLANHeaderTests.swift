// VXLANHeaderTests: the 8-byte RFC 7348 header, written and read back.
import Testing
@testable import HostNetworking

@Suite struct VXLANHeaderTests {
    @Test func writesFlagsAndVNI() {
        var bytes = [UInt8](repeating: 0xFF, count: 8)
        bytes.withUnsafeMutableBytes { VXLANHeader.write(vni: 0x12_3456, to: $0.baseAddress!) }
        #expect(bytes == [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0])
        #expect(bytes.withUnsafeBytes { VXLANHeader.vni(at: $0.baseAddress!) } == 0x12_3456)
    }

    @Test func clearIFlagMeansNoVNI() {
        let bytes: [UInt8] = [0x00, 0, 0, 0, 0, 0, 42, 0]
        #expect(bytes.withUnsafeBytes { VXLANHeader.vni(at: $0.baseAddress!) } == nil)
    }
}
