// DirtyBlockMap: which blocks of a disk were written while a migration copies it (the dirty
// bitmap of QEMU's drive-mirror). One bit per `blockSize` bytes (64 KiB by default); virtio-blk
// marks the blocks of every completed write, the migration thread takes and clears the bitmap
// a word at a time. Words are atomic, so taking never loses a mark made meanwhile.

import Synchronization

/// An atomic bitmap with one bit per fixed-size block of a disk.
public final class DirtyBlockMap: @unchecked Sendable {
    /// The default granularity: 64 KiB (a qcow2 default cluster; QEMU's mirror default too).
    public static let defaultBlockSize = 65_536

    /// Bytes per bit (a power of two, at least 512).
    public let blockSize: Int
    /// Blocks covering the disk (the last may be shorter than `blockSize`).
    public let blockCount: Int
    /// The disk size the map covers.
    public let diskSize: UInt64
    let shift: UInt64
    let words: Int
    nonisolated(unsafe) let bits: UnsafeMutablePointer<Atomic<UInt64>>

    /// A clear map for a disk of `diskSize` bytes; `blockSize` must be a power of two >= 512.
    public init(diskSize: UInt64, blockSize: Int = DirtyBlockMap.defaultBlockSize) throws(DiskError) {
        guard blockSize >= 512, blockSize.nonzeroBitCount == 1 else {
            throw .invalidArgument("dirty block size \(blockSize) is not a power of two of at least 512")
        }
        self.blockSize = blockSize
        self.diskSize = diskSize
        shift = UInt64(blockSize.trailingZeroBitCount)
        let count = (diskSize + UInt64(blockSize) - 1) >> shift
        guard count <= UInt64(Int32.max) else { throw .invalidArgument("disk of \(diskSize) bytes has too many blocks to track") }
        blockCount = Int(count)
        words = max((blockCount + 63) / 64, 1)
        bits = .allocate(capacity: words)
        // SAFETY: fresh storage of `words` atomics, each initialised once here.
        for w in 0..<words { (bits + w).initialize(to: Atomic(0)) }
    }

    deinit {
        // SAFETY: initialised in init; nobody holds the map once it is released.
        bits.deinitialize(count: words)
        bits.deallocate()
    }

    /// Marks the blocks `[offset, offset + length)` touches (clipped to the disk). No
    /// allocation: a load per block, and a fetch-or only for a block not marked yet.
    @inline(__always) public func mark(offset: UInt64, length: Int) {
        guard length > 0, offset < diskSize else { return }
        let end = min(offset &+ UInt64(length), diskSize)
        guard end > offset else { return }
        var block = Int(offset >> shift)
        let last = Int((end - 1) >> shift)
        while block <= last {
            let bit: UInt64 = 1 << UInt64(block & 63)
            if bits[block >> 6].load(ordering: .relaxed) & bit == 0 {
                bits[block >> 6].bitwiseOr(bit, ordering: .releasing)
            }
            block += 1
        }
    }

    /// Whether block `index` is marked.
    public func isDirty(block index: Int) -> Bool {
        guard index >= 0, index < blockCount else { return false }
        return bits[index >> 6].load(ordering: .acquiring) & (1 << UInt64(index & 63)) != 0
    }

    /// Marked blocks.
    public var dirtyCount: Int {
        var n = 0
        for w in 0..<words { n += bits[w].load(ordering: .relaxed).nonzeroBitCount }
        return n
    }

    /// Marks every block (a copy that starts from scratch).
    public func markAll() {
        for w in 0..<words {
            let inWord = min(64, blockCount - w * 64)
            guard inWord > 0 else { break }
            bits[w].bitwiseOr(inWord == 64 ? ~0 : (1 << UInt64(inWord)) - 1, ordering: .releasing)
        }
    }

    /// The marked block indices, clearing them: each word is read and cleared in one atomic
    /// exchange, so a block marked meanwhile is either returned now or stays for the next call.
    public func take() -> [Int] {
        var out: [Int] = []
        for w in 0..<words {
            if bits[w].load(ordering: .relaxed) == 0 { continue }
            var word = bits[w].exchange(0, ordering: .acquiring)
            while word != 0 {
                let index = w << 6 | word.trailingZeroBitCount
                if index < blockCount { out.append(index) }
                word &= word &- 1
            }
        }
        return out
    }

    /// The byte range of block `index` (the last block ends at the disk's end).
    public func range(of index: Int) -> (offset: UInt64, length: Int) {
        let offset = UInt64(index) << shift
        return (offset, Int(min(UInt64(blockSize), diskSize - offset)))
    }
}
