// VirtioBlock: a virtio-blk device (type 2) over a `DiskBackend`. Requests are served
// synchronously when the driver notifies: data moves between the image and guest memory
// with one copy (pread/pwrite straight into or out of the guest's buffers).

import Machine

/// A virtio-blk disk with one request queue: IN, OUT, FLUSH and GET_ID.
public final class VirtioBlock: VirtioDevice {
    /// VIRTIO_BLK_F_SEG_MAX (bit 2): `seg_max` is in config space.
    public static let featureSegmentMax: UInt64 = 1 << 2
    /// VIRTIO_BLK_F_RO (bit 5): the disk is read-only.
    public static let featureReadOnly: UInt64 = 1 << 5
    /// VIRTIO_BLK_F_FLUSH (bit 9): FLUSH requests are supported.
    public static let featureFlush: UInt64 = 1 << 9
    /// Request types.
    public static let typeIn: UInt32 = 0, typeOut: UInt32 = 1, typeFlush: UInt32 = 4, typeGetID: UInt32 = 8
    /// Request status values.
    public static let statusOK: UInt8 = 0, statusIOError: UInt8 = 1, statusUnsupported: UInt8 = 2
    /// Sector size of the protocol.
    public static let sectorSize: UInt64 = 512
    /// Length of the GET_ID answer.
    public static let idLength = 20

    /// Shared virtio state and the request queue.
    public let core: VirtioCore
    /// The image (replaced only by `replaceDisk`, while the VM is paused).
    public private(set) var disk: any DiskBackend
    /// The serial number GET_ID returns (at most 20 bytes are used).
    public let identifier: [UInt8]
    /// Capacity in 512-byte sectors (the disk size rounded down).
    public let capacity: UInt64
    /// Request stats.
    public var counters: VirtioBlockCounters { core.lock.withLock { stats } }
    private var stats = VirtioBlockCounters()
    /// Blocks written while a migration copies this disk (nil: no copy runs). Set and read
    /// under `core.lock` (`startDirtyTracking`, VirtioBlock+Mirror.swift).
    var dirtyBlocks: DirtyBlockMap?

    /// A disk over `disk`, identified by `identifier` (e.g. the image name).
    public init(memory: GuestMemory, disk: any DiskBackend, identifier: String, queueSize: UInt16 = 256) {
        var features = VirtioFeature.indirectDescriptors | Self.featureFlush | Self.featureSegmentMax
        if disk.isReadOnly { features |= Self.featureReadOnly }
        core = VirtioCore(memory: memory, deviceID: VirtioDeviceType.block, deviceFeatures: features,
                          queueCount: 1, queueSize: queueSize)
        self.disk = disk
        self.identifier = Array(identifier.utf8.prefix(Self.idLength))
        capacity = disk.size / Self.sectorSize
    }

    // MARK: VirtioDevice

    /// capacity (8), size_max (4), seg_max (4).
    public var configLength: Int { 16 }

    /// One byte of `struct virtio_blk_config`.
    public func configByte(at offset: Int) -> UInt8 {
        switch offset {
        case 0..<8: return UInt8(truncatingIfNeeded: capacity >> UInt64(8 * offset))
        case 12..<16:
            let segMax = UInt32(core.queues[0].maxSize) - 2
            return UInt8(truncatingIfNeeded: segMax >> UInt32(8 * (offset - 12)))
        default: return 0
        }
    }

    /// The configuration space is read-only (no writeback cache toggle).
    public func writeConfigByte(_ value: UInt8, at offset: Int) {}

    /// Nothing to start.
    public func driverDidStart() {}

    /// Nothing is in flight between notifications.
    public func deviceDidReset() {}

    /// Serves every available request.
    public func queueNotified(_ index: Int) {
        let q = core.queues[0]
        var served = false
        while core.isRunning {
            switch q.pop() {
            case .empty:
                if served { core.notifyUsed(q) }
                return
            case .broken(let error):
                core.fail("request queue: \(error)")
                return
            case .chain(let head, let faulty):
                served = true
                serve(q, head: head, faulty: faulty)
            }
        }
        if served { core.notifyUsed(q) }
    }

