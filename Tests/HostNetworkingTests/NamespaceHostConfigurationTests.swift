// NamespaceHostConfigurationTests: names of namespaces and devices, interface-name checks,
// and the default control socket path (no root needed).
import Testing
@testable import HostNetworking

@Suite struct NamespaceHostConfigurationTests {
    @Test func shortNamesAreUsedAsThey() {
        let c = NamespaceHostConfiguration(name: "h1", address: "10.0.0.1/24")
        #expect(c.namespace == "sb-h1")
        #expect(c.outerDevice == "sb-h1")
    }

    @Test func longNamesGetAHashedDeviceThatFitsIFNAMSIZ() {
        let a = NamespaceHostConfiguration(name: "a-very-long-host-name-1", address: "10.0.0.1/24")
        let b = NamespaceHostConfiguration(name: "a-very-long-host-name-2", address: "10.0.0.2/24")
        #expect(a.namespace == "sb-a-very-long-host-name-1")
        #expect(a.outerDevice.utf8.count <= 15 && a.outerDevice.hasPrefix("sb-"))
        #expect(a.outerDevice != b.outerDevice)
        #expect(a.outerDevice == NamespaceHostConfiguration(name: "a-very-long-host-name-1", address: "x").outerDevice)
    }

    @Test func interfaceNamesAreChecked() {
        #expect(throws: HostNetworkingError.self) { try NetworkInterface("") }
        #expect(throws: HostNetworkingError.self) { try NetworkInterface("sixteen-chars-xx") }
        #expect(throws: HostNetworkingError.self) { try NetworkInterface("a/b") }
        #expect((try? NetworkInterface("lo"))?.exists == true)
        #expect((try? NetworkInterface("sb-nonexistent"))?.exists == false)
    }

    @Test func mtuOutsideTheRangeIsRefusedBeforeTheKernelSeesIt() {
        #expect(throws: HostNetworkingError.invalid("MTU 20 of lo is outside 68-65535")) {
            try NetworkInterface("lo").setMTU(20)
        }
    }

    @Test func controlSocketDefaultsUnderRunOrXDG() {
        let path = ControlServer.defaultPath(topologyName: "lab")
        #expect(path.hasSuffix("/switchboard/lab.sock"))
    }
}
