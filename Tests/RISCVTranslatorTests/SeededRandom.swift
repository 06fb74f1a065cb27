// SeededRandom: the translator tests' seeded generator (SplitMix64), so a seed printed with a
// difference regenerates the same program, data, initial state and interrupt schedule.

/// A deterministic random number generator seeded by one 64-bit value.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p` percent.
    mutating func chance(_ p: Int) -> Bool { Int.random(in: 0..<100, using: &self) < p }

    /// A random element of a non-empty array.
    mutating func pick<T>(_ a: [T]) -> T { a[Int.random(in: 0..<a.count, using: &self)] }
}
