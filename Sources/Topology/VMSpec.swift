// VMSpec: a virtual machine of a topology: CPUs, memory, firmware/kernel, disks, NICs on
// switch ports, console and an optional scripted console dialogue.
import Frames
import RISCVTranslator

/// A virtual machine.
public struct VMSpec: Sendable, Equatable {
    /// The default guest RAM in MiB.
    public static let defaultMemoryMiB = 64
    /// Accepted guest RAM sizes in MiB.
    public static let memoryRange = 16...65_536
    /// Accepted vCPU counts.
    public static let cpuRange = 1...8

    /// Unique among VMs.
    public var name: String
    /// Virtual CPUs (harts), 1-8, each on its own host thread.
    public var cpus: Int
    /// The engine the harts run on (`"cpu": {"engine": ...}`; nil: the interpreter).
    public var engine: CPUEngine?
    /// Guest RAM in MiB (16...65536, default 64).
    public var memoryMiB: Int
    /// What runs first (default: the built-in firmware).
    public var firmware: FirmwareSpec
    /// The kernel to load, if any (an ELF or a RISC-V Linux Image).
    public var kernel: KernelSpec?
    /// An initramfs to load with the kernel, if any.
    public var initrd: String?
    /// The kernel command line.
    public var bootargs: String?
    /// Block devices, in order.
    public var disks: [DiskSpec]
    /// Network cards, each plugged into a switch port.
    public var nics: [NICSpec]
    /// Where the serial console goes.
    public var console: ConsoleSpec
    /// A scripted console dialogue (wait for text, then send a line).
    public var expect: [ExpectStep]
    /// The hypervisor the VM starts on (decoded default: the only one, when there is one).
    public var hypervisor: String?

    /// Creates a VM; the defaults are those of the format.
    public init(name: String, cpus: Int = 1, memoryMiB: Int = VMSpec.defaultMemoryMiB, firmware: FirmwareSpec = .builtin,
                kernel: KernelSpec? = nil, initrd: String? = nil, bootargs: String? = nil, disks: [DiskSpec] = [], nics: [NICSpec] = [],
                console: ConsoleSpec = ConsoleSpec(), expect: [ExpectStep] = [], hypervisor: String? = nil) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.firmware = firmware
        self.kernel = kernel
        self.initrd = initrd
        self.bootargs = bootargs
        self.disks = disks
        self.nics = nics
        self.console = console
        self.expect = expect
        self.hypervisor = hypervisor
    }
}

/// The firmware a VM starts.
public enum FirmwareSpec: Sendable, Equatable {
    /// Switchboard's built-in firmware.
    case builtin
    /// No firmware: the kernel is entered directly.
    case none
    /// A firmware image (ELF or raw) at this path.
    case path(String)
}

/// The kernel a VM loads.
public enum KernelSpec: Sendable, Equatable {
    /// Switchboard's own guest appliance.
    case appliance
    /// A kernel image at this path.
    case path(String)
}

/// A disk image.
public struct DiskSpec: Sendable, Equatable {
    /// The image file.
    public var path: String
    /// Raw or qcow2 (default raw).
    public var format: DiskFormat
    /// Whether the guest may only read (default false).
    public var readOnly: Bool
    /// The backing image of a qcow2 overlay.
    public var base: String?

    /// Creates a disk.
    public init(path: String, format: DiskFormat = .raw, readOnly: Bool = false, base: String? = nil) {
        self.path = path
        self.format = format
        self.readOnly = readOnly
        self.base = base
    }
}

/// The format of a disk image.
public enum DiskFormat: String, Sendable, Equatable, CaseIterable {
    /// A plain image.
    case raw
    /// A QEMU copy-on-write image.
    case qcow2
}

/// A VM network card plugged into a switch port.
public struct NICSpec: Sendable, Equatable {
    /// The card's unicast MAC address.
    public var mac: MACAddress
    /// The switch.
    public var switchName: String
    /// The port of that switch.
    public var port: String

    /// Creates a NIC.
    public init(mac: MACAddress, switchName: String, port: String) {
        self.mac = mac
        self.switchName = switchName
        self.port = port
    }
}

/// Where a VM's serial console goes.
public struct ConsoleSpec: Sendable, Equatable {
    /// A file that receives the console output.
    public var log: String?
    /// Whether the output is also copied to our stdout (default false).
    public var stdout: Bool

    /// Creates console settings.
    public init(log: String? = nil, stdout: Bool = false) {
        self.log = log
        self.stdout = stdout
    }
}

/// One step of a console dialogue: wait for `wait` to appear, then type `send` and Enter.
public struct ExpectStep: Sendable, Equatable {
    /// The default timeout in seconds.
    public static let defaultTimeoutSeconds = 30
    /// Accepted timeouts.
    public static let timeoutRange = 1...86_400

    /// Text to wait for in the console output.
    public var wait: String
    /// A line to send once it appeared.
    public var send: String?
    /// Seconds to wait before the step fails (default 30).
    public var timeoutSeconds: Int

    /// Creates a step.
    public init(wait: String, send: String? = nil, timeoutSeconds: Int = ExpectStep.defaultTimeoutSeconds) {
        self.wait = wait
        self.send = send
        self.timeoutSeconds = timeoutSeconds
    }
}
