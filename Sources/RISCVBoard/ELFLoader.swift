// ELFLoader: loads the PT_LOAD segments of a little-endian RISC-V ELF64 executable into guest
// RAM, validating every header field against the file and the RAM map.
import RISCV
import Machine

/// Errors from loading an ELF file.
public enum ELFError: Error, Equatable, CustomStringConvertible {
    /// The file is not an ELF64 little-endian RISC-V executable.
    case notRISCV64(String)
    /// A header or segment points outside the file.
    case truncated(String)
    /// A segment does not fit in guest RAM.
    case outsideRAM(UInt64, UInt64)

    /// A readable message.
    public var description: String {
        switch self {
        case .notRISCV64(let m): return "not a RISC-V ELF64 executable: \(m)"
        case .truncated(let m): return "truncated ELF file: \(m)"
        case .outsideRAM(let a, let n): return "ELF segment at 0x\(String(a, radix: 16)) (\(n) bytes) is outside guest RAM"
        }
    }
}

/// What a loaded ELF occupies.
public struct LoadedELF: Sendable, Equatable {
    /// Entry point.
    public var entry: UInt64
    /// Lowest and highest (exclusive) guest-physical addresses written.
    public var low: UInt64, high: UInt64
}

/// Loads ELF executables.
public enum ELFLoader {
    static func u16(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt64 { u16(b, o) | u16(b, o + 2) << 16 }
    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { u32(b, o) | u32(b, o + 4) << 32 }

    /// Loads `file` into `memory`; segments go to their physical addresses plus `bias`.
    public static func load(_ file: [UInt8], into memory: GuestMemory, bias: UInt64 = 0) throws -> LoadedELF {
        guard file.count >= 64 else { throw ELFError.truncated("file shorter than the ELF header") }
        guard file[0] == 0x7F, file[1] == 0x45, file[2] == 0x4C, file[3] == 0x46 else { throw ELFError.notRISCV64("bad magic") }
        guard file[4] == 2 else { throw ELFError.notRISCV64("not ELF64") }
        guard file[5] == 1 else { throw ELFError.notRISCV64("not little-endian") }
        guard u16(file, 18) == 243 else { throw ELFError.notRISCV64("machine \(u16(file, 18)) is not RISC-V (243)") }
        let entry = u64(file, 24) &+ bias
        let phoff = u64(file, 32)
        let phentsize = u16(file, 54), phnum = u16(file, 56)
        guard phentsize >= 56 else { throw ELFError.truncated("program header entries too small") }
        guard phoff <= UInt64(file.count), phnum * phentsize <= UInt64(file.count) - phoff else {
            throw ELFError.truncated("program headers beyond end of file")
        }
        var low = UInt64.max, high: UInt64 = 0
        for i in 0..<Int(phnum) {
            let o = Int(phoff) + i * Int(phentsize)
            guard u32(file, o) == 1 else { continue } // PT_LOAD
            let offset = u64(file, o + 8), paddr = u64(file, o + 24) &+ bias
            let filesz = u64(file, o + 32), memsz = u64(file, o + 40)
            guard filesz <= memsz else { throw ELFError.truncated("segment \(i) has filesz > memsz") }
            guard offset <= UInt64(file.count), filesz <= UInt64(file.count) - offset else {
                throw ELFError.truncated("segment \(i) data beyond end of file")
            }
            if memsz == 0 { continue }
            guard memory.region(containing: paddr, length: memsz) != nil else { throw ELFError.outsideRAM(paddr, memsz) }
            try file[Int(offset)..<Int(offset + filesz)].withUnsafeBytes { try memory.write($0, at: GuestPhysicalAddress(paddr)) }
            try memory.zero(at: GuestPhysicalAddress(paddr + filesz), length: memsz - filesz)
            low = min(low, paddr); high = max(high, paddr + memsz)
        }
        guard low < high else { throw ELFError.notRISCV64("no loadable segments") }
        return LoadedELF(entry: entry, low: low, high: high)
    }
}
