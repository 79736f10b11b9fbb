"""bruno.ops.mongodb_info against a real FerretDB, which reports no serverStatus.connections."""

from gatherlab import CONVERSATIONS, MONGO_DATABASE, run_module

MODULE = "bruno.ops.mongodb_info"


def test_ferretdb_facts_with_connections_not_reported(archive_mongodb):
    rc, result, raw = run_module(MODULE, {"mongodb": archive_mongodb["conn"]})
    assert rc == 0, result
    assert result["changed"] is False
    assert result["server"]["ferretdb_version"].startswith("v1.")
    assert result["server"]["version"] and result["server"]["process"] == "ferretdb"
    assert result["connections"] is None
    assert "serverStatus.connections" in result["not_reported"]
    stats = result["db_stats"]
    assert stats["database"] == MONGO_DATABASE
    assert stats["collections"] >= 1 and stats["objects"] >= CONVERSATIONS
    assert stats["data_size_bytes"] > 0
    collection = result["collection"]
    assert {k: collection[k] for k in ("name", "exists", "documents")} == {
        "name": "conversations", "exists": True, "documents": CONVERSATIONS}
    # the newest document by its timestamp (agent-bruno's naive-UTC ISO string), and how old it is
    assert collection["latest_timestamp"] == archive_mongodb["newest"].isoformat()
    assert 0 <= collection["latest_age_seconds"] < 600
    assert "Traceback" not in raw


def test_missing_and_skipped_collection(archive_mongodb):
    rc, result, _raw = run_module(MODULE, {"mongodb": archive_mongodb["conn"], "collection": "nope"})
    assert rc == 0, result
    assert result["collection"] == {"name": "nope", "exists": False, "documents": 0, "latest_timestamp": None,
                                    "latest_age_seconds": None}
    rc, result, _raw = run_module(MODULE, {"mongodb": archive_mongodb["conn"], "collection": ""})
    assert rc == 0 and result["collection"] is None


def test_check_mode_gives_the_same_answer(archive_mongodb):
    rc, result, _raw = run_module(MODULE, {"mongodb": archive_mongodb["conn"]}, check=True)
    assert rc == 0 and result["changed"] is False
    assert result["collection"]["documents"] == CONVERSATIONS
