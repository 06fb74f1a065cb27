// The negative test cases of topologies that span hypervisors: hypervisors, placement keys,
// migrations, ping jobs and tunnels; the same form as NegativeCases.swift.

/// `{"version":1, "hypervisors":[a, b on 127.0.0.2], <body>}`.
func twoHypervisors(_ body: String) -> String {
    doc(#""hypervisors":[{"name":"a"},{"name":"b","address":"127.0.0.2"}],"# + body)
}

/// A switch sw0 on a and b with `ports`.
func spanningSwitch(_ ports: String, extra: String = "") -> String {
    #"{"name":"sw0","ports":["# + ports + "]" + (extra.isEmpty ? "" : "," + extra) + "}"
}

/// Two hypervisors, sw0 on both with ports src, dst, and VM src on a using sw0:src.
func migrationDoc(_ migrations: String, extraSwitches: String = "", nics: String = "") -> String {
    twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"src"},{"name":"dst"}"#))\#(extraSwitches)],"# +
                   #""vms":[{"name":"src","hypervisor":"a","nics":[{"mac":"52:54:00:00:00:01","switch":"sw0","port":"src"}\#(nics)]}],"# +
                   #""migrations":[\#(migrations)]"#)
}

let hypervisorNegativeCases: [NegativeCase] = [
    // Structure, types, ranges (the schema expresses these).
    NegativeCase("no hypervisor", doc(#""hypervisors":[],"switches":[\#(minimalSwitch)]"#), "$.hypervisors",
                 "expected at least 1 hypervisor, found none", schema: true),
    NegativeCase("hypervisor without name", doc(#""hypervisors":[{"address":"127.0.0.1"}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[0]", #"missing required key "name""#, schema: true),
    NegativeCase("hypervisor name invalid", doc(#""hypervisors":[{"name":"1a"}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[0].name", #"invalid name "1a""#, schema: true),
    NegativeCase("hypervisor address not IPv4", doc(#""hypervisors":[{"name":"a","address":"localhost"}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[0].address", #"invalid IPv4 address "localhost""#, schema: true),
    NegativeCase("hypervisor key misspelt", doc(#""hypervisors":[{"name":"a","adress":"127.0.0.1"}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[0].adress", #"unknown key "adress"; did you mean "address"?"#, schema: true),
    NegativeCase("migration port zero", doc(#""hypervisors":[{"name":"a","migration_port":0}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[0].migration_port", "migration_port 0 is outside 1-65535", schema: true),
    NegativeCase("VXLAN base port too large", doc(#""hypervisors":[{"name":"a","vxlan_port":70000}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[0].vxlan_port", "vxlan_port 70000 is outside 1-65535", schema: true),
    NegativeCase("switch hypervisors without hypervisors", oneSwitch(#"{"name":"a1"}"#, extra: #""hypervisors":["a"]"#),
                 "$.switches[0].hypervisors", #""hypervisors" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("switch vni without hypervisors", oneSwitch(#"{"name":"a1"}"#, extra: #""vni":5"#),
                 "$.switches[0].vni", #""vni" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("port pin without hypervisors", oneSwitch(#"{"name":"a1","hypervisor":"a"}"#),
                 "$.switches[0].ports[0].hypervisor", #""hypervisor" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("link vni without hypervisors", oneSwitch(#"{"name":"a1"},{"name":"a2"}"#, rest: #""links":[{"a":"sw0:a1","b":"sw0:a2","vni":5}]"#),
                 "$.links[0].vni", #""vni" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("VM hypervisor without hypervisors", doc(#""switches":[\#(minimalSwitch)],"vms":[{"name":"vm1","hypervisor":"a"}]"#),
                 "$.vms[0].hypervisor", #""hypervisor" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("host hypervisor without hypervisors", doc(#""switches":[\#(minimalSwitch)],"hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24","hypervisor":"a"}]"#),
                 "$.hosts[0].hypervisor", #""hypervisor" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("migrations without hypervisors", doc(#""switches":[\#(minimalSwitch)],"vms":[{"name":"vm1"}],"migrations":[{"vm":"vm1","to":"a","at":1}]"#),
                 "$.migrations", #""migrations" needs the top-level "hypervisors" list"#, schema: true),
    NegativeCase("switch on no hypervisor", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"}"#, extra: #""hypervisors":[]"#))]"#),
                 "$.switches[0].hypervisors", "expected at least 1 hypervisor, found none", schema: true),
    NegativeCase("switch on a hypervisor twice", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"}"#, extra: #""hypervisors":["a","b","a"]"#))]"#),
                 "$.switches[0].hypervisors[2]", #"duplicate hypervisor "a" (first listed at $.switches[0].hypervisors[0])"#, schema: true),
    NegativeCase("switch vni zero", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"}"#, extra: #""vni":0"#))]"#),
                 "$.switches[0].vni", "vni 0 is outside 1-16777215", schema: true),
    NegativeCase("link vni too large", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"p1","hypervisor":"a"},{"name":"p2","hypervisor":"b"}"#))],"# +
                                                      #""links":[{"a":"sw0:p1","b":"sw0:p2","vni":16777216}]"#),
                 "$.links[0].vni", "vni 16777216 is outside 1-16777215", schema: true),
    NegativeCase("VM placement missing", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"}"#))],"vms":[{"name":"vm1"}]"#),
                 "$.vms[0]", #"missing required key "hypervisor": this topology has 2 hypervisors (a, b); say which one the VM starts on"#, schema: true),
    NegativeCase("host placement missing", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"}"#))],"hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24"}]"#),
                 "$.hosts[0]", #"missing required key "hypervisor": this topology has 2 hypervisors (a, b); say which one the host runs on"#, schema: true),
    NegativeCase("migration without time", migrationDoc(#"{"vm":"src","to":"b"}"#),
                 "$.migrations[0]", #"missing required key "at""#, schema: true),
    NegativeCase("migration time negative", migrationDoc(#"{"vm":"src","to":"b","at":-1}"#),
                 "$.migrations[0].at", "at -1 is outside 0-86400", schema: true),
    NegativeCase("migration time too late", migrationDoc(#"{"vm":"src","to":"b","at":86400.5}"#),
                 "$.migrations[0].at", "at 86400.5 is outside 0-86400", schema: true),
    NegativeCase("migration time not a number", migrationDoc(#"{"vm":"src","to":"b","at":"1s"}"#),
                 "$.migrations[0].at", "expected a number, found a string", schema: true),
    NegativeCase("migration downtime too small", migrationDoc(#"{"vm":"src","to":"b","at":1,"downtime_ms":0.05}"#),
                 "$.migrations[0].downtime_ms", "downtime_ms 0.05 is outside 0.1-60000", schema: true),
    NegativeCase("migration rounds too many", migrationDoc(#"{"vm":"src","to":"b","at":1,"max_rounds":1001}"#),
                 "$.migrations[0].max_rounds", "max_rounds 1001 is outside 0-1000", schema: true),
    NegativeCase("migration rounds not an integer", migrationDoc(#"{"vm":"src","to":"b","at":1,"max_rounds":2.5}"#),
                 "$.migrations[0].max_rounds", "expected an integer, found 2.5", schema: true),
    NegativeCase("migration with_disks not a boolean", migrationDoc(#"{"vm":"src","to":"b","at":1,"with_disks":"yes"}"#),
                 "$.migrations[0].with_disks", "expected a boolean (true or false), found a string", schema: true),
    NegativeCase("migration postcopy misspelt", migrationDoc(#"{"vm":"src","to":"b","at":1,"post_copy":true}"#),
                 "$.migrations[0].post_copy", #"unknown key "post_copy"; did you mean "postcopy"?"#, schema: true),
    NegativeCase("migration key misspelt", migrationDoc(#"{"vm":"src","to":"b","at":1,"downtime":5}"#),
                 "$.migrations[0].downtime", #"unknown key "downtime"; did you mean "downtime_ms"?"#, schema: true),
    NegativeCase("ping without address", oneSwitch(#"{"name":"a1"}"#, rest: #""hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24","ping":{"interval_ms":10}}]"#),
                 "$.hosts[0].ping", #"missing required key "to""#, schema: true),
    NegativeCase("ping address not IPv4", oneSwitch(#"{"name":"a1"}"#, rest: #""hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24","ping":{"to":"10.0.0.2/24"}}]"#),
                 "$.hosts[0].ping.to", #"invalid IPv4 address "10.0.0.2/24""#, schema: true),
    NegativeCase("ping interval zero", oneSwitch(#"{"name":"a1"}"#, rest: #""hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24","ping":{"to":"10.0.0.2","interval_ms":0}}]"#),
                 "$.hosts[0].ping.interval_ms", "interval_ms 0 is outside 1-60000", schema: true),
    NegativeCase("ping count zero", oneSwitch(#"{"name":"a1"}"#, rest: #""hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24","ping":{"to":"10.0.0.2","count":0}}]"#),
                 "$.hosts[0].ping.count", "count 0 is outside 1-10000000", schema: true),
    NegativeCase("ping key misspelt", oneSwitch(#"{"name":"a1"}"#, rest: #""hosts":[{"name":"h","switch":"sw0","port":"a1","ip":"10.0.0.1/24","ping":{"to":"10.0.0.2","interval":5}}]"#),
                 "$.hosts[0].ping.interval", #"unknown key "interval"; did you mean "interval_ms"?"#, schema: true),

    // References, placement, schedule and tunnels (checked by the validator only).
    NegativeCase("duplicate hypervisor", doc(#""hypervisors":[{"name":"a"},{"name":"a","address":"127.0.0.2"}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[1].name", #"duplicate hypervisor name "a" (first used at $.hypervisors[0].name)"#, schema: false),
    NegativeCase("two migration listeners on one socket", doc(#""hypervisors":[{"name":"a"},{"name":"b","migration_port":7300}],"switches":[\#(minimalSwitch)]"#),
                 "$.hypervisors[1]", #"hypervisor "b" would listen for migrations on 127.0.0.1:7300, as "a" ($.hypervisors[0]) does"#, schema: false),
    NegativeCase("switch on unknown hypervisor", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"}"#, extra: #""hypervisors":["a","west"]"#))]"#),
                 "$.switches[0].hypervisors[1]", #"hypervisor "west" not found; the hypervisors are a, b"#, schema: false),
    NegativeCase("port pinned to unknown hypervisor", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1","hypervisor":"bb"}"#))]"#),
                 "$.switches[0].ports[0].hypervisor", #"hypervisor "bb" not found; did you mean "b"?"#, schema: false),
    NegativeCase("port pinned off its switch", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1","hypervisor":"b"}"#, extra: #""hypervisors":["a"]"#))]"#),
                 "$.switches[0].ports[0].hypervisor", #"port "a1" is pinned to "b", but switch "sw0" runs only on a"#, schema: false),
    NegativeCase("attached port not pinned", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1","attach":{"type":"tap","device":"sbtap0"}}"#))]"#),
                 "$.switches[0].ports[0]", #"port "a1" has an attachment on switch "sw0", which spans several hypervisors (a, b): add "hypervisor""#, schema: false),
    NegativeCase("link end not pinned", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"t1"}"#)),{"name":"sw1","hypervisors":["a"],"ports":[{"name":"t1"}]}],"# +
                                                       #""links":[{"a":"sw0:t1","b":"sw1:t1"}]"#),
                 "$.links[0].a", #"port sw0:t1 is a link end on switch "sw0", which spans several hypervisors (a, b): add "hypervisor" to the port"#, schema: false),
    NegativeCase("mirror output not pinned", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"a1"},{"name":"m1"}"#, extra: #""mirrors":[{"name":"m","select":{"all":true},"output":{"port":"m1"}}]"#))]"#),
                 "$.switches[0].mirrors[0].output.port", #"output port "m1" is on switch "sw0", which spans several hypervisors (a, b): add "hypervisor""#, schema: false),
    NegativeCase("VM port pinned", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"v1","hypervisor":"a"}"#))],"# +
                                                  #""vms":[{"name":"vm1","hypervisor":"a","nics":[{"mac":"52:54:00:00:00:01","switch":"sw0","port":"v1"}]}]"#),
                 "$.switches[0].ports[0].hypervisor", #"port sw0:v1 is used by VM "vm1" ($.vms[0].nics[0]); a VM's port follows the VM, so it cannot be pinned"#, schema: false),
    NegativeCase("VM on unknown hypervisor", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"v1"}"#))],"vms":[{"name":"vm1","hypervisor":"c"}]"#),
                 "$.vms[0].hypervisor", #"hypervisor "c" not found"#, schema: false),
    NegativeCase("VM off its switch", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"v1"}"#, extra: #""hypervisors":["a"]"#))],"# +
                                                     #""vms":[{"name":"vm1","hypervisor":"b","nics":[{"mac":"52:54:00:00:00:01","switch":"sw0","port":"v1"}]}]"#),
                 "$.vms[0].hypervisor", #"VM "vm1" starts on "b", but its NIC $.vms[0].nics[0] is on a switch that is not there: switch "sw0" runs only on a"#, schema: false),
    NegativeCase("host on unknown hypervisor", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"h1"}"#))],"hosts":[{"name":"h","switch":"sw0","port":"h1","ip":"10.0.0.1/24","hypervisor":"x"}]"#),
                 "$.hosts[0].hypervisor", #"hypervisor "x" not found"#, schema: false),
    NegativeCase("host off its switch", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"h1"}"#, extra: #""hypervisors":["a"]"#))],"# +
                                                       #""hosts":[{"name":"h","switch":"sw0","port":"h1","ip":"10.0.0.1/24","hypervisor":"b"}]"#),
                 "$.hosts[0].hypervisor", #"host "h" is on "b", but switch "sw0" runs only on a"#, schema: false),
    NegativeCase("host port pinned elsewhere", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"h1","hypervisor":"a"}"#))],"# +
                                                              #""hosts":[{"name":"h","switch":"sw0","port":"h1","ip":"10.0.0.1/24","hypervisor":"b"}]"#),
                 "$.hosts[0].hypervisor", #"host "h" is on "b", but its port sw0:h1 is pinned to "a""#, schema: false),
    NegativeCase("link vni within one hypervisor", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"p1","hypervisor":"a"}"#)),{"name":"sw1","hypervisors":["a"],"ports":[{"name":"p1"}]}],"# +
                                                                  #""links":[{"a":"sw0:p1","b":"sw1:p1","vni":7}]"#),
                 "$.links[0].vni", #""vni" is only for a link between two hypervisors, and both ends of this link are on "a""#, schema: false),
    NegativeCase("link VNI used by a switch", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"p1","hypervisor":"a"}"#)),{"name":"sw1","hypervisors":["b"],"ports":[{"name":"p1"}]}],"# +
                                                             #""links":[{"a":"sw0:p1","b":"sw1:p1","vni":1}]"#),
                 "$.links[0].vni", #"VNI 1 is already used by the tunnels of switch "sw0"; the VNIs of tunnels must be unique"#, schema: false),
    NegativeCase("default switch VNI taken", twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"p1"}"#, extra: #""vni":2"#)),{"name":"sw1","ports":[{"name":"p1"}]}]"#),
                 "$.switches[1]", #"VNI 2 (the default here) is already used by the tunnels of switch "sw0""#, schema: false),
    NegativeCase("migration of unknown VM", migrationDoc(#"{"vm":"srcc","to":"b","at":1}"#),
                 "$.migrations[0].vm", #"VM "srcc" not found; did you mean "src"?"#, schema: false),
    NegativeCase("migration to unknown hypervisor", migrationDoc(#"{"vm":"src","to":"c","at":1}"#),
                 "$.migrations[0].to", #"hypervisor "c" not found"#, schema: false),
    NegativeCase("migration to where the VM starts", migrationDoc(#"{"vm":"src","to":"a","at":1}"#),
                 "$.migrations[0].to", #"VM "src" is already on "a" at 1 s"#, schema: false),
    NegativeCase("migration to where the VM is", migrationDoc(#"{"vm":"src","to":"b","at":1},{"vm":"src","to":"b","at":2.5}"#),
                 "$.migrations[1].to", #"VM "src" is already on "b" at 2.5 s"#, schema: false),
    NegativeCase("migrations out of order", migrationDoc(#"{"vm":"src","to":"b","at":3},{"vm":"src","to":"a","at":2}"#),
                 "$.migrations[1].at", #"VM "src" migrates at 2 s, before its previous migration at 3 s ($.migrations[0])"#, schema: false),
    NegativeCase("migration off a switch of the VM", migrationDoc(#"{"vm":"src","to":"b","at":1}"#,
                                                                  extraSwitches: #",{"name":"sw1","hypervisors":["a"],"ports":[{"name":"p1"}]}"#,
                                                                  nics: #",{"mac":"52:54:00:00:00:02","switch":"sw1","port":"p1"}"#),
                 "$.migrations[0].to", #"VM "src" cannot move to "b": it has a NIC on switch "sw1", which runs only on a"#, schema: false),
    NegativeCase("tunnel UDP port too large", doc(#""hypervisors":[{"name":"a"},{"name":"b","vxlan_port":65535}],"switches":[\#(spanningSwitch(#"{"name":"p1"}"#))]"#),
                 "$.hypervisors[1].vxlan_port", #"tunnel 0 needs UDP port 65536 on "b" (vxlan_port 65535 + 2 × 0 + 1), above 65535"#, schema: false),
    NegativeCase("tunnel ends on one UDP socket", doc(#""hypervisors":[{"name":"a","vxlan_port":4790},{"name":"b"}],"switches":[\#(spanningSwitch(#"{"name":"p1"}"#))]"#),
                 "$.hypervisors[1]", #"a tunnel end on "b" would bind UDP 127.0.0.1:4790, as one on "a" does"#, schema: false),
    NegativeCase("links between spanning switches closing a loop",
                 twoHypervisors(#""switches":[\#(spanningSwitch(#"{"name":"p1","hypervisor":"a"},{"name":"p2","hypervisor":"b"}"#)),"# +
                                #"{"name":"sw1","ports":[{"name":"p1","hypervisor":"a"},{"name":"p2","hypervisor":"b"}]}],"# +
                                #""links":[{"a":"sw0:p1","b":"sw1:p1"},{"a":"sw0:p2","b":"sw1:p2"}]"#),
                 "$.links[1]", "closes a loop between switches", schema: false),
]
