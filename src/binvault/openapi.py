"""The OpenAPI 3.1 document of the binvault API: ``python -m binvault.openapi`` prints it
(``make openapi`` writes docs/openapi.json).

Why a second, documentation-only resolver: Powertools generates OpenAPI from typed route
signatures (``Annotated[..., Header()]``, pydantic models), which needs
``enable_validation=True`` and pydantic at import time. The Lambda must not pay that (one
validated route took a cold first request from ~0.22 s to ~0.39 s here), so
``binvault.handlers.api`` keeps untyped routes and validates in ``logic/inputs.py``, and
this module mirrors each route with a typed stub that is never served.

tests/unit/test_openapi.py keeps the two from drifting: the stubs' (method, path) pairs
must equal the real resolver's, the committed docs/openapi.json must equal what this
module generates, and every error message the code can send must be documented;
tests/integration/test_fuzz.py then checks the real server's answers against the document.
"""

import json
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server, ServerVariable
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from binvault import exceptions as errors
from binvault.handlers.routes import REQUEST_HEADERS
from binvault.logic.versions import DELETED_MESSAGE
from binvault.models.api import (
    BIN_ID_PATTERN,
    EXAMPLE_BIN_ID,
    CountResponse,
    CreateResponse,
    DeleteBinResponse,
    DeleteVersionsResponse,
    ErrorBody,
    ReadBody,
    RecordInput,
    UpdateResponse,
)

TITLE = "binvault"
COMPONENTS = "#/components/schemas/"
SERVERS: list[dict[str, Any]] = [
    {"url": "http://127.0.0.1:3000/v3", "description": "`make run`: the local stack (no AWS account, no Docker)"},
    {
        "url": "https://{apiId}.execute-api.{region}.amazonaws.com/v3",
        "description": "Deployed with AWS SAM (API Gateway REST API, stage v3)",
        "variables": {"apiId": {"default": "abc123defg"}, "region": {"default": "us-east-1"}},
    },
]
SECURITY_SCHEME = "masterKey"
KEY_REQUIRED: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
# An empty requirement makes the key optional: public bins may be read without one.
KEY_OPTIONAL: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}, {}]
# Routes the documentation lists separately although one real route serves them:
# GET /b/{binId}/latest is the real GET /b/<bin_id>/<version> with version "latest".
SPECIALISED_ROUTES = {("GET", "/b/{binId}/latest"): ("GET", "/b/{binId}/{version}")}

EXAMPLE_PURCHASE_URL = "https://binvault.example/pricing"
EXAMPLE_MAX_BIN_BYTES = 102_400

# ---- the exact error messages, by status -----------------------------------------------
# Domain messages come from the exception classes themselves; validation messages are the
# literal texts of logic/inputs.py and handlers/api.py (tests/unit/test_openapi.py checks
# that each one still occurs in that source, and that every message the source can raise
# is listed here).


def flag_message(name: str) -> str:
    return f"{name} must be true or false"


CONTENT_TYPE_MESSAGE = "You need to pass Content-Type set to application/json"
BLANK_MESSAGE = "Bin cannot be blank"
INVALID_JSON_MESSAGE = "Invalid JSON body"
NOT_A_RECORD_MESSAGE = "Bin must be a JSON object or array"
BIN_NAME_MESSAGE = "X-Bin-Name must be 1 to 128 printable characters"
IF_MATCH_MESSAGE = "If-Match must be an entity tag or *"
IDEMPOTENCY_KEY_MESSAGE = "Idempotency-Key must be 1 to 255 printable ASCII characters"
NO_BODY_MESSAGE = "This route does not take a request body"
GATEWAY_TOO_LARGE_MESSAGE = "Request body too large"
THROTTLED_MESSAGE = "Too many requests, please retry"

