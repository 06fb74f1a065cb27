// `switchboard vm`: boots the RISC-V virt board (1-8 harts) with OpenSBI, the builtin SBI or no
// firmware, a kernel (ELF or Linux Image) and an optional initrd, the console on stdin/stdout,
// and exits with the guest's power-off code.
import ArgumentParser
import RISCVTranslator
import Foundation
import Machine
import RISCV
import RISCVBoard

/// Runs one RISC-V guest on the software CPU.
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run one RISC-V machine on the software CPU.")

    @Option(help: "M-mode firmware ELF (e.g. OpenSBI fw_jump.elf), 'builtin' (the VMM implements the SBI) or 'none'.")
    var firmware: String = "builtin"

    @Option(help: "Kernel: an ELF, or a RISC-V Linux Image (loaded at 0x80200000; S-mode with firmware, M-mode with 'none').")
    var kernel: String?

    @Option(help: "An initramfs to load high in RAM (its range goes into /chosen).")
    var initrd: String?

    @Option(help: "Guest RAM in MiB.")
    var memory: Int = 128

    @Option(help: "Harts (vCPUs), 1-8; each runs on its own host thread.")
    var cpus: Int = 1

    @Option(help: "Kernel command line (/chosen/bootargs).")
    var append: String = ""

    @Option(help: "Stop with an error after this many seconds.")
    var timeout: Double?

    @Option(help: "Write the generated device tree blob to this file and exit (like QEMU's dumpdtb).")
    var dumpdtb: String?

    @Flag(help: "Print exit counts by reason (like kvm_stat) when the guest stops.")
    var stats = false

    @Option(help: ArgumentHelp("When the console first prints TEXT, report instructions retired and exits so far on stderr (benchmarks).", valueName: "TEXT"))
    var reportAt: String?

    @Option(help: "The engine the harts run on: interpret, or translate (binary translation to x86-64; x86-64 hosts).")
    var engine: String = CPUEngine.hostDefault.rawValue

    func run() throws {
        let cpuEngine: CPUEngine
        do { cpuEngine = try CPUEngine.named(engine) } catch { throw ValidationError("--engine: \(error)") }
        let console = ConsoleWriter()
        guard (1...VirtBoard.maxHarts).contains(cpus) else {
            throw ValidationError("--cpus must be between 1 and \(VirtBoard.maxHarts)")
        }
        let marker = reportAt.map { ConsoleMarker(Array($0.utf8)) }
        var boardRef: VirtBoard?
        let board = try VirtBoard(memoryMiB: memory, harts: cpus) { b in
            console.put(b)
            if let marker, marker.sees(b), let board = boardRef {
                FileHandle.standardError.write("switchboard vm: reached \"\(reportAt ?? "")\" after \(board.instructionsRetired) instructions, \(board.exitStatistics.total) exits\n")
            }
        }
        boardRef = board
        try cpuEngine.install(on: board.harts)
        let fw: VirtBoard.Firmware
        switch firmware {
        case "builtin": fw = .builtin
        case "none": fw = .none
        default:
            guard let data = FileManager.default.contents(atPath: firmware) else {
                throw ValidationError("cannot read firmware \(firmware)")
            }
            fw = .elf([UInt8](data))
        }
        var kernelBytes: [UInt8]?
        if let kernel {
            guard let data = FileManager.default.contents(atPath: kernel) else {
                throw ValidationError("cannot read kernel \(kernel)")
            }
            kernelBytes = [UInt8](data)
        }
        var initrdBytes: [UInt8]?
        if let initrd {
            guard let data = FileManager.default.contents(atPath: initrd) else {
                throw ValidationError("cannot read initrd \(initrd)")
            }
            initrdBytes = [UInt8](data)
        }
        if let dumpdtb {
            try board.boot(firmware: fw, kernel: kernelBytes, bootargs: append, initrd: initrdBytes)
            try Data(board.fdt).write(to: URL(fileURLWithPath: dumpdtb))
            return
        }
        // Typed bytes go straight into the UART (raising its receive interrupt).
        let input = ConsoleReader { [uart = board.uart] in uart.feed($0) }
        input.start()
        try board.boot(firmware: fw, kernel: kernelBytes, bootargs: append, initrd: initrdBytes)
        board.hart.traceExits = ProcessInfo.processInfo.environment["SWITCHBOARD_TRACE_EXITS"] != nil
        let start = Date()
        if let range = ProcessInfo.processInfo.environment["SWITCHBOARD_TRACE_PCS"] {
            // Debugging aid: one instruction per run, pc printed when inside lo-hi (hex).
            let parts = range.split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard parts.count == 2 else { throw ValidationError("SWITCHBOARD_TRACE_PCS wants lo-hi in hex") }
            var out = ""
            for _ in 0..<200_000_000 {
                let pc = board.hart.pc
                if pc >= parts[0] && pc < parts[1] {
                    out += String(pc, radix: 16) + "\n"
                    if out.utf8.count > 1 << 16 { FileHandle.standardError.write(out); out = "" }
                }
                if board.hart.run(budget: 1) != .continue { break }
            }
            FileHandle.standardError.write(out)
            return
        }
        let outcome = board.run(timeout: timeout)
        console.flush()
        let seconds = Date().timeIntervalSince(start)
        if stats {
            let n = board.instructionsRetired
            var err = FileHandle.standardError
            print(board.exitStatistics.formatted(title: "exits"), to: &err)
            if board.harts.count > 1 {
                for h in board.harts { print(h.exitStatistics.formatted(title: "exits hart \(h.hartID)"), to: &err) }
            }
            for h in board.harts {
                guard let t = h.engine as? TranslatingEngine else { continue }
                let s = t.statistics
                print("translator hart \(h.hartID): \(s.translated) blocks translated, \(s.translatedInstructions) instructions in blocks, \(s.interpreted) interpreted, \(s.sideExits) side exits, \(s.linked) links, \(s.invalidations) page invalidations, \(s.invalidateAlls) whole invalidations, \(s.flushes) code flushes", to: &err)
            }
            print("instructions \(n) in \(String(format: "%.3f", seconds)) s (\(String(format: "%.1f", Double(n) / seconds / 1e6)) MIPS)", to: &err)
        }
        switch outcome {
        case .powerOff(let code):
            if code != 0 { throw ExitCode(code) }
        case .reset:
            // `run` reboots the board on a reset; it never returns this.
            throw ExitCode(3)
        case .timeout:
            FileHandle.standardError.write("switchboard vm: timeout after \(timeout ?? 0) s, guest did not power off (pc 0x\(String(board.hart.pc, radix: 16)))\n".data(using: .utf8) ?? Data())
            throw ExitCode(124)
        case .failed(let m):
            FileHandle.standardError.write("switchboard vm: \(m)\n".data(using: .utf8) ?? Data())
            throw ExitCode(2)
        }
    }
}

