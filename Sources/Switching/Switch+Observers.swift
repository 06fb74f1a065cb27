// Mirrors and captures: copies of frames selected by ingress port, egress port and VLAN.
//
// Observers are off the fast path: the pipeline tests one flag per port and calls in here
// only for ports that some observer selects. Each observer takes a frame at most once (when
// it is received on a selected port, or else when it leaves through one), as Open vSwitch
// mirrors do; received copies are as they arrived, transmitted copies carry the egress tag.

import Frames

/// An observer with its selection resolved to port indices.
@usableFromInline
struct CompiledObserver {
    enum Output {
        case port(Int)
        case sink(any FrameObserverSink)
    }

    var name: String
    var rx: [Bool]
    var tx: [Bool]
    var vlans: VLANSet?
    var output: Output

    func matches(vlan: UInt16) -> Bool {
        guard let vlans else { return true }
        return vlan != 0 && vlans.contains(vlan)
    }
}

extension Switch {
    func compileObservers(_ list: [ObserverConfiguration]) throws(SwitchConfigurationError) {
        guard list.count <= 64 else { throw .tooManyObservers(name) }
        var compiled: [CompiledObserver] = []
        for o in list {
            var rx = [Bool](repeating: o.selection.allIngress, count: portCount)
            var tx = [Bool](repeating: o.selection.allEgress, count: portCount)
            for port in o.selection.ingressPorts {
                guard let p = portIndex(named: port) else { throw .unknownPort(switch: name, port: port, context: "observer \(o.name)") }
                rx[p] = true
            }
            for port in o.selection.egressPorts {
                guard let p = portIndex(named: port) else { throw .unknownPort(switch: name, port: port, context: "observer \(o.name)") }
                tx[p] = true
            }
            // A selection by VLAN alone means "every frame of these VLANs", taken on ingress.
            if o.selection.ingressPorts.isEmpty && o.selection.egressPorts.isEmpty
                && !o.selection.allIngress && !o.selection.allEgress {
                rx = [Bool](repeating: true, count: portCount)
            }
            let output: CompiledObserver.Output
            switch o.output {
            case .port(let portName):
                guard let p = portIndex(named: portName) else { throw .unknownPort(switch: name, port: portName, context: "mirror \(o.name)") }
                isMirrorOutput[p] = true
                rx[p] = false
                tx[p] = false
                output = .port(p)
            case .sink(let sink):
                output = .sink(sink)
            }
            let vlans = o.selection.vlans.isEmpty ? nil : VLANSet(o.selection.vlans)
            compiled.append(CompiledObserver(name: o.name, rx: rx, tx: tx, vlans: vlans, output: output))
        }
        observers = compiled
        for p in 0..<portCount {
            rxObserved[p] = compiled.contains { $0.rx[p] }
            txObserved[p] = compiled.contains { $0.tx[p] }
        }
    }

    func observeReceived(_ handle: PacketHandle, port: Int, vlan: UInt16, now: Int64) {
        for k in observers.indices where observers[k].rx[port] && observers[k].matches(vlan: vlan) {
            observedMask |= 1 << UInt64(k)
            switch observers[k].output {
            case .port(let mirror):
                _ = push(TransmitEntry(handle: handle, tci: 0, action: .keep), port: mirror, length: pool.length(handle))
            case .sink(let sink):
                sink.observe(frame: pool.bytes(handle), timestamp: now &+ wallClockOffset)
            }
        }
    }

    func observeTransmitted(_ entry: TransmitEntry, port: Int, vlan: UInt16, now: Int64) {
        for k in observers.indices where observers[k].tx[port] && observedMask & (1 << UInt64(k)) == 0
            && observers[k].matches(vlan: vlan) {
            observedMask |= 1 << UInt64(k)
            switch observers[k].output {
            case .port(let mirror):
                let length = materialize(entry, into: scratch)
                _ = push(entry, port: mirror, length: length)
            case .sink(let sink):
                let length = materialize(entry, into: scratch)
                sink.observe(frame: UnsafeRawBufferPointer(start: scratch, count: length), timestamp: now &+ wallClockOffset)
            }
        }
    }
}

extension Switch {
    /// Replaces the switch's observers (the configuration's mirrors and captures plus any
    /// added at run time, e.g. by `switchboard capture start`). Call on the datapath thread.
    public func setObservers(_ list: [ObserverConfiguration]) throws(SwitchConfigurationError) {
        try compileObservers(list)
        rebuildFloodLists()
    }
}
