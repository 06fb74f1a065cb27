# A learning L2 switch for os-ken, OpenFlow 1.3: Switchboard's stand-in for os-ken's
# simple_switch_13 sample, which the os-ken packages (PyPI wheels, Debian) do not ship.
# Written for Switchboard's tests: a table-miss flow sends every unknown frame to the
# controller; each packet-in teaches (datapath, source MAC) -> port; a frame to a known MAC gets
# a flow (in_port, eth_src, eth_dst) and is sent there, others are flooded. A MAC seen on a new
# port (a VM that migrated and announced itself) loses the flows that sent frames to it, so
# the next frame to it asks again; a port whose link goes down (a VM that left) loses its MACs
# and the flows to it. Each packet-in and port-status is logged (datapath, in_port, EtherType,
# source and destination) for the tests to read.
#   osken-manager Tools/openflow-apps/learning_switch_13.py

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3


class LearningSwitch13(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.port_of = {}  # datapath id -> {MAC: port}

    def add_flow(self, datapath, priority, match, actions):
        parser = datapath.ofproto_parser
        apply = parser.OFPInstructionActions(datapath.ofproto.OFPIT_APPLY_ACTIONS, actions)
        datapath.send_msg(parser.OFPFlowMod(datapath=datapath, priority=priority, match=match,
                                            instructions=[apply]))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_ready(self, ev):
        datapath = ev.msg.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        to_controller = parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)
        self.add_flow(datapath, 0, parser.OFPMatch(), [to_controller])

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        in_port = msg.match['in_port']
        frame = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if frame is None:
            return
        self.logger.info('packet-in datapath %016x in_port %s eth_type 0x%04x %s -> %s',
                         datapath.id, in_port, frame.ethertype, frame.src, frame.dst)
        known = self.port_of.setdefault(datapath.id, {})
        if known.get(frame.src, in_port) != in_port:
            # The MAC moved: forget the flows that lead to its old port.
            datapath.send_msg(parser.OFPFlowMod(datapath=datapath, command=ofp.OFPFC_DELETE,
                                                table_id=ofp.OFPTT_ALL, out_port=ofp.OFPP_ANY,
                                                out_group=ofp.OFPG_ANY, match=parser.OFPMatch(eth_dst=frame.src)))
        known[frame.src] = in_port
        out_port = known.get(frame.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofp.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=in_port, eth_src=frame.src, eth_dst=frame.dst)
            self.add_flow(datapath, 1, match, actions)
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        datapath.send_msg(parser.OFPPacketOut(datapath=datapath, buffer_id=msg.buffer_id,
                                              in_port=in_port, actions=actions, data=data))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        port = msg.desc.port_no
        self.logger.info('port-status datapath %016x port %d reason %d state 0x%x', datapath.id, port, msg.reason, msg.desc.state)
        if msg.desc.state & ofp.OFPPS_LINK_DOWN or msg.reason == ofp.OFPPR_DELETE:
            known = self.port_of.setdefault(datapath.id, {})
            for mac in [m for m, p in known.items() if p == port]:
                del known[mac]
            datapath.send_msg(parser.OFPFlowMod(datapath=datapath, command=ofp.OFPFC_DELETE,
                                                table_id=ofp.OFPTT_ALL, out_port=port,
                                                out_group=ofp.OFPG_ANY, match=parser.OFPMatch()))
