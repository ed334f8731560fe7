"""The API Lambda: API Gateway REST proxy events -> routes -> ``logic/``.

Routes only read the request (validated by ``logic/inputs.py`` before any I/O, so a
malformed request never touches the table or the quota), call one use case and turn its
Outcome into a response. Every error is a domain exception mapped to the contract's
``{"message": ...}`` body in ``handle_domain_error``. Which function serves which method and
path is the route table's (``handlers/routes.py``), read by ``@route``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from binvault.dal.client import dynamodb, invocation_deadline
from binvault.exceptions import (
    BinvaultError,
    MethodNotAllowed,
    QuotaExhausted,
    RouteNotFound,
    UnexpectedBody,
)
from binvault.handlers import coldstart, routes
from binvault.handlers.logs import make_logger
from binvault.handlers.routes import REQUEST_HEADERS
from binvault.handlers.tracing import make_tracer
from binvault.logic import access_keys, auth, bins, collections, inputs, jsonpath, schema_docs, usage_logs, versions
from binvault.models.bins import Credentials, Outcome
from binvault.models.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

CONTENT_TYPE = "application/json; charset=utf-8"
# A header sent twice with different values; no validator accepts it.
CONFLICTING = "\x00conflicting values\x00"

# Requests that emit no metric are normal here; Powertools would warn on every one of them.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
logger = make_logger("binvault")
# The usage log's line, one per request whose account is known (logic/usage_logs.py): its
# own logger, always at INFO whatever LogLevel says, since customers download these lines.
usage_log = make_logger(usage_logs.USAGE_SERVICE, level="INFO")
tracer = make_tracer("binvault")
metrics = Metrics(namespace="binvault", service="binvault")
app = APIGatewayRestResolver(
    cors=CORSConfig(
        allow_origin="*",
        allow_headers=list(REQUEST_HEADERS),
        expose_headers=["ETag", "Retry-After"],
        max_age=600,
    )
)

# The id a create route made, for the usage line (set by the route, read by log_usage).
_created: ContextVar[dict[str, str] | None] = ContextVar("binvault_created", default=None)

RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Response[str]])


def route(operation_id: str) -> Callable[[RouteFunction], RouteFunction]:
    """Registers the decorated function as the route of that entry of ``routes.ROUTES``."""
    entry = routes.BY_OPERATION[operation_id]
    assert entry.served_by is None, f"{operation_id} is served by {entry.served_by}"
    register: Callable[[RouteFunction], RouteFunction] = app.route(entry.rule, method=entry.method)
    return register


# ---- reading the request -------------------------------------------------------------


def header_values(name: str) -> list[str]:
    """Every value sent for a header, in order (names are case-insensitive: X-Foo and x-foo
    are the same header sent twice)."""
    event = app.current_event
    wanted = name.lower()
    values = [
        value
        for key, values in (event.get("multiValueHeaders") or {}).items()
        if key.lower() == wanted
        for value in values or []
    ]
    if not values:
        value = (event.headers or {}).get(name)
        values = [] if value is None else [value]
    return values


def header(name: str) -> str | None:
    """A single-valued header; sent twice with different values, no validator accepts it."""
    values = set(header_values(name))
    if len(values) > 1:
        return CONFLICTING
    return values.pop() if values else None


def query_flag(name: str) -> str | None:
    event = app.current_event
    values = (event.multi_value_query_string_parameters or {}).get(name)
    if values and len(set(values)) > 1:
        return CONFLICTING
    return (event.query_string_parameters or {}).get(name)


def credentials() -> Credentials:
    """X-Master-Key and X-Access-Key, each validated alike (empty = absent); the logic
    decides which one counts (the master key wins when both are sent)."""
    return Credentials(inputs.master_key(header("X-Master-Key")), inputs.master_key(header("X-Access-Key")))


def master_key() -> str | None:
    """Routes that are master key only (the Access Keys API) ignore X-Access-Key."""
    return credentials().master_key


def request_body() -> bytes:
    event = app.current_event
    return inputs.body_bytes(event.body, bool(event.is_base64_encoded))


def if_match() -> list[str] | None:
    # A list-valued header: repeated If-Match lines combine into one list (RFC 9110, 5.3)
    values = header_values("If-Match")
    return inputs.if_match(", ".join(values)) if values else None


def record_from_body() -> Any:
    inputs.require_json_content_type(header("Content-Type"))
    return inputs.record(request_body(), get_settings().max_bin_bytes)


def no_body() -> None:
    if request_body().strip():
        raise UnexpectedBody()


def wants_meta() -> bool:
    from_header = inputs.flag(header("X-Bin-Meta"), "X-Bin-Meta", True)
    return from_header and inputs.flag(query_flag("meta"), "meta", True)


def respond(outcome: Outcome) -> Response[str]:
    headers = {"ETag": outcome.etag} if outcome.etag else {}
    return Response(200, CONTENT_TYPE, json.dumps(outcome.body, ensure_ascii=False), headers)


# ---- routes ----------------------------------------------------------------------------


@route("createBin")
def create_bin() -> Response[str]:
    record = record_from_body()
    private = inputs.flag(header("X-Bin-Private"), "X-Bin-Private", True)
    name = inputs.bin_name(header("X-Bin-Name"))
    idempotency_key = inputs.idempotency_key(header("Idempotency-Key"))
    filed = header("X-Collection-Id")
    collection_id = None if filed is None else collections.collection_id(filed.strip())
    outcome = bins.create_bin(credentials(), record, private, name, idempotency_key, collection_id)
    _created.set({"bin_id": outcome.body["metadata"]["id"]})
    return respond(outcome)


@route("updateBin")
def update_bin(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    record = record_from_body()
    versioning = inputs.flag(header("X-Bin-Versioning"), "X-Bin-Versioning", False)
    idempotency_key = inputs.idempotency_key(header("Idempotency-Key"))
    return respond(bins.update_bin(credentials(), bin_id, record, versioning, if_match(), idempotency_key))


@route("readBin")
def read_bin(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    no_body()
    meta, path = wants_meta(), jsonpath.expression(header("X-JSON-Path"))
    return respond(bins.read_bin(credentials(), bin_id, "base", meta, path))


# Registered before readVersion, whose ``/b/<bin_id>/<version>`` would take ``versions``.
@route("listVersions")
def list_versions(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    before = inputs.version_cursor(query_flag("before"))
    no_body()
    return respond(versions.list_versions(credentials(), bin_id, before))


@route("readVersion")
def read_version(bin_id: str, version: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    number = inputs.version_number(version)
    no_body()
    meta, path = wants_meta(), jsonpath.expression(header("X-JSON-Path"))
    which: bins.Which = "latest" if number is None else number
    return respond(bins.read_bin(credentials(), bin_id, which, meta, path))


@route("countVersions")
def count_versions(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    no_body()
    return respond(bins.count_versions(credentials(), bin_id))


@route("deleteVersions")
def delete_versions(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    preserve = inputs.flag(header("X-Preserve-Latest"), "X-Preserve-Latest", False)
    no_body()
    outcome = versions.delete_versions(credentials(), bin_id, preserve, if_match())
    metrics.add_metric("VersionsDeleted", MetricUnit.Count, outcome.body["metadata"]["versionsDeleted"])
    return respond(outcome)


@route("deleteBin")
def delete_bin(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    no_body()
    return respond(bins.delete_bin(credentials(), bin_id, if_match()))


@route("renameBin")
def rename_bin(bin_id: str) -> Response[str]:
    # Any body is ignored: JSONBin's samples send {} (and no Content-Type).
    bin_id = inputs.bin_id(bin_id)
    name = inputs.new_bin_name(header("X-Bin-Name"))
    return respond(bins.rename_bin(credentials(), bin_id, name, if_match()))


@route("setBinPrivacy")
def set_bin_privacy(bin_id: str) -> Response[str]:
    bin_id = inputs.bin_id(bin_id)
    private = inputs.bin_privacy(header("X-Bin-Private"))
    return respond(bins.set_privacy(credentials(), bin_id, private, if_match()))


@route("createAccessKey")
def create_access_key() -> Response[str]:
    inputs.require_json_content_type(header("Content-Type"))
    name = access_keys.key_name(header("X-Key-Name"))
    allowed = access_keys.permissions(request_body())
    return respond(access_keys.create(master_key(), name, allowed))


@route("listAccessKeys")
def list_access_keys() -> Response[str]:
    no_body()
    return respond(access_keys.list_keys(master_key()))


@route("deleteAccessKey")
def delete_access_key(access_key_id: str) -> Response[str]:
    access_key_id = access_keys.key_id(access_key_id)
    no_body()
    return respond(access_keys.delete(master_key(), access_key_id))


# ---- errors ----------------------------------------------------------------------------


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, fields: dict[str, str] | None = None
) -> Response[str]:
    return Response(status, CONTENT_TYPE, json.dumps({"message": message, **(fields or {})}), headers or {})


@app.exception_handler(BinvaultError)
def handle_domain_error(error: BinvaultError) -> Response[str]:
    return domain_error_response(error)


def domain_error_response(error: BinvaultError) -> Response[str]:
    """The contract's JSON error; 4xx logged at info without a traceback, 5xx at warning."""
    if isinstance(error, QuotaExhausted):
        metrics.add_metric("QuotaRefusals", MetricUnit.Count, 1)
    if error.status >= 500:
        logger.warning("request refused", extra={"status": error.status, "reason": type(error).__name__})
    else:
        logger.info("request refused", extra={"status": error.status, "reason": type(error).__name__})
    return error_response(error.status, error.message, error.headers, error.fields)


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return error_response(500, BinvaultError.message)


