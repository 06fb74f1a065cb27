// JSONSyntaxError: why and where a document is not valid RFC 8259 JSON.

/// A syntax error: the position of the offending input and what was expected there.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is.
    public var position: SourcePosition
    /// What is wrong, e.g. "expected ',' or '}' after an object member, found 'x'".
    public var message: String

    /// Creates an error.
    public init(position: SourcePosition, message: String) {
        self.position = position
        self.message = message
    }

    public var description: String { "\(position): \(message)" }
}
