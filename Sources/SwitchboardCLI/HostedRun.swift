// HostedRun: the body of `switchboard run` once the topology is instantiated: host devices
// and namespace hosts plugged into their ports, the control socket, and the epoll
// datapath loop until a signal or the duration; then everything is removed again.

import ArgumentParser
import Foundation
import HostNetworking
import Switching
import Topology

/// Runs an instantiated topology on the datapath loop.
struct HostedRun {
    let instance: TopologyInstance
    let topology: Topology
    let file: String
    let duration: Double?
    let controlPath: String?
    /// The guest appliance ELF for VMs that boot it (nil: none needed or not found).
    let appliance: String?
    /// End with one JSON summary object on stdout.
    let json: Bool

    /// Runs until SIGINT/SIGTERM/SIGHUP or the duration; returns the lines of errors met at close.
    func run() throws {
        let fabric = instance.fabric
        let datapath: Datapath
        do { datapath = try Datapath(fabric: fabric) } catch {
            printError("run: \(error)")
            throw ExitCode(1)
        }
        // Stop signals first, so a Ctrl-C during setup still cleans up.
        datapath.installStopSignals()
        var hosts: [NamespaceHost] = []
        var server: ControlServer?
        var vms: VMRuntime?
        let service = ControlService()
        func cleanup() {
            vms?.stop(datapath: datapath)
            datapath.closeAll()
            for host in hosts { host.destroy() }
            server?.closeSocket()
            service.closeAll()
        }

        let name = topology.name ?? file
        do {
            for spec in topology.switches {
                for port in spec.ports {
                    guard let attach = port.attach else { continue }
                    let device = try attach.hostAttachment.open()
                    try datapath.attach(device, at: try fabricPort(spec.name, port.name))
                }
            }
            for spec in topology.hosts {
                let host = try NamespaceHost(spec.namespaceConfiguration)
                hosts.append(host)
                try datapath.attach(host.port, at: try fabricPort(spec.switchName, spec.port))
            }
            if !topology.vms.isEmpty {
                let runtime = try VMRuntime(instance: instance, appliance: appliance)
                vms = runtime
                try runtime.attach(to: datapath)
            }
            let path = controlPath ?? ControlServer.defaultPath(topologyName: topology.name ?? "switchboard")
            switch Result(catching: { () throws(HostNetworkingError) -> ControlServer in
                try ControlServer(path: path, datapath: datapath) { request, dp in service.handle(request, dp) }
            }) {
            case .success(let s): server = s
            case .failure(let error):
                // Another instance of the same topology may hold the default socket: run without one.
                guard controlPath == nil else { throw error }
                printError("run: warning: \(error); this instance has no control socket")
            }
        } catch {
            cleanup()
            printError("run: \(error)")
            throw ExitCode(1)
        }

        let ports = topology.switches.reduce(0) { $0 + $1.ports.count }
        print("switchboard: running \(name): \(topology.switches.count) switches, \(ports) ports, \(topology.links.count) links, \(instance.captures.count) captures")
        for c in instance.captures { print("  capture \(c.spec.name) -> \(c.writer.currentPath)") }
        for a in datapath.attachments {
            let sw = fabric.switches[a.ref.switchIndex]
            print("  port \(sw.name):\(sw.portNames[a.ref.port]) -> \(a.port.name)")
        }
        for h in hosts {
            print("  host \(h.configuration.name): namespace \(h.configuration.namespace), \(h.configuration.address)")
        }
        for spec in topology.vms {
            let nics = spec.nics.map { "\($0.mac) on \($0.switchName):\($0.port)" }.joined(separator: ", ")
            print("  vm \(spec.name): \(spec.memoryMiB) MiB" + (nics.isEmpty ? "" : ", NIC \(nics)"))
        }
        if let server { print("  control socket \(server.path)") }
        fflush(nil)  // all streams: readers of a pipe see the setup lines now

        let captures = instance.captures
        datapath.tick = { _, _ in
            for c in captures { try? c.writer.flush() }
            service.flush()
        }
        if let duration {
            DispatchQueue.global().asyncAfter(deadline: .now() + duration) { [datapath] in datapath.requestStop() }
        }
        // A run with VMs ends when every VM has powered off (or failed), when every expect
        // script has ended, or at the duration.
        var watcher: DispatchSourceTimer? = nil
        if let vms {
            // (A timer source must be resumed before it is released: only make one when used.)
            let timer = DispatchSource.makeTimerSource(queue: .global())
            watcher = timer
            timer.schedule(deadline: .now() + 0.05, repeating: 0.05)
            // After the scripts end, VMs get a second to act on the last line (a poweroff).
            nonisolated(unsafe) var scriptsEnded: DispatchTime? = nil
            timer.setEventHandler { [datapath] in
                if vms.allFinished { datapath.requestStop(); return }
                if vms.scriptsFinished {
                    if scriptsEnded == nil { scriptsEnded = .now() }
                    if let t = scriptsEnded, DispatchTime.now() > t + 1 { datapath.requestStop() }
                }
            }
            timer.resume()
            vms.start()
        }
        datapath.run()
        watcher?.cancel()
        var stopReason: String
        switch datapath.stopSignal {
        case SIGINT: stopReason = "interrupted"
        case SIGTERM: stopReason = "terminated"
        case SIGHUP: stopReason = "hung up"
        default:
            if vms?.allFinished == true { stopReason = "every VM powered off" }
            else if vms?.scriptsFinished == true { stopReason = "every expect script ended" }
            else { stopReason = "duration elapsed" }
        }
        cleanup()
        var errors = instance.closeCaptures()
        print("switchboard: stopped (\(stopReason))")
        for sw in fabric.switches {
            print("  \(sw.name): \(sw.macTable.count) MAC entries")
            for p in 0..<sw.portCount {
                let c = sw.counters(port: p)
                print("    \(sw.portNames[p]): rx \(c.rxFrames) frames, tx \(c.txFrames) frames, dropped \(c.totalDrops)")
            }
        }
        for c in instance.captures { print("  capture \(c.spec.name): \(c.writer.framesWritten) frames -> \(c.writer.basePath)") }
        if let vms {
            vms.statusLines.forEach { print($0) }
            vms.flowLines.forEach { print($0) }
            errors += vms.expectFailures
        }
        if json {
            let (vmSummary, flows) = vms?.summary ?? ([], [])
            let switches = fabric.switches.map { sw in
                RunSummary.SwitchSummary(name: sw.name, macEntries: sw.macTable.count, ports: (0..<sw.portCount).map { p in
                    let c = sw.counters(port: p)
                    return RunSummary.Port(name: sw.portNames[p], rxFrames: c.rxFrames, txFrames: c.txFrames, drops: c.totalDrops)
                })
            }
            let summary = RunSummary(topology: name, stopReason: stopReason, vms: vmSummary, flows: flows,
                                     switches: switches, ok: errors.isEmpty)
            print((try? jsonLine(summary)) ?? "{}")
        }
        fflush(nil)
        if !errors.isEmpty {
            errors.forEach { printError("run: \($0)") }
            throw ExitCode(1)
        }
    }

    private func fabricPort(_ switchName: String, _ port: String) throws -> Fabric.PortRef {
        do { return try instance.fabric.port(switchName, port) } catch { throw HostNetworkingError.invalid("\(error)") }
    }
}

extension AttachSpec {
    /// The host-networking form of a port's `attach`.
    var hostAttachment: PortAttachment {
        switch self {
        case .tap(let device, let mtu): return .tap(device: device, mtu: mtu)
        case .pcap(let interface): return .pcap(interface: interface)
        case .vxlan(let v):
            return .vxlan(VXLANEndpoint(remote: v.remote, remotePort: UInt16(clamping: v.remotePort), local: v.local,
                                        localPort: UInt16(clamping: v.localPort), vni: UInt32(clamping: v.vni)))
        }
    }
}

extension HostSpec {
    /// The namespace host this spec describes.
    var namespaceConfiguration: NamespaceHostConfiguration {
        NamespaceHostConfiguration(name: name, address: ip.description, mac: mac,
                                   link: link == .tap ? .tap : .veth)
    }
}
