// `switchboard console VM`: attaches the terminal to a running VM's serial console through the
// control socket, like `virsh console`: raw mode, keys to the guest's UART, its output to the
// screen, Ctrl-] detaches. With stdin not a terminal it only copies both ways (scripts pipe
// into it) and ends at the end of either stream.

import ArgumentParser
import ControlProtocol
import Foundation
import Frames
import Glibc

/// `switchboard console VM`.
struct ConsoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console", abstract: "Attach to a running VM's serial console.")

    @Argument(help: "The VM.")
    var vm: String

    @Option(name: [.customLong("control"), .customLong("socket")],
            help: ArgumentHelp("Control socket of the host running the VM (default: the running switchboard that has it).",
                               valueName: "path"))
    var control: String?

    @Option(name: .customLong("topology-name"), help: ArgumentHelp(
        "The running topology's name (its socket is $XDG_RUNTIME_DIR/switchboard/NAME.sock or /run/switchboard/NAME.sock).",
        valueName: "name"))
    var topologyName: String?

    /// The detach key, Ctrl-] (as virsh console and telnet).
    static let escape: UInt8 = 0x1D

    func run() throws {
        let path: String
        if control != nil || topologyName != nil {
            path = try ControlOptions.socketPath(control: control, topologyName: topologyName)
        } else {
            // As `migrate`: with several runs (a cluster has a socket per hypervisor), the one
            // whose VMs include this one.
            switch MigrateCommand.findHost(of: vm) {
            case .success(let p): path = p
            case .failure(let e):
                printError("console: \(e.message.escapedForTerminal)")
                throw ExitCode(1)
            }
        }
        let attachment: ControlAttachment
        do { attachment = try ControlClient.attach(.console(vm: vm), to: path) } catch {
            printError("console: \("\(error)".escapedForTerminal)")
            throw ExitCode(1)
        }
        guard attachment.reply.ok else {
            printError("console: \((attachment.reply.error ?? "failed").escapedForTerminal)")
            throw ExitCode(1)
        }
        let socket = attachment.socket
        defer { _ = Glibc.close(socket) }
        signal(SIGPIPE, SIG_IGN)
        let terminal = RawTerminal(fd: STDIN_FILENO)
        defer { terminal?.restore() }
        if terminal != nil {
            FileHandle.standardError.write(Data("Connected to the console of VM \(vm.escapedForTerminal)\nEscape character is ^] (Ctrl + ])\n".utf8))
        }
        guard writeAll(STDOUT_FILENO, attachment.leftover) else { return }
        let detached = copy(socket: socket, interactive: terminal != nil)
        terminal?.restore()
        if detached { FileHandle.standardError.write(Data("\ndetached from the console of VM \(vm.escapedForTerminal)\n".utf8)) }
    }

    /// Copies stdin to the socket and the socket to stdout until either ends (or Ctrl-] on a
    /// terminal: returns true). Bytes for the socket wait in `outbound`, and stdin is not read
    /// while they do, so a guest that reads slowly slows the typist, not the screen.
    private func copy(socket: Int32, interactive: Bool) -> Bool {
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        var outbound: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var stdinOpen = true
        while true {
            if !stdinOpen && outbound.isEmpty { return false }
            var fds = [pollfd(fd: socket, events: Int16(POLLIN) | (outbound.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                       pollfd(fd: stdinOpen && outbound.isEmpty ? STDIN_FILENO : -1, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 2, -1)
            if r < 0 && errno == EINTR { continue }
            if r < 0 { return false }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress, $0.count) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return false }
                if n > 0 && !writeAll(STDOUT_FILENO, buffer[0..<n]) { return false }
            }
            if !outbound.isEmpty && fds[0].revents & Int16(POLLOUT) != 0 {
                let w = outbound.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if w > 0 { outbound.removeFirst(w) } else if w < 0 && errno != EAGAIN && errno != EINTR { return false }
            }
            if fds[1].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                if n <= 0 {
                    stdinOpen = false
                    continue
                }
                if interactive, let i = buffer[0..<n].firstIndex(of: Self.escape) {
                    outbound += buffer[0..<i]
                    flushBlocking(socket, &outbound)
                    return true
                }
                outbound += buffer[0..<n]
            }
        }
    }

    /// Sends what is left before detaching (up to a second).
    private func flushBlocking(_ socket: Int32, _ outbound: inout [UInt8]) {
        let deadline = Date(timeIntervalSinceNow: 1)
        while !outbound.isEmpty && Date() < deadline {
            var fds = [pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)]
            _ = poll(&fds, 1, 100)
            let w = outbound.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if w > 0 { outbound.removeFirst(w) } else if w < 0 && errno != EAGAIN && errno != EINTR { return }
        }
    }

    /// Writes all of `bytes` to `fd`; false when it cannot (stdout closed).
    private func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let w = array.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if w > 0 { offset += w } else if w < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}
