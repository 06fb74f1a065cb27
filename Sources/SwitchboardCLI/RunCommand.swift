// `switchboard run FILE`: runs a topology until Ctrl-C, SIGTERM or the duration.

import ArgumentParser
import Dispatch
import Foundation
import Switching
import Topology

/// Runs what a topology file describes, then flushes and closes every capture.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a topology until Ctrl-C, SIGTERM or --duration.")

    @Argument(help: "Topology file.")
    var file: String

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    func validate() throws {
        if let duration, !(duration > 0 && duration < 1e9) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() throws {
        let topology = try loadTopology(file)
        let instance: TopologyInstance
        do { instance = try TopologyInstance(topology) } catch {
            printError("run: \(error)")
            throw ExitCode(1)
        }
        let unsupported = instance.unsupportedParts
        if !unsupported.isEmpty {
            for part in unsupported { printError("run: \(file): \(part) cannot run in this build yet") }
            _ = instance.closeCaptures()
            throw ExitCode(1)
        }
        let name = topology.name ?? file
        let ports = topology.switches.reduce(0) { $0 + $1.ports.count }
        print("switchboard: running \(name): \(topology.switches.count) switches, \(ports) ports, \(topology.links.count) links, \(instance.captures.count) captures")
        for c in instance.captures { print("  capture \(c.spec.name) -> \(c.writer.currentPath)") }

        // Everything that touches the fabric runs on one serial queue: the datapath thread.
        let datapath = DispatchQueue(label: "switchboard.datapath")
        let clock = SystemClock()
        let stop = DispatchSemaphore(value: 0)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var stopReason = "duration elapsed"
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: datapath)
            source.setEventHandler {
                stopReason = number == SIGINT ? "interrupted" : "terminated"
                stop.signal()
            }
            source.resume()
            return source
        }
        let housekeeping = DispatchSource.makeTimerSource(queue: datapath)
        housekeeping.schedule(deadline: .now() + 1, repeating: 1)
        housekeeping.setEventHandler {
            instance.fabric.drain(now: clock.now())
            instance.fabric.age(now: clock.now())
            for c in instance.captures { try? c.writer.flush() }
        }
        housekeeping.resume()

        if let duration {
            if stop.wait(timeout: .now() + duration) == .success { /* signal */ } else { stopReason = "duration elapsed" }
        } else {
            stop.wait()
        }
        var errors: [String] = []
        datapath.sync {
            housekeeping.cancel()
            signals.forEach { $0.cancel() }
            errors = instance.closeCaptures()
        }
        print("switchboard: stopped (\(stopReason))")
        for sw in instance.fabric.switches {
            print("  \(sw.name): \(sw.macTable.count) MAC entries")
            for p in 0..<sw.portCount {
                let c = sw.counters(port: p)
                print("    \(sw.portNames[p]): rx \(c.rxFrames) frames, tx \(c.txFrames) frames, dropped \(c.totalDrops)")
            }
        }
        for c in instance.captures { print("  capture \(c.spec.name): \(c.writer.framesWritten) frames -> \(c.writer.basePath)") }
        if !errors.isEmpty {
            errors.forEach { printError("run: \($0)") }
            throw ExitCode(1)
        }
    }
}
