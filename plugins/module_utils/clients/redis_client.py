# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis connection layer: the `redis` option set, one way to connect, one error translation."""

from __future__ import annotations

import contextlib
import time
import traceback
from urllib.parse import quote

from ansible_collections.bruno.ops.plugins.module_utils import errors

REDIS_IMPORT_ERROR = None
try:
    import redis
    import redis.exceptions as redis_exc
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
except ImportError:  # reported by require_redis(), never at import time
    redis = None
    redis_exc = None
    REDIS_IMPORT_ERROR = traceback.format_exc()

# Sub-options of every module's `redis` option; documented by the bruno.ops.redis doc fragment.
REDIS_CONNECTION_SPEC = dict(
    url=dict(type="str", no_log=True),
    host=dict(type="str", default="localhost"),
    port=dict(type="int", default=6379),
    db=dict(type="int", default=0),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    tls=dict(type="bool", default=False),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    connect_timeout=dict(type="float", default=5.0),
    socket_timeout=dict(type="float", default=10.0),
    retries=dict(type="int", default=1),
)


def redis_option(required=False):
    """The `redis` module option, ready to drop into an argument spec."""
    return errors.connection_option(REDIS_CONNECTION_SPEC, required)


def require_redis():
    if redis is None:
        raise errors.missing_library("redis", "redis[hiredis]", REDIS_IMPORT_ERROR)


def describe_address(params):
    """Where we connect, for messages: never the credentials (even a password with a raw '#', '/' or '?')."""
    if params.get("url"):
        try:
            parts = errors.split_url(params["url"], "redis.url")
        except errors.BrunoOpsError:
            return errors.display_url(params["url"])
        if parts["scheme"] == "unix":
            return errors.display_url(parts["rest"])
        db = parts["path"].lstrip("/") or "0"
        return "%s://%s/%s" % (parts["scheme"], errors.host_port(parts["host"] or "localhost", parts["port"] or 6379),
                               db)
    scheme = "rediss" if params.get("tls") else "redis"
    return "%s://%s/%s" % (scheme, errors.host_port(params.get("host"), params.get("port")), params.get("db"))


def url_database(parts):
    """The database number of a parsed redis:// URL (its path), 0 when none; raises naming redis.url otherwise.

    redis-py ignores a path that is not a number (redis://h:6379/db7 silently means db 0), so it is checked here."""
    db = parts["path"].strip("/")
    if not db:
        return 0
    if not db.isdigit():
        raise errors.BrunoOpsError(
            "redis.url must end in /N, the database number (0 or more), or in nothing for db 0; got /%s in %s"
            % (db[:40], describe_address({"url": parts["rest"]})), kind=errors.INVALID)
    return int(db)


def connection_url(params):
    """The URL redis-py is given: user info percent-encoded, so a raw '#', '/' or '?' in a password is read as the
    password (redis-py decodes it again) instead of cutting the URL short."""
    parts = errors.split_url(params["url"], "redis.url")
    if parts["username"] is None:
        return parts["rest"]
    userinfo = quote(parts["username"], safe="")
    if parts["password"] is not None:
        userinfo += ":" + quote(parts["password"], safe="")
    return parts["rest"].replace("://", "://%s@" % userinfo, 1)


def validate_params(params):
    if params.get("url"):
        parts = errors.split_url(params["url"], "redis.url")
        if parts["scheme"] not in ("redis", "rediss", "unix"):
            raise errors.BrunoOpsError(
                "redis.url must start with redis://, rediss:// or unix:// (got a URL with scheme %r)"
                % parts["scheme"], kind=errors.INVALID,
            )
        if parts["scheme"] != "unix":
            if not parts["host"]:
                raise errors.BrunoOpsError("redis.url has no host: write redis://host:port/db", kind=errors.INVALID)
            url_database(parts)
    for key in ("connect_timeout", "socket_timeout"):
        if params.get(key) is not None and params[key] <= 0:
            raise errors.BrunoOpsError("redis.%s must be a positive number of seconds" % key, kind=errors.INVALID)
    if params.get("retries") is not None and params["retries"] < 0:
        raise errors.BrunoOpsError("redis.retries must be 0 or more", kind=errors.INVALID)
    if params.get("port") is not None and not 0 < params["port"] < 65536:
        raise errors.BrunoOpsError("redis.port must be between 1 and 65535", kind=errors.INVALID)
    if params.get("db") is not None and params["db"] < 0:
        raise errors.BrunoOpsError("redis.db must be 0 or more", kind=errors.INVALID)
    if params.get("host") is not None and not str(params["host"]).strip():
        raise errors.BrunoOpsError("redis.host must not be empty", kind=errors.INVALID)


