#!/usr/bin/env bash
# Builds the Kubernetes control plane, etcd and kwok from the Go modules pinned
# under sim/tools, once per machine, into a cache outside the clone. A second
# run with the same versions finds the cache and returns at once.
#
# It also copies two sets of YAML files from pinned Go modules into an assets
# directory: kwok's Stage manifests (sim adds a pod-ready delay to them) and
# the Gateway API standard CRDs.
#
# Usage: build-binaries.sh [--assets | --print-dir | --print-assets-dir]
#   (no option)          build what is missing; print the bin directory
#   --assets             copy the assets only; print the assets directory
#   --print-dir          print the bin directory; exit 1 if it is incomplete
#   --print-assets-dir   print the assets directory; exit 1 if it is incomplete
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
tools="$here/tools"

kube_version="$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$tools/k8s/go.mod")"
etcd_version="$(awk '/go.etcd.io\/etcd\/server\/v3/ {print $2}' "$tools/etcd/go.mod")"
kwok_version="$(awk '/^require sigs.k8s.io\/kwok/ {print $3}' "$tools/kwok/go.mod")"
gateway_version="$(awk '/^require sigs.k8s.io\/gateway-api/ {print $3}' "$tools/gateway-api/go.mod")"
for v in kube_version etcd_version kwok_version gateway_version; do
  [[ -n "${!v}" ]] || { echo "cannot read $v from the go.mod files under $tools" >&2; exit 1; }
done
key="k8s-${kube_version}_etcd-${etcd_version}_kwok-${kwok_version}"
cache_root="${SIM_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aks-mlops-sim}"
out="$cache_root/$key"
assets="$cache_root/assets/kwok-${kwok_version}_gateway-api-${gateway_version}"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

want=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd etcdctl kwok kwokctl)
bins_complete() {
  local b
  for b in "${want[@]}"; do [[ -x "$out/bin/$b" ]] || return 1; done
}
assets_complete() { [[ -f "$assets/complete" ]]; }

# Stage manifests that sim's kwok configuration starts from. A configuration
# with any Stage replaces all of kwok's defaults, so node stages are included.
stage_files=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)

module_dir() { # module@version
  # Outside any module, so that no go.sum is written into the clone.
  local scratch
  scratch="$(mktemp -d)"
  (cd "$scratch" && go mod download -json "$1" | awk -F'"' '/"Dir":/ {print $4}')
  rm -rf "$scratch"
}
copy_assets() {
  echo "sim assets: copying kwok stages and Gateway API CRDs into $assets" >&2
  local kwok_dir gateway_dir f
  kwok_dir="$(module_dir "sigs.k8s.io/kwok@$kwok_version")"
  gateway_dir="$(module_dir "sigs.k8s.io/gateway-api@$gateway_version")"
  [[ -d "$kwok_dir" && -d "$gateway_dir" ]] || { echo "go mod download did not return the kwok or gateway-api module directory" >&2; exit 1; }
  rm -rf "$assets.tmp" && mkdir -p "$assets.tmp/stages" "$assets.tmp/crds"
  for f in "${stage_files[@]}"; do cp "$kwok_dir/kustomize/stage/$f" "$assets.tmp/stages/"; done
  cp "$gateway_dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$assets.tmp/crds/"
  chmod -R u+w "$assets.tmp"
  touch "$assets.tmp/complete"
  rm -rf "$assets" && mv "$assets.tmp" "$assets"
}

case "${1:-}" in
  --print-dir)
    bins_complete || { echo "binaries for $key are not built yet; run sim/scripts/build-binaries.sh" >&2; exit 1; }
    echo "$out/bin"; exit 0 ;;
  --print-assets-dir)
    assets_complete || { echo "assets in $assets are missing; run sim/scripts/build-binaries.sh" >&2; exit 1; }
    echo "$assets"; exit 0 ;;
  ""|--assets) ;;
  *) echo "unknown option $1; use --assets, --print-dir or --print-assets-dir" >&2; exit 2 ;;
esac

mkdir -p "$cache_root"
# Two runs at once (CI and sim:up, or two clones) wait for each other instead
# of compiling the same binaries twice.
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  echo "sim binaries: another build holds $cache_root/.build.lock; waiting" >&2
  flock 9
fi

assets_complete || copy_assets
if [[ "${1:-}" == "--assets" ]]; then echo "$assets"; exit 0; fi
if bins_complete; then
  echo "sim binaries: cached in $out/bin" >&2
  echo "$out/bin"
  exit 0
fi

mkdir -p "$out/bin" "$out/logs"
built_all=1
for b in "${want[@]}"; do [[ -x "$out/bin/$b" ]] && built_all=0; done
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
# Only a run that built every binary measured a cold build.
[[ $built_all == 1 ]] && echo "$took" > "$out/build-seconds"
step "all binaries built in ${took}s into $out/bin"
echo "$out/bin"
