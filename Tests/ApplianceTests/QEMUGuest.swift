// ApplianceTests: one QEMU `-M virt` machine running the guest appliance, its console
// collected line by line, with bounded waits for output and for power-off.
import Foundation
import TestSupport

/// A running `qemu-system-riscv64 -M virt` with the appliance as its kernel and one virtio-net
/// device on a loopback socket netdev.
final class QEMUGuest: @unchecked Sendable {
    /// How the guest's NIC meets its peer: QEMU listens, QEMU connects, or no NIC.
    enum Link {
        case listen(UInt16)
        case connect(UInt16)
        case none
    }

    let name: String
    private let process = Process()
    private let lock = NSLock()
    private var collected = Data()

    /// Starts QEMU; `legacy` keeps QEMU 7.2's default virtio-mmio version 1 (the appliance
    /// must refuse it); `extra` arguments go last (`-m`, `-qmp`).
    init(name: String, qemu: ExternalTool, kernel: String, bootargs: String, link: Link,
         mac: String, legacy: Bool = false, extra: [String] = []) throws {
        self.name = name
        var arguments = ["-M", "virt", "-bios", "none", "-kernel", kernel, "-append", bootargs,
                         "-nographic", "-monitor", "none", "-serial", "stdio"]
        if !legacy { arguments += ["-global", "virtio-mmio.force-legacy=false"] }
        switch link {
        case .listen(let port):
            arguments += ["-netdev", "socket,id=n0,listen=127.0.0.1:\(port)"]
        case .connect(let port):
            arguments += ["-netdev", "socket,id=n0,connect=127.0.0.1:\(port)"]
        case .none:
            break
        }
        if case .none = link {} else {
            arguments += ["-device", "virtio-net-device,netdev=n0,mac=\(mac)"]
        }
        arguments += extra
        process.executableURL = URL(fileURLWithPath: qemu.path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil // end of file: stop being called
                return
            }
            guard let self else { return }
            self.lock.withLock { self.collected.append(data) }
        }
        try process.run()
    }

    deinit { stop() }

    /// Everything the guest (and QEMU) printed so far.
    var output: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    /// Console lines that start with `prefix`.
    func lines(startingWith prefix: String) -> [String] {
        output.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
            .filter { $0.hasPrefix(prefix) }
    }

    /// Waits until the output contains `text`; false after `timeout` seconds or when QEMU exits
    /// without printing it.
    func waitFor(_ text: String, timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if output.contains(text) { return true }
            if !process.isRunning {
                Thread.sleep(forTimeInterval: 0.05)
                return output.contains(text)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Waits for QEMU to exit and returns its status (the test device's code), or nil after
    /// `timeout` seconds, when QEMU is killed.
    func waitForExit(timeout: Double) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            stop()
            return nil
        }
        Thread.sleep(forTimeInterval: 0.05) // let the pipe drain
        return process.terminationStatus
    }

    /// Kills QEMU if it still runs.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
    static func freeLoopbackPort() -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // SAFETY: `address` is a live sockaddr_in for the whole closure and `length` is its size.
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        return bound ? UInt16(bigEndian: address.sin_port) : nil
    }
}
