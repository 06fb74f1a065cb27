// MigrationSpec: one scheduled live migration of a VM to another hypervisor.

/// A live migration: at `at` seconds into the run, `vm` moves to hypervisor `to`.
public struct MigrationSpec: Sendable, Equatable {
    /// Accepted start times in seconds since the run started.
    public static let atRange = 0.0...86_400.0
    /// Accepted downtime targets in milliseconds.
    public static let downtimeRange = 0.1...60_000.0
    /// Accepted pre-copy round limits.
    public static let maxRoundsRange = 0...1000

    /// The VM that moves.
    public var vm: String
    /// The hypervisor it moves to.
    public var to: String
    /// Seconds since the run started (0...86400).
    public var at: Double
    /// The downtime the pre-copy aims for, in milliseconds (nil: the migrator's default).
    public var downtimeMs: Double?
    /// The most pre-copy rounds before stopping the VM (nil: the migrator's default).
    public var maxRounds: Int?
    /// Copy the VM's disks too (no shared storage).
    public var withDisks = false
    /// Throttle the vCPUs while pre-copy rounds stall (auto-converge).
    public var autoConverge = false
    /// Switch to post-copy when pre-copy does not converge.
    public var postcopy = false

    /// Creates a migration.
    public init(vm: String, to: String, at: Double, downtimeMs: Double? = nil, maxRounds: Int? = nil,
                withDisks: Bool = false, autoConverge: Bool = false, postcopy: Bool = false) {
        self.withDisks = withDisks
        self.autoConverge = autoConverge
        self.postcopy = postcopy
        self.vm = vm
        self.to = to
        self.at = at
        self.downtimeMs = downtimeMs
        self.maxRounds = maxRounds
    }
}
