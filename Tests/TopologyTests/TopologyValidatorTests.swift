// One negative test per rule of the format: the decoder must report the expected JSON path
// and message, and the JSON Schema must reject the same document where it can express the rule.
import Testing
import Topology

@Suite("Topology validation rules")
struct TopologyValidatorTests {
    @Test("each rule reports its path and message", arguments: negativeCases)
    func ruleReportsPathAndMessage(_ testCase: NegativeCase) {
        let errors = decodeErrors(testCase.json)
        #expect(!errors.isEmpty, "\(testCase.rule): the document decoded")
        let match = errors.first { $0.path == testCase.path && $0.message.contains(testCase.message) }
        #expect(match != nil, "\(testCase.rule): expected \(testCase.path): …\(testCase.message)…, got \(errors.map(\.description))")
    }

    @Test("the schema rejects every case it can express")
    func schemaAgreesOnNegativeCases() throws {
        let cases = negativeCases.filter(\.schema)
        guard let verdicts = try schemaVerdicts(cases.map(\.json)) else { return }
        for (testCase, verdict) in zip(cases, verdicts) {
            #expect(!verdict.valid, "schema accepted the negative case \(testCase.rule)")
            // The schema must object at the same place (or at an enclosing object).
            let paths = verdict.errors.map { String($0.prefix { $0 != ":" }) }
            #expect(paths.contains { testCase.path.hasPrefix($0) || $0.hasPrefix(testCase.path) },
                    "\(testCase.rule): schema errors \(verdict.errors) are not at \(testCase.path)")
        }
    }

    @Test("validation errors carry line and column")
    func validationErrorsHavePositions() {
        let json = """
            {
              "version": 1,
              "switches": [
                { "name": "sw0", "ports": [ { "name": "a1" } ] },
                { "name": "sw0", "ports": [ { "name": "a1" } ] }
              ]
            }
            """
        let errors = decodeErrors(json, file: "Topologies/dup.json")
        #expect(errors.map(\.description) == [
            #"Topologies/dup.json:5:15: $.switches[1].name: duplicate switch name "sw0" (first used at $.switches[0].name)"#,
        ])
    }

    @Test("several validation errors are collected")
    func validationCollectsAll() {
        let json = doc(#""switches":[\#(minimalSwitch),\#(minimalSwitch)],"links":[{"a":"sw0:a1","b":"sw3:a1"}],"# +
                       #""captures":[{"name":"c","file":"c.pcap"}]"#)
        let paths = decodeErrors(json).map(\.path)
        #expect(paths == ["$.switches[1].name", "$.links[0].b", "$.captures[0]"])
    }

    @Test("validation errors are sorted in source order")
    func validationErrorsSorted() {
        let json = #"{"version":1,"captures":[{"name":"c","file":"c.pcap"}],"switches":[\#(minimalSwitch),\#(minimalSwitch)]}"#
        #expect(decodeErrors(json).map(\.path) == ["$.captures[0]", "$.switches[1].name"])
    }

    @Test("a missing version is reported and the rest still checked")
    func missingVersionContinues() {
        let json = #"{"switches":[{"name":"sw0","ports":[{"name":"a1","vlan":0}]}]}"#
        #expect(decodeErrors(json).map(\.path) == ["$", "$.switches[0].ports[0].vlan"])
    }

    @Test("a capture that is a mirror's output needs no switch")
    func mirrorCaptureNeedsNoSwitch() {
        let json = oneSwitch(twoPorts, extra: #""mirrors":[{"name":"m","select":{"vlans":[10]},"output":{"capture":"c"}}]"#,
                             rest: #""captures":[{"name":"c","file":"c.pcap"}]"#)
        #expect(decodeErrors(json).isEmpty)
    }

    @Test("a trunk carries its native VLAN even when it is not in allowed_vlans")
    func nativeVLANIsCarried() {
        let json = oneSwitch(twoPorts, extra: #""mac_table":{"static":[{"mac":"02:00:00:00:00:01","vlan":1,"port":"t1"}]}"#)
        #expect(decodeErrors(json).isEmpty)
    }

    @Test("validate() checks topologies built in code")
    func validateModel() {
        let topology = Topology(switches: [SwitchSpec(name: "sw0", ports: [PortSpec(name: "a1")])],
                                links: [LinkSpec(a: PortRef(switchName: "sw0", port: "a1"),
                                                 b: PortRef(switchName: "sw0", port: "a2"))])
        let errors = topology.validate(file: "code")
        #expect(errors.map(\.description) == [#"code: $.links[0].b: port "a2" not found on switch "sw0"; did you mean "a1"?"#])
    }
}
