// MallocTuning: the allocator settings of processes that migrate VMs.

import CLinuxShims
import Foundation

/// Keeps large allocations in the heap: a live migration moves 1 MiB messages through several
/// buffers each, and with glibc's default mmap threshold every one of them is a fresh mapping
/// whose pages fault in one by one (`bench migration`, three alternating runs each: a 64 MiB
/// VM dirtying 1000 MiB/s migrated in 119-150 ms with glibc's defaults and 89-98 ms with this,
/// downtime 21-27 -> 16-19 ms; at 50 MiB/s 58-67 -> 47-53 ms). Called by the commands
/// that migrate (`run`, `bench migration`); `SWITCHBOARD_DEFAULT_MALLOC=1` keeps glibc's defaults.
public func keepLargeAllocationsInTheHeap() {
    if ProcessInfo.processInfo.environment["SWITCHBOARD_DEFAULT_MALLOC"] == nil { sb_keep_large_allocations_in_heap() }
}
