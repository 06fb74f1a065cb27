// Finds (and, in a source checkout, builds) the Linux guest images Tools/guest-linux makes from
// Debian's sources: a kernel `Image`, `initramfs.cpio.gz` and a raw ext4 `rootfs.ext4`, cached
// outside the checkout by a hash of their inputs.

import Foundation

/// The Linux guest images.
public struct GuestLinuxImages: Sendable, Equatable {
    /// The directory holding them.
    public var directory: String
    /// The RISC-V Linux Image.
    public var kernel: String { directory + "/Image" }
    /// The initramfs (gzip'd newc cpio).
    public var initramfs: String { directory + "/initramfs.cpio.gz" }
    /// The raw ext4 root filesystem.
    public var rootfs: String { directory + "/rootfs.ext4" }
}

/// Finds the Linux guest images, building them with Tools/guest-linux when needed.
public enum GuestLinuxLocator {
    /// `explicit`, else $SWITCHBOARD_GUEST_LINUX, else what Tools/guest-linux of the source
    /// checkout prints (it builds once per set of inputs, minutes on a cold machine, then
    /// answers at once).
    public static func locate(explicit: String? = nil) -> Result<GuestLinuxImages, ApplianceError> {
        if let explicit { return check(explicit) }
        if let env = ProcessInfo.processInfo.environment["SWITCHBOARD_GUEST_LINUX"], !env.isEmpty { return check(env) }
        guard let root = ApplianceLocator.packageRoot() else {
            return .failure(ApplianceError("cannot find the Linux guest images: pass their directory or set SWITCHBOARD_GUEST_LINUX (Tools/guest-linux builds them)"))
        }
        let script = root + "/Tools/guest-linux"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        do { try process.run() } catch { return .failure(ApplianceError("cannot run \(script): \(error)")) }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let last = text.split(separator: "\n").last.map(String.init) else {
            return .failure(ApplianceError("Tools/guest-linux failed (exit \(process.terminationStatus))"))
        }
        return check(last)
    }

    private static func check(_ directory: String) -> Result<GuestLinuxImages, ApplianceError> {
        let images = GuestLinuxImages(directory: directory)
        for file in [images.kernel, images.initramfs, images.rootfs] where !FileManager.default.fileExists(atPath: file) {
            return .failure(ApplianceError("Linux guest images: \(file) is missing (Tools/guest-linux builds it)"))
        }
        return .success(images)
    }
}