RECORD_MESSAGES = [CONTENT_TYPE_MESSAGE, BLANK_MESSAGE, INVALID_JSON_MESSAGE, NOT_A_RECORD_MESSAGE]
UNAUTHORIZED_MESSAGES = [errors.MissingMasterKey.message, errors.InvalidMasterKey.message]
QUOTA_MESSAGE = errors.QuotaExhausted(EXAMPLE_PURCHASE_URL).message
TOO_LARGE_MESSAGE = errors.PayloadTooLarge(EXAMPLE_MAX_BIN_BYTES).message
# Messages that vary with configuration: a pattern for each, for checks of real answers.
MESSAGE_PATTERNS = {
    QUOTA_MESSAGE: r"Requests exhausted\. Buy additional requests at \S+",
    TOO_LARGE_MESSAGE: r"Bin size exceeds the limit of [0-9]+ bytes",
}

DESCRIPTIONS = {
    400: "Malformed request; nothing was read or charged.",
    401: "No usable X-Master-Key.",
    403: "The account's request quota is used up (PURCHASE_URL is configuration); nothing was charged.",
    404: (
        "The bin does not exist or belongs to another account (the same answer for both, so "
        "another account's bin is never revealed)."
    ),
    409: "A request with the same Idempotency-Key is still running; retry shortly.",
    412: "If-Match named a stale ETag: the bin changed since; nothing was changed.",
    413: (
        "The record is larger than MAX_BIN_BYTES (configuration, default 102400), or the request is "
        "above API Gateway's 10 MB payload limit."
    ),
    422: "This Idempotency-Key was already used with a different request; nothing was changed.",
    429: "Throttled by API Gateway (deployed stage only); retry after Retry-After seconds.",
    503: (
        "A transient fault outlasted the server's retries; retry after Retry-After seconds (with an "
        "Idempotency-Key, a retried write is never applied twice)."
    ),
}


def _slug(message: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", message)[:6]
    return str(words[0]).lower() + "".join(str(word).capitalize() for word in words[1:])


def error(status: int, *messages: str) -> OpenAPIResponse:
    """An error response documented with each exact message it can carry."""
    listed = "\n".join(f"- `{message}`" for message in messages)
    response: OpenAPIResponse = {
        "description": f"{DESCRIPTIONS[status]}\n\nMessages:\n{listed}",
        "content": {
            "application/json": {
                "model": ErrorBody,
                "examples": {
                    _slug(message): {"summary": message, "value": {"message": message}} for message in messages
                },
            }
        },
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
        }
    return response


def ok(model: type, description: str, etag: bool = True) -> OpenAPIResponse:
    response: OpenAPIResponse = {
        "description": description,
        "content": {"application/json": {"model": model}},
    }
    if etag:
        response["headers"] = {
            "ETag": {
                "description": "The bin's current state (opaque, quoted). Send it back in If-Match.",
                "schema": {"type": "string"},
            }
        }
    return response


def common_errors(*bin_messages: str) -> dict[int, OpenAPIResponse]:
    """401/403/429/503 (every route) and 400 with the route's own validation messages."""
    return {
        400: error(400, *bin_messages),
        401: error(401, *UNAUTHORIZED_MESSAGES),
        403: error(403, QUOTA_MESSAGE),
        429: error(429, THROTTLED_MESSAGE),
        503: error(503, errors.ServiceUnavailable.message),
    }


def bin_errors(*bad_request: str) -> dict[int, OpenAPIResponse]:
    """The errors of every route that names a bin."""
    return {
        **common_errors(errors.InvalidBinId.message, *bad_request),
        404: error(404, errors.BinNotFound.message),
    }


READ_MESSAGES = [NO_BODY_MESSAGE, flag_message("X-Bin-Meta"), flag_message("meta")]
WRITE_EXTRAS = {
    409: error(409, errors.IdempotencyInProgress.message),
    413: error(413, TOO_LARGE_MESSAGE, GATEWAY_TOO_LARGE_MESSAGE),
    422: error(422, errors.IdempotencyKeyReused.message),
}

# ---- parameters --------------------------------------------------------------------------

Flag = Literal["true", "false"]
FLAG_NOTE = "`true` or `false`, case-insensitive; anything else answers 400."
BinIdParam = Annotated[
    str,
    Path(
        pattern=BIN_ID_PATTERN,
        description=(
            f"The bin's id: 24 lowercase hex characters; anything else answers 400 `{errors.InvalidBinId.message}`."
        ),
        examples=[EXAMPLE_BIN_ID],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            "**beyond JSONBin.** The ETag the caller last saw (or `*`, or a comma-separated list). When "
            "it no longer matches the bin, the request answers 412 and changes nothing. Unquoted tags "
            "are accepted."
        ),
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description=(
            "**beyond JSONBin.** 1 to 255 printable ASCII characters. A retry with the same key and the "
            "same request replays the first response and changes nothing; the same key with a different "
            "request answers 422; while the first is still running, 409. Keys are per account and route "
            "and expire after IDEMPOTENCY_TTL_SECONDS (default 24 h)."
        ),
    ),
]
BinMeta = Annotated[
    Flag | None,
    Header(
        alias="X-Bin-Meta",
        description=f"`false` answers with the bare record instead of `{{record, metadata}}`. {FLAG_NOTE}",
    ),
]
MetaQuery = Annotated[
    Flag | None,
    Query(alias="meta", description=f"The same as the X-Bin-Meta header. {FLAG_NOTE}"),
]
RecordBody = Annotated[RecordInput, Body(media_type="application/json")]

