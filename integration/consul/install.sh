#!/usr/bin/env bash
# Installs Consul 1.8 for the end-to-end tests, unless it is there: Debian's `consul`
# package lives in the bullseye suite only, so that suite is added at a low pin priority
# (nothing else is taken from it). The tests start a dev agent themselves on free
# loopback ports.
set -euo pipefail
command -v consul >/dev/null 2>&1 && exit 0
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /etc/apt/sources.list.d/bullseye.sources ]; then
    as_root tee /etc/apt/sources.list.d/bullseye.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' |
        as_root tee /etc/apt/preferences.d/bullseye-low >/dev/null
fi
as_root apt-get update
as_root apt-get install -y --no-install-recommends -t bullseye consul
command -v consul
