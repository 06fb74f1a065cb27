// OFSwitchHandler: what the switch behind an `OFChannel` answers. The channel does the
// protocol (framing, hello, echo, role, async config, barrier ordering, multipart reassembly
// and splitting, errors); the handler only sees whole, decoded requests, one at a time, on the
// thread that feeds the channel. Throwing an `OFError` sends it back as an ERROR carrying the
// request's xid and first 64 bytes. Defaults answer what Switchboard does not do with the
// spec's error, so a minimal handler only implements features, config and flow-mods.

/// The switch side of an OpenFlow connection.
public protocol OFSwitchHandler: AnyObject {
    /// FEATURES_REPLY contents.
    func features(channel: OFChannel) -> OFFeatures
    /// GET_CONFIG_REPLY contents.
    func config(channel: OFChannel) -> OFSwitchConfig
    /// SET_CONFIG.
    func setConfig(_ config: OFSwitchConfig, channel: OFChannel) throws(OFError)
    /// FLOW_MOD (add, modify, delete; the command is not checked by the channel).
    func flowMod(_ mod: OFFlowMod, channel: OFChannel) throws(OFError)
    /// GROUP_MOD.
    func groupMod(_ mod: OFGroupMod, channel: OFChannel) throws(OFError)
    /// PORT_MOD (default: PORT_MOD_FAILED/EPERM, port configuration is the topology's).
    func portMod(_ mod: OFPortMod, channel: OFChannel) throws(OFError)
    /// TABLE_MOD (default: accepted and ignored, as OpenFlow 1.3 gives it no meaning).
    func tableMod(_ mod: OFTableMod, channel: OFChannel) throws(OFError)
    /// PACKET_OUT.
    func packetOut(_ packet: OFPacketOut, channel: OFChannel) throws(OFError)
    /// A whole MULTIPART_REQUEST (parts reassembled); the reply body may be any size, the
    /// channel splits it into messages with the MORE flag. Default: BAD_REQUEST/BAD_MULTIPART.
    func multipart(_ request: OFMultipartRequest.Body, channel: OFChannel) throws(OFError) -> OFMultipartReply.Body
    /// BARRIER_REQUEST: finish whatever earlier messages started before the reply is queued
    /// (default: nothing to finish, every request is done when its call returns).
    func barrier(channel: OFChannel)
    /// The connection's role changed (to master: the integrator demotes other masters with
    /// `OFChannel.demoteToSlave()`).
    func roleChanged(_ role: OFRoleMessage.Role, channel: OFChannel)
    /// HELLO exchanged: the channel is open.
    func channelOpened(_ channel: OFChannel)
    /// The channel closed (after its last output was queued).
    func channelClosed(_ channel: OFChannel, reason: OFChannel.CloseReason)
    /// A message could not be decoded; the channel has queued the ERROR reply (logging).
    func decodeFailed(_ error: OFError, message: [UInt8], channel: OFChannel)
    /// An ERROR from the controller (default: ignored).
    func controllerError(_ error: OFErrorMessage, xid: UInt32, channel: OFChannel)
}

extension OFSwitchHandler {
    public func setConfig(_ config: OFSwitchConfig, channel: OFChannel) throws(OFError) {}
    public func groupMod(_ mod: OFGroupMod, channel: OFChannel) throws(OFError) { throw .groupInvalid }
    public func portMod(_ mod: OFPortMod, channel: OFChannel) throws(OFError) { throw .portModEPERM }
    public func tableMod(_ mod: OFTableMod, channel: OFChannel) throws(OFError) {}
    public func packetOut(_ packet: OFPacketOut, channel: OFChannel) throws(OFError) { throw .requestEPERM }
    public func multipart(_ request: OFMultipartRequest.Body, channel: OFChannel) throws(OFError) -> OFMultipartReply.Body {
        throw .badMultipart
    }
    public func barrier(channel: OFChannel) {}
    public func roleChanged(_ role: OFRoleMessage.Role, channel: OFChannel) {}
    public func channelOpened(_ channel: OFChannel) {}
    public func channelClosed(_ channel: OFChannel, reason: OFChannel.CloseReason) {}
    public func decodeFailed(_ error: OFError, message: [UInt8], channel: OFChannel) {}
    public func controllerError(_ error: OFErrorMessage, xid: UInt32, channel: OFChannel) {}
}