    /// Serves one request chain and returns it.
    private func serve(_ q: Virtqueue, head: UInt16, faulty: Bool) {
        // The status byte is the last writable byte of the chain.
        var statusPointer: UnsafeMutableRawPointer?
        for i in stride(from: q.segmentCount - 1, through: 0, by: -1) {
            let s = q.segments[i]
            guard s.writable, s.length > 0 else { continue }
            if let host = s.host { statusPointer = host + (s.length - 1) }
            break
        }
        guard let statusPointer else {
            // Nowhere to report: the request is returned untouched.
            stats.failed &+= 1
            core.lastError = "request without a writable status byte"
            q.push(head: head, length: 0)
            return
        }
        var status = Self.statusIOError
        var written = 1
        if faulty {
            stats.failed &+= 1
            core.lastError = "request buffer outside guest RAM"
        } else {
            (status, written) = execute(q)
        }
        statusPointer.storeBytes(of: status, as: UInt8.self)
        q.push(head: head, length: UInt32(clamping: written), dirtyAll: true)
    }

    /// Runs the request in the popped chain; returns (status, bytes written into the chain).
    private func execute(_ q: Virtqueue) -> (UInt8, Int) {
        var reader = q.reader()
        var header: (UInt32, UInt32, UInt64) = (0, 0, 0)
        let haveHeader = withUnsafeMutableBytes(of: &header) { reader.read(into: $0.baseAddress!, length: 16) }
        guard haveHeader else {
            stats.failed &+= 1
            return (Self.statusIOError, 1)
        }
        let type = UInt32(littleEndian: header.0)
        let sector = UInt64(littleEndian: header.2)
        switch type {
        case Self.typeIn:
            let length = q.writableLength - 1
            guard rangeValid(sector: sector, length: length) else { return ioError("read", sector, length) }
            var w = q.writer()
            var offset = sector * Self.sectorSize
            var left = length
            while left > 0 {
                guard let buffer = w.nextBuffer(limit: left) else { return ioError("read", sector, length) }
                do throws(DiskError) {
                    try disk.read(into: buffer, at: offset)
                } catch {
                    return ioError("read", sector, length, error)
                }
                w.advance(buffer.count)
                offset += UInt64(buffer.count)
                left -= buffer.count
            }
            stats.reads &+= 1
            stats.bytesRead &+= UInt64(length)
            return (Self.statusOK, length + 1)
        case Self.typeOut:
            guard !disk.isReadOnly else { return ioError("write to a read-only disk", sector, 0) }
            let length = q.readableLength - 16
            guard rangeValid(sector: sector, length: length) else { return ioError("write", sector, length) }
            var offset = sector * Self.sectorSize
            var left = length
            while left > 0 {
                guard let buffer = reader.nextBuffer(limit: left) else { return ioError("write", sector, length) }
                do throws(DiskError) {
                    try disk.write(buffer, at: offset)
                } catch {
                    return ioError("write", sector, length, error)
                }
                reader.advance(buffer.count)
                offset += UInt64(buffer.count)
                left -= buffer.count
            }
            dirtyBlocks?.mark(offset: sector * Self.sectorSize, length: length)
            stats.writes &+= 1
            stats.bytesWritten &+= UInt64(length)
            return (Self.statusOK, 1)
        case Self.typeFlush:
            do throws(DiskError) {
                try disk.flush()
            } catch {
                return ioError("flush", 0, 0, error)
            }
            stats.flushes &+= 1
            return (Self.statusOK, 1)
        case Self.typeGetID:
            var id = [UInt8](repeating: 0, count: Self.idLength)
            id.replaceSubrange(0..<identifier.count, with: identifier)
            let n = min(Self.idLength, q.writableLength - 1)
            var w = q.writer()
            _ = id.withUnsafeBytes { w.write($0.baseAddress!, length: n) }
            return (Self.statusOK, q.writableLength)
        default:
            stats.unsupported &+= 1
            return (Self.statusUnsupported, 1)
        }
    }

