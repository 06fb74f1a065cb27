// Negative cases for hostile input: control characters in paths and C strings, the resource
// limits of TopologyLimits, and writable disk images attached more than once.

/// `count` switches named s0, s1, ... with `ports` ports each and optional `extra` switch keys.
func manySwitches(_ count: Int, ports: Int = 1, extra: String = "") -> String {
    let portList = (0..<ports).map { #"{"name":"p\#($0)"}"# }.joined(separator: ",")
    let switchExtra = extra.isEmpty ? "" : "," + extra
    return (0..<count).map { #"{"name":"s\#($0)","ports":[\#(portList)]\#(switchExtra)}"# }.joined(separator: ",")
}

/// A document with sw0 and the VMs `vms` (a JSON array body).
func withVMs(_ vms: String) -> String { doc(#""switches":[\#(minimalSwitch)],"vms":[\#(vms)]"#) }

let inputNegativeCases: [NegativeCase] = [
    // A NUL would cut a path short at open()/libpcap ("x\0y.pcap" writes "x"); other control
    // characters break error lines and terminals.
    NegativeCase("NUL in a capture file", doc(#""switches":[\#(minimalSwitch)],"captures":[{"name":"c","file":"x\u0000y.pcap","switch":"sw0"}]"#),
                 "$.captures[0].file", #"capture file "x\u0000y.pcap" contains the control character U+0000"#, schema: true),
    NegativeCase("newline in a capture file", doc(#""switches":[\#(minimalSwitch)],"captures":[{"name":"c","file":"a\nb.pcap","switch":"sw0"}]"#),
                 "$.captures[0].file", #"capture file "a\nb.pcap" contains the control character U+000A"#, schema: true),
    NegativeCase("escape in a disk path", withVMs(#"{"name":"vm1","disks":[{"path":"d\u001b[2J.img"}]}"#),
                 "$.vms[0].disks[0].path", #"disk image "d\u001b[2J.img" contains the control character U+001B"#, schema: true),
    NegativeCase("NUL in a disk base", withVMs(#"{"name":"vm1","disks":[{"path":"d.qcow2","format":"qcow2","base":"b\u0000.img"}]}"#),
                 "$.vms[0].disks[0].base", "contains the control character U+0000", schema: true),
    NegativeCase("DEL in a console log", withVMs(#"{"name":"vm1","console":{"log":"vm\u007f.log"}}"#),
                 "$.vms[0].console.log", "contains the control character U+007F", schema: true),
    NegativeCase("C1 CSI in a kernel path", withVMs(#"{"name":"vm1","kernel":"k\u009b.elf"}"#),
                 "$.vms[0].kernel", "contains the control character U+009B", schema: true),
    NegativeCase("tab in a firmware path", withVMs(#"{"name":"vm1","firmware":"fw\t.elf"}"#),
                 "$.vms[0].firmware", "contains the control character U+0009", schema: true),
    NegativeCase("NUL in a capture filter", doc(#""switches":[\#(minimalSwitch)],"captures":[{"name":"c","file":"c.pcap","switch":"sw0","filter":"icmp\u0000 or arp"}]"#),
                 "$.captures[0].filter", "filter contains a NUL character", schema: true),
    NegativeCase("NUL in bootargs", withVMs(#"{"name":"vm1","bootargs":"console=ttyS0\u0000 init=/x"}"#),
                 "$.vms[0].bootargs", "bootargs contains a NUL character", schema: true),

    // Resource limits: the limit's name, the value found and where.
    NegativeCase("too many switches", doc(#""switches":[\#(manySwitches(257))]"#), "$.switches",
                 #"257 switches per topology exceeds the limit "switches" of 256"#, schema: true),
    NegativeCase("too many ports on a switch", doc(#""switches":[\#(manySwitches(1, ports: 4097))]"#), "$.switches[0].ports",
                 #"4097 ports per switch exceeds the limit "ports_per_switch" of 4096"#, schema: true),
    NegativeCase("too many ports in all", doc(#""switches":[\#(manySwitches(5, ports: 4000))]"#), "$.switches[4].ports",
                 #"20000 ports over all switches exceeds the limit "total_ports" of 16384"#, schema: false),
    NegativeCase("too many MAC table entries in all",
                 doc(#""switches":[\#(manySwitches(5, extra: #""mac_table":{"capacity":1048576}"#))]"#),
                 "$.switches[4].mac_table.capacity",
                 #"5242880 MAC table entries over all switches exceeds the limit "total_mac_table_capacity" of 4194304"#, schema: false),
    NegativeCase("too many VMs", withVMs((0..<257).map { #"{"name":"vm\#($0)"}"# }.joined(separator: ",")), "$.vms",
                 #"257 VMs per topology exceeds the limit "vms" of 256"#, schema: true),
    NegativeCase("too much VM memory", withVMs(#"{"name":"a","memory_mib":65536},{"name":"b","memory_mib":65536},{"name":"c","memory_mib":16}"#),
                 "$.vms[2].memory_mib",
                 #"131088 MiB of guest memory over all VMs exceeds the limit "total_vm_memory_mib" of 131072"#, schema: false),

    // A writable image is attached once; read-only images and bases may be shared.
    NegativeCase("writable image in two VMs", withVMs(#"{"name":"a","disks":[{"path":"shared.img"}]},{"name":"b","disks":[{"path":"shared.img"}]}"#),
                 "$.vms[1].disks[0].path", "is already attached writable at $.vms[0].disks[0].path", schema: false),
    NegativeCase("writable image twice in one VM", withVMs(#"{"name":"a","disks":[{"path":"shared.img"},{"path":"./x/../shared.img"}]}"#),
                 "$.vms[0].disks[1].path", "is already attached writable at $.vms[0].disks[0].path", schema: false),
    NegativeCase("read-only use of a writable image", withVMs(#"{"name":"a","disks":[{"path":"shared.img"}]},{"name":"b","disks":[{"path":"shared.img","read_only":true}]}"#),
                 "$.vms[1].disks[0].path", "is already attached writable at $.vms[0].disks[0].path", schema: false),
    NegativeCase("writable image after read-only uses", withVMs(#"{"name":"a","disks":[{"path":"shared.img","read_only":true}]},{"name":"b","disks":[{"path":"shared.img"}]}"#),
                 "$.vms[1].disks[0].path", "is already attached read-only at $.vms[0].disks[0].path", schema: false),
    NegativeCase("a base that another VM writes", withVMs(#"{"name":"a","disks":[{"path":"base.img"}]},{"name":"b","disks":[{"path":"b.qcow2","format":"qcow2","base":"base.img"}]}"#),
                 "$.vms[1].disks[0].base", "is already attached writable at $.vms[0].disks[0].path", schema: false),
]
