// VirtBoard: a copy of QEMU's `virt` machine map (RAM at 0x8000_0000, CLINT, UART 16550, SiFive
// test device; room for the PLIC and virtio-mmio slots), its generated device tree, the three
// firmware modes and the run loop with a timeout.
import RISCV
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Machine

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

/// The QEMU-virt-like board with one hart.
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
    /// The hart.
    public let hart: Hart
    /// Devices.
    public let clint = CLINT()
    /// The console UART.
    public let uart: UART16550
    /// The platform-level interrupt controller.
    public let plic = PLIC()
    /// The virtio-mmio slots; an empty one answers as QEMU's do (DeviceID 0).
    public let virtioSlots: [VirtioSlot] = (0..<VirtBoard.virtioSlotCount).map { _ in VirtioSlot() }
    /// The power-off device.
    public private(set) var test: SiFiveTest!
    /// Where the device tree was placed.
    public private(set) var fdtAddress: UInt64 = 0
    /// The generated device tree blob.
    public private(set) var fdt: [UInt8] = []
    /// What `boot` was called with, for resets.
    private var bootParameters: (Firmware, [UInt8]?, String)?
    /// What `boot()` boots, when the board was made from a spec (`VirtBoardSpec.makeBoard`).
    public internal(set) var spec: VirtBoardSpec?
    /// Number of guest-requested resets so far.
    public private(set) var resets = 0

    /// Builds a board with `memoryMiB` of RAM and the console going to `console`.
    public init(memoryMiB: Int, console: @escaping (UInt8) -> Void) throws {
        guard memoryMiB >= 16, memoryMiB <= 16384 else {
            throw BoardError.badConfiguration("memory must be between 16 and 16384 MiB")
        }
        memory = try GuestMemory(base: GuestPhysicalAddress(VirtBoard.ramBase), size: UInt64(memoryMiB) << 20)
        uart = UART16550(output: console)
        hart = Hart(memory: memory, bus: bus, timer: clint)
        test = SiFiveTest { [unowned self] r in self.hart.shutdownRequest = r }
        try bus.register(clint, at: GuestPhysicalAddress(CLINT.base), size: CLINT.size, name: "clint")
        try bus.register(uart, at: GuestPhysicalAddress(UART16550.base), size: UART16550.size, name: "uart")
        try bus.register(test, at: GuestPhysicalAddress(SiFiveTest.base), size: SiFiveTest.size, name: "test")
        try bus.register(plic, at: GuestPhysicalAddress(PLIC.base), size: PLIC.size, name: "plic")
        for (i, slot) in virtioSlots.enumerated() {
            try bus.register(slot, at: GuestPhysicalAddress(VirtBoard.virtioBase + UInt64(i) * 0x1000), size: 0x1000,
                             name: "virtio-mmio\(i)")
        }
        hart.externalInputs = plic
        hart.consolePut = console
        hart.consoleGet = { [unowned self] in self.uart.takeInput() }
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

    /// The device tree for this board.
    public func makeDeviceTree(bootargs: String) -> [UInt8] {
        var f = FDTBuilder()
        f.beginNode("")
        f.property("#address-cells", cells: [2]); f.property("#size-cells", cells: [2])
        f.property("compatible", string: "riscv-virtio"); f.property("model", string: "riscv-virtio,switchboard")
        f.beginNode("chosen")
        f.property("stdout-path", string: "/soc/serial@10000000")
        f.property("bootargs", string: bootargs)
        f.endNode()
        f.beginNode("poweroff")
        f.property("value", cells: [0x5555]); f.property("offset", cells: [0]); f.property("regmap", cells: [4])
        f.property("compatible", string: "syscon-poweroff")
        f.endNode()
        f.beginNode("reboot")
        f.property("value", cells: [0x7777]); f.property("offset", cells: [0]); f.property("regmap", cells: [4])
        f.property("compatible", string: "syscon-reboot")
        f.endNode()
        f.beginNode("memory@80000000")
        f.property("device_type", string: "memory")
        f.property("reg", u64s: [VirtBoard.ramBase, memory.regions[0].size])
        f.endNode()
        f.beginNode("cpus")
        f.property("#address-cells", cells: [1]); f.property("#size-cells", cells: [0])
        f.property("timebase-frequency", cells: [UInt32(CLINT.frequency)])
        f.beginNode("cpu@0")
        f.property("phandle", cells: [1]); f.property("device_type", string: "cpu"); f.property("reg", cells: [0])
        f.property("status", string: "okay"); f.property("compatible", string: "riscv")
        f.property("riscv,isa", string: "rv64imafdc_zicsr_zifencei")
        f.property("mmu-type", string: "riscv,sv39")
        f.beginNode("interrupt-controller")
        f.property("#interrupt-cells", cells: [1]); f.property("interrupt-controller")
        f.property("compatible", string: "riscv,cpu-intc"); f.property("phandle", cells: [2])
        f.endNode()
        f.endNode()
        f.beginNode("cpu-map"); f.beginNode("cluster0"); f.beginNode("core0")
        f.property("cpu", cells: [1])
        f.endNode(); f.endNode(); f.endNode()
        f.endNode()
        f.beginNode("soc")
        f.property("#address-cells", cells: [2]); f.property("#size-cells", cells: [2])
        f.property("compatible", string: "simple-bus"); f.property("ranges")
        f.beginNode("serial@10000000")
        f.property("clock-frequency", cells: [3_686_400])
        f.property("reg", u64s: [UART16550.base, UART16550.size])
        f.property("compatible", string: "ns16550a")
        f.endNode()
        f.beginNode("test@100000")
        f.property("phandle", cells: [4])
        f.property("reg", u64s: [SiFiveTest.base, SiFiveTest.size])
        f.property("compatible", strings: ["sifive,test1", "sifive,test0", "syscon"])
        f.endNode()
        f.beginNode("plic@c000000")
        f.property("phandle", cells: [3])
        f.property("riscv,ndev", cells: [UInt32(PLIC.sourceCount)])
        f.property("reg", u64s: [PLIC.base, PLIC.size])
        f.property("interrupts-extended", cells: [2, 11, 2, 9])
        f.property("interrupt-controller")
        f.property("compatible", strings: ["sifive,plic-1.0.0", "riscv,plic0"])
        f.property("#address-cells", cells: [0])
        f.property("#interrupt-cells", cells: [1])
        f.endNode()
        for i in stride(from: VirtBoard.virtioSlotCount - 1, through: 0, by: -1) {
            let base = VirtBoard.virtioBase + UInt64(i) * 0x1000
            f.beginNode("virtio_mmio@" + String(base, radix: 16))
            f.property("interrupts", cells: [UInt32(i + 1)])
            f.property("interrupt-parent", cells: [3])
            f.property("reg", u64s: [base, 0x1000])
            f.property("compatible", string: "virtio,mmio")
            f.endNode()
        }
        f.beginNode("clint@2000000")
        f.property("interrupts-extended", cells: [2, 3, 2, 7])
        f.property("reg", u64s: [CLINT.base, CLINT.size])
        f.property("compatible", strings: ["sifive,clint0", "riscv,clint0"])
        f.endNode()
        f.endNode()
        f.endNode()
        return f.finish()
    }

    /// Loads firmware and kernel, writes the device tree high in RAM and sets the hart's
    /// entry state as QEMU does (a0 = hart id, a1 = device tree).
    public func boot(firmware: Firmware, kernel: [UInt8]?, bootargs: String = "") throws {
        bootParameters = (firmware, kernel, bootargs)
        fdt = makeDeviceTree(bootargs: bootargs)
        let ramEnd = VirtBoard.ramBase + memory.regions[0].size
        fdtAddress = (ramEnd - UInt64(fdt.count) - 0x1000) & ~0x1F_FFFF
        try memory.write(fdt, at: GuestPhysicalAddress(fdtAddress))
        let entry: UInt64
        let mode: FirmwareMode
        switch firmware {
        case .elf(let fw):
            entry = try ELFLoader.load(fw, into: memory).entry
            if let kernel { _ = try ELFLoader.load(kernel, into: memory) }
            mode = .firmware
        case .builtin:
            guard let kernel else { throw BoardError.badConfiguration("--firmware builtin needs --kernel") }
            entry = try ELFLoader.load(kernel, into: memory).entry
            mode = .builtinSBI
        case .none:
            guard let kernel else { throw BoardError.badConfiguration("--firmware none needs --kernel") }
            entry = try ELFLoader.load(kernel, into: memory).entry
            mode = .none
        }
        hart.prepareBoot(mode: mode, entry: entry, argument: fdtAddress)
    }

    /// A system reset as QEMU does it: devices and the hart go back to power-on state, the
    /// images are loaded again, RAM outside them keeps its contents.
    public func reboot() throws {
        guard let (firmware, kernel, bootargs) = bootParameters else {
            throw BoardError.badConfiguration("reset before boot")
        }
        resets += 1
        clint.msip = 0
        clint.mtimecmp = .max
        for slot in virtioSlots { slot.reset() }
        hart.reset()
        try boot(firmware: firmware, kernel: kernel, bootargs: bootargs)
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

    /// Runs until power off, reset, failure or `timeout` seconds.
    public func run(timeout: Double?) -> Outcome {
        let start = CLINT.hostNanos()
        while true {
            switch hart.run(budget: 4_000_000) {
            case .continue: break
            case .powerOff(let c): return .powerOff(c)
            case .reset:
                do { try reboot() } catch { return .failed("reset failed: \(error)") }
            case .failed(let m): return .failed(m)
            }
            if let timeout, Double(CLINT.hostNanos() - start) / 1e9 > timeout { return .timeout }
        }
    }
}
