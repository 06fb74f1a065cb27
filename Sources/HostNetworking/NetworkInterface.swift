// NetworkInterface: ioctl-level control of a Linux network interface in the current
// namespace (index, up/down, MTU, offloads) through the CLinuxShims target.

import CLinuxShims

/// A network interface of the current namespace, named as the kernel names it.
public struct NetworkInterface: Sendable, Equatable {
    /// The interface name (at most 15 bytes).
    public let name: String

    /// Names an interface; fails for names the kernel cannot hold.
    public init(_ name: String) throws(HostNetworkingError) {
        guard !name.isEmpty, name.utf8.count < Int(SB_IFNAMSIZ), !name.contains("/"), !name.contains(" ") else {
            throw .invalid("interface name \"\(name)\" must be 1-15 bytes without '/' or spaces")
        }
        self.name = name
    }

    /// The interface index, nil when no such interface exists.
    public var index: UInt32? {
        let i = sb_if_index(name)
        return i == 0 ? nil : i
    }

    /// Whether the interface exists in this namespace.
    public var exists: Bool { index != nil }

    /// Sets the interface administratively up or down.
    public func setUp(_ up: Bool = true) throws(HostNetworkingError) {
        _ = try HostNetworkingError.check(sb_if_set_up(name, up ? 1 : 0), up ? "bring up" : "bring down", name)
    }

    /// Whether the interface is administratively up.
    public func isUp() throws(HostNetworkingError) -> Bool {
        try HostNetworkingError.check(sb_if_is_up(name), "read flags of", name) == 1
    }

    /// The MTU.
    public func mtu() throws(HostNetworkingError) -> Int {
        Int(try HostNetworkingError.check(sb_if_get_mtu(name), "read MTU of", name))
    }

    /// Sets the MTU.
    public func setMTU(_ mtu: Int) throws(HostNetworkingError) {
        guard (68...65535).contains(mtu) else { throw .invalid("MTU \(mtu) of \(name) is outside 68-65535") }
        _ = try HostNetworkingError.check(sb_if_set_mtu(name, Int32(mtu)), "set MTU \(mtu) on", name)
    }

    /// Turns off the offloads that hand a user-space switch partial checksums or giant
    /// segments (`ethtool -K DEV tx off sg off tso off gso off gro off`). Offloads the
    /// device does not have are skipped.
    public func disableOffloads() throws(HostNetworkingError) {
        let all: [sb_offload] = [SB_OFFLOAD_TX_CSUM, SB_OFFLOAD_SG, SB_OFFLOAD_TSO, SB_OFFLOAD_GSO, SB_OFFLOAD_GRO]
        for which in all {
            let r = sb_ethtool_set(name, which, 0)
            if r == -EPERM_VALUE { throw .needsRoot("ethtool -K \(name)") }
            if r < 0 && r != -EOPNOTSUPP_VALUE && r != -EINVAL_VALUE {
                throw .system(operation: "turn off offloads of", subject: name, errno: -r)
            }
        }
    }
}

// errno values used above (Linux).
let EPERM_VALUE: Int32 = 1
let EINVAL_VALUE: Int32 = 22
let EOPNOTSUPP_VALUE: Int32 = 95
