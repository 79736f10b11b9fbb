# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bruno.ops.alertmanager: an ansible-rulebook event source that receives Alertmanager webhooks.

A stand-in for ``ansible.eda.alertmanager`` (what production uses, docs/event-driven.md) where the
ansible.eda collection cannot be installed. It takes the same arguments and puts the same events on
the queue, so a rulebook moves between the two by changing the source name only.

Arguments (the defaults are ansible.eda.alertmanager's, except ``host``):

  host                 address to listen on; 127.0.0.1 (ansible.eda: localhost). 0.0.0.0 for all.
  port                 TCP port; 5000.
  data_alerts_path     where the alerts are in the POSTed JSON; "alerts". "" takes the whole body as
                       one alert.
  data_host_path       where the alerting host is inside each alert; "labels.instance". "" for none.
  data_path_separator  separator of the two paths above; ".".
  skip_original_data   false: queue the whole body as one event, then one event per alert;
                       true: only the per-alert events. Also "true"/"false" as strings.

Events (the shape of ansible.eda.alertmanager's):

  {"payload": <body>, "meta": {"endpoint": <path>, "headers": {...}}}          unless skip_original_data
  {"alert": <alert>, "meta": {"endpoint": <path>, "headers": {...}, "hosts": [<host>]}}   per alert

``endpoint`` is the URL path after ``/`` (the last part of the URL in Alertmanager's
webhook_config); ``hosts`` holds the host found at data_host_path with any ``:port`` removed, and
ansible-rulebook limits run_playbook to those hosts when there are any.

HTTP: ``GET /`` answers 200 "up"; ``POST /<endpoint>`` answers 202 "Received". Two deliberate
differences: a body that is not JSON answers 400 (ansible.eda: 500), and the values of credential
headers (Authorization, Proxy-Authorization, Cookie) are replaced by a mask in ``meta.headers``,
because events are printed (--print-events) and passed to playbooks as ``ansible_eda.event``.
"""

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import dpath
from aiohttp import web

LOGGER = logging.getLogger(__name__)
MASK = "********"
CREDENTIAL_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie"))
SETTINGS = web.AppKey("settings", dict)
QUEUE = web.AppKey("queue", Any)


def masked_headers(headers: Mapping[str, str]) -> dict:
    return {name: MASK if name.lower() in CREDENTIAL_HEADERS else value for name, value in headers.items()}


def as_bool(value: Any) -> bool:
    """A boolean argument, also when a rulebook variable made it a string ("false" is false)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def find(data: Any, path: str, separator: str) -> Any:
    """The value at ``path`` (ansible.eda's dpath lookup); KeyError when there is none."""
    return dpath.get(data, path, separator=separator)


def alerts_of(payload: Any, settings: dict) -> list:
    if not settings["data_alerts_path"]:
        return [payload]
    try:
        alerts = find(payload, settings["data_alerts_path"], settings["data_path_separator"])
    except KeyError:
        return []
    return alerts if isinstance(alerts, list) else [alerts]


def hosts_of(alert: Any, settings: dict) -> list:
    if not settings["data_host_path"]:
        return []
    try:
        host = find(alert, settings["data_host_path"], settings["data_path_separator"])
    except KeyError:
        return []
    return [host.split(":")[0]] if isinstance(host, str) and host else []


async def status(_request: web.Request) -> web.Response:
    return web.Response(status=200, text="up")


async def webhook(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.Response(status=400, text="the body is not JSON")
    settings = request.app[SETTINGS]
    queue = request.app[QUEUE]
    endpoint = request.match_info["endpoint"]
    headers = masked_headers(request.headers)

    if not settings["skip_original_data"]:
        await queue.put({"payload": payload, "meta": {"endpoint": endpoint, "headers": headers}})
    for alert in alerts_of(payload, settings):
        meta = {"endpoint": endpoint, "headers": headers, "hosts": hosts_of(alert, settings)}
        await queue.put({"alert": alert, "meta": meta})
    return web.Response(status=202, text="Received")


async def main(queue: Any, args: dict[str, Any]) -> None:
    """ansible-rulebook's entry point: serve until the source task is cancelled."""
    app = web.Application()
    app[QUEUE] = queue
    app[SETTINGS] = {
        "data_alerts_path": str(args.get("data_alerts_path", "alerts")),
        "data_host_path": str(args.get("data_host_path", "labels.instance")),
        "data_path_separator": str(args.get("data_path_separator", ".")),
        "skip_original_data": as_bool(args.get("skip_original_data", False)),
    }
    app.router.add_get("/", status)
    app.router.add_post("/{endpoint}", webhook)

    host = str(args.get("host", "127.0.0.1"))
    port = int(args.get("port", 5000))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        LOGGER.info("alertmanager source listening on %s:%d", host, port)
        await asyncio.Future()  # until ansible-rulebook cancels the source
    finally:
        await runner.cleanup()
