// TerminalText: user-provided text (names, paths, keys from a file, a socket or the command
// line) made safe for error lines and terminals, and the test for characters that a name or a
// path must never hold.

extension Unicode.Scalar {
    /// Whether this is a control character: C0 (U+0000-U+001F, NUL included), DEL (U+007F)
    /// or C1 (U+0080-U+009F, where U+009B is a terminal's CSI).
    @inlinable public var isControlCharacter: Bool {
        value < 0x20 || (0x7F...0x9F).contains(value)
    }
}

extension String {
    /// Whether the text holds a control character (see `Unicode.Scalar.isControlCharacter`):
    /// such a name or path would truncate at a C call (NUL) or break a line or a terminal.
    public var containsControlCharacters: Bool {
        unicodeScalars.contains { $0.isControlCharacter }
    }

    /// The text with every control character written as an escape, as JSON writes it
    /// (`\n`, `\r`, `\t`, `\u001b`), so that a name cannot end an error line early, forge
    /// another one or send escape sequences to a terminal. Other text is unchanged.
    public var escapedForTerminal: String {
        guard containsControlCharacters else { return self }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            guard scalar.isControlCharacter else {
                out.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": out.append(contentsOf: #"\r"#.unicodeScalars)
            case "\t": out.append(contentsOf: #"\t"#.unicodeScalars)
            default:
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: (#"\u"# + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            }
        }
        return String(out)
    }
}
