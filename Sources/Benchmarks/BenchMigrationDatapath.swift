// The in-process network of `bench migration`'s Switchboard side: a datapath thread that
// services the VMs' NICs, drains the fabric, sends the outage probe's requests on schedule and
// runs the migration's `onDatapath` closures between turns; and the probe's switch port.

import Foundation
import Frames
import Switching
import VMHost

/// One datapath thread over a fabric. `attachments` and `probe` belong to that thread once it
/// runs: change them only inside `sync`.
final class BenchDatapath: @unchecked Sendable {
    let fabric: Fabric
    /// NICs serviced every turn, with their switch ports.
    var attachments: [(vm: VirtualMachine, nic: Int, port: Fabric.PortRef)] = []
    /// The probe whose requests go out from this thread.
    var probe: EchoProbePort?

    /// A closure waiting for the datapath thread; emptied there before its caller goes on.
    private final class Task {
        var body: (() -> Void)?
        let done = DispatchSemaphore(value: 0)
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private let lock = NSLock()
    private var tasks: [Task] = []
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)

    init(fabric: Fabric) { self.fabric = fabric }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "bench-datapath"
        thread.start()
    }

    private func loop() {
        let clock = SystemClock()
        while true {
            let (work, stop) = lock.withLock { () -> ([Task], Bool) in
                defer { tasks.removeAll() }
                return (tasks, stopping)
            }
            for t in work {
                t.body?()
                t.body = nil
                t.done.signal()
            }
            if stop && work.isEmpty { break }
            let now = clock.now()
            var moved = probe?.tick(fabric: fabric, now: now) ?? 0
            for a in attachments {
                moved += a.vm.serviceNetwork(nic: a.nic, switch: fabric.switches[a.port.switchIndex], port: a.port.port, now: now)
            }
            fabric.drain(now: now)
            if moved == 0 && work.isEmpty { usleep(50) }
        }
        stopped.signal()
    }

    /// Runs `body` on the datapath thread and returns when it has.
    func sync(_ body: () -> Void) {
        withoutActuallyEscaping(body) { escapable in
            let task = Task(escapable)
            lock.withLock { tasks.append(task) }
            task.done.wait()
        }
    }

    /// Stops servicing `vm` (datapath thread).
    func remove(_ vm: VirtualMachine) { attachments.removeAll { $0.vm === vm } }

    /// Ends the thread after the closures already queued.
    func finish() {
        lock.withLock { stopping = true }
        stopped.wait()
    }
}

/// The outage probe on a switch port: sends a numbered echo request every `interval` while
/// active (from `tick`, on the datapath thread) and records the replies the switch
/// transmits to it. Frames are read as they sit in the pool: the bench's ports are untagged.
final class EchoProbePort: PortSink {
    let port: Fabric.PortRef
    let interval: Int64
    private(set) var log = ProbeLog()
    private var active = false
    private var next: Int64 = 0

    init(port: Fabric.PortRef, interval: Int64) {
        self.port = port
        self.interval = interval
    }

    /// Starts sending (datapath thread).
    func start() {
        active = true
        next = monotonicNanos()
    }

    /// Stops sending; replies are still recorded (datapath thread).
    func stop() { active = false }

    /// Sends the requests due (a late thread catches up, as a sender's queue would fill);
    /// returns how many.
    func tick(fabric: Fabric, now: Int64) -> Int {
        guard active else { return 0 }
        var sent = 0
        var t = monotonicNanos()
        while t >= next && sent < 64 {
            let frame = EchoProbeFrame.request(log.sent(at: t))
            frame.withUnsafeBytes { _ = fabric.inject($0, at: port, now: now) }
            next += interval
            sent += 1
            t = monotonicNanos()
        }
        return sent
    }

    func transmit(_ entries: UnsafeBufferPointer<TransmitEntry>, pool: PacketPool, now: Int64) {
        let t = monotonicNanos()
        for e in entries {
            // SAFETY: the slot is ours (the switch handed it over) until released below.
            if let sequence = EchoProbeFrame.replySequence(pool.bytes(e.handle)) { log.replied(sequence, at: t) }
            pool.release(e.handle)
        }
    }
}
