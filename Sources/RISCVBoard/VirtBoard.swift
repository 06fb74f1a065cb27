// VirtBoard: a copy of QEMU's `virt` machine map (RAM at 0x8000_0000, CLINT, PLIC, UART 16550,
// SiFive test device, virtio-mmio slots) with 1-8 harts, its generated device tree, the three
// firmware modes, kernel (ELF or Linux Image) and initrd loading, and the run loop with a timeout.
import RISCV
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Machine
import Synchronization

/// Errors from building or booting the board.
public enum BoardError: Error, CustomStringConvertible {
    /// A file could not be read.
    case unreadable(String)
    /// The configuration is inconsistent.
    case badConfiguration(String)

    /// A readable message.
    public var description: String {
        switch self {
        case .unreadable(let m): return "cannot read \(m)"
        case .badConfiguration(let m): return m
        }
    }
}

/// The QEMU-virt-like board with 1-8 harts.
public final class VirtBoard {
    /// Where RAM starts.
    public static let ramBase: UInt64 = 0x8000_0000
    /// Where OpenSBI's fw_jump expects the next stage.
    public static let kernelBase: UInt64 = 0x8020_0000
    /// The PLIC.
    public static let plicBase: UInt64 = PLIC.base
    /// First virtio-mmio slot, stride 0x1000, 8 slots, PLIC sources 1...8 (as QEMU).
    public static let virtioBase: UInt64 = 0x1000_1000
    /// Number of virtio-mmio slots.
    public static let virtioSlotCount = 8
    /// The most harts a board has.
    public static let maxHarts = CLINT.maxHarts
    /// The ISA string in the device tree (what the CPU implements).
    public static let isaString = "rv64imafdc_zicsr_zifencei"

    /// How the board boots.
    public enum Firmware: Equatable, Sendable {
        /// An M-mode firmware ELF (e.g. OpenSBI fw_jump.elf).
        case elf([UInt8])
        /// The VMM's builtin SBI; the kernel starts in S-mode.
        case builtin
        /// No firmware; the kernel starts in M-mode.
        case none
    }

    /// Guest RAM.
    public let memory: GuestMemory
    /// The MMIO bus.
    public let bus = MMIOBus()
    /// The harts, by hart id.
    public let harts: [Hart]
    /// The boot hart (hart 0).
    public var hart: Hart { harts[0] }
    /// What passes between the harts (IPIs, fences, HSM, machine-wide power off).
    public let group = HartGroup()
    /// Devices.
    public let clint: CLINT
    /// The console UART.
    public let uart: UART16550
    /// The platform-level interrupt controller.
    public let plic: PLIC
    /// The virtio-mmio slots; an empty one answers as QEMU's do (DeviceID 0).
    public let virtioSlots: [VirtioSlot] = (0..<VirtBoard.virtioSlotCount).map { _ in VirtioSlot() }
    /// The power-off device.
    public private(set) var test: SiFiveTest!
    /// Where the device tree was placed.
    public private(set) var fdtAddress: UInt64 = 0
    /// The generated device tree blob.
    public private(set) var fdt: [UInt8] = []
    /// Where the initrd was placed (start, end), if one was loaded.
    public private(set) var initrdRange: (start: UInt64, end: UInt64)?
    /// What `boot` was called with, for resets.
    private var bootParameters: (Firmware, [UInt8]?, String, [UInt8]?)?
    /// What `boot()` boots, when the board was made from a spec (`VirtBoardSpec.makeBoard`).
    public internal(set) var spec: VirtBoardSpec?
    /// Number of guest-requested resets so far.
    public private(set) var resets = 0

