// EtherType values the switch and the protocol views recognise.

/// Well-known EtherType values (IEEE registry).
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let rarp: UInt16 = 0x8035
    /// 802.1Q customer VLAN tag (C-tag).
    public static let vlan: UInt16 = 0x8100
    /// 802.1ad service VLAN tag (S-tag), the outer tag of QinQ.
    public static let qinq: UInt16 = 0x88A8
    public static let ipv6: UInt16 = 0x86DD
}

/// IP protocol numbers used by the views.
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}
