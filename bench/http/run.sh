#!/usr/bin/env bash
# Side by side on one load: straight to the backend, through nginx, through linkerd.
# The proxy under test is pinned alone on core 0; the backend (nginx serving 1 KiB) and
# the load generator share core 1.
#
#   bench/http/run.sh       # BENCH_SECONDS=10 by default; BENCH_RATE=2000
#
# Installs wrk, nginx-light, bc and curl with apt when missing and builds linkerd and
# loadgen in release (set LINKERD or LOADGEN to use binaries built elsewhere). Two phases:
#
# 1. Closed loop: wrk, one thread, 64 connections, BENCH_SECONDS each. Prints requests/s,
#    wrk's latency percentiles, the proxy's CPU per request (from /proc) and its peak RSS,
#    then the ratios linkerd/nginx.
# 2. Fixed rate: loadgen (bench/src/bin/loadgen.rs) sends BENCH_RATE requests/s over 64
#    connections for BENCH_SECONDS after a warm-up, timing each request from when it was
#    due, so a stall counts against every request it holds up. Prints each target's
#    percentiles, then the p99 each proxy adds over going direct and their ratio
#    linkerd/nginx (the target: below 1).
#
# Timings belong here, never in tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${BENCH_SECONDS:-10}
rate=${BENCH_RATE:-2000}
warmup=$(( secs / 5 > 1 ? secs / 5 : 1 ))
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

missing=()
for tool in wrk:wrk nginx:nginx-light bc:bc curl:curl taskset:util-linux; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || { echo "could not install ${missing[*]}; install them and run again"; exit 1; }
fi
target_dir=${CARGO_TARGET_DIR:-$root/target}
build=()
[ -n "${LINKERD:-}" ] || build+=(-p linkerd --bin linkerd)
[ -n "${LOADGEN:-}" ] || build+=(-p l5d-bench --bin loadgen)
[ ${#build[@]} -eq 0 ] || (cd "$root" && cargo build --release --quiet "${build[@]}")
linkerd=${LINKERD:-$target_dir/release/linkerd}
loadgen=${LOADGEN:-$target_dir/release/loadgen}
for bin in "$linkerd" "$loadgen"; do
    [ -x "$bin" ] || { echo "$bin is missing: cargo build --release -p linkerd -p l5d-bench"; exit 1; }
done
for port in 18081 18082 18083; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "port $port is in use (a previous run still exiting?); try again in a moment"; exit 1
    fi
done

head -c 1024 /dev/zero | tr '\0' 'x' > "$work/body.txt"
chmod 755 "$work"; chmod 644 "$work/body.txt"
nginx_conf() { # name listen location
    cat > "$work/$1.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/$1.pid;
error_log $work/$1.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:18081; keepalive 128; }
  server { listen 127.0.0.1:$2; location / { $3 } }
}
CONF
}
nginx_conf backend 18081 "root $work; try_files /body.txt =404;"
nginx_conf proxy 18082 'proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";'
cat > "$work/linkerd.yaml" <<CONF
admin:
  port: 0
