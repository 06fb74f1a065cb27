// EthernetFrame: a zero-copy view of an Ethernet II frame with up to two VLAN tags.

/// A read-only view of an Ethernet II frame in memory the caller owns.
///
/// The view parses the outer tags once: an 802.1ad service tag (0x88a8) is recognised as
/// `outerTag`, an 802.1Q tag as `tag` (after the S-tag for QinQ). The frame check sequence is
/// not part of the buffer. The view does not retain the memory: it is valid only while the
/// buffer is.
public struct EthernetFrame {
    /// Destination, source and EtherType/TPID offsets.
    public enum Offset {
        public static let destination = 0
        public static let source = 6
        public static let etherType = 12
        public static let headerLength = 14
    }

    /// The whole frame, from the destination MAC to the end of the payload.
    public let bytes: UnsafeRawBufferPointer
    /// The 802.1ad service tag, when the frame carries one.
    public let outerTag: VLANTag?
    /// The 802.1Q tag (the inner one under an 802.1ad tag).
    public let tag: VLANTag?
    /// The EtherType after all tags.
    public let etherType: UInt16
    /// Where the payload after the tags starts.
    public let payloadOffset: Int

    /// Parses the header and tags, rejecting runts and truncated tags.
    public init(_ bytes: UnsafeRawBufferPointer) throws(FrameError) {
        guard bytes.count >= Offset.headerLength else { throw .runt(length: bytes.count) }
        var offset = Offset.etherType
        var type = bytes.be16(offset)
        var outer: VLANTag? = nil
        var inner: VLANTag? = nil
        if type == EtherType.qinq {
            guard bytes.count >= offset + 6 else { throw .truncatedTag(offset: offset) }
            outer = VLANTag(tpid: type, tci: bytes.be16(offset + 2))
            offset += 4
            type = bytes.be16(offset)
        }
        if type == EtherType.vlan {
            guard bytes.count >= offset + 6 else { throw .truncatedTag(offset: offset) }
            inner = VLANTag(tpid: type, tci: bytes.be16(offset + 2))
            offset += 4
            type = bytes.be16(offset)
        }
        self.bytes = bytes
        self.outerTag = outer
        self.tag = inner
        self.etherType = type
        self.payloadOffset = offset + 2
    }

    /// The destination address.
    @inlinable public var destination: MACAddress {
        MACAddress(loadingFrom: bytes.baseAddress.unsafelyUnwrapped)
    }

    /// The source address.
    @inlinable public var source: MACAddress {
        MACAddress(loadingFrom: bytes.baseAddress.unsafelyUnwrapped + Offset.source)
    }

    /// The bytes after the tags and EtherType.
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[payloadOffset...])
    }
}
