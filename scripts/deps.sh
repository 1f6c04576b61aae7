#!/usr/bin/env bash
# Installs the Debian packages that egress needs to build, test, run, demo and
# benchmark. Idempotent: silent when everything is there, `apt-get update`
# only when something is missing.
#
# Usage: scripts/deps.sh        (as root when something is missing)
set -euo pipefail

# The comment at the top of this file is its help.
usage() { sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0"; }
case ${1:-} in
"") ;;
-h | --help) usage; exit 0 ;;
*) echo "deps.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

packages=(
	# build
	build-essential cmake gcc clang pkg-config git
	libmnl-dev libnetfilter-conntrack-dev libyaml-dev libnftables-dev libssl-dev libjansson-dev
	libqrencode-dev
	libmicrohttpd-dev
	# sd_notify (readiness under Type=notify units)
	libsystemd-dev
	# fuzzing and sanitizers with clang, formatting, linting the scripts
	clang-format shellcheck
	# run: netlink tools to inspect what the daemons did
	nftables conntrack iproute2 kmod procps
	# tests, demo and bench
	iputils-ping curl python3 iperf3 wireguard-go wireguard-tools util-linux coreutils tcpdump
	# a real resolver on the far side of the tunnel (tests/netns/t_edge_dns.sh)
	dnsmasq-base
	# systemd-analyze verify of the units (tests/netns/t_units.sh)
	systemd
	# the independent handshake of the noise tests (tests/kat/wg_handshake.py)
	python3-cryptography
)

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep '^install ok installed$' >/dev/null ||
			echo "$p"
	done
}

apt_install() {
	if [[ $(id -u) != 0 ]]; then
		echo "deps.sh: missing packages: $*; run as root to install them" >&2
		exit 1
	fi
	echo "deps.sh: installing: $*"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "$@"
}

mapfile -t todo < <(missing "${packages[@]}")
if ((${#todo[@]})); then
	apt_install "${todo[@]}"
fi

# libFuzzer and the sanitizer runtimes ship with clang's own major version.
clang_major=$(clang -dumpversion | cut -d. -f1)
mapfile -t todo < <(missing "libclang-rt-$clang_major-dev")
if ((${#todo[@]})); then
	apt_install "${todo[@]}"
fi

# promtool checks the metrics' text (tests/netns/t_metrics.sh). Debian ships
# it in the prometheus package, whose install would also enable and start a
# Prometheus server; only the one binary is taken out of the package, into
# /usr/local/bin.
if ! command -v promtool >/dev/null; then
	if [[ $(id -u) != 0 ]]; then
		echo "deps.sh: promtool is missing; run as root to install it" >&2
		exit 1
	fi
	echo "deps.sh: installing promtool (from Debian's prometheus package) into /usr/local/bin"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	! id _apt >/dev/null 2>&1 || chown _apt "$tmp"
	apt-get update -qq
	(cd "$tmp" && apt-get download -qq prometheus)
	dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$tmp/promtool"
	install -m 0755 "$tmp/promtool" /usr/local/bin/promtool
fi
