// CPUEngine: which engine runs a VM's harts (`"cpu": {"engine": ...}` in a topology, `run
// --engine`): the interpreter or the binary translator. Both run the same hart state, so a VM
// can migrate from one to the other.

import RISCV

/// The engines a hart can run on.
public enum CPUEngine: String, Sendable, CaseIterable, Codable {
    /// The interpreter (`Hart.execute`), on every host.
    case interpret
    /// The binary translator to x86-64 (`TranslatingEngine`), on x86-64 hosts.
    case translate

    /// The engine a VM runs on when nothing names one: the translator where it can run
    /// (x86-64 Linux hosts), the interpreter everywhere else.
    public static var hostDefault: CPUEngine {
        #if arch(x86_64) && os(Linux)
        return .translate
        #else
        return .interpret
        #endif
    }

    /// Whether this host can run the engine.
    public var isAvailable: Bool {
        switch self {
        case .interpret: return true
        case .translate:
            #if arch(x86_64)
            return true
            #else
            return false
            #endif
        }
    }

    /// The engine called `name` (a CLI or file value), if this host can run it.
    public static func named(_ name: String) throws(CPUEngineError) -> CPUEngine {
        guard let e = CPUEngine(rawValue: name) else { throw .unknown(name) }
        guard e.isAvailable else { throw .unavailable(e) }
        return e
    }

    /// Installs the engine on every hart (the interpreter needs nothing); the translator
    /// translates a block after `translationThreshold` interpreted runs (tests pass 0 to
    /// translate everything they run).
    public func install(on harts: [Hart], translationThreshold: Int = TranslatingEngine.defaultThreshold) throws {
        guard self == .translate else {
            for h in harts { h.engine = nil }
            return
        }
        guard isAvailable else { throw CPUEngineError.unavailable(self) }
        for h in harts { h.engine = try TranslatingEngine(hart: h, translationThreshold: translationThreshold) }
    }
}

/// Why an engine cannot run here.
public enum CPUEngineError: Error, CustomStringConvertible {
    case unknown(String)
    case unavailable(CPUEngine)

    public var description: String {
        switch self {
        case .unknown(let name):
            let names = CPUEngine.allCases.filter(\.isAvailable).map(\.rawValue).joined(separator: ", ")
            return "no engine named \"\(name)\" (engines here: \(names))"
        case .unavailable(let e): return "the \(e.rawValue) engine needs an x86-64 host"
        }
    }
}
