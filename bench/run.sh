#!/bin/sh
# Side-by-side benchmark of lxc-shim against LXC 5 (issues 8, 17 and 18):
# `make bench`, as root. Installs what it needs from Debian's packages
# (busybox-static, lxc, debootstrap for the Debian root file systems of the
# distro cases) when missing, without letting LXC touch the host's network,
# builds the harness, runs it and rewrites docs/benchmarks.md.
#
# Extra arguments go to the harness (bench/cmd/lxc-bench), e.g.
#   ./bench/run.sh -rounds 5 -shutdown-rounds 1 -sides lxc
#   ./bench/run.sh -cases busybox          # the plain busybox cases only
#   ./bench/run.sh -cases busybox,template,features   # busybox, LXC's busybox
#                                          # template config, seccomp/storage/hooks
#   ./bench/run.sh -cases distro -inits systemd -distro-rounds 3
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it starts containers)" >&2; exit 1; }

links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

need=""
for pkg in busybox-static lxc debootstrap; do
	have "$pkg" || need="$need $pkg"
done
if [ -n "$need" ]; then
	before=$(links)
	echo "bench: installing$need"
	export DEBIAN_FRONTEND=noninteractive
	# Services must not start: lxc-net would create lxcbr0 on the host.
	# Debian's invoke-rc.d asks policy-rc.d; install a denying one for the
	# duration of the install when the host has none.
	own_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null || {
		[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
		exit 1
	}
	[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
	after=$(links)
	if [ "$before" != "$after" ]; then
		echo "bench: installing$need changed the host's network links:" >&2
		printf '%s\n' "$before" > /tmp/bench-links.before
		printf '%s\n' "$after" | diff /tmp/bench-links.before - >&2 || true
		rm -f /tmp/bench-links.before
		exit 1
	fi
fi
if ip link show lxcbr0 >/dev/null 2>&1; then
	echo "bench: note: lxcbr0 exists on this host (not created by this run); the benchmark does not use it" >&2
fi

GO=${GO:-go}
mkdir -p bin
"$GO" build -o bin/lxc-bench ./bench/cmd/lxc-bench
"$GO" build -o bin/idleref ./bench/cmd/idleref
for b in lxc-shim lxc-initd; do
	[ -x "bin/$b" ] || "$GO" build -o "bin/$b" "./cmd/$b"
done
exec bin/lxc-bench -bin bin -out docs/benchmarks.md -notes bench/notes.md -command "make bench${*:+ (bench/run.sh $*)}" "$@"
