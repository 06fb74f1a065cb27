// The per-frame L2 pipeline: classify -> learn -> look up -> forward or flood -> tag on egress.
//
// The loop reads the frame in place, keeps everything in locals or flat unsafe arrays, and
// queues 8-byte transmit entries; it allocates nothing and touches no reference counts.

import Frames

extension Switch {
    /// Switches a batch of frames that arrived on `port`.
    ///
    /// The switch takes over one reference to each slot in `batch` and releases it when done;
    /// frames queued for output are retained once per output queue. `now` is the time in
    /// nanoseconds (learning, aging and observer timestamps use it).
    public func receive(port inPort: Int, batch: UnsafeBufferPointer<PacketHandle>, now: Int64) {
        precondition(batch.count <= Self.maxBatch, "batch larger than Switch.maxBatch")
        precondition(inPort >= 0 && inPort < portCount, "no such port")
        if let processor = ingressProcessor, processor.takesOver {
            lastBatchCount = 0
            processor.process(self, port: inPort, batch: batch, now: now)
            return
        }
        lastBatchCount = batch.count
        for i in 0..<batch.count {
            let handle = batch[i]
            decisions[i] = switchFrame(handle, inPort: inPort, now: now)
            pool.release(handle)
        }
    }

    /// Switches a single frame (a batch of one); used by traces and tests.
    public func receive(port: Int, handle: PacketHandle, now: Int64) -> FrameDecision {
        var h = handle
        withUnsafePointer(to: &h) { receive(port: port, batch: UnsafeBufferPointer(start: $0, count: 1), now: now) }
        return decisions[0]
    }

    @inline(__always)
    func drop(_ reason: DropReason, port: Int, vlan: UInt16) -> FrameDecision {
        counterWords[port &* Self.counterStride &+ 4 &+ reason.rawValue] &+= 1
        return FrameDecision(vlan: vlan, action: .drop, reason: reason)
    }

