"""Make the collection (as ansible_collections.bruno.ops) and the lab package importable in tests."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".collections"

if not (COLLECTIONS / "ansible_collections" / "bruno" / "ops").exists():
    subprocess.run([str(ROOT / "scripts" / "link-collection.sh")], check=True)
for path in (str(COLLECTIONS), str(ROOT / "lab"), str(ROOT / "tests" / "integration")):
    if path not in sys.path:
        sys.path.insert(0, path)
