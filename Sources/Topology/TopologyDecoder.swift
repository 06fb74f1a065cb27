// TopologyDecoder: turns the bytes of a topology file into a validated `Topology`, or into
// the list of everything wrong with it (syntax, types, unknown keys, ranges, references).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Frames

/// Strict decoding of topology files, version 1.
///
/// Decoding runs in two phases. The first checks the JSON syntax, then every value against
/// the format (types, unknown keys, ranges, names, addresses) and collects all problems.
/// When the structure is sound, the second phase (`TopologyValidator`) checks names and
/// references across the file.
public enum TopologyDecoder {
    /// Reads and decodes the file at `path`; `path` is also the file name in errors.
    public static func load(contentsOf path: String) throws(TopologyErrors) -> Topology {
        let bytes: [UInt8]
        switch readFile(path) {
        case .success(let contents): bytes = contents
        case .failure(let failure):
            throw TopologyErrors([TopologyError(file: path, path: "$", message: failure.message)])
        }
        return try decode(bytes, file: path)
    }

    /// Decodes a topology from UTF-8 JSON; `file` names the source in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(TopologyErrors) -> Topology {
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw TopologyErrors([TopologyError(file: file, path: "$", line: error.position.line,
                                                column: error.position.column, message: error.message)])
        }
        let context = DecodeContext(file: file)
        let topology = context.decodeTopology(Located(node: root, path: "$"))
        if !context.errors.isEmpty {
            throw TopologyErrors(sortedBySource(context.errors), truncated: context.truncated)
        }
        guard let topology else {
            throw TopologyErrors([TopologyError(file: file, path: "$", message: "the file holds no topology")])
        }
        var problems = sortedBySource(TopologyValidator.validate(topology, file: file, positions: context.positions))
        if !problems.isEmpty {
            let truncated = problems.count > TopologyErrors.limit
            problems = Array(problems.prefix(TopologyErrors.limit))
            throw TopologyErrors(problems, truncated: truncated)
        }
        return topology
    }

    /// `errors` in source order (stable; errors without a position last).
    private static func sortedBySource(_ errors: [TopologyError]) -> [TopologyError] {
        errors.enumerated()
            .sorted { ($0.element.line ?? .max, $0.element.column ?? .max, $0.offset)
                < ($1.element.line ?? .max, $1.element.column ?? .max, $1.offset) }
            .map(\.element)
    }

    /// The whole file, or a message saying why it cannot be read.
    private static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        // open() would stop at a NUL and read another file.
        if path.unicodeScalars.contains("\u{0}") { return .failure(ReadFailure("cannot open file: the path contains a NUL character")) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(ReadFailure("cannot open file: \(errorText(errno))")) }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            // SAFETY: read() writes at most chunk.count bytes into the buffer we own.
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure("cannot read file: \(errorText(errno))"))
            }
            if n == 0 { break }
            contents.append(contentsOf: chunk[0..<n])
        }
        return .success(contents)
    }

    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    private struct ReadFailure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}

extension Topology {
    /// Reads, decodes and validates the topology file at `path`.
    public static func load(contentsOf path: String) throws(TopologyErrors) -> Topology {
        try TopologyDecoder.load(contentsOf: path)
    }

    /// Decodes and validates a topology from UTF-8 JSON bytes; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(TopologyErrors) -> Topology {
        try TopologyDecoder.decode(bytes, file: file)
    }

    /// Checks names and references of a topology built in code (no positions in errors).
    public func validate(file: String = "<topology>") -> [TopologyError] {
        TopologyValidator.validate(self, file: file, positions: [:])
    }
}
