#!/usr/bin/env bash
# Installs the real Thrift peers the end-to-end tests use, into $L5D_PEERS (default:
# <repo>/target/peers): Debian's thrift-compiler (code generation), Apache Thrift's Python
# library (PyPI) in a virtualenv, twitter.common.rpc 0.3.9 (a TTwitter client, PyPI) in
# another, Apache Thrift's Node.js library (npm), and the PingService code generated for
# Python and Node, and scales-rpc 2.0.1 (a ThriftMux client, PyPI) in its own virtualenv.
# Idempotent: a stamp records a finished install of this script's version.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="${L5D_PEERS:-$here/../../target/peers}"
mkdir -p "$peers"
peers="$(cd "$peers" && pwd)"
stamp="$peers/.thrift-installed"
version="$(cat "$0" "$here/ping.thrift" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    exit 0
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v thrift >/dev/null 2>&1; then
    echo "installing thrift-compiler (apt)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y --no-install-recommends thrift-compiler ||
        { as_root apt-get update && as_root apt-get install -y --no-install-recommends thrift-compiler; }
fi
if ! command -v node >/dev/null 2>&1; then
    echo "installing nodejs and npm (apt)"
    as_root apt-get install -y --no-install-recommends nodejs npm
fi

echo "installing Apache Thrift for Python (PyPI) into $peers/py"
python3 -m venv "$peers/py"
"$peers/py/bin/pip" install --quiet --disable-pip-version-check thrift==0.22.0

echo "installing twitter.common.rpc 0.3.9 (PyPI) into $peers/ttwitter"
python3 -m venv "$peers/ttwitter"
"$peers/ttwitter/bin/pip" install --quiet --disable-pip-version-check \
    twitter.common.rpc==0.3.9 twitter.common.finagle-thrift==0.3.9 thrift==0.22.0

echo "installing scales-rpc 2.0.1 (PyPI, a ThriftMux client) into $peers/scales"
python3 -m venv "$peers/scales"
"$peers/scales/bin/pip" install --quiet --disable-pip-version-check scales-rpc==2.0.1 thrift==0.22.0

echo "installing Apache Thrift for Node.js (npm) into $peers/node"
mkdir -p "$peers/node"
(cd "$peers/node" && npm install --silent --no-audit --no-fund thrift@0.22.0)

echo "generating PingService for Python and Node.js"
rm -rf "$peers/gen-py" "$peers/gen-js"
mkdir -p "$peers/gen-py" "$peers/gen-js"
thrift --gen py -out "$peers/gen-py" "$here/ping.thrift"
thrift --gen js:node,es6 -out "$peers/gen-js" "$here/ping.thrift"

echo "$version" > "$stamp"
echo "thrift peers installed in $peers"
