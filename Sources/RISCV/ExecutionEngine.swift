// ExecutionEngine: the seam a second CPU engine plugs into. A hart runs its guest code through
// `Hart.execute(budget:)` (the interpreter) unless an engine is installed; an engine runs the
// same hart state (registers, CSRs, TLBs, traps) and may hand any instruction back to the
// interpreter. The hart tells the engine when guest code it may have translated changes.

/// A way of running a hart's instructions other than the interpreter loop.
public protocol ExecutionEngine: AnyObject {
    /// Runs up to `budget` instructions of `hart` exactly as `Hart.execute(budget:)` would:
    /// returns the budget spent (instructions retired plus faults), leaves a VMM exit in the
    /// hart's pending exit, and keeps `pc` and `instret` exact.
    func execute(_ hart: Hart, budget: Int) -> Int
    /// The code of guest-physical page `index` (global RAM page index) changed.
    func invalidate(page index: Int)
    /// Any code may have changed (FENCE.I across harts).
    func invalidateAll()
}
