// ApplianceTests: the appliance built for a test (TestSupport.ApplianceImage) plus the QEMU
// that runs it, or why it cannot run (no riscv64 clang, no QEMU).
import Foundation
import TestSupport

/// The appliance ELF built for one test, and the QEMU that runs it.
struct ApplianceBuild {
    let elf: String
    let qemu: ExternalTool
    let directory: TemporaryDirectory

    /// Builds the appliance; nil (after printing a one-line reason) when QEMU or a clang with
    /// a riscv64 target is missing. Throws when the build itself fails.
    static func make(for test: String) throws -> ApplianceBuild? {
        guard let qemu = ExternalTool.require("qemu-system-riscv64", for: test),
              let image = try ApplianceImage.build(for: test) else { return nil }
        return ApplianceBuild(elf: image.elf, qemu: qemu, directory: image.directory)
    }

}
