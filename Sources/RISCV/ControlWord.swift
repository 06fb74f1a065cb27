// ControlWord: where mstatus, fflags and frm sit in `Hart.controlWords`, the few CSR words that
// translated F and D code reads and writes in place (FS checks, FS = Dirty, fflags, the dynamic
// rounding mode), so the interpreter and an engine share them without copying.

/// Indices of the CSR words in `Hart.controlWords` (8 bytes each).
package enum ControlWord {
    /// mstatus (all of it, SD included).
    package static let mstatus = 0
    /// fflags (NV DZ OF UF NX in bits 4...0; the rest zero).
    package static let fflags = 1
    /// frm (bits 2...0; the rest zero).
    package static let frm = 2
    /// Words in the block.
    package static let count = 4
}
