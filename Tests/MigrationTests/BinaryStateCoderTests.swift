// BinaryStateCoderTests: the binary state form round-trips a running appliance's whole
// VMState (hart, devices, console, NIC frames waiting) and switch state exactly, decodes
// JSON payloads too, and refuses every truncation and trailing garbage without trapping.

import Foundation
import Machine
import Frames
@testable import Migration
import Switching
import Testing
import VMHost

@Suite struct BinaryStateCoderTests {
    @Test func aRunningAppliancesStateRoundTrips() throws {
        guard let rig = try EchoRig.make() else { return }
        defer { rig.close() }
        #expect(waitUntil(30) { rig.vm.bootSeconds != nil })
        // Frames waiting in the NIC and lines on the console make the state less trivial.
        #expect(rig.vm.pause())
        rig.datapath.sync { rig.send(3) }
        let state = try rig.vm.saveState()
        rig.vm.resume()
        let bytes = try BinaryStateCoder.encode(state)
        #expect(bytes.first == BinaryStateCoder.marker)
        #expect(try BinaryStateCoder.decode(VMState.self, from: bytes) == state)
        let json = Array(try JSONEncoder().encode(state))
        #expect(bytes.count < json.count, "\(bytes.count) bytes against JSON's \(json.count)")
        #expect(try BinaryStateCoder.decodeAny(VMState.self, from: json) == state)

        var sw: [SwitchState] = []
        rig.datapath.sync { sw = [rig.fabric.switches[0].saveState(now: SystemClock().now())] }
        #expect(!sw[0].entries.isEmpty)
        #expect(try BinaryStateCoder.decode([SwitchState].self, from: BinaryStateCoder.encode(sw)) == sw)

        // Every truncation and any trailing byte is an error, not a trap.
        for cut in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 200)) {
            #expect(throws: (any Error).self) { _ = try BinaryStateCoder.decode(VMState.self, from: Array(bytes[..<cut])) }
        }
        #expect(throws: (any Error).self) { _ = try BinaryStateCoder.decode(VMState.self, from: bytes + [0]) }
        #expect(throws: (any Error).self) { _ = try BinaryStateCoder.decode(VMState.self, from: [0x7B]) }
    }

    @Test func optionalsAndNestedArraysKeepTheirShape() throws {
        struct Inner: Codable, Equatable { var a: UInt16; var s: String?; var d: Double }
        struct Outer: Codable, Equatable {
            var list: [[UInt32]]
            var inner: Inner?
            var inners: [Inner]
            var bytes: [UInt8]
            var flag: Bool
            var small: Int8
        }
        for value in [Outer(list: [[1, 2], [], [3]], inner: Inner(a: 7, s: nil, d: -1.5), inners: [Inner(a: 1, s: "é", d: 0)],
                            bytes: [0, 255], flag: true, small: -3),
                      Outer(list: [], inner: nil, inners: [], bytes: [], flag: false, small: 0)] {
            #expect(try BinaryStateCoder.decode(Outer.self, from: BinaryStateCoder.encode(value)) == value)
        }
        // A bool byte other than 0 or 1, or a presence byte other than 0 or 1, is refused.
        var bad = try BinaryStateCoder.encode(Outer(list: [], inner: nil, inners: [], bytes: [], flag: true, small: 0))
        bad[bad.count - 2] = 7
        #expect(throws: (any Error).self) { _ = try BinaryStateCoder.decode(Outer.self, from: bad) }
        // Arrays of optionals are refused rather than written ambiguously.
        #expect(throws: (any Error).self) { _ = try BinaryStateCoder.encode([Int?]([1, nil])) }
    }
}
