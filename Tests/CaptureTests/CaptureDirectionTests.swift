// CaptureDirectionTests: the words topologies use and what each direction includes.
import Capture
import Foundation
import Testing

@Suite struct CaptureDirectionTests {
    @Test func rawValuesAreTheTopologyWords() throws {
        #expect(CaptureDirection.allCases.map(\.rawValue) == ["rx", "tx", "both"])
        #expect(CaptureDirection(rawValue: "both") == .both)
        #expect(CaptureDirection(rawValue: "in") == nil)
        let decoded = try JSONDecoder().decode([CaptureDirection].self, from: Data(#"["tx","rx"]"#.utf8))
        #expect(decoded == [.tx, .rx])
    }

    @Test func directionsIncludeTheRightSide() {
        #expect(CaptureDirection.rx.includesReceive && !CaptureDirection.rx.includesTransmit)
        #expect(!CaptureDirection.tx.includesReceive && CaptureDirection.tx.includesTransmit)
        #expect(CaptureDirection.both.includesReceive && CaptureDirection.both.includesTransmit)
    }
}
