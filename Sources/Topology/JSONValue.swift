// JSONValue: the tree our strict JSON parser produces. Objects keep their members in source
// order, and every value and key carries the line and column where it starts.

/// A 1-based line and column in a source file (columns count Unicode scalars).
public struct SourcePosition: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The line, starting at 1.
    public var line: Int
    /// The column, starting at 1, counted in Unicode scalars.
    public var column: Int

    /// Creates a position.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// A JSON value. Numbers keep the distinction between integer literals and other numbers.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other number (finite).
    case double(Double)
    case string(String)
    case array([JSONNode])
    /// Members in source order; keys are unique (the parser rejects duplicates).
    case object([JSONMember])

    /// "a string", "an integer", ... for messages such as "expected X, found Y".
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A JSON value together with the position where it starts.
public struct JSONNode: Sendable, Equatable {
    /// The value.
    public var value: JSONValue
    /// Where the value starts in the source.
    public var position: SourcePosition

    /// Creates a node.
    public init(_ value: JSONValue, at position: SourcePosition) {
        self.value = value
        self.position = position
    }

    /// The member named `key` when this node is an object.
    public subscript(key: String) -> JSONNode? {
        guard case .object(let members) = value else { return nil }
        return members.first { $0.key == key }?.value
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Sendable, Equatable {
    /// The decoded key.
    public var key: String
    /// Where the key's opening quote is.
    public var keyPosition: SourcePosition
    /// The value.
    public var value: JSONNode

    /// Creates a member.
    public init(key: String, keyPosition: SourcePosition, value: JSONNode) {
        self.key = key
        self.keyPosition = keyPosition
        self.value = value
    }
}
