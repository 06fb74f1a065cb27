// `switchboard console VM` as a script uses it (stdin from a pipe, no terminal) and as a person
// does (on a terminal: a pseudo-terminal here), against a running `switchboard run` whose VM
// runs Tools/riscv's echo guest (it upper-cases each console line).

import ControlProtocol
import Foundation
import Glibc
import TestSupport
import Testing

/// A `switchboard run` with one VM, `echo`, running the echo guest behind a control socket.
final class EchoRun {
    let guests: RISCVGuestImages
    let directory: TemporaryDirectory
    let socket: String
    private let run = Process()

    /// Starts the run and waits (up to a minute) until its VM runs; nil without a RISC-V toolchain.
    init?(test: String) throws {
        guard let guests = try RISCVGuestImages.build(for: test) else { return nil }
        self.guests = guests
        directory = try TemporaryDirectory()
        // Where `switchboard console` looks without --control: $XDG_RUNTIME_DIR/switchboard.
        try FileManager.default.createDirectory(atPath: directory.file("switchboard"), withIntermediateDirectories: true)
        socket = directory.file("switchboard/console-cli.sock")
        let topology = directory.file("console.json")
        let json = #"{"version": 1, "name": "console-cli", "switches": [{"name": "sw0", "ports": [{"name": "p0"}]}], "#
            + #""vms": [{"name": "echo", "memory_mib": 16, "firmware": "none", "kernel": "\#(guests.elf("echo"))", "#
            + #""console": {"log": "\#(directory.file("echo.log"))"}}]}"#
        try json.write(toFile: topology, atomically: true, encoding: .utf8)
        run.executableURL = URL(fileURLWithPath: CLI.binary)
        run.arguments = ["run", topology, "--control", socket, "--duration", "120"]
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        try run.run()
        let deadline = Date(timeIntervalSinceNow: 60)
        var up = false
        while !up && Date() < deadline {
            up = (try? ControlClient.send(.vmList, to: socket, timeoutSeconds: 1))?.vms?.first?.running == true
            if !up { usleep(50_000) }
        }
        #expect(up)
    }

    func stop() {
        if run.isRunning { kill(run.processIdentifier, SIGTERM) }
        run.waitUntilExit()
        directory.remove()
        guests.directory.remove()
    }
}

/// Bytes read from a descriptor on a thread of their own, until its end.
final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }

    /// Reads `fd` until end of file or an error (a pseudo-terminal's master reports EIO).
    func collect(_ fd: Int32) {
        Thread {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                self.lock.withLock { self.bytes += chunk[0..<n] }
            }
        }.start()
    }

    /// Waits until `text` has arrived or `seconds` passed.
    func wait(for text: String, seconds: Double = 60) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !self.text.contains(text) && Date() < deadline { usleep(20_000) }
        return self.text.contains(text)
    }
}

/// The C library's pseudo-terminal calls, which Swift's Glibc module leaves out (they need
/// _XOPEN_SOURCE), looked up at run time.
struct PseudoTerminalCalls {
    let openpt: @convention(c) (Int32) -> Int32
    let grantpt: @convention(c) (Int32) -> Int32
    let unlockpt: @convention(c) (Int32) -> Int32
    let ptsname: @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?

    init?() {
        // SAFETY: each symbol is cast to the C signature the C library declares for it.
        guard let o = dlsym(nil, "posix_openpt"), let g = dlsym(nil, "grantpt"),
              let u = dlsym(nil, "unlockpt"), let p = dlsym(nil, "ptsname") else { return nil }
        openpt = unsafeBitCast(o, to: (@convention(c) (Int32) -> Int32).self)
        grantpt = unsafeBitCast(g, to: (@convention(c) (Int32) -> Int32).self)
        unlockpt = unsafeBitCast(u, to: (@convention(c) (Int32) -> Int32).self)
        ptsname = unsafeBitCast(p, to: (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)
    }
}

/// Waits up to `seconds` for `process` to exit; kills it if it does not. True when it exited.
private func exits(_ process: Process, within seconds: Double) -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    let exited = !process.isRunning
    if !exited { process.terminate() }
    process.waitUntilExit()
    return exited
}

