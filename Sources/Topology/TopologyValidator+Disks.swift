// Disk images shared between VMs: a writable image is attached once in the whole topology;
// read-only images and qcow2 overlay bases (opened read-only) may be shared. Paths are
// compared resolved: absolute, through realpath() when the file (or its directory) exists.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Frames

extension TopologyValidator.Run {
    /// One attachment of an image: where the file names it and whether it is written.
    private struct ImageUse {
        let path: String
        let writable: Bool
    }

    /// Reports every image attached writable more than once, or writable and read-only.
    mutating func checkDisks() {
        var firstUse: [String: ImageUse] = [:]
        var firstWriter: [String: ImageUse] = [:]
        let directory = Self.workingDirectory()
        for (v, vm) in topology.vms.enumerated() {
            for (d, disk) in vm.disks.enumerated() {
                let at = "$.vms[\(v)].disks[\(d)]"
                var uses = [(disk.path, ImageUse(path: at + ".path", writable: !disk.readOnly))]
                if let base = disk.base { uses.append((base, ImageUse(path: at + ".base", writable: false))) }
                for (file, use) in uses {
                    let key = Self.canonicalPath(file, in: directory)
                    let other = use.writable ? firstUse[key] : firstWriter[key]
                    if let other {
                        let how = other.writable ? "writable" : "read-only"
                        report(use.path, "disk image \"\(file.escapedForTerminal)\" (\(key.escapedForTerminal)) is already "
                            + "attached \(how) at \(other.path); a writable image is attached only once "
                            + "(read-only images and qcow2 bases may be shared)")
                        continue
                    }
                    if firstUse[key] == nil { firstUse[key] = use }
                    if use.writable { firstWriter[key] = use }
                }
            }
        }
    }

    /// The directory relative paths are resolved against (the process's, as `run` does).
    static func workingDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "." }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// `path` made absolute against `directory`, then resolved by realpath() when the file
    /// exists, else its directory resolved and the name appended, else cleaned of `.`, `..`
    /// and repeated slashes.
    static func canonicalPath(_ path: String, in directory: String) -> String {
        let absolute = path.hasPrefix("/") ? path : directory + "/" + path
        if let real = realPath(absolute) { return real }
        let cleaned = lexicallyNormalized(absolute)
        guard let slash = cleaned.lastIndex(of: "/"), slash != cleaned.startIndex else { return cleaned }
        if let realDirectory = realPath(String(cleaned[..<slash])) {
            return realDirectory + String(cleaned[slash...])
        }
        return cleaned
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// An absolute path without `.`, `..` or empty components.
    static func lexicallyNormalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}
