// DecodeContext: the state of one decoding pass (collected errors, positions by JSON path)
// and the typed readers that check a JSON value and report what is wrong with it.
import Frames

/// Collects errors and source positions while a file is decoded.
final class DecodeContext {
    let file: String
    private(set) var errors: [TopologyError] = []
    private(set) var truncated = false
    /// The position of every value read, by JSON path; validation uses it for its errors.
    var positions: [String: SourcePosition] = [:]
    /// The names of the top-level `hypervisors`, once read (nil: the file has none).
    var hypervisorNames: [String]?

    init(file: String) { self.file = file }

    /// Records an error (at most `TopologyErrors.limit`).
    func report(_ path: String, _ position: SourcePosition?, _ message: String) {
        guard errors.count < TopologyErrors.limit else {
            truncated = true
            return
        }
        errors.append(TopologyError(file: file, path: path, line: position?.line, column: position?.column,
                                    message: message))
    }

    /// Records an error at a value.
    func report(_ at: Located, _ message: String) { report(at.path, at.node.position, message) }

    // MARK: - Paths

    /// `path.key`, or `path["key"]` when the key is not a plain identifier.
    static func child(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_"
        }
        if plain { return path + "." + key }
        let escaped = key.replacingBackslashesAndQuotes()
        return path + "[\"" + escaped + "\"]"
    }

    /// `path[index]`.
    static func element(_ path: String, _ index: Int) -> String { "\(path)[\(index)]" }

    // MARK: - Typed readers

    /// Reads an object, reporting "expected an object" otherwise.
    func object(_ at: Located, what: String) -> ObjectReader? {
        guard case .object(let members) = at.node.value else {
            report(at, "expected \(what), found \(at.node.value.kindDescription)")
            return nil
        }
        return ObjectReader(context: self, path: at.path, position: at.node.position, members: members)
    }

    /// Reads an array and returns its elements with their paths.
    func array(_ at: Located, minCount: Int = 0, what: String = "element") -> [Located]? {
        guard case .array(let elements) = at.node.value else {
            report(at, "expected an array, found \(at.node.value.kindDescription)")
            return nil
        }
        if elements.count < minCount {
            report(at, "expected at least \(minCount) \(what)\(minCount == 1 ? "" : "s"), found none")
        }
        return elements.enumerated().map { index, node in
            let located = Located(node: node, path: Self.element(at.path, index))
            positions[located.path] = node.position
            return located
        }
    }

    func string(_ at: Located, nonEmpty: Bool = false) -> String? {
        guard case .string(let text) = at.node.value else {
            report(at, "expected a string, found \(at.node.value.kindDescription)")
            return nil
        }
        if nonEmpty && text.isEmpty {
            report(at, "expected a non-empty string")
            return nil
        }
        return text
    }

    /// Reads a file path: a non-empty string without NUL or other control characters (a NUL
    /// would silently cut the name short at open(), libpcap or fopen; the others break error
    /// lines and terminals). `what` names the value in the message ("capture file").
    func path(_ at: Located, what: String) -> String? {
        guard let text = string(at, nonEmpty: true) else { return nil }
        if let bad = text.unicodeScalars.first(where: \.isControlCharacter) {
            report(at, "\(what) \"\(text.escapedForTerminal)\" contains the control character \(Self.codePoint(bad)); "
                + "paths may not hold NUL or other control characters")
            return nil
        }
        return text
    }

    /// Reads a string handed to C as a NUL-terminated string (a filter expression, boot
    /// arguments): a NUL inside would silently cut it short.
    func cString(_ at: Located, what: String) -> String? {
        guard let text = string(at) else { return nil }
        if text.unicodeScalars.contains("\u{0}") {
            report(at, "\(what) contains a NUL character (U+0000), which would cut it short")
            return nil
        }
        return text
    }

    /// `U+001B` for a scalar.
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    func bool(_ at: Located) -> Bool? {
        guard case .bool(let value) = at.node.value else {
            report(at, "expected a boolean (true or false), found \(at.node.value.kindDescription)")
            return nil
        }
        return value
    }

    /// Reads an integer: an integer literal, or a number with no fractional part.
    func integer(_ at: Located, in range: ClosedRange<Int>, label: String) -> Int? {
        let value: Int
        switch at.node.value {
        case .integer(let v):
            value = v
        case .double(let d):
            guard d.rounded() == d else {
                report(at, "expected an integer, found \(Self.format(d))")
                return nil
            }
            guard let v = Int(exactly: d) else {
                report(at, "\(label) \(Self.format(d)) is outside \(range.lowerBound)-\(range.upperBound)")
                return nil
            }
            value = v
        default:
            report(at, "expected an integer, found \(at.node.value.kindDescription)")
            return nil
        }
        guard range.contains(value) else {
            if range.upperBound == Int.max {
                report(at, "\(label) must be at least \(range.lowerBound), found \(value)")
            } else {
                report(at, "\(label) \(value) is outside \(range.lowerBound)-\(range.upperBound)")
            }
            return nil
        }
        return value
    }

    /// Reads a number (integer or not) within `range`.
    func number(_ at: Located, in range: ClosedRange<Double>, label: String) -> Double? {
        let value: Double
        switch at.node.value {
        case .integer(let v): value = Double(v)
        case .double(let d): value = d
        default:
            report(at, "expected a number, found \(at.node.value.kindDescription)")
            return nil
        }
        guard range.contains(value) else {
            report(at, "\(label) \(Self.format(value)) is outside \(Self.format(range.lowerBound))-\(Self.format(range.upperBound))")
            return nil
        }
        return value
    }

    /// `d` as written in messages: `2.5`, and `3` rather than `3.0`.
    static func format(_ d: Double) -> String {
        let text = "\(d)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// Reads a VLAN id 1...4094.
    func vlan(_ at: Located) -> VLANID? {
        integer(at, in: 1...4094, label: "VLAN").flatMap { VLANID($0) }
    }

    /// Whether `text` matches `^[A-Za-z][A-Za-z0-9_.-]{0,31}$`.
    static func isValidName(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 32,
              (first >= "a" && first <= "z") || (first >= "A" && first <= "Z") else { return false }
        return scalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                || $0 == "_" || $0 == "." || $0 == "-"
        }
    }

    static let nameRule = "names start with a letter and have at most 32 letters, digits, '_', '.' or '-'"

    /// Reads a name (switch, port, mirror, capture, VM, host).
    func name(_ at: Located) -> String? {
        guard let text = string(at) else { return nil }
        guard Self.isValidName(text) else {
            report(at, "invalid name \"\(text.escapedForTerminal)\": \(Self.nameRule)")
            return nil
        }
        return text
    }

    /// Whether `text` is an interface name we accept: 1-15 of [A-Za-z0-9_.-], not "." or "..".
    static func isValidInterfaceName(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard (1...15).contains(scalars.count), text != ".", text != ".." else { return false }
        return scalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9")
                || $0 == "_" || $0 == "." || $0 == "-"
        }
    }

    /// Reads a Linux interface name.
    func interfaceName(_ at: Located) -> String? {
        guard let text = string(at) else { return nil }
        guard Self.isValidInterfaceName(text) else {
            report(at, "invalid interface name \"\(text.escapedForTerminal)\": 1-15 letters, digits, '_', '.' or '-'")
            return nil
        }
        return text
    }

    /// Reads a MAC address; `unicast` rejects multicast (and broadcast) addresses.
    func mac(_ at: Located, unicast: Bool, role: String) -> MACAddress? {
        guard let text = string(at) else { return nil }
        guard let mac = MACAddress(text) else {
            report(at, "invalid MAC address \"\(text.escapedForTerminal)\": expected six hex bytes such as 02:00:00:00:00:01")
            return nil
        }
        if unicast && mac.isMulticast {
            report(at, "\(role) MAC \(mac) is a multicast address; it must be unicast")
            return nil
        }
        return mac
    }

    /// Reads one of a fixed set of strings.
    func choice(_ at: Located, _ options: [String]) -> String? {
        guard let text = string(at) else { return nil }
        guard options.contains(text) else {
            let list = options.map { "\"\($0)\"" }.joined(separator: ", ")
            report(at, "invalid value \"\(text.escapedForTerminal)\": expected one of \(list)"
                + EditDistance.hint(for: text, among: options))
            return nil
        }
        return text
    }

    /// Reads an array of names.
    func names(_ at: Located) -> [String]? {
        guard let elements = array(at) else { return nil }
        return elements.compactMap { name($0) }
    }

    /// Reads an array of VLAN ids.
    func vlans(_ at: Located) -> [VLANID]? {
        guard let elements = array(at) else { return nil }
        return elements.compactMap { vlan($0) }
    }
}