@Suite(.serialized) struct ConsoleCommandTests {
    @Test func aPipedLineReachesTheGuestAndItsEchoComesBack() throws {
        guard let run = try EchoRun(test: "aPipedLineReachesTheGuestAndItsEchoComesBack") else { return }
        defer { run.stop() }
        let console = Process()
        console.executableURL = URL(fileURLWithPath: CLI.binary)
        // No --control, and another socket beside this run's (as a cluster has one per
        // hypervisor; this one answers nothing): the command asks the sockets in
        // $XDG_RUNTIME_DIR/switchboard which has the VM.
        try Data().write(to: URL(fileURLWithPath: run.directory.file("switchboard/another.sock")))
        console.arguments = ["console", "echo"]
        console.environment = ProcessInfo.processInfo.environment.merging(["XDG_RUNTIME_DIR": run.directory.path]) { $1 }
        let input = Pipe(), output = Pipe()
        console.standardInput = input
        console.standardOutput = output
        console.standardError = FileHandle.nullDevice
        try console.run()
        input.fileHandleForWriting.write(Data("hello from a pipe\n".utf8))
        let received = Received()
        received.collect(output.fileHandleForReading.fileDescriptor)
        #expect(received.wait(for: "HELLO FROM A PIPE"), "got: \(received.text)")
        #expect(received.text.contains("echo ready"), "the replayed tail: \(received.text)")
        // End of stdin ends the command, with success.
        try input.fileHandleForWriting.close()
        #expect(exits(console, within: 30))
        #expect(console.terminationStatus == 0)

        // A VM the run does not have: the reason, and a failure status.
        let ghost = try CLI.run(["console", "ghost", "--control", run.socket])
        #expect(ghost.status == 1)
        #expect(ghost.stderr.contains("no VM named ghost runs here"), "\(ghost.stderr)")
    }

    @Test func onATerminalKeysGoRawToTheGuestAndCtrlBracketDetachesRestoringTheTerminal() throws {
        guard let run = try EchoRun(test: "onATerminalKeysGoRawToTheGuestAndCtrlBracketDetachesRestoringTheTerminal") else { return }
        defer { run.stop() }
        // A pseudo-terminal: the command's stdin, stdout and stderr are its terminal side.
        let pty = try #require(PseudoTerminalCalls())
        let master = pty.openpt(O_RDWR | O_NOCTTY)
        try #require(master >= 0)
        defer { _ = Glibc.close(master) }
        try #require(pty.grantpt(master) == 0 && pty.unlockpt(master) == 0)
        let terminalPath = String(cString: try #require(pty.ptsname(master)))
        let terminal = try #require(FileHandle(forUpdatingAtPath: terminalPath))
        defer { try? terminal.close() }
        func lineMode() -> Bool {
            var t = termios()
            return tcgetattr(terminal.fileDescriptor, &t) == 0 && t.c_lflag & tcflag_t(ICANON | ECHO) == tcflag_t(ICANON | ECHO)
        }
        #expect(lineMode())

        let console = Process()
        console.executableURL = URL(fileURLWithPath: CLI.binary)
        console.arguments = ["console", "echo", "--socket", run.socket]
        console.standardInput = terminal
        console.standardOutput = terminal
        console.standardError = terminal
        try console.run()
        let received = Received()
        received.collect(master)
        #expect(received.wait(for: "Escape character is ^]"), "got: \(received.text)")
        #expect(received.wait(for: "echo ready"), "the replayed tail: \(received.text)")
        #expect(!lineMode(), "the terminal is in raw mode while attached")
        // Raw: Ctrl-C is only a byte for the guest, the carriage return ends the guest's line
        // as typed, and the terminal does not echo locally (only the guest's echo comes back).
        _ = write(master, "\u{03}typed raw\r", 11)
        #expect(received.wait(for: "TYPED RAW"), "got: \(received.text)")
        #expect(console.isRunning)
        #expect(!received.text.contains("typed raw"), "the terminal echoed locally: \(received.text)")
        // Ctrl-] detaches: a message, success, and the terminal as it was.
        _ = write(master, "\u{1D}", 1)
        #expect(exits(console, within: 30))
        #expect(console.terminationStatus == 0)
        #expect(received.wait(for: "detached from the console of VM echo"), "got: \(received.text)")
        #expect(lineMode(), "the terminal is restored")
    }
}
