// OFEndpointTests: ptcp:/tcp: specs parse as Open vSwitch writes them; bad ones get clear errors.

import XCTest
@testable import OpenFlow

final class OFEndpointTests: XCTestCase {
    func testValidSpecs() throws {
        XCTAssertEqual(try OFEndpoint.parse("ptcp:6634"), .passive(host: "0.0.0.0", port: 6634))
        XCTAssertEqual(try OFEndpoint.parse("ptcp:6634:127.0.0.1"), .passive(host: "127.0.0.1", port: 6634))
        XCTAssertEqual(try OFEndpoint.parse("ptcp:0:[::1]"), .passive(host: "::1", port: 0))
        XCTAssertEqual(try OFEndpoint.parse("tcp:127.0.0.1:6653"), .active(host: "127.0.0.1", port: 6653))
        XCTAssertEqual(try OFEndpoint.parse("tcp:10.1.2.3"), .active(host: "10.1.2.3", port: 6653))
        XCTAssertEqual(try OFEndpoint.parse("tcp:[fe80::1]:6633"), .active(host: "fe80::1", port: 6633))
        XCTAssertEqual(OFEndpoint.active(host: "::1", port: 1).description, "tcp:[::1]:1")
    }

    func testInvalidSpecsSayWhy() {
        let cases: [(String, String)] = [
            ("udp:1.2.3.4:6653", "expected ptcp:PORT[:IP] or tcp:IP[:PORT]"),
            ("ptcp:", "port must be a number"),
            ("ptcp:70000", "port must be a number in 0...65535"),
            ("ptcp:-1", "port must be a number"),
            ("ptcp:6653:localhost", "is not an IPv4 or IPv6 address"),
            ("tcp:", "needs an IP address"),
            ("tcp:1.2.3.4:0", "port must be a number in 1...65535"),
            ("tcp:1.2.3.4:66x", "port must be a number"),
            ("tcp:999.1.1.1:6653", "is not an IPv4 or IPv6 address"),
            ("tcp:1.2.3.4:6653\u{1B}[2J", "port must be a number"),
        ]
        for (spec, reason) in cases {
            do {
                _ = try OFEndpoint.parse(spec)
                XCTFail("\(spec) parsed")
            } catch {
                XCTAssertTrue(error.description.contains(reason), "\(spec): \(error)")
                XCTAssertFalse(error.description.contains("\u{1B}"), "escape sequences are escaped")
            }
        }
    }
}
