// `switchboard bench cpu` at small sizes: the floating-point and memory rows (and the integer
// row) run on the interpreter, the translator and QEMU TCG in one invocation, every engine
// prints the same checksum, and the JSON has every requested row and engine.

import Foundation
import Testing

@Suite struct BenchCPUTests {
    static let qemu = "/usr/bin/qemu-system-riscv64"

    @Test func smallRowsAgreeOnEveryEngine() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.qemu) else {
            print("skipping bench cpu rows: \(Self.qemu) is not installed (Tools/bootstrap installs it)")
            return
        }
        let r = try CLI.run(["bench", "cpu", "--json", "--repeats", "2", "--rows", "fp,memory,integer",
                             "--rounds", "1", "--fp-rounds", "10", "--mem-rounds", "2", "--mem-mib", "8"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        let rows = try #require(object["rows"] as? [String: Any])
        #expect(object["order"] as? [String] == ["fp", "memory", "integer"])
        for name in ["fp", "memory", "integer"] {
            let row = try #require(rows[name] as? [String: Any], "row \(name) missing")
            let engines = try #require(row["engines"] as? [String: Any], "\(name)")
            var sums: [String] = []
            var guestCounts: [Int] = []
            for engine in ["interpret", "translate", "qemu"] {
                let e = try #require(engines[engine] as? [String: Any], "\(name): no \(engine) figures")
                // QEMU's MIPS subtracts its start-up, which may outweigh a tiny workload.
                if engine != "qemu" { #expect((e["mips"] as? Double ?? 0) > 0, "\(name) \(engine): \(e)") }
                // --repeats 2: two interleaved runs, the fastest shown.
                #expect((e["runs_mips"] as? [Double])?.count == 2, "\(name) \(engine): \(e)")
                #expect((e["instructions"] as? Int ?? 0) > 0, "\(name) \(engine): \(e)")
                sums.append(try #require(e["checksum"] as? String, "\(name) \(engine): no checksum"))
                guestCounts.append(try #require(e["guest_instret"] as? Int, "\(name) \(engine): no guest count"))
            }
            #expect(Set(sums).count == 1, "\(name): checksums \(sums)")
            #expect(row["checksums_agree"] as? Bool == true, "\(name)")
            // Both of our engines retire the same instructions.
            let ours = ["interpret", "translate"].compactMap { (engines[$0] as? [String: Any])?["instructions"] as? Int }
            #expect(ours.count == 2 && ours[0] == ours[1], "\(name): \(ours)")
            // The guest counts its own instructions alike on all three.
            #expect(Set(guestCounts).count == 1, "\(name): guest instret \(guestCounts)")
        }
    }

    /// A misspelt row is refused before anything is built or run, naming the rows there are.
    @Test func unknownRowIsRefused() throws {
        let r = try CLI.run(["bench", "cpu", "--rows", "integer,gpu"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no row named \"gpu\" (rows: integer, fp, memory, linux)"), "\(r.stderr)")
    }
}
