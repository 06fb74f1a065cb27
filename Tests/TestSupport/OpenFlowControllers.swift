// OpenFlowControllers: the os-ken/Faucet venv that Tools/openflow-controllers makes, and an
// os-ken controller process running one of our apps, for the tests that need a real controller.

import Foundation

/// Real OpenFlow controllers for tests.
public enum OpenFlowControllers {
    /// The checkout's root (where Package.swift is).
    public static let packageRoot: String = {
        var dir = URL(fileURLWithPath: #filePath)
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir.deleteLastPathComponent()
        }
        return dir.path
    }()

    /// The venv (made on first use, cached outside the checkout), or nil with the reason printed.
    public static func venv(for test: String) -> String? {
        let tool = ExternalTool(path: "/bin/bash")
        guard let r = try? tool.run([packageRoot + "/Tools/openflow-controllers"]), r.status == 0,
              let path = r.output.split(separator: "\n").last.map(String.init),
              FileManager.default.isExecutableFile(atPath: path + "/bin/osken-manager") else {
            print("skipping \(test): Tools/openflow-controllers could not make the os-ken/Faucet venv")
            return nil
        }
        return path
    }

    /// `osken-manager` running `app` (a path under Tools/openflow-apps) on 127.0.0.1:`port`,
    /// its log in `log`. Stop it with SIGKILL: under eventlet it does not end on SIGTERM.
    public static func osKen(venv: String, app: String, port: Int, log: String) throws -> Process {
        let manager = Process()
        manager.executableURL = URL(fileURLWithPath: venv + "/bin/osken-manager")
        manager.arguments = ["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", "\(port)", packageRoot + "/Tools/openflow-apps/" + app]
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        manager.standardOutput = handle
        manager.standardError = handle
        manager.standardInput = FileHandle.nullDevice
        try manager.run()
        // Ready when it listens.
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline && manager.isRunning {
            if let text = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8),
               text.contains(String(format: ":%04X 00000000:0000 0A", port)) { break }
            usleep(50_000)
        }
        return manager
    }
}
