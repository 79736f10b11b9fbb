"""Configuration from environment variables (documented in README.md); invalid values fail at start."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    listen_addr: str = "127.0.0.1"
    port: int = 8080
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str | None = None
    mongo_db: str = "bruno"
    session_ttl: int = 86400  # seconds; 0 = sessions get no TTL
    session_key_prefix: str = "bruno:session:"
    context_window: int = 50  # messages kept in Redis per session; 0 = unlimited
    redis_pool_size: int = 20
    redis_pool_timeout: float = 5.0
    redis_socket_timeout: float = 5.0
    mongo_pool_size: int = 20
    mongo_timeout_ms: int = 3000
    pod_name: str = "agent-bruno"
    lab_mode: bool = False
    active_sessions_mode: str = "scan"
    active_sessions_cache_seconds: float = 10.0
    active_sessions_scan_budget: int = 10000
    max_body_bytes: int = 1 << 20

    @property
    def mongo_enabled(self):
        return bool(self.mongo_url)


def _int(env, name, default, minimum=None, maximum=None):
    raw = env.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError("%s must be an integer, got %r" % (name, raw)) from None
    if minimum is not None and value < minimum:
        raise ConfigError("%s must be >= %d, got %d" % (name, minimum, value))
    if maximum is not None and value > maximum:
        raise ConfigError("%s must be <= %d, got %d" % (name, maximum, value))
    return value


def _float(env, name, default, minimum=0.0):
    raw = env.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError("%s must be a number, got %r" % (name, raw)) from None
    if value < minimum:
        raise ConfigError("%s must be >= %s, got %s" % (name, minimum, value))
    return value


def _str(env, name, default):
    raw = env.get(name, "").strip()
    return raw or default


def from_env(env=None):
    """Build a Config from `env` (default os.environ); unset or empty variables take their defaults."""
    env = os.environ if env is None else env
    # SESSION_TTL: unset -> 86400; set to "" or "0" -> no TTL (how the lab simulates sessions without TTL).
    ttl = 86400 if "SESSION_TTL" not in env else _int(env, "SESSION_TTL", 0, minimum=0)
    prefix = env.get("SESSION_KEY_PREFIX", "") or "bruno:session:"
    if any(ch in prefix for ch in "*?[]\\"):
        raise ConfigError("SESSION_KEY_PREFIX must not contain glob characters (*?[]\\), got %r" % prefix)
    mode = _str(env, "ACTIVE_SESSIONS_MODE", "scan").lower()
    if mode not in ("scan", "dbsize"):
        raise ConfigError("ACTIVE_SESSIONS_MODE must be scan or dbsize, got %r" % mode)
    return Config(
        listen_addr=_str(env, "LISTEN_ADDR", "127.0.0.1"),
        port=_int(env, "PORT", 8080, minimum=0, maximum=65535),
        redis_url=_str(env, "REDIS_URL", "redis://127.0.0.1:6379/0"),
        mongo_url=_str(env, "MONGO_URL", "") or None,
        mongo_db=_str(env, "MONGO_DB", "bruno"),
        session_ttl=ttl,
        session_key_prefix=prefix,
        context_window=_int(env, "CONTEXT_WINDOW", 50, minimum=0),
        redis_pool_size=_int(env, "REDIS_POOL_SIZE", 20, minimum=1),
        redis_pool_timeout=_float(env, "REDIS_POOL_TIMEOUT", 5.0),
        redis_socket_timeout=_float(env, "REDIS_SOCKET_TIMEOUT", 5.0, minimum=0.1),
        mongo_pool_size=_int(env, "MONGO_POOL_SIZE", 20, minimum=1),
        mongo_timeout_ms=_int(env, "MONGO_TIMEOUT_MS", 3000, minimum=100),
        pod_name=_str(env, "POD_NAME", "") or socket.gethostname(),
        lab_mode=_str(env, "LAB_MODE", "0") == "1",
        active_sessions_mode=mode,
        active_sessions_cache_seconds=_float(env, "ACTIVE_SESSIONS_CACHE_SECONDS", 10.0),
        active_sessions_scan_budget=_int(env, "ACTIVE_SESSIONS_SCAN_BUDGET", 10000, minimum=1),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1 << 20, minimum=1024),
    )