routers:
- protocol: http
  dtab: /svc/* => /\$/inet/127.0.0.1/18081;
  servers:
  - port: 18083
CONF

taskset -c 1 nginx -c "$work/backend.conf" &
taskset -c 0 nginx -c "$work/proxy.conf" &
taskset -c 0 "$linkerd" "$work/linkerd.yaml" 2>"$work/linkerd.log" &
ld=$!
for port in 18081 18082 18083; do
    for _ in $(seq 100); do curl -s -o /dev/null -H 'Host: web' 127.0.0.1:$port/ && break; sleep 0.1; done
done
proxy_worker=$(pgrep -f "nginx: worker process" | while read -r p; do
    parent=$(awk '{print $4}' /proc/$p/stat); grep -q proxy.conf /proc/$parent/cmdline 2>/dev/null && echo $p; done | head -1 || true)
[ -n "$proxy_worker" ] || { echo "the nginx proxy did not start: $(cat "$work/proxy.err" 2>/dev/null)"; exit 1; }

cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }
declare -A rps cpu rss
printf "%-8s %12s %9s %9s %9s %12s %12s\n" target "requests/s" p50 p90 p99 "cpu/req" "peak RSS"
for target in direct:18081: nginx:18082:$proxy_worker linkerd:18083:$ld; do
    IFS=: read -r name port pid <<<"$target"
    [ -n "$pid" ] && t0=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" --latency -H 'Host: web' "http://127.0.0.1:$port/")
    rps[$name]=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    reqs=$(awk '/requests in/{print $1}' <<<"$out")
    p() { awk -v q="$1" '$1==q{print $2}' <<<"$out"; }
    if [ -n "$pid" ]; then
        cpu[$name]=$(echo "($(cpu_ticks "$pid")-$t0)*1000000/$(getconf CLK_TCK)/$reqs" | bc -l)
        rss[$name]=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
        printf "%-8s %12s %9s %9s %9s %10.1fus %9sKiB\n" "$name" "${rps[$name]}" "$(p 50%)" "$(p 90%)" "$(p 99%)" "${cpu[$name]}" "${rss[$name]}"
    else
        printf "%-8s %12s %9s %9s %9s %12s %12s\n" "$name" "${rps[$name]}" "$(p 50%)" "$(p 90%)" "$(p 99%)" - -
    fi
    grep -E "Non-2xx|Socket errors" <<<"$out" || true
done
echo
printf "linkerd/nginx: throughput %.2fx, cpu per request %.2fx, peak RSS %.2fx\n" \
    "$(echo "${rps[linkerd]}/${rps[nginx]}" | bc -l)" \
    "$(echo "${cpu[linkerd]}/${cpu[nginx]}" | bc -l)" \
    "$(echo "${rss[linkerd]}/${rss[nginx]}" | bc -l)"

echo
echo "fixed rate: $rate requests/s over 64 connections, ${secs}s after ${warmup}s warm-up," \
    "latency from each request's due time (loadgen)"
declare -A p99
printf "%-8s %12s %10s %10s %10s %10s %10s %12s\n" target "achieved/s" p50 p90 p99 p99.9 max "send lag p99"
for target in direct:18081 nginx:18082 linkerd:18083; do
    IFS=: read -r name port <<<"$target"
    out=$(taskset -c 1 "$loadgen" --rate "$rate" --connections 64 --seconds "$secs" \
        --warmup "$warmup" --host web "127.0.0.1:$port")
    kv() { tr ' ' '\n' <<<"$out" | awk -F= -v k="$1" '$1==k{print $2}'; }
    p99[$name]=$(kv p99_us)
    printf "%-8s %12s %8sus %8sus %8sus %8sus %8sus %10sus\n" "$name" "$(kv achieved_rps)" \
        "$(kv p50_us)" "$(kv p90_us)" "${p99[$name]}" "$(kv p999_us)" "$(kv max_us)" "$(kv send_lag_p99_us)"
    # Sends are late only when core 1 is busy; then the row measures the machine.
    [ "$(echo "$(kv send_lag_p99_us) > 100" | bc -l)" = 0 ] \
        || echo "  $name: loadgen itself sent late (core 1 busy?); this row is noise"
    errors=$(kv errors); non2xx=$(kv non_2xx)
    [ "$errors" = 0 ] && [ "$non2xx" = 0 ] || echo "  $name: $errors errors, $non2xx non-2xx responses"
done
echo
added_linkerd=$(echo "${p99[linkerd]}-${p99[direct]}" | bc -l)
added_nginx=$(echo "${p99[nginx]}-${p99[direct]}" | bc -l)
printf "added p99 at %s requests/s: linkerd %.1fus, nginx %.1fus" "$rate" "$added_linkerd" "$added_nginx"
if [ "$(echo "$added_nginx > 0" | bc -l)" = 1 ]; then
    ratio=$(echo "$added_linkerd/$added_nginx" | bc -l)
    printf ", linkerd/nginx %.2fx (%s)\n" "$ratio" \
        "$([ "$(echo "$ratio < 1" | bc -l)" = 1 ] && echo "below nginx's: target met" || echo "target missed")"
else
    printf ", linkerd/nginx n/a (nginx added nothing measurable at this rate)\n"
fi
