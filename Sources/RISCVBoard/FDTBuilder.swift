// FDTBuilder: writes a flattened device tree blob (DTB, version 17) node by node, the format
// firmware and kernels read the board description from.
import RISCV

/// Builds a flattened device tree.
public struct FDTBuilder {
    private var structure: [UInt8] = []
    private var strings: [UInt8] = []
    private var stringOffsets: [String: UInt32] = [:]
    private var depth = 0

    /// An empty tree; start with `beginNode("")` for the root.
    public init() {}

    private mutating func u32(_ v: UInt32) {
        structure.append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }

    private mutating func pad() { while structure.count % 4 != 0 { structure.append(0) } }

    /// Opens a node.
    public mutating func beginNode(_ name: String) {
        u32(1)
        structure.append(contentsOf: Array(name.utf8) + [0])
        pad()
        depth += 1
    }

    /// Closes the innermost node.
    public mutating func endNode() {
        u32(2)
        depth -= 1
    }

    /// Adds a property with raw bytes.
    public mutating func property(_ name: String, bytes: [UInt8]) {
        let off: UInt32
        if let o = stringOffsets[name] { off = o } else {
            off = UInt32(strings.count)
            strings.append(contentsOf: Array(name.utf8) + [0])
            stringOffsets[name] = off
        }
        u32(3)
        u32(UInt32(bytes.count))
        u32(off)
        structure.append(contentsOf: bytes)
        pad()
    }

    /// Adds an empty (boolean) property.
    public mutating func property(_ name: String) { property(name, bytes: []) }

    /// Adds big-endian 32-bit cells.
    public mutating func property(_ name: String, cells: [UInt32]) {
        property(name, bytes: cells.flatMap { [UInt8($0 >> 24), UInt8(($0 >> 16) & 0xFF), UInt8(($0 >> 8) & 0xFF), UInt8($0 & 0xFF)] })
    }

    /// Adds 64-bit values as pairs of cells.
    public mutating func property(_ name: String, u64s: [UInt64]) {
        property(name, cells: u64s.flatMap { [UInt32($0 >> 32), UInt32($0 & 0xFFFF_FFFF)] })
    }

    /// Adds a string.
    public mutating func property(_ name: String, string: String) { property(name, bytes: Array(string.utf8) + [0]) }

    /// Adds a string list.
    public mutating func property(_ name: String, strings list: [String]) {
        property(name, bytes: list.flatMap { Array($0.utf8) + [0] })
    }

    /// Finishes the blob (header, empty reservation map, structure, strings).
    public func finish(bootCPU: UInt32 = 0) -> [UInt8] {
        var s = structure
        s.append(contentsOf: [0, 0, 0, 9]) // FDT_END
        let headerSize = 40
        let rsvOffset = headerSize
        let rsvSize = 16
        let structOffset = rsvOffset + rsvSize
        let stringsOffset = structOffset + s.count
        let total = stringsOffset + strings.count
        var out: [UInt8] = []
        func w(_ v: Int) { let u = UInt32(v); out.append(contentsOf: [UInt8(u >> 24), UInt8((u >> 16) & 0xFF), UInt8((u >> 8) & 0xFF), UInt8(u & 0xFF)]) }
        w(0xD00D_FEED); w(total); w(structOffset); w(stringsOffset); w(rsvOffset)
        w(17); w(16); w(Int(bootCPU)); w(strings.count); w(s.count)
        out.append(contentsOf: [UInt8](repeating: 0, count: rsvSize))
        out.append(contentsOf: s)
        out.append(contentsOf: strings)
        return out
    }
}
