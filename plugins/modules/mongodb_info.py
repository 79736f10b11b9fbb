#!/usr/bin/python
# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mongodb_info
short_description: MongoDB server version, connection counts, database statistics and a collection's size
version_added: 0.1.0
description:
  - Reads C(buildInfo) for the server version (and the FerretDB version behind a MongoDB-wire server),
    C(serverStatus) for the connection counts (current, available, total created, active), C(dbStats) of
    O(mongodb.database), and the number of documents in O(collection).
  - Servers answer these commands with different fields; FerretDB, for example, reports no C(connections)
    section. A figure the server does not report is null and named in RV(not_reported), such as
    C(serverStatus.connections). It never fails the task.
  - A command the user may not run (C(serverStatus) needs the C(clusterMonitor) role on MongoDB) is
    reported the same way, with the reason in RV(notes). Only an unreachable server or rejected credentials
    fail the task.
  - Only reads, so it runs the same in check mode and never reports a change.
author:
  - bruno.ops contributors (@bruno-ops)
extends_documentation_fragment:
  - bruno.ops.mongodb
  - bruno.ops.attributes
  - bruno.ops.attributes.info_module
options:
  mongodb:
    required: true
  collection:
    description: Collection of O(mongodb.database) whose documents are counted; an empty string skips the count.
    type: str
    default: conversations
notes:
  - The document count comes from collection metadata (C(count) without a filter), so it is cheap on large
    collections and may lag a moment behind concurrent writes.
"""

EXAMPLES = r"""
- name: Connections and size of agent-bruno's archive
  bruno.ops.mongodb_info:
    mongodb:
      uri: "{{ vault_mongodb_uri }}"
      database: agent_bruno
    collection: conversations
  register: mongo

- name: Flag a connection pile-up, when the server reports connections at all
  ansible.builtin.debug:
    msg: "{{ mongo.connections.current }} of {{ mongo.connections.current + mongo.connections.available }} in use"
  when: mongo.connections is not none
"""

RETURN = r"""
server:
  description:
    - C(version) from buildInfo, C(ferretdb_version) when the server is FerretDB (else null), C(process) and
      C(uptime_seconds) from serverStatus (null when not reported).
  returned: always
  type: dict
  sample: {"version": "7.0.42", "ferretdb_version": "v1.24.2", "process": "ferretdb", "uptime_seconds": 3600.5}
connections:
  description:
    - serverStatus.connections, with C(current), C(available), C(total_created) and C(active). Null when the
      server does not report the section (FerretDB) or serverStatus could not be run; a single missing field
      is null.
  returned: always
  type: dict
  sample: {"current": 12, "available": 838848, "total_created": 340, "active": 3}
db_stats:
  description: dbStats of O(mongodb.database); sizes in bytes. Null when dbStats could not be run.
  returned: always
  type: dict
  sample: {"database": "agent_bruno", "collections": 2, "objects": 15000, "data_size_bytes": 61440000,
           "storage_size_bytes": 65536000, "indexes": 3, "index_size_bytes": 409600, "avg_obj_size_bytes": 4096}
collection:
  description:
    - The counted collection, whether it exists, and its documents (0 when it does not exist, null when the
      count could not be run). Null when O(collection) is empty.
    - C(latest_timestamp) is the C(timestamp) of its newest document (by the C(timestamp) index agent-bruno
      creates; a BSON date or an ISO string) and C(latest_age_seconds) how old it is; both null without
      documents. A collection that stopped growing while Redis sessions are in use is how the diagnosis tells
      that the app no longer persists its conversations.
  returned: always
  type: dict
  sample: {"name": "conversations", "exists": true, "documents": 15000,
           "latest_timestamp": "2026-12-02T20:14:03.123456", "latest_age_seconds": 42.5}
not_reported:
  description: Dotted names of the figures that are null because the server did not report them or refused.
  returned: always
  type: list
  elements: str
  sample: ["serverStatus.connections"]
notes:
  description: Why a command could not be run, when one could not.
  returned: always
  type: list
  elements: str
  sample: []
"""

import time

from ansible_collections.bruno.ops.plugins.module_utils import errors, module_run
from ansible_collections.bruno.ops.plugins.module_utils.clients.mongo_client import MongoClient, mongodb_option
from ansible_collections.bruno.ops.plugins.module_utils.facts import mongo_facts

# Kinds that mean the whole server is unusable: fail. Any other error of one command is reported as missing data.
FATAL_KINDS = (errors.UNREACHABLE, errors.AUTH, errors.INVALID, errors.CONFIG, errors.MISSING_LIBRARY)


ARGUMENT_SPEC = dict(
    mongodb=mongodb_option(required=True),
    collection=dict(type="str", default="conversations"),
)


def _optional(what, call, not_reported, notes):
    """call()'s result, or None with the reason noted when the server refuses or lacks the command."""
    try:
        return call()
    except errors.BrunoOpsError as exc:
        if exc.kind in FATAL_KINDS:
            raise
        not_reported.append(what)
        notes.append(exc.message)
        return None


def run(params, check_mode=False):
    client = MongoClient(params["mongodb"])
    database = params["mongodb"]["database"]
    not_reported, notes = [], []
    try:
        build_info = client.command("buildInfo")  # allowed to everyone; also proves the server answers
        status = _optional("serverStatus", lambda: client.command("serverStatus"), not_reported, notes)
        stats = _optional("dbStats", lambda: client.command("dbStats", database=database), not_reported, notes)
        collection = None
        if params["collection"]:
            collection = {"name": params["collection"], "exists": None, "documents": None,
                          "latest_timestamp": None, "latest_age_seconds": None}
            names = _optional("listCollections", lambda: _list_collection(client, database, params["collection"]),
                              not_reported, notes)
            if names is not None:
                collection["exists"] = params["collection"] in names
                collection["documents"] = _optional(
                    "count", lambda: _count(client, database, params["collection"]), not_reported, notes)
            if collection["exists"] and collection["documents"]:
                newest = _optional("newest document", lambda: _newest(client, database, params["collection"]),
                                   not_reported, notes)
                collection["latest_timestamp"], collection["latest_age_seconds"] = mongo_facts.latest(
                    newest, time.time())
    finally:
        client.close()
    return dict(
        changed=False,
        server=mongo_facts.server_facts(build_info, status, not_reported),
        connections=mongo_facts.connections(status, not_reported),
        db_stats=mongo_facts.db_stats(database, stats, not_reported),
        collection=collection,
        not_reported=not_reported,
        notes=notes,
    )


def _list_collection(client, database, name):
    with client.translate("list collections of %s" % database):
        return client.raw[database].list_collection_names(filter={"name": name})


def _count(client, database, name):
    with client.translate("count the documents of %s.%s" % (database, name)):
        return int(client.raw[database][name].estimated_document_count())


def _newest(client, database, name):
    """The timestamp fields of the newest document, by the timestamp index (no document bodies are read)."""
    with client.translate("read the newest document of %s.%s" % (database, name)):
        return client.raw[database][name].find_one({}, {"_id": 0, "timestamp": 1, "created_at": 1},
                                                   sort=[("timestamp", -1)])


def main():
    module_run.main(ARGUMENT_SPEC, run)


if __name__ == "__main__":
    main()
