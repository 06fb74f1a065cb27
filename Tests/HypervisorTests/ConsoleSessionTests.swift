// Console sessions over a real control socket, in process: a VMRuntime running Tools/riscv's
// echo guest (it upper-cases each console line) on a datapath loop with a ControlServer, as
// `switchboard run` serves the `console` request. Clients attach, type, read, fall behind,
// detach and attach again.

import ControlProtocol
import Foundation
import Glibc
import HostNetworking
@testable import Hypervisor
import TestSupport
import Testing
import Topology

/// VMs running the echo guest behind a control socket, in this process.
final class ConsoleRig: @unchecked Sendable {
    let guests: RISCVGuestImages
    let directory: TemporaryDirectory
    let datapath: Datapath
    let runtime: VMRuntime
    let server: ControlServer
    let path: String
    private let loop: Thread

    /// `vms`: name -> the VM's `expect` JSON (nil: none).
    init(guests: RISCVGuestImages, vms: [(String, String?)]) throws {
        self.guests = guests
        let directory = try TemporaryDirectory()
        self.directory = directory
        let specs = vms.map { name, expect in
            #"{"name": "\#(name)", "memory_mib": 16, "firmware": "none", "kernel": "\#(guests.elf("echo"))", "#
                + #""console": {"log": "\#(directory.file(name + ".log"))"}"# + (expect.map { #", "expect": \#($0)"# } ?? "") + "}"
        }
        let json = #"{"version": 1, "name": "console-test", "switches": [{"name": "sw0", "ports": [{"name": "p0"}]}], "vms": [\#(specs.joined(separator: ", "))]}"#
        let topology = try Topology.decode(Array(json.utf8), file: "console.json")
        let instance = try TopologyInstance(topology)
        datapath = try Datapath(fabric: instance.fabric)
        runtime = try VMRuntime(instance: instance, topology: topology, hypervisor: nil, appliance: nil)
        try runtime.attach(to: datapath)
        path = directory.file("control.sock")
        let runtime = self.runtime
        // The same dispatch as HostedRun's handler.
        server = try ControlServer(path: path, datapath: datapath, streaming: { request, _, stream in
            switch request {
            case .console(let vm): return runtime.attachConsole(vm, stream: stream)
            default: return .failure("not served in this test")
            }
        })
        let dp = datapath
        loop = Thread { dp.run() }
        loop.start()
        runtime.start()
    }

    func vm(_ name: String) -> VirtualMachineHandle? {
        runtime.guest(named: name).map { VirtualMachineHandle(guest: $0) }
    }

    func stop() {
        runtime.stop(datapath: datapath)
        datapath.requestStop()
        while !loop.isFinished { usleep(1_000) }
        server.closeSocket()
        datapath.closeAll()
        directory.remove()
    }
}

/// What the tests look at of a guest.
struct VirtualMachineHandle {
    let guest: VMRuntime.Guest
    var running: Bool { guest.vm.state == .running }
    var state: String { VMRuntime.describe(guest.vm.state) }
}

/// A console client on a raw socket (what `switchboard console` does, minus the terminal).
final class ConsoleTestClient: @unchecked Sendable {
    let socket: Int32
    private(set) var received: [UInt8]
    private(set) var closedByServer = false

    /// Attaches; throws the server's error when the reply is not ok.
    init(path: String, vm: String) throws {
        let a = try ControlClient.attach(.console(vm: vm), to: path)
        guard a.reply.ok else { throw Refused(message: a.reply.error ?? "?") }
        socket = a.socket
        received = a.leftover
    }

    struct Refused: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    var text: String { String(decoding: received, as: UTF8.self) }

    func send(_ s: String) {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            let w = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard w > 0 else { return }
            bytes = bytes.dropFirst(w)
        }
    }

    /// Reads what arrives within `seconds` (stops early at end of stream).
    @discardableResult
    func read(for seconds: Double) -> Int {
        var total = 0
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !closedByServer, Date() < deadline {
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress, $0.count) }
            if n <= 0 { closedByServer = true; break }
            received += chunk[0..<n]
            total += n
        }
        return total
    }

    /// Reads until `text` has arrived or `seconds` passed.
    func wait(for text: String, seconds: Double = 60) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !self.text.contains(text) && !closedByServer && Date() < deadline { read(for: 0.05) }
        return self.text.contains(text)
    }

    /// Reads until the server closes the stream or `seconds` passed; true when it closed.
    func waitForEnd(seconds: Double = 60) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !closedByServer && Date() < deadline { read(for: 0.05) }
        return closedByServer
    }

    func close() { _ = Glibc.close(socket) }
}

