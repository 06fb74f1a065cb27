// The negative cases of hypervisors that are separate network hosts (`netns` and `underlay`)
// and of their `disk_dir`.

/// Hypervisors as given (a JSON array body) and one switch spanning them.
func namespacedDoc(_ hypervisors: String) -> String {
    doc(#""hypervisors":["# + hypervisors + #"],"switches":[\#(spanningSwitch(#"{"name":"a1"}"#))]"#)
}

let underlayNegativeCases: [NegativeCase] = [
    NegativeCase("netns on one hypervisor only", namespacedDoc(#"{"name":"a","address":"10.99.0.1","netns":true},{"name":"b","address":"127.0.0.2"}"#),
                 "$.hypervisors[1]", #"set "netns": true on every hypervisor or on none"#, schema: false),
    NegativeCase("netns on loopback", namespacedDoc(#"{"name":"a","netns":true},{"name":"b","address":"10.99.0.2","netns":true}"#),
                 "$.hypervisors[0]", "needs an underlay address of its own (as 10.99.0.1), not 127.0.0.1", schema: false),
    NegativeCase("netns hypervisors share an address", namespacedDoc(#"{"name":"a","address":"10.99.0.1","netns":true},{"name":"b","address":"10.99.0.1","migration_port":7400,"netns":true}"#),
                 "$.hypervisors[1].address", #"has the underlay address 10.99.0.1 of "a""#, schema: false),
    NegativeCase("netns hypervisors in two subnets", namespacedDoc(#"{"name":"a","address":"10.99.0.1","netns":true},{"name":"b","address":"10.99.1.2","netns":true}"#),
                 "$.hypervisors[1].address", "is outside a's /24", schema: false),
    NegativeCase("underlay without netns", namespacedDoc(#"{"name":"a","underlay":{"rate_mbit":100}},{"name":"b","address":"127.0.0.2"}"#),
                 "$.hypervisors[0].underlay", #"set "netns": true"#, schema: true),
    NegativeCase("underlay rate zero", namespacedDoc(#"{"name":"a","address":"10.99.0.1","netns":true,"underlay":{"rate_mbit":0}},{"name":"b","address":"10.99.0.2","netns":true}"#),
                 "$.hypervisors[0].underlay.rate_mbit", "rate_mbit 0 is outside 1-100000", schema: true),
    NegativeCase("underlay unknown key", namespacedDoc(#"{"name":"a","address":"10.99.0.1","netns":true,"underlay":{"delay_ms":5}},{"name":"b","address":"10.99.0.2","netns":true}"#),
                 "$.hypervisors[0].underlay.delay_ms", #"unknown key "delay_ms""#, schema: true),
    NegativeCase("disk_dir empty", namespacedDoc(#"{"name":"a","disk_dir":""},{"name":"b","address":"127.0.0.2"}"#),
                 "$.hypervisors[0].disk_dir", "expected a non-empty string", schema: true),
    NegativeCase("disk_dir not a string", namespacedDoc(#"{"name":"a","disk_dir":7},{"name":"b","address":"127.0.0.2"}"#),
                 "$.hypervisors[0].disk_dir", "expected a string, found", schema: true),
    NegativeCase("disk_dir with a control character", namespacedDoc(#"{"name":"a","disk_dir":"vm-data/\u0001"},{"name":"b","address":"127.0.0.2"}"#),
                 "$.hypervisors[0].disk_dir", "contains the control character", schema: false),
]
