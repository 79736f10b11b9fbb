"""Fixtures of the session tests. The servers come from tests/integration/conftest.py (redis_server,
ferretdb_server); tests that kill Redis get one of their own (own_redis)."""

import pymongo
import pytest
import redis
from sessionlab import REDIS_PASSWORD, OwnRedis

SESSIONS_DB = 7  # a database of the shared Redis that only these tests use, emptied around each test
MONGO_DB = "bruno_it_sessions"


@pytest.fixture
def sessions_redis(redis_server):
    client = redis.Redis(port=redis_server.port, password=REDIS_PASSWORD, db=SESSIONS_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def redis_options(redis_server):
    return {"host": "127.0.0.1", "port": redis_server.port, "password": REDIS_PASSWORD, "db": SESSIONS_DB}


@pytest.fixture
def mongo_options(ferretdb_server):
    return {"host": "127.0.0.1", "port": ferretdb_server.port, "database": MONGO_DB}


@pytest.fixture
def archive_db(ferretdb_server):
    client = pymongo.MongoClient(port=ferretdb_server.port)
    client[MONGO_DB].drop_collection("conversations")
    yield client[MONGO_DB]
    client.close()


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path).start()
    yield server
    server.stop()
