// TerminalTextTests: control characters in user-provided text are found and escaped.
import Frames
import Testing

@Suite struct TerminalTextTests {
    @Test func controlCharactersAreEscapedAndOtherTextIsKept() {
        #expect("sw0-a.b_c é ✓".escapedForTerminal == "sw0-a.b_c é ✓")
        #expect(!"sw0 é".containsControlCharacters)
        #expect("a\nb\rc\td".escapedForTerminal == #"a\nb\rc\td"#)
        #expect("x\u{0}y".escapedForTerminal == #"x\u0000y"#)
        #expect("\u{1b}[31mred".escapedForTerminal == #"\u001b[31mred"#)
        #expect("del\u{7f} csi\u{9b}".escapedForTerminal == #"del\u007f csi\u009b"#)
        for scalar in ["\u{0}", "\u{1f}", "\u{7f}", "\u{80}", "\u{9f}"] {
            #expect(scalar.containsControlCharacters)
        }
        #expect(!"\u{a0}".containsControlCharacters)
        // "\r\n" is one Character but two scalars: both are escaped.
        #expect("a\r\nb".escapedForTerminal == #"a\r\nb"#)
    }
}
