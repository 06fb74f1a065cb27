// MigrationDestination+Postcopy: the destination's switch into post-copy. At `postcopyStart`
// the missing pages' bitmap arrives instead of the last pages; from then on a
// `PostcopyReceiver` owns the receiving side of the connection.

import Foundation
import Machine

/// The post-copy part of one incoming migration (nil receiver: pre-copy only).
final class PostcopyState: @unchecked Sendable {
    /// The receiver, once the source switched to post-copy.
    var receiver: PostcopyReceiver?
    /// The total deadline of the phases up to the commit.
    var deadline = Date.distantFuture

    /// The next message, through the receiver once there is one.
    func receive(_ connection: MigrationConnection, timeout: Double) throws -> MigrationMessage {
        guard let receiver else { return try connection.receive(timeout: timeout) }
        return try receiver.next(until: Date(timeIntervalSinceNow: timeout))
    }
}

extension MigrationDestination {
    /// Reads the bitmap of `m` and hands the connection to a `PostcopyReceiver`.
    func startPostcopy(_ m: MigrationMessage, memory: GuestMemory, state: PostcopyState,
                       phase: MigrationPhase) throws(MigrationError) {
        guard state.receiver == nil else { throw MigrationError(phase, "a second post-copy start") }
        let missing: [UInt64]
        do { missing = try PostcopyBitmap.decode(m.payload, pageCount: memory.pageCount) } catch { throw MigrationError(phase, "\(error)") }
        // The reader thread receives from here on: it keeps no total deadline of its own.
        state.deadline = connection.deadline ?? Date.distantFuture
        connection.deadline = nil
        do { state.receiver = try PostcopyReceiver(memory: memory, connection: connection, missing: missing) }
        catch { throw MigrationError(phase, "cannot start post-copy: \(error)") }
    }
}
