// ConsoleState: the saved state of a VM's console, so a migrated VM's console goes on where it
// was: the unfinished line, the recent lines, the expect script's position and elapsed time,
// and what the host parsed from the console (flow reports, the appliance's ready time).

/// The dynamic state of a `VMConsole` and of what the VM parsed from it.
public struct ConsoleState: Codable, Sendable, Equatable {
    /// Bytes of the line being printed (no newline yet).
    public var partialLine: [UInt8]
    /// The last complete lines.
    public var lines: [String]
    /// Bytes seen since the current expect step began.
    public var window: [UInt8]
    /// The expect step being waited for (== step count when every step matched).
    public var stepIndex: Int
    /// The step that timed out, if one did.
    public var failedStep: Int?
    /// Seconds the current step has been waiting.
    public var stepElapsed: Double
    /// Flow reports the guest printed.
    public var reports: [FlowReport]
    /// Seconds from the VM's first start to the appliance's ready line.
    public var readySeconds: Double?
    /// Seconds the VM had been running (over all hosts) when it was saved.
    public var runningSeconds: Double

    /// A console state.
    public init(partialLine: [UInt8] = [], lines: [String] = [], window: [UInt8] = [], stepIndex: Int = 0,
                failedStep: Int? = nil, stepElapsed: Double = 0, reports: [FlowReport] = [], readySeconds: Double? = nil,
                runningSeconds: Double = 0) {
        self.partialLine = partialLine
        self.lines = lines
        self.window = window
        self.stepIndex = stepIndex
        self.failedStep = failedStep
        self.stepElapsed = stepElapsed
        self.reports = reports
        self.readySeconds = readySeconds
        self.runningSeconds = runningSeconds
    }
}
