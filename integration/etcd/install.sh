#!/usr/bin/env bash
# Installs etcd 3.4 (Debian's etcd-server: the v2 keys API that Linkerd 1's namerd
# `io.l5d.etcd` storage uses) for the end-to-end tests, unless it is there. Only the
# binary is used; the tests start it themselves on free loopback ports.
set -euo pipefail
command -v etcd >/dev/null 2>&1 && exit 0
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
as_root apt-get install -y --no-install-recommends etcd-server ||
    { as_root apt-get update && as_root apt-get install -y --no-install-recommends etcd-server; }
command -v etcd
