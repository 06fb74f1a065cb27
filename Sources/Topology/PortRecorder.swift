// PortRecorder: writes every frame leaving every port of a fabric to DIR/SWITCH-PORT.pcap.

import Capture
import Switching

/// An `EgressRecorder` with one pcap file per switch port, as `replay --out DIR` writes.
public final class PortRecorder: EgressRecorder {
    /// writers[switch][port]
    private var writers: [[PcapWriter]] = []
    /// Paths, in the same layout.
    public private(set) var paths: [[String]] = []
    public private(set) var failure: String?

    /// Creates DIR/SWITCH-PORT.pcap for every port of every switch in `fabric`.
    public init(fabric: Fabric, directory: String) throws(TopologyInstanceError) {
        try TopologyInstance.makeParentDirectories(of: directory + "/x")
        for sw in fabric.switches {
            var row: [PcapWriter] = []
            var names: [String] = []
            for port in sw.portNames {
                let path = "\(directory)/\(sw.name)-\(port).pcap"
                do { row.append(try PcapWriter(path: path)) } catch { throw TopologyInstanceError("\(path): \(error)") }
                names.append(path)
            }
            writers.append(row)
            paths.append(names)
        }
    }

    public func record(switch s: Int, port: Int, frame: UnsafeRawBufferPointer, now: Int64) {
        guard failure == nil else { return }
        do {
            try writers[s][port].write(frame, timestampNanoseconds: UInt64(max(0, now)))
        } catch {
            failure = "\(paths[s][port]): \(error)"
        }
    }

    /// Frames written to each file, in the same layout as `paths`.
    public var counts: [[UInt64]] { writers.map { $0.map(\.framesWritten) } }

    /// Closes every file; returns the first error.
    public func close() -> String? {
        for row in writers { for w in row { do { try w.close() } catch { failure = failure ?? "\(error)" } } }
        return failure
    }
}
