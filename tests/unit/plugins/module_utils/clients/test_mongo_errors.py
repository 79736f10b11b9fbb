"""A value BSON cannot encode is the data's fault: the error must not blame the connection options."""

import bson
import pytest
from bson import errors as bson_errors

from ansible_collections.bruno.ops.plugins.module_utils import errors
from ansible_collections.bruno.ops.plugins.module_utils.clients import mongo_client

PARAMS = {"host": "127.0.0.1", "port": 1, "uri": None, "database": "agent_bruno", "username": None,
          "password": None, "auth_source": "admin", "tls": False, "connect_timeout": 1.0,
          "server_selection_timeout": 1.0, "socket_timeout": 1.0}


@pytest.mark.parametrize("document", [
    {"message": "zq-chat \ud83d"},  # a lone surrogate, as the agent accepts and stores it
    {"n": 2 ** 70},
    {"zq-key\x00": 1},
])
def test_unencodable_document_is_a_data_error(document):
    client = mongo_client.MongoClient(dict(PARAMS))
    with pytest.raises(errors.BrunoOpsError) as raised, client.translate("archive turns"):
        bson.encode(document)
    assert "connection options" not in raised.value.message.replace("the connection options are fine", "")
    assert raised.value.details["data_error"]
    assert "zq-" not in raised.value.message  # no user data quoted
    client.raw.close()


def test_bad_options_still_name_the_option():
    with pytest.raises(errors.BrunoOpsError) as raised:
        mongo_client.MongoClient(dict(PARAMS, uri="mongodb://app:s3cret@host:notaport/"))
    assert raised.value.kind == errors.INVALID and "mongodb.uri" in raised.value.message
    assert "s3cret" not in raised.value.message


def test_bson_error_is_not_caught_as_configuration():
    assert not issubclass(bson_errors.InvalidDocument, ValueError)  # why translate() catches BSONError itself
