// PcapReader: reads Ethernet pcap and pcapng files through libpcap (pcap_next_ex) with
// nanosecond timestamps and an optional libpcap read filter.
import CPcap

/// Reads Ethernet frames from a pcap or pcapng file, with nanosecond timestamps.
///
/// Opens the file with `pcap_open_offline_with_tstamp_precision` (nanosecond precision, so
/// microsecond files are scaled up), requires link type Ethernet (DLT_EN10MB) and iterates
/// with `pcap_next_ex`. A truncated or corrupt file throws `CaptureError.readFailed` with
/// libpcap's message; it never traps. A reader belongs to one thread at a time.
public final class PcapReader {
    /// The file being read.
    public let path: String
    /// The file's snapshot length as libpcap reports it.
    public let snapshotLength: Int
    /// True when the file is in a byte order other than this machine's.
    public let isSwapped: Bool
    /// Packets returned so far (after the read filter).
    public private(set) var packetsRead: UInt64 = 0

    private var handle: OpaquePointer?

    /// Opens `path` for reading; `filter` is an optional libpcap filter expression
    /// (tcpdump syntax) that skips packets it rejects.
    ///
    /// Throws `.cannotOpenForReading` with libpcap's message (missing file, not a capture
    /// file), `.unsupportedLinkType` for a non-Ethernet file, `.invalidFilter` with
    /// libpcap's message for a bad expression.
    public init(path: String, filter: String? = nil) throws {
        // libpcap would stop at a NUL and open another file.
        guard !path.unicodeScalars.contains("\u{0}") else {
            throw CaptureError.cannotOpenForReading(path: path, message: "the path contains a NUL character")
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        let opened = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer.baseAddress)
        }
        guard let handle = opened else {
            let message = errorBuffer.withUnsafeBufferPointer { buffer in
                buffer.baseAddress.map { String(cString: $0) } ?? ""
            }
            throw CaptureError.cannotOpenForReading(path: path, message: message.isEmpty ? "unknown error" : message)
        }
        let linkType = pcap_datalink(handle)
        guard linkType == DLT_EN10MB else {
            let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "unknown"
            pcap_close(handle)
            throw CaptureError.unsupportedLinkType(path: path, linkType: linkType, name: name)
        }
        if let filter, !filter.isEmpty {
            do {
                // pcap_setfilter copies the program, so the compiled one is freed right away.
                let program = try PcapFilterProgram(expression: filter, handle: handle)
                if pcap_setfilter(handle, program.program) != 0 {
                    throw CaptureError.invalidFilter(expression: filter, message: libpcapError(handle))
                }
            } catch {
                pcap_close(handle)
                throw error
            }
        }
        self.path = path
        self.handle = handle
        self.snapshotLength = Int(pcap_snapshot(handle))
        self.isSwapped = pcap_is_swapped(handle) != 0
    }

    deinit {
        if let handle { pcap_close(handle) }
    }

    /// The next packet with its bytes copied out, or `nil` at the end of the file.
    /// Throws `.readFailed` with libpcap's message for a truncated or corrupt record.
    public func next() throws -> PcapPacket? {
        try withNextPacket { bytes, timestamp, originalLength in
            PcapPacket(timestampNanoseconds: timestamp, capturedLength: bytes.count,
                       originalLength: originalLength, bytes: Array(bytes))
        }
    }

    /// Calls `body` with the next packet's captured bytes (valid only during the call), its
    /// timestamp in nanoseconds and its original length; returns `nil` at the end of the
    /// file. Copies nothing. Throws `.readFailed` for a truncated or corrupt record.
    public func withNextPacket<R>(
        _ body: (_ bytes: UnsafeRawBufferPointer, _ timestampNanoseconds: UInt64, _ originalLength: Int) throws -> R
    ) throws -> R? {
        guard let handle else { throw CaptureError.closed(path: path) }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        switch status {
        case 1:
            guard let header else { return nil }
            let captured = Int(header.pointee.caplen)
            // SAFETY: on success pcap_next_ex points `data` at `caplen` readable bytes that stay
            // valid until the next call on this handle, which cannot happen during `body`.
            let bytes = UnsafeRawBufferPointer(start: captured > 0 ? data : nil, count: data == nil ? 0 : captured)
            packetsRead &+= 1
            return try body(bytes, Self.nanoseconds(header.pointee.ts), Int(header.pointee.len))
        case PCAP_ERROR_BREAK: // -2: end of file
            return nil
        case 0:
            return nil
        default:
            throw CaptureError.readFailed(path: path, message: libpcapError(handle))
        }
    }

    /// Closes the file. Calling it again does nothing; deinit closes too.
    public func close() {
        if let handle { pcap_close(handle) }
        handle = nil
    }

    /// Reads every remaining packet (copies each); convenient for tests and small files.
    public func readAll() throws -> [PcapPacket] {
        var packets: [PcapPacket] = []
        while let packet = try next() { packets.append(packet) }
        return packets
    }

    /// Nanoseconds since the epoch from a libpcap timestamp opened at nanosecond precision.
    /// pcap stores 32-bit unsigned seconds, which libpcap may hand over sign-extended; a
    /// corrupt value wraps rather than traps.
    static func nanoseconds(_ ts: timeval) -> UInt64 {
        let seconds = ts.tv_sec >= 0 ? UInt64(ts.tv_sec) : UInt64(UInt32(truncatingIfNeeded: ts.tv_sec))
        let fraction = UInt64(truncatingIfNeeded: ts.tv_usec)
        return seconds &* 1_000_000_000 &+ fraction
    }
}
