#!/bin/sh
# Installs, from Debian's packages, what lxc-shim's tests and demo need and
# the machine lacks. Root only; a no-op when everything is present.
set -eu
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in busybox-static openrc tmux iproute2 procps debootstrap gcc libc6-dev; do
	have "$pkg" || need="$need $pkg"
done
command -v go >/dev/null 2>&1 || { echo "deps: Go is not installed (need go 1.22+)" >&2; exit 1; }
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$need (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
