// BenchTopology: runs a topology's VMs in this process, on the datapath loop, until every VM
// has powered off or a timeout passes (the benchmarks' way to put VMs on a switch).

import Foundation
import HostNetworking
import Hypervisor
import Topology
import VMHost

enum BenchTopology {
    /// Runs `json`'s VMs until all finish or `timeout` seconds pass; returns them, stopped.
    static func runVMs(json: String, appliance: String?, timeout: Double, file: String = "bench") throws -> [VirtualMachine] {
        let topology = try Topology.decode(Array(json.utf8), file: file)
        let instance = try TopologyInstance(topology)
        let datapath = try Datapath(fabric: instance.fabric)
        let runtime = try VMRuntime(instance: instance, topology: topology, hypervisor: nil, appliance: appliance)
        try runtime.attach(to: datapath)
        let loop = Thread { datapath.run() }
        loop.start()
        runtime.start()
        let deadline = Date().addingTimeInterval(timeout)
        while !runtime.allFinished && Date() < deadline { usleep(10_000) }
        datapath.requestStop()
        while !loop.isFinished { usleep(1_000) }
        runtime.stop(datapath: datapath)
        return runtime.snapshot().map(\.vm)
    }
}
