// ApplianceTests: builds the guest appliance with Tools/appliance/build.sh into a scratch
// directory, or says why it cannot (no riscv64 clang, no QEMU).
import Foundation
import TestSupport

/// The appliance ELF built for one test, and the QEMU that runs it.
struct ApplianceBuild {
    let elf: String
    let qemu: ExternalTool
    let directory: TemporaryDirectory

    /// Package root, from this file's path (Tests/ApplianceTests/ApplianceBuild.swift).
    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Builds the appliance; nil (after printing a one-line reason) when QEMU or a clang with
    /// a riscv64 target is missing. Throws when the build itself fails.
    static func make(for test: String) throws -> ApplianceBuild? {
        guard let qemu = ExternalTool.require("qemu-system-riscv64", for: test) else { return nil }
        let directory = try TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [packageRoot + "/Tools/appliance/build.sh", directory.path]
        let pipe = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errors = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 {
            print("skipping \(test): \(errors.trimmingCharacters(in: .whitespacesAndNewlines))")
            directory.remove()
            return nil
        }
        guard process.terminationStatus == 0 else {
            directory.remove()
            throw BuildFailure(message: "build.sh exited \(process.terminationStatus): \(errors)")
        }
        return ApplianceBuild(elf: directory.file("appliance.elf"), qemu: qemu, directory: directory)
    }

    /// Why the appliance did not build.
    struct BuildFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
