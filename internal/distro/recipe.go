package distro

import "os"

// What build puts into the tree after debootstrap: the marker service in
// each init's own form, and the inittab a container needs under sysvinit.

// file is one file (or symlink, when link) written into the tree.
type file struct {
	path    string
	mode    os.FileMode
	content string
	link    bool
}

// markerScript appends "start" when the service starts, and "stop WHY" when
// it stops, WHY being what the init is heading for: systemd's queued
// target (reboot, poweroff, halt), or sysvinit's runlevel (6 reboot, 0
// halt), which OpenRC on Debian runs under too.
const markerScript = `#!/bin/sh
# lxc-shim's test marker: records its service's start and stop.
log=/` + MarkerDir + `/log
case "$1" in
start)
	echo start >> "$log"
	;;
stop)
	why=""
	if [ -d /run/systemd/system ]; then
		why=$(systemctl list-jobs --no-legend 2>/dev/null | grep -oE '(reboot|poweroff|halt|kexec)\.target' | head -n1)
		why=${why%.target}
	else
		rl=$(runlevel 2>/dev/null)
		case "${rl##* }" in
		6) why=reboot ;;
		0) why=halt ;;
		*) why="runlevel-${rl##* }" ;;
		esac
	fi
	echo "stop ${why:-unknown}" >> "$log"
	;;
esac
`

const systemdUnit = `[Unit]
Description=lxc-shim test marker

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lxc-shim-marker start
ExecStop=/usr/local/sbin/lxc-shim-marker stop

[Install]
WantedBy=multi-user.target
`

const sysvService = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          lxc-shim-marker
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: lxc-shim test marker
### END INIT INFO
case "$1" in
start|stop) exec /usr/local/sbin/lxc-shim-marker "$1" ;;
restart|force-reload) /usr/local/sbin/lxc-shim-marker stop; exec /usr/local/sbin/lxc-shim-marker start ;;
status) exit 0 ;;
*) echo "usage: $0 start|stop" >&2; exit 3 ;;
esac
`

const openrcService = `#!/sbin/openrc-run
description="lxc-shim test marker"

# No dependencies: Debian's OpenRC runs its own LSB scripts for the
# mounts (mountall.sh), under names other than Gentoo's localmount.
start() {
	/usr/local/sbin/lxc-shim-marker start
}

stop() {
	/usr/local/sbin/lxc-shim-marker stop
}
`

// inittab is Debian's, with what a container needs: the power-fail line
// (SIGPWR, lxc-shim's default halt signal) shuts down, and gettys only on
// the ttys the config gives (lxc.tty.max = 1), as LXC's templates do.
const inittab = `# /etc/inittab for a container (lxc-shim's test root file system)
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
~~:S:wait:/sbin/sulogin --force
l0:0:wait:/etc/init.d/rc 0
l1:1:wait:/etc/init.d/rc 1
l2:2:wait:/etc/init.d/rc 2
l3:3:wait:/etc/init.d/rc 3
l4:4:wait:/etc/init.d/rc 4
l5:5:wait:/etc/init.d/rc 5
l6:6:wait:/etc/init.d/rc 6
z6:6:respawn:/sbin/sulogin --force
ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now
pf::powerwait:/sbin/shutdown -h now
1:2345:respawn:/sbin/getty --noclear 38400 tty1
`

func files(init Init) []file {
	fs := []file{
		{path: "usr/local/sbin/lxc-shim-marker", mode: 0o755, content: markerScript},
		// No host resolver (debootstrap copies the host's) and no network.
		{path: "etc/resolv.conf", mode: 0o644, content: ""},
		{path: "etc/hostname", mode: 0o644, content: "debian\n"},
	}
	switch init {
	case Systemd:
		fs = append(fs,
			file{path: "etc/systemd/system/lxc-shim-marker.service", mode: 0o644, content: systemdUnit},
			file{path: "etc/systemd/system/multi-user.target.wants/lxc-shim-marker.service", link: true,
				content: "/etc/systemd/system/lxc-shim-marker.service"},
		)
	case SysVinit:
		fs = append(fs,
			file{path: "etc/inittab", mode: 0o644, content: inittab},
			file{path: "etc/init.d/lxc-shim-marker", mode: 0o755, content: sysvService},
		)
	case OpenRC:
		fs = append(fs,
			file{path: "etc/inittab", mode: 0o644, content: inittab},
			file{path: "etc/init.d/lxc-shim-marker", mode: 0o755, content: openrcService},
		)
	}
	return fs
}

// chrootCommands run in the tree after debootstrap, before files are
// written.
func chrootCommands(init Init) [][]string {
	if init == OpenRC {
		return [][]string{{"apt-get", "install", "-y", "-q", "--no-install-recommends", "openrc"}}
	}
	return nil
}

// enableCommands run in the tree once the files are written.
func enableCommands(init Init) [][]string {
	switch init {
	case SysVinit:
		return [][]string{{"update-rc.d", "lxc-shim-marker", "defaults"}}
	case OpenRC:
		return [][]string{{"rc-update", "add", "lxc-shim-marker", "default"}}
	}
	return nil
}
