"""The lab's parts in start order. Each has up() (idempotent), down() (by PID) and status()."""

from __future__ import annotations

from labctl import layout, services

PROMETHEUS_CONFIG = """\
# Written by `lab up`; the lab's Prometheus.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: agent-bruno
    static_configs:
      - targets: ["{host}:{agent}"]
        labels:
          namespace: bruno
          service: agent-bruno-service
"""


class Server:
    """A data server from labctl.services on its fixed lab port."""

    def __init__(self, name, factory):
        self.name = name
        self.factory = factory

    def server(self):
        return self.factory()

    def up(self):
        self.server().start()

    def down(self):
        return self.server().stop()

    def status(self):
        server = self.server()
        pid = server.proc.pid()
        return {"name": self.name, "running": bool(pid), "pid": pid,
                "detail": "%s:%d pid %s" % (layout.HOST, server.port, pid) if pid else ""}


def _prometheus():
    config = PROMETHEUS_CONFIG.format(host=layout.HOST, agent=layout.PORTS["agent"])
    return services.Prometheus(layout.RUN_DIR, layout.PORTS["prometheus"], config)


def ordered():
    return [
        Server("redis", lambda: services.Redis(layout.RUN_DIR, layout.PORTS["redis"])),
        Server("ferretdb", lambda: services.FerretDB(layout.RUN_DIR, layout.PORTS["ferretdb"])),
        Server("prometheus", _prometheus),
    ]
