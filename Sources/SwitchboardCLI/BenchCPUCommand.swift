// `switchboard bench cpu`: builds a compute-bound guest (CRC-32, integer matrix multiply, memory
// shuffles) with the Swift toolchain's clang at run time, runs it on the software CPU and, when
// installed, on QEMU TCG (-icount shift=0) in the same run, and prints guest MIPS for both.
import ArgumentParser
import Foundation
import Machine
import RISCV

/// Benchmarks the software CPU against QEMU TCG.
struct BenchCPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu",
        abstract: "Benchmark the software RISC-V CPU against QEMU TCG on the same guest binary.")

    @Option(help: "Workload rounds (about 2.75 million guest instructions each).")
    var rounds: Int = 200

    @Option(help: "clang to build the guest with.")
    var clang: String = "/opt/swift/usr/bin/clang"

    @Option(help: "ld.lld to link the guest with.")
    var lld: String = "/opt/swift/usr/bin/ld.lld"

    @Option(help: "QEMU binary (skipped when missing).")
    var qemu: String = "/usr/bin/qemu-system-riscv64"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        guard rounds >= 1, rounds <= 100_000 else { throw ValidationError("--rounds must be 1...100000") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try buildGuest(in: dir, rounds: rounds, name: "bench")
        let empty = try buildGuest(in: dir, rounds: 0, name: "bench0")

        // Switchboard.
        var console: [UInt8] = []
        let board = try VirtBoard(memoryMiB: 64) { console.append($0) }
        try board.boot(firmware: .none, kernel: [UInt8](try Data(contentsOf: full)))
        let t0 = Date()
        let outcome = board.run(timeout: 600)
        let seconds = Date().timeIntervalSince(t0)
        guard outcome == .powerOff(0) else { throw ValidationError("benchmark guest did not finish: \(outcome)") }
        let ours = String(decoding: console, as: UTF8.self)
        let instructions = board.hart.instructionsRetired
        let mips = Double(instructions) / seconds / 1e6

        // QEMU: the difference between the full and the empty workload removes start-up time.
        var q: (mips: Double, instructions: UInt64, seconds: Double, checksumMatches: Bool)?
        if FileManager.default.isExecutableFile(atPath: qemu) {
            let (outFull, tFull) = try runQEMU(full)
            let (outEmpty, tEmpty) = try runQEMU(empty)
            if let nFull = instret(outFull), let nEmpty = instret(outEmpty), tFull > tEmpty {
                let n = nFull - min(nEmpty, nFull)
                q = (Double(n) / (tFull - tEmpty) / 1e6, nFull, tFull, checksum(outFull) == checksum(ours))
            }
        }
        if json {
            var fields = ["\"mips\": \(fmt(mips))", "\"instructions\": \(instructions)", "\"seconds\": \(fmt(seconds))",
                          "\"rounds\": \(rounds)"]
            if let q {
                fields += ["\"qemu_mips\": \(fmt(q.mips))", "\"qemu_instructions\": \(q.instructions)",
                           "\"qemu_seconds\": \(fmt(q.seconds))", "\"ratio\": \(fmt(mips / q.mips))",
                           "\"checksum_match\": \(q.checksumMatches)"]
            } else {
                fields += ["\"qemu_mips\": null", "\"ratio\": null"]
            }
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("guest: CRC-32 + integer matmul + shuffles, \(rounds) rounds")
            print("switchboard  \(instructions) instructions in \(fmt(seconds)) s: \(fmt(mips)) MIPS")
            if let q {
                print("qemu tcg     \(q.instructions) instructions in \(fmt(q.seconds)) s: \(fmt(q.mips)) MIPS (start-up subtracted)")
                print("ratio        \(fmt(mips / q.mips)) (switchboard / qemu)\(q.checksumMatches ? "" : "  CHECKSUMS DIFFER")")
            } else {
                print("qemu         not installed at \(qemu): skipped")
            }
        }
    }

    private func fmt(_ v: Double) -> String { String(format: "%.3f", v) }

    private func instret(_ s: String) -> UInt64? {
        guard let line = s.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("instret ") }) else { return nil }
        return UInt64(line.dropFirst(8).trimmingCharacters(in: .whitespaces))
    }

    private func checksum(_ s: String) -> String? {
        s.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("checksum ") }).map(String.init)
    }

    private func runQEMU(_ elf: URL) throws -> (String, Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-M", "virt", "-cpu", "rv64,f=false,d=false,h=false", "-m", "64", "-bios", "none",
                       "-kernel", elf.path, "-nographic", "-monitor", "none", "-serial", "stdio", "-icount", "shift=0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        let t0 = Date()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), Date().timeIntervalSince(t0))
    }

    private func buildGuest(in dir: URL, rounds: Int, name: String) throws -> URL {
        let src = dir.appendingPathComponent("\(name).c"), obj = dir.appendingPathComponent("\(name).o")
        let ld = dir.appendingPathComponent("link.ld"), elf = dir.appendingPathComponent("\(name).elf")
        try BenchCPUCommand.guestSource.write(to: src, atomically: true, encoding: .utf8)
        try BenchCPUCommand.linkerScript.write(to: ld, atomically: true, encoding: .utf8)
        try tool(clang, ["--target=riscv64", "-march=rv64imac_zicsr_zifencei", "-mabi=lp64", "-mcmodel=medany",
                         "-mno-relax", "-nostdlib", "-ffreestanding", "-fno-builtin", "-O2", "-DROUNDS=\(rounds)",
                         "-c", src.path, "-o", obj.path])
        try tool(lld, ["-static", "-nostdlib", "--no-relax", "-T", ld.path, "-o", elf.path, obj.path])
        return elf
    }

    private func tool(_ path: String, _ args: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw ValidationError("\(path) not found") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("\(path) failed (status \(p.terminationStatus))") }
    }

    static let linkerScript = """
        ENTRY(_start)
        SECTIONS {
            . = 0x80000000;
            .text : { *(.text.start) *(.text .text.*) }
            .rodata : { *(.rodata .rodata.* .srodata .srodata.*) }
            .data : { *(.data .data.* .sdata .sdata.*) }
            .bss : { *(.sbss .sbss.* .bss .bss.* COMMON) }
        }
        """

    /// The guest: a copy of Tools/riscv/bench.c with its start code and UART/test-device I/O.
    static let guestSource = #"""
        #include <stdint.h>
        __asm__(".section .text.start,\"ax\"\n.globl _start\n_start:\n la sp, stack_top\n call main\n"
                " li t0, 0x100000\n li t1, 0x5555\n sw t1, 0(t0)\n1: j 1b\n"
                ".bss\n.balign 16\n.space 65536\nstack_top:\n.text\n");
        static void putch(char c) { volatile uint8_t *u = (uint8_t *)0x10000000; while (!(u[5] & 0x20)) {} u[0] = (uint8_t)c; }
        static void puts_(const char *s) { while (*s) putch(*s++); }
        static void put_dec(uint64_t v) { char b[24]; int n = 0; do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v); while (n) putch(b[--n]); }
        static uint64_t instret(void) { uint64_t v; __asm__ volatile("csrr %0, minstret" : "=r"(v)); return v; }
        #define N 48
        static uint32_t table[256];
        static int32_t A[N][N], B[N][N], C[N][N];
        static uint8_t buf[65536];
        static uint32_t crc32(const uint8_t *p, int n) {
            uint32_t c = 0xffffffffu;
            for (int i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
            return ~c;
        }
        int main(void) {
            uint64_t start = instret();
            for (uint32_t i = 0; i < 256; i++) { uint32_t c = i; for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1; table[i] = c; }
            uint64_t seed = 88172645463325252ull;
            for (int i = 0; i < (int)sizeof buf; i++) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; buf[i] = (uint8_t)seed; }
            uint32_t sum = 0;
            for (int round = 0; round < ROUNDS; round++) {
                sum ^= crc32(buf, sizeof buf);
                for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) { A[i][j] = (int32_t)(i * 7 + j + round); B[i][j] = (int32_t)(i - j * 3 + sum); }
                for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) { int32_t acc = 0; for (int k = 0; k < N; k++) acc += A[i][k] * B[k][j]; C[i][j] = acc; }
                for (int i = 0; i < N; i++) sum += (uint32_t)C[i][(i + round) % N];
                for (int i = sizeof buf - 1; i > 0; i--) {
                    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
                    int j = (int)(seed % (uint64_t)(i + 1));
                    uint8_t t = buf[i]; buf[i] = buf[j]; buf[j] = t;
                }
            }
            uint64_t n = instret() - start;
            puts_("checksum "); put_dec(sum); putch('\n');
            puts_("instret "); put_dec(n); putch('\n');
            return 0;
        }
        """#
}
