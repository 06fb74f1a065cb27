// SeededRandom: the tests' one seeded generator (SplitMix64), so a seed printed with a failure
// regenerates the same program, data, operands or messages.

/// A deterministic random number generator seeded by one 64-bit value.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p` percent.
    public mutating func chance(_ p: Int) -> Bool { Int.random(in: 0..<100, using: &self) < p }

    /// A random element of a non-empty array.
    public mutating func pick<T>(_ a: [T]) -> T { a[Int.random(in: 0..<a.count, using: &self)] }

    /// The next value modulo `n` (n > 0): cheap and reproducible, not exactly uniform.
    public mutating func below<T: BinaryInteger>(_ n: T) -> T { T(next() % UInt64(n)) }
}
