// RawTerminal: the local terminal in raw mode for `switchboard console` (keys go to the guest
// as typed, Ctrl-C included), restored on every way out: a normal return, an error, and
// SIGTERM, SIGHUP, SIGINT or SIGQUIT sent from elsewhere (handled on a dispatch queue, not in
// signal context, then the process exits).

import Dispatch
import Foundation
import Glibc

/// Raw mode on a terminal, undone by `restore` (idempotent) or a stop signal.
final class RawTerminal: @unchecked Sendable {
    private let fd: Int32
    private var saved = termios()
    private let lock = NSLock()
    private var restored = false
    private var sources: [DispatchSourceSignal] = []

    /// Puts terminal `fd` in raw mode; nil when `fd` is not a terminal.
    init?(fd: Int32) {
        guard isatty(fd) == 1, tcgetattr(fd, &saved) == 0 else { return nil }
        self.fd = fd
        var raw = saved
        cfmakeraw(&raw)
        // Keep output processing: guests that end lines with \n alone still start each line
        // at the left margin.
        raw.c_oflag |= tcflag_t(OPOST | ONLCR)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGQUIT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                restore()
                FileHandle.standardError.write(Data("\r\nswitchboard console: \(String(cString: strsignal(sig))), detached\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Puts the terminal back as it was.
    func restore() {
        lock.withLock {
            guard !restored else { return }
            restored = true
            var s = saved
            _ = tcsetattr(fd, TCSANOW, &s)
        }
    }

    deinit { restore() }
}
