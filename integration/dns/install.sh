#!/usr/bin/env bash
# Installs dnsmasq (Debian's dnsmasq-base) for the end-to-end tests of the io.l5d.dnssrv
# namer, unless it is there; the tests start it themselves on free loopback ports.
set -euo pipefail
command -v dnsmasq >/dev/null 2>&1 && exit 0
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
as_root apt-get install -y --no-install-recommends dnsmasq-base ||
    { as_root apt-get update && as_root apt-get install -y --no-install-recommends dnsmasq-base; }
command -v dnsmasq
