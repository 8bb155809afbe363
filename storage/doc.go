// Package storage holds the container's root file system storage: what
// lxc.rootfs.path names (a directory or btrfs subvolume, an overlay of
// directories, a loop image, a block or LVM device, a ZFS dataset), checked
// on the host, loop devices attached by the shim and recorded so that only
// those are ever detached, and the mount the stage makes of it in the
// container's mount namespace.
//
// The host side (Check, Prepare, RemoveStale) runs in the shim and in
// lxc-initd; Source.Mount runs in the stage, before the pivot, where its
// mounts stay private to the container: nothing of a rootfs is ever mounted
// on the host, and a loop device is attached with autoclear, so it goes
// away with the last mount of it (the container's mount namespace).
package storage
