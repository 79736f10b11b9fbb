#!/usr/bin/env bash
# Build one Go program at a pinned module version into the lab's binary cache and print its path.
#
#   lab/build-go-tool.sh [options] NAME PACKAGE VERSION
#
#   NAME     binary name; the result is ${BRUNO_CACHE_DIR:-$HOME/.cache/bruno-ops}/bin/NAME-VERSION/NAME
#   PACKAGE  import path of the main package, e.g. sigs.k8s.io/kwok/cmd/kwok
#   VERSION  module version, e.g. v0.7.0
#
# Options:
#   --module MOD       module that holds PACKAGE (required with --from-source)
#   --from-source      build inside a writable copy of the module's source instead of `go install PKG@VERSION`
#                      (when files must be written first; the module's own replace directives then apply)
#   --wrapper          build PACKAGE from a generated wrapper module that requires MOD@VERSION (for modules whose
#                      go.mod has replace directives, which `go install PKG@VERSION` refuses; the replaced modules
#                      must be published at the versions MOD requires, as etcd's are)
#   --keep-replaces    with --wrapper: copy MOD's replace directives that point at another module version (not
#                      the local ./ ones) into the wrapper, so its build resolves as MOD's own does
#   --write PATH=TEXT  with --from-source: write TEXT to PATH (relative to the module root) before building;
#                      "{version}" in TEXT becomes VERSION; repeatable
#   --ldflags FLAGS    extra linker flags ("{version}" becomes VERSION); "-s -w" is always added
#   --tags TAGS        build tags
#   --cgo              keep cgo on (default: CGO_ENABLED=0, a static binary)
#   --check ARGS       after building, run "NAME ARGS" and fail if it fails (e.g. --check --version)
#
# A binary already in the cache is reused: nothing is built (a cache hit prints only the path).
# The build log goes to stderr; build-info.txt beside the binary records how and how long it was built.
# Go's module and build caches stay in their default places (go env GOMODCACHE GOCACHE).
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

module="" from_source=0 wrapper=0 keep_replaces=0 ldflags="" tags="" cgo=0 check=""
writes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --module) module=${2:?}; shift 2 ;;
    --from-source) from_source=1; shift ;;
    --wrapper) wrapper=1; shift ;;
    --keep-replaces) keep_replaces=1; shift ;;
    --write) writes+=("${2:?}"); from_source=1; shift 2 ;;
    --ldflags) ldflags=${2?}; shift 2 ;;
    --tags) tags=${2?}; shift 2 ;;
    --cgo) cgo=1; shift ;;
    --check) check=${2?}; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "build-go-tool: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 3 ] || usage
name=$1 package=$2 version=$3
if { [ "$from_source" = 1 ] || [ "$wrapper" = 1 ]; } && [ -z "$module" ]; then
  echo "build-go-tool: --from-source and --wrapper need --module" >&2
  exit 2
fi

cache=${BRUNO_CACHE_DIR:-$HOME/.cache/bruno-ops}
dir="$cache/bin/$name-$version"
out="$dir/$name"
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "build-go-tool: no 'go' on PATH" >&2; exit 1; }
mkdir -p "$dir"

# One build of a given NAME-VERSION at a time; a second caller waits (bounded) and then reuses the result.
exec 9>"$dir/.lock"
if ! flock -w 3600 9; then
  echo "build-go-tool: timed out waiting for another build of $name $version" >&2
  exit 1
fi
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi

ldflags="-s -w ${ldflags//\{version\}/$version}"
flags=(-trimpath "-ldflags=$ldflags")
[ -n "$tags" ] && flags+=("-tags=$tags")
export GOFLAGS="${GOFLAGS:--mod=mod}"
export CGO_ENABLED=$cgo
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
start=$(date +%s)
echo "build-go-tool: building $name from $package@$version ($(go version))" >&2
if [ "$wrapper" = 1 ]; then
  mkdir -p "$work/wrap"
  modsrc=$(cd "$work" && go mod download -json "$module@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$modsrc/go.mod" ] || { echo "build-go-tool: could not download $module@$version" >&2; exit 1; }
  {
    echo "module bruno.lab/wrapper/$name"
    echo
    grep -E '^go [0-9]' "$modsrc/go.mod"
    echo
    echo "require $module $version"
    if [ "$keep_replaces" = 1 ]; then
      # One "OLD [V] => NEW V" per line, from single-line and block replace directives alike; local paths dropped.
      echo
      sed -n -e 's/^replace[[:space:]]\{1,\}\([^(].*=>.*\)$/\1/p' \
             -e '/^replace[[:space:]]*($/,/^)/{/=>/s/^[[:space:]]*//p}' "$modsrc/go.mod" |
        sed 's://.*$::' | awk -F'=>' '{ split($2, t, " "); if (t[1] !~ /^[./]/) print "replace " $0 }'
    fi
  } >"$work/wrap/go.mod"
  (cd "$work/wrap" && go build "${flags[@]}" -o "$work/bin/$name" "$package") >&2
  built="$work/bin/$name"
elif [ "$from_source" = 0 ]; then
  GOBIN="$work/bin" go install "${flags[@]}" "$package@$version" >&2
  built="$work/bin/$name"
  [ -x "$built" ] || built="$work/bin/$(basename "$package")"
else
  src=$(cd "$work" && go mod download -json "$module@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$src" ] || { echo "build-go-tool: could not download $module@$version" >&2; exit 1; }
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  for w in ${writes[@]+"${writes[@]}"}; do
    rel=${w%%=*} text=${w#*=}
    mkdir -p "$(dirname "$work/src/$rel")"
    printf '%s\n' "${text//\{version\}/$version}" >"$work/src/$rel"
  done
  rel_pkg=${package#"$module"}
  (cd "$work/src" && go build "${flags[@]}" -o "$work/bin/$name" ".$rel_pkg") >&2
  built="$work/bin/$name"
fi
[ -x "$built" ] || { echo "build-go-tool: build produced no binary for $name" >&2; exit 1; }
if [ -n "$check" ]; then
  # shellcheck disable=SC2086  # ARGS is a word list on purpose
  "$built" $check >/dev/null 2>&1 || { echo "build-go-tool: '$name $check' failed" >&2; exit 1; }
fi
secs=$(( $(date +%s) - start ))
{
  echo "name=$name"
  echo "package=$package"
  echo "version=$version"
  echo "go=$(go env GOVERSION)"
  echo "cgo=$cgo"
  echo "ldflags=$ldflags"
  echo "tags=$tags"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build_seconds=$secs"
} >"$dir/build-info.txt"
mv "$built" "$out.tmp"
mv "$out.tmp" "$out"
echo "build-go-tool: $name $version built in ${secs}s" >&2
echo "$out"
