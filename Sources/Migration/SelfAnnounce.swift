// SelfAnnounce: what a migrated VM's new host sends so every switch, Linux bridge and host on
// the way re-learns where the VM's MACs are: RARP requests from each NIC's MAC (as QEMU sends
// after an incoming migration), on QEMU's schedule (`announce-initial` 50 ms, `announce-max`
// 550 ms, `announce-rounds` 5, `announce-step` 100 ms: one at once, then 50, 150, 250, 350
// ms apart).

import Frames

/// RARP self-announcements after a migration.
public enum SelfAnnounce {
    /// The EtherType of RARP.
    public static let etherType: UInt16 = 0x8035

    /// The announce schedule (QEMU's announce parameters).
    public struct Schedule: Sendable, Equatable {
        /// Rounds in all (the first at once).
        public var rounds = 5
        /// Milliseconds before the second round.
        public var initialMs = 50.0
        /// Longest wait between rounds, milliseconds.
        public var maxMs = 550.0
        /// How much longer each wait is than the one before, milliseconds.
        public var stepMs = 100.0

        /// QEMU's defaults.
        public init() {}

        /// Seconds after the VM started on its new host at which each round goes out.
        public var offsets: [Double] {
            var out: [Double] = []
            var at = 0.0
            for round in 0..<max(rounds, 0) {
                out.append(at / 1000)
                at += min(initialMs + Double(round) * stepMs, maxMs)
            }
            return out
        }
    }

    /// A RARP "request reverse" (opcode 3) from `mac` about itself, broadcast and padded to 60
    /// bytes, as QEMU's self-announce packet.
    public static func frame(mac: MACAddress) -> [UInt8] {
        var arp: [UInt8] = [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03]
        let bytes = mac.bytes
        arp += bytes + [0, 0, 0, 0] + bytes + [0, 0, 0, 0]
        return FrameBuilder.padded(FrameBuilder.ethernet(destination: .broadcast, source: mac, tags: [],
                                                         etherType: etherType, payload: arp))
    }
}
