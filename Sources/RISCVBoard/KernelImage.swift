// KernelImage: what a `kernel` file holds and where it goes in guest RAM: an ELF executable
// (our appliance, U-Boot) or a RISC-V Linux `Image` — a flat binary with a 64-byte header
// (magic "RISCV\0\0\0" / "RSC\x05", text_offset, image_size) that is loaded text_offset bytes
// above the start of RAM, as QEMU and U-Boot's booti place it.
import Machine

/// Errors from reading a kernel image.
public enum KernelImageError: Error, Equatable, CustomStringConvertible {
    /// Neither an ELF nor a RISC-V Image.
    case unknownFormat
    /// A RISC-V Image whose header does not fit RAM.
    case badImage(String)

    /// A readable message.
    public var description: String {
        switch self {
        case .unknownFormat:
            return "kernel is neither an ELF executable nor a RISC-V Linux Image (no \"RISCV\" header magic)"
        case .badImage(let m): return "RISC-V Image: \(m)"
        }
    }
}

/// A kernel image ready to load.
public enum KernelImage {
    /// The RISC-V Image header's magic at offset 48 ("RISCV\0\0\0", deprecated but still set).
    static let magic: UInt64 = 0x0000_0056_4353_4952
    /// The header's second magic at offset 56 ("RSC\x05").
    static let magic2: UInt32 = 0x0543_5352

    /// Whether `bytes` start with a RISC-V Linux Image header.
    public static func isLinuxImage(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 64 else { return false }
        return le64(bytes, 48) == magic || le32(bytes, 56) == magic2
    }

    /// Loads `bytes` (ELF or Image) into `memory`; returns what it occupies and its entry.
    public static func load(_ bytes: [UInt8], into memory: GuestMemory, ramBase: UInt64) throws -> LoadedELF {
        if bytes.count >= 4 && bytes[0] == 0x7F && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x46 {
            return try ELFLoader.load(bytes, into: memory)
        }
        guard isLinuxImage(bytes) else { throw KernelImageError.unknownFormat }
        var textOffset = le64(bytes, 8)
        let imageSize = le64(bytes, 16)
        // An Image whose text_offset is 0 and flags say "unspecified" goes 2 MiB up (RV64).
        if textOffset == 0 { textOffset = 0x20_0000 }
        guard textOffset % 4096 == 0, textOffset < 1 << 30 else {
            throw KernelImageError.badImage("text_offset 0x\(String(textOffset, radix: 16)) is not a page multiple below 1 GiB")
        }
        let size = max(UInt64(bytes.count), imageSize)
        let start = ramBase + textOffset
        guard let region = memory.region(containing: start, length: size) else {
            throw KernelImageError.badImage("\(size) bytes at 0x\(String(start, radix: 16)) do not fit guest RAM")
        }
        _ = region
        try memory.write(bytes, at: GuestPhysicalAddress(start))
        if imageSize > UInt64(bytes.count) {
            // The kernel's own BSS and page tables: make sure they start zeroed after a reset.
            try memory.zero(at: GuestPhysicalAddress(start + UInt64(bytes.count)), length: imageSize - UInt64(bytes.count))
        }
        return LoadedELF(entry: start, low: start, high: start + size)
    }

    static func le64(_ b: [UInt8], _ o: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[o + i]) << UInt64(8 * i) }
        return v
    }

    static func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[o + i]) << UInt32(8 * i) }
        return v
    }
}
