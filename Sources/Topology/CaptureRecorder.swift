// CaptureRecorder: a topology capture, i.e. a pcap writer fed by switch observers.

import Capture
import Frames
import Switching

/// Writes the frames a capture's observers select into its pcap file(s).
///
/// It runs on the datapath thread only (hence `@unchecked Sendable`: the switch
/// configuration is `Sendable`, the writer is not). A write error (disk full, file removed)
/// stops the capture and is kept in `failure`; switching carries on.
public final class CaptureRecorder: FrameObserverSink, @unchecked Sendable {
    public let spec: CaptureSpec
    public let writer: PcapWriter
    /// The first write error, after which nothing more is written.
    public private(set) var failure: String?

    /// Opens the capture's file at `path` (the spec's file, resolved by the caller).
    public init(spec: CaptureSpec, path: String) throws(CaptureError) {
        self.spec = spec
        var options = PcapWriter.Options(snapLength: spec.snaplen, filter: spec.filter)
        if let rotate = spec.rotate {
            options.rotation = PcapWriter.Rotation(fileSizeMegabytes: rotate.sizeMB, fileCount: rotate.files)
        }
        do {
            writer = try PcapWriter(path: path, options: options)
        } catch let error as CaptureError {
            throw error
        } catch {
            throw .invalidOption("\(error)")
        }
    }

    public func observe(frame: UnsafeRawBufferPointer, timestamp: Int64) {
        guard failure == nil else { return }
        do {
            try writer.write(frame, timestampNanoseconds: UInt64(max(0, timestamp)))
        } catch {
            failure = "\(error)"
        }
    }

    /// Flushes and closes the file; returns an error message, if any.
    public func close() -> String? {
        do { try writer.close() } catch { return failure ?? "\(error)" }
        return failure
    }
}
