// ControlService: answers control requests against a datapath's fabric: `fdb` (the MAC
// table, as ovs-appctl fdb/show), `stats` (switch, port and device counters) and captures
// started and stopped while the topology runs. Runs on the datapath thread.

import ControlProtocol
import Capture
import Foundation
import Frames
import Switching

/// A pcap file written by a capture started over the control socket.
final class RuntimeCapture: FrameObserverSink, @unchecked Sendable {
    let name: String
    let switchIndex: Int
    let writer: PcapWriter
    private(set) var failure: String?

    init(name: String, switchIndex: Int, writer: PcapWriter) {
        self.name = name
        self.switchIndex = switchIndex
        self.writer = writer
    }

    func observe(frame: UnsafeRawBufferPointer, timestamp: Int64) {
        guard failure == nil else { return }
        do { try writer.write(frame, timestampNanoseconds: UInt64(max(0, timestamp))) } catch { failure = "\(error)" }
    }
}

/// The handler behind a `ControlServer`.
public final class ControlService {
    private var captures: [RuntimeCapture] = []

    /// Creates a service with no running captures.
    public init() {}

    /// Answers one request (call on the datapath thread).
    public func handle(_ request: ControlRequest, _ datapath: Datapath) -> ControlResponse {
        switch request {
        case .fdb(let switchName): return fdb(switchName, datapath)
        case .stats(let switchName): return stats(switchName, datapath)
        case .captureStart(let start): return startCapture(start, datapath)
        case .captureStop(let switchName, let name): return stopCapture(switchName: switchName, name: name, datapath)
        case .captureList: return ControlResponse(ok: true, captures: captureList())
        case .vmList, .migrate, .stop, .console: return .failure("\(request.command) is not served here (no VMs run in this instance)")
        case .flows(let name), .flowTrace(let name, _, _):
            return .failure("switch \(name.escapedForTerminal) is not programmed over OpenFlow here (give it \"controllers\" or \"openflow_listen\")")
        }
    }

    private func findSwitch(_ name: String?, _ datapath: Datapath) -> Result<Int, ControlFailure> {
        guard let name else { return .failure(ControlFailure("a switch name is required")) }
        guard let index = datapath.fabric.switches.firstIndex(where: { $0.name == name }) else {
            let names = datapath.fabric.switches.map(\.name).joined(separator: ", ")
            return .failure(ControlFailure("no switch named \(name.escapedForTerminal) (switches: \(names))"))
        }
        return .success(index)
    }

    private func fdb(_ switchName: String, _ datapath: Datapath) -> ControlResponse {
        let index: Int
        switch findSwitch(switchName, datapath) {
        case .success(let i): index = i
        case .failure(let f): return .failure(f.message)
        }
        let sw = datapath.fabric.switches[index]
        let now = datapath.clock.now()
        let entries = sw.macTable.entries(now: now).map { e in
            FDBEntry(port: sw.portNames[e.port], vlan: Int(e.vlan.rawValue), mac: e.mac.description,
                     age: e.isStatic ? nil : Int(max(0, now - e.lastSeen) / 1_000_000_000), isStatic: e.isStatic)
        }
        let order = Dictionary(uniqueKeysWithValues: sw.portNames.enumerated().map { ($1, $0) })
        let sorted = entries.sorted {
            (order[$0.port] ?? 0, $0.vlan, $0.mac) < (order[$1.port] ?? 0, $1.vlan, $1.mac)
        }
        return ControlResponse(ok: true, fdb: sorted)
    }

    private func stats(_ switchName: String?, _ datapath: Datapath) -> ControlResponse {
        var indices = Array(datapath.fabric.switches.indices)
        if switchName != nil {
            switch findSwitch(switchName, datapath) {
            case .success(let i): indices = [i]
            case .failure(let f): return .failure(f.message)
            }
        }
        var result: [SwitchStatistics] = []
        for s in indices {
            let sw = datapath.fabric.switches[s]
            var ports: [PortStatistics] = []
            for p in 0..<sw.portCount {
                let c = sw.counters(port: p)
                var drops: [String: UInt64] = [:]
                for reason in DropReason.allCases where c.drops[reason.rawValue] > 0 {
                    drops[reason.description] = c.drops[reason.rawValue]
                }
                let attachment = datapath.attachments.first { $0.ref.switchIndex == s && $0.ref.port == p }
                ports.append(PortStatistics(
                    name: sw.portNames[p], up: sw.isPortUp(p), device: attachment?.port.name,
                    downReason: attachment?.downReason, rxFrames: c.rxFrames, rxBytes: c.rxBytes,
                    txFrames: c.txFrames, txBytes: c.txBytes, drops: drops,
                    deviceTxDropped: attachment?.port.statistics.txDropped))
            }
            let mc = sw.macTable.counters
            result.append(SwitchStatistics(name: sw.name, macEntries: sw.macTable.count, learned: mc.learned,
                                           aged: mc.aged, evicted: mc.evicted, moved: mc.moved, ports: ports))
        }
        return ControlResponse(ok: true, stats: result)
    }

