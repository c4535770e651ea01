#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every crate's tests.
# Each step is echoed; the first one that fails stops the run and is named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

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

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step test cargo test --workspace
echo
echo "==> all steps passed: fmt, clippy, test"
