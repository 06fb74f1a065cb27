// Datapath: the one thread that moves frames between host devices and the switches. It
// polls every port's descriptor with epoll, receives a batch at a time into pool slots,
// switches it, drains the fabric into the ports' sinks, ages MAC tables about once a
// second, takes a port down when its device disappears, and runs control requests between
// batches (the switches are single-threaded, so nothing else may touch them).

import CLinuxShims
import Foundation
import Frames
import Switching

/// The datapath loop over a `Fabric` and the host ports attached to it.
///
/// Build it, `attach` ports, then call `run()` on the thread that owns the fabric from then
/// on. Other threads talk to it only through `perform(_:)` and `requestStop()`.
public final class Datapath: @unchecked Sendable {
    /// The switches and links.
    public let fabric: Fabric
    /// The clock read once per batch.
    public let clock: DatapathClock
    /// Frames received per batch (at most `TransmitBatch.capacity`).
    public var batchSize = 32
    /// Batches taken from one descriptor before the loop turns to the next.
    public var batchesPerWakeup = 8
    /// Nanoseconds between MAC table agings.
    public var agingInterval: Int64 = 1_000_000_000
    /// Runs on the loop about once a second (after aging): flush captures, check timers.
    public var tick: ((Datapath, Int64) -> Void)?
    /// Where events (ports going down) are reported.
    public var log: @Sendable (String) -> Void = { message in
        FileHandle.standardError.write(Data("switchboard: \(message)\n".utf8))
    }

    /// One attached port and its state.
    public struct Attachment {
        /// The switch port.
        public let ref: Fabric.PortRef
        /// The device.
        public let port: any DatapathPort
        /// Whether the loop still polls it.
        public fileprivate(set) var active: Bool
        /// Why it was taken down.
        public fileprivate(set) var downReason: String?
    }

    /// The attached ports, in the order they were attached.
    public private(set) var attachments: [Attachment] = []

    private let epollFD: Int32
    private let wakeFD: Int32
    private let handles: UnsafeMutablePointer<PacketHandle>
    private let tokens: UnsafeMutablePointer<UInt64>
    private let events: UnsafeMutablePointer<UInt32>
    private var watchers: [UInt64: (Datapath, UInt32) -> Void] = [:]
    private var watchedFDs: [Int32: UInt64] = [:]
    private var nextWatchToken: UInt64 = Datapath.watchTokenBase
    private var nextAging: Int64 = 0
    private var stopping = false

    private let lock = NSLock()
    private nonisolated(unsafe) var loopThread: Thread?
    private var pending: [(Datapath) -> Void] = []
    private var stopRequested = false
    /// Set once `run()` has returned: `sync` then runs its body in the caller.
    private var ended = false

    private static let wakeToken: UInt64 = 1 << 40
    private static let watchTokenBase: UInt64 = 1 << 32
    private static let epollIn: UInt32 = 0x001
    private static let epollErr: UInt32 = 0x008
    private static let epollHup: UInt32 = 0x010

    /// Creates the loop's epoll and wake descriptors.
    public init(fabric: Fabric, clock: DatapathClock = SystemClock()) throws(HostNetworkingError) {
        self.fabric = fabric
        self.clock = clock
        epollFD = try HostNetworkingError.check(sb_epoll_create(), "create", "epoll descriptor")
        let wake = sb_eventfd()
        if wake < 0 {
            _ = sb_close(epollFD)
            throw .system(operation: "create", subject: "eventfd", errno: -wake)
        }
        wakeFD = wake
        _ = sb_epoll_add(epollFD, wakeFD, Self.wakeToken)
        handles = .allocate(capacity: TransmitBatch.capacity)
        tokens = .allocate(capacity: TransmitBatch.capacity)
        events = .allocate(capacity: TransmitBatch.capacity)
    }

    deinit {
        for a in attachments { a.port.close() }
        _ = sb_close(epollFD)
        _ = sb_close(wakeFD)
        handles.deallocate(); tokens.deallocate(); events.deallocate()
    }

