// RunOutput: how a run reports: error lines on stderr and the text of a migration
// report. A failed run throws `RunFailed` after it has printed why, so the CLI only maps it to
// an exit status.

import ControlProtocol
import Foundation
import HostNetworking

/// A run ended in failure; what failed has been printed already.
public struct RunFailed: Error, CustomStringConvertible {
    /// Creates the error.
    public init() {}
    /// A readable message.
    public var description: String { "the run failed (see the lines above)" }
}

/// Writes a line to standard error.
func reportError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Text forms of what a run reports.
public enum RunReport {
    /// A migration's line, as `info migrate` sums it up.
    public static func describe(_ r: ControlMigrationReport) -> String {
        let at = r.at.map { String(format: " at %.2f s", $0) } ?? ""
        if let e = r.error { return "migration of \(r.vm) \(r.from) -> \(r.to)\(at): FAILED: \(e)" }
        return String(format: "migration of %@ %@ -> %@%@: total %.1f ms, downtime %.2f ms, %d rounds, %d pages (%d zero), queued %d, lost %d",
                      r.vm, r.from, r.to, at, r.totalMs, r.downtimeMs, r.rounds, r.pages, r.zeroPages, r.queued, r.lost)
    }
}
