// PcapWriter: writes Ethernet frames to pcap files through libpcap (pcap_dump) with
// nanosecond timestamps, an optional libpcap filter, snap length and tcpdump -C/-W rotation.
import CPcap
import Frames
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes Ethernet frames (link type DLT_EN10MB) to a pcap file with nanosecond timestamps.
///
/// Everything goes through libpcap: a dead handle opened with nanosecond precision,
/// `pcap_dump_open` / `pcap_dump`, `pcap_compile` + `pcap_offline_filter` for the filter.
/// The caller passes each frame's timestamp; the writer has no clock.
///
/// `write` does not allocate: the record header is allocated once and reused. A writer
/// belongs to one thread at a time. Rotation (`Options.rotation`) follows tcpdump's `-C`/`-W`
/// naming and timing exactly (docs/capture.md).
public final class PcapWriter {
    /// The path given at creation: the base name rotated files are derived from.
    public let basePath: String
    /// The options the writer was created with.
    public let options: Options
    /// The path of the file currently being written.
    public private(set) var currentPath: String

    /// Frames written to files (after filtering).
    public private(set) var framesWritten: UInt64 = 0
    /// Frames the filter rejected (not written).
    public private(set) var framesFilteredOut: UInt64 = 0
    /// Frames written shorter than they were (captured length < original length).
    public private(set) var framesTruncated: UInt64 = 0
    /// Bytes written to all files, pcap file and record headers included.
    public private(set) var bytesWritten: UInt64 = 0
    /// Files opened so far (1 after creation; +1 per rotation, reopened files included).
    public private(set) var filesOpened: Int = 0

    /// Size of the pcap global header that starts every file.
    static let fileHeaderSize: Int64 = 24
    /// Size of the per-record header in a pcap file.
    static let recordHeaderSize: Int64 = 16

    private var dead: OpaquePointer?
    private var dumper: OpaquePointer?
    /// Owns the compiled filter; the write path uses `filterCode` (no ARC per frame).
    private let filter: PcapFilterProgram?
    private let filterCode: UnsafePointer<bpf_program>?
    /// The record header, allocated once and reused for every frame.
    private let header: UnsafeMutablePointer<pcap_pkthdr>
    /// One readable byte to hand libpcap for an empty frame (never dereferenced past 0 bytes).
    private let emptyFrame: UnsafeMutablePointer<UInt8>
    private let snapLength: UInt32
    private let rotationLimit: Int64
    private let rotationCount: Int?
    private var fileIndex = 0
    private var currentFileBytes: Int64 = 0

