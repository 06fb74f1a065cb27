// Tools/tcp-stream, the sender of the Linux migration tests and of `bench migration --linux`:
// SIGTERM ends a stream early and the tool still hands over every byte it wrote and prints its
// report (the bench keeps one stream across a row's migrations and stops it afterwards).

import Foundation
import Testing

@Suite struct TCPStreamToolTests {
    /// A listener on 127.0.0.1 that accepts one connection and counts its bytes until EOF.
    final class Sink: @unchecked Sendable {
        let port: Int
        private let fd: Int32
        private let done = DispatchSemaphore(value: 0)
        private var count = 0

        init() throws {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            // SAFETY: `address` is a live sockaddr_in and `length` its size, for the calls' duration.
            let ok = withUnsafeMutablePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(s, $0, length) == 0 && getsockname(s, $0, &length) == 0 && listen(s, 1) == 0
                }
            }
            try #require(ok, "cannot listen on 127.0.0.1: errno \(errno)")
            fd = s
            port = Int(UInt16(bigEndian: address.sin_port))
            Thread { [self] in
                let c = accept(fd, nil, nil)
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while c >= 0 {
                    let n = read(c, &buffer, buffer.count)
                    if n <= 0 { break }
                    count += n
                }
                if c >= 0 { close(c) }
                done.signal()
            }.start()
        }

        /// The bytes received, once the sender closed (nil: not within `timeout`).
        func received(timeout: Double) -> Int? {
            guard done.wait(timeout: .now() + timeout) == .success else { return nil }
            close(fd)
            return count
        }
    }

    @Test func sigtermEndsTheStreamWithEveryWrittenByteDeliveredAndAReport() throws {
        let sink = try Sink()
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: CLI.packageRoot + "/Tools/tcp-stream")
        tool.arguments = ["127.0.0.1", String(sink.port), "--bytes", "1024G", "--rate", "1M", "--timeout", "60"]
        let out = Pipe()
        tool.standardOutput = out
        try tool.run()
        // Until the stream flows (generous: a loaded machine starts Python slowly), then stop it.
        Thread.sleep(forTimeInterval: 2)
        kill(tool.processIdentifier, SIGTERM)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        tool.waitUntilExit()
        #expect(tool.terminationStatus == 0, "\(text)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        #expect(report["stopped"] as? Bool == true && report["error"] == nil, "\(report)")
        #expect(report["retransmits"] is Int, "\(report)")
        let sent = try #require(report["bytes"] as? Int, "\(report)")
        #expect(sent > 0 && sent < 1 << 30, "\(report)")
        #expect(sink.received(timeout: 30) == sent, "every byte written arrives before the report: \(report)")
    }
}
