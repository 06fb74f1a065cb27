// Switch+Ingress: a switch whose forwarding decisions another datapath takes over (the
// OpenFlow flow tables), and the primitives that datapath forwards with: output to a port as
// the frame is, flood, and NORMAL (today's L2 pipeline for one frame).

import Frames

/// Takes over a switch's forwarding: while `takesOver` is true, every batch the switch
/// receives goes to `process` instead of the L2 pipeline (OpenFlow's flow tables; while it is
/// false, as in fail-standalone mode without a controller, the L2 pipeline switches).
public protocol IngressProcessor: AnyObject {
    /// Whether `process` decides now (read once per batch, on the datapath thread).
    var takesOver: Bool { get }
    /// Decides the frames of `batch`, which arrived on `port`; it owns one reference to each
    /// slot and must release it. It admits each frame with `Switch.admitReceived` and forwards with `output`, `flood` and
    /// `forwardNormally`.
    func process(_ sw: Switch, port: Int, batch: UnsafeBufferPointer<PacketHandle>, now: Int64)
    /// A port's link went up or down (`Switch.setPortUp`, on the datapath thread).
    func portStateChanged(_ sw: Switch, port: Int, up: Bool)
}

extension IngressProcessor {
    /// Default: nothing to tell anyone.
    public func portStateChanged(_ sw: Switch, port: Int, up: Bool) {}
}

extension Switch {
    /// Counts a frame received on `port` and shows it to the port's receive observers (as
    /// untagged traffic or its tag's VLAN): the processor's half of what the L2 pipeline does
    /// on ingress. False (and a drop counted) when the frame must go no further: the port is
    /// down, or it is a mirror's output. Call it once per frame before
    /// `output`/`flood`/`forwardNormally`.
    @inline(__always)
    public func admitReceived(_ handle: PacketHandle, port: Int, now: Int64) -> Bool {
        let length = pool.length(handle)
        let counters = counterWords + port &* Self.counterStride
        counters[0] &+= 1
        counters[1] &+= UInt64(truncatingIfNeeded: length)
        observedMask = 0
        guard portUp[port] else {
            counters[4 &+ DropReason.portDown.rawValue] &+= 1
            return false
        }
        guard !isMirrorOutput[port] else {
            counters[4 &+ DropReason.mirrorPort.rawValue] &+= 1
            return false
        }
        if rxObserved[port] { observeReceived(handle, port: port, vlan: tagVLAN(handle), now: now) }
        return true
    }

    /// Queues the frame of `handle` on `port` exactly as it is (the processor has made its
    /// edits); false when the port is down, a mirror output or its queue is full. The switch
    /// takes its own reference.
    @discardableResult
    @inline(__always)
    public func output(_ handle: PacketHandle, port: Int, now: Int64) -> Bool {
        guard port >= 0 && port < portCount, portUp[port], !isMirrorOutput[port] else { return false }
        let entry = TransmitEntry(handle: handle, tci: 0, action: .keep)
        guard push(entry, port: port, length: pool.length(handle)) else { return false }
        if txObserved[port] { observeTransmitted(entry, port: port, vlan: tagVLAN(handle), now: now) }
        return true
    }

    /// Queues the frame on every port that is up except `except` (and mirror outputs);
    /// OpenFlow's FLOOD and ALL, which have no VLANs to respect.
    public func flood(_ handle: PacketHandle, except: Int, now: Int64) {
        for p in 0..<portCount where p != except { output(handle, port: p, now: now) }
    }

    /// Switches one frame through the L2 pipeline (OpenFlow's NORMAL action): VLANs,
    /// learning, lookup, flooding within the VLAN. The caller keeps its reference; the frame
    /// must have been admitted with `admitReceived`.
    @discardableResult
    public func forwardNormally(_ handle: PacketHandle, inPort: Int, now: Int64) -> FrameDecision {
        switchFrame(handle, inPort: inPort, now: now, counted: true)
    }

    /// The VLAN of the frame's 802.1Q tag, 0 when untagged.
    @inline(__always)
    func tagVLAN(_ handle: PacketHandle) -> UInt16 {
        let data = UnsafeRawPointer(pool.data(handle))
        guard pool.length(handle) >= 18,
              data.loadUnaligned(fromByteOffset: 12, as: UInt16.self) == EtherType.vlan.bigEndian else { return 0 }
        return UInt16(bigEndian: data.loadUnaligned(fromByteOffset: 14, as: UInt16.self)) & 0x0FFF
    }
}
