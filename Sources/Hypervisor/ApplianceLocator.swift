// Finds (and, in a source checkout, builds) the guest appliance ELF that VMs with
// `"kernel": "appliance"` boot.

import Foundation

/// Finds the guest appliance ELF, building it in a source checkout when needed.
public enum ApplianceLocator {
    /// The appliance to use: `explicit`, else $SWITCHBOARD_APPLIANCE, else
    /// `.build/appliance/appliance.elf` of the source checkout the binary was built in, built
    /// with Tools/appliance/build.sh when missing or older than its sources.
    public static func locate(explicit: String?) -> Result<String, ApplianceError> {
        if let explicit { return .success(explicit) }
        if let env = ProcessInfo.processInfo.environment["SWITCHBOARD_APPLIANCE"], !env.isEmpty { return .success(env) }
        guard let root = packageRoot() else {
            return .failure(ApplianceError("cannot find the appliance: pass --appliance PATH or set SWITCHBOARD_APPLIANCE"))
        }
        let sources = root + "/Tools/appliance"
        let elf = root + "/.build/appliance/appliance.elf"
        if needsBuild(elf: elf, sources: sources) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [sources + "/build.sh", root + "/.build/appliance"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            do { try process.run() } catch {
                return .failure(ApplianceError("cannot run \(sources)/build.sh: \(error)"))
            }
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                return .failure(ApplianceError("building the appliance failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))"))
            }
        }
        return .success(elf)
    }

    /// The source checkout holding this executable (the first ancestor with Tools/appliance).
    public static func packageRoot() -> String? {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<8 {
            if FileManager.default.fileExists(atPath: url.path + "/Tools/appliance/build.sh") { return url.path }
            url.deleteLastPathComponent()
        }
        return nil
    }

    static func needsBuild(elf: String, sources: String) -> Bool {
        let fm = FileManager.default
        guard let built = (try? fm.attributesOfItem(atPath: elf))?[.modificationDate] as? Date else { return true }
        let files = (try? fm.contentsOfDirectory(atPath: sources)) ?? []
        return files.contains { name in
            guard let date = (try? fm.attributesOfItem(atPath: sources + "/" + name))?[.modificationDate] as? Date else { return false }
            return date > built
        }
    }
}

/// Why the appliance could not be found or built.
public struct ApplianceError: Error, CustomStringConvertible {
    /// A readable message.
    public var description: String
    init(_ description: String) { self.description = description }
}
