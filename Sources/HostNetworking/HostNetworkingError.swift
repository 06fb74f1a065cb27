// HostNetworkingError: why a host device, namespace or the datapath loop could not be set up.

#if canImport(Glibc)
import Glibc
#endif

/// A failure setting up host networking, with a one-line message for the user.
public enum HostNetworkingError: Error, Equatable, CustomStringConvertible {
    /// A system call failed: what was attempted, on what, and errno.
    case system(operation: String, subject: String, errno: Int32)
    /// The operation needs root (CAP_NET_ADMIN).
    case needsRoot(String)
    /// An external command (`ip`) failed.
    case command(String, status: Int32, output: String)
    /// A value that cannot be used (an interface name too long, a bad address).
    case invalid(String)

    /// The one-line message for the user.
    public var description: String {
        switch self {
        case .system(let operation, let subject, let errno):
            return "\(operation) \(subject): \(HostNetworkingError.errorText(errno))"
        case .needsRoot(let what):
            return "\(what) needs root (CAP_NET_ADMIN): run switchboard as root"
        case .command(let command, let status, let output):
            let text = output.split(separator: "\n").first.map(String.init) ?? ""
            return "`\(command)` failed (exit \(status))\(text.isEmpty ? "" : ": \(text)")"
        case .invalid(let message):
            return message
        }
    }

    /// `strerror` text for an errno value.
    public static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// Maps a negative errno result to an error, EPERM/EACCES to `needsRoot`.
    static func check(_ result: Int32, _ operation: String, _ subject: String) throws(HostNetworkingError) -> Int32 {
        if result >= 0 { return result }
        let code = -result
        if code == EPERM || code == EACCES { throw .needsRoot("\(operation) \(subject)") }
        throw .system(operation: operation, subject: subject, errno: code)
    }
}
