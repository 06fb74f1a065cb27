// ControlRequest: every request round-trips through its JSON line, the wire keys are the
// documented ones, and lines from scripts written for the untyped format still decode.

import ControlProtocol
import Foundation
import Testing

@Suite struct ControlRequestTests {
    static let all: [ControlRequest] = [
        .fdb(switchName: "sw0"), .stats(switchName: nil), .stats(switchName: "sw1"),
        .captureStart(.init(switchName: "sw0", port: "p1", file: "/tmp/a.pcap", filter: "icmp", direction: "rx", name: "c")),
        .captureStart(.init(switchName: "sw0", file: "/tmp/b.pcap")),
        .captureStop(switchName: nil, name: "c"), .captureList, .vmList,
        .migrate(.init(vm: "vm1", to: "b", downtimeMs: 5, maxRounds: 3)), .migrate(.init(vm: "vm1", to: "b")), .stop,
        .console(vm: "vm1"),
    ]

    func line(_ request: ControlRequest) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(request), as: UTF8.self)
    }

    @Test func everyRequestRoundTrips() throws {
        for request in Self.all {
            let decoded = try JSONDecoder().decode(ControlRequest.self, from: Data(try line(request).utf8))
            #expect(decoded == request)
        }
    }

    @Test func theWireKeysAreTheDocumentedOnes() throws {
        #expect(try line(.migrate(.init(vm: "vm1", to: "b", downtimeMs: 5, maxRounds: 3)))
                == #"{"command":"migrate","downtime_ms":5,"max_rounds":3,"to":"b","version":1,"vm":"vm1"}"#)
        #expect(try line(.migrate(.init(vm: "vm1", to: "b", withDisks: true, autoConverge: true, postcopy: false)))
                == #"{"auto_converge":true,"command":"migrate","postcopy":false,"to":"b","version":1,"vm":"vm1","with_disks":true}"#)
        #expect(try line(.captureStart(.init(switchName: "sw0", port: "p1", file: "/x.pcap")))
                == #"{"command":"capture-start","file":"/x.pcap","port":"p1","switch":"sw0","version":1}"#)
        #expect(try line(.vmList) == #"{"command":"vm-list","version":1}"#)
        #expect(try line(.console(vm: "vm1")) == #"{"command":"console","version":1,"vm":"vm1"}"#)
    }

    @Test func untypedLinesDecodeAndBadOnesSayWhy() throws {
        let old = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"fdb","switch":"sw0"}"#.utf8))
        #expect(old == .fdb(switchName: "sw0"))
        #expect(throws: ControlProtocolError.unknownCommand("reboot")) {
            _ = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"reboot"}"#.utf8))
        }
        #expect(throws: ControlProtocolError.unsupportedVersion(2)) {
            _ = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"version":2,"command":"stats"}"#.utf8))
        }
        // A required field missing: a decoding error, never a crash.
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"migrate","vm":"x"}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"console"}"#.utf8))
        }
    }
}