/// A JSON value together with its path.
struct Located {
    let node: JSONNode
    let path: String
}

/// Reads the members of one JSON object: known keys, required keys, unknown-key errors.
struct ObjectReader {
    let context: DecodeContext
    let path: String
    let position: SourcePosition
    let members: [JSONMember]

    /// The object itself, for errors about the whole object.
    var located: Located { Located(node: JSONNode(.object(members), at: position), path: path) }

    /// Reports every key not in `allowed`, with a suggestion for likely misspellings.
    func checkKeys(_ allowed: [String], context what: String = "") {
        for member in members where !allowed.contains(member.key) {
            let keyPath = DecodeContext.child(path, member.key)
            context.report(keyPath, member.keyPosition,
                           "unknown key \"\(member.key.escapedForTerminal)\"\(what)" + EditDistance.hint(for: member.key, among: allowed))
        }
    }

    /// Whether `key` is present (null counts as present).
    func has(_ key: String) -> Bool { members.contains { $0.key == key } }

    /// The member `key`, if present.
    func optional(_ key: String) -> Located? {
        guard let member = members.first(where: { $0.key == key }) else { return nil }
        let located = Located(node: member.value, path: DecodeContext.child(path, key))
        context.positions[located.path] = member.value.position
        return located
    }

    /// The member `key`; reports "missing required key" when absent.
    func required(_ key: String) -> Located? {
        if let located = optional(key) { return located }
        context.report(path, position, "missing required key \"\(key)\"")
        return nil
    }
}

extension String {
    /// The text with `\` and `"` escaped, and control characters written as JSON escapes,
    /// for quoting inside a JSON path.
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for ch in self {
            if ch == "\\" || ch == "\"" { out.append("\\") }
            out.append(ch)
        }
        return out.escapedForTerminal
    }
}
