// ConsoleTap: what attached console sessions (`switchboard console VM`) share with a VM's
// console: a fixed ring of the bytes the guest printed, numbered from the first, which every
// session reads at its own position (a session that falls more than the ring behind skips the
// oldest bytes and is told how many), and a bounded queue of bytes typed by sessions that the
// vCPU thread hands to the guest's UART as the guest takes them. The vCPU never waits for a
// session: it stores a byte and, at most once per drain by the reader, calls `wake`.

import Foundation

/// The shared buffers between a VM's console and its attached sessions (thread-safe).
public final class ConsoleTap: @unchecked Sendable {
    /// Bytes of console output kept for sessions (a session lagging more loses the oldest).
    public let capacity: Int
    /// Bytes typed by sessions and not yet handed to the guest, at most.
    public let inputCapacity: Int
    private let lock = NSLock()
    // SAFETY: both buffers are allocated once here and freed in deinit; every index into them
    // is reduced modulo their size, and they are touched only under `lock`.
    private let ring: UnsafeMutableRawBufferPointer
    /// Bytes printed since the VM was built (the position after the newest byte).
    private var written: UInt64 = 0
    private let input: UnsafeMutableRawBufferPointer
    private var inputHead = 0
    private var inputCount = 0
    /// Called (outside the lock, on the vCPU thread) when output arrives and the reader has
    /// not been told since it last read; nil while no session is attached.
    private var wake: (@Sendable () -> Void)?
    private var wakePending = false
    private var sessions = 0

    /// A tap keeping `capacity` bytes of output and `inputCapacity` bytes of typed input.
    public init(capacity: Int = 32_768, inputCapacity: Int = 4_096) {
        self.capacity = max(1, capacity)
        self.inputCapacity = max(1, inputCapacity)
        ring = .allocate(byteCount: self.capacity, alignment: 8)
        input = .allocate(byteCount: self.inputCapacity, alignment: 8)
    }

    deinit {
        ring.deallocate()
        input.deallocate()
    }

    /// A byte the guest printed (vCPU thread).
    func put(_ byte: UInt8) {
        lock.lock()
        ring[Int(written % UInt64(capacity))] = byte
        written &+= 1
        var notify: (@Sendable () -> Void)? = nil
        if let wake, !wakePending {
            wakePending = true
            notify = wake
        }
        lock.unlock()
        notify?()
    }

    /// Puts earlier output back (a VM arriving by migration: its recent lines), without waking anyone.
    func seed(_ bytes: [UInt8]) {
        lock.withLock {
            for b in bytes.suffix(capacity) {
                ring[Int(written % UInt64(capacity))] = b
                written &+= 1
            }
        }
    }

    /// The position after the newest byte.
    public var position: UInt64 { lock.withLock { written } }

    /// Where a new session starts reading: at most `maxBytes` back from the newest byte, at the
    /// start of a line when the window holds a line break (so the replay shows whole lines
    /// and the prompt).
    public func tailStart(maxBytes: Int) -> UInt64 {
        lock.withLock {
            let oldest = written > UInt64(capacity) ? written - UInt64(capacity) : 0
            let back = UInt64(max(0, min(maxBytes, capacity)))
            var start = max(oldest, written >= back ? written - back : 0)
            if start > oldest {
                // Skip the partial line at the window's start, unless the window holds nothing else.
                var p = start
                while p < written && ring[Int(p % UInt64(capacity))] != 10 { p += 1 }
                if p + 1 < written { start = p + 1 }
            }
            return start
        }
    }

    /// Copies output from `from` into `buffer`. Returns the bytes copied, the bytes skipped
    /// because the ring no longer holds them (the reader fell behind), and the next position.
    /// A reader that catches up re-arms the wake-up.
    public func read(from: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, skipped: UInt64, next: UInt64) {
        lock.withLock {
            let oldest = written > UInt64(capacity) ? written - UInt64(capacity) : 0
            var position = min(from, written)
            let skipped = position < oldest ? oldest - position : 0
            position = max(position, oldest)
            let count = Int(min(UInt64(buffer.count), written - position))
            for i in 0..<count { buffer[i] = ring[Int((position + UInt64(i)) % UInt64(capacity))] }
            position += UInt64(count)
            if position == written { wakePending = false }
            return (count, skipped, position)
        }
    }

    /// Registers a session (at most `limit` at once); `wake` is called from the vCPU thread
    /// when output arrives. False when `limit` sessions are attached already.
    public func attach(limit: Int, wake: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            guard sessions < limit else { return false }
            sessions += 1
            self.wake = wake
            wakePending = false
            return true
        }
    }

    /// Unregisters a session; the last one clears the wake-up.
    public func detach() {
        lock.withLock {
            sessions = max(0, sessions - 1)
            if sessions == 0 { wake = nil }
        }
    }

    /// Sessions attached now.
    public var attachedSessions: Int { lock.withLock { sessions } }

    /// Queues typed bytes for the guest; returns how many fit (the rest must wait).
    public func type(_ bytes: UnsafeRawBufferPointer) -> Int {
        lock.withLock {
            let n = min(bytes.count, inputCapacity - inputCount)
            for i in 0..<n { input[(inputHead + inputCount + i) % inputCapacity] = bytes[i] }
            inputCount += n
            return n
        }
    }

    /// Typed bytes waiting for the guest.
    public var pendingInput: Int { lock.withLock { inputCount } }

    /// Takes up to `max` queued input bytes (vCPU thread); nil when there are none.
    func takeInput(max: Int) -> [UInt8]? {
        lock.withLock {
            guard inputCount > 0, max > 0 else { return nil }
            let n = min(max, inputCount)
            var bytes = [UInt8](repeating: 0, count: n)
            for i in 0..<n { bytes[i] = input[(inputHead + i) % inputCapacity] }
            inputHead = (inputHead + n) % inputCapacity
            inputCount -= n
            return bytes
        }
    }
}
