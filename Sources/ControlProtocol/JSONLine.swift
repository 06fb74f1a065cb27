// JSONLine: the one JSON encoding of the project's line formats (control replies, `--json`
// summaries): compact, keys sorted, slashes unescaped.

import Foundation

/// One compact JSON object per line (stable key order).
public func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
