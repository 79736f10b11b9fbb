#!/usr/bin/env bash
# Build (or find in the cache) every binary the Kubernetes lab runs, at the versions in lab/versions.env,
# one after the other (2 cores: parallel builds of different targets would only starve each other).
#
#   lab/k8s/build.sh [all|kubernetes|etcd|kwok|metrics-server]...
#
# Prints NAME=PATH lines for the binaries. Binaries live in
# ${BRUNO_CACHE_DIR:-$HOME/.cache/bruno-ops}/bin/<name>-<version>/<name>; a second run builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$(cd "$here/.." && pwd)
# shellcheck source=/dev/null
. "$lab/versions.env"

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)

build_kubernetes() {
  local p
  for p in $("$here/build-k8s.sh"); do
    echo "$(basename "$p")=$p"
  done
}
build_etcd() {
  # go.etcd.io/etcd/server/v3 has replace directives to its sibling modules (api, client, pkg), which are
  # published at the same version, so a wrapper module builds it. etcd's version is compiled in (api/v3/version).
  echo "etcd=$("$lab/build-go-tool.sh" --wrapper --module go.etcd.io/etcd/server/v3 --check --version \
    etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION")"
}
build_kwok() {
  local bin crds src
  bin=$("$lab/build-go-tool.sh" --ldflags '-X sigs.k8s.io/kwok/pkg/consts.Version={version}' \
    --check --version kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION")
  # The Logs and Exec CRDs of this kwok version (the lab creates those objects per pod), kept with the binary.
  crds="$(dirname "$bin")/crds"
  if [ ! -s "$crds/kwok.x-k8s.io_logs.yaml" ] || [ ! -s "$crds/kwok.x-k8s.io_execs.yaml" ]; then
    src=$(cd / && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    mkdir -p "$crds"
    for f in kwok.x-k8s.io_logs.yaml kwok.x-k8s.io_execs.yaml; do
      cp "$src/kustomize/crd/bases/$f" "$crds/$f.tmp"
      chmod u+w "$crds/$f.tmp"
      mv "$crds/$f.tmp" "$crds/$f"
    done
  fi
  echo "kwok=$bin"
}
build_metrics_server() {
  echo "metrics-server=$("$lab/build-go-tool.sh" --ldflags '-X k8s.io/client-go/pkg/version.gitVersion={version}' \
    --check --version metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server "$METRICS_SERVER_VERSION")"
}

for t in "${targets[@]}"; do
  case "$t" in
    all) build_kubernetes; build_etcd; build_kwok; build_metrics_server ;;
    kubernetes|k8s) build_kubernetes ;;
    etcd) build_etcd ;;
    kwok) build_kwok ;;
    metrics-server) build_metrics_server ;;
    *) echo "build.sh: unknown target $t" >&2; exit 2 ;;
  esac
done
