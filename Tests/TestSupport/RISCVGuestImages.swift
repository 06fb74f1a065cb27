// RISCVGuestImages: builds the small guest programs of Tools/riscv (hello, echo, ...) into a
// scratch directory for a test, or says why it cannot (no clang with a riscv64 target).

import Foundation

/// The guest programs of Tools/riscv, built for one test.
public struct RISCVGuestImages {
    public let directory: TemporaryDirectory

    /// The path of a built program (`echo` -> .../echo.elf).
    public func elf(_ name: String) -> String { directory.file("\(name).elf") }

    /// Builds Tools/riscv; nil (after printing a one-line reason) when the toolchain's clang is
    /// missing. Throws when the build itself fails.
    public static func build(for test: String) throws -> RISCVGuestImages? {
        let clang = (ProcessInfo.processInfo.environment["SWIFT_TOOLCHAIN_BIN"] ?? "/opt/swift/usr/bin") + "/clang"
        guard FileManager.default.isExecutableFile(atPath: clang) else {
            print("skipping \(test): no clang at \(clang) to build the RISC-V guests")
            return nil
        }
        let directory = try TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [ApplianceImage.packageRoot + "/Tools/riscv/build.sh", directory.path]
        let pipe = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errors = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            directory.remove()
            throw ApplianceImage.BuildFailure(message: "Tools/riscv/build.sh exited \(process.terminationStatus): \(errors)")
        }
        return RISCVGuestImages(directory: directory)
    }
}