# How each path parameter of the route table is validated (the functions the routes call).
PATH_PARAMETERS: dict[str, Callable[[str], object]] = {
    "bin_id": inputs.bin_id,
    "version": inputs.version_number,
    "access_key_id": access_keys.key_id,
}


@app.not_found
def handle_unmatched(_: Exception) -> Response[str]:
    """No route matched: an unknown path (404), a known one with another method (405), or
    a known one whose id or version has characters the router does not accept (400)."""
    event = app.current_event
    path, method = event.path, event.http_method.upper()
    shaped = routes.matching(path)
    methods = {entry.method for entry in shaped}
    if methods and method not in methods:
        refused = domain_error_response(MethodNotAllowed())
        refused.headers["Allow"] = ", ".join(sorted(methods))  # RFC 9110 requires it on 405
        return refused
    for entry in shaped:
        if entry.method == method:
            try:
                for name, value in zip(entry.path_params, routes.path_values(entry, path), strict=True):
                    PATH_PARAMETERS[name](value)
            except BinvaultError as refused:
                return domain_error_response(refused)
            break
    return domain_error_response(RouteNotFound())


@coldstart.first_invocation(prepare=dynamodb)  # see coldstart.py: the client first, the collector after
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if str(event.get("path") or "").startswith("/console"):
        # The web console's static files (handlers/console.py): imported and read only here.
        from binvault.handlers import console

        if console.is_console(event["path"]):
            return console.answer(event)
    # Every DynamoDB attempt must end before the invocation would: past that, 503 at once.
    auth.forget_caller()
    _created.set(None)
    with invocation_deadline(context):
        response: dict[str, Any] = app.resolve(event, context)
    log_usage(event, response)
    return response


