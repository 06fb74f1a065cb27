// The SBI payload (Tools/riscv/sbi.c) prints the same under the builtin SBI, under OpenSBI on
// Switchboard and under OpenSBI on QEMU; its WFI waits sleep the host thread instead of spinning.
import Foundation
import Testing
import Machine
@testable import RISCV
import RISCVBoard
import RISCVTranslator

@Suite("SBI")
struct SBITests {
    static let expected = """
        spec 1.0
        probe time yes
        probe ipi yes
        probe rfence yes
        probe hsm yes
        probe srst yes
        probe bogus no
        hart 0 status 0
        unknown extension error not supported
        remote sfence.vma error 0
        ipi error 0 pending
        timer ok
        timer ok
        timer ok
        stip cleared

        """

    /// The payload's part of a console log (after OpenSBI's banner, CR LF normalized).
    static func payload(_ s: String) -> String {
        let t = s.replacingOccurrences(of: "\r\n", with: "\n")
        guard let r = t.range(of: "Boot HART MEDELEG") else { return t }
        return String(t[r.upperBound...].drop { $0 != "\n" }.dropFirst())
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    @Test("builtin SBI: calls, timer and IPI; WFI sleeps", arguments: GuestPrograms.engines)
    func builtin(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        let cpu0 = SBITests.threadCPUSeconds(), wall0 = Date()
        let r = try GuestPrograms.run(firmware: .builtin, kernel: try GuestPrograms.elf("sbi"), engine: engine)
        let cpu = SBITests.threadCPUSeconds() - cpu0, wall = Date().timeIntervalSince(wall0)
        #expect(r.console == SBITests.expected)
        #expect(r.outcome == .powerOff(0))
        #expect(r.stats[.halt] > 0)
        #expect(wall >= 0.3)
        #expect(cpu < wall / 2, "WFI should sleep: \(cpu) s CPU in \(wall) s")
    }

    @Test("OpenSBI on Switchboard gives the same answers", arguments: GuestPrograms.engines)
    func openSBI(_ engine: CPUEngine) throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        guard let fw = FileManager.default.contents(atPath: BootTests.openSBI) else { print("skipping: no OpenSBI"); return }
        let r = try GuestPrograms.run(firmware: .elf([UInt8](fw)), kernel: try GuestPrograms.elf("sbi"), engine: engine)
        #expect(SBITests.payload(r.console) == SBITests.expected)
        #expect(r.outcome == .powerOff(0))
        #expect(r.stats[.interrupt] > 0)
    }

    @Test("OpenSBI on QEMU gives the same answers")
    func qemu() throws {
        guard case .success = GuestPrograms.built else { print("skipping: \(GuestPrograms.built)"); return }
        guard FileManager.default.fileExists(atPath: BootTests.openSBI) else { print("skipping: no OpenSBI"); return }
        guard let (out, status) = try GuestPrograms.runOnQEMU("sbi", bios: BootTests.openSBI) else {
            print("skipping: qemu-system-riscv64 not installed"); return
        }
        #expect(SBITests.payload(out) == SBITests.expected)
        #expect(status == 0)
    }
}
