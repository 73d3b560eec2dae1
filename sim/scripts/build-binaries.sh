#!/usr/bin/env bash
# Builds the Kubernetes control plane, etcd and kwok from the Go modules pinned
# under sim/tools, once per machine, into a cache outside the clone. A second
# run with the same versions finds the cache and returns at once.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
tools="$here/tools"

kube_version="$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$tools/k8s/go.mod")"
etcd_version="$(awk '/go.etcd.io\/etcd\/server\/v3/ {print $2}' "$tools/etcd/go.mod")"
kwok_version="$(awk '/^require sigs.k8s.io\/kwok/ {print $3}' "$tools/kwok/go.mod")"
key="k8s-${kube_version}_etcd-${etcd_version}_kwok-${kwok_version}"
cache_root="${SIM_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aks-mlops-sim}"
out="$cache_root/$key"

want=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd etcdctl kwok kwokctl)
complete=1
for b in "${want[@]}"; do [[ -x "$out/bin/$b" ]] || complete=0; done
if [[ "${1:-}" == "--print-dir" ]]; then
  [[ $complete == 1 ]] || { echo "binaries for $key are not built yet; run sim/scripts/build-binaries.sh" >&2; exit 1; }
  echo "$out/bin"; exit 0
fi
if [[ $complete == 1 ]]; then
  echo "sim binaries: cached in $out/bin" >&2
  echo "$out/bin"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$out/bin" "$out/logs"
start=$(date +%s)
step() { echo "[sim build $(($(date +%s) - start))s] $*" >&2; }

# Build in a scratch copy so that go.sum changes stay out of the clone.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$tools/." "$work/"

tidy() { # dir
  step "$1: resolving modules"
  (cd "$work/$1" && go mod tidy >"$out/logs/$1-tidy.log" 2>&1) || { cat "$out/logs/$1-tidy.log" >&2; exit 1; }
}
build() { # binary dir ldflags package
  local name="$1" dir="$2" ldflags="$3" pkg="$4"
  step "$name: compiling $pkg (log: $out/logs/$name.log)"
  (cd "$work/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/bin/$name.tmp" "$pkg" >"$out/logs/$name.log" 2>&1) \
    || { cat "$out/logs/$name.log" >&2; exit 1; }
  mv -f "$out/bin/$name.tmp" "$out/bin/$name"
}

minor="$(echo "$kube_version" | cut -d. -f2)"
stamp=""
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# kwokctl runs each binary with --version and picks flags from it, so stamp
# the real version instead of the unstamped v0.0.0-master.
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp="$stamp -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
done

tidy kwok
for b in kwok kwokctl; do [[ -x "$out/bin/$b" ]] || build "$b" kwok "" "sigs.k8s.io/kwok/cmd/$b"; done
tidy etcd
[[ -x "$out/bin/etcd" ]] || build etcd etcd "" go.etcd.io/etcd/server/v3
[[ -x "$out/bin/etcdctl" ]] || build etcdctl etcd "" go.etcd.io/etcd/etcdctl/v3
tidy k8s
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [[ -x "$out/bin/$b" ]] || build "$b" k8s "$stamp" "k8s.io/kubernetes/cmd/$b"
done

took=$(($(date +%s) - start))
echo "$took" > "$out/build-seconds"
step "all binaries built in ${took}s into $out/bin"
echo "$out/bin"
