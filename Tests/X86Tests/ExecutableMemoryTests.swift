// ExecutableMemory keeps W^X: the kernel's own view (/proc/self/maps) of the region is checked
// after each step, and a patched jump takes effect.

import Foundation
import Testing
@testable import X86

struct ExecutableMemoryTests {
    /// The permissions ("rw-p", "r-xp", ...) of the mapping holding `address`, from /proc.
    static func permissions(of address: UnsafeRawPointer) throws -> String? {
        // Read to the end: procfs files report size 0, so size-based readers see nothing.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        defer { try? handle.close() }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let a = UInt(bitPattern: address)
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let lo = UInt(range[0], radix: 16), let hi = UInt(range[1], radix: 16) else { continue }
            if a >= lo && a < hi { return String(fields[1]) }
        }
        return nil
    }

    @Test("no view is ever writable and executable at once, and a patched jump takes effect", arguments: [ExecutableMemory.Mode.dualView, .protectFlip])
    func writeXorExecute(mode: ExecutableMemory.Mode) throws {
        let code = try ExecutableMemory(capacity: 100, mode: mode)
        #expect(code.mode == mode, "this machine's /dev/shm allows executable mappings")
        #expect(code.capacity == ExecutableMemory.pageSize)
        // f() = jmp +0 (to the first mov); mov eax, 1; ret; mov eax, 2; ret
        var a = Assembler()
        let one = a.newLabel(), two = a.newLabel()
        a.jmp(one)
        a.bind(one)
        a.mov(.rax, imm: 1)
        a.ret()
        a.bind(two)
        a.mov(.rax, imm: 2)
        a.ret()
        let p = try code.append(a.bytes)
        if mode == .dualView {
            #expect(try Self.permissions(of: p) == "r-xs")
            #expect(try Self.permissions(of: code.writable) == "rw-s")
        } else {
            #expect(try Self.permissions(of: p) == "rw-p")
        }
        try code.seal()
        #expect(try Self.permissions(of: p) == (mode == .dualView ? "r-xs" : "r-xp"))
        typealias F = @convention(c) () -> UInt64
        let f = unsafeBitCast(p, to: F.self)
        #expect(f() == 1)
        // Re-aim the jump at the second body: rel32 = 11 - 5 (mov eax 5 bytes + ret 1).
        try code.patch32(at: p + 1, 6)
        #expect(try Self.permissions(of: p) == (mode == .dualView ? "r-xs" : "r-xp"))
        #expect(f() == 2)
        try code.reset()
        #expect(code.used == 0)
    }

    @Test("a full region says so instead of overrunning")
    func full() throws {
        let code = try ExecutableMemory(capacity: 4096)
        _ = try code.append([UInt8](repeating: 0xCC, count: 4000))
        #expect(throws: ExecutableMemoryError.full(needed: 200, free: 4096 - 4000)) {
            _ = try code.append([UInt8](repeating: 0xCC, count: 200), alignment: 1)
        }
    }
}
