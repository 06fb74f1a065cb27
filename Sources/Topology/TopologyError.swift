// TopologyError and TopologyErrors: problems found in a topology file, each with the file,
// the JSON path of the offending value, its line:column when known, and what is wrong.
import Frames

/// One problem in a topology file, printed as
/// `file:line:column: $.json.path: message` (or `file: $.path: message` without a position).
public struct TopologyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as given to the decoder.
    public var file: String
    /// The JSON path of the offending value, e.g. `$.switches[0].ports[2].vlan`.
    public var path: String
    /// The 1-based line, when known.
    public var line: Int?
    /// The 1-based column, when known.
    public var column: Int?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(file: String, path: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// The printed line; control characters in the file name, path or message (which may
    /// quote the file's own text) are escaped, so one error stays one line.
    public var description: String {
        let file = file.escapedForTerminal, path = path.escapedForTerminal, message = message.escapedForTerminal
        if let line, let column { return "\(file):\(line):\(column): \(path): \(message)" }
        return "\(file): \(path): \(message)"
    }
}

/// All problems found in one file, in source order (at most `limit`).
public struct TopologyErrors: Error, Sendable, Equatable, CustomStringConvertible {
    /// The most errors collected from one file.
    public static let limit = 50

    /// The errors.
    public var errors: [TopologyError]
    /// Whether more errors were found than `limit` and the rest were dropped.
    public var truncated: Bool

    /// Creates a list.
    public init(_ errors: [TopologyError], truncated: Bool = false) {
        self.errors = errors
        self.truncated = truncated
    }

    /// One error per line; a last line says when the list was cut.
    public var description: String {
        var lines = errors.map(\.description)
        if truncated { lines.append("(too many errors; only the first \(TopologyErrors.limit) are shown)") }
        return lines.joined(separator: "\n")
    }
}