@Suite(.serialized) struct ConsoleSessionTests {
    static func rig(_ test: String, vms: [(String, String?)] = [("echo", nil)]) throws -> ConsoleRig? {
        guard let guests = try RISCVGuestImages.build(for: test) else { return nil }
        return try ConsoleRig(guests: guests, vms: vms)
    }

    @Test func aTypedLineComesBackAfterTheReplayedTail() throws {
        guard let rig = try Self.rig("aTypedLineComesBackAfterTheReplayedTail") else { return }
        defer { rig.stop(); rig.guests.directory.remove() }
        // Let the guest print its banner before anyone attaches: the replay must show it.
        let deadline = Date(timeIntervalSinceNow: 60)
        while rig.runtime.guest(named: "echo")?.vm.console.recentLines.contains("echo ready") != true && Date() < deadline {
            usleep(10_000)
        }
        let client = try ConsoleTestClient(path: rig.path, vm: "echo")
        defer { client.close() }
        #expect(client.wait(for: "echo ready"), "replay: \(client.text)")
        client.send("hello, console\n")
        #expect(client.wait(for: "HELLO, CONSOLE"), "got: \(client.text)")
        // The log file keeps getting the output too.
        rig.runtime.guest(named: "echo")?.vm.console.flush()
        let log = (try? String(contentsOfFile: rig.directory.file("echo.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("HELLO, CONSOLE"))
    }

    @Test func unknownVMsAFullVMAndAStoppedVMAreRefusedWithTheReason() throws {
        guard let rig = try Self.rig("unknownVMsAFullVMAndAStoppedVMAreRefusedWithTheReason") else { return }
        defer { rig.stop(); rig.guests.directory.remove() }
        func refusal(_ vm: String) -> String {
            do {
                let c = try ConsoleTestClient(path: rig.path, vm: vm)
                c.close()
                return ""
            } catch { return "\(error)" }
        }
        #expect(refusal("ghost").contains("no VM named ghost runs here (VMs here: echo)"))
        var clients = try (0..<VMRuntime.consoleSessionsPerVM).map { _ in try ConsoleTestClient(path: rig.path, vm: "echo") }
        #expect(refusal("echo").contains("has \(VMRuntime.consoleSessionsPerVM) console sessions attached"))
        // Detach one: there is room again, and the new session works like the others.
        clients.removeLast().close()
        let deadline = Date(timeIntervalSinceNow: 10)
        while rig.runtime.guest(named: "echo")!.vm.console.tap.attachedSessions >= VMRuntime.consoleSessionsPerVM && Date() < deadline {
            usleep(10_000)
        }
        let again = try ConsoleTestClient(path: rig.path, vm: "echo")
        clients.append(again)
        again.send("again\n")
        // Every session sees the output, whoever typed.
        for c in clients { #expect(c.wait(for: "AGAIN"), "got: \(c.text)") }
        // The guest powers off: every session is told why and closed; attaching is refused.
        clients[0].send("quit\n")
        for c in clients {
            #expect(c.waitForEnd(), "still open: \(c.text)")
            #expect(c.text.contains("[switchboard: VM echo powered off (pass)]"), "got: \(c.text)")
            c.close()
        }
        #expect(refusal("echo").contains("VM echo is not running (powered off (pass))"))
        #expect(rig.runtime.guest(named: "echo")!.vm.console.tap.attachedSessions == 0)
    }

    @Test func aClientThatNeverReadsStallsNeitherTheGuestNorOtherSessions() throws {
        guard let rig = try Self.rig("aClientThatNeverReadsStallsNeitherTheGuestNorOtherSessions") else { return }
        defer { rig.stop(); rig.guests.directory.remove() }
        let stalled = try ConsoleTestClient(path: rig.path, vm: "echo")
        defer { stalled.close() }
        let reader = try ConsoleTestClient(path: rig.path, vm: "echo")
        defer { reader.close() }
        // Far more output than the stalled session can hold (ring, its buffer, its socket).
        let line = String(repeating: "x", count: 100) + "\n"
        let lines = 2_000
        let typist = Thread {
            for _ in 0..<lines { reader.send(line) }
            reader.send("the end\n")
        }
        typist.start()
        #expect(reader.wait(for: "THE END", seconds: 300), "got \(reader.received.count) bytes")
        let echoed = reader.text.components(separatedBy: "\n").filter { $0 == String(repeating: "X", count: 100) }.count
        #expect(echoed == lines)
        #expect(rig.vm("echo")?.running == true)
        // The stalled client now reads: the newest output, after one notice of what it lost.
        #expect(stalled.wait(for: "THE END", seconds: 60))
        let notices = stalled.text.components(separatedBy: "[switchboard: ").count - 1
        #expect(notices == 1, "notices: \(notices)")
        #expect(stalled.text.contains(" bytes dropped]"))
        #expect(stalled.received.count < line.count * lines)
    }

    @Test func aClientThatStoppedReadingDoesNotHoldItsPlaceAfterTheVMStops() throws {
        guard let rig = try Self.rig("aClientThatStoppedReadingDoesNotHoldItsPlaceAfterTheVMStops") else { return }
        defer { rig.stop(); rig.guests.directory.remove() }
        let stalled = try ConsoleTestClient(path: rig.path, vm: "echo")
        defer { stalled.close() }
        let reader = try ConsoleTestClient(path: rig.path, vm: "echo")
        defer { reader.close() }
        // Enough output to fill the stalled client's socket both ways, so the server cannot
        // hand it the last line, then the guest powers off.
        let line = String(repeating: "y", count: 100) + "\n"
        let typist = Thread {
            for _ in 0..<1_000 { reader.send(line) }
            reader.send("quit\n")
        }
        typist.start()
        #expect(reader.waitForEnd(seconds: 300), "got \(reader.received.count) bytes")
        #expect(reader.text.contains("[switchboard: VM echo powered off (pass)]"))
        // The stalled session is closed within the reply deadline (5 s), not kept for ever.
        let deadline = Date(timeIntervalSinceNow: 60)
        while rig.server.openSessions > 0 && Date() < deadline { usleep(20_000) }
        #expect(rig.server.openSessions == 0)
        #expect(rig.runtime.guest(named: "echo")!.vm.console.tap.attachedSessions == 0)
        #expect(stalled.waitForEnd(seconds: 60), "the stalled client's stream ends too")
    }

    @Test func expectScriptsRunOnWithASessionAttached() throws {
        let script = #"[{"wait": "echo ready", "send": "first"}, {"wait": "FIRST"}, {"wait": "FROM SESSION", "send": "quit"}]"#
        guard let rig = try Self.rig("expectScriptsRunOnWithASessionAttached", vms: [("echo", script)]) else { return }
        defer { rig.stop(); rig.guests.directory.remove() }
        let guest = try #require(rig.runtime.guest(named: "echo"))
        let client = try ConsoleTestClient(path: rig.path, vm: "echo")
        defer { client.close() }
        #expect(client.wait(for: "FIRST"), "got: \(client.text)")
        client.send("from session\n")
        #expect(client.waitForEnd(), "got: \(client.text)")
        #expect(client.text.contains("FROM SESSION"))
        #expect(client.text.contains("[switchboard: VM echo powered off (pass)]"))
        #expect(guest.vm.console.expectStatus == .passed)
    }

    @Test func aSessionEndsWithTheReasonWhenItsVMMigratesAway() throws {
        guard let image = try ApplianceImage.build(for: "aSessionEndsWithTheReasonWhenItsVMMigratesAway") else { return }
        defer { image.directory.remove() }
        let full = try VMRuntimeMigrationTests.topology(basePort: 7550)
        let a = try InProcessHost(full, hypervisor: "a", appliance: image.elf)
        defer { a.stop() }
        let b = try InProcessHost(full, hypervisor: "b", appliance: image.elf)
        defer { b.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("a.sock")
        let runtime = a.runtime
        var made: Result<ControlServer, HostNetworkingError>!
        // The loop already runs: the server joins it from its own thread.
        a.datapath.sync {
            made = Result { () throws(HostNetworkingError) in
                try ControlServer(path: path, datapath: a.datapath, streaming: { request, _, stream in
                    if case .console(let vm) = request { return runtime.attachConsole(vm, stream: stream) }
                    return .failure("not served in this test")
                })
            }
        }
        let server = try made.get()
        defer { a.datapath.sync { server.closeSocket() } }
        let client = try ConsoleTestClient(path: path, vm: "echo")
        defer { client.close() }
        let report = try a.migrate("echo", to: "b")
        #expect(report.error == nil, "\(report)")
        #expect(client.waitForEnd(), "still open: \(client.text)")
        #expect(client.text.contains("[switchboard: VM echo migrated to b; attach there]"), "got: \(client.text)")
        do {
            _ = try ConsoleTestClient(path: path, vm: "echo")
            Issue.record("attached to a VM that left")
        } catch {
            #expect("\(error)".contains("VM echo migrated to b"), "\(error)")
        }
    }
}