    private func captureList() -> [String] {
        captures.map { "\($0.name): \($0.writer.currentPath) (\($0.writer.framesWritten) frames)" }
    }

    private func startCapture(_ request: ControlRequest.CaptureStart, _ datapath: Datapath) -> ControlResponse {
        let index: Int
        switch findSwitch(request.switchName, datapath) {
        case .success(let i): index = i
        case .failure(let f): return .failure(f.message)
        }
        let sw = datapath.fabric.switches[index]
        let file = request.file
        guard !file.isEmpty else { return .failure("capture start needs a file (-w FILE)") }
        // A NUL would cut the file name short at libpcap's fopen (x\0y.pcap writes x); other
        // control characters would reach error lines and terminals.
        if file.containsControlCharacters {
            return .failure("capture file \"\(file.escapedForTerminal)\" contains a control character; "
                + "paths may not hold NUL or other control characters")
        }
        if let filter = request.filter, filter.unicodeScalars.contains("\u{0}") {
            return .failure("the filter contains a NUL character (U+0000), which would cut it short")
        }
        if let name = request.name, name.isEmpty || name.containsControlCharacters {
            return .failure("invalid capture name \"\(name.escapedForTerminal)\": it must be non-empty, without control characters")
        }
        if let port = request.port, sw.portIndex(named: port) == nil {
            return .failure("switch \(sw.name) has no port \(port.escapedForTerminal)")
        }
        let direction = request.direction ?? "both"
        guard ["rx", "tx", "both"].contains(direction) else { return .failure("direction must be rx, tx or both") }
        let name = request.name ?? "\(sw.name)\(request.port.map { "-" + $0 } ?? "")"
        if captures.contains(where: { $0.name == name }) {
            return .failure("a capture named \(name.escapedForTerminal) is already running")
        }
        let writer: PcapWriter
        do {
            writer = try PcapWriter(path: file, options: PcapWriter.Options(filter: request.filter))
        } catch {
            return .failure("capture \(name): \(error)")
        }
        let capture = RuntimeCapture(name: name, switchIndex: index, writer: writer)
        var selection = ObserverSelection()
        let rx = direction != "tx", tx = direction != "rx"
        if let port = request.port {
            if rx { selection.ingressPorts = [port] }
            if tx { selection.egressPorts = [port] }
        } else {
            selection.allIngress = rx
            selection.allEgress = tx
        }
        captures.append(capture)
        observerSelections[ObjectIdentifier(capture)] = selection
        if let failure = apply(to: index, datapath) {
            captures.removeLast()
            observerSelections[ObjectIdentifier(capture)] = nil
            _ = apply(to: index, datapath)
            try? writer.close()
            return .failure(failure)
        }
        return ControlResponse(ok: true, captures: captureList(), message: "capture \(name) -> \(file)")
    }

    private var observerSelections: [ObjectIdentifier: ObserverSelection] = [:]

    /// Recompiles switch `index`'s observers: its configuration's plus the running captures.
    private func apply(to index: Int, _ datapath: Datapath) -> String? {
        let sw = datapath.fabric.switches[index]
        var list = sw.configuration.observers
        for c in captures where c.switchIndex == index {
            guard let selection = observerSelections[ObjectIdentifier(c)] else { continue }
            list.append(ObserverConfiguration(name: "runtime:\(c.name)", selection: selection, output: .sink(c)))
        }
        do { try sw.setObservers(list) } catch { return "\(error)" }
        return nil
    }

    private func stopCapture(switchName: String?, name: String?, _ datapath: Datapath) -> ControlResponse {
        let targets = captures.filter { c in
            if let name { return c.name == name }
            if let s = switchName { return datapath.fabric.switches[c.switchIndex].name == s }
            return true
        }
        if targets.isEmpty { return .failure("no running capture\(name.map { " named " + $0.escapedForTerminal } ?? "")") }
        var lines: [String] = []
        for c in targets {
            captures.removeAll { $0 === c }
            observerSelections[ObjectIdentifier(c)] = nil
            _ = apply(to: c.switchIndex, datapath)
            let frames = c.writer.framesWritten
            do { try c.writer.close() } catch { lines.append("capture \(c.name): \(error)") }
            lines.append("capture \(c.name) stopped: \(frames) frames -> \(c.writer.currentPath)")
        }
        return ControlResponse(ok: true, captures: captureList(), message: lines.joined(separator: "\n"))
    }

    /// Flushes running captures (call about once a second).
    public func flush() {
        for c in captures { try? c.writer.flush() }
    }

    /// Closes every running capture (at exit).
    public func closeAll() {
        for c in captures { try? c.writer.close() }
        captures.removeAll()
    }
}

/// A message carried through `Result`.
struct ControlFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
