// PostcopyReceiver: the destination's side of post-copy. From the `postcopyStart` bitmap on it
// drops its stale copies of the missing pages, registers guest RAM with a userfaultfd (missing
// mode) and owns the connection's receiving side: a reader thread installs arriving pages with
// UFFDIO_COPY (which wakes whoever waits for them) and queues every other message for the
// protocol thread, and a fault thread turns each fault on a missing page into a `pageRequest`
// (a fault on a page that was never populated gets a zero page at once). Neither the
// interpreter nor virtio DMA checks anything per access: a thread touching a missing page
// sleeps in the kernel until the page is there.

import CLinuxShims
import Foundation
import Machine

/// Errors of post-copy on the destination.
public struct PostcopyError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}

/// Receives the missing pages of one post-copy migration.
final class PostcopyReceiver: @unchecked Sendable {
    private let memory: GuestMemory
    private let connection: MigrationConnection
    private let uffd: Int32
    private let condition = NSCondition()
    /// Missing pages (bit set) and pages already asked for; under `condition`.
    private var missing: [UInt64]
    private var requested: [UInt64]
    private var remaining: Int
    private var messages: [MigrationMessage] = []
    private var failure: String?
    private var sourceDone = false
    private var finished = false
    private var registered = true
    /// Stops the VM once it runs (set at the confirm); called on failure before RAM is
    /// unregistered, so the guest does not go on with zero pages.
    private var stopVM: (() -> Void)?
    /// Pages asked for on demand.
    private(set) var faults = 0

    /// Takes over `connection` for a RAM with the `missing` bitmap: drops the stale copies,
    /// registers RAM for missing-page faults and starts the reader and fault threads.
    init(memory: GuestMemory, connection: MigrationConnection, missing: [UInt64]) throws(PostcopyError) {
        self.memory = memory
        self.connection = connection
        self.missing = missing
        requested = [UInt64](repeating: 0, count: missing.count)
        remaining = missing.reduce(0) { $0 + $1.nonzeroBitCount }
        let fd = sb_uffd_open()
        guard fd >= 0 else { throw PostcopyError(description: "userfaultfd: \(String(cString: strerror(-fd)))") }
        uffd = fd
        // Drop what we hold of the missing pages (older copies): they fault until they arrive.
        var run: Int? = nil
        for page in 0...memory.pageCount {
            let isMissing = page < memory.pageCount && missing[page >> 6] & (1 << UInt64(page & 63)) != 0
            if isMissing { if run == nil { run = page } } else if let start = run {
                memory.discard(pages: start..<page)
                run = nil
            }
        }
        // SAFETY: each region is guest RAM mapped for the VM's lifetime, page aligned.
        for r in memory.regions {
            let rc = sb_uffd_register(fd, r.host, r.size)
            guard rc >= 0 else {
                close(fd)
                throw PostcopyError(description: "userfaultfd register: \(String(cString: strerror(-rc)))")
            }
        }
        let reader = Thread { [self] in readLoop() }
        reader.name = "postcopy-reader"
        reader.start()
        let faulter = Thread { [self] in faultLoop() }
        faulter.name = "postcopy-faults"
        faulter.start()
    }

    private func isSet(_ bits: [UInt64], _ page: Int) -> Bool { bits[page >> 6] & (1 << UInt64(page & 63)) != 0 }

    /// The next message that is not a page batch, waiting until `deadline`.
    func next(until deadline: Date) throws(PostcopyError) -> MigrationMessage {
        condition.lock()
        defer { condition.unlock() }
        while messages.isEmpty {
            if let failure { throw PostcopyError(description: failure) }
            if !condition.wait(until: deadline) && messages.isEmpty {
                if let failure { throw PostcopyError(description: failure) }
                throw PostcopyError(description: "timed out waiting for the source")
            }
        }
        return messages.removeFirst()
    }

    /// Waits until every missing page is in place (then tells the source), or throws why not.
    func waitUntilComplete() throws(PostcopyError) -> Int {
        condition.lock()
        while !finished && failure == nil { condition.wait() }
        let (failure, faults) = (self.failure, self.faults)
        condition.unlock()
        if let failure { throw PostcopyError(description: failure) }
        return faults
    }

    /// Pages still missing.
    var missingPages: Int { condition.withLock { remaining } }

    /// The VM is about to run: on a failure from now on, `stop` is called first.
    func vmStarting(stop: @escaping () -> Void) {
        condition.withLock { stopVM = stop }
    }

    /// Records the first failure, stops the VM if it runs, and unregisters RAM so that no
    /// thread (a vCPU, the datapath in DMA, the protocol thread behind it) waits for a page
    /// that will not come.
    private func fail(_ reason: String) {
        let stop = condition.withLock { () -> (() -> Void)?? in
            guard failure == nil && !finished else { return nil }
            failure = reason
            condition.broadcast()
            return .some(stopVM)
        }
        guard let stop else { return }
        stop?()
        unregister()
    }

