#!/usr/bin/env bash
# Builds kube-apiserver and kubectl v1.20.2 from Debian bookworm's kubernetes source
# package (facts from ../shared/spec/backends.md section 3.4), into $WORK/bin.
set -euo pipefail
WORK=${WORK:-$(cd "$(dirname "$0")/../.." && pwd)/target/k8s-build}
OUT_DIR=${OUT_DIR:-$WORK/bin}
export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > /etc/apt/sources.list.d/debian-src.sources
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev >/dev/null
rm -rf "$WORK/src-pkg"; mkdir -p "$WORK/src-pkg" "$OUT_DIR"; cd "$WORK/src-pkg"
apt-get source --download-only kubernetes=1.20.5+really1.20.2-1.1+deb12u1 >/dev/null 2>&1
dpkg-source -x kubernetes_1.20.5+really1.20.2-1.1+deb12u1.dsc src >/dev/null
cd src
mv vendor/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2.orig
mkdir vendor/github.com/modern-go/reflect2
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s vendor/github.com/modern-go/reflect2/
cp vendor/github.com/modern-go/reflect2.orig/LICENSE vendor/github.com/modern-go/reflect2/; rm -rf vendor/github.com/modern-go/reflect2.orig
mkdir -p .go/src/k8s.io && ln -sfn ../../.. .go/src/k8s.io/kubernetes
export GOPATH="$PWD/.go" CGO_ENABLED=0 HOME="$WORK/home"; mkdir -p "$HOME"
make WHAT="cmd/kube-apiserver cmd/kubectl" > "$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log"; exit 1; }
cp _output/bin/kube-apiserver _output/bin/kubectl "$OUT_DIR/"
"$OUT_DIR/kube-apiserver" --version
