// `switchboard console VM` as a script uses it: stdin from a pipe (no terminal), against a
// running `switchboard run` whose VM runs Tools/riscv's echo guest.

import ControlProtocol
import Foundation
import TestSupport
import Testing

@Suite struct ConsoleCommandTests {
    @Test func aPipedLineReachesTheGuestAndItsEchoComesBack() throws {
        guard let guests = try RISCVGuestImages.build(for: "aPipedLineReachesTheGuestAndItsEchoComesBack") else { return }
        defer { guests.directory.remove() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let socket = dir.file("control.sock")
        let topology = dir.file("console.json")
        let json = #"{"version": 1, "name": "console-cli", "switches": [{"name": "sw0", "ports": [{"name": "p0"}]}], "#
            + #""vms": [{"name": "echo", "memory_mib": 16, "firmware": "none", "kernel": "\#(guests.elf("echo"))", "#
            + #""console": {"log": "\#(dir.file("echo.log"))"}}]}"#
        try json.write(toFile: topology, atomically: true, encoding: .utf8)
        let run = Process()
        run.executableURL = URL(fileURLWithPath: CLI.binary)
        run.arguments = ["run", topology, "--control", socket, "--duration", "120"]
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        try run.run()
        defer {
            if run.isRunning { kill(run.processIdentifier, SIGTERM) }
            run.waitUntilExit()
        }
        let deadline = Date(timeIntervalSinceNow: 60)
        var up = false
        while !up && Date() < deadline {
            up = (try? ControlClient.send(.vmList, to: socket, timeoutSeconds: 1))?.vms?.first?.running == true
            if !up { usleep(50_000) }
        }
        #expect(up)

        let console = Process()
        console.executableURL = URL(fileURLWithPath: CLI.binary)
        console.arguments = ["console", "echo", "--socket", socket]
        let input = Pipe(), output = Pipe()
        console.standardInput = input
        console.standardOutput = output
        console.standardError = FileHandle.nullDevice
        try console.run()
        input.fileHandleForWriting.write(Data("hello from a pipe\n".utf8))
        final class Received: @unchecked Sendable {
            let lock = NSLock()
            var bytes = Data()
            var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
        }
        let received = Received()
        let reading = Thread {
            while true {
                let d = output.fileHandleForReading.availableData
                if d.isEmpty { return }
                received.lock.withLock { received.bytes += d }
            }
        }
        reading.start()
        while !received.text.contains("HELLO FROM A PIPE") && Date() < deadline { usleep(20_000) }
        #expect(received.text.contains("echo ready"), "the replayed tail: \(received.text)")
        #expect(received.text.contains("HELLO FROM A PIPE"), "got: \(received.text)")
        // End of stdin ends the command, with success.
        try input.fileHandleForWriting.close()
        let exitBy = Date(timeIntervalSinceNow: 30)
        while console.isRunning && Date() < exitBy { usleep(20_000) }
        #expect(!console.isRunning)
        if console.isRunning { console.terminate() }
        console.waitUntilExit()
        #expect(console.terminationStatus == 0)

        // A VM the run does not have: the reason, and a failure status.
        let ghost = try CLI.run(["console", "ghost", "--control", socket])
        #expect(ghost.status == 1)
        #expect(ghost.stderr.contains("no VM named ghost runs here"), "\(ghost.stderr)")
    }
}
