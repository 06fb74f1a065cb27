// VirtualMachine+Disks: the VM's virtio-blk devices for a storage migration, which tracks
// their writes and reads their images (Migration's DiskMirror).

import Virtio

extension VirtualMachine {
    /// The virtio-blk devices, in the order of `configuration.disks`.
    public var diskDevices: [VirtioBlock] { blockDevices }
}
