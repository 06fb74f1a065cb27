// DatapathPort: a host device that is a switch port: it receives batches into pool slots
// and, as a PortSink, transmits what the switch queues on its port.

import Frames
import Switching

/// A switch port backed by a descriptor the datapath loop polls (TAP, AF_PACKET, pcap, UDP).
///
/// Used by one thread, the datapath's. `receive` and `transmit` never allocate.
public protocol DatapathPort: PortSink {
    /// A name for logs ("tap sbtap0", "vxlan 127.0.0.1:4790 vni 42").
    var name: String { get }
    /// The descriptor the loop watches for input.
    var fileDescriptor: Int32 { get }
    /// Reads up to `max` waiting frames into fresh slots of `pool` and stores their handles;
    /// returns how many, 0 when nothing waits, or a negative errno when the device failed.
    func receive(into handles: UnsafeMutablePointer<PacketHandle>, max: Int, pool: PacketPool) -> Int
    /// Set when a transmit found the device gone (a reason for the log); nil while healthy.
    var failure: String? { get }
    /// Frames and bytes moved, and frames lost by the port itself.
    var statistics: PortIOStatistics { get }
    /// Releases the descriptor (and removes devices the port created).
    func close()
}

/// Counters kept by a host port, beside the switch's own port counters.
public struct PortIOStatistics: Sendable, Equatable, Codable {
    /// Frames read from the device.
    public var rxFrames: UInt64 = 0
    /// Frames written to the device.
    public var txFrames: UInt64 = 0
    /// Frames that could not be written (device queue full, error).
    public var txDropped: UInt64 = 0
    /// Frames read but skipped (truncated, oversized, not for us).
    public var rxSkipped: UInt64 = 0
    /// Creates zeroed counters.
    public init() {}
}
