"""The Service agent-bruno-service on the lab's fixed agent port: a loopback TCP proxy to the pods' agents.

`python -m labctl.svcproxy` (started by `lab up`, stopped by `lab down`, by PID). Like kube-proxy it works on
connections, not requests: each accepted connection goes to the next Ready pod's agent (round robin over
PODS_FILE, written by labctl.podsup) and its bytes are copied both ways untouched, so an X-Forwarded-For
header the client sends reaches the agent as sent (the agent then sees the proxy's 127.0.0.1 as its peer, as a
real pod sees the node or the ingress). With no Ready pod the connection is closed at once (a Service without
endpoints refuses). Threads are bounded by MAX_CONNECTIONS; idle connections time out.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import sys
import threading

from labctl import layout

MAX_CONNECTIONS = 256
IDLE_SECONDS = 300
CONNECT_SECONDS = 3


class Endpoints:
    """The Ready pods' agent addresses from PODS_FILE, reread when the file changes."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.backends = []
        self.counter = itertools.count()
        self.lock = threading.Lock()

    def current(self):
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return []
        with self.lock:
            if stamp != self.stamp:
                try:
                    with open(self.path, encoding="utf-8") as handle:
                        rows = json.load(handle).get("pods", {})
                except (OSError, ValueError):
                    rows = {}
                self.backends = [(name, row["port"]) for name, row in sorted(rows.items())
                                 if row.get("ready") and row.get("pid") and row.get("port")]
                self.stamp = stamp
            return list(self.backends)

    def order(self):
        """The backends starting at the next one in round-robin order (the rest are fallbacks)."""
        backends = self.current()
        if not backends:
            return []
        start = next(self.counter) % len(backends)
        return backends[start:] + backends[:start]


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def handle(client, endpoints, slots):
    upstream = None
    try:
        for _name, port in endpoints.order():
            try:
                upstream = socket.create_connection((layout.HOST, port), timeout=CONNECT_SECONDS)
                break
            except OSError:
                continue  # a pod going away between the file's update and now: next endpoint
        if upstream is None:
            return
        for sock in (client, upstream):
            sock.settimeout(IDLE_SECONDS)
        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(IDLE_SECONDS)
    finally:
        for sock in (client, upstream):
            if sock is not None:
                sock.close()
        slots.release()


def serve(port, pods_file):
    endpoints = Endpoints(pods_file)
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((layout.HOST, port))
    listener.listen(128)
    listener.settimeout(1.0)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_args: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_args: stopping.append(True))
    print("svcproxy: agent-bruno-service on %s:%d" % (layout.HOST, port), flush=True)
    while not stopping:
        try:
            client, _addr = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            if stopping:
                break
            raise
        if not slots.acquire(timeout=5):
            client.close()
            continue
        threading.Thread(target=handle, args=(client, endpoints, slots), daemon=True).start()
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]) if len(sys.argv) > 1 else layout.PORTS["agent"], layout.PODS_FILE))
