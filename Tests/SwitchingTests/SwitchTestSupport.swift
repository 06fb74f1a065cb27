// Shared helpers for switch tests: the vlan-lab switch, frame injection, queue inspection.

import Frames
@testable import Switching

let t0: Int64 = 1_700_000_000_000_000_000

func mac(_ last: UInt8, _ prefix: UInt8 = 0x02) -> MACAddress { MACAddress(prefix, 0, 0, 0, 0, last) }
func vlan(_ v: Int) -> VLANID { VLANID(v)! }

/// The vlan-lab switch of the issue: a1, a2 access 10; b1 access 20; t1 trunk 10,20 native 1.
func vlanLab(observers: [ObserverConfiguration] = [], extraPorts: [PortConfiguration] = [],
             capacity: Int = 8192, pool: PacketPool = PacketPool(capacity: 1024)) -> Switch {
    let ports = [
        PortConfiguration(name: "a1", mode: .access(vlan(10))),
        PortConfiguration(name: "a2", mode: .access(vlan(10))),
        PortConfiguration(name: "b1", mode: .access(vlan(20))),
        PortConfiguration(name: "t1", mode: .trunk(allowed: VLANSet([vlan(10), vlan(20)]), native: .defaultVLAN)),
    ] + extraPorts
    return try! Switch(configuration: SwitchConfiguration(name: "sw0", ports: ports, macTableCapacity: capacity,
                                                           observers: observers), pool: pool)
}

extension Switch {
    /// Injects one frame on the named port and returns the decision.
    @discardableResult
    func inject(_ bytes: [UInt8], on port: String, now: Int64 = t0) -> FrameDecision {
        let handle = pool.make(copying: bytes)!
        return receive(port: portIndex(named: port)!, handle: handle, now: now)
    }

    /// The frames queued on every port, as they would leave, then clears the queues.
    func drain() -> [String: [[UInt8]]] {
        var out: [String: [[UInt8]]] = [:]
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: pool.slotSize + 64, alignment: 16)
        defer { buffer.deallocate() }
        for p in 0..<portCount {
            let q = transmitQueue(port: p)
            if q.isEmpty { continue }
            out[portNames[p]] = q.map { entry in
                let n = materialize(entry, into: buffer)
                return Array(UnsafeRawBufferPointer(start: buffer, count: n))
            }
            clearTransmitQueue(port: p, releasing: true)
        }
        return out
    }
}

/// A unicast or broadcast frame with an optional 802.1Q tag, padded to 60 bytes.
func frame(from src: MACAddress, to dst: MACAddress, tag: UInt16? = nil, pcp: UInt8 = 0, tpid: UInt16 = EtherType.vlan,
           payload: [UInt8] = Array(repeating: 0xab, count: 46)) -> [UInt8] {
    let tags = tag.map { [VLANTag(tpid: tpid, vid: $0, pcp: pcp)] } ?? []
    return FrameBuilder.padded(FrameBuilder.ethernet(destination: dst, source: src, tags: tags, etherType: 0x88b5, payload: payload))
}

/// The 802.1Q VID of a frame, nil when untagged.
func tagOf(_ bytes: [UInt8]) -> UInt16? {
    bytes.withUnsafeBytes { (try? EthernetFrame($0))?.tag?.vid }
}

final class RecordingSink: FrameObserverSink, @unchecked Sendable {
    var frames: [[UInt8]] = []
    var timestamps: [Int64] = []
    func observe(frame: UnsafeRawBufferPointer, timestamp: Int64) {
        frames.append(Array(frame))
        timestamps.append(timestamp)
    }
}
