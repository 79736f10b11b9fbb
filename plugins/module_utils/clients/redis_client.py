# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis connection layer: the `redis` option set, one way to connect, one error translation."""

from __future__ import annotations

import contextlib
import time
import traceback
from urllib.parse import urlsplit

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
    """Where we connect, for messages: never the credentials."""
    if params.get("url"):
        parts = urlsplit(params["url"])
        host = parts.hostname or "localhost"
        port = parts.port or 6379
        db = (parts.path or "/0").lstrip("/") or "0"
        scheme = parts.scheme or "redis"
        return "%s://%s:%s/%s" % (scheme, host, port, db)
    scheme = "rediss" if params.get("tls") else "redis"
    return "%s://%s:%s/%s" % (scheme, params.get("host"), params.get("port"), params.get("db"))


def validate_params(params):
    if params.get("url"):
        scheme = urlsplit(params["url"]).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise errors.BrunoOpsError(
                "redis.url must start with redis://, rediss:// or unix:// (got a URL with scheme %r)" % scheme,
                kind=errors.INVALID,
            )
    for key in ("connect_timeout", "socket_timeout"):
        if params.get(key) is not None and params[key] <= 0:
            raise errors.BrunoOpsError("redis.%s must be a positive number of seconds" % key, kind=errors.INVALID)
    if params.get("retries") is not None and params["retries"] < 0:
        raise errors.BrunoOpsError("redis.retries must be 0 or more", kind=errors.INVALID)
    if params.get("port") is not None and not 0 < params["port"] < 65536:
        raise errors.BrunoOpsError("redis.port must be between 1 and 65535", kind=errors.INVALID)


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
            self.raw = redis.Redis.from_url(params["url"], **common)
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
