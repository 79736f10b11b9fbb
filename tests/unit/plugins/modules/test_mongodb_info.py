"""Figures from buildInfo / serverStatus / dbStats documents: what is missing is null and named."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from bson.int64 import Int64

from ansible_collections.bruno.ops.plugins.module_utils.facts import mongo_facts
from ansible_collections.bruno.ops.plugins.modules import mongodb_info

FERRET_STATUS = {"host": "vm", "version": "7.0.42", "process": "ferretdb", "uptime": 12.5,
                 "ferretdbVersion": "v1.24.2", "ok": 1.0}
MONGO_STATUS = {"version": "7.0.14", "process": "mongod", "uptime": 3600.0,
                "connections": {"current": 12, "available": 838848, "totalCreated": Int64(340), "active": 3}}


def test_ferretdb_has_no_connections_section():
    missing = []
    assert mongo_facts.connections(FERRET_STATUS, missing) is None
    assert missing == ["serverStatus.connections"]


def test_mongodb_connections_as_numbers():
    missing = []
    assert mongo_facts.connections(MONGO_STATUS, missing) == {"current": 12, "available": 838848,
                                                              "total_created": 340, "active": 3}
    assert missing == []


def test_a_missing_field_is_null_and_named():
    missing = []
    status = {"connections": {"current": 5, "available": 10}}
    assert mongo_facts.connections(status, missing) == {"current": 5, "available": 10, "total_created": None,
                                                        "active": None}
    assert missing == ["serverStatus.connections.totalCreated", "serverStatus.connections.active"]


def test_server_status_not_run_means_no_connections_and_no_extra_names():
    missing = []
    assert mongo_facts.connections(None, missing) is None
    assert mongo_facts.server_facts({"version": "7.0.14"}, None, missing) == {
        "version": "7.0.14", "ferretdb_version": None, "process": None, "uptime_seconds": None}
    assert missing == []


def test_server_facts_name_ferretdb():
    missing = []
    facts = mongo_facts.server_facts({"version": "7.0.42", "ferretdbVersion": "v1.24.2"}, FERRET_STATUS, missing)
    assert facts == {"version": "7.0.42", "ferretdb_version": "v1.24.2", "process": "ferretdb",
                     "uptime_seconds": 12.5}


def test_db_stats_fields_and_gaps():
    missing = []
    stats = {"collections": 2, "objects": Int64(15000), "dataSize": 6.144e7, "storageSize": 65536000,
             "indexes": 3, "indexSize": 409600}
    assert mongo_facts.db_stats("bruno", stats, missing) == {
        "database": "bruno", "collections": 2, "objects": 15000, "data_size_bytes": 61440000,
        "storage_size_bytes": 65536000, "indexes": 3, "index_size_bytes": 409600, "avg_obj_size_bytes": None}
    assert missing == ["dbStats.avgObjSize"]
    assert mongo_facts.db_stats("bruno", None, missing) is None


def test_unreachable_server_fails_once_without_the_password(capsys):
    args = {"mongodb": {"host": "127.0.0.1", "port": 9, "password": "m0ngo-secret", "username": "u",
                        "server_selection_timeout": 1.0}}
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        mongodb_info.main()
    result = json.loads(capsys.readouterr().out)
    assert exited.value.code == 1 and result["error"]["kind"] == "unreachable"
    assert "m0ngo-secret" not in json.dumps(result)
