// Decoding of a switch's OpenFlow keys: controllers, openflow_listen, fail_mode, datapath_id,
// openflow_tables.
import OpenFlow

extension DecodeContext {
    static let openFlowKeys = ["controllers", "openflow_listen", "fail_mode", "datapath_id", "openflow_tables"]

    /// The switch's OpenFlow settings, nil when it has none of the keys.
    func decodeOpenFlow(_ sw: ObjectReader) -> OpenFlowSpec? {
        guard Self.openFlowKeys.contains(where: { sw.has($0) }) else { return nil }
        var spec = OpenFlowSpec()
        if let at = sw.optional("controllers"), let elements = array(at, what: "controller") {
            for element in elements {
                guard let text = string(element), let endpoint = endpoint(text, at: element) else { continue }
                guard case .active = endpoint else {
                    report(element, "\"\(text.escapedForTerminal)\" is a listener; \"controllers\" takes tcp:IP[:PORT] (a passive listener is \"openflow_listen\")")
                    continue
                }
                if spec.controllers.contains(endpoint) {
                    report(element, "controller \(endpoint) is listed twice")
                    continue
                }
                spec.controllers.append(endpoint)
            }
        }
        if let at = sw.optional("openflow_listen"), let text = string(at), let endpoint = endpoint(text, at: at) {
            if case .passive = endpoint {
                spec.listen = endpoint
            } else {
                report(at, "\"\(text.escapedForTerminal)\" connects out; \"openflow_listen\" takes ptcp:PORT[:IP] (controllers to connect to go in \"controllers\")")
            }
        }
        if let at = sw.optional("fail_mode"), let mode = choice(at, OpenFlowSpec.FailMode.allCases.map(\.rawValue)) {
            spec.failMode = OpenFlowSpec.FailMode(rawValue: mode) ?? .standalone
        }
        if let at = sw.optional("datapath_id") { spec.datapathID = datapathID(at) }
        if let at = sw.optional("openflow_tables") {
            spec.tables = integer(at, in: OpenFlowSpec.tableRange, label: "openflow_tables") ?? OpenFlowSpec.defaultTables
        }
        if spec.controllers.isEmpty && spec.listen == nil {
            report(sw.located, "an OpenFlow switch needs \"controllers\" (tcp:IP[:PORT]) or \"openflow_listen\" (ptcp:PORT[:IP]); "
                + "without either no controller can reach it")
        }
        return spec
    }

    private func endpoint(_ text: String, at: Located) -> OFEndpoint? {
        do { return try OFEndpoint.parse(text) } catch {
            report(at, error.description)
            return nil
        }
    }

    /// A datapath id: up to 16 hex digits (optionally "0x"), or a non-negative integer.
    private func datapathID(_ at: Located) -> UInt64? {
        switch at.node.value {
        case .integer(let v) where v >= 0:
            return UInt64(v)
        case .string(let text):
            let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
            if (1...16).contains(digits.count), let v = UInt64(digits, radix: 16) { return v }
            report(at, "datapath_id \"\(text.escapedForTerminal)\" is not 1 to 16 hex digits (as \"0000000000000001\")")
            return nil
        default:
            report(at, "expected a datapath id (a string of up to 16 hex digits, or a non-negative integer), found \(at.node.value.kindDescription)")
            return nil
        }
    }
}
