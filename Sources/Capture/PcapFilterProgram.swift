// PcapFilterProgram: a libpcap filter expression compiled to BPF by pcap_compile, owned
// until deinit. Used by PcapWriter (pcap_offline_filter per frame) and PcapReader.
import CPcap

/// A compiled BPF program. Internal: callers pass filter expressions as strings.
final class PcapFilterProgram {
    /// The compiled program; allocated once, freed with pcap_freecode and deallocated in deinit.
    let program: UnsafeMutablePointer<bpf_program>
    /// The expression it was compiled from.
    let expression: String

    /// Compiles `expression` for `handle`'s link type and snap length.
    /// Throws `CaptureError.invalidFilter` carrying libpcap's message.
    init(expression: String, handle: OpaquePointer) throws {
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        let status = pcap_compile(handle, program, expression, 1, PCAP_NETMASK_UNKNOWN)
        guard status == 0 else {
            program.deallocate()
            throw CaptureError.invalidFilter(expression: expression, message: libpcapError(handle))
        }
        self.program = program
        self.expression = expression
    }

    deinit {
        pcap_freecode(program)
        program.deallocate()
    }
}

/// libpcap's last error message for `handle` (`pcap_geterr`).
func libpcapError(_ handle: OpaquePointer) -> String {
    guard let message = pcap_geterr(handle) else { return "unknown libpcap error" }
    let text = String(cString: message)
    return text.isEmpty ? "unknown libpcap error" : text
}
