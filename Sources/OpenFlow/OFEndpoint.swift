// OFEndpoint: the connection specs of Open vSwitch's syntax that Switchboard accepts:
// `ptcp:PORT[:IP]` (listen; every address when IP is left out) and `tcp:IP[:PORT]` (connect;
// port 6653 when left out). IPv6 addresses go in brackets. Anything else is a clear error.

import Foundation
import Frames

/// Where an OpenFlow connection comes from or goes to.
public enum OFEndpoint: Equatable, Sendable, CustomStringConvertible {
    /// Listen on `host:port` (`ptcp:`).
    case passive(host: String, port: Int)
    /// Connect to a controller at `host:port` (`tcp:`).
    case active(host: String, port: Int)

    /// The IANA OpenFlow port.
    public static let defaultPort = 6653

    /// Parses `ptcp:PORT[:IP]` or `tcp:IP[:PORT]`.
    public static func parse(_ spec: String) throws(OFEndpointError) -> OFEndpoint {
        if spec.hasPrefix("ptcp:") {
            let rest = String(spec.dropFirst(5))
            let (portText, hostText) = splitFirst(rest)
            let port = try parsePort(portText, spec: spec, allowZero: true)
            let host = try hostText.map { (h: String) throws(OFEndpointError) -> String in try parseIP(h, spec: spec) } ?? "0.0.0.0"
            return .passive(host: host, port: port)
        }
        if spec.hasPrefix("tcp:") {
            let rest = String(spec.dropFirst(4))
            let (hostText, portText) = splitHostPort(rest)
            guard !hostText.isEmpty else { throw OFEndpointError(spec, "tcp: needs an IP address (tcp:IP[:PORT])") }
            let host = try parseIP(hostText, spec: spec)
            let port = try portText.map { (p: String) throws(OFEndpointError) -> Int in try parsePort(p, spec: spec, allowZero: false) } ?? defaultPort
            return .active(host: host, port: port)
        }
        throw OFEndpointError(spec, "expected ptcp:PORT[:IP] or tcp:IP[:PORT]")
    }

    public var description: String {
        switch self {
        case .passive(let h, let p): return "ptcp:\(p):\(h.contains(":") ? "[\(h)]" : h)"
        case .active(let h, let p): return "tcp:\(h.contains(":") ? "[\(h)]" : h):\(p)"
        }
    }

    private static func splitFirst(_ s: String) -> (String, String?) {
        guard let colon = s.firstIndex(of: ":") else { return (s, nil) }
        return (String(s[..<colon]), String(s[s.index(after: colon)...]))
    }

    private static func splitHostPort(_ s: String) -> (String, String?) {
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            let host = String(s[s.index(after: s.startIndex)..<close])
            let after = s[s.index(after: close)...]
            if after.isEmpty { return ("[" + host + "]", nil) }
            return ("[" + host + "]", after.hasPrefix(":") ? String(after.dropFirst()) : String(after))
        }
        if s.filter({ $0 == ":" }).count > 1 { return (s, nil) }  // bare IPv6: no port
        return splitFirst(s)
    }

    private static func parsePort(_ text: String, spec: String, allowZero: Bool) throws(OFEndpointError) -> Int {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), text.count <= 5, let port = Int(text),
              port <= 65535, allowZero || port > 0 else {
            throw OFEndpointError(spec, "port must be a number in \(allowZero ? 0 : 1)...65535, not \"\(text)\"")
        }
        return port
    }

    private static func parseIP(_ text: String, spec: String) throws(OFEndpointError) -> String {
        var h = text
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, h, &v4) == 1 || inet_pton(AF_INET6, h, &v6) == 1 { return h }
        throw OFEndpointError(spec, "\"\(text)\" is not an IPv4 or IPv6 address")
    }
}

/// A connection spec that does not parse.
public struct OFEndpointError: Error, Equatable, CustomStringConvertible {
    /// The spec as given.
    public let spec: String
    /// What is wrong.
    public let reason: String

    init(_ spec: String, _ reason: String) {
        self.spec = spec
        self.reason = reason
    }

    public var description: String { "invalid OpenFlow connection \"\(spec.escapedForTerminal)\": \(reason.escapedForTerminal)" }
}
