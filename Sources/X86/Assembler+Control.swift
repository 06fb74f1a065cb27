// Assembler+Control: jumps, calls, returns and the stack.

extension Assembler {
    /// `jmp label` (rel32).
    public mutating func jmp(_ label: Label) {
        byte(0xE9)
        rel32(to: label)
    }

    /// `jcc label` (rel32).
    public mutating func jump(if condition: Condition, to label: Label) {
        byte(0x0F)
        byte(0x80 | condition.rawValue)
        rel32(to: label)
    }

    /// `jmp r`.
    public mutating func jmp(_ r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0xFF)
        modRM(reg: 4, rm: r)
    }

    /// `jmp rel32` to an absolute address, given the address this code will run at:
    /// nil when the distance does not fit 32 bits.
    public mutating func jmp(toAddress target: UInt64, codeBase: UInt64) -> Bool {
        let next = Int64(bitPattern: codeBase) + Int64(count + 5)
        guard let distance = Int32(exactly: Int64(bitPattern: target) - next) else { return false }
        byte(0xE9)
        int32(distance)
        return true
    }

    /// `jmp qword [m]` (to the address stored at m).
    public mutating func jmp(_ m: Memory) {
        emit([0xFF], width: .dword, reg: 4, m)
    }

    /// `call r`.
    public mutating func call(_ r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0xFF)
        modRM(reg: 2, rm: r)
    }

    /// `ret`.
    public mutating func ret() { byte(0xC3) }

    /// `push r`.
    public mutating func push(_ r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0x50 | r.low)
    }

    /// `pop r`.
    public mutating func pop(_ r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0x58 | r.low)
    }

    /// `int3` (a trap byte: fills unused code).
    public mutating func breakpoint() { byte(0xCC) }

    /// `nop` of 1 byte.
    public mutating func nop() { byte(0x90) }
}
