// CRC32C: the Castagnoli CRC (iSCSI, ext4, SCTP) that checks every migration message's payload:
// with the CPU's `crc32` instruction where there is one (SSE4.2, some 8 bytes a cycle), else
// slicing-by-8 from tables built once. Both give the same value.

import CLinuxShims

/// CRC-32C (polynomial 0x1EDC6F41, reflected 0x82F63B78), as RFC 3720 defines it.
public enum CRC32C {
    /// Eight 256-entry tables for slicing-by-8.
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] }
        }
        return t
    }()

    /// Whether the CPU's instruction is used.
    public static let hardware = sb_crc32c_hardware() != 0

    /// The CRC of `bytes` ("123456789" gives 0xE3069283).
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        if hardware {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
            return ~sb_crc32c_update(0xFFFF_FFFF, base, bytes.count)
        }
        return software(bytes)
    }

    /// The table-driven CRC (also the reference the hardware path is tested against).
    public static func software(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        tables.withUnsafeBufferPointer { t in
            t[0].withUnsafeBufferPointer { t0 in t[1].withUnsafeBufferPointer { t1 in
            t[2].withUnsafeBufferPointer { t2 in t[3].withUnsafeBufferPointer { t3 in
            t[4].withUnsafeBufferPointer { t4 in t[5].withUnsafeBufferPointer { t5 in
            t[6].withUnsafeBufferPointer { t6 in t[7].withUnsafeBufferPointer { t7 in
                var i = 0
                let n = bytes.count
                while i + 8 <= n {
                    let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ UInt64(crc)
                    crc = t7[Int(v & 0xFF)] ^ t6[Int((v >> 8) & 0xFF)] ^ t5[Int((v >> 16) & 0xFF)] ^ t4[Int((v >> 24) & 0xFF)]
                        ^ t3[Int((v >> 32) & 0xFF)] ^ t2[Int((v >> 40) & 0xFF)] ^ t1[Int((v >> 48) & 0xFF)] ^ t0[Int(v >> 56)]
                    i += 8
                }
                while i < n {
                    crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(bytes[i])) & 0xFF)]
                    i += 1
                }
            }}}}}}}}
        }
        return ~crc
    }

    /// The CRC of an array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
