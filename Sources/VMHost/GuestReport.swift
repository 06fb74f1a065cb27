// GuestReport: what the guest network appliance says on its console, parsed (the line
// formats are an interface; see docs/appliance.md).

/// One `flow-report` line of the appliance: a sink's final count for a flow.
public struct FlowReport: Equatable, Sendable, Codable {
    public var id: Int
    public var sent: Int
    public var received: Int
    public var lost: Int
    public var duplicated: Int
    public var reordered: Int

    /// Parses `flow-report id=1 sent=2000 received=2000 lost=0 duplicated=0 reordered=0`
    /// (extra fields are ignored; nil for any other line).
    public init?(line: String) {
        guard line.hasPrefix("flow-report ") else { return nil }
        var fields: [Substring: Int] = [:]
        for pair in line.dropFirst("flow-report ".count).split(separator: " ") {
            guard let eq = pair.firstIndex(of: "="), let value = Int(pair[pair.index(after: eq)...]) else { continue }
            fields[pair[..<eq]] = value
        }
        guard let id = fields["id"], let sent = fields["sent"], let received = fields["received"],
              let lost = fields["lost"], let duplicated = fields["duplicated"], let reordered = fields["reordered"] else { return nil }
        self.id = id
        self.sent = sent
        self.received = received
        self.lost = lost
        self.duplicated = duplicated
        self.reordered = reordered
    }
}

/// Key=value fields of a line after a fixed prefix (`appliance: ready ip=... boot_us=...`).
func fields(of line: String, after prefix: String) -> [String: String]? {
    guard line.hasPrefix(prefix) else { return nil }
    var out: [String: String] = [:]
    for pair in line.dropFirst(prefix.count).split(separator: " ") {
        guard let eq = pair.firstIndex(of: "=") else { continue }
        out[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
    }
    return out
}
