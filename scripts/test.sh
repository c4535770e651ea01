#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every crate's tests.
# Each step is echoed; the first one that fails stops the run and is named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the end-to-end tests use: curl (client) and python3 (its http.server is the
# backend). The machine image has both; install them when a fresh one does not. The
# Thrift peers (Apache Thrift for Python and Node.js, twitter.common.rpc) are installed
# by integration/thrift/install.sh, the first step below; etcd (namerd's io.l5d.etcd
# storage) by integration/etcd/install.sh; Consul (the io.l5d.consul namer) by
# integration/consul/install.sh; ZooKeeper (the serversets namers) by
# integration/zookeeper/install.sh; dnsmasq (the dnssrv namer) by integration/dns/install.sh.
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
fi


step() {
    local name=$1
    shift
    echo
    echo "==> [$name] $*"
    local start=$SECONDS
    if "$@"; then
        echo "==> [$name] ok ($((SECONDS - start))s)"
    else
        local status=$?
        echo
        echo "==> FAILED at step '$name' (exit $status): $*"
        exit "$status"
    fi
}

step peers bash integration/thrift/install.sh
step etcd bash integration/etcd/install.sh
step consul bash integration/consul/install.sh
step zookeeper bash integration/zookeeper/install.sh
step dns bash integration/dns/install.sh
step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step test cargo test --workspace
echo
echo "==> all steps passed: peers, etcd, consul, zookeeper, dns, fmt, clippy, test"