    /// Builds a board with `memoryMiB` of RAM, `harts` harts, and the console going to `console`.
    public init(memoryMiB: Int, harts hartCount: Int = 1, console: @escaping (UInt8) -> Void) throws {
        guard memoryMiB >= 16, memoryMiB <= 16384 else {
            throw BoardError.badConfiguration("memory must be between 16 and 16384 MiB")
        }
        guard hartCount >= 1, hartCount <= VirtBoard.maxHarts else {
            throw BoardError.badConfiguration("cpus must be between 1 and \(VirtBoard.maxHarts)")
        }
        memory = try GuestMemory(base: GuestPhysicalAddress(VirtBoard.ramBase), size: UInt64(memoryMiB) << 20)
        uart = UART16550(output: console)
        clint = CLINT(harts: hartCount)
        plic = PLIC(harts: hartCount)
        harts = (0..<hartCount).map { [memory, bus, clint] in Hart(memory: memory, bus: bus, timer: clint, hartID: UInt64($0)) }
        for h in harts { group.add(h) }
        test = SiFiveTest { [unowned self] r in self.group.requestOutcome(r) }
        try bus.register(clint, at: GuestPhysicalAddress(CLINT.base), size: CLINT.size, name: "clint")
        try bus.register(uart, at: GuestPhysicalAddress(UART16550.base), size: UART16550.size, name: "uart")
        try bus.register(test, at: GuestPhysicalAddress(SiFiveTest.base), size: SiFiveTest.size, name: "test")
        try bus.register(plic, at: GuestPhysicalAddress(PLIC.base), size: PLIC.size, name: "plic")
        for (i, slot) in virtioSlots.enumerated() {
            try bus.register(slot, at: GuestPhysicalAddress(VirtBoard.virtioBase + UInt64(i) * 0x1000), size: 0x1000,
                             name: "virtio-mmio\(i)")
        }
        uart.interrupt = plic.line(UART16550.interruptSource)
        let harts = self.harts
        clint.onSoftwareInterrupt = { h in if h < harts.count { harts[h].wake() } }
        for h in harts {
            h.externalInputs = plic
            h.consolePut = console
            h.consoleGet = { [unowned self] in self.uart.takeInput() }
        }
    }

    /// Puts a virtio-mmio transport into slot `index` (before `boot`); returns the PLIC line
    /// of that slot (source index + 1) for the transport to drive.
    public func attachVirtio(_ device: any MMIODevice, slot index: Int) throws -> any InterruptLine {
        guard index >= 0 && index < VirtBoard.virtioSlotCount else {
            throw BoardError.badConfiguration("virtio slot \(index) does not exist (0-\(VirtBoard.virtioSlotCount - 1))")
        }
        guard virtioSlots[index].device == nil else { throw BoardError.badConfiguration("virtio slot \(index) is taken") }
        virtioSlots[index].device = device
        return plic.line(index + 1)
    }

    /// Device-tree phandles: the PLIC, the test device, then per hart its cpu node and its
    /// interrupt controller.
    static let plicPhandle: UInt32 = 3, testPhandle: UInt32 = 4
    static func cpuPhandle(_ h: Int) -> UInt32 { UInt32(0x10 + 2 * h) }
    static func intcPhandle(_ h: Int) -> UInt32 { UInt32(0x11 + 2 * h) }

