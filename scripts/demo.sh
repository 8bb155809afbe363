#!/bin/sh
# The main job in one command (make demo): a busybox container configured in
# the seed's style (legacy LXC 1.x keys) boots under lxc-shim, reboots from
# inside and comes back as boot 2, and stops gracefully on its halt signal.
# Everything lives in a temporary directory and is removed at the end.
set -eu
BIN=${1:-$(pwd)/bin}
INITD="$BIN/lxc-initd"
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates namespaces and cgroups)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "demo: /bin/busybox missing (make deps)" >&2; exit 1; }

name=demo$$
work=$(mktemp -d /tmp/lxc-shim-demo.XXXXXX)
lxcpath=$work/lxc rundir=$work/run logdir=$work/log
rootfs=$lxcpath/$name/rootfs
initd() { "$INITD" -P "$lxcpath" --rundir "$rundir" --logdir "$logdir" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
	initd stop "$name" -t 5 >/dev/null 2>&1 || true
	initd cleanup "$name" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step "prepare a busybox root file system in $rootfs"
mkdir -p "$rootfs"/bin "$rootfs"/sbin "$rootfs"/usr/bin "$rootfs"/usr/sbin "$rootfs"/etc/init.d \
	"$rootfs"/proc "$rootfs"/sys "$rootfs"/dev/pts "$rootfs"/dev/shm "$rootfs"/tmp "$rootfs"/run "$rootfs"/root
cp /bin/busybox "$rootfs/bin/busybox"
chroot "$rootfs" /bin/busybox --install -s
cat > "$rootfs/etc/inittab" <<'INITTAB'
::sysinit:/etc/init.d/rcS
tty1::respawn:/sbin/getty 38400 tty1
::shutdown:/bin/echo "demo: the container's own shutdown ran"
INITTAB
printf '#!/bin/sh\necho "demo: rcS ran, boot at $(date)" > /dev/console\n' > "$rootfs/etc/init.d/rcS"
chmod +x "$rootfs/etc/init.d/rcS"
echo "root::0:0:root:/root:/bin/sh" > "$rootfs/etc/passwd"

step "write a config in the seed's style (legacy keys) to $lxcpath/$name/config"
cat > "$lxcpath/$name/config" <<CONFIG
## Container
lxc.utsname                             = $name
lxc.rootfs                              = $rootfs
lxc.arch                                = x86_64
lxc.tty                                 = 1  # one getty, on tty1
lxc.pts                                 = 1024
# busybox init halts on SIGUSR1 and reboots on SIGTERM
lxc.haltsignal                          = SIGUSR1
lxc.rebootsignal                        = SIGTERM

## Capabilities (the seed's list; sys_boot kept so the container can reboot itself)
lxc.cap.drop                            = audit_control
lxc.cap.drop                            = mac_admin
lxc.cap.drop                            = mac_override
lxc.cap.drop                            = sys_module
lxc.cap.drop                            = sys_rawio
lxc.cap.drop                            = sys_time

## Limits
lxc.cgroup.cpu.shares                   = 1024
lxc.cgroup.memory.limit_in_bytes        = 512M

## Filesystem
lxc.mount.entry                         = proc proc proc nosuid,nodev,noexec  0 0
lxc.mount.entry                         = sysfs sys sysfs nosuid,nodev,noexec,ro 0 0
lxc.mount.entry                         = tmpfs run tmpfs nosuid,nodev,noexec,mode=0755,size=16m 0 0

## Network: loopback only, so the demo touches no host interface
lxc.network.type                        = empty
CONFIG
cat "$lxcpath/$name/config"

step "lxc-initd check $name"
initd check "$name"

step "lxc-initd start $name"
initd start "$name"
initd status "$name"

step "inside the container: lxc-initd attach $name -- hostname"
initd attach "$name" -- hostname

step "reboot typed inside the container: busybox runs its shutdown and calls reboot(2); the shim sees the init die of SIGHUP and boots it again"
pid1=$(initd status "$name" --json | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -n1)
initd attach "$name" -- reboot
i=0
while :; do
	st=$(initd status "$name" --json 2>/dev/null || true)
	case "$st" in *'"boot_count": 2'*'"state": "running"'*|*'"state": "running"'*'"boot_count": 2'*) break ;; esac
	i=$((i+1)); [ $i -lt 250 ] || { echo "demo: the container did not come back as boot 2" >&2; echo "$st" >&2; exit 1; }
	sleep 0.04
done
pid2=$(echo "$st" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -n1)
initd status "$name"
echo "init was host PID $pid1, is now host PID $pid2 (boot 2)"

step "lxc-initd stop $name (graceful: SIGUSR1, up to 10 s, then SIGKILL to the whole cgroup)"
initd stop "$name" -t 10
initd status "$name" || echo "status exit code $? (3 = stopped)"

step "the shim's log ($logdir/$name.log)"
cat "$logdir/$name.log"

step "nothing left behind"
left=""
for h in /sys/fs/cgroup/*/lxc-shim/$name /sys/fs/cgroup/lxc-shim/$name; do
	[ -e "$h" ] && left="$left $h"
done
grep -q " $rootfs" /proc/self/mountinfo && left="$left mounts-under-rootfs"
if [ -n "$left" ]; then echo "LEFT BEHIND:$left" >&2; exit 1; fi
echo "no cgroup, mount or process of $name remains"
