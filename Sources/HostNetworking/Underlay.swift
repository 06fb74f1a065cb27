// Underlay: a simulated physical network for hypervisors that run as separate network hosts.
// Each hypervisor gets a network namespace (`sbh-<name>`) whose `ul0` is one end of a veth
// pair; the other ends are ports of one Linux bridge in the machine's namespace. A link may
// be shaped by a token bucket (`tc tbf`) in both directions (netem is not available here).
// VXLAN and the migration stream then cross the kernel's stack between distinct addresses,
// as between two machines. Each hypervisor's process enters its namespace with nsenter
// (network namespace only), so the namespaces of its Linux hosts stay visible to the machine.

import Foundation

/// One hypervisor's place on the underlay.
public struct UnderlayMember: Sendable, Equatable {
    public var hypervisor: String
    /// Its address, with a /24 on the underlay segment.
    public var address: String
    /// The link's rate in Mbit/s, both directions (nil: unshaped).
    public var rateMbit: Int?

    /// A member.
    public init(hypervisor: String, address: String, rateMbit: Int?) {
        self.hypervisor = hypervisor
        self.address = address
        self.rateMbit = rateMbit
    }
}

/// The bridge, namespaces and veth pairs of one topology's underlay.
public final class Underlay {
    /// util-linux's nsenter, which runs a hypervisor's process in its network namespace.
    public static let nsenter = ["/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/nsenter"
    /// The device inside each hypervisor's namespace.
    public static let innerDevice = "ul0"
    public let bridge: String
    public let members: [UnderlayMember]
    private var created = false

    /// The namespace hypervisor `name` runs in.
    public static func namespace(of hypervisor: String) -> String { "sbh-" + shortName(hypervisor, room: 11) }

    /// The machine-side veth of hypervisor `name`.
    public static func outerDevice(of hypervisor: String) -> String { "sbu-" + shortName(hypervisor, room: 11) }

    /// The bridge of topology `name`.
    public static func bridgeName(topology: String) -> String { "sbb-" + shortName(topology, room: 11) }

    /// `name` when it fits in `room` bytes of an interface name, else 8 hex digits of its hash.
    static func shortName(_ name: String, room: Int) -> String {
        if name.utf8.count <= room, name.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x2F && $0 < 0x7F }) { return name }
        var hash: UInt32 = 2_166_136_261
        for b in name.utf8 { hash = (hash ^ UInt32(b)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// An underlay for `members`, not yet created.
    public init(topology: String, members: [UnderlayMember]) {
        bridge = Self.bridgeName(topology: topology)
        self.members = members
    }

    /// Removes what a crashed run left: the namespaces and the bridge.
    public func removeLeftovers() {
        let existing = IPCommand.namespaces()
        for m in members where existing.contains(Self.namespace(of: m.hypervisor)) {
            IPCommand.attempt(["netns", "delete", Self.namespace(of: m.hypervisor)])
        }
        for m in members { IPCommand.attempt(["link", "delete", Self.outerDevice(of: m.hypervisor)]) }
        IPCommand.attempt(["link", "delete", bridge])
    }

    /// Creates the bridge, each hypervisor's namespace and its shaped link. Undoes what it
    /// made when a step fails.
    public func create() throws(HostNetworkingError) {
        guard geteuid() == 0 else { throw .needsRoot("creating the underlay network of hypervisors in namespaces") }
        removeLeftovers()
        created = true
        do {
            try IPCommand.run(["link", "add", bridge, "type", "bridge"])
            try IPCommand.run(["link", "set", bridge, "up"])
            for m in members {
                let ns = Self.namespace(of: m.hypervisor), outer = Self.outerDevice(of: m.hypervisor)
                try IPCommand.run(["netns", "add", ns])
                try IPCommand.run(["-n", ns, "link", "set", "lo", "up"])
                try IPCommand.run(["link", "add", outer, "type", "veth", "peer", "name", Self.innerDevice, "netns", ns])
                try IPCommand.run(["link", "set", outer, "master", bridge, "up"])
                try IPCommand.run(["-n", ns, "addr", "add", m.address + "/24", "dev", Self.innerDevice])
                try IPCommand.run(["-n", ns, "link", "set", Self.innerDevice, "up"])
                if let rate = m.rateMbit {
                    try Self.shape(outer, namespace: nil, rateMbit: rate)
                    try Self.shape(Self.innerDevice, namespace: ns, rateMbit: rate)
                }
            }
        } catch {
            destroy()
            throw error
        }
    }

    /// A token bucket on `device`'s egress: `rateMbit`, a burst of 1 ms at that rate (at least
    /// 64 KiB, so a GSO segment passes whole), and 20 ms of queue.
    static func shape(_ device: String, namespace: String?, rateMbit: Int) throws(HostNetworkingError) {
        guard let tc = ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw .invalid("tc (iproute2) was not found: it shapes the underlay's links")
        }
        let burst = max(65_536, rateMbit * 1_000_000 / 8 / 1000)
        let arguments = ["qdisc", "replace", "dev", device, "root", "tbf", "rate", "\(rateMbit)mbit",
                         "burst", "\(burst)", "latency", "20ms"]
        let command = namespace.map { ["netns", "exec", $0, tc] + arguments } ?? arguments
        let result = namespace == nil ? try IPCommand.execute(program: tc, arguments)
            : try IPCommand.execute(program: IPCommand.path ?? "/usr/sbin/ip", command)
        guard result.status == 0 else {
            throw .command("tc " + arguments.joined(separator: " "), status: result.status, output: result.error)
        }
    }

    /// Deletes the namespaces (their veth pairs go with them) and the bridge.
    public func destroy() {
        guard created else { return }
        created = false
        for m in members {
            IPCommand.attempt(["netns", "delete", Self.namespace(of: m.hypervisor)])
            IPCommand.attempt(["link", "delete", Self.outerDevice(of: m.hypervisor)])
        }
        IPCommand.attempt(["link", "delete", bridge])
    }

    /// Whether this process runs in hypervisor `name`'s namespace (its net namespace is the
    /// one `ip netns` bound under /run/netns).
    public static func isInside(namespaceOf hypervisor: String) -> Bool {
        var mine = stat(), theirs = stat()
        guard stat("/proc/self/ns/net", &mine) == 0, stat("/run/netns/" + namespace(of: hypervisor), &theirs) == 0 else { return false }
        return mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev
    }
}
