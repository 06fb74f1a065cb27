// CaptureError: every failure the Capture module reports, with libpcap's own message
// where libpcap produced one.
import Frames

/// An error from writing or reading a pcap file.
///
/// Each case carries the path (or expression) involved and, where libpcap reported the
/// failure, libpcap's message text (`pcap_geterr` or the open error buffer).
public enum CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The directory that should hold the output file does not exist or is not a directory.
    case directoryNotFound(path: String, directory: String)
    /// libpcap could not create or open the output file.
    case cannotOpenForWriting(path: String, message: String)
    /// libpcap could not open the input file (missing, unreadable, not a pcap/pcapng file).
    case cannotOpenForReading(path: String, message: String)
    /// The input file's link-layer type is not Ethernet (DLT_EN10MB).
    case unsupportedLinkType(path: String, linkType: Int32, name: String)
    /// libpcap rejected a filter expression.
    case invalidFilter(expression: String, message: String)
    /// An option is out of range (snap length, rotation size or count).
    case invalidOption(String)
    /// A timestamp does not fit the pcap record format (seconds must fit 32 bits).
    case timestampOutOfRange(nanoseconds: UInt64)
    /// A frame is longer than a pcap record can describe.
    case frameTooLong(length: Int)
    /// Writing or flushing the output file failed (disk full, I/O error).
    case writeFailed(path: String, message: String)
    /// Reading a record failed: a truncated or corrupt file.
    case readFailed(path: String, message: String)
    /// The writer or reader was used after `close()`.
    case closed(path: String)

    /// A one-line explanation naming the file or expression and libpcap's message.
    public var description: String {
        // Paths and expressions come from users: control characters are escaped.
        func e(_ text: String) -> String { text.escapedForTerminal }
        switch self {
        case let .directoryNotFound(path, directory):
            return "cannot write capture file '\(e(path))': directory '\(e(directory))' does not exist"
        case let .cannotOpenForWriting(path, message):
            return "cannot open capture file '\(e(path))' for writing: \(message)"
        case let .cannotOpenForReading(path, message):
            return "cannot open capture file '\(e(path))' for reading: \(message)"
        case let .unsupportedLinkType(path, linkType, name):
            return "capture file '\(e(path))' has link type \(name) (\(linkType)); only Ethernet (EN10MB, 1) is supported"
        case let .invalidFilter(expression, message):
            return "invalid filter expression '\(e(expression))': \(message)"
        case let .invalidOption(message):
            return "invalid capture option: \(message)"
        case let .timestampOutOfRange(nanoseconds):
            return "timestamp \(nanoseconds) ns is out of range for pcap (seconds must fit in 32 bits)"
        case let .frameTooLong(length):
            return "frame of \(length) bytes is too long for a pcap record"
        case let .writeFailed(path, message):
            return "write to capture file '\(e(path))' failed: \(message)"
        case let .readFailed(path, message):
            return "read from capture file '\(e(path))' failed: \(message)"
        case let .closed(path):
            return "capture file '\(e(path))' is already closed"
        }
    }
}
