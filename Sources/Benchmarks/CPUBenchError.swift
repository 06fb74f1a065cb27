// The error `bench cpu`'s parts throw: a sentence for the user.

/// A `bench cpu` failure with its reason.
struct CPUBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
