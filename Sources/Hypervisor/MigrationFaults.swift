// MigrationFaults: fault injection into the migration streams of a host process, for end-to-end
// tests of the failure paths across processes (`SWITCHBOARD_MIGRATION_FAULT`).

import Foundation
import Migration

/// Fault injection for end-to-end tests of the failure paths across processes:
/// `SWITCHBOARD_MIGRATION_FAULT=TYPE:FAULT[:N]` breaks the first N (default 1) migration
/// streams this process writes, at the first message of TYPE it writes (`ack`, `confirm`,
/// `pages`, ...), with FAULT `close`, `lose` or `corrupt` (see `FaultInjectingStream`).
final class MigrationFaults: @unchecked Sendable {
    static let shared = MigrationFaults(ProcessInfo.processInfo.environment["SWITCHBOARD_MIGRATION_FAULT"])
    private let type: MessageType?
    private let fault: FaultInjectingStream.Fault
    private let lock = NSLock()
    private var left: Int

    init(_ spec: String?) {
        let parts = (spec ?? "").split(separator: ":").map(String.init)
        type = parts.first.flatMap { name in MessageType.allCases.first { "\($0)" == name } }
        switch parts.count > 1 ? parts[1] : "close" {
        case "lose": fault = .lose
        case "corrupt": fault = .corrupt
        default: fault = .close
        }
        left = parts.count > 2 ? Int(parts[2]) ?? 1 : 1
    }

    /// `stream`, broken as configured while streams to break are left.
    func wrap(_ stream: any ByteStream) -> any ByteStream {
        guard let type else { return stream }
        let use = lock.withLock { () -> Bool in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        return use ? FaultInjectingStream(stream, at: type, fault: fault) : stream
    }
}