def log_usage(event: dict[str, Any], response: dict[str, Any]) -> None:
    """The request's usage line, when its account is known (a refused key's is not)."""
    who = auth.caller()
    if who is None:
        return
    path, method = str(event.get("path") or ""), str(event.get("httpMethod") or "").upper()
    served = [entry for entry in routes.matching(path) if entry.method == method]
    ids: dict[str, str] = {}
    template = None
    if served:
        template = served[0].template
        ids = dict(zip(served[0].path_params, routes.path_values(served[0], path), strict=True))
    ids.update(_created.get() or {})
    line = usage_logs.entry(event, int(response.get("statusCode", 500)), who, template, ids)
    usage_log.info(usage_logs.USAGE_MESSAGE, extra={"usage": line})


# ---- collections, listing bins, schema docs (master key only) ---------------------------------


def schema_from_body(blank_allowed: bool = False) -> dict[str, Any]:
    inputs.require_json_content_type(header("Content-Type"))
    return schema_docs.schema_body(request_body(), blank_allowed)


@route("createCollection")
def create_collection() -> Response[str]:
    # Any body is ignored: JSONBin's samples send {} (and no Content-Type).
    name = collections.collection_name(header("X-Collection-Name"))
    return respond(collections.create(credentials(), name))


@route("listCollections")
def list_collections() -> Response[str]:
    no_body()
    return respond(collections.list_collections(credentials()))


