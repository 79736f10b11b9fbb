# Copyright: (c) 2026, bruno.ops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MongoDB connection layer: the `mongodb` option set, one way to connect, one error translation."""

from __future__ import annotations

import contextlib
import time
import traceback

from ansible_collections.bruno.ops.plugins.module_utils import errors

PYMONGO_IMPORT_ERROR = None
try:
    import pymongo
    from bson.errors import BSONError
    from pymongo import errors as mongo_exc
    from pymongo import uri_parser
except ImportError:  # reported by require_pymongo(), never at import time
    pymongo = None
    BSONError = None
    mongo_exc = None
    uri_parser = None
    PYMONGO_IMPORT_ERROR = traceback.format_exc()

# Sub-options of every module's `mongodb` option; documented by the bruno.ops.mongodb doc fragment.
MONGODB_CONNECTION_SPEC = dict(
    uri=dict(type="str", no_log=True),
    host=dict(type="str", default="localhost"),
    port=dict(type="int", default=27017),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    auth_source=dict(type="str", default="admin"),
    database=dict(type="str", default="agent_bruno"),
    tls=dict(type="bool", default=False),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    connect_timeout=dict(type="float", default=5.0),
    server_selection_timeout=dict(type="float", default=5.0),
    socket_timeout=dict(type="float", default=30.0),
)

# Server error codes that mean "who you are" or "what you may do", not "the server broke".
_AUTH_FAILED = 18
_UNAUTHORIZED = 13


def mongodb_option(required=False):
    """The `mongodb` module option, ready to drop into an argument spec."""
    return errors.connection_option(MONGODB_CONNECTION_SPEC, required)


def require_pymongo():
    if pymongo is None:
        raise errors.missing_library("pymongo", "pymongo", PYMONGO_IMPORT_ERROR)


def describe_address(params):
    """Where we connect, for messages: hosts only, never the credentials."""
    if params.get("uri"):
        try:
            nodes = uri_parser.parse_uri(params["uri"], validate=False)["nodelist"]
        except Exception:  # an unparsable URI is reported by MongoClient itself; say nothing of its text
            return "mongodb://<unparsable uri>"
        return "mongodb://" + ",".join("%s:%s" % node for node in nodes)
    return "mongodb://%s:%s" % (params.get("host"), params.get("port"))


def validate_params(params):
    """Options pymongo would otherwise report as "unreachable" (a port of 70000) or not at all."""
    for key in ("connect_timeout", "server_selection_timeout", "socket_timeout"):
        if params.get(key) is not None and params[key] <= 0:
            raise errors.BrunoOpsError("mongodb.%s must be a positive number of seconds" % key, kind=errors.INVALID)
    if params.get("uri"):
        return
    if params.get("port") is not None and not 0 < params["port"] < 65536:
        raise errors.BrunoOpsError("mongodb.port must be between 1 and 65535 (got %s)" % params["port"],
                                   kind=errors.INVALID)
    if params.get("host") is not None and not str(params["host"]).strip():
        raise errors.BrunoOpsError("mongodb.host must not be empty", kind=errors.INVALID)


