#!/bin/sh
# Installs, from Debian's packages, what lxc-shim's tests and demo need and
# the machine lacks. Root only; a no-op when everything is present.
#
# lxc, lxc-templates and lxcfs are there for the tests that run LXC's own
# config includes (/usr/share/lxc/config/*.common.conf) and compare with
# LXC 5 side by side. Their services must not start: lxc-net would create
# lxcbr0 on the host and lxcfs would mount /var/lib/lxcfs (the tests start
# their own lxcfs instance). Debian's invoke-rc.d asks policy-rc.d, so a
# denying one is installed for the duration of the install when the host
# has none. apparmor gives apparmor_parser, which compiles the AppArmor
# profile lxc-shim generates (lsm tests) without loading it.
set -eu
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in busybox-static openrc tmux iproute2 procps debootstrap gcc libc6-dev lxc lxc-templates lxcfs apparmor e2fsprogs btrfs-progs; do
	have "$pkg" || need="$need $pkg"
done
command -v go >/dev/null 2>&1 || { echo "deps: Go is not installed (need go 1.22+)" >&2; exit 1; }
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$need (run as root to install them)" >&2
	exit 1
fi
links() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
before=$(links)
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	own_policy=1
fi
status=0
apt-get update -qq || status=$?
if [ "$status" = 0 ]; then
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null || status=$?
fi
[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
[ "$status" = 0 ] || exit "$status"
after=$(links)
if [ "$before" != "$after" ]; then
	echo "deps: installing$need changed the host's network links (before: $before; after: $after)" >&2
	exit 1
fi
