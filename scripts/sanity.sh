#!/usr/bin/env bash
# ansible-test needs the collection at .../ansible_collections/<namespace>/<name>/ and no Docker here:
# copy the files git tracks (git add new ones first) there and run sanity with --local; ansible-test
# still makes one venv per sanity test with that test's pinned requirements.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/bruno/ops"
mkdir -p "$dest"
cd "$root"
git ls-files -c -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$dest"
# ansible-test bootstraps pip into each sanity venv with a get-pip.py it downloads from a host this machine
# cannot reach; it uses a cached copy when one exists, so put our offline stand-in there.
pip_version=$(python -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; from ansible_test._internal.config import *; import inspect, re; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(g)).group(1))')
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
[ -f "$cache" ] || { mkdir -p "$(dirname "$cache")"; cp "$root/scripts/get-pip-offline.py" "$cache"; }
cd "$dest"
# ansible-test lists files through git when it finds a repository; give it one of its own.
git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
ansible-test sanity --local --python 3.11 --color no "$@"