/// Watches console bytes for the first occurrence of a byte string.
final class ConsoleMarker: @unchecked Sendable {
    private let pattern: [UInt8]
    private var window: [UInt8] = []
    private var seen = false
    private let lock = NSLock()

    init(_ pattern: [UInt8]) { self.pattern = pattern }

    /// True exactly once: at the byte that completes the first occurrence.
    func sees(_ b: UInt8) -> Bool {
        lock.withLock {
            guard !seen, !pattern.isEmpty else { return false }
            window.append(b)
            if window.count > pattern.count { window.removeFirst(window.count - pattern.count) }
            if window == pattern { seen = true; return true }
            return false
        }
    }
}

/// Buffers console bytes and writes them to stdout at line ends; a partial line (a prompt)
/// follows within 20 ms. The flusher thread sleeps while nothing is buffered, so an idle guest
/// costs the host nothing here.
final class ConsoleWriter: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var flusherStarted = false
    private let pending = DispatchSemaphore(value: 0)

    /// Adds one byte; a full line is written at once, a partial one (a prompt) within 20 ms.
    func put(_ b: UInt8) {
        lock.lock()
        let wasEmpty = buffer.isEmpty
        buffer.append(b)
        let now = b == 10 || buffer.count >= 4096
        let start = !flusherStarted
        flusherStarted = true
        lock.unlock()
        if start { startFlusher() }
        if now { flush() } else if wasEmpty { pending.signal() }
    }

    private func startFlusher() {
        let t = Thread { [weak self, pending] in
            while true {
                pending.wait()
                usleep(20_000)
                guard let self else { return }
                self.flush()
            }
        }
        t.start()
    }

    /// Writes out what is buffered.
    func flush() {
        lock.lock()
        let bytes = buffer
        buffer.removeAll(keepingCapacity: true)
        lock.unlock()
        guard !bytes.isEmpty else { return }
        FileHandle.standardOutput.write(Data(bytes))
    }
}

/// Reads the host's stdin on its own thread and hands each chunk to `sink` (the UART).
final class ConsoleReader: @unchecked Sendable {
    private let sink: @Sendable ([UInt8]) -> Void

    /// A reader delivering to `sink`.
    init(sink: @escaping @Sendable ([UInt8]) -> Void) { self.sink = sink }

    /// Starts the reader thread (it ends at end of input).
    func start() {
        let t = Thread { [sink] in
            while true {
                let data = FileHandle.standardInput.availableData
                if data.isEmpty { return }
                sink([UInt8](data))
            }
        }
        t.start()
    }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(string.data(using: .utf8) ?? Data()) }
}