    /// The device tree for this board (with the initrd's range in /chosen when there is one).
    public func makeDeviceTree(bootargs: String, initrd: (start: UInt64, end: UInt64)? = nil) -> [UInt8] {
        var f = FDTBuilder()
        f.beginNode("")
        f.property("#address-cells", cells: [2]); f.property("#size-cells", cells: [2])
        f.property("compatible", string: "riscv-virtio"); f.property("model", string: "riscv-virtio,switchboard")
        f.beginNode("chosen")
        f.property("stdout-path", string: "/soc/serial@10000000")
        f.property("bootargs", string: bootargs)
        if let initrd {
            f.property("linux,initrd-start", u64s: [initrd.start])
            f.property("linux,initrd-end", u64s: [initrd.end])
        }
        f.endNode()
        f.beginNode("poweroff")
        f.property("value", cells: [0x5555]); f.property("offset", cells: [0]); f.property("regmap", cells: [Self.testPhandle])
        f.property("compatible", string: "syscon-poweroff")
        f.endNode()
        f.beginNode("reboot")
        f.property("value", cells: [0x7777]); f.property("offset", cells: [0]); f.property("regmap", cells: [Self.testPhandle])
        f.property("compatible", string: "syscon-reboot")
        f.endNode()
        f.beginNode("memory@80000000")
        f.property("device_type", string: "memory")
        f.property("reg", u64s: [VirtBoard.ramBase, memory.regions[0].size])
        f.endNode()
        f.beginNode("cpus")
        f.property("#address-cells", cells: [1]); f.property("#size-cells", cells: [0])
        f.property("timebase-frequency", cells: [UInt32(CLINT.frequency)])
        for h in 0..<harts.count {
            f.beginNode("cpu@\(h)")
            f.property("phandle", cells: [Self.cpuPhandle(h)]); f.property("device_type", string: "cpu")
            f.property("reg", cells: [UInt32(h)])
            f.property("status", string: "okay"); f.property("compatible", string: "riscv")
            f.property("riscv,isa", string: VirtBoard.isaString)
            f.property("mmu-type", string: "riscv,sv39")
            f.beginNode("interrupt-controller")
            f.property("#interrupt-cells", cells: [1]); f.property("interrupt-controller")
            f.property("compatible", string: "riscv,cpu-intc"); f.property("phandle", cells: [Self.intcPhandle(h)])
            f.endNode()
            f.endNode()
        }
        f.beginNode("cpu-map"); f.beginNode("cluster0")
        for h in 0..<harts.count {
            f.beginNode("core\(h)")
            f.property("cpu", cells: [Self.cpuPhandle(h)])
            f.endNode()
        }
        f.endNode(); f.endNode()
        f.endNode()
        f.beginNode("soc")
        f.property("#address-cells", cells: [2]); f.property("#size-cells", cells: [2])
        f.property("compatible", string: "simple-bus"); f.property("ranges")
        f.beginNode("serial@10000000")
        f.property("interrupts", cells: [UInt32(UART16550.interruptSource)])
        f.property("interrupt-parent", cells: [Self.plicPhandle])
        f.property("clock-frequency", cells: [3_686_400])
        f.property("reg", u64s: [UART16550.base, UART16550.size])
        f.property("compatible", string: "ns16550a")
        f.endNode()
        f.beginNode("test@100000")
        f.property("phandle", cells: [Self.testPhandle])
        f.property("reg", u64s: [SiFiveTest.base, SiFiveTest.size])
        f.property("compatible", strings: ["sifive,test1", "sifive,test0", "syscon"])
        f.endNode()
        f.beginNode("plic@c000000")
        f.property("phandle", cells: [Self.plicPhandle])
        f.property("riscv,ndev", cells: [UInt32(PLIC.sourceCount)])
        f.property("reg", u64s: [PLIC.base, PLIC.size])
        f.property("interrupts-extended", cells: (0..<harts.count).flatMap { [Self.intcPhandle($0), 11, Self.intcPhandle($0), 9] })
        f.property("interrupt-controller")
        f.property("compatible", strings: ["sifive,plic-1.0.0", "riscv,plic0"])
        f.property("#address-cells", cells: [0])
        f.property("#interrupt-cells", cells: [1])
        f.endNode()
        for i in stride(from: VirtBoard.virtioSlotCount - 1, through: 0, by: -1) {
            let base = VirtBoard.virtioBase + UInt64(i) * 0x1000
            f.beginNode("virtio_mmio@" + String(base, radix: 16))
            f.property("interrupts", cells: [UInt32(i + 1)])
            f.property("interrupt-parent", cells: [Self.plicPhandle])
            f.property("reg", u64s: [base, 0x1000])
            f.property("compatible", string: "virtio,mmio")
            f.endNode()
        }
        f.beginNode("clint@2000000")
        f.property("interrupts-extended", cells: (0..<harts.count).flatMap { [Self.intcPhandle($0), 3, Self.intcPhandle($0), 7] })
        f.property("reg", u64s: [CLINT.base, CLINT.size])
        f.property("compatible", strings: ["sifive,clint0", "riscv,clint0"])
        f.endNode()
        f.endNode()
        f.endNode()
        return f.finish()
    }

