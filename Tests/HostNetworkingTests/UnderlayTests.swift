// UnderlayTests: the simulated physical network of hypervisors in namespaces: two members
// reach each other over the bridge, the token bucket holds TCP near its rate (iperf3 through
// the kernel), leftovers of a crashed run are removed, and destroy leaves nothing.

import Foundation
import HostNetworking
import Testing
import TestSupport

@Suite(.serialized) struct UnderlayTests {
    @Test func membersReachEachOtherAtTheShapedRate() throws {
        guard NamespaceLab.skipReason("underlay", tools: ["ping", "iperf3"]) == nil else { return }
        let underlay = Underlay(topology: "ul-test", members: [
            UnderlayMember(hypervisor: "ula", address: "10.98.0.1", rateMbit: 40),
            UnderlayMember(hypervisor: "ulb", address: "10.98.0.2", rateMbit: 40),
        ])
        try underlay.create()
        defer { underlay.destroy() }
        let a = Underlay.namespace(of: "ula"), b = Underlay.namespace(of: "ulb")
        #expect(NamespaceLab.namespaces().contains(a) && NamespaceLab.namespaces().contains(b))
        #expect(NamespaceLab.ping(from: a, "10.98.0.2"))
        let server = NamespaceLab.spawn(b, ["iperf3", "-s", "-1", "-B", "10.98.0.2"])
        defer { NamespaceLab.end(server) }
        usleep(300_000)
        let run = NamespaceLab.exec(a, ["timeout", "20", "iperf3", "-c", "10.98.0.2", "-t", "2", "-J"])
        try #require(run.status == 0, "iperf3: \(run.output.suffix(300))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let end = try #require(json["end"] as? [String: Any])
        let received = try #require((end["sum_received"] as? [String: Any])?["bits_per_second"] as? Double)
        print("underlay at 40 Mbit/s: TCP \(received / 1e6) Mbit/s")
        #expect(received < 40e6 * 1.1, "the token bucket holds the rate: \(received / 1e6) Mbit/s")
        #expect(received > 40e6 * 0.5, "and lets most of it through: \(received / 1e6) Mbit/s")
    }

    @Test func aCrashedRunsLeftoversAreRemovedAndDestroyLeavesNothing() throws {
        guard NamespaceLab.skipReason("underlay leftovers") == nil else { return }
        let members = [UnderlayMember(hypervisor: "ulc", address: "10.98.1.1", rateMbit: nil),
                       UnderlayMember(hypervisor: "uld", address: "10.98.1.2", rateMbit: nil)]
        let crashed = Underlay(topology: "ul-left", members: members)
        try crashed.create()  // never destroyed: as after a crash
        let next = Underlay(topology: "ul-left", members: members)
        try next.create()
        #expect(NamespaceLab.ping(from: Underlay.namespace(of: "ulc"), "10.98.1.2"))
        next.destroy()
        #expect(!NamespaceLab.namespaces().contains(Underlay.namespace(of: "ulc")))
        #expect(!NamespaceLab.namespaces().contains(Underlay.namespace(of: "uld")))
        #expect(!IPCommand.attempt(["link", "show", next.bridge]), "the bridge is gone")
    }

    @Test func longNamesBecomeHashesThatFitAnInterfaceName() {
        #expect(Underlay.namespace(of: "a") == "sbh-a")
        let long = Underlay.outerDevice(of: "a-very-long-hypervisor-name")
        #expect(long.utf8.count <= 15 && long.hasPrefix("sbu-"))
        #expect(long != Underlay.outerDevice(of: "a-very-long-hypervisor-namf"))
    }
}