class MongoClient:
    """A pymongo.MongoClient plus the address it points at; use `translate()` around every call."""

    def __init__(self, params):
        require_pymongo()
        validate_params(params)
        self.params = params
        self.address = describe_address(params)
        kwargs = dict(
            connectTimeoutMS=int(params["connect_timeout"] * 1000),
            serverSelectionTimeoutMS=int(params["server_selection_timeout"] * 1000),
            socketTimeoutMS=int(params["socket_timeout"] * 1000),
            appname="bruno.ops",
        )
        if params.get("username"):
            kwargs.update(username=params["username"], password=params.get("password"),
                          authSource=params["auth_source"])
        if params.get("tls"):
            kwargs["tls"] = True
            if params.get("ca_cert"):
                kwargs["tlsCAFile"] = params["ca_cert"]
            if not params.get("validate_certs", True):
                kwargs["tlsAllowInvalidCertificates"] = True
        self._configuring = True
        with self.translate("configure the MongoDB client"):
            if params.get("uri"):
                self.raw = pymongo.MongoClient(params["uri"], **kwargs)
            else:
                self.raw = pymongo.MongoClient(host=params["host"], port=params["port"], **kwargs)
        self._configuring = False

    @property
    def database(self):
        return self.raw[self.params["database"]]

    @contextlib.contextmanager
    def translate(self, action):
        """Turn any pymongo error raised inside the block into one BrunoOpsError."""
        try:
            yield
        except mongo_exc.OperationFailure as exc:
            if exc.code == _AUTH_FAILED:
                raise errors.BrunoOpsError(
                    "cannot %s at %s: authentication failed; check mongodb.username, mongodb.password and "
                    "mongodb.auth_source" % (action, self.address),
                    kind=errors.AUTH, address=self.address,
                ) from None
            kind = errors.FORBIDDEN if exc.code == _UNAUTHORIZED else errors.API
            raise errors.BrunoOpsError(
                "cannot %s at %s: server error %s: %s" % (action, self.address, exc.code, _failure_text(exc)),
                kind=kind, address=self.address, code=exc.code,
            ) from None
        except (mongo_exc.ServerSelectionTimeoutError, mongo_exc.ConnectionFailure) as exc:
            raise errors.BrunoOpsError(
                "cannot %s: MongoDB at %s is unreachable (%s)" % (action, self.address, _first_line(exc)),
                kind=errors.UNREACHABLE, address=self.address,
            ) from None
        except BSONError as exc:
            raise self._data_error(action, exc) from None
        except (mongo_exc.ConfigurationError, mongo_exc.InvalidURI, ValueError, TypeError, OverflowError) as exc:
            if not getattr(self, "_configuring", False) and isinstance(exc, (ValueError, TypeError, OverflowError)):
                # A value BSON cannot carry (a lone surrogate, an integer past 64 bits): the data's fault.
                raise self._data_error(action, exc) from None
            # The library's text may echo the URI with its password: never show it.
            raise errors.BrunoOpsError(
                "cannot %s: the MongoDB connection options are invalid; check mongodb.uri (mongodb://host:port/...) "
                "or mongodb.host/port" % action,
                kind=errors.INVALID, address=self.address,
            ) from None
        except mongo_exc.PyMongoError as exc:
            raise errors.BrunoOpsError(
                "cannot %s at %s: %s" % (action, self.address, _first_line(exc)), kind=errors.API, address=self.address
            ) from None

    def _data_error(self, action, exc):
        # Only the exception's type: its text may quote the user data it could not encode.
        return errors.BrunoOpsError(
            "cannot %s at %s: a value could not be encoded for MongoDB (%s); the connection options are fine"
            % (action, self.address, type(exc).__name__),
            kind=errors.API, address=self.address, data_error=type(exc).__name__,
        )

    def ping(self):
        """Round-trip time of the `ping` command in milliseconds (the first call also connects)."""
        with self.translate("ping"):
            self.raw.admin.command("ping")  # selects a server and authenticates
            started = time.monotonic()
            self.raw.admin.command("ping")
            return round((time.monotonic() - started) * 1000.0, 3)

    def command(self, name, database="admin", **kwargs):
        with self.translate("run %s" % name):
            return self.raw[database].command(name, **kwargs)

    def close(self):
        with contextlib.suppress(Exception):
            self.raw.close()


def _failure_text(exc):
    """What a server error says, without user data: a bulk write error's text holds every failed document
    ('op') and the server's messages quote field names, so only its codes and counts."""
    if isinstance(exc, mongo_exc.BulkWriteError):
        details = exc.details or {}
        codes = sorted({str(e.get("code")) for e in details.get("writeErrors", [])})
        concern = details.get("writeConcernErrors") or []
        parts = []
        if codes:
            parts.append("%d documents refused (error codes %s)" % (len(details.get("writeErrors", [])),
                                                                    ", ".join(codes)))
        if concern:
            parts.append("write concern not satisfied (error codes %s)"
                         % ", ".join(sorted({str(e.get("code")) for e in concern})))
        return "; ".join(parts) or "bulk write failed"
    return _first_line(exc)


def _first_line(exc):
    """pymongo's timeout errors append a whole topology description; the first sentence says enough."""
    text = str(exc).split(", Timeout:", maxsplit=1)[0]
    return text.splitlines()[0] if text else type(exc).__name__
