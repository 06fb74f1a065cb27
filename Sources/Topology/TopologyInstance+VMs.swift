// The VMs of a topology: each becomes a `VirtualMachine` whose NICs are ports of the fabric.

import Foundation
import Frames
import RISCV
import RISCVBoard
import Switching
import VMHost

extension TopologyInstance {
    /// A VM NIC plugged into a switch port.
    public struct NICAttachment {
        public let vm: VirtualMachine
        public let nic: Int
        public let port: Fabric.PortRef
    }

    /// Builds every VM of the topology (not started) and plugs its NICs into the fabric.
    /// `appliance` is the path of the guest appliance ELF, needed by VMs whose kernel is
    /// `"appliance"`; relative paths of the file resolve against `directory` (nil: cwd).
    public func makeVirtualMachines(appliance: String?, directory: String? = nil)
        throws(TopologyInstanceError) -> (vms: [VirtualMachine], nics: [NICAttachment]) {
        var vms: [VirtualMachine] = []
        var nics: [NICAttachment] = []
        for spec in topology.vms {
            let configuration = try Self.vmConfiguration(spec, appliance: appliance, directory: directory)
            let vm: VirtualMachine
            do { vm = try VirtualMachine(configuration, pool: pool) } catch {
                throw TopologyInstanceError("\(error)")
            }
            for (i, nic) in spec.nics.enumerated() {
                do {
                    let ref = try fabric.port(nic.switchName, nic.port)
                    try fabric.attach(ref, sink: vm.nics[i])
                    nics.append(NICAttachment(vm: vm, nic: i, port: ref))
                } catch {
                    throw TopologyInstanceError("VM \(spec.name) NIC \(i): \(error)")
                }
            }
            vms.append(vm)
        }
        return (vms, nics)
    }

    /// The machine configuration for `spec` (images read, paths resolved against
    /// `directory`); used to build a VM at start and when one arrives by migration.
    public static func vmConfiguration(_ spec: VMSpec, appliance: String?, directory: String?)
        throws(TopologyInstanceError) -> VMConfiguration {
        func read(_ path: String, _ what: String) throws(TopologyInstanceError) -> [UInt8] {
            let resolved = resolve(path, against: directory)
            guard let data = FileManager.default.contents(atPath: resolved) else {
                throw TopologyInstanceError("VM \(spec.name): cannot read \(what) \(resolved)")
            }
            return [UInt8](data)
        }
        var firmware: VirtBoard.Firmware
        switch spec.firmware {
        case .builtin: firmware = .builtin
        case .none: firmware = .none
        case .path(let p): firmware = .elf(try read(p, "firmware"))
        }
        var kernel: [UInt8]? = nil
        switch spec.kernel {
        case nil: break
        case .path(let p): kernel = try read(p, "kernel")
        case .appliance:
            guard let appliance else {
                throw TopologyInstanceError("VM \(spec.name): the guest appliance is not built (Tools/appliance/build.sh)")
            }
            kernel = try read(appliance, "appliance")
            // The appliance is a bare-metal M-mode program: it runs without firmware.
            if case .elf = firmware {
                throw TopologyInstanceError("VM \(spec.name): the appliance runs without firmware; use \"firmware\": \"none\"")
            }
            firmware = .none
        }
        var disks: [VMConfiguration.Disk] = []
        for disk in spec.disks {
            let path = resolve(disk.path, against: directory)
            if disk.base != nil { try makeParentDirectories(of: path) }
            let base = disk.base.map { base -> (path: String, format: String) in
                let resolved = resolve(base, against: directory)
                return (resolved, resolved.hasSuffix(".qcow2") ? "qcow2" : "raw")
            }
            disks.append(.init(path: path, qcow2: disk.format == .qcow2, readOnly: disk.readOnly, base: base))
        }
        var initrd: [UInt8]? = nil
        if let path = spec.initrd { initrd = try read(path, "initrd") }
        // Every VM's console goes to a log file: the one named, else vm-data/NAME.log.
        let log = resolve(spec.console.log ?? "vm-data/\(spec.name).log", against: directory)
        try makeParentDirectories(of: log)
        var board = VirtBoardSpec(firmware: firmware, kernel: kernel, bootargs: spec.bootargs ?? "", initrd: initrd, cpus: spec.cpus)
        board.engine = spec.engine ?? .hostDefault
        return VMConfiguration(
            name: spec.name, memoryMiB: spec.memoryMiB,
            board: board, nicMACs: spec.nics.map(\.mac), disks: disks,
            consoleLog: log, consoleToStdout: spec.console.stdout,
            expect: spec.expect.map { VMHost.ExpectStep(wait: $0.wait, send: $0.send, timeoutSeconds: Double($0.timeoutSeconds)) })
    }
}
