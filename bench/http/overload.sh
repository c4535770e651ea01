#!/usr/bin/env bash
# Memory under overload: linkerd's server with maxConcurrentRequests: 1, one request held
# in flight by a backend that never answers, then N more requests (default 10,000) on a
# keep-alive connection, every one refused with a 503. Prints the status counts and
# linkerd's RSS before and after, which must stay flat.
#
#   bench/http/overload.sh          # OVERLOAD_REQUESTS=10000
#
# Builds linkerd in release unless LINKERD names a binary. Needs python3 and curl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${OVERLOAD_REQUESTS:-10000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

if [ -z "${LINKERD:-}" ]; then
    (cd "$root" && cargo build --release -q -p linkerd --bin linkerd)
fi
linkerd=${LINKERD:-$root/target/release/linkerd}

# A backend that accepts and never answers.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' > "$work/hang.port" &
for _ in $(seq 100); do [ -s "$work/hang.port" ] && break; sleep 0.05; done
cat > "$work/linkerd.yaml" <<CONF
admin:
  port: 0
routers:
- protocol: http
  dtab: /svc/* => /\$/inet/127.0.0.1/$(cat "$work/hang.port");
  servers:
  - port: 18190
    maxConcurrentRequests: 1
CONF
"$linkerd" "$work/linkerd.yaml" 2>"$work/linkerd.log" &
ld=$!
for _ in $(seq 100); do grep -q "linkerd is running" "$work/linkerd.log" 2>/dev/null && break; sleep 0.1; done
curl -s -o /dev/null --max-time 60 -H 'Host: web' 127.0.0.1:18190/ &
rss() { awk '/VmRSS/{print $2}' /proc/$ld/status; }
refuse() {
    python3 - "$1" <<'PY'
import http.client, sys
n = int(sys.argv[1]); codes = {}
c = http.client.HTTPConnection("127.0.0.1", 18190)
for _ in range(n):
    try:
        c.request("GET", "/", headers={"Host": "web"}); r = c.getresponse(); r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    except Exception:
        c = http.client.HTTPConnection("127.0.0.1", 18190); codes["error"] = codes.get("error", 0) + 1
print("statuses:", codes)
PY
}
# A warm-up, so that the code refusing requests is resident before measuring.
refuse 1000 >/dev/null
before=$(rss)
refuse "$n"
after=$(rss)
echo "linkerd RSS: ${before} KiB before, ${after} KiB after $n refused requests"
