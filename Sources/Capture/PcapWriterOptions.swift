// PcapWriter.Options and PcapWriter.Rotation: snap length, write filter and tcpdump-style
// -C/-W file rotation for PcapWriter.

extension PcapWriter {
    /// How a `PcapWriter` writes: snap length, an optional filter and optional rotation.
    public struct Options: Sendable, Equatable {
        /// The largest snap length libpcap accepts for Ethernet files (its MAXIMUM_SNAPLEN).
        public static let maximumSnapLength = 262_144

        /// Bytes kept of each frame; longer frames are truncated (captured length <
        /// original length), as tcpdump `-s`. Default 262144, range 1...262144.
        public var snapLength: Int
        /// A libpcap filter expression (tcpdump syntax, e.g. `"icmp or arp"`); frames it
        /// rejects are not written. `nil` or empty writes every frame.
        public var filter: String?
        /// File rotation as tcpdump `-C`/`-W`; `nil` writes one file.
        public var rotation: Rotation?

        /// Creates options; the defaults write every frame whole into one file.
        public init(snapLength: Int = Options.maximumSnapLength, filter: String? = nil,
                    rotation: Rotation? = nil) {
            self.snapLength = snapLength
            self.filter = filter
            self.rotation = rotation
        }
    }

    /// File rotation with tcpdump's `-C` (size) and `-W` (count) semantics.
    ///
    /// Before each frame is written, if the current file is already larger than
    /// `fileSizeBytes` (pcap headers included), it is closed and the next file opened.
    /// Without `fileCount` the files are `FILE`, `FILE1`, `FILE2`, ...; with `fileCount` N
    /// they are `FILE0` ... `FILE<N-1>` zero-padded to the width of N-1, and the writer
    /// wraps around to `FILE0`, overwriting the oldest file. See docs/capture.md.
    public struct Rotation: Sendable, Equatable {
        /// Rotate once a file holds more than this many bytes (must be > 0).
        public var fileSizeBytes: Int64
        /// Keep at most this many files, overwriting the oldest (must be >= 1); `nil` keeps all.
        public var fileCount: Int?

        /// Rotation by an exact byte count.
        public init(fileSizeBytes: Int64, fileCount: Int? = nil) {
            self.fileSizeBytes = fileSizeBytes
            self.fileCount = fileCount
        }

        /// Rotation in tcpdump's `-C` unit: millions of bytes (1 MB = 1,000,000 bytes, not 2^20).
        public init(fileSizeMegabytes: Int, fileCount: Int? = nil) {
            let (bytes, overflow) = Int64(fileSizeMegabytes).multipliedReportingOverflow(by: 1_000_000)
            self.init(fileSizeBytes: overflow ? Int64.max : bytes, fileCount: fileCount)
        }

        /// The name of rotated file number `index` for output path `base`, exactly as tcpdump
        /// names it: `base` for index 0 without a count, else `base` + index (zero-padded to
        /// the number of digits of `fileCount - 1` when a count is set; `-W 1` gives `base`).
        public static func fileName(base: String, index: Int, fileCount: Int?) -> String {
            let width = fileCount.map { digitCount($0 - 1) } ?? 0
            if index == 0 && width == 0 { return base }
            let digits = String(index)
            let padding = String(repeating: "0", count: max(0, width - digits.count))
            return base + padding + digits
        }

        /// Decimal digits of `value`; 0 for values <= 0 (so `-W 1` pads to width 0).
        static func digitCount(_ value: Int) -> Int {
            var count = 0
            var rest = value
            while rest > 0 {
                count += 1
                rest /= 10
            }
            return count
        }
    }
}
