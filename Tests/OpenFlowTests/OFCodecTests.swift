// OFCodecTests: the OpenFlow codec against bytes written out by hand from the spec, the
// round-trip property over generated messages, the spec's errors for malformed OXM, actions,
// instructions and nested lengths, every truncation of valid messages, and a seeded fuzz loop.

import Frames
import XCTest
@testable import OpenFlow
import TestSupport

final class OFCodecTests: XCTestCase {
    /// Hex string -> bytes (spaces ignored).
    func hex(_ s: String) -> [UInt8] {
        let digits = s.filter { !$0.isWhitespace }
        return stride(from: 0, to: digits.count, by: 2).map {
            let start = digits.index(digits.startIndex, offsetBy: $0)
            return UInt8(digits[start...digits.index(after: start)], radix: 16)!
        }
    }

    func decodeError(_ bytes: [UInt8]) -> OFError? {
        do { _ = try OFCodec.decode(bytes); return nil } catch { return error }
    }

    /// A flow-mod as ovs-ofctl sends "priority=100,ip,nw_dst=10.0.0.0/8,actions=output:2",
    /// written out field by field from the spec (ofp_flow_mod, ofp_match, OXM, instruction).
    func testFlowModMatchesHandWrittenBytes() throws {
        let bytes = hex("""
            04 0e 0060 00000007
            0000000000000000 0000000000000000 00 00 0000 0000 0064 ffffffff ffffffff ffffffff 0000 0000
            0001 0016 80000a02 0800 80001908 0a000000 ff000000 0000
            0004 0018 00000000 0000 0010 00000002 ffe5 000000000000
            """)
        let (xid, message) = try OFCodec.decode(bytes)
        XCTAssertEqual(xid, 7)
        let expected = OFFlowMod(priority: 100,
                                 match: OFMatch([.ethType(0x0800), .ipv4Dst(IPv4Address(10, 0, 0, 0), mask: IPv4Address(255, 0, 0, 0))]),
                                 instructions: [.applyActions([.output(port: 2, maxLength: 0xFFE5)])])
        XCTAssertEqual(message, .flowMod(expected))
        XCTAssertEqual(OFCodec.encode(.flowMod(expected), xid: 7), bytes)
    }

    func testHelloWithAndWithoutBitmap() throws {
        let withBitmap = hex("04 00 0010 00000001 0001 0008 00000010")
        XCTAssertEqual(try OFCodec.decode(withBitmap).message, .hello(OFHello(version: 4, elements: [.versionBitmap([0x10])])))
        XCTAssertEqual(OFCodec.encode(.hello(OFHello(version: 4, elements: [.versionBitmap([0x10])])), xid: 1), withBitmap)
        let bare = hex("06 00 0008 00000002")
        XCTAssertEqual(try OFCodec.decode(bare).message, .hello(OFHello(version: 6)))
    }

    func testFixedMessagesMatchTheSpecLayout() throws {
        let features = OFCodec.encode(.featuresReply(OFFeatures(datapathID: 0x0102030405060708, nBuffers: 256, nTables: 4,
                                                                 auxiliaryID: 0, capabilities: 0x4F)), xid: 9)
        XCTAssertEqual(features, hex("04 06 0020 00000009 0102030405060708 00000100 04 00 0000 0000004f 00000000"))
        let role = OFCodec.encode(.roleReply(OFRoleMessage(role: .master, generationID: 5)), xid: 1)
        XCTAssertEqual(role, hex("04 19 0018 00000001 00000002 00000000 0000000000000005"))
        let portStatus = OFCodec.encode(.portStatus(OFPortStatus(reason: 0, port: OFPortDescription(
            portNo: 3, hwAddr: MACAddress(2, 0, 0, 0, 0, 3), name: "eth3", state: 4, currSpeed: 1000))), xid: 0)
        XCTAssertEqual(portStatus.count, 80)
        XCTAssertEqual(Array(portStatus[16..<40]), hex("00000003 00000000 020000000003 0000") + Array("eth3".utf8) + [0, 0, 0, 0])
        XCTAssertEqual(try OFCodec.decode(portStatus).message, .portStatus(OFPortStatus(reason: 0, port: OFPortDescription(
            portNo: 3, hwAddr: MACAddress(2, 0, 0, 0, 0, 3), name: "eth3", state: 4, currSpeed: 1000))))
    }

