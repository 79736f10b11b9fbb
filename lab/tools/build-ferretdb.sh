#!/usr/bin/env bash
# Build FerretDB (the lab's MongoDB-wire server) from its Go module at a pinned version into the cache.
# `go install ...@version` builds a binary that panics at start: FerretDB embeds build/version/version.txt,
# which its release tooling generates and the module zip lacks. So: copy the module source, write that
# file, build. Prints the binary's path; a cached binary is reused.
set -euo pipefail
version=${1:?usage: build-ferretdb.sh vX.Y.Z}
cache=${BRUNO_CACHE_DIR:-$HOME/.cache/bruno-ops}
out="$cache/bin/ferretdb-$version/ferretdb"
if [ -x "$out" ] && "$out" --version >/dev/null 2>&1; then
  echo "$out"
  exit 0
fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
src=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$version" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
echo "$version" > "$work/src/build/version/version.txt"
mkdir -p "$(dirname "$out")"
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$out.tmp" ./cmd/ferretdb) >&2
mv "$out.tmp" "$out"
echo "$out"
