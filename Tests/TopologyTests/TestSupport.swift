// Helpers shared by the Topology tests: decoding strings, locating the package root, and
// running python3's jsonschema over documents.
import Foundation
import Topology

/// Decodes `json` and returns its errors (empty when it decodes).
func decodeErrors(_ json: String, file: String = "test.json") -> [TopologyError] {
    do {
        _ = try Topology.decode(Array(json.utf8), file: file)
        return []
    } catch {
        return error.errors
    }
}

/// A minimal valid switch for building documents.
let minimalSwitch = #"{"name":"sw0","ports":[{"name":"a1"}]}"#

/// The package root, found from this file's path.
let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The example topologies (every `Topologies/*.json` except the schema).
func exampleFiles() throws -> [URL] {
    let directory = packageRoot.appendingPathComponent("Topologies")
    return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "json" && !$0.lastPathComponent.hasSuffix("schema.json") }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
}

/// The verdict of the JSON Schema on one document.
struct SchemaVerdict {
    let valid: Bool
    let errors: [String]
}

/// Validates each document against Topologies/topology.schema.json with python3's jsonschema
/// (Draft202012Validator). Returns nil, after printing why, when python3 or jsonschema is absent.
func schemaVerdicts(_ documents: [String]) throws -> [SchemaVerdict]? {
    let script = """
        import json, sys
        try:
            import jsonschema
        except ImportError:
            print("SKIP: python3 has no jsonschema module"); sys.exit(0)
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        for text in json.load(open(sys.argv[2])):
            errors = [e.json_path + ": " + e.message for e in validator.iter_errors(json.loads(text))]
            print(json.dumps({"valid": not errors, "errors": errors}))
        """
    let input = FileManager.default.temporaryDirectory
        .appendingPathComponent("topology-schema-\(getpid())-\(UUID().uuidString).json")
    try JSONSerialization.data(withJSONObject: documents).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let schema = packageRoot.appendingPathComponent("Topologies/topology.schema.json").path
    process.arguments = ["python3", "-c", script, schema, input.path]
    let stdout = Pipe(), stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    do {
        try process.run()
    } catch {
        print("skipping schema check: cannot run python3 (\(error))")
        return nil
    }
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    let errorOutput = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: output, as: UTF8.self)
    if process.terminationStatus == 127 {
        print("skipping schema check: python3 not found")
        return nil
    }
    if text.hasPrefix("SKIP:") {
        print("skipping schema check: \(text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines))")
        return nil
    }
    guard process.terminationStatus == 0 else {
        throw SchemaRunFailure(message: String(decoding: errorOutput, as: UTF8.self))
    }
    var verdicts: [SchemaVerdict] = []
    for line in text.split(separator: "\n") {
        let node = try JSONParser.parse(String(line))
        guard case .bool(let valid)? = node["valid"]?.value,
              case .array(let errorNodes)? = node["errors"]?.value else {
            throw SchemaRunFailure(message: "unexpected output: \(line)")
        }
        let errors = errorNodes.compactMap { node -> String? in
            if case .string(let s) = node.value { return s }
            return nil
        }
        verdicts.append(SchemaVerdict(valid: valid, errors: errors))
    }
    guard verdicts.count == documents.count else {
        throw SchemaRunFailure(message: "expected \(documents.count) verdicts, got \(verdicts.count)")
    }
    return verdicts
}

/// python3 ran but failed.
struct SchemaRunFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { "jsonschema run failed: \(message)" }
}