    /// Every generated message decodes to itself and re-encodes to identical bytes.
    func testRoundTripOverGeneratedMessages() throws {
        var gen = MessageGenerator(seed: 14)
        var kinds = Set<UInt8>()
        for i in 0..<20_000 {
            let m = gen.message()
            let bytes = OFCodec.encode(m, xid: UInt32(i))
            let decoded: (xid: UInt32, message: OFMessage)
            do { decoded = try OFCodec.decode(bytes) } catch {
                XCTFail("message \(i) (\(m.name)) did not decode: \(error)\n\(m)")
                return
            }
            XCTAssertEqual(decoded.xid, UInt32(i))
            XCTAssertEqual(decoded.message, m, "message \(i)")
            XCTAssertEqual(OFCodec.encode(decoded.message, xid: decoded.xid), bytes, "message \(i)")
            kinds.insert(m.typeCode)
        }
        XCTAssertEqual(kinds.count, 30, "every message type generated")
    }

    func testOXMErrors() {
        func flowMod(oxm: String) -> [UInt8] {
            let matchBody = hex(oxm)
            let matchLength = 4 + matchBody.count
            var match = [0, 1, UInt8(matchLength >> 8), UInt8(matchLength & 0xFF)] + matchBody
            while match.count % 8 != 0 { match.append(0) }
            var b = hex("04 0e 0000 00000001") + [UInt8](repeating: 0, count: 40) + match
            b[2] = UInt8(b.count >> 8); b[3] = UInt8(b.count & 0xFF)
            return b
        }
        XCTAssertNil(decodeError(flowMod(oxm: "80000004 00000001")))
        // eth_type with 3 bytes: BAD_LEN.
        XCTAssertEqual(decodeError(flowMod(oxm: "80000a03 080000")), .matchBadLen)
        // in_port twice: DUP_FIELD.
        XCTAssertEqual(decodeError(flowMod(oxm: "80000004 00000001 80000004 00000002")), .matchDupField)
        // A class other than OPENFLOW_BASIC (NXM_0) and an unknown basic field: BAD_FIELD.
        XCTAssertEqual(decodeError(flowMod(oxm: "00000004 00000001")), .matchBadField)
        XCTAssertEqual(decodeError(flowMod(oxm: "80005004 00000001")), .matchBadField)
        // A mask on in_port, which has none: BAD_MASK.
        XCTAssertEqual(decodeError(flowMod(oxm: "80000108 00000001 ffffffff")), .matchBadMask)
        // ipv4_dst 10.0.0.1/255.0.0.0: value bits outside the mask: BAD_WILDCARDS.
        XCTAssertEqual(decodeError(flowMod(oxm: "80001908 0a000001 ff000000")), .matchBadWildcards)
        // vlan_pcp 9: BAD_VALUE.
        XCTAssertEqual(decodeError(flowMod(oxm: "80000e01 09")), .matchBadValue)
        // A TLV whose length runs past the match: BAD_LEN.
        XCTAssertEqual(decodeError(flowMod(oxm: "80000a08 0800")), .matchBadLen)
    }

