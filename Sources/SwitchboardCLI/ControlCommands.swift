// `switchboard fdb`, `stats` and `capture start|stop|list`: clients of a running instance's
// control socket (see HostNetworking's ControlServer).

import ControlProtocol
import ArgumentParser
import Foundation
import Frames
import HostNetworking

/// Where to find the running instance, and the output format.
struct ControlOptions: ParsableArguments {
    @Option(name: .customLong("control"), help: ArgumentHelp("The instance's control socket.", valueName: "path"))
    var control: String?

    @Option(name: .customLong("topology-name"), help: ArgumentHelp(
        "The running topology's name (its socket is $XDG_RUNTIME_DIR/switchboard/NAME.sock or /run/switchboard/NAME.sock).",
        valueName: "name"))
    var topologyName: String?

    @Flag(help: "Print JSON.")
    var json = false

    /// The socket path: --control, --topology-name, or the only socket in the default directory.
    func socketPath() throws -> String { try Self.socketPath(control: control, topologyName: topologyName) }

    /// The socket path for commands with their own options (`console`).
    static func socketPath(control: String?, topologyName: String?) throws -> String {
        if let control { return control }
        if let topologyName { return ControlServer.defaultPath(topologyName: topologyName) }
        let directory = (ControlServer.defaultPath(topologyName: "x") as NSString).deletingLastPathComponent
        let sockets = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".sock") }.sorted()
        if sockets.count == 1 { return directory + "/" + sockets[0] }
        if sockets.isEmpty {
            throw ValidationError("no running switchboard found in \(directory); pass --control PATH")
        }
        throw ValidationError("several switchboards run (\(sockets.joined(separator: ", "))); pass --control PATH or --topology-name NAME")
    }

    /// Sends a request; prints the error and exits 1 when it fails.
    func send(_ request: ControlRequest) throws -> ControlResponse {
        let response: ControlResponse
        do { response = try ControlClient.send(request, to: try socketPath()) } catch let error as ControlClientError {
            printError("\(request.command): \("\(error)".escapedForTerminal)")
            throw ExitCode(1)
        }
        if !response.ok {
            // The reply may quote names the user typed (or another client sent): one line, no escapes.
            printError("\(request.command): \((response.error ?? "failed").escapedForTerminal)")
            throw ExitCode(1)
        }
        return response
    }
}

/// `switchboard fdb SWITCH`: the MAC table, as `ovs-appctl fdb/show`.
struct FdbCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fdb", abstract: "Show a running switch's MAC table (fdb/show).")

    @Argument(help: "The switch.")
    var switchName: String

    @OptionGroup var options: ControlOptions

    func run() throws {
        let response = try options.send(.fdb(switchName: switchName))
        let entries = response.fdb ?? []
        if options.json {
            print(try jsonLine(entries))
            return
        }
        let width = max(4, entries.map(\.port.count).max() ?? 0)
        print(" " + "port".leftPad(width) + "  VLAN  MAC                Age")
        for e in entries {
            let age = e.age.map(String.init) ?? "static"
            print(" " + e.port.leftPad(width) + "  " + String(e.vlan).leftPad(4) + "  " + e.mac + "  " + age.leftPad(3))
        }
    }
}

/// `switchboard stats [SWITCH]`: port counters of a running instance.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show a running instance's switch and port counters.")

    @Argument(help: "Only this switch.")
    var switchName: String?

    @OptionGroup var options: ControlOptions

    func run() throws {
        let response = try options.send(.stats(switchName: switchName))
        let switches = response.stats ?? []
        if options.json {
            print(try jsonLine(switches))
            return
        }
        for sw in switches {
            print("\(sw.name): \(sw.macEntries) MAC entries (learned \(sw.learned), aged \(sw.aged), evicted \(sw.evicted), moved \(sw.moved))")
            for p in sw.ports {
                var line = "  \(p.name)\(p.up ? "" : " (down)"): rx \(p.rxFrames) frames \(p.rxBytes) bytes, tx \(p.txFrames) frames \(p.txBytes) bytes"
                let drops = p.drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                if !drops.isEmpty { line += ", dropped: " + drops.joined(separator: ", ") }
                if let device = p.device { line += " [\(device)\(p.downReason.map { ": " + $0 } ?? "")]" }
                print(line)
            }
        }
    }
}

/// `switchboard capture start|stop|list`: captures on a running instance.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture", abstract: "Start, stop or list captures on a running instance.",
        subcommands: [Start.self, Stop.self, List.self])

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a running switch's frames to a pcap file.")

        @Argument(help: "The switch.")
        var switchName: String

        @Option(name: .customShort("w"), help: ArgumentHelp("The pcap file.", valueName: "file"))
        var file: String

        @Option(help: "Only this port.")
        var port: String?

        @Option(help: "rx, tx or both.")
        var direction = "both"

        @Option(help: "A name for the capture (default SWITCH or SWITCH-PORT).")
        var name: String?

        @Argument(help: "A libpcap filter expression, as tcpdump's.")
        var filter: [String] = []

        @OptionGroup var options: ControlOptions

        func validate() throws {
            // A NUL would silently cut the name short at libpcap's fopen (x\0y.pcap writes x).
            if file.isEmpty || file.containsControlCharacters {
                throw ValidationError("invalid capture file \"\(file.escapedForTerminal)\": "
                    + "paths may not be empty or hold NUL or other control characters")
            }
        }

        func run() throws {
            let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
            let request = ControlRequest.captureStart(.init(switchName: switchName, port: port, file: path,
                                                            filter: filter.isEmpty ? nil : filter.joined(separator: " "),
                                                            direction: direction, name: name))
            let response = try options.send(request)
            if options.json { print(try jsonLine(response)) } else { print(response.message ?? "started") }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop captures (all, one by name, or a switch's).")

        @Argument(help: "The capture's name.")
        var name: String?

        @Option(name: .customLong("switch"), help: "Stop this switch's captures.")
        var switchName: String?

        @OptionGroup var options: ControlOptions

        func run() throws {
            let response = try options.send(.captureStop(switchName: switchName, name: name))
            if options.json { print(try jsonLine(response)) } else { print(response.message ?? "stopped") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List running captures.")

        @OptionGroup var options: ControlOptions

        func run() throws {
            let response = try options.send(.captureList)
            if options.json { print(try jsonLine(response.captures ?? [])) } else { (response.captures ?? []).forEach { print($0) } }
        }
    }
}

extension String {
    /// Right-aligns in `width` columns.
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