    /// A data length that is a whole number of sectors inside the capacity.
    private func rangeValid(sector: UInt64, length: Int) -> Bool {
        guard length >= 0, UInt64(length) % Self.sectorSize == 0 else { return false }
        let sectors = UInt64(length) / Self.sectorSize
        return sector <= capacity && sectors <= capacity - sector
    }

    /// Counts an IOERR answer and records why in `core.lastError`.
    private func ioError(_ what: String, _ sector: UInt64, _ length: Int, _ cause: DiskError? = nil) -> (UInt8, Int) {
        stats.ioErrors &+= 1
        core.lastError = "\(what) failed at sector \(sector) (+\(length) bytes)" + (cause.map { ": \($0)" } ?? "")
        return (Self.statusIOError, 1)
    }

    // MARK: Saved state

    /// The disk's own state (the transport saves the queue).
    public func saveState() -> VirtioBlockState {
        core.lock.withLock {
            VirtioBlockState(capacity: capacity, readOnly: disk.isReadOnly, identifier: identifier,
                             inFlight: 0, counters: stats)
        }
    }

    /// Serves later requests from `newDisk`, another open of the same image: a migrated VM's
    /// destination re-reads an image the source wrote to after it was first opened here (a
    /// qcow2 image's tables change as it grows). Size and read-only flag must match.
    public func replaceDisk(_ newDisk: any DiskBackend) throws(VirtioStateError) {
        guard newDisk.size == disk.size, newDisk.isReadOnly == disk.isReadOnly else {
            throw .device("the reopened image is \(newDisk.size) bytes\(newDisk.isReadOnly ? ", read-only" : ""), the disk \(disk.size)")
        }
        core.lock.withLock { disk = newDisk }
    }

    /// Restores `state` after checking that it describes this disk.
    public func restore(_ state: VirtioBlockState) throws(VirtioStateError) {
        guard state.capacity == capacity else { throw .device("saved capacity \(state.capacity) differs from \(capacity) sectors") }
        guard state.readOnly == disk.isReadOnly else { throw .device("saved read-only flag differs from the disk's") }
        guard state.inFlight == 0 else { throw .device("\(state.inFlight) requests in flight; this device completes requests synchronously") }
        core.lock.withLock { stats = state.counters }
    }
}

/// Request counts of a virtio-blk disk.
public struct VirtioBlockCounters: Codable, Equatable, Sendable {
    /// Completed IN requests.
    public var reads: UInt64 = 0
    /// Completed OUT requests.
    public var writes: UInt64 = 0
    /// Completed FLUSH requests.
    public var flushes: UInt64 = 0
    /// Bytes read for the guest.
    public var bytesRead: UInt64 = 0
    /// Bytes written by the guest.
    public var bytesWritten: UInt64 = 0
    /// Requests answered VIRTIO_BLK_S_IOERR.
    public var ioErrors: UInt64 = 0
    /// Requests answered VIRTIO_BLK_S_UNSUPP.
    public var unsupported: UInt64 = 0
    /// Malformed requests (no header, no status byte, buffers outside RAM).
    public var failed: UInt64 = 0

    /// All zero.
    public init() {}
}

/// The saved form of a virtio-blk disk.
public struct VirtioBlockState: Codable, Equatable, Sendable {
    /// Capacity in sectors (checked against the disk on restore).
    public var capacity: UInt64
    /// Read-only flag (checked on restore).
    public var readOnly: Bool
    /// GET_ID answer.
    public var identifier: [UInt8]
    /// Requests taken but not completed (always 0: requests complete during the notify).
    public var inFlight: Int
    /// Counters.
    public var counters: VirtioBlockCounters
}