    func testActionAndInstructionErrors() {
        func packetOut(actions: String) -> [UInt8] {
            let a = hex(actions)
            var b = hex("04 0d 0000 00000001 ffffffff 00000001") + [UInt8(a.count >> 8), UInt8(a.count & 0xFF)] + [0, 0, 0, 0, 0, 0] + a
            b[2] = UInt8(b.count >> 8); b[3] = UInt8(b.count & 0xFF)
            return b
        }
        XCTAssertNil(decodeError(packetOut(actions: "0000 0010 00000002 ffe5 000000000000")))
        // OUTPUT of 12 bytes (not a multiple of 8): BAD_ACTION/BAD_LEN.
        XCTAssertEqual(decodeError(packetOut(actions: "0000 000c 00000002 ffe5 0000")), .actionBadLen)
        // OUTPUT claiming 24 bytes inside a 16-byte list: overruns its parent.
        XCTAssertEqual(decodeError(packetOut(actions: "0000 0018 00000002 ffe5 000000000000")), .actionBadLen)
        // POP_VLAN of 16 bytes: BAD_LEN (its size is fixed).
        XCTAssertEqual(decodeError(packetOut(actions: "0012 0010 00000000 0000000000000000")), .actionBadLen)
        // An unknown action type: BAD_TYPE.
        XCTAssertEqual(decodeError(packetOut(actions: "0063 0008 00000000")), .actionBadType)
        // SET_FIELD with a masked field: BAD_SET_ARGUMENT; with an unknown field: BAD_SET_TYPE.
        XCTAssertNil(decodeError(packetOut(actions: "0019 0010 80000a02 0800 000000 000000")))
        XCTAssertEqual(decodeError(packetOut(actions: "0019 0010 80000d04 0800 0fff 00000000")), .actionBadSetArgument)
        XCTAssertEqual(decodeError(packetOut(actions: "0019 0010 8000f002 0800 000000 000000")), .actionBadSetType)
        // SET_FIELD of ip_proto padded to 24 when 16 would do: BAD_SET_LEN.
        XCTAssertEqual(decodeError(packetOut(actions: "0019 0018 80001401 05 000000 0000000000000000 00000000")), .actionBadSetLen)

        func flowMod(instructions: String) -> [UInt8] {
            var b = hex("04 0e 0000 00000001") + [UInt8](repeating: 0, count: 40) + hex("0001 0004 00000000") + hex(instructions)
            b[2] = UInt8(b.count >> 8); b[3] = UInt8(b.count & 0xFF)
            return b
        }
        XCTAssertNil(decodeError(flowMod(instructions: "0001 0008 01 000000")))
        XCTAssertEqual(decodeError(flowMod(instructions: "0001 0010 01 000000 0000000000000000")), .instructionBadLen)
        XCTAssertEqual(decodeError(flowMod(instructions: "0002 0010 00000000 0000000000000001")), .instructionBadLen)
        XCTAssertEqual(decodeError(flowMod(instructions: "0009 0008 00000000")), .instructionUnknown)
        // APPLY_ACTIONS whose action overruns the instruction: the action's BAD_LEN.
        XCTAssertEqual(decodeError(flowMod(instructions: "0004 0020 00000000 0000 0010 00000002 ffe5 000000000000")), .instructionBadLen)
        XCTAssertEqual(decodeError(flowMod(instructions: "0004 0018 00000000 0000 0018 00000002 ffe5 000000000000")), .actionBadLen)
    }

    func testLyingLengthsAndUnknownTypes() {
        // Header length shorter than the header, longer or shorter than the bytes.
        XCTAssertEqual(decodeError(hex("04 02 0004 00000001")), .badLen)
        XCTAssertEqual(decodeError(hex("04 02 0010 00000001")), .badLen)
        XCTAssertEqual(decodeError(hex("04 02 0008 00000001 00")), .badLen)
        XCTAssertEqual(decodeError(hex("04 63 0008 00000001")), .badType)
        XCTAssertEqual(decodeError(hex("01 05 0008 00000001")), .badVersion)
        // Fixed-size bodies with a byte too many.
        XCTAssertEqual(decodeError(hex("04 05 0009 00000001 00")), .badLen)
        // A bucket whose length overruns the group-mod.
        XCTAssertEqual(decodeError(hex("04 0f 0020 00000001 0000 00 00 00000001 0020 0000 ffffffff ffffffff 00000000")), .groupBadBucket)
        // A flow-stats record overrunning the multipart reply.
        XCTAssertEqual(decodeError(hex("04 13 0018 00000001 0001 0000 00000000 0040 00 00 00000000 00000000")), .badLen)
        // An unknown multipart type.
        XCTAssertEqual(decodeError(hex("04 12 0010 00000001 0063 0000 00000000")), .badMultipart)
        // A hello element overrunning the hello.
        XCTAssertEqual(decodeError(hex("04 00 0010 00000001 0001 0010 00000010")), .badLen)
    }