# ---- the document's prose --------------------------------------------------------------

INFO_DESCRIPTION = f"""\
A JSONBin v3 compatible store of versioned JSON documents: an existing JSONBin client works
by changing only its base URL. Features marked **beyond JSONBin** are additions.

Every body is JSON (`application/json; charset=utf-8`) and every error is exactly
`{{"message": "<text>"}}`; the texts are listed with each response. Header names are
case-insensitive.

### Authentication
`X-Master-Key` is the account's secret (stored only as a hash). Every request needs it,
except reads of public bins (`X-Bin-Private: false` at creation), which anyone may make:
a keyless read is charged to the bin owner's quota. Every request that authenticates
consumes one request of the account's quota.

### Order of checks (the first failure answers)
1. unknown route: 404 `{errors.RouteNotFound.message}`; a known route with another method:
   405 `{errors.MethodNotAllowed.message}`
2. malformed bin id: 400 `{errors.InvalidBinId.message}` (then the route's other 400s)
3. missing or empty X-Master-Key: 401 `{errors.MissingMasterKey.message}`
4. unknown or revoked key: 401 `{errors.InvalidMasterKey.message}`
5. quota used up: 403 `Requests exhausted. Buy additional requests at <PURCHASE_URL>`
6. bin missing or another account's: 404 `{errors.BinNotFound.message}`

A refused request changes no bin. Steps 1 to 5 charge nothing; from step 6 on, a request
has authenticated and is charged one request of the account's quota, even when refused.

### Contract table: If-Match and Idempotency-Key (beyond JSONBin)

If-Match: a stale tag answers 412 and nothing changes. Idempotency-Key: a retry with the
same key replays the first response; the same key with another request answers 422; while
the first request still runs, 409.

| route | If-Match | Idempotency-Key | ETag in the 200 |
|---|---|---|---|
| `POST /b` | - | yes | the new bin's |
| `PUT /b/{{binId}}` | yes | yes | the bin's new state |
| `GET /b/{{binId}}`, `/latest`, `/{{version}}` | - | - | the bin's current state |
| `GET /b/{{binId}}/versions/count` | - | - | the bin's current state |
| `DELETE /b/{{binId}}/versions` | yes | - (the call is idempotent itself) | the bin's new state |
| `DELETE /b/{{binId}}` | yes | - | - (the bin is gone) |

`If-Match: *` matches any existing bin. Every write changes the ETag; reads do not.

### Deleting versions
`DELETE /b/{{binId}}/versions` is atomic for any number of versions: no reader sees a
half-deleted bin, deleted versions are unreadable from the moment of the 200, and with
`X-Preserve-Latest: true` the latest version's record becomes the base record in the same
step. Afterwards `versionCount` is 0 and the next versioned update is version 1.
"""

