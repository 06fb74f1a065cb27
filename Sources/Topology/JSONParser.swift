// JSONParser: a strict RFC 8259 parser over UTF-8 bytes. It keeps key order and positions,
// rejects duplicate keys, trailing commas, comments and lone surrogates, and caps nesting so
// hostile input cannot exhaust the stack.

/// Parses one JSON document from UTF-8 bytes into a `JSONNode` tree.
public struct JSONParser {
    /// The deepest nesting of arrays and objects accepted.
    public static let defaultMaxDepth = 512

    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0
    private var line = 1
    private var column = 1
    private var depth = 0

    /// Parses `bytes` (an optional UTF-8 byte order mark is skipped).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONSyntaxError) -> JSONNode {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses the UTF-8 encoding of `text`.
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONSyntaxError) -> JSONNode {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    // MARK: - Cursor

    private var position: SourcePosition { SourcePosition(line: line, column: column) }
    private var atEnd: Bool { index >= bytes.count }
    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Moves past one byte, keeping line and column (columns count scalars, not bytes).
    private mutating func advance() {
        let byte = bytes[index]
        index += 1
        if byte == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            column += 1
        }
    }

    private mutating func skipWhitespace() {
        while let byte = current,
              byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            advance()
        }
    }

    private func fail(_ message: String, at where_: SourcePosition? = nil) -> JSONSyntaxError {
        JSONSyntaxError(position: where_ ?? position, message: message)
    }

    /// "'x'", "end of input" or "U+00E9" for the byte at the cursor.
    private var found: String {
        guard let byte = current else { return "end of input" }
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        if byte == 0x20 { return "a space" }
        if byte < 0x80 { return "control character U+\(hex4(UInt32(byte)))" }
        return "a non-ASCII character"
    }

    // MARK: - Grammar

    private mutating func parseDocument() throws(JSONSyntaxError) -> JSONNode {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        skipWhitespace()
        let root = try parseValue()
        skipWhitespace()
        guard atEnd else { throw fail("unexpected \(found) after the end of the JSON document") }
        return root
    }

    private mutating func parseValue() throws(JSONSyntaxError) -> JSONNode {
        let start = position
        guard let byte = current else { throw fail("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return JSONNode(.string(try parseString()), at: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try parseLiteral("true"); return JSONNode(.bool(true), at: start)
        case UInt8(ascii: "f"): try parseLiteral("false"); return JSONNode(.bool(false), at: start)
        case UInt8(ascii: "n"): try parseLiteral("null"); return JSONNode(.null, at: start)
        case UInt8(ascii: "/"): throw fail("comments are not allowed in JSON")
        default: throw fail("unexpected \(found), expected a value")
        }
    }

    private mutating func parseLiteral(_ word: StaticString) throws(JSONSyntaxError) {
        let start = position
        let expected = word.withUTF8Buffer { Array($0) }
        for byte in expected {
            guard current == byte else {
                throw fail("invalid literal, expected '\(word)'", at: start)
            }
            advance()
        }
        // "truex" is not a literal followed by garbage we would report later: say it here.
        if let next = current, isIdentifierByte(next) {
            throw fail("invalid literal, expected '\(word)'", at: start)
        }
    }

    private func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    }

    private mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth) levels") }
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> JSONNode {
        let start = position
        try enterContainer()
        advance() // {
        var members: [JSONMember] = []
        var seen: [String: SourcePosition] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            advance()
            depth -= 1
            return JSONNode(.object(members), at: start)
        }
        while true {
            guard current == UInt8(ascii: "\"") else {
                if members.isEmpty {
                    throw fail("expected a string key or '}', found \(found)")
                }
                if current == UInt8(ascii: "}") {
                    throw fail("expected a string key after ',' (trailing commas are not allowed)")
                }
                throw fail("expected a string key, found \(found)")
            }
            let keyPosition = position
            let key = try parseString()
            if let first = seen[key] {
                throw fail("duplicate key \"\(key)\" (first defined at \(first))", at: keyPosition)
            }
            seen[key] = keyPosition
            skipWhitespace()
            guard current == UInt8(ascii: ":") else {
                throw fail("expected ':' after the key \"\(key)\", found \(found)")
            }
            advance()
            skipWhitespace()
            let value = try parseValue()
            members.append(JSONMember(key: key, keyPosition: keyPosition, value: value))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                advance()
                skipWhitespace()
            case UInt8(ascii: "}"):
                advance()
                depth -= 1
                return JSONNode(.object(members), at: start)
            default:
                throw fail("expected ',' or '}' after an object member, found \(found)")
            }
        }
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> JSONNode {
        let start = position
        try enterContainer()
        advance() // [
        var elements: [JSONNode] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            advance()
            depth -= 1
            return JSONNode(.array(elements), at: start)
        }
        while true {
            if !elements.isEmpty && current == UInt8(ascii: "]") {
                throw fail("expected a value after ',' (trailing commas are not allowed)")
            }
            elements.append(try parseValue())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                advance()
                skipWhitespace()
            case UInt8(ascii: "]"):
                advance()
                depth -= 1
                return JSONNode(.array(elements), at: start)
            default:
                throw fail("expected ',' or ']' after an array element, found \(found)")
            }
        }
    }

    // MARK: - Strings

    /// Parses a string starting at its opening quote; the cursor ends after the closing quote.
    private mutating func parseString() throws(JSONSyntaxError) -> String {
        let start = position
        advance() // "
        var utf8: [UInt8] = []
        while true {
            guard let byte = current else {
                throw fail("unterminated string (it starts at \(start))")
            }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw fail("invalid UTF-8 in string", at: start)
                }
                return text
            case UInt8(ascii: "\\"):
                try parseEscape(into: &utf8)
            case 0..<0x20:
                throw fail("control character U+\(hex4(UInt32(byte))) must be escaped in a string")
            default:
                utf8.append(byte)
                advance()
            }
        }
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
        let escapeStart = position
        advance() // backslash
        guard let byte = current else { throw fail("unterminated string") }
        let simple: UInt8?
        switch byte {
        case UInt8(ascii: "\""): simple = 0x22
        case UInt8(ascii: "\\"): simple = 0x5C
        case UInt8(ascii: "/"): simple = 0x2F
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"): simple = nil
        default:
            throw fail("invalid escape sequence: '\\' followed by \(found)", at: escapeStart)
        }
        advance()
        if let simple {
            utf8.append(simple)
            return
        }
        let unit = try parseHex4(escapeStart: escapeStart)
        var scalarValue = UInt32(unit)
        if (0xD800...0xDBFF).contains(unit) {
            guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                throw fail("unpaired surrogate \\u\(hex4(UInt32(unit))) (a high surrogate must be followed by \\uDC00-\\uDFFF)", at: escapeStart)
            }
            let lowStart = position
            advance()
            advance()
            let low = try parseHex4(escapeStart: lowStart)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw fail("unpaired surrogate \\u\(hex4(UInt32(unit))) (a high surrogate must be followed by \\uDC00-\\uDFFF)", at: escapeStart)
            }
            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(unit) {
            throw fail("unpaired surrogate \\u\(hex4(UInt32(unit))) (a low surrogate without a high one)", at: escapeStart)
        }
        guard let scalar = Unicode.Scalar(scalarValue) else {
            throw fail("invalid \\u escape", at: escapeStart)
        }
        utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private mutating func parseHex4(escapeStart: SourcePosition) throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = hexDigit(byte) else {
                throw fail("invalid \\u escape: expected 4 hex digits, found \(found)")
            }
            value = value << 4 | UInt16(digit)
            advance()
        }
        return value
    }

    private func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: - Numbers

    private func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> JSONNode {
        let start = position
        let startIndex = index
        var isInteger = true
        if current == UInt8(ascii: "-") {
            advance()
            guard isDigit(current) else { throw fail("expected a digit after '-', found \(found)") }
        }
        if current == UInt8(ascii: "0") {
            advance()
            if isDigit(current) { throw fail("leading zeros are not allowed in numbers", at: start) }
        } else {
            while isDigit(current) { advance() }
        }
        if current == UInt8(ascii: ".") {
            isInteger = false
            advance()
            guard isDigit(current) else { throw fail("expected a digit after '.', found \(found)") }
            while isDigit(current) { advance() }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            advance()
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
            guard isDigit(current) else { throw fail("expected a digit in the exponent, found \(found)") }
            while isDigit(current) { advance() }
        }
        let text = String(decoding: bytes[startIndex..<index], as: UTF8.self)
        if isInteger, let value = Int(text) {
            return JSONNode(.integer(value), at: start)
        }
        guard let value = Double(text), value.isFinite else {
            throw fail("number \(text) is out of range", at: start)
        }
        return JSONNode(.double(value), at: start)
    }
}

/// Four upper-case hex digits.
func hex4(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
