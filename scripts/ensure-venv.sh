#!/usr/bin/env bash
# Create .venv from requirements/lock.txt (hash-pinned). Idempotent: a stamp named after the lock's
# hash is written last, so an interrupted install is redone and a changed lock reinstalls.
set -euo pipefail
venv=${1:-.venv}
lock=requirements/lock.txt
stamp="$venv/.installed-$(sha256sum "$lock" | cut -c1-16)"
[ -f "$stamp" ] && exit 0
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "bruno.ops pins Python 3.11 (ansible-core 2.19)"'
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock"
rm -f "$venv"/.installed-*
touch "$stamp"
echo "ensure-venv: $venv ready"
