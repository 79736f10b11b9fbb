"""Where the lab keeps things, and on which ports it listens: one place, read by every component."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_SRC = REPO / "lab"

# All lab state (PID files, logs, data, kubeconfigs) lives here; git-ignored; `lab reset` removes it.
LAB_DIR = Path(os.environ.get("BRUNO_LAB_DIR") or REPO / ".lab").resolve()
RUN_DIR = LAB_DIR / "run"
KUBECONFIG_ADMIN = LAB_DIR / "kubeconfig" / "admin.yaml"
KUBECONFIG_AUTOMATION = LAB_DIR / "kubeconfig" / "automation.yaml"

# Fixed loopback ports, away from the usual defaults so a developer's own servers keep theirs.
HOST = "127.0.0.1"
PORTS = {
    "redis": 16379,
    "ferretdb": 27018,
    "prometheus": 19090,
    "agent": 18080,
}