    /// Every strict prefix of every valid generated message (its length patched to the
    /// prefix, as a lying peer would send it) is an error or a message, never a trap; and the
    /// header's own length with fewer bytes is BAD_LEN.
    func testEveryTruncationOfValidMessages() {
        var gen = MessageGenerator(seed: 99)
        var errors = 0
        for _ in 0..<400 {
            let bytes = OFCodec.encode(gen.message(), xid: 1)
            for cut in 0..<bytes.count {
                let prefix = Array(bytes[..<cut])
                XCTAssertEqual(decodeError(prefix), .badLen)
                guard cut >= 8 else { continue }
                var patched = prefix
                patched[2] = UInt8(cut >> 8); patched[3] = UInt8(cut & 0xFF)
                if let m = try? OFCodec.decode(patched) {
                    // Decoded: it must be stable through another round.
                    let again = OFCodec.encode(m.message, xid: m.xid)
                    XCTAssertEqual(try? OFCodec.decode(again).message, m.message)
                } else {
                    errors += 1
                }
            }
        }
        XCTAssertGreaterThan(errors, 0)
    }

    /// 100,000 seeded inputs (random bytes, and valid messages with random bytes flipped):
    /// the decoder returns an error or a message, and a decoded message re-encodes to bytes
    /// that decode to the same message.
    func testSeededFuzzNeverTrapsAndIsStable() {
        var rng = SeededRandom(seed: 0x5B)
        var gen = MessageGenerator(seed: 7)
        var decoded = 0
        for i in 0..<100_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                let n = Int.random(in: 8...200, using: &rng)
                bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                bytes[0] = 4
                bytes[1] = UInt8.random(in: 0...31, using: &rng)
            } else {
                bytes = OFCodec.encode(gen.message(), xid: UInt32(i))
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 8..<max(9, bytes.count), using: &rng) % bytes.count] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            bytes[2] = UInt8(bytes.count >> 8); bytes[3] = UInt8(bytes.count & 0xFF)
            guard let m = try? OFCodec.decode(bytes) else { continue }
            decoded += 1
            let again = OFCodec.encode(m.message, xid: m.xid)
            guard let second = try? OFCodec.decode(again) else {
                XCTFail("input \(i): re-encoded \(m.message.name) does not decode")
                continue
            }
            XCTAssertEqual(second.message, m.message, "input \(i)")
            XCTAssertEqual(OFCodec.encode(second.message, xid: second.xid), again, "input \(i)")
        }
        XCTAssertGreaterThan(decoded, 1000)
    }

    func testErrorReplyCarriesFirst64BytesAndXID() throws {
        let offending = OFCodec.encode(.echoRequest([UInt8](repeating: 0xAB, count: 100)), xid: 0x01020304)
        let reply = OFError.badType.reply(to: offending)
        let (xid, message) = try OFCodec.decode(reply)
        XCTAssertEqual(xid, 0x01020304)
        XCTAssertEqual(message, .error(OFErrorMessage(type: 1, code: 1, data: Array(offending.prefix(64)))))
        XCTAssertEqual(OFError.badType.description, "BAD_REQUEST/BAD_TYPE")
    }
}
