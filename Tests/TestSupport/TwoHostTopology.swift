// TwoHostTopology: the two-hypervisor topology the migration tests share (an echo appliance VM
// on hypervisor a, 127.0.0.1; hypervisor b on 127.0.0.2; one switch spanning both).

/// A topology with hypervisors a and b and one echo VM on a, its ports from `basePort`.
public func twoHostTopology(basePort: Int, name: String) -> String {
    """
    {
      "version": 1,
      "name": "\(name)-\(basePort)",
      "hypervisors": [
        { "name": "a", "address": "127.0.0.1", "migration_port": \(basePort), "vxlan_port": \(basePort + 10) },
        { "name": "b", "address": "127.0.0.2", "migration_port": \(basePort + 1), "vxlan_port": \(basePort + 10) }
      ],
      "switches": [ { "name": "sw0", "ports": [ { "name": "echo", "vlan": 10 }, { "name": "spare", "vlan": 10 } ] } ],
      "vms": [
        { "name": "echo", "hypervisor": "a", "memory_mib": 16, "firmware": "none", "kernel": "appliance",
          "bootargs": "ip=10.0.0.1/24 role=echo",
          "nics": [ { "mac": "52:54:00:00:00:11", "switch": "sw0", "port": "echo" } ] }
      ]
    }
    """
}