    /// Plugs `port` into switch port `ref`: the fabric hands it what the port transmits and
    /// the loop switches in what it receives.
    public func attach(_ port: any DatapathPort, at ref: Fabric.PortRef) throws(HostNetworkingError) {
        do {
            try fabric.attach(ref, sink: port)
        } catch {
            throw .invalid(error.description)
        }
        let token = UInt64(attachments.count)
        _ = try HostNetworkingError.check(sb_epoll_add(epollFD, port.fileDescriptor, token), "poll", port.name)
        attachments.append(Attachment(ref: ref, port: port, active: true, downReason: nil))
        fabric.switches[ref.switchIndex].setPortUp(ref.port, true)
    }

    /// Watches another descriptor (a control socket) on the loop; `handler` runs on the
    /// datapath thread with the epoll events.
    public func watch(_ fd: Int32, _ handler: @escaping (Datapath, UInt32) -> Void) throws(HostNetworkingError) {
        let token = nextWatchToken
        nextWatchToken += 1
        _ = try HostNetworkingError.check(sb_epoll_add(epollFD, fd, token), "poll", "descriptor \(fd)")
        watchers[token] = handler
        watchedFDs[fd] = token
    }

    /// Stops watching a descriptor (before closing it).
    public func unwatch(_ fd: Int32) {
        guard let token = watchedFDs.removeValue(forKey: fd) else { return }
        watchers[token] = nil
        _ = sb_epoll_remove(epollFD, fd)
    }

    /// Runs `body` on the datapath thread at the next wakeup (safe from any thread); once
    /// the loop has ended, at once in the caller.
    public func perform(_ body: @escaping @Sendable (Datapath) -> Void) {
        lock.lock()
        if ended {
            // The loop is gone for good: nothing else runs on the fabric any more.
            lock.unlock()
            body(self)
            return
        }
        pending.append(body)
        lock.unlock()
        _ = sb_eventfd_signal(wakeFD)
    }

    /// Runs `body` on the datapath thread and waits until it has run (from another thread;
    /// on the datapath thread itself it runs at once). The loop must be running, or about to.
    public func sync(_ body: () -> Void) {
        // On the loop's own thread, or once the loop has ended for good (cleanup), nothing
        // else touches the fabric: run it here.
        if Thread.current === loopThread || lock.withLock({ ended }) {
            body()
            return
        }
        withoutActuallyEscaping(body) { b in
            // The queued task reaches the body only through the box, emptied before returning.
            let box = SyncBox(b)
            let done = DispatchSemaphore(value: 0)
            perform { _ in
                box.body?()
                box.body = nil
                done.signal()
            }
            done.wait()
        }
    }

