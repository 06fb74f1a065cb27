// ControlServerTests: the control socket served by the datapath loop (no root needed):
// fdb and stats replies, a capture started and stopped at run time, errors as replies.
import Foundation
import Testing
import Frames
import Switching
import TestSupport
@testable import HostNetworking

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ControlServerTests {
    /// Runs the loop on a thread while `body` talks to the socket.
    /// With `streaming`, that handler answers instead of a `ControlService`.
    func withServer(_ lab: SocketLab, streaming: ((ControlRequest, Datapath, ControlReplyStream) -> ControlResponse?)? = nil,
                    _ body: (String) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("sub/control.sock")
        let service = ControlService()
        let server = try ControlServer(path: path, datapath: lab.datapath,
                                       streaming: streaming ?? { request, dp, _ in service.handle(request, dp) })
        let datapath = lab.datapath
        let thread = Thread { datapath.run() }
        thread.start()
        defer {
            datapath.requestStop()
            while !thread.isFinished { usleep(1000) }
            server.closeSocket()
            service.closeAll()
        }
        try body(path)
    }

    @Test func fdbAndStatsComeFromTheLoop() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1", mode: .access(VLANID(unchecked: 1)))])
        lab.send(frame(from: macA, to: macB), on: 0)
        lab.pump()
        try withServer(lab) { path in
            let fdb = try ControlClient.send(ControlRequest(command: "fdb", switchName: "sw0"), to: path)
            #expect(fdb.ok)
            #expect(fdb.fdb == [FDBEntry(port: "p0", vlan: 1, mac: "02:00:00:00:00:0a", age: 0, isStatic: false)])
            let stats = try ControlClient.send(ControlRequest(command: "stats"), to: path)
            let p0 = stats.stats?.first?.ports.first
            #expect(p0?.name == "p0" && p0?.rxFrames == 1 && p0?.device == "pair p0")
            let bad = try ControlClient.send(ControlRequest(command: "fdb", switchName: "nope"), to: path)
            #expect(!bad.ok && bad.error?.contains("no switch named nope") == true)
            let unknown = try ControlClient.send(ControlRequest(command: "reboot"), to: path)
            #expect(!unknown.ok)
        }
    }

    @Test func captureStartedAtRunTimeWritesFrames() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.file("live.pcap")
        try withServer(lab) { path in
            let start = try ControlClient.send(ControlRequest(command: "capture-start", switchName: "sw0", port: "p1",
                                                              file: file, direction: "tx"), to: path)
            #expect(start.ok, "\(start.error ?? "")")
            lab.send(frame(from: macA, to: macB), on: 0)
            usleep(100_000)
            let stop = try ControlClient.send(ControlRequest(command: "capture-stop"), to: path)
            #expect(stop.ok && stop.message?.contains("1 frames") == true, "\(stop.message ?? stop.error ?? "")")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        #expect(size == 24 + 16 + 60)
    }

    @Test func captureStartRefusesControlCharactersAndErrorsEscapeNames() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0"), PortConfiguration(name: "p1")])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try withServer(lab) { path in
            // "x\0y.pcap" would write "x" (libpcap's fopen stops at the NUL).
            let nul = try ControlClient.send(ControlRequest(command: "capture-start", switchName: "sw0",
                                                            file: dir.file("x\u{0}y.pcap")), to: path)
            #expect(!nul.ok && nul.error?.contains("control character") == true, "\(nul)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("x")))
            let newline = try ControlClient.send(ControlRequest(command: "capture-start", switchName: "sw0",
                                                                file: dir.file("a.pcap"), name: "c\nfake line"), to: path)
            #expect(!newline.ok)
            #expect(try ControlClient.send(ControlRequest(command: "capture-list"), to: path).captures == [])
            // Names the switch does not have come back escaped, never raw.
            for request in [ControlRequest(command: "fdb", switchName: "sw\u{1b}[2J"),
                            ControlRequest(command: "capture-start", switchName: "sw0", port: "p\n9", file: dir.file("b.pcap"))] {
                let reply = try ControlClient.send(request, to: path)
                let error = reply.error ?? ""
                #expect(!reply.ok && !error.unicodeScalars.contains { $0.value < 0x20 }, "\(error.debugDescription)")
                #expect(error.contains(#"sw\u001b[2J"#) || error.contains(#"p\n9"#), "\(error)")
            }
        }
    }

    @Test func aStreamedReplyArrivesLineByLineFromAnotherThread() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        try withServer(lab, streaming: { request, _, stream in
            guard request.command == "count" else { return ControlResponse(ok: true, message: "now") }
            // Answered later, from another thread, in three lines.
            Thread {
                for i in 1...3 {
                    usleep(20_000)
                    stream.send(ControlResponse(ok: true, message: "line \(i)"))
                }
                stream.finish()
            }.start()
            return nil
        }) { path in
            var lines: [String] = []
            let last = try ControlClient.stream(ControlRequest(command: "count"), to: path) { lines.append($0.message ?? "") }
            #expect(lines == ["line 1", "line 2", "line 3"] && last.message == "line 3")
            // The loop went on serving one-line requests meanwhile and after.
            #expect(try ControlClient.send(ControlRequest(command: "other"), to: path).message == "now")
        }
    }

    @Test func syncRunsOnTheLoopThreadAndInlineOnceItEnded() throws {
        let lab = try SocketLab(ports: [PortConfiguration(name: "p0")])
        let datapath = lab.datapath
        let loop = Thread { datapath.run() }
        loop.start()
        var ranOn: Thread?
        var waited = false
        datapath.sync {
            ranOn = Thread.current
            waited = true
        }
        #expect(waited && ranOn !== Thread.current && ranOn != nil)
        datapath.requestStop()
        while !loop.isFinished { usleep(1000) }
        let caller = Thread.current
        var inline = false
        datapath.sync { inline = Thread.current === caller }
        #expect(inline, "after the loop ended, sync runs the body in the caller instead of waiting forever")
    }

    @Test func clientSaysWhenNothingRuns() {
        #expect(throws: HostNetworkingError.self) {
            _ = try ControlClient.send(ControlRequest(command: "stats"), to: "/tmp/sb-no-such-dir/none.sock")
        }
    }
}
