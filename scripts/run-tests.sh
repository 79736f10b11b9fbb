#!/usr/bin/env bash
# The test run of `make test` after the static gates: bring the lab up (unless it already runs), run pytest
# (unit + integration) and the molecule scenario against it, and bring the lab down again if we started it.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
started_lab=0
if ! lab/lab status >/dev/null 2>&1; then
  lab/lab up || exit 1
  started_lab=1
fi
status=0
read -r -a extra <<< "${PYTEST_ARGS:-}"
.venv/bin/python -m pytest tests/unit tests/integration "${extra[@]}" || status=$?
if [ "$status" -eq 0 ]; then
  PATH="$root/.venv/bin:$PATH" molecule test -s lab || status=$?
fi
if [ "$started_lab" -eq 1 ] && [ -z "${BRUNO_KEEP_LAB:-}" ]; then
  lab/lab down || status=1
fi
exit "$status"
