// `switchboard flows SWITCH`: a running OpenFlow switch's flow tables, as `ovs-ofctl dump-flows`.

import ArgumentParser
import ControlProtocol

/// Lists the flows of a running switch that controllers program.
struct FlowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows", abstract: "Show a running OpenFlow switch's flows (dump-flows).")

    @Argument(help: "The switch.")
    var switchName: String

    @OptionGroup var options: ControlOptions

    func run() throws {
        let lines = try options.send(.flows(switchName: switchName)).lines ?? []
        if options.json {
            print(try jsonLine(lines))
            return
        }
        for line in lines { print(line.escapedForTerminal) }
    }
}