    /// Loads firmware, kernel and initrd, writes the device tree high in RAM and sets the
    /// harts' entry state as QEMU does (a0 = hart id, a1 = device tree). With the builtin SBI
    /// only hart 0 starts; the others wait, stopped, for an SBI HSM hart_start.
    public func boot(firmware: Firmware, kernel: [UInt8]?, bootargs: String = "", initrd: [UInt8]? = nil) throws {
        bootParameters = (firmware, kernel, bootargs, initrd)
        let ramEnd = VirtBoard.ramBase + memory.regions[0].size
        // The device tree goes 2 MiB-aligned below the top of RAM (as QEMU puts it), the initrd
        // page-aligned below the device tree's 2 MiB.
        let fdtSlot = (ramEnd - 0x20_0000) & ~0x1F_FFFF
        var initrdRange: (start: UInt64, end: UInt64)? = nil
        if let initrd {
            let start = (fdtSlot - UInt64(initrd.count)) & ~0xFFF
            guard UInt64(initrd.count) < fdtSlot - VirtBoard.ramBase, start >= VirtBoard.kernelBase + 0x100_0000 else {
                throw BoardError.badConfiguration("the initrd (\(initrd.count) bytes) does not fit in guest RAM above the kernel")
            }
            initrdRange = (start, start + UInt64(initrd.count))
        }
        self.initrdRange = initrdRange
        fdt = makeDeviceTree(bootargs: bootargs, initrd: initrdRange)
        fdtAddress = (ramEnd - UInt64(fdt.count) - 0x1000) & ~0x1F_FFFF
        let entry: UInt64
        let mode: FirmwareMode
        var kernelSpan: LoadedELF? = nil
        switch firmware {
        case .elf(let fw):
            entry = try ELFLoader.load(fw, into: memory).entry
            if let kernel { kernelSpan = try KernelImage.load(kernel, into: memory, ramBase: VirtBoard.ramBase) }
            mode = .firmware
        case .builtin:
            guard let kernel else { throw BoardError.badConfiguration("--firmware builtin needs --kernel") }
            kernelSpan = try KernelImage.load(kernel, into: memory, ramBase: VirtBoard.ramBase)
            entry = kernelSpan!.entry
            mode = .builtinSBI
        case .none:
            guard let kernel else { throw BoardError.badConfiguration("--firmware none needs --kernel") }
            kernelSpan = try KernelImage.load(kernel, into: memory, ramBase: VirtBoard.ramBase)
            entry = kernelSpan!.entry
            mode = .none
        }
        if let r = initrdRange, let k = kernelSpan, k.high > r.start {
            throw BoardError.badConfiguration("the kernel (up to 0x\(String(k.high, radix: 16))) overlaps the initrd at 0x\(String(r.start, radix: 16))")
        }
        if let initrd, let r = initrdRange { try memory.write(initrd, at: GuestPhysicalAddress(r.start)) }
        try memory.write(fdt, at: GuestPhysicalAddress(fdtAddress))
        for h in harts {
            h.prepareBoot(mode: mode, entry: entry, argument: fdtAddress)
            if mode == .builtinSBI && h.hartID != 0 { h.stopForHSM() }
        }
    }

    /// A system reset as QEMU does it: devices and the harts go back to power-on state, the
    /// images are loaded again, RAM outside them keeps its contents.
    public func reboot() throws {
        guard let (firmware, kernel, bootargs, initrd) = bootParameters else {
            throw BoardError.badConfiguration("reset before boot")
        }
        resets += 1
        clint.reset()
        uart.reset()
        for slot in virtioSlots { slot.reset() }
        for h in harts { h.reset() }
        group.clearOutcome()
        try boot(firmware: firmware, kernel: kernel, bootargs: bootargs, initrd: initrd)
    }

    /// How a run ended.
    public enum Outcome: Equatable, Sendable {
        /// Powered off with a code.
        case powerOff(Int32)
        /// The guest requested a reset (reserved: `run` reboots instead).
        case reset
        /// The timeout passed.
        case timeout
        /// The VMM stopped the guest.
        case failed(String)
    }

    /// Runs every hart on its own thread until power off, failure or `timeout` seconds
    /// (resets reboot the board and go on).
    public func run(timeout: Double?) -> Outcome {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<VCPUThreads.Outcome>(.stopped)
        let threads = VCPUThreads(board: self, name: "virt", budget: 4_000_000) { o in
            result.withLock { $0 = o }
            done.signal()
        }
        threads.start()
        if let timeout {
            if done.wait(timeout: .now() + timeout) == .timedOut {
                threads.requestStop()
                done.wait()
                if case .stopped = result.withLock({ $0 }) { return .timeout }
            }
        } else {
            done.wait()
        }
        switch result.withLock({ $0 }) {
        case .poweredOff(let c): return .powerOff(c)
        case .failed(let m): return .failed(m)
        case .stopped: return .timeout
        }
    }
}
