"""A tiny stand-in for oliver006/redis_exporter: the lab Redis's key counts as Prometheus metrics.

`python -m labctl.redis_exporter [PORT]` (started by `lab up`, stopped by `lab down`, by PID) answers
GET /metrics on 127.0.0.1:PORT with what the real exporter reports for the keyspace:

    redis_up 1
    redis_db_keys{db="db0"} <DBSIZE>
    redis_db_keys_expiring{db="db0"} <keys with a TTL>

(db0 always, other databases when they hold keys, as in INFO keyspace). The lab Prometheus scrapes it as
job="redis", instance="127.0.0.1:PORT", the labels the scenarios' backfill gives its history
(labctl.seed), so history and live samples are one series: `sum(redis_db_keys{db="db0"})` is the session count
over time (the lab's db0 holds only bruno:session:* keys). When Redis is down: redis_up 0 and no key counts.

Stdlib only (a RESP client of two commands), loopback only.
"""

from __future__ import annotations

import http.server
import os
import socket
import sys

HOST = "127.0.0.1"
PORT = 19121  # the real exporter's 9121, moved into the lab's range
REDIS_PORT = int(os.environ.get("REDIS_PORT", "16379"))
JOB = "redis"


def instance():
    """The `instance` label Prometheus gives this target (and the backfill gives its history)."""
    return "%s:%d" % (HOST, PORT)


def _command(sock, reader, *words):
    sock.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
    head = reader.readline()
    if head[:1] == b":":
        return int(head[1:])
    if head[:1] == b"$":
        size = int(head[1:])
        return reader.read(size + 2)[:-2].decode() if size >= 0 else ""
    raise OSError("redis: %r" % head[:200])


def keyspace(port=None, timeout=2.0):
    """{db: (keys, expiring)} of the Redis on `port`, db0 always present."""
    with socket.create_connection((HOST, port or REDIS_PORT), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        dbsize = _command(sock, reader, b"DBSIZE")
        info = _command(sock, reader, b"INFO", b"keyspace")
    dbs = {"db0": (dbsize, 0)}
    for line in info.splitlines():
        name, _colon, fields = line.partition(":")
        if name.startswith("db") and fields:
            values = dict(item.split("=", 1) for item in fields.split(","))
            dbs[name] = (dbsize if name == "db0" else int(values.get("keys", 0)), int(values.get("expires", 0)))
    return dbs


def metrics_text(port=None):
    try:
        dbs = keyspace(port)
    except OSError:
        return "# TYPE redis_up gauge\nredis_up 0\n"
    lines = ["# TYPE redis_up gauge", "redis_up 1", "# TYPE redis_db_keys gauge"]
    lines += ['redis_db_keys{db="%s"} %d' % (db, keys) for db, (keys, _expiring) in sorted(dbs.items())]
    lines.append("# TYPE redis_db_keys_expiring gauge")
    lines += ['redis_db_keys_expiring{db="%s"} %d' % (db, expiring) for db, (_keys, expiring) in sorted(dbs.items())]
    return "\n".join(lines) + "\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = metrics_text().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):  # a scrape every 15 s: no access log
        pass


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0]) if argv else PORT
    server = http.server.ThreadingHTTPServer((HOST, port), Handler)
    server.daemon_threads = True
    print("redis_exporter: http://%s:%d/metrics (Redis %s:%d)" % (HOST, port, HOST, REDIS_PORT), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
