// The `switchboard` command: thin subcommands over the library modules.
import ArgumentParser
import Benchmarks

/// The root command; each subcommand lives in its own file.
@main
struct Switchboard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A software-defined L2 virtual switch with its own VM host.",
        subcommands: [ValidateCommand.self, RunCommand.self, TraceCommand.self, ReplayCommand.self, VMCommand.self, BenchCommand.self,
                      FdbCommand.self, StatsCommand.self, FlowsCommand.self, CaptureCommand.self, MigrateCommand.self,
                      ConsoleCommand.self])
}