# ---- the documentation-only resolver ---------------------------------------------------


def build_resolver() -> APIGatewayRestResolver:
    """Typed stubs of every route of ``binvault.handlers.api.app``; never served."""
    docs = APIGatewayRestResolver(enable_validation=True)

    @docs.post(
        "/b",
        operation_id="createBin",
        summary="Create a bin",
        description="Stores the request body as a new bin owned by the key's account.",
        tags=["Bins"],
        security=KEY_REQUIRED,
        responses={
            200: ok(CreateResponse, "The bin was created."),
            **common_errors(*RECORD_MESSAGES, flag_message("X-Bin-Private"), BIN_NAME_MESSAGE, IDEMPOTENCY_KEY_MESSAGE),
            **WRITE_EXTRAS,
        },
    )
    def create_bin(
        record: RecordBody,
        private: Annotated[
            Flag | None,
            Header(
                alias="X-Bin-Private",
                description=f"Default `true`. `false` makes the bin readable without a key. {FLAG_NOTE}",
            ),
        ] = None,
        name: Annotated[
            str | None,
            Header(
                alias="X-Bin-Name",
                min_length=1,
                max_length=128,
                description="Optional name, 1 to 128 printable characters.",
            ),
        ] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        """documentation only"""

    @docs.put(
        "/b/<binId>",
        operation_id="updateBin",
        summary="Update a bin",
        description=(
            "With `X-Bin-Versioning: true`, appends the record as version n+1 and makes it the latest. "
            "Otherwise replaces the current latest record in place (the newest version, or the base "
            "record when there is none). At MAX_VERSIONS (default 1000) a versioned update is stored "
            "in place and `metadata.versioning` is `false`."
        ),
        tags=["Bins"],
        security=KEY_REQUIRED,
        responses={
            200: ok(UpdateResponse, "The record was stored."),
            **bin_errors(*RECORD_MESSAGES, flag_message("X-Bin-Versioning"), IDEMPOTENCY_KEY_MESSAGE, IF_MATCH_MESSAGE),
            412: error(412, errors.PreconditionFailed.message),
            **WRITE_EXTRAS,
        },
    )
    def update_bin(
        binId: BinIdParam,
        record: RecordBody,
        versioning: Annotated[
            Flag | None,
            Header(alias="X-Bin-Versioning", description=f"Default `false`. {FLAG_NOTE}"),
        ] = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        """documentation only"""

    read_responses: dict[int, OpenAPIResponse] = {
        200: ok(ReadBody, "The record."),
        **bin_errors(*READ_MESSAGES),
    }

    @docs.get(
        "/b/<binId>",
        operation_id="readBin",
        summary="Read the base record",
        description="The bin's base record (what was created, or the last unversioned update before any version).",
        tags=["Bins"],
        security=KEY_OPTIONAL,
        responses=read_responses,
    )
    def read_bin(binId: BinIdParam, meta_header: BinMeta = None, meta: MetaQuery = None) -> None:
        """documentation only"""

    @docs.get(
        "/b/<binId>/latest",
        operation_id="readLatest",
        summary="Read the latest version",
        description=(
            "The newest version, or the base record when there is none; `metadata.version` is its number (0 = base)."
        ),
        tags=["Versions"],
        security=KEY_OPTIONAL,
        responses=read_responses,
    )
    def read_latest(binId: BinIdParam, meta_header: BinMeta = None, meta: MetaQuery = None) -> None:
        """documentation only"""

    @docs.get(
        "/b/<binId>/<version>",
        operation_id="readVersion",
        summary="Read one version",
        description="Version `n` (n >= 1). `latest` is served by `/b/{binId}/latest`.",
        tags=["Versions"],
        security=KEY_OPTIONAL,
        responses={
            **read_responses,
            **bin_errors(errors.InvalidVersion.message, *READ_MESSAGES),
            404: error(404, errors.BinNotFound.message, errors.VersionNotFound.message),
        },
    )
    def read_version(
        binId: BinIdParam,
        version: Annotated[
            str,
            Path(
                pattern=r"^[0-9]{1,12}$",
                description=(
                    "The version number, a decimal integer (n >= 1; 0 or a number above the bin's "
                    f"versionCount answers 404). Anything else answers 400 `{errors.InvalidVersion.message}`."
                ),
                examples=["1"],
            ),
        ],
        meta_header: BinMeta = None,
        meta: MetaQuery = None,
    ) -> None:
        """documentation only"""

    @docs.get(
        "/b/<binId>/versions/count",
        operation_id="countVersions",
        summary="Count the versions",
        tags=["Versions"],
        security=KEY_OPTIONAL,
        responses={
            200: ok(CountResponse, "The number of versions."),
            **bin_errors(NO_BODY_MESSAGE),
        },
    )
    def count_versions(binId: BinIdParam) -> None:
        """documentation only"""

    @docs.delete(
        "/b/<binId>/versions",
        operation_id="deleteVersions",
        summary="Delete all versions",
        description=(
            "Deletes every version in one atomic step, whatever their number. `versionsDeleted` is the "
            "number of versions at the moment of the cut-over; a bin without versions, or a repeat of "
            "the call, answers 200 with 0. Without `X-Preserve-Latest: true` the base record is left as "
            "it was; with it, the latest version's record becomes the base record in the same step. "
            f"The 200 message is always `{DELETED_MESSAGE}`."
        ),
        tags=["Versions"],
        security=KEY_REQUIRED,
        responses={
            200: ok(DeleteVersionsResponse, "The versions were deleted (or there were none)."),
            **bin_errors(flag_message("X-Preserve-Latest"), NO_BODY_MESSAGE, IF_MATCH_MESSAGE),
            412: error(412, errors.PreconditionFailed.message),
        },
    )
    def delete_versions(
        binId: BinIdParam,
        preserve_latest: Annotated[
            Flag | None,
            Header(
                alias="X-Preserve-Latest",
                description=(
                    f"Default `false`. `true` copies the latest version's record onto the base record. {FLAG_NOTE}"
                ),
            ),
        ] = None,
        if_match: IfMatch = None,
    ) -> None:
        """documentation only"""

    @docs.delete(
        "/b/<binId>",
        operation_id="deleteBin",
        summary="Delete a bin",
        description="Deletes the bin and all its versions.",
        tags=["Bins"],
        security=KEY_REQUIRED,
        responses={
            200: ok(DeleteBinResponse, "The bin was deleted.", etag=False),
            **bin_errors(NO_BODY_MESSAGE, IF_MATCH_MESSAGE),
            412: error(412, errors.PreconditionFailed.message),
        },
    )
    def delete_bin(binId: BinIdParam, if_match: IfMatch = None) -> None:
        """documentation only"""

    return docs


# ---- the document ----------------------------------------------------------------------


def _api_version() -> str:
    try:
        return version("binvault")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0"


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` -> X: an absent header is omitted, never sent as null."""
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [option for option in options if option.get("type") != "null"]
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


def _tidy(value: Any) -> Any:
    """Integral floats as ints (Powertools' models store ``minimum`` as a float), and no
    pydantic auto-titles on properties ("Versioncount" helps nobody)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_tidy(item) for item in value]
    if isinstance(value, dict):
        tidy = {key: _tidy(item) for key, item in value.items()}
        if isinstance(tidy.get("properties"), dict):
            for prop in tidy["properties"].values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
        return tidy
    return value


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(_refs(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value))
    return set()


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    names = {name.lower(): name for name in REQUEST_HEADERS}
    name = names.get(parameter["name"], parameter["name"]) if parameter["in"] == "header" else parameter["name"]
    schema = {
        key: value for key, value in _without_null(parameter["schema"]).items() if key not in ("title", "description")
    }
    ordered = {"name": name, "in": parameter["in"], "required": parameter["required"]}
    rest = {key: value for key, value in parameter.items() if key not in ("name", "in", "required", "schema")}
    return {**ordered, **rest, "schema": schema}


def _error_component(description: str, message: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": f"{COMPONENTS}ErrorBody"},
                "example": {"message": message},
            }
        },
    }


def _polish(document: dict[str, Any], route_order: list[str]) -> dict[str, Any]:
    document = _tidy(document)
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["parameters"] = [_parameter(parameter) for parameter in operation.get("parameters", [])]
            # Powertools documents a 422 for its own request validation on every route; this
            # API never sends that shape (its 422 is the Idempotency-Key one, set explicitly).
            responses = {
                status: response
                for status, response in operation["responses"].items()
                if f"{COMPONENTS}HTTPValidationError" not in _refs(response)
            }
            operation["responses"] = {status: responses[status] for status in sorted(responses)}
            etag = operation["responses"]["200"].get("headers", {}).get("ETag")
            if etag is not None:
                etag["required"] = True
    document["paths"] = {path: document["paths"][path] for path in route_order}
    components = document["components"]
    components["responses"] = {
        "RouteNotFound": _error_component(
            "Any path this API does not serve (the answer for paths outside this document).",
            errors.RouteNotFound.message,
        ),
        "MethodNotAllowed": _error_component(
            "A documented path with a method it does not serve, e.g. `PATCH /b/{binId}`.",
            errors.MethodNotAllowed.message,
        ),
    }
    # Keep only the schemas something refers to (Powertools adds its validation-error shapes).
    schemas = components["schemas"]
    wanted: set[str] = set()
    pending = {ref.rsplit("/", 1)[-1] for ref in _refs(document["paths"]) | _refs(components["responses"])}
    while pending:
        name = pending.pop()
        wanted.add(name)
        pending |= {ref.rsplit("/", 1)[-1] for ref in _refs(schemas[name])} - wanted
    components["schemas"] = {name: schemas[name] for name in sorted(wanted)}
    return document


def openapi_paths(resolver: APIGatewayRestResolver) -> list[str]:
    return [route.openapi_path for route in resolver._static_routes + resolver._dynamic_routes]


def build() -> dict[str, Any]:
    """The OpenAPI document, as a JSON-ready dict (deterministic: same code, same document)."""
    resolver = build_resolver()
    schema = resolver.get_openapi_schema(
        title=TITLE,
        version=_api_version(),
        openapi_version="3.1.0",
        summary="JSONBin v3 compatible versioned JSON store",
        description=INFO_DESCRIPTION,
        servers=[
            Server(
                url=server["url"],
                description=server["description"],
                variables={
                    name: ServerVariable(default=variable["default"])
                    for name, variable in server.get("variables", {}).items()
                }
                or None,
            )
            for server in SERVERS
        ],
        security_schemes={
            SECURITY_SCHEME: APIKey.model_validate(
                {
                    "type": "apiKey",
                    "in": APIKeyIn.header,
                    "name": "X-Master-Key",
                    "description": (
                        "The account's master key (`binvault-admin create-account` prints it once). "
                        "Required on every request except reads of public bins."
                    ),
                }
            )
        },
        tags=["Bins", "Versions"],
    )
    document = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    order = list(dict.fromkeys(openapi_paths(resolver)))
    return _polish(document, order)


def render(document: dict[str, Any] | None = None) -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(document if document is not None else build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