    /// Asks `run()` to return (safe from any thread and from signal context through
    /// `installStopSignals`).
    public func requestStop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
        _ = sb_eventfd_signal(wakeFD)
    }

    /// Makes SIGINT, SIGTERM and SIGHUP stop `run()` (cleanup then runs in the caller).
    public func installStopSignals() {
        _ = sb_install_stop_signals(wakeFD)
    }

    /// The signal that stopped the loop, if any.
    public var stopSignal: Int32? {
        let s = sb_stop_signal()
        return s == 0 ? nil : s
    }

    /// Polls until `requestStop()` or a stop signal.
    public func run() {
        loopThread = Thread.current
        defer { loopThread = nil }
        fabric.wallClockOffset = clock.wallClockOffset()
        nextAging = clock.now() + agingInterval
        while !stopping {
            poll(timeoutMilliseconds: 1000)
        }
        // Tasks queued meanwhile run now; later ones run in their callers (see `sync`).
        lock.lock()
        ended = true
        let work = pending
        pending.removeAll()
        lock.unlock()
        for body in work { body(self) }
    }

    /// One round: waits up to `timeoutMilliseconds` (bounded by the next aging), serves every
    /// ready descriptor, reports failed ports, ages tables when due.
    public func poll(timeoutMilliseconds: Int) {
        if nextAging == 0 {
            fabric.wallClockOffset = clock.wallClockOffset()
            nextAging = clock.now() + agingInterval
        }
        let untilAging = Int((nextAging - clock.now()) / 1_000_000)
        let timeout = Swift.max(0, Swift.min(timeoutMilliseconds, untilAging))
        let n = Int(sb_epoll_wait(epollFD, tokens, events, UInt32(TransmitBatch.capacity), Int32(timeout)))
        for i in 0..<Swift.max(0, n) {
            let token = tokens[i]
            if token < UInt64(attachments.count) {
                service(Int(token), events: events[i])
            } else if token == Self.wakeToken {
                wakeUp()
            } else if let handler = watchers[token] {
                handler(self, events[i])
            }
        }
        checkTransmitFailures()
        let now = clock.now()
        if now >= nextAging {
            // Captures' timestamps follow the wall clock, a step of it within a second;
            // aging runs on the monotonic `now` and never sees it.
            fabric.wallClockOffset = clock.wallClockOffset()
            fabric.age(now: now)
            nextAging = now + agingInterval
            tick?(self, now)
        }
    }

    private func wakeUp() {
        _ = sb_eventfd_drain(wakeFD)
        lock.lock()
        let work = pending
        pending.removeAll()
        if stopRequested { stopping = true }
        lock.unlock()
        if sb_stop_signal() != 0 { stopping = true }
        for body in work { body(self) }
    }

    /// Whether the loop has been asked to stop.
    public var isStopping: Bool { stopping }

    private func service(_ k: Int, events: UInt32) {
        let a = attachments[k]
        guard a.active else { return }
        let sw = fabric.switches[a.ref.switchIndex]
        let pool = fabric.pool
        var rounds = 0
        var lastCount = 0
        while rounds < batchesPerWakeup {
            let n = a.port.receive(into: handles, max: batchSize, pool: pool)
            if n < 0 {
                takeDown(k, reason: HostNetworkingError.errorText(Int32(-n)))
                return
            }
            lastCount = n
            if n == 0 { break }
            let now = clock.now()
            sw.receive(port: a.ref.port, batch: UnsafeBufferPointer(start: handles, count: n), now: now)
            fabric.drain(now: now)
            rounds += 1
        }
        if lastCount == 0 && events & (Self.epollErr | Self.epollHup) != 0 {
            takeDown(k, reason: events & Self.epollHup != 0 ? "device hung up" : "device error")
        }
    }

    private func checkTransmitFailures() {
        for k in attachments.indices where attachments[k].active {
            if let reason = attachments[k].port.failure { takeDown(k, reason: reason) }
        }
    }

    /// Takes port `k` down: the switch stops forwarding to it, the loop stops polling it.
    private func takeDown(_ k: Int, reason: String) {
        let a = attachments[k]
        guard a.active else { return }
        attachments[k].active = false
        attachments[k].downReason = reason
        _ = sb_epoll_remove(epollFD, a.port.fileDescriptor)
        let sw = fabric.switches[a.ref.switchIndex]
        sw.setPortUp(a.ref.port, false)
        log("port \(sw.name):\(sw.portNames[a.ref.port]) down: \(a.port.name): \(reason)")
    }

    /// Closes every attached port (devices we created go away with them).
    public func closeAll() {
        for k in attachments.indices {
            if attachments[k].active { _ = sb_epoll_remove(epollFD, attachments[k].port.fileDescriptor) }
            attachments[k].active = false
            attachments[k].port.close()
        }
    }
}

/// Carries a non-escaping body into a task queued with `perform` (see `Datapath.sync`).
private final class SyncBox: @unchecked Sendable {
    var body: (() -> Void)?
    init(_ body: @escaping () -> Void) { self.body = body }
}
