// MigrationSource+Postcopy: when pre-copy does not converge (stalled, or the round limit) and
// post-copy is on, the stop-and-copy sends the bitmap of the pages still dirty instead of the
// pages; after the switchover the source, its VM stopped, serves them: pages the destination
// asks for first, the rest in the background, then `postcopyDone`, until the destination says
// `postcopyComplete`. The point of no return is the `ack`: from then on a failure loses the VM
// (the destination lacks pages, the source's state is stale) and the source does not run it.

import Foundation

/// The pages a post-copy source still owes the destination.
final class PostcopySource {
    private var unsent: [UInt64]
    private var cursor = 0
    /// Pages not sent yet.
    private(set) var left: Int
    /// Pages the destination asked for (each counted once).
    private(set) var faults = 0
    let pageCount: Int

    init(pages: [Int], pageCount: Int) {
        self.pageCount = pageCount
        unsent = [UInt64](repeating: 0, count: (pageCount + 63) / 64)
        for p in pages where p >= 0 && p < pageCount { unsent[p >> 6] |= 1 << UInt64(p & 63) }
        left = unsent.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// Takes `page` if it is still owed.
    func take(_ page: Int) -> Bool {
        let bit: UInt64 = 1 << UInt64(page & 63)
        guard unsent[page >> 6] & bit != 0 else { return false }
        unsent[page >> 6] &= ~bit
        left -= 1
        return true
    }

    /// Of the requested pages, those still owed (now taken); each counts as a fault.
    func takeRequested(_ pages: [Int]) -> [Int] {
        let owed = pages.filter { take($0) }
        faults += owed.count
        return owed
    }

    /// Up to `count` owed pages in address order (now taken).
    func takeNext(_ count: Int) -> [Int] {
        var out: [Int] = []
        while out.count < count && cursor < unsent.count {
            let word = unsent[cursor]
            if word == 0 { cursor += 1; continue }
            let page = cursor << 6 | word.trailingZeroBitCount
            _ = take(page)
            out.append(page)
        }
        return out
    }
}

extension SourceRun {
    /// Whether the stop-and-copy switches to post-copy: the option is on and pre-copy did not
    /// converge (it stalled or ran into the round limit) with pages left.
    func switchesToPostcopy(dirty: Int) -> Bool {
        options.postcopy && dirty > 0 && (report.stalled || round > options.maxRounds)
    }

    /// Sends the bitmap of the `pages` still dirty instead of the pages.
    mutating func startPostcopy(_ pages: [Int]) throws(MigrationError) {
        postcopy = PostcopySource(pages: pages, pageCount: memory.pageCount)
        report.postcopyFaults = 0
        try send(MigrationMessage(.postcopyStart, PostcopyBitmap.encode(pages, pageCount: memory.pageCount)))
    }

    /// Sends `pages` (from the paused or stopped VM's RAM) in batches.
    func sendOwed(_ pages: [Int]) throws(MigrationError) {
        var batch = PageBatchWriter(limit: options.pagesPerMessage)
        for index in pages {
            // SAFETY: hostPage checked `index`; the VM is paused or stopped, so the page is
            // read whole while nothing writes it.
            guard let page = memory.hostPage(index).map(UnsafeRawPointer.init) else { throw fail("page \(index) is outside RAM") }
            _ = batch.page(index, page)
            if batch.full { try send(MigrationMessage(.pages, batch.take())) }
        }
        if !batch.isEmpty { try send(MigrationMessage(.pages, batch.take())) }
    }

    /// Answers a `pageRequest` at once with the pages still owed.
    func serve(_ request: MigrationMessage) throws(MigrationError) {
        guard let postcopy else { throw fail("unexpected page request") }
        let pages: [Int]
        do { pages = try PageRequest.decode(request.payload, pageCount: postcopy.pageCount) } catch { throw fail("\(error)") }
        try sendOwed(postcopy.takeRequested(pages))
    }

    /// After the switchover: every owed page, requested ones first, then `postcopyDone`, and
    /// the destination's `postcopyComplete`. Throws "VM lost: ..." when the destination goes.
    mutating func servePostcopy() throws(MigrationError) {
        guard let postcopy else { return }
        let lost = { (why: String) in MigrationError(.switchover, "VM lost: \(why)") }
        func requests(wait: Double) throws(MigrationError) -> MigrationMessage? {
            do { return try connection.poll(wait: wait) } catch { throw lost("the destination is gone during post-copy (\(error))") }
        }
        func handle(_ m: MigrationMessage) throws(MigrationError) {
            switch m.type {
            case .pageRequest:
                do { try serve(m) } catch { throw lost(error.reason) }
            case .abort: throw lost("the destination aborted during post-copy: \(m.text)")
            default: throw lost("unexpected \(m.type) from the destination during post-copy")
            }
        }
        var batches = 0
        while postcopy.left > 0 {
            while let m = try requests(wait: 0) {
                if m.type == .postcopyComplete { throw lost("the destination finished with pages still owed") }
                try handle(m)
            }
            // Small background batches: a request waits behind at most one of them.
            let pages = postcopy.takeNext(16)
            do { try sendOwed(pages) } catch { throw lost(error.reason) }
            report.pages += pages.count
            batches += 1
            if batches % 16 == 0 { progress(dirty: postcopy.left) }
        }
        do { try send(MigrationMessage(.postcopyDone)) } catch { throw lost(error.reason) }
        progress(dirty: 0)
        let deadline = Date(timeIntervalSinceNow: options.timeout)
        var complete: MigrationMessage
        while true {
            guard let m = try requests(wait: 0.05) else {
                if Date() >= deadline { throw lost("the destination did not confirm the last pages") }
                continue
            }
            if m.type == .postcopyComplete { complete = m; break }
            try handle(m)
        }
        // The destination counts every page it asked for (some were on their way already).
        let asked = complete.payload.count == 4 ? Int(complete.payload.readLE(at: 0) as UInt32) : 0
        report.postcopyFaults = max(postcopy.faults, asked)
    }
}
