// Helpers shared by the subcommands: loading topologies, printing to stderr, hex parsing.

import ControlProtocol
import ArgumentParser
import CLinuxShims
import Foundation
import Frames
import Topology

/// Writes a line (or several) to standard error. Messages quote names and paths from files,
/// sockets and the command line: every control character but the line breaks between
/// messages is escaped, so none reaches the terminal.
func printError(_ text: String) {
    let safe = text.split(separator: "\n", omittingEmptySubsequences: false)
        .map { String($0).escapedForTerminal }.joined(separator: "\n")
    FileHandle.standardError.write(Data((safe + "\n").utf8))
}

/// Loads and validates a topology, printing every problem to stderr and exiting with 1
/// when there is any.
func loadTopology(_ path: String) throws -> Topology {
    do {
        return try TopologyDecoder.load(contentsOf: path)
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}

/// Parses hex text ("ffffffffffff0200...", spaces, colons and dots allowed between bytes).
func parseHex(_ text: String) -> Result<[UInt8], ValidationError> {
    var digits: [UInt8] = []
    for c in text.utf8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(c - 48)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(c - 87)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(c - 55)
        case UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"): continue
        default: return .failure(ValidationError("not a hex digit: '\(String(Character(Unicode.Scalar(c))).escapedForTerminal)'"))
        }
    }
    guard digits.count % 2 == 0 else { return .failure(ValidationError("odd number of hex digits (\(digits.count))")) }
    return .success(stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] })
}
