"""A refused bulk write must not put the documents (chat content) or the server's quotes of field names into the
error, and must not call it a connection problem."""

import pytest
from pymongo.errors import BulkWriteError

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients import mongo_client

PARAMS = {"host": "127.0.0.1", "port": 1, "uri": None, "database": "agent_bruno", "username": None,
          "password": None, "auth_source": "admin", "tls": False, "connect_timeout": 1.0,
          "server_selection_timeout": 1.0, "socket_timeout": 1.0}


def test_bulk_write_error_names_codes_not_documents():
    client = mongo_client.MongoClient(dict(PARAMS))
    details = {"writeErrors": [{"index": 0, "code": 2, "errmsg": 'invalid key: "zq-user.name"',
                                "op": {"message": "zq-secret chat"}}],
               "writeConcernErrors": [], "nInserted": 0}
    with pytest.raises(errors.BrunoOpsError) as raised, client.translate("archive 1 turns"):
        raise BulkWriteError(details)
    message = raised.value.message
    assert "zq-" not in message and "connection options" not in message
    assert "1 documents refused (error codes 2)" in message and raised.value.kind == errors.API
    client.raw.close()
