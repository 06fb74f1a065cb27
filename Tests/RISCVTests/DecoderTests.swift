// Decoder tests: 32-bit and compressed encodings map to the expected compact form.
import Testing
@testable import RISCV
import RISCVBoard

@Suite("Decoder")
struct DecoderTests {
    @Test func addi() {
        let d = Decoder.decode(0xFFF0_8093) // addi x1, x1, -1
        #expect(d.op == .addi && d.rd == 1 && d.rs1 == 1 && d.imm == -1 && d.length == 4)
    }

    @Test func destinationX0GoesToSink() {
        let d = Decoder.decode(0x0000_0013) // nop = addi x0, x0, 0
        #expect(d.op == .addi && d.rd == 32)
    }

    @Test func branchImmediate() {
        let d = Decoder.decode(0xFE00_0EE3) // beq x0, x0, -4
        #expect(d.op == .beq && d.imm == -4)
    }

    @Test func compressed() {
        #expect(Decoder.decode(0x4505).op == .addi) // c.li a0, 1
        #expect(Decoder.decode(0x4505).imm == 1)
        #expect(Decoder.decode(0x8082).op == .jalr) // ret
        #expect(Decoder.decode(0x9002).op == .ebreak)
        #expect(Decoder.decode(0x0000).op == .illegal)
        #expect(Decoder.decode(0x0000).length == 2)
    }

    @Test func system() {
        #expect(Decoder.decode(0x3020_0073).op == .mret)
        #expect(Decoder.decode(0x1050_0073).op == .wfi)
        #expect(Decoder.decode(0x1200_0073).op == .sfencevma)
        let csr = Decoder.decode(0x3400_2573) // csrr a0, mscratch
        #expect(csr.op == .csrrs && csr.imm == 0x340 && csr.rs1 == 0)
    }

    @Test func illegalKeepsEncoding() {
        let d = Decoder.decode(0xFFFF_FFFF)
        #expect(d.op == .illegal && d.imm == 0xFFFF_FFFF)
    }
}
