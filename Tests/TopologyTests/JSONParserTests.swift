// Tests of the strict JSON parser: valid documents, every kind of syntax error with its
// position, duplicate keys, the nesting cap and string escapes.
import Testing
import Topology

@Suite("JSON parser")
struct JSONParserTests {
    private func error(_ text: String) -> JSONSyntaxError? {
        do {
            _ = try JSONParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("scalars, arrays and objects keep order, kinds and positions")
    func validDocument() throws {
        let node = try JSONParser.parse("{\"b\": [1, -2.5, 3e2, true, false, null],\n \"a\": {\"x\": \"y\"}, \"big\": 12345678901234567890}")
        guard case .object(let members) = node.value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "big"])
        #expect(members[1].keyPosition == SourcePosition(line: 2, column: 2))
        #expect(members[1].value.position == SourcePosition(line: 2, column: 7))
        guard case .array(let items) = members[0].value.value else {
            Issue.record("not an array")
            return
        }
        #expect(items.map(\.value) == [.integer(1), .double(-2.5), .double(300), .bool(true), .bool(false), .null])
        #expect(items.map(\.position.column) == [8, 11, 17, 22, 28, 35])
        #expect(members[2].value.value == .double(1.2345678901234567e19))
        #expect(node["a"]?["x"]?.value == .string("y"))
    }

    @Test("whitespace, a byte order mark, and top-level scalars")
    func scalarsAndWhitespace() throws {
        #expect(try JSONParser.parse(" \t\r\n 0 \n").value == .integer(0))
        #expect(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("\"x\"".utf8)).value == .string("x"))
        #expect(try JSONParser.parse("-0").value == .integer(0))
        #expect(try JSONParser.parse("[]").value == .array([]))
        #expect(try JSONParser.parse("{}").value == .object([]))
        #expect(try JSONParser.parse("1E-2").value == .double(0.01))
    }

    @Test("string escapes, including surrogate pairs")
    func escapes() throws {
        let node = try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00""#)
        #expect(node.value == .string("a\"b\\c/d\u{8}\u{c}\n\r\tAé€😀"))
        let raw = try JSONParser.parse("\"é😀\"")
        #expect(raw.value == .string("é😀"))
    }

    @Test("columns count characters, not bytes")
    func columnsCountScalars() {
        #expect(error("[\"é😀\", x]")?.position == SourcePosition(line: 1, column: 8))
    }

    /// Each syntax error kind: input, position, message fragment.
    static let syntaxErrors: [(String, Int, Int, String)] = [
        ("", 1, 1, "unexpected end of input, expected a value"),
        ("   ", 1, 4, "unexpected end of input, expected a value"),
        ("{\"a\": 1,}", 1, 9, "expected a string key after ',' (trailing commas are not allowed)"),
        ("[1, 2,]", 1, 7, "expected a value after ',' (trailing commas are not allowed)"),
        ("{\"a\" 1}", 1, 6, "expected ':' after the key \"a\", found '1'"),
        ("{\"a\": 1 \"b\": 2}", 1, 9, "expected ',' or '}' after an object member, found '\"'"),
        ("[1 2]", 1, 4, "expected ',' or ']' after an array element, found '2'"),
        ("{1: 2}", 1, 2, "expected a string key or '}', found '1'"),
        ("{\"a\": 1, 2}", 1, 10, "expected a string key, found '2'"),
        ("[1]\n x", 2, 2, "unexpected 'x' after the end of the JSON document"),
        ("\"abc", 1, 5, "unterminated string (it starts at 1:1)"),
        ("\"a\nb\"", 1, 3, "control character U+000A must be escaped in a string"),
        ("\"\\x\"", 1, 2, "invalid escape sequence: '\\' followed by 'x'"),
        ("\"\\u12G4\"", 1, 6, "invalid \\u escape: expected 4 hex digits, found 'G'"),
        ("\"\\ud83d\"", 1, 2, "unpaired surrogate \\uD83D"),
        ("\"\\ud83d\\u0041\"", 1, 2, "unpaired surrogate \\uD83D"),
        ("\"\\ude00\"", 1, 2, "unpaired surrogate \\uDE00 (a low surrogate without a high one)"),
        ("-", 1, 2, "expected a digit after '-', found end of input"),
        ("01", 1, 1, "leading zeros are not allowed in numbers"),
        ("1.", 1, 3, "expected a digit after '.', found end of input"),
        ("1e+", 1, 4, "expected a digit in the exponent, found end of input"),
        ("1e999", 1, 1, "number 1e999 is out of range"),
        ("+1", 1, 1, "unexpected '+', expected a value"),
        ("tru", 1, 1, "invalid literal, expected 'true'"),
        ("nulls", 1, 1, "invalid literal, expected 'null'"),
        ("[NaN]", 1, 2, "unexpected 'N', expected a value"),
        ("{\"a\": 1} // c", 1, 10, "unexpected '/' after the end of the JSON document"),
        ("[// c\n1]", 1, 2, "comments are not allowed in JSON"),
        ("['a']", 1, 2, "unexpected ''', expected a value"),
        ("[\n  1,\n  @]", 3, 3, "unexpected '@', expected a value"),
    ]

    @Test("every syntax error kind reports line, column and what was expected")
    func syntaxErrorKinds() {
        for (input, line, column, message) in Self.syntaxErrors {
            let failure = error(input)
            #expect(failure?.position == SourcePosition(line: line, column: column), "input \(input.debugDescription)")
            #expect(failure?.message.contains(message) == true, "input \(input.debugDescription): \(String(describing: failure))")
        }
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        do {
            _ = try JSONParser.parse([0x22, 0x61, 0xFF, 0x22])
            Issue.record("parsed")
        } catch {
            #expect(error.message == "invalid UTF-8 in string")
            #expect(error.position == SourcePosition(line: 1, column: 1))
        }
    }

    @Test("duplicate keys are an error at the second key")
    func duplicateKeys() {
        let failure = error("{\n  \"a\": 1,\n  \"b\": {\"a\": 2},\n  \"a\": 3\n}")
        #expect(failure?.position == SourcePosition(line: 4, column: 3))
        #expect(failure?.message == "duplicate key \"a\" (first defined at 2:3)")
    }

    @Test("nesting deeper than the cap is rejected, not a crash")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(error(deep)?.message == "nesting deeper than 512 levels")
        #expect(error(deep)?.position == SourcePosition(line: 1, column: 513))
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        _ = try JSONParser.parse(ok)
        let objects = String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513)
        #expect(error(objects)?.message == "nesting deeper than 512 levels")
    }

    @Test("syntax errors through the topology decoder carry the file name")
    func decoderSyntaxError() {
        let errors = decodeErrors("{\"version\": 1, \"version\": 1}", file: "dup.json")
        #expect(errors.map(\.description) == [#"dup.json:1:16: $: duplicate key "version" (first defined at 1:2)"#])
    }
}