    /// Gives up (the protocol failed): as a failure of the receiver, and the connection is
    /// closed. Safe to call more than once.
    func abandon(_ reason: String = "post-copy abandoned") {
        fail(reason)
        unregister()
        connection.close()
    }

    private func unregister() {
        let wasRegistered = condition.withLock { () -> Bool in
            let r = registered
            registered = false
            return r
        }
        guard wasRegistered else { return }
        for r in memory.regions {
            _ = sb_uffd_unregister(uffd, r.host, r.size)
            _ = sb_uffd_wake(uffd, r.host, r.size)
        }
    }

    // The threads hold the receiver: it (and the descriptor) goes once both have ended.
    deinit { close(uffd) }

    private var stopping: Bool { condition.withLock { finished || failure != nil } }

    /// The reader thread: installs pages, queues the rest.
    private func readLoop() {
        while !stopping {
            let m: MigrationMessage
            do { m = try connection.receive(timeout: connection.timeout) } catch {
                fail("the connection to the source broke (\(error))")
                return
            }
            switch m.type {
            case .pages:
                do {
                    try PageBatch.decode(m.payload, pageCount: memory.pageCount, { index, bytes in self.install(index, bytes) },
                                        run: { range in for p in range { self.install(p, nil) } })
                } catch {
                    fail("bad page batch from the source (\(error))")
                    return
                }
                checkComplete()
            case .postcopyDone:
                condition.withLock { sourceDone = true }
                checkComplete()
            case .abort:
                fail("the source aborted: \(m.text)")
                return
            default:
                condition.withLock {
                    messages.append(m)
                    condition.broadcast()
                }
            }
        }
    }

    /// Puts one arrived page in place (data, or zeros when `bytes` is nil) if it is still
    /// missing. The bit is cleared only after the copy: a fault meanwhile asks again rather
    /// than getting a zero page.
    private func install(_ index: Int, _ bytes: UnsafeRawBufferPointer?) {
        let wanted = condition.withLock { isSet(missing, index) }
        guard wanted, let page = memory.hostPage(index) else { return }
        let rc: Int32
        // SAFETY: `page` is the host address of page `index` (checked by hostPage), inside a
        // registered region; `bytes` is a whole page of the decoded payload, alive for this call.
        if let base = bytes?.baseAddress {
            rc = sb_uffd_copy(uffd, page, base, UInt64(PageBatch.pageSize))
        } else {
            rc = sb_uffd_zeropage(uffd, page, UInt64(PageBatch.pageSize))
        }
        if rc < 0 && rc != -EEXIST && condition.withLock({ registered }) {
            fail("installing page \(index) failed: \(String(cString: strerror(-rc)))")
            return
        }
        condition.withLock {
            if isSet(missing, index) {
                missing[index >> 6] &= ~(1 << UInt64(index & 63))
                remaining -= 1
            }
        }
    }

    /// Every page in and the source done: unregister, tell the source.
    private func checkComplete() {
        let done = condition.withLock { remaining == 0 && sourceDone && !finished && failure == nil }
        guard done else { return }
        unregister()
        var payload: [UInt8] = []
        payload.appendLE(UInt32(clamping: condition.withLock { faults }))
        do { try connection.send(MigrationMessage(.postcopyComplete, payload)) } catch {
            // Every page is here: the VM is whole whatever the source hears.
        }
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }

    /// The fault thread: a missing page is asked for (once); any other page that faults was
    /// never populated (or has just arrived) and gets a zero page or a wake-up.
    private func faultLoop() {
        while !stopping {
            var address: UInt64 = 0
            let r = sb_uffd_next_fault(uffd, 50, &address)
            if r < 0 {
                fail("reading page faults failed: \(String(cString: strerror(-r)))")
                return
            }
            guard r == 1 else { continue }
            let aligned = address & ~(GuestMemory.pageSize - 1)
            guard let region = memory.regions.first(where: { aligned >= UInt64(UInt(bitPattern: $0.host)) &&
                                                         aligned < UInt64(UInt(bitPattern: $0.host)) + $0.size }) else { continue }
            let index = region.firstPage + Int((aligned - UInt64(UInt(bitPattern: region.host))) / GuestMemory.pageSize)
            let ask = condition.withLock { () -> Bool? in
                guard isSet(missing, index) else { return nil }
                if isSet(requested, index) { return false }
                requested[index >> 6] |= 1 << UInt64(index & 63)
                faults += 1
                return true
            }
            guard let page = memory.hostPage(index) else { continue }
            // SAFETY: `page` is page `index` of a registered region (found above from the
            // faulting address); the ioctls only install or wake, never read through it.
            switch ask {
            case nil:
                // Not missing: never populated (a zero page), or installed since the fault.
                let z = sb_uffd_zeropage(uffd, page, UInt64(PageBatch.pageSize))
                if z == -EEXIST { _ = sb_uffd_wake(uffd, page, UInt64(PageBatch.pageSize)) }
            case true?:
                do { try connection.send(MigrationMessage(.pageRequest, PageRequest.encode([index]))) } catch {
                    fail("asking the source for page \(index) failed (\(error))")
                    return
                }
            case false?:
                break
            }
        }
    }
}