    /// Opens `path` for writing (truncating it), with `options`. As in tcpdump, `-` means
    /// standard output (libpcap's convention); rotation then is refused.
    ///
    /// Throws `CaptureError.directoryNotFound` when the directory of `path` does not exist,
    /// `.invalidOption` for a snap length outside 1...262144 or a bad rotation,
    /// `.invalidFilter` with libpcap's message for a bad filter expression, and
    /// `.cannotOpenForWriting` with libpcap's message when the file cannot be created.
    public init(path: String, options: Options = Options()) throws {
        guard (1...Options.maximumSnapLength).contains(options.snapLength) else {
            throw CaptureError.invalidOption(
                "snap length \(options.snapLength) is outside 1...\(Options.maximumSnapLength)")
        }
        if let rotation = options.rotation {
            guard rotation.fileSizeBytes > 0 else {
                throw CaptureError.invalidOption("rotation file size must be > 0 bytes, got \(rotation.fileSizeBytes)")
            }
            if let count = rotation.fileCount, count < 1 {
                throw CaptureError.invalidOption("rotation file count must be >= 1, got \(count)")
            }
        }
        guard !path.isEmpty else { throw CaptureError.invalidOption("output path is empty") }
        // Last line of defence: libpcap's fopen would stop at a NUL and write another file
        // ("x\0y.pcap" writes "x").
        guard !path.unicodeScalars.contains("\u{0}") else {
            throw CaptureError.invalidOption("output path '\(path.escapedForTerminal)' contains a NUL character")
        }
        if let filter = options.filter, filter.unicodeScalars.contains("\u{0}") {
            throw CaptureError.invalidFilter(expression: filter, message: "the expression contains a NUL character")
        }
        if path == "-" && options.rotation != nil {
            throw CaptureError.invalidOption("rotation needs a file name, not '-' (standard output)")
        }
        let directory = Self.directory(of: path)
        guard Self.isDirectory(directory) else {
            throw CaptureError.directoryNotFound(path: path, directory: directory)
        }

        guard let dead = pcap_open_dead_with_tstamp_precision(
            DLT_EN10MB, Int32(options.snapLength), UInt32(PCAP_TSTAMP_PRECISION_NANO))
        else {
            throw CaptureError.cannotOpenForWriting(path: path, message: "pcap_open_dead failed (out of memory)")
        }
        let filter: PcapFilterProgram?
        do {
            if let expression = options.filter, !expression.isEmpty {
                filter = try PcapFilterProgram(expression: expression, handle: dead)
            } else {
                filter = nil
            }
        } catch {
            pcap_close(dead)
            throw error
        }

        self.basePath = path
        self.options = options
        self.dead = dead
        self.filter = filter
        self.filterCode = filter.map { UnsafePointer($0.program) }
        self.snapLength = UInt32(options.snapLength)
        self.rotationLimit = options.rotation?.fileSizeBytes ?? Int64.max
        self.rotationCount = options.rotation?.fileCount
        self.currentPath = Rotation.fileName(base: path, index: 0, fileCount: options.rotation?.fileCount)
        self.header = UnsafeMutablePointer<pcap_pkthdr>.allocate(capacity: 1)
        self.header.initialize(to: pcap_pkthdr())
        self.emptyFrame = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        self.emptyFrame.initialize(to: 0)
        try openCurrentFile()
    }

    deinit {
        closeHandles()
        header.deallocate()
        emptyFrame.deallocate()
    }

    /// Writes one Ethernet frame stamped `timestampNanoseconds` (since the Unix epoch).
    ///
    /// Returns `false` when the filter rejected the frame (nothing written), `true` when it
    /// was written (truncated to the snap length if longer). Rotates first when the current
    /// file is already over the rotation size. Does not allocate (except when rotating).
    /// Throws `.timestampOutOfRange` when the seconds do not fit 32 bits, `.writeFailed` on
    /// an I/O error, `.closed` after `close()`.
    @discardableResult
    public func write(_ frame: UnsafeRawBufferPointer, timestampNanoseconds: UInt64) throws -> Bool {
        guard dumper != nil else { throw CaptureError.closed(path: currentPath) }
        let length = frame.count
        guard length <= Int(UInt32.max) else { throw CaptureError.frameTooLong(length: length) }
        let seconds = timestampNanoseconds / 1_000_000_000
        guard seconds <= UInt64(UInt32.max) else {
            throw CaptureError.timestampOutOfRange(nanoseconds: timestampNanoseconds)
        }
        // SAFETY: `frame` is readable for `length` bytes for the duration of this call; an
        // empty frame uses our own 1-byte buffer so libpcap always gets a valid pointer and
        // reads at most `caplen` (0) bytes from it.
        let bytes = frame.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyFrame)

        let originalLength = UInt32(truncatingIfNeeded: length)
        header.pointee.len = originalLength
        // The filter sees the whole frame, as a live capture filter does; snap applies after.
        header.pointee.caplen = originalLength
        header.pointee.ts.tv_sec = .init(seconds)
        header.pointee.ts.tv_usec = .init(timestampNanoseconds % 1_000_000_000)
        if let filterCode, pcap_offline_filter(filterCode, header, bytes) == 0 {
            framesFilteredOut &+= 1
            return false
        }
        let capturedLength = min(originalLength, snapLength)
        header.pointee.caplen = capturedLength

