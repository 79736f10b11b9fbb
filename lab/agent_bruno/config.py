"""Configuration from environment variables: the real app's, plus a few lab-only ones (README.md).

The real app reads its variables with os.getenv and the defaults below; a value it cannot use
(SESSION_TTL not an integer, an unknown LOG_LEVEL) stops it at start, and so it does here (ConfigError).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

TIMESTAMP_MODES = ("iso", "datetime")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    # the real app's variables, with its defaults
    port: int = 8080
    redis_url: str = "redis://redis:6379"
    mongodb_url: str = "mongodb://mongodb:27017"
    mongodb_db: str = "agent_bruno"
    session_ttl: int = 86400
    log_level: str = "INFO"
    ollama_url: str = "http://ollama.homepage.svc.cluster.local:11434"
    ollama_model: str = "llama3.2:3b"
    # lab-only
    listen_addr: str = "127.0.0.1"
    lab_mode: bool = False
    pod_name: str = "agent-bruno"
    source_addr: str = ""
    persistence_broken: bool = False
    mongo_timestamp: str = "iso"


def _get(env, name, default):
    value = env.get(name)
    return default if value is None else value


def _flag(env, name):
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def from_env(env=None):
    env = os.environ if env is None else env
    raw_ttl = _get(env, "SESSION_TTL", "86400")
    try:
        session_ttl = int(raw_ttl)
    except ValueError:
        raise ConfigError("SESSION_TTL must be an integer (seconds), got %r" % raw_ttl) from None
    raw_port = _get(env, "PORT", "8080")
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError("PORT must be an integer, got %r" % raw_port) from None
    if not 0 <= port <= 65535:
        raise ConfigError("PORT must be 0..65535, got %d" % port)
    log_level = _get(env, "LOG_LEVEL", "INFO")
    try:
        logging._checkLevel(log_level)  # pylint: disable=protected-access
    except (ValueError, TypeError):
        raise ConfigError("LOG_LEVEL must be a logging level name (DEBUG, INFO, WARNING, ERROR), got %r"
                          % log_level) from None
    mongo_timestamp = env.get("LAB_MONGO_TIMESTAMP", "").strip().lower() or "iso"
    if mongo_timestamp not in TIMESTAMP_MODES:
        raise ConfigError("LAB_MONGO_TIMESTAMP must be iso or datetime, got %r" % mongo_timestamp)
    return Config(
        port=port,
        redis_url=_get(env, "REDIS_URL", Config.redis_url),
        mongodb_url=_get(env, "MONGODB_URL", Config.mongodb_url),
        mongodb_db=_get(env, "MONGODB_DB", Config.mongodb_db),
        session_ttl=session_ttl,
        log_level=log_level,
        ollama_url=_get(env, "OLLAMA_URL", Config.ollama_url),
        ollama_model=_get(env, "OLLAMA_MODEL", Config.ollama_model),
        listen_addr=env.get("LISTEN_ADDR", "").strip() or "127.0.0.1",
        lab_mode=env.get("LAB_MODE", "").strip() == "1",
        pod_name=env.get("POD_NAME", "").strip() or socket.gethostname(),
        source_addr=env.get("LAB_SOURCE_ADDR", "").strip(),
        persistence_broken=_flag(env, "LAB_PERSISTENCE_BROKEN"),
        mongo_timestamp=mongo_timestamp,
    )
