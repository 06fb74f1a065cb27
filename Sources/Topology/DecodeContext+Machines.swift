// Decoding of VMs (disks, NICs, console, expect steps) and namespace hosts (ping jobs).
import Frames
import RISCVTranslator

extension DecodeContext {
    static let vmKeys = ["name", "cpus", "cpu", "memory_mib", "firmware", "kernel", "initrd", "bootargs", "disks", "nics",
                         "console", "expect", "hypervisor"]

    func decodeVM(_ at: Located) -> VMSpec {
        guard let vm = object(at, what: "a VM object") else { return VMSpec(name: "") }
        vm.checkKeys(Self.vmKeys)
        let name = vm.required("name").flatMap { self.name($0) } ?? ""
        let cpus = vm.optional("cpus").flatMap { integer($0, in: VMSpec.cpuRange, label: "cpus") } ?? 1
        var engine: CPUEngine?
        if let cpuAt = vm.optional("cpu"), let cpu = object(cpuAt, what: "a cpu object") {
            cpu.checkKeys(["engine"])
            if let at = cpu.optional("engine"), let name = choice(at, CPUEngine.allCases.map(\.rawValue)) {
                engine = CPUEngine(rawValue: name)
            }
        }
        let memory = vm.optional("memory_mib")
            .flatMap { integer($0, in: VMSpec.memoryRange, label: "memory_mib") } ?? VMSpec.defaultMemoryMiB
        var firmware = FirmwareSpec.builtin
        if let text = vm.optional("firmware").flatMap({ path($0, what: "firmware") }) {
            firmware = text == "builtin" ? .builtin : text == "none" ? FirmwareSpec.none : .path(text)
        }
        let kernel = vm.optional("kernel").flatMap { path($0, what: "kernel") }
            .map { $0 == "appliance" ? KernelSpec.appliance : .path($0) }
        let initrd = vm.optional("initrd").flatMap { path($0, what: "initrd") }
        let bootargs = vm.optional("bootargs").flatMap { cString($0, what: "bootargs") }
        let disks = vm.optional("disks").flatMap { array($0) }?.compactMap { decodeDisk($0) } ?? []
        let nics = vm.optional("nics").flatMap { array($0) }?.compactMap { decodeNIC($0) } ?? []
        var console = ConsoleSpec()
        if let consoleAt = vm.optional("console"), let reader = object(consoleAt, what: "a console object") {
            reader.checkKeys(["log", "stdout"])
            console.log = reader.optional("log").flatMap { path($0, what: "console log") }
            console.stdout = reader.optional("stdout").flatMap { bool($0) } ?? false
        }
        let expect = vm.optional("expect").flatMap { array($0) }?.compactMap { decodeExpect($0) } ?? []
        let hypervisor = decodeMachinePlacement(vm, what: "VM")
        var spec = VMSpec(name: name, cpus: cpus, memoryMiB: memory, firmware: firmware, kernel: kernel, initrd: initrd,
                          bootargs: bootargs, disks: disks, nics: nics, console: console, expect: expect,
                          hypervisor: hypervisor)
        spec.engine = engine
        return spec
    }

    func decodeDisk(_ at: Located) -> DiskSpec? {
        guard let disk = object(at, what: "a disk object") else { return nil }
        disk.checkKeys(["path", "format", "read_only", "base"])
        let path = disk.required("path").flatMap { self.path($0, what: "disk image") }
        let format = disk.optional("format").flatMap { choice($0, DiskFormat.allCases.map(\.rawValue)) }
            .flatMap { DiskFormat(rawValue: $0) } ?? .raw
        let readOnly = disk.optional("read_only").flatMap { bool($0) } ?? false
        var base: String?
        if let baseAt = disk.optional("base") {
            base = self.path(baseAt, what: "base image")
            if format != .qcow2 && disk.optional("format")?.node.value != .string("qcow2") {
                report(baseAt, "\"base\" is only valid for an overlay with \"format\": \"qcow2\"")
            }
        }
        guard let path else { return nil }
        return DiskSpec(path: path, format: format, readOnly: readOnly, base: base)
    }

    func decodeNIC(_ at: Located) -> NICSpec? {
        guard let nic = object(at, what: "a NIC object") else { return nil }
        nic.checkKeys(["mac", "switch", "port"])
        let mac = nic.required("mac").flatMap { self.mac($0, unicast: true, role: "NIC") }
        let switchName = nic.required("switch").flatMap { name($0) }
        let port = nic.required("port").flatMap { name($0) }
        guard let mac, let switchName, let port else { return nil }
        return NICSpec(mac: mac, switchName: switchName, port: port)
    }

    func decodeExpect(_ at: Located) -> ExpectStep? {
        guard let step = object(at, what: "an expect step object") else { return nil }
        step.checkKeys(["wait", "send", "timeout_seconds"])
        let wait = step.required("wait").flatMap { string($0, nonEmpty: true) }
        let send = step.optional("send").flatMap { string($0) }
        let timeout = step.optional("timeout_seconds")
            .flatMap { integer($0, in: ExpectStep.timeoutRange, label: "timeout_seconds") } ?? ExpectStep.defaultTimeoutSeconds
        guard let wait else { return nil }
        return ExpectStep(wait: wait, send: send, timeoutSeconds: timeout)
    }

    func decodeHost(_ at: Located) -> HostSpec {
        let placeholder = HostSpec(name: "", switchName: "", port: "",
                                   ip: IPv4Interface(address: IPv4Address(rawValue: 0), prefixLength: 0))
        guard let host = object(at, what: "a host object") else { return placeholder }
        host.checkKeys(["name", "switch", "port", "ip", "mac", "link", "hypervisor", "ping"])
        let name = host.required("name").flatMap { self.name($0) }
        let switchName = host.required("switch").flatMap { self.name($0) }
        let port = host.required("port").flatMap { self.name($0) }
        var ip: IPv4Interface?
        if let ipAt = host.required("ip"), let text = string(ipAt) {
            ip = IPv4Interface(text)
            if ip == nil {
                report(ipAt, "invalid interface address \"\(text.escapedForTerminal)\": expected address/prefix such as 10.10.0.1/24")
            }
        }
        let mac = host.optional("mac").flatMap { self.mac($0, unicast: true, role: "host") }
        let link = host.optional("link").flatMap { choice($0, HostLinkKind.allCases.map(\.rawValue)) }
            .flatMap { HostLinkKind(rawValue: $0) } ?? .veth
        let hypervisor = decodeMachinePlacement(host, what: "host")
        let ping = host.optional("ping").flatMap { decodePing($0) }
        guard let name, let switchName, let port, let ip else { return placeholder }
        return HostSpec(name: name, switchName: switchName, port: port, ip: ip, mac: mac, link: link,
                        hypervisor: hypervisor, ping: ping)
    }
}
