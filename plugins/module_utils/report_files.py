# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a run's report files: only the ones whose content differs, each atomically (module.atomic_move), none in
check mode. Shared by diagnosis_report and fleet_report."""

from __future__ import annotations

import os
import tempfile

from ansible_collections.bruno.ops.plugins.module_utils import errors


def write(module, out_dir, contents, check_mode):
    """contents: {format: (file name, text)}. Returns (files {format: path}, updated [formats that changed])."""
    files, updated = {}, []
    for fmt, (name, content) in contents.items():
        path = os.path.join(out_dir, name)
        files[fmt] = path
        try:
            with open(path, encoding="utf-8") as handle:
                same = handle.read() == content
        except OSError:
            same = False
        if same:
            continue
        updated.append(fmt)
        if check_mode:
            continue
        try:
            os.makedirs(out_dir, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=out_dir, prefix=".%s-" % os.path.splitext(name)[0])
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(content)
            module.atomic_move(tmp, path)
        except OSError as exc:
            raise errors.BrunoOpsError("cannot write %s: %s; check output_dir" % (path, exc),
                                       kind=errors.CONFIG) from None
    return files, updated
