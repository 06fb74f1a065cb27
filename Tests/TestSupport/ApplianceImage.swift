// ApplianceImage: builds the guest appliance with Tools/appliance/build.sh into a scratch
// directory for a test, or says why it cannot (no clang with a riscv64 target).

import Foundation

/// The guest appliance ELF built for one test.
public struct ApplianceImage {
    public let elf: String
    public let directory: TemporaryDirectory

    /// The package root, from this file's path (Tests/TestSupport/ApplianceImage.swift).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Builds the appliance; nil (after printing a one-line reason) when the toolchain cannot
    /// build RISC-V code. Throws when the build itself fails.
    public static func build(for test: String) throws -> ApplianceImage? {
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
        return ApplianceImage(elf: directory.file("appliance.elf"), directory: directory)
    }

    /// Why the appliance did not build.
    public struct BuildFailure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }
}