        if currentFileBytes > rotationLimit {
            try rotate()
        }
        guard let dumper else { throw CaptureError.closed(path: currentPath) }
        // SAFETY: `dumper` is a live pcap_dumper_t; pcap_dump takes it as its `u_char *user`
        // argument and reads `caplen` bytes from `bytes`, which are valid (see above).
        pcap_dump(UnsafeMutablePointer<UInt8>(dumper), header, bytes)
        if let file = pcap_dump_file(dumper), ferror(file) != 0 {
            throw CaptureError.writeFailed(path: currentPath, message: Self.errnoMessage())
        }
        let recordBytes = Self.recordHeaderSize + Int64(capturedLength)
        currentFileBytes &+= recordBytes
        bytesWritten &+= UInt64(recordBytes)
        framesWritten &+= 1
        if capturedLength < originalLength { framesTruncated &+= 1 }
        return true
    }

    /// Writes one frame given as a byte array; see `write(_:timestampNanoseconds:)`.
    @discardableResult
    public func write(_ frame: [UInt8], timestampNanoseconds: UInt64) throws -> Bool {
        try frame.withUnsafeBytes { try write($0, timestampNanoseconds: timestampNanoseconds) }
    }

    /// Pushes buffered records to the file (`pcap_dump_flush`) so readers see them.
    public func flush() throws {
        guard let dumper else { throw CaptureError.closed(path: currentPath) }
        if pcap_dump_flush(dumper) != 0 {
            throw CaptureError.writeFailed(path: currentPath, message: Self.errnoMessage())
        }
    }

    /// Flushes and closes the file. Calling it again does nothing; deinit closes too.
    /// Throws `.writeFailed` when the final flush fails (the handles are closed anyway).
    public func close() throws {
        guard let dumper else { return }
        let flushed = pcap_dump_flush(dumper) == 0
        let message = flushed ? "" : Self.errnoMessage()
        closeHandles()
        if !flushed { throw CaptureError.writeFailed(path: currentPath, message: message) }
    }

    /// True until `close()` (or a failed rotation) closes the writer.
    public var isOpen: Bool { dumper != nil }

    // MARK: - Files

    /// Opens `currentPath` with pcap_dump_open, truncating any earlier file of that name.
    private func openCurrentFile() throws {
        guard let dead else { throw CaptureError.closed(path: currentPath) }
        guard let opened = pcap_dump_open(dead, currentPath) else {
            throw CaptureError.cannotOpenForWriting(path: currentPath, message: libpcapError(dead))
        }
        dumper = opened
        filesOpened += 1
        currentFileBytes = Self.fileHeaderSize
        bytesWritten &+= UInt64(Self.fileHeaderSize)
    }

    /// Closes the current file and opens the next one in tcpdump's order.
    private func rotate() throws {
        if let dumper {
            let flushed = pcap_dump_flush(dumper) == 0
            pcap_dump_close(dumper)
            self.dumper = nil
            if !flushed {
                throw CaptureError.writeFailed(path: currentPath, message: Self.errnoMessage())
            }
        }
        if let count = rotationCount {
            fileIndex = fileIndex + 1 >= count ? 0 : fileIndex + 1
        } else {
            fileIndex += 1
        }
        currentPath = Rotation.fileName(base: basePath, index: fileIndex, fileCount: rotationCount)
        try openCurrentFile()
    }

    private func closeHandles() {
        if let dumper { pcap_dump_close(dumper) }
        dumper = nil
        if let dead { pcap_close(dead) }
        dead = nil
    }

    // MARK: - Helpers

    /// The directory part of `path`: "." for a bare file name, "/" for a file in the root.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// True when `path` names an existing directory.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The C library's message for the current errno.
    static func errnoMessage() -> String {
        let code = errno
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
