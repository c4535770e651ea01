#!/usr/bin/env bash
# Installs ZooKeeper 3.8 (Debian's zookeeper package: the server jar and zkCli.sh) for the
# end-to-end tests, unless it is there. The tests start a standalone server themselves
# on a free loopback port; Java comes with the machine image or is installed here.
set -euo pipefail
[ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1 && exit 0
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
pkgs=(zookeeper)
command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
as_root apt-get install -y --no-install-recommends "${pkgs[@]}" ||
    { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${pkgs[@]}"; }
ls /usr/share/java/zookeeper.jar
