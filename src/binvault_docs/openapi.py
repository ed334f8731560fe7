"""The OpenAPI 3.1 document of the binvault API: ``python -m binvault_docs.openapi`` prints it
(``make openapi`` writes docs/openapi.json).

The document is built from the route table (``binvault.handlers.routes``): each entry's
path, method, operation id, prose, parameters and the exact messages of the errors it
lists (read from the exception classes). What the table cannot say without importing
pydantic lives here, once: each parameter's schema and description, each route's 200
model, and the document's introduction.

How: Powertools generates OpenAPI from typed route signatures (``Annotated[...,
Header()]``, pydantic models), which needs ``enable_validation=True`` and pydantic at import
time. The Lambda must not pay that (one validated route took a cold first request from
~0.22 s to ~0.39 s here), so ``binvault.handlers.api`` keeps untyped routes and validates in
``logic/inputs.py``, and this build tool (outside the Lambda package) gives a
documentation-only resolver one typed stub per table entry, never served.

tests/api/test_openapi.py checks that the committed docs/openapi.json is what this module
generates and that the real resolver serves exactly the table's routes;
tests/integration/test_fuzz.py then checks the real server's answers against the document.
"""

import inspect
import json
import re
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal, get_args

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server, ServerVariable
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseContentSchema
from pydantic import BaseModel

from binvault import exceptions as errors
from binvault.handlers.routes import REQUEST_HEADERS, ROUTES, Error, Route
from binvault_docs.models import (
    BIN_ID_PATTERN,
    EXAMPLE_BIN_ID,
    AccessKeyList,
    BinPage,
    CollectionList,
    CountResponse,
    CreateAccessKeyResponse,
    CreateCollectionResponse,
    CreateResponse,
    DeleteAccessKeyResponse,
    DeleteBinResponse,
    DeleteVersionsResponse,
    ErrorBody,
    PermissionsInput,
    PrivacyResponse,
    ReadBody,
    RecordInput,
    RenameCollectionResponse,
    RenameResponse,
    SchemaDocAttachment,
    SchemaDocResponse,
    SchemaInput,
    UpdateResponse,
    UsageLogDays,
    UsageLogUrl,
    VersionList,
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
ACCESS_KEY_SCHEME = "accessKey"
KEY_REQUIRED: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]


def security_of(route: Route) -> list[dict[str, list[str]]]:
    """The master key, or an access key on the bin routes that take one; an empty
    requirement makes the key optional (public bins may be read without one)."""
    schemes: list[dict[str, list[str]]] = [*KEY_REQUIRED]
    if route.access:
        schemes.append({ACCESS_KEY_SCHEME: []})
    if route.key == "optional":
        schemes.append({})
    return schemes


EXAMPLE_PURCHASE_URL = "https://binvault.example/pricing"
EXAMPLE_MAX_BIN_BYTES = 102_400

# ---- the exact error messages, from the exception classes ---------------------------------

# The fields of the exception classes' message templates: an example value for each, and
# what it may be in a real answer (for checks of real answers). The purchase URL and the
# size limit are configuration; a flag's name is fixed by the route that raises it.
TEMPLATE_FIELDS: dict[str, tuple[str, str]] = {
    "purchase_url": (EXAMPLE_PURCHASE_URL, r"\S+"),
    "limit": (str(EXAMPLE_MAX_BIN_BYTES), r"[0-9]+"),
    "name": ("X-Bin-Meta", r"[A-Za-z-]+"),
    "permission": ("read", r"(create|read|update|delete)"),
    "max_access_keys": ("4", r"[0-9]+"),
    "max_collections": ("10", r"[0-9]+"),
    "max_schema_docs": ("100", r"[0-9]+"),
    "reason": ("$.type: 'foo' is not valid under any of the given schemas", r".+"),
    "error": ("'username' is a required property", r".+"),
    "date": ("01-01-1969", r"[0-9]{2}-[0-9]{2}-[0-9]{4}"),
}


def message_of(error: Error) -> str:
    """The exact message (templates filled with the example configuration)."""
    if isinstance(error, errors.BinvaultError):
        return error.message
    template: str | None = getattr(error, "template", None)
    if template is None:
        return error.message
    return template.format(**{name: example for name, (example, _) in TEMPLATE_FIELDS.items()})