@route("renameCollection")
def rename_collection(collection_id: str) -> Response[str]:
    collection_id = collections.collection_id(collection_id)
    name = collections.collection_name(header("X-Collection-Name"))
    return respond(collections.rename(credentials(), collection_id, name))


@route("attachSchemaDoc")
def attach_schema_doc(collection_id: str) -> Response[str]:
    collection_id = collections.collection_id(collection_id)
    schema_doc_id = collections.schema_doc_header(header("X-Schema-Doc-Id"), required=True)
    assert schema_doc_id is not None
    return respond(collections.attach(credentials(), collection_id, schema_doc_id))


@route("detachSchemaDoc")
def detach_schema_doc(collection_id: str) -> Response[str]:
    collection_id = collections.collection_id(collection_id)
    schema_doc_id = collections.schema_doc_header(header("X-Schema-Doc-Id"), required=False)
    return respond(collections.detach(credentials(), collection_id, schema_doc_id))


@route("listCollectionBins")
def list_collection_bins(collection_id: str) -> Response[str]:
    listed = collections.listed_collection(collection_id)
    ascending = collections.sort_ascending(header("X-Sort-Order"))
    no_body()
    return respond(collections.list_bins(credentials(), listed, ascending))


@route("listCollectionBinsAfter")
def list_collection_bins_after(collection_id: str, last_bin_id: str) -> Response[str]:
    listed = collections.listed_collection(collection_id)
    last_bin_id = inputs.bin_id(last_bin_id)
    ascending = collections.sort_ascending(header("X-Sort-Order"))
    no_body()
    return respond(collections.list_bins(credentials(), listed, ascending, last_bin_id))


@route("createSchemaDoc")
def create_schema_doc() -> Response[str]:
    schema = schema_from_body()
    name = schema_docs.doc_name(header("X-Schema-Doc-Name"))
    return respond(schema_docs.create(credentials(), name, schema))


@route("readSchemaDoc")
def read_schema_doc(schema_doc_id: str) -> Response[str]:
    schema_doc_id = schema_docs.schema_doc_id(schema_doc_id)
    no_body()
    return respond(schema_docs.read(credentials(), schema_doc_id))


@route("updateSchemaDoc")
def update_schema_doc(schema_doc_id: str) -> Response[str]:
    schema_doc_id = schema_docs.schema_doc_id(schema_doc_id)
    name = schema_docs.optional_doc_name(header("X-Schema-Doc-Name"))
    schema = schema_from_body(blank_allowed=name is not None)
    # {} with X-Schema-Doc-Name renames only: JSONBin's rename samples send exactly that.
    return respond(schema_docs.update(credentials(), schema_doc_id, None if schema == {} else schema, name))


@route("renameSchemaDoc")
def rename_schema_doc(schema_doc_id: str) -> Response[str]:
    # Any body is ignored, as on the other rename routes.
    schema_doc_id = schema_docs.schema_doc_id(schema_doc_id)
    name = schema_docs.doc_name(header("X-Schema-Doc-Name"))
    return respond(schema_docs.update(credentials(), schema_doc_id, None, name))


# ---- usage logs (master key only) ---------------------------------------------------------


@route("listUsageLogs")
def list_usage_logs() -> Response[str]:
    no_body()
    return respond(usage_logs.list_days(master_key()))


@route("downloadUsageLog")
def download_usage_log(date: str) -> Response[Any]:
    day = usage_logs.log_date(date)
    no_body()
    request_id = str((app.current_event.get("requestContext") or {}).get("requestId") or "")
    found = usage_logs.download(master_key(), day, request_id)
    if found.body is None:
        # Too big for a Lambda response: where to fetch it, for PRESIGNED_URL_SECONDS.
        return respond(Outcome({"url": found.url, "expiresInSeconds": usage_logs.PRESIGNED_URL_SECONDS}))
    disposition = f'attachment; filename="{found.filename}"'
    return Response(200, "application/zip", found.body, {"Content-Disposition": disposition})


PATH_PARAMETERS.update(
    {
        "date": usage_logs.log_date,
        "collection_id": collections.listed_collection,
        "last_bin_id": inputs.bin_id,
        "schema_doc_id": schema_docs.schema_doc_id,
    }
)
