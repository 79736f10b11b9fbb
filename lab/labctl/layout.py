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
    "agent": 18080,  # the Service agent-bruno-service: a loopback proxy to the pods' agents (labctl/svcproxy.py)
    "ollama": 18434,  # the Ollama API stand-in (agent_bruno.ollama_stub) OLLAMA_URL points at
}

# One agent process per agent-bruno pod (labctl/podsup.py), each on the first free port of this range.
POD_PORTS = range(18100, 18200)
PODS_DIR = RUN_DIR / "pods"  # per pod: <pod>.pid, logs/<pod>.log (the process's own stdout)
PODS_FILE = RUN_DIR / "pods.json"  # what runs for which pod (written by the supervisor, read by the Service)
AGENT_LAB_STATE = RUN_DIR / "agent-lab.json"  # sticky lab switches every new pod's agent gets (persistence)
PROMETHEUS_AGENT_TARGETS = RUN_DIR / "prometheus" / "agent-pods.json"  # file_sd: one target per pod
POD_LOGS = LAB_DIR / "k8s" / "pod-logs"  # lab/k8s/cluster's per-pod CRI log files (kubectl logs)
K8S_PKI = LAB_DIR / "k8s" / "pki"
APISERVER_PORT = 16443
