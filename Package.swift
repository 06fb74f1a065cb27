// swift-tools-version:6.0
// Switchboard: a software-defined L2 virtual switch with its own VM host.
// Module map and dependency direction: docs/architecture.md.
import PackageDescription

/// Hot-path modules are compiled with exclusivity checks off: their state lives in
/// unsafe pointers owned by one thread, and the checks would cost per frame.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "switchboard", targets: ["SwitchboardCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // C shims: the only C in the project.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap",
                       providers: [.apt(["libpcap-dev"])]),
        .target(name: "CAllocationCounter"),
        .target(name: "CLinuxShims"),

        // Leaf: zero-copy frame views and builders.
        .target(name: "Frames", swiftSettings: hotPath),
        // The L2 pipeline, MAC table, VLANs, mirrors, counters.
        .target(name: "Switching", dependencies: ["Frames"], swiftSettings: hotPath),
        // OpenFlow 1.3 flow datapath: match/action model, tuple-space classifier behind an
        // exact-match cache, the multi-table pipeline, groups, timeouts, stats.
        .target(name: "FlowTables", dependencies: ["Frames"], swiftSettings: hotPath),
        // pcap files through libpcap.
        .target(name: "Capture", dependencies: ["CPcap", "Frames"]),
        // JSON topologies: model, strict decoding, validation.
        .target(name: "Topology", dependencies: ["Frames", "Switching", "Capture", "OpenFlow", "VMHost", "RISCV", "RISCVBoard", "RISCVTranslator"]),
        // The control socket's typed protocol (requests, replies) and its client.
        .target(name: "ControlProtocol", dependencies: ["CLinuxShims"]),
        // OpenFlow 1.3 wire protocol: message codec, the transport-free channel, TCP transport.
        .target(name: "OpenFlow", dependencies: [
            "Frames",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // A switch programmed over OpenFlow: the agent joining the wire protocol, the flow
        // tables and the switch (fail modes, packet-in/out, port status).
        .target(name: "OpenFlowSwitch", dependencies: ["Switching", "FlowTables", "OpenFlow", "Frames"]),
        // Host devices as switch ports (TAP, AF_PACKET, libpcap, VXLAN), namespaces, the epoll loop.
        .target(name: "HostNetworking", dependencies: ["Frames", "Switching", "Capture", "CPcap", "CLinuxShims", "ControlProtocol"],
                swiftSettings: hotPath),
        // x86-64 machine code: the encoder the binary translator emits with, and W^X
        // executable memory. A leaf: it knows nothing of RISC-V.
        .target(name: "X86", swiftSettings: hotPath),
        // The binary translator (issue 13, first step): predecoded RV64 integer blocks to x86-64.
        .target(name: "RISCVTranslator", dependencies: ["RISCV", "X86", "Machine", "CLinuxShims"], swiftSettings: hotPath),
        // Backend-neutral VMM core: guest memory, the VCPU and Board protocols, the state coder.
        .target(name: "Machine", swiftSettings: hotPath),
        // The software CPU: RISC-V RV64 harts with trap-and-emulate and the builtin SBI; it knows
        // its platform only through its interrupt inputs.
        .target(name: "RISCV", dependencies: ["Machine"], swiftSettings: hotPath),
        // QEMU's `virt` board around the CPU: CLINT, PLIC, UART 16550, SiFive test, virtio-mmio
        // slots, the device tree, ELF loading.
        .target(name: "RISCVBoard", dependencies: ["RISCV", "RISCVTranslator", "Machine"], swiftSettings: hotPath),
        // virtio-mmio transport, split virtqueues, virtio-net (a switch port), virtio-blk, disks.
        .target(name: "Virtio", dependencies: ["Machine", "Frames", "Switching"], swiftSettings: hotPath),

        // VMs on any Board: virtio devices + console + vCPU thread; the port a NIC sits behind.
        .target(name: "VMHost", dependencies: ["Virtio", "Machine", "Frames", "Switching"]),

        // Live migration: wire format, pre-copy protocol, TCP transport (SwiftNIO).
        .target(name: "Migration", dependencies: [
            "VMHost", "RISCV", "RISCVBoard", "Virtio", "Machine", "Switching", "Frames", "CLinuxShims",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // A host's runtime: the VMs of a run, their ports and NIC servicing, migrations out and in,
        // the migration listener, the cluster of host processes and its schedule.
        .target(name: "Hypervisor", dependencies: [
            "Frames", "Switching", "Capture", "Topology", "HostNetworking", "VMHost", "Virtio", "Migration", "CLinuxShims", "ControlProtocol",
            "OpenFlow", "OpenFlowSwitch", "FlowTables",
        ]),

        // `switchboard bench`: drivers that measure beside a reference in the same run.
        .target(name: "Benchmarks", dependencies: [
            "Frames", "Switching", "Topology", "Machine", "RISCV", "RISCVBoard", "HostNetworking", "VMHost", "Migration", "Hypervisor", "CLinuxShims",
            "FlowTables", "OpenFlowSwitch", "RISCVTranslator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
                    ]),

        .executableTarget(
            name: "SwitchboardCLI",
            dependencies: [
                "Frames", "Switching", "Capture", "Topology", "Machine", "RISCV", "RISCVBoard", "RISCVTranslator", "Virtio", "HostNetworking", "VMHost", "Migration", "Hypervisor", "Benchmarks", "CLinuxShims", "ControlProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Helpers shared by the test targets (external tools, scratch directories).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FramesTests", dependencies: ["Frames"]),
        .testTarget(name: "SwitchingTests", dependencies: ["Switching", "Frames", "CAllocationCounter"]),
        .testTarget(name: "FlowTablesTests", dependencies: ["FlowTables", "Frames", "Switching", "CAllocationCounter"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Frames", "CPcap", "CAllocationCounter", "TestSupport"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "Capture", "Switching", "Frames", "TestSupport", "RISCVTranslator"]),
        .testTarget(name: "MachineTests", dependencies: ["Machine"]),
        .testTarget(name: "X86Tests", dependencies: ["X86", "TestSupport"]),
        .testTarget(name: "RISCVTranslatorTests", dependencies: ["RISCVTranslator", "RISCV", "RISCVBoard", "Machine", "X86", "TestSupport"]),
        .testTarget(name: "RISCVTests", dependencies: ["RISCV", "RISCVBoard", "Machine", "CAllocationCounter", "RISCVTranslator", "TestSupport"]),
        .testTarget(name: "VirtioTests", dependencies: ["Virtio", "Machine", "RISCV", "RISCVBoard", "Frames", "Switching", "TestSupport", "CAllocationCounter"]),
        .testTarget(name: "HostNetworkingTests", dependencies: ["HostNetworking", "ControlProtocol", "Switching", "Frames", "Topology", "CLinuxShims", "TestSupport", "CAllocationCounter"]),
        .testTarget(name: "CLITests", dependencies: ["SwitchboardCLI", "ControlProtocol", "Capture", "Frames", "HostNetworking", "TestSupport"]),
        .testTarget(name: "ApplianceTests", dependencies: ["TestSupport"]),
        .testTarget(name: "VMHostTests", dependencies: ["VMHost", "RISCV", "RISCVBoard", "Switching", "Frames", "TestSupport"]),
        .testTarget(name: "ControlProtocolTests", dependencies: ["ControlProtocol"]),
        .testTarget(name: "OpenFlowTests", dependencies: ["OpenFlow", "Frames", "TestSupport"]),
        .testTarget(name: "OpenFlowSwitchTests", dependencies: ["OpenFlowSwitch", "OpenFlow", "FlowTables", "Switching", "Frames", "CAllocationCounter"]),
        .testTarget(name: "HypervisorTests", dependencies: ["Hypervisor", "ControlProtocol", "HostNetworking", "Migration", "Topology", "TestSupport"]),
        .testTarget(name: "MigrationTests", dependencies: ["Migration", "VMHost", "RISCV", "RISCVBoard", "RISCVTranslator", "Virtio", "Switching", "Frames", "Machine", "TestSupport"]),
    ]
)
