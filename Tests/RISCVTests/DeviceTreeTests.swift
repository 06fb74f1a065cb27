// Device tree and ELF loader tests: the generated DTB is well formed (checked with dtc when
// installed) and has what OpenSBI needs; broken ELF files are rejected with errors.
import Foundation
import Testing
import Machine
@testable import RISCV
import RISCVBoard

@Suite("Device tree and ELF loader")
struct DeviceTreeTests {
    @Test func headerAndNodes() throws {
        let board = try VirtBoard(memoryMiB: 64) { _ in }
        let dtb = board.makeDeviceTree(bootargs: "console=ttyS0")
        #expect(Array(dtb[0..<4]) == [0xD0, 0x0D, 0xFE, 0xED])
        let total = Int(dtb[4]) << 24 | Int(dtb[5]) << 16 | Int(dtb[6]) << 8 | Int(dtb[7])
        #expect(total == dtb.count)
        let text = String(decoding: dtb.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        for s in ["rv64imafdc_zicsr_zifencei", "riscv,sv39", "sifive,clint0", "ns16550a", "sifive,test0",
                  "syscon-poweroff", "console=ttyS0", "/soc/serial@10000000"] {
            #expect(text.contains(s), "missing \(s)")
        }
    }

    @Test func dtcAcceptsIt() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dtc") else {
            print("skipping: dtc not installed"); return
        }
        let board = try VirtBoard(memoryMiB: 64) { _ in }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(getpid()).dtb")
        try Data(board.makeDeviceTree(bootargs: "x")).write(to: path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/dtc")
        p.arguments = ["-I", "dtb", "-O", "dts", path.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let dts = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(dts.contains("reg = <0x00 0x80000000 0x00 0x4000000>;"))
        #expect(dts.contains("timebase-frequency = <0x989680>;"))
    }

    @Test func rejectsBrokenELF() throws {
        let mem = try GuestMemory(base: GuestPhysicalAddress(0x8000_0000), size: 1 << 20)
        #expect(throws: ELFError.self) { _ = try ELFLoader.load([1, 2, 3], into: mem) }
        var header = [UInt8](repeating: 0, count: 64)
        header[0] = 0x7F; header[1] = 0x45; header[2] = 0x4C; header[3] = 0x46; header[4] = 2; header[5] = 1
        header[18] = 243
        header[32] = 0xFF; header[33] = 0xFF // program headers far beyond the file
        header[54] = 56; header[56] = 1
        #expect(throws: ELFError.self) { _ = try ELFLoader.load(header, into: mem) }
        header[18] = 62 // x86-64
        #expect(throws: ELFError.notRISCV64("machine 62 is not RISC-V (243)")) { _ = try ELFLoader.load(header, into: mem) }
    }
}
