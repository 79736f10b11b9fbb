#!/usr/bin/env bash
# Make `bruno.ops` resolvable from a checkout: ansible.cfg points collections_path at .collections,
# where ansible_collections/bruno/ops is a symlink back to this repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
link="$root/.collections/ansible_collections/bruno/ops"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "$root" ]; then
  rm -f "$link"
  ln -s "$root" "$link"
fi