def pattern_of(error: Error) -> str:
    """A regex every real message of this error matches."""
    template: str | None = None if isinstance(error, errors.BinvaultError) else getattr(error, "template", None)
    if template is None:
        return re.escape(message_of(error))
    # re.split with a group: literal text at even indexes, field names at odd ones
    parts = re.split(r"\{(\w+)\}", template)
    return "".join(TEMPLATE_FIELDS[part][1] if index % 2 else re.escape(part) for index, part in enumerate(parts))


def _all_errors() -> dict[str, Error]:
    return {message_of(error): error for route in ROUTES for error in route.errors}


# Messages that vary with configuration: a pattern for each, for checks of real answers.
MESSAGE_PATTERNS = {
    message: pattern_of(error) for message, error in _all_errors().items() if pattern_of(error) != re.escape(message)
}

DESCRIPTIONS = {
    400: "Malformed request; nothing was read or charged.",
    401: "No usable X-Master-Key (or, where the route takes one, X-Access-Key).",
    403: (
        "The X-Access-Key lacks this route's permission, or the account's request quota is used up "
        "(PURCHASE_URL is configuration); nothing was changed or charged."
    ),
    404: (
        "The bin (or access key) does not exist or belongs to another account (the same answer for "
        "both, so another account's is never revealed)."
    ),
    409: "A request with the same Idempotency-Key is still running; retry shortly.",
    412: "If-Match named a stale ETag: the bin changed since; nothing was changed.",
    413: (
        "The record is larger than MAX_BIN_BYTES (configuration, default 1048576; "
        "up to 6225920), or its response would not fit Lambda's 6 MB payload once escaped, or the request is "
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


def errors_by_status(route: Route) -> dict[int, list[str]]:
    """The route's exact messages per status, in the table's order."""
    found: dict[int, list[str]] = {}
    for listed in route.errors:
        found.setdefault(listed.status, []).append(message_of(listed))
    return found


# ---- the document's prose --------------------------------------------------------------

INFO_DESCRIPTION = f"""\
A JSONBin v3 compatible store of versioned JSON documents: an existing JSONBin client works
by changing only its base URL. Features marked **beyond JSONBin** are additions.

Every body is JSON (`application/json; charset=utf-8`) and every error is exactly
`{{"message": "<text>"}}`; the texts are listed with each response. Header names are
case-insensitive.

### Authentication
`X-Master-Key` is the account's secret (stored only as a hash). Every request needs it,
except reads of public bins (`X-Bin-Private: false` at creation, or
`PUT /b/{{binId}}/meta/privacy`), which anyone may make: a keyless read is charged to the
bin owner's quota. Every request that authenticates consumes one request of the account's
quota.

An `X-Access-Key` (made with `POST /a`, stored only as a hash) may stand in for the master
key on the bin routes, each needing one permission: `POST /b` create; the reads and
`versions/count` read; `PUT /b/{{binId}}` update; `DELETE /b/{{binId}}` and
`DELETE /b/{{binId}}/versions` delete. X-Master-Key wins when both are sent. The meta routes
and the Access Keys API take only the master key. Deleting an access key refuses its very
next request.

### Order of checks (the first failure answers)
1. unknown route: 404 `{errors.RouteNotFound.message}`; a known route with another method:
   405 `{errors.MethodNotAllowed.message}`
2. malformed bin id: 400 `{errors.InvalidBinId.message}` (then the route's other 400s)
3. missing or empty X-Master-Key (and X-Access-Key): 401 `{errors.MissingMasterKey.message}`
4. unknown or revoked key: 401 `{errors.InvalidMasterKey.message}` (an access key:
   `{errors.InvalidAccessKey.message}`)
5. an access key without the route's permission: 403
   `X-Access-Key does not have the permission to <create|read|update|delete> bins`;
   quota used up: 403 `Requests exhausted. Buy additional requests at <PURCHASE_URL>`
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
| `PUT /b/{{binId}}/meta/name`, `/meta/privacy` | yes | - (the call is idempotent itself) | the bin's new state |

`If-Match: *` matches any existing bin. Every write changes the ETag; reads do not.

### Deleting versions
`DELETE /b/{{binId}}/versions` is atomic for any number of versions: no reader sees a
half-deleted bin, deleted versions are unreadable from the moment of the 200, and with
`X-Preserve-Latest: true` the latest version's record becomes the base record in the same
step. Afterwards `versionCount` is 0 and the next versioned update is version 1.
"""

# ---- parameters: each one's schema and description, once ---------------------------------

Flag = Literal["true", "false"]
FLAG_NOTE = "`true` or `false`, case-insensitive; anything else answers 400."
# By the route table's parameter names (its rules spell them in snake case).
PATH_PARAMETERS: dict[str, Any] = {
    "bin_id": Annotated[
        str,
        Path(
            pattern=BIN_ID_PATTERN,
            description=(
                f"The bin's id: 24 lowercase hex characters; anything else answers 400 `{errors.InvalidBinId.message}`."
            ),
            examples=[EXAMPLE_BIN_ID],
        ),
    ],
    "version": Annotated[
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
    "collection_id": Annotated[
        str,
        Path(
            pattern=r"^([0-9a-f]{24}|uncategorized)$",
            description=(
                "The collection's id (`record` of `POST /c`): 24 lowercase hex characters; anything else answers "
                f"400 `{errors.InvalidCollectionId.message}`. The listing routes also take `uncategorized`."
            ),
            examples=[EXAMPLE_BIN_ID],
        ),
    ],
    "last_bin_id": Annotated[
        str,
        Path(
            pattern=BIN_ID_PATTERN,
            description=(
                "The last bin of the previous page (the cursor): 24 lowercase hex characters; a malformed id, or "
                f"a bin not in this listing, answers 400 `{errors.InvalidBinId.message}`."
            ),
            examples=[EXAMPLE_BIN_ID],
        ),
    ],
    "schema_doc_id": Annotated[
        str,
        Path(
            pattern=BIN_ID_PATTERN,
            description=(
                "The schema doc's id (`metadata.id` of `POST /s`): 24 lowercase hex characters; anything else "
                f"answers 400 `{errors.InvalidSchemaDocId.message}`."
            ),
            examples=[EXAMPLE_BIN_ID],
        ),
    ],
    "date": Annotated[
        str,
        Path(
            pattern=r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$",
            description=(
                "A day, `DD-MM-YYYY` (UTC), as `GET /l` lists them; anything else, or a day that does not exist "
                f"(31-02-2026), answers 400 `{errors.InvalidLogDate.message}`."
            ),
            examples=["03-12-2026"],
        ),
    ],
    "access_key_id": Annotated[
        str,
        Path(
            pattern=BIN_ID_PATTERN,
            description=(
                "The access key's id (`accessKeyId`): 24 lowercase hex characters; anything else answers "
                f"400 `{errors.InvalidAccessKeyId.message}`."
            ),
            examples=[EXAMPLE_BIN_ID],
        ),
    ],
}
HEADER_PARAMETERS: dict[str, Any] = {
    "X-Bin-Private": Annotated[
        Flag | None,
        Header(
            alias="X-Bin-Private",
            description=(
                "`false` makes the bin readable without a key. Optional on `POST /b` (default `true`), "
                f"required on `PUT /b/{{binId}}/meta/privacy`. {FLAG_NOTE}"
            ),
        ),
    ],
    "X-Bin-Name": Annotated[
        str | None,
        Header(
            alias="X-Bin-Name",
            min_length=1,
            max_length=128,
            description=(
                "The bin's name, 1 to 128 printable characters: optional on `POST /b`, required on "
                "`PUT /b/{binId}/meta/name`."
            ),
        ),
    ],
    "X-Bin-Versioning": Annotated[
        Flag | None,
        Header(alias="X-Bin-Versioning", description=f"Default `false`. {FLAG_NOTE}"),
    ],
    "X-Bin-Meta": Annotated[
        Flag | None,
        Header(
            alias="X-Bin-Meta",
            description=f"`false` answers with the bare record instead of `{{record, metadata}}`. {FLAG_NOTE}",
        ),
    ],
    "X-Preserve-Latest": Annotated[
        Flag | None,
        Header(
            alias="X-Preserve-Latest",
            description=(
                f"Default `false`. `true` copies the latest version's record onto the base record. {FLAG_NOTE}"
            ),
        ),
    ],
    "If-Match": Annotated[
        str | None,
        Header(
            alias="If-Match",
            description=(
                "**beyond JSONBin.** The ETag the caller last saw (or `*`, or a comma-separated list). When "
                "it no longer matches the bin, the request answers 412 and changes nothing. Unquoted tags "
                "are accepted."
            ),
        ),
    ],
    "Idempotency-Key": Annotated[
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
    ],
}
HEADER_PARAMETERS |= {
    "X-Access-Key": Annotated[
        str | None,
        Header(
            alias="X-Access-Key",
            description=(
                "An access key (`POST /a` creates one) instead of X-Master-Key: it must carry this route's "
                "permission on bins (create, read, update or delete), or the request answers 403. "
                "X-Master-Key wins when both are sent."
            ),
        ),
    ],
    "X-JSON-Path": Annotated[
        str | None,
        Header(
            alias="X-JSON-Path",
            min_length=1,
            max_length=1024,
            description=(
                "A JSONPath expression (Goessner syntax: `$.users[*].name`, `$..country`, `$..users[-1:]`, "
                "`$..users[?(@.age > 30)]`; the leading `$` is optional). The record becomes the array of "
                "its matches (`[]` when nothing matches). Regular-expression filters (`=~`) are refused. "
                f"A malformed expression answers 400 `{errors.InvalidJsonPath.message}`."
            ),
            examples=["$.users[0].firstName"],
        ),
    ],
    "X-Key-Name": Annotated[
        str | None,
        Header(
            alias="X-Key-Name",
            min_length=1,
            max_length=32,
            description="The access key's name, 1 to 32 printable characters (required).",
        ),
    ],
}
HEADER_PARAMETERS |= {
    "X-Collection-Id": Annotated[
        str | None,
        Header(
            alias="X-Collection-Id",
            pattern=BIN_ID_PATTERN,
            description=(
                "Files the new bin in this collection of the account's (its metadata then shows `collectionId`); "
                f"anything else answers 400 `{errors.InvalidCollectionId.message}`. When the collection has a "
                "schema doc, the record must pass it."
            ),
        ),
    ],
    "X-Collection-Name": Annotated[
        str | None,
        Header(
            alias="X-Collection-Name",
            min_length=1,
            max_length=32,
            description="The collection's name, 1 to 32 printable characters (required).",
        ),
    ],
    "X-Schema-Doc-Id": Annotated[
        str | None,
        Header(
            alias="X-Schema-Doc-Id",
            pattern=BIN_ID_PATTERN,
            description=(
                "A schema doc of the account's: required to attach; optional to detach (then it must be the "
                "attached one)."
            ),
        ),
    ],
    "X-Schema-Doc-Name": Annotated[
        str | None,
        Header(
            alias="X-Schema-Doc-Name",
            min_length=1,
            max_length=32,
            description=(
                "The schema doc's name, 1 to 32 printable characters: required to create and rename, optional "
                "on `PUT /s/{schemaDocId}` (renames too)."
            ),
        ),
    ],
    "X-Sort-Order": Annotated[
        Literal["ascending", "descending"] | None,
        Header(
            alias="X-Sort-Order",
            description=(
                "By creation time (ties by id): `ascending` or `descending` (default), case-insensitive; anything "
                f"else answers 400 `{errors.InvalidSortOrder.message}`."
            ),
        ),
    ],
}
QUERY_PARAMETERS: dict[str, Any] = {
    "meta": Annotated[
        Flag | None,
        Query(alias="meta", description=f"The same as the X-Bin-Meta header. {FLAG_NOTE}"),
    ],
    "before": Annotated[
        int | None,
        Query(
            alias="before",
            ge=1,
            le=999_999_999_999,
            description=(
                "List the versions numbered below this one (the previous page's `next`); absent: from the "
                f"newest. Anything but a number of 1 or more answers 400 `{errors.InvalidVersionCursor.message}`."
            ),
        ),
    ],
}
REQUEST_BODIES: dict[str, Any] = {
    "record": Annotated[RecordInput, Body(media_type="application/json")],
    "permissions": Annotated[PermissionsInput, Body(media_type="application/json")],
    "schema": Annotated[SchemaInput, Body(media_type="application/json")],
}

# ---- each route's 200 ---------------------------------------------------------------------

RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    "createBin": CreateResponse,
    "updateBin": UpdateResponse,
    "readBin": ReadBody,
    "readLatest": ReadBody,
    "readVersion": ReadBody,
    "countVersions": CountResponse,
    "listVersions": VersionList,
    "deleteVersions": DeleteVersionsResponse,
    "deleteBin": DeleteBinResponse,
    "renameBin": RenameResponse,
    "setBinPrivacy": PrivacyResponse,
    "createAccessKey": CreateAccessKeyResponse,
    "listAccessKeys": AccessKeyList,
    "deleteAccessKey": DeleteAccessKeyResponse,
    "createCollection": CreateCollectionResponse,
    "listCollections": CollectionList,
    "renameCollection": RenameCollectionResponse,
    "attachSchemaDoc": SchemaDocAttachment,
    "detachSchemaDoc": SchemaDocAttachment,
    "listCollectionBins": BinPage,
    "listCollectionBinsAfter": BinPage,
    "listUncategorizedBins": BinPage,
    "listUncategorizedBinsAfter": BinPage,
    "createSchemaDoc": SchemaDocResponse,
    "readSchemaDoc": SchemaDocResponse,
    "updateSchemaDoc": SchemaDocResponse,
    "renameSchemaDoc": SchemaDocResponse,
    "listUsageLogs": UsageLogDays,
    "downloadUsageLog": UsageLogUrl,
}
# Answers that are not JSON: the zip of a day's usage log (the JSON model above is the
# answer when the zip is too big to be sent inline).
BINARY_ANSWERS = {"downloadUsageLog": "application/zip"}


def ok(model: type[BaseModel], description: str, etag: bool = True) -> OpenAPIResponse:
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


def fixed_message(model: type[BaseModel]) -> str | None:
    """The ``message`` a 200 always carries, when its model fixes one."""
    field = model.model_fields.get("message")
    values = get_args(field.annotation) if field is not None else ()
    return str(values[0]) if len(values) == 1 else None


def description_of(route: Route) -> str | None:
    message = fixed_message(RESPONSE_MODELS[route.operation_id])
    sentences = [route.description, f"The 200 message is always `{message}`." if message else ""]
    return " ".join(sentence for sentence in sentences if sentence) or None


# ---- the documentation-only resolver -------------------------------------------------------


def openapi_rule(route: Route) -> str:
    """``/b/<bin_id>`` -> ``/b/<binId>``: the document's parameter names are camel case."""
    return re.sub(r"<(\w+)>", lambda found: f"<{_camel(found[1])}>", route.rule)


def _camel(name: str) -> str:
    return re.sub(r"_(\w)", lambda found: found[1].upper(), name)


def _stub(route: Route) -> Callable[..., None]:
    """A function whose signature declares the route's parameters, for Powertools to read."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(_camel(name), keyword, annotation=PATH_PARAMETERS[name]) for name in route.path_params
    ]
    if route.body:
        parameters.append(inspect.Parameter(route.body, keyword, annotation=REQUEST_BODIES[route.body]))
    parameters += [
        inspect.Parameter(re.sub(r"\W", "_", name.lower()), keyword, annotation=annotation, default=None)
        for name, annotation in [
            *((name, HEADER_PARAMETERS[name]) for name in route.headers),
            *((name, QUERY_PARAMETERS[name]) for name in route.query),
        ]
    ]

    def stub(**_: Any) -> None:
        """documentation only"""

    stub.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    stub.__name__ = stub.__qualname__ = route.operation_id
    return stub


def responses_of(route: Route) -> dict[int, OpenAPIResponse]:
    responses: dict[int, OpenAPIResponse] = {
        200: ok(RESPONSE_MODELS[route.operation_id], route.answer, etag=route.etag)
    }
    if route.operation_id in BINARY_ANSWERS:
        binary: OpenAPIResponseContentSchema = {"schema": {"type": "string", "format": "binary"}}
        responses[200]["content"] = {BINARY_ANSWERS[route.operation_id]: binary, **responses[200]["content"]}
    responses.update({status: error(status, *messages) for status, messages in errors_by_status(route).items()})
    return responses


def build_resolver() -> APIGatewayRestResolver:
    """One typed stub per entry of the route table; never served."""
    docs = APIGatewayRestResolver(enable_validation=True)
    for route in ROUTES:
        docs.route(
            openapi_rule(route),
            route.method,
            operation_id=route.operation_id,
            summary=route.summary,
            description=description_of(route),
            tags=[route.tag],
            security=security_of(route),
            responses=responses_of(route),
        )(_stub(route))
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
            ),
            ACCESS_KEY_SCHEME: APIKey.model_validate(
                {
                    "type": "apiKey",
                    "in": APIKeyIn.header,
                    "name": "X-Access-Key",
                    "description": (
                        "An access key made with `POST /a`, scoped to create, read, update and/or delete "
                        "bins. Accepted on the bin routes that list it; the meta routes and the Access Keys "
                        "API take only the master key."
                    ),
                }
            ),
        },
        tags=["Bins", "Versions", "Access Keys", "Collections", "Schema Docs", "Usage Logs"],
    )
    document = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    # The table's order (the dict keeps the first occurrence of a path served by two methods).
    order = list(dict.fromkeys(re.sub(r"<(\w+)>", r"{\1}", openapi_rule(route)) for route in ROUTES))
    return _polish(document, order)


def render(document: dict[str, Any] | None = None) -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(document if document is not None else build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
