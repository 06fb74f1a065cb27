// memoryFence: orders the device's accesses to shared rings against the guest's (the
// virtio spec's "memory barrier" points: before reading a descriptor after the avail index,
// and before publishing a used index after the used element).
import Synchronization

/// A full hardware and compiler memory barrier.
@inlinable @inline(__always)
func memoryFence() {
    if #available(macOS 15.0, *) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }
}
