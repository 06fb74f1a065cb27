import Testing
@testable import Frames

@Suite struct MACAddressTests {
    @Test func parsesAndPrints() throws {
        let mac = try #require(MACAddress("02:AA:bb:0c:00:ff"))
        #expect(mac.description == "02:aa:bb:0c:00:ff")
        #expect(mac.bytes == [0x02, 0xaa, 0xbb, 0x0c, 0x00, 0xff])
        #expect(MACAddress("02-aa-bb-0c-00-ff") == mac)
    }

    @Test(arguments: ["", "02:aa:bb:0c:00", "02:aa:bb:0c:00:fg", "02:aa-bb:0c:00:ff", "02:aa:bb:0c:00:ff:"])
    func rejectsMalformed(_ text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test func loadAndStoreRoundTrip() {
        let bytes: [UInt8] = [1, 0x80, 0xc2, 0, 0, 0x0e, 9, 9]
        let mac = bytes.withUnsafeBytes { MACAddress(loadingFrom: $0.baseAddress!) }
        #expect(mac.isLinkLocal && mac.isMulticast && !mac.isBroadcast)
        var out = [UInt8](repeating: 0, count: 6)
        out.withUnsafeMutableBytes { mac.store(to: $0.baseAddress!) }
        #expect(out == Array(bytes[0..<6]))
        #expect(!MACAddress(1, 0x80, 0xc2, 0, 0, 0x10).isLinkLocal)
    }
}