    @inline(__always)
    func switchFrame(_ handle: PacketHandle, inPort: Int, now: Int64, counted: Bool = false) -> FrameDecision {
        let data = UnsafeRawPointer(pool.data(handle))
        let length = pool.length(handle)
        if !counted {
            let counters = counterWords + inPort &* Self.counterStride
            counters[0] &+= 1
            counters[1] &+= UInt64(truncatingIfNeeded: length)
            observedMask = 0
        }

        guard portUp[inPort] else { return drop(.portDown, port: inPort, vlan: 0) }
        guard !isMirrorOutput[inPort] else { return drop(.mirrorPort, port: inPort, vlan: 0) }
        guard length >= 14 else { return unclassifiedDrop(.runt, handle, inPort, now, counted) }

        // 1. Ingress VLAN classification.
        let etherType = UInt16(bigEndian: data.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        let access = accessVLAN[inPort]
        var vid: UInt16
        var inTCI: UInt16 = 0
        var inTagged = false
        if etherType == EtherType.vlan {
            guard length >= 18 else { return unclassifiedDrop(.malformedTag, handle, inPort, now, counted) }
            inTCI = UInt16(bigEndian: data.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
            inTagged = true
            let tagVID = inTCI & 0x0FFF
            guard tagVID != 0x0FFF else { return unclassifiedDrop(.malformedTag, handle, inPort, now, counted) }
            if access != 0 {
                // Priority-tagged frames (VID 0) belong to the access VLAN; real tags are hopping.
                guard tagVID == 0 else { return unclassifiedDrop(.taggedOnAccessPort, handle, inPort, now, counted) }
                vid = access
            } else if tagVID == 0 {
                vid = nativeVLAN[inPort]
                guard vid != 0 else { return unclassifiedDrop(.untaggedWithoutNativeVLAN, handle, inPort, now, counted) }
            } else {
                guard carries(port: inPort, vid: tagVID) else { return unclassifiedDrop(.vlanNotAllowed, handle, inPort, now, counted) }
                vid = tagVID
            }
        } else if etherType == EtherType.qinq {
            return unclassifiedDrop(.serviceTag, handle, inPort, now, counted)
        } else if access != 0 {
            vid = access
        } else {
            vid = nativeVLAN[inPort]
            guard vid != 0 else { return unclassifiedDrop(.untaggedWithoutNativeVLAN, handle, inPort, now, counted) }
        }

        // 2. Source checks and learning.
        let source = MACAddress(loadingFrom: data + 6).rawValue
        guard source & 0x0100_0000_0000 == 0 else { return classifiedDrop(.multicastSource, handle, inPort, vid, now, counted) }
        guard source != 0 else { return classifiedDrop(.zeroSource, handle, inPort, vid, now, counted) }
        if learning[inPort] { macTable.learn(key: MACTable.key(vlan: vid, mac: source), port: inPort, now: now) }
        if rxObserved[inPort] && !counted { observeReceived(handle, port: inPort, vlan: vid, now: now) }

        // 3. Destination lookup: forward, flood or drop.
        let destination = MACAddress(loadingFrom: data).rawValue
        if destination & 0x0100_0000_0000 == 0 {
            let out = macTable.lookup(key: MACTable.key(vlan: vid, mac: destination), now: now)
            if out >= 0 {
                guard out != inPort else { return drop(.hairpin, port: inPort, vlan: vid) }
                guard portUp[out] else { return drop(.portDown, port: inPort, vlan: vid) }
                enqueue(handle, port: out, vlan: vid, inTagged: inTagged, inTCI: inTCI, length: length, now: now)
                return FrameDecision(vlan: vid, action: .forward, reason: nil)
            }
        } else if destination & 0xFFFF_FFFF_FFF0 == 0x0180_C200_0000 {
            return drop(.linkLocalDestination, port: inPort, vlan: vid)
        }

        // 4. Flood within the VLAN, never back out of the ingress port, and from a
        //    split-horizon port (a tunnel) never to another one.
        let start = Int(floodStart[Int(vid)])
        let end = Int(floodStart[Int(vid) &+ 1])
        let fromTunnel = splitHorizon[inPort]
        var i = start
        while i < end {
            let p = Int(floodPorts[i])
            if p != inPort && portUp[p] && !(fromTunnel && splitHorizon[p]) {
                enqueue(handle, port: p, vlan: vid, inTagged: inTagged, inTCI: inTCI, length: length, now: now)
            }
            i &+= 1
        }
        return FrameDecision(vlan: vid, action: .flood, reason: nil)
    }

    /// Queues `handle` on `port` with the tag the port's mode asks for.
    @inline(__always)
    func enqueue(_ handle: PacketHandle, port p: Int, vlan: UInt16, inTagged: Bool, inTCI: UInt16, length: Int, now: Int64) {
        let untagged = accessVLAN[p] != 0 || nativeVLAN[p] == vlan
        let entry: TransmitEntry
        var outLength = length
        if untagged {
            entry = TransmitEntry(handle: handle, tci: 0, action: .untag)
            if inTagged { outLength = max(length &- 4, length >= 60 ? 60 : length &- 4) }
        } else {
            entry = TransmitEntry(handle: handle, tci: inTagged ? (inTCI & 0xF000) | vlan : vlan, action: .tag)
            if !inTagged { outLength &+= 4 }
        }
        guard push(entry, port: p, length: outLength) else { return }
        if txObserved[p] { observeTransmitted(entry, port: p, vlan: vlan, now: now) }
    }

    /// Appends to a port's queue and counts the transmission; false (and a drop) when full.
    @inline(__always)
    func push(_ entry: TransmitEntry, port p: Int, length: Int) -> Bool {
        let n = queueCounts[p]
        let counters = counterWords + p &* Self.counterStride
        guard n < Self.queueCapacity else {
            counters[4 &+ DropReason.queueFull.rawValue] &+= 1
            return false
        }
        pool.retain(entry.handle)
        queues[p &* Self.queueCapacity &+ n] = entry
        queueCounts[p] = n &+ 1
        counters[2] &+= 1
        counters[3] &+= UInt64(truncatingIfNeeded: length)
        return true
    }

    /// A drop before the VLAN is known: observers without a VLAN filter still see the frame.
    func unclassifiedDrop(_ reason: DropReason, _ handle: PacketHandle, _ inPort: Int, _ now: Int64, _ counted: Bool) -> FrameDecision {
        if rxObserved[inPort] && !counted { observeReceived(handle, port: inPort, vlan: 0, now: now) }
        return drop(reason, port: inPort, vlan: 0)
    }

    func classifiedDrop(_ reason: DropReason, _ handle: PacketHandle, _ inPort: Int, _ vid: UInt16, _ now: Int64, _ counted: Bool) -> FrameDecision {
        if rxObserved[inPort] && !counted { observeReceived(handle, port: inPort, vlan: vid, now: now) }
        return drop(reason, port: inPort, vlan: vid)
    }
}
