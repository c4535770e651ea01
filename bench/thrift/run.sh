#!/usr/bin/env bash
# The Thrift benchmark: the same closed-loop load (framed binary `ping` calls with a 1 KiB
# argument, 64 connections) straight to a backend, through linkerd's thrift router (dtab,
# balancer, metrics), and as ThriftMux dispatches through its thriftmux router to the same
# backend, in one run. linkerd is pinned alone on core 0, the load and
# the backend on core 1. Prints calls/s, latency percentiles, linkerd's CPU per call and
# peak RSS, and the ratios.
#
#   BENCH_SECONDS=10 bench/thrift/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${BENCH_SECONDS:-10}
cargo build --release -q -p linkerd -p l5d-bench
bin=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

taskset -c 1 "$bin/thriftbench" serve 19190 2>/dev/null &
cat > "$work/linkerd.yaml" <<YAML
admin:
  port: 19990
routers:
- protocol: thrift
  dtab: /svc => /\$/inet/127.0.0.1/19190;
  servers:
  - port: 19114
- protocol: thriftmux
  experimental: true
  dtab: /svc => /\$/inet/127.0.0.1/19190;
  servers:
  - port: 19144
YAML
taskset -c 0 "$bin/linkerd" "$work/linkerd.yaml" 2>"$work/linkerd.log" &
pid=$!
for _ in $(seq 100); do
    grep -q "linkerd is running" "$work/linkerd.log" 2>/dev/null && break
    sleep 0.1
done
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }

# Warm both paths (connections, pools), then measure.
taskset -c 1 "$bin/thriftbench" load 127.0.0.1:19190 64 1 >/dev/null
taskset -c 1 "$bin/thriftbench" load 127.0.0.1:19114 64 1 >/dev/null
taskset -c 1 "$bin/thriftbench" muxload 127.0.0.1:19144 64 1 >/dev/null
direct=$(taskset -c 1 "$bin/thriftbench" load 127.0.0.1:19190 64 "$secs")
t0=$(cpu_ticks $pid)
proxied=$(taskset -c 1 "$bin/thriftbench" load 127.0.0.1:19114 64 "$secs")
t1=$(cpu_ticks $pid)
t2=$(cpu_ticks $pid)
muxed=$(taskset -c 1 "$bin/thriftbench" muxload 127.0.0.1:19144 64 "$secs")
t3=$(cpu_ticks $pid)
rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
calls() { echo "$1" | awk '{print $2}'; }
cpu=$(echo "($t1-$t0)*1000000/$(getconf CLK_TCK)/($(calls "$proxied")*$secs)" | bc -l)
muxcpu=$(echo "($t3-$t2)*1000000/$(getconf CLK_TCK)/($(calls "$muxed")*$secs)" | bc -l)
echo "direct     $direct"
echo "thrift     $proxied"
echo "thriftmux  $muxed"
printf "thrift router: %.1fus CPU per call; throughput linkerd/direct %.2fx\n" \
    "$cpu" "$(echo "$(calls "$proxied")/$(calls "$direct")" | bc -l)"
printf "thriftmux router: %.1fus CPU per call; throughput linkerd/direct %.2fx\n" \
    "$muxcpu" "$(echo "$(calls "$muxed")/$(calls "$direct")" | bc -l)"
printf "linkerd peak RSS %s KiB\n" "$rss"
