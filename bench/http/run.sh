#!/usr/bin/env bash
# Side by side on one load: wrk straight to the backend, through nginx, through linkerd.
# The proxy under test is pinned alone on core 0; the backend (nginx serving 1 KiB) and
# wrk share core 1. One wrk thread, 64 connections, 10 s each (BENCH_SECONDS to change).
#
#   apt-get install -y wrk nginx-light    # once
#   cargo build --release -p linkerd
#   bench/http/run.sh
#
# Prints requests/s, latency percentiles, the proxy's CPU per request (from /proc) and
# its peak RSS, then the ratios linkerd/nginx. Timings belong here, never in tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${BENCH_SECONDS:-10}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for tool in wrk nginx taskset bc; do
    command -v $tool >/dev/null || { echo "needs $tool (apt-get install -y wrk nginx-light bc)"; exit 1; }
done
for port in 18081 18082 18083; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "port $port is in use (a previous run still exiting?); try again in a moment"; exit 1
    fi
done
linkerd=${LINKERD:-$root/target/release/linkerd}
[ -x "$linkerd" ] || { echo "build it first: cargo build --release -p linkerd"; exit 1; }

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
