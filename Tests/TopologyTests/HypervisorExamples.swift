// Example topologies that span hypervisors, shared by the decoding, schema and partition
// tests: the two-hypervisor migration scenario, and three hypervisors using every key.

/// Two hypervisors, one switch on both; VM src migrates a -> b -> a ... while host pinger
/// pings it, then VM dst moves from b to a.
let migrationExample: String = {
    let hops = (1...10).map { i in
        #"    {"vm": "src", "to": "\#(i % 2 == 1 ? "b" : "a")", "at": \#(Double(i) / 2)}"#
    }
    return #"""
    {
      "version": 1,
      "name": "migration",
      "description": "VM src moves between two hypervisors while a host pings it",
      "hypervisors": [
        { "name": "a", "address": "127.0.0.1" },
        { "name": "b", "address": "127.0.0.2" }
      ],
      "switches": [
        { "name": "sw0",
          "ports": [ { "name": "src", "vlan": 10 }, { "name": "dst", "vlan": 10 }, { "name": "pinger", "vlan": 10 } ] }
      ],
      "captures": [ { "name": "sw0", "file": "captures/migration.pcap", "switch": "sw0" } ],
      "vms": [
        { "name": "src", "hypervisor": "a", "kernel": "appliance", "firmware": "none",
          "nics": [ { "mac": "52:54:00:00:00:01", "switch": "sw0", "port": "src" } ] },
        { "name": "dst", "hypervisor": "b", "kernel": "appliance", "firmware": "none",
          "nics": [ { "mac": "52:54:00:00:00:02", "switch": "sw0", "port": "dst" } ] }
      ],
      "hosts": [
        { "name": "pinger", "hypervisor": "a", "switch": "sw0", "port": "pinger", "ip": "10.0.0.9/24",
          "ping": { "to": "10.0.0.1", "interval_ms": 10 } }
      ],
      "migrations": [
    \#(hops.joined(separator: ",\n")),
        {"vm": "dst", "to": "a", "at": 6, "downtime_ms": 50, "max_rounds": 8, "with_disks": true, "auto_converge": true, "postcopy": false}
      ]
    }
    """#
}()

/// Three hypervisors: switch core on all three (ports pinned to each), edge only on c and
/// linked to core there, far on a and b linked across to island on b; mirrors, static
/// entries and captures of every kind; a VM that migrates a -> b -> c -> a.
let threeHypervisorExample = #"""
    {
      "version": 1,
      "name": "three",
      "hypervisors": [
        { "name": "a", "address": "192.0.2.1" },
        { "name": "b", "address": "192.0.2.2", "vxlan_port": 5000 },
        { "name": "c", "address": "192.0.2.3", "migration_port": 8000 }
      ],
      "switches": [
        { "name": "core",
          "ports": [
            { "name": "uplink", "hypervisor": "a", "attach": { "type": "pcap", "interface": "eth1" } },
            { "name": "vm1p", "vlan": 10 },
            { "name": "h1p", "vlan": 10 },
            { "name": "hb", "hypervisor": "b" },
            { "name": "mon", "hypervisor": "b" },
            { "name": "t-edge", "hypervisor": "c", "mode": "trunk", "allowed_vlans": [1, 10] }
          ],
          "mac_table": { "static": [
            { "mac": "02:00:00:00:00:11", "vlan": 1, "port": "hb" },
            { "mac": "02:00:00:00:00:12", "vlan": 1, "port": "uplink" },
            { "mac": "02:00:00:00:00:13", "vlan": 10, "port": "vm1p" },
            { "mac": "02:00:00:00:00:14", "vlan": 1, "port": "t-edge" }
          ] },
          "mirrors": [
            { "name": "m-mon", "select": { "ingress_ports": ["uplink", "vm1p"] }, "output": { "port": "mon" } },
            { "name": "m-cap", "select": { "ingress_ports": ["uplink"] }, "output": { "capture": "upcap" } },
            { "name": "m-vlan", "select": { "vlans": [10] }, "output": { "capture": "vlancap" } }
          ] },
        { "name": "edge", "hypervisors": ["c"],
          "ports": [ { "name": "t-core", "mode": "trunk", "allowed_vlans": [1, 10] }, { "name": "e1" } ] },
        { "name": "far", "hypervisors": ["b", "a"], "vni": 500,
          "ports": [ { "name": "x", "hypervisor": "a" }, { "name": "y", "hypervisor": "b" } ] },
        { "name": "island", "hypervisors": ["b"], "ports": [ { "name": "i1" } ] }
      ],
      "links": [
        { "a": "core:t-edge", "b": "edge:t-core" },
        { "a": "island:i1", "b": "far:x" }
      ],
      "captures": [
        { "name": "core-all", "file": "captures/core.pcap", "switch": "core" },
        { "name": "vm-port", "file": "captures/vm.d/port", "switch": "core", "port": "vm1p" },
        { "name": "uplink-cap", "file": "uplink.pcap", "switch": "core", "port": "uplink" },
        { "name": "upcap", "file": "out" },
        { "name": "vlancap", "file": "captures/vlan.pcap" },
        { "name": "edge-cap", "file": "captures/edge.pcap", "switch": "edge" }
      ],
      "vms": [
        { "name": "vm1", "hypervisor": "a", "nics": [ { "mac": "52:54:00:00:00:01", "switch": "core", "port": "vm1p" } ] },
        { "name": "vm2", "hypervisor": "c", "nics": [ { "mac": "52:54:00:00:00:02", "switch": "edge", "port": "e1" } ] }
      ],
      "hosts": [
        { "name": "h1", "hypervisor": "a", "switch": "core", "port": "h1p", "ip": "10.0.0.1/24",
          "ping": { "to": "10.0.0.2", "interval_ms": 10, "count": 5 } },
        { "name": "hb", "hypervisor": "b", "switch": "core", "port": "hb", "ip": "10.0.1.1/24" }
      ],
      "migrations": [
        { "vm": "vm1", "to": "b", "at": 5 },
        { "vm": "vm1", "to": "c", "at": 10 },
        { "vm": "vm1", "to": "a", "at": 15.5 }
      ]
    }
    """#
