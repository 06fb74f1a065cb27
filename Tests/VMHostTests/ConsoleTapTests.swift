// ConsoleTap on its own: the output ring read at independent positions (skips counted when a
// reader falls more than the ring behind), the replay start at a line, the bounded input
// queue, the session cap, and the wake-up given at most once until the reader catches up.

import Foundation
import Synchronization
import Testing
@testable import VMHost

@Suite struct ConsoleTapTests {
    private func put(_ tap: ConsoleTap, _ text: String) { for b in text.utf8 { tap.put(b) } }

    private func read(_ tap: ConsoleTap, from: UInt64, max: Int = 1024) -> (text: String, skipped: UInt64, next: UInt64) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max, alignment: 1)
        defer { buffer.deallocate() }
        let r = tap.read(from: from, into: buffer)
        return (String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<r.count]), as: UTF8.self), r.skipped, r.next)
    }

    @Test func readersKeepTheirOwnPositionAndOneThatFallsBehindIsToldHowFar() {
        let tap = ConsoleTap(capacity: 16, inputCapacity: 8)
        put(tap, "0123456789")
        let a = read(tap, from: 0)
        #expect(a.text == "0123456789" && a.skipped == 0 && a.next == 10)
        put(tap, "abcdefghijklmnop")  // 26 written: the ring holds the last 16
        let late = read(tap, from: 0)
        #expect(late.skipped == 10)
        #expect(late.text == "abcdefghijklmnop")
        #expect(late.next == 26)
        let caughtUp = read(tap, from: a.next)
        #expect(caughtUp.text == "abcdefghijklmnop" && caughtUp.skipped == 0)
        // A small buffer takes what fits and the rest stays for the next read.
        let part = read(tap, from: 20, max: 4)
        #expect(part.text == "klmn" && part.next == 24)
    }

    @Test func theReplayStartsAtALineAndNeverBeforeTheOldestByte() {
        let tap = ConsoleTap(capacity: 64)
        #expect(tap.tailStart(maxBytes: 32) == 0)
        put(tap, "first line\nsecond line\nprompt> ")
        let start = tap.tailStart(maxBytes: 16)
        #expect(read(tap, from: start).text == "prompt> ")
        #expect(read(tap, from: tap.tailStart(maxBytes: 1000)).text == "first line\nsecond line\nprompt> ")
        put(tap, String(repeating: "z", count: 100))  // no line break left in the ring
        let s = tap.tailStart(maxBytes: 1000)
        #expect(s == tap.position - 64)
    }

    @Test func typedInputIsBoundedAndComesOutInOrder() {
        let tap = ConsoleTap(capacity: 16, inputCapacity: 8)
        let taken = Array("hello, world".utf8).withUnsafeBytes { tap.type($0) }
        #expect(taken == 8)
        #expect(tap.pendingInput == 8)
        #expect(tap.takeInput(max: 5) == Array("hello".utf8))
        #expect(Array("!!!!".utf8).withUnsafeBytes { tap.type($0) } == 4)  // wraps around
        #expect(tap.takeInput(max: 100) == Array(", w!!!!".utf8))
        #expect(tap.takeInput(max: 100) == nil)
    }

    @Test func atMostLimitSessionsAndTheWakeUpComesOncePerCatchUp() {
        let tap = ConsoleTap(capacity: 64)
        let wakes = Atomic<Int>(0)
        let wake: @Sendable () -> Void = { wakes.add(1, ordering: .relaxed) }
        #expect(tap.attach(limit: 2, wake: wake))
        #expect(tap.attach(limit: 2, wake: wake))
        #expect(!tap.attach(limit: 2, wake: wake))
        #expect(tap.attachedSessions == 2)
        put(tap, "abc")
        #expect(wakes.load(ordering: .relaxed) == 1)
        let r = read(tap, from: 0)
        #expect(r.next == 3)
        put(tap, "d")
        #expect(wakes.load(ordering: .relaxed) == 2)
        tap.detach()
        tap.detach()
        #expect(tap.attachedSessions == 0)
        put(tap, "e")
        #expect(wakes.load(ordering: .relaxed) == 2)  // nobody to wake
        #expect(tap.attach(limit: 2, wake: wake))
    }
}