class RedisClient:
    """A connected redis.Redis plus the address it points at; use `translate()` around every call."""

    def __init__(self, params):
        require_redis()
        validate_params(params)
        self.params = params
        self.address = describe_address(params)
        common = dict(
            socket_connect_timeout=params["connect_timeout"],
            socket_timeout=params["socket_timeout"],
            decode_responses=False,
            client_name="bruno.ops",
            # redis-py's default (3 retries, backoff up to 10 s) turns "unreachable" into half a minute.
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), params["retries"]),
        )
        if params.get("username"):
            common["username"] = params["username"]
        if params.get("password"):
            common["password"] = params["password"]
        if params.get("url"):
            if params["url"].startswith("rediss://") or params.get("tls"):
                common.update(self._tls_kwargs())
            self.raw = redis.Redis.from_url(connection_url(params), **common)
        else:
            if params.get("tls"):
                common["ssl"] = True
                common.update(self._tls_kwargs())
            self.raw = redis.Redis(host=params["host"], port=params["port"], db=params["db"], **common)

    def _tls_kwargs(self):
        kwargs = {"ssl_cert_reqs": "required" if self.params.get("validate_certs", True) else "none"}
        if self.params.get("ca_cert"):
            kwargs["ssl_ca_certs"] = self.params["ca_cert"]
        return kwargs

    @contextlib.contextmanager
    def translate(self, action):
        """Turn any redis-py error raised inside the block into one BrunoOpsError."""
        try:
            yield
        except redis_exc.AuthenticationError as exc:  # a ConnectionError subclass: test it first
            raise errors.BrunoOpsError(
                "cannot %s at %s: authentication failed (%s); check redis.username and redis.password"
                % (action, self.address, exc),
                kind=errors.AUTH, address=self.address,
            ) from None
        except redis_exc.NoPermissionError as exc:
            raise errors.BrunoOpsError(
                "cannot %s at %s: the Redis ACL user lacks permission (%s)" % (action, self.address, exc),
                kind=errors.FORBIDDEN, address=self.address,
            ) from None
        except (redis_exc.ConnectionError, redis_exc.TimeoutError) as exc:
            raise errors.BrunoOpsError(
                "cannot %s: Redis at %s is unreachable (%s)" % (action, self.address, exc or type(exc).__name__),
                kind=errors.UNREACHABLE, address=self.address,
            ) from None
        except redis_exc.ResponseError as exc:
            text = str(exc)
            kind = errors.AUTH if text.startswith(("NOAUTH", "WRONGPASS")) else errors.API
            raise errors.BrunoOpsError(
                "cannot %s at %s: Redis replied %s" % (action, self.address, text), kind=kind, address=self.address
            ) from None
        except redis_exc.RedisError as exc:
            raise errors.BrunoOpsError(
                "cannot %s at %s: %s" % (action, self.address, exc), kind=errors.API, address=self.address
            ) from None

    def ping(self):
        """Round-trip time of PING in milliseconds (the first call also connects and authenticates)."""
        with self.translate("ping"):
            self.raw.ping()
            started = time.monotonic()
            self.raw.ping()
            return round((time.monotonic() - started) * 1000.0, 3)

    def info(self, section=None):
        with self.translate("read INFO %s" % (section or "")):
            return self.raw.info(section) if section else self.raw.info()

    def close(self):
        with contextlib.suppress(Exception):
            self.raw.close()
