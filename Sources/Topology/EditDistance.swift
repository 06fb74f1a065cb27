// EditDistance: "did you mean" suggestions for misspelled keys and names, using the
// optimal string alignment distance (Levenshtein plus adjacent transpositions).

enum EditDistance {
    /// The number of insertions, deletions, substitutions and adjacent swaps from `a` to `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let s = Array(a.unicodeScalars), t = Array(b.unicodeScalars)
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var previous2 = [Int](repeating: 0, count: t.count + 1)
        var previous = Array(0...t.count)
        var row = [Int](repeating: 0, count: t.count + 1)
        for i in 1...s.count {
            row[0] = i
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                var best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, s[i - 1] == t[j - 2], s[i - 2] == t[j - 1] {
                    best = min(best, previous2[j - 2] + 1)
                }
                row[j] = best
            }
            previous2 = previous
            previous = row
        }
        return previous[t.count]
    }

    /// The candidate closest to `word`, if it is close enough to be a likely misspelling.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates where candidate != word {
            let d = distance(word.lowercased(), candidate.lowercased())
            let allowed = max(1, min(3, candidate.unicodeScalars.count / 3))
            guard d <= allowed else { continue }
            if let current = best, current.1 <= d { continue }
            best = (candidate, d)
        }
        return best?.0
    }

    /// `; did you mean "x"?` or the empty string.
    static func hint(for word: String, among candidates: [String]) -> String {
        guard let s = suggestion(for: word, among: candidates) else { return "" }
        return "; did you mean \"\(s)\"?"
    }
}
