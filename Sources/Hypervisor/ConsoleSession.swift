// ConsoleSession: one client attached to a VM's serial console through the control socket
// (`switchboard console VM`, the `console` request). It reads the VM's console ring at its own
// position (starting with a short replay of the tail), types the client's bytes into the
// guest's UART, tells the client once per gap how many bytes it lost by falling behind, and
// ends with a line saying why when the VM stops or migrates away.

import ControlProtocol
import Foundation
import Frames
import HostNetworking
import VMHost

/// A console session of one guest, driven by the `ControlServer` on the datapath thread.
final class ConsoleSession: ControlSession {
    let guest: VMRuntime.Guest
    private unowned let runtime: VMRuntime
    private let tap: ConsoleTap
    /// The next console byte this client gets.
    private var position: UInt64
    /// Bytes to give before reading the ring again (a notice, and what followed a gap).
    private var pending: [UInt8] = []
    private var ended = false
    private var closed = false

    /// Bytes of the console's tail replayed to a new session (whole lines where possible).
    static let replayBytes = 2048

    init(guest: VMRuntime.Guest, runtime: VMRuntime) {
        self.guest = guest
        self.runtime = runtime
        tap = guest.vm.console.tap
        position = tap.tailStart(maxBytes: Self.replayBytes)
    }

    func output(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if !pending.isEmpty { return give(buffer) }
        if ended { return nil }
        let r = tap.read(from: position, into: buffer)
        position = r.next
        if r.skipped > 0 {
            // The client fell behind by more than the ring: it hears so once, before what follows.
            pending = Array("\r\n[switchboard: \(r.skipped) bytes dropped]\r\n".utf8) + Array(UnsafeRawBufferPointer(rebasing: buffer[0..<r.count]))
            return give(buffer)
        }
        if r.count > 0 { return r.count }
        guard let reason = endReason() else { return 0 }
        ended = true
        pending = Array("\r\n[switchboard: \(reason)]\r\n".utf8)
        return give(buffer)
    }

    /// Copies the front of `pending` into `buffer`.
    private func give(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buffer.count, pending.count)
        pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        pending.removeFirst(n)
        return n
    }

    func input(_ bytes: UnsafeRawBufferPointer) -> Int {
        // Once the VM is gone, what the client types goes nowhere.
        if ended { return bytes.count }
        return guest.vm.typeFromSession(bytes)
    }

    func close() {
        guard !closed else { return }
        closed = true
        tap.detach()
    }

    /// Whether the VM stopped or left (only the last line remains to give).
    var hasEnded: Bool { ended || endReason() != nil }

    /// Why the session is over (the VM left this host or stopped running), or nil.
    private func endReason() -> String? {
        let name = guest.vm.name.escapedForTerminal
        if !runtime.snapshot().contains(where: { $0 === guest }) {
            if let d = runtime.departures.last(where: { $0.name == guest.vm.name }) {
                return "VM \(name) migrated to \(d.to.escapedForTerminal); attach there"
            }
            return "VM \(name) left this host"
        }
        switch guest.vm.state {
        case .running, .created: return nil
        case let state: return "VM \(name) \(VMRuntime.describe(state))"
        }
    }
}

extension VMRuntime {
    /// Console sessions attached to one VM at most (besides the socket's connection cap).
    static let consoleSessionsPerVM = 4

    /// Attaches `stream`'s connection to VM `name`'s console (the `console` request, datapath
    /// thread): an `ok` reply, then the session; or the reason it cannot.
    func attachConsole(_ name: String, stream: ControlReplyStream) -> ControlResponse {
        guard let guest = guest(named: name) else {
            if let d = departures.last(where: { $0.name == name }) {
                return .failure("VM \(name.escapedForTerminal) migrated to \(d.to.escapedForTerminal); attach to its console there")
            }
            let names = snapshot().map(\.vm.name)
            return .failure("no VM named \(name.escapedForTerminal) runs here"
                            + (names.isEmpty ? "" : " (VMs here: \(names.joined(separator: ", ")))"))
        }
        guard guest.vm.state == .running else {
            return .failure("VM \(name.escapedForTerminal) is not running (\(Self.describe(guest.vm.state)))")
        }
        let session = ConsoleSession(guest: guest, runtime: self)
        guard guest.vm.console.tap.attach(limit: Self.consoleSessionsPerVM, wake: stream.wake) else {
            return .failure("VM \(name.escapedForTerminal) has \(Self.consoleSessionsPerVM) console sessions attached, the most at once; detach one first")
        }
        stream.attach(session)
        return ControlResponse(ok: true, message: "attached to the console of VM \(name.escapedForTerminal)")
    }
}
