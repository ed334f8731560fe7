"""The API's routes, in one table: the only place a route is declared.

Three readers, so they cannot drift:

- ``handlers/api.py`` registers each route function with the resolver from its entry
  (``@route("createBin")``), and answers 404 / 405 / 400 for requests no route matched
  from the same entries (``handle_unmatched``);
- the OpenAPI build and docs/api.md's tables (``binvault_docs``, build tools outside the
  Lambda package) document each entry: its path, method, operation id, prose, parameters
  and the exact messages of the errors it lists;
- the tests compare the resolver's registered routes with this table.

Adding a route: one entry here, plus its route function in ``handlers/api.py`` (decorated
with ``@route(<operation id>)``) and its use case in ``logic/``; then ``make openapi``. The
OpenAPI build asks for the one thing this table cannot hold without pydantic, the 200's
model (``binvault_docs.openapi.RESPONSE_MODELS``), and a schema for any header it has
never seen. Plain data and the exception classes only: the handler imports this on every
cold start.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from binvault.exceptions import (
    AccessKeyForbidden,
    AccessKeyNameTooLong,
    AccessKeyNotFound,
    BinNotFound,
    BinvaultError,
    BlankBin,
    BlankCollectionName,
    BlankSchemaDoc,
    BlankSchemaDocName,
    CollectionNameTooLong,
    CollectionNotFound,
    GatewayPayloadTooLarge,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidAccessKey,
    InvalidAccessKeyId,
    InvalidAccessKeyName,
    InvalidAccessKeyPermissions,
    InvalidBinId,
    InvalidBinName,
    InvalidBinNameToRename,
    InvalidCollectionId,
    InvalidCollectionName,
    InvalidFlag,
    InvalidIdempotencyKey,
    InvalidIfMatch,
    InvalidJson,
    InvalidJsonPath,
    InvalidLogDate,
    InvalidMasterKey,
    InvalidSchemaDoc,
    InvalidSchemaDocId,
    InvalidSchemaDocName,
    InvalidSortOrder,
    InvalidVersion,
    InvalidVersionCursor,
    MissingAccessKeyName,
    MissingBinNameToRename,
    MissingBinPrivacy,
    MissingCollectionName,
    MissingContentType,
    MissingMasterKey,
    MissingMasterKeyToDeleteAccessKey,
    MissingMasterKeyToListAccessKeys,
    MissingSchemaDocId,
    MissingSchemaDocName,
    NotARecord,
    NoUsageLogs,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExhausted,
    ResponseTooLarge,
    SchemaDocNameTooLong,
    SchemaDocNotFound,
    SchemaDocTooLarge,
    SchemaDocValidationMismatch,
    ServiceUnavailable,
    Throttled,
    TooManyAccessKeys,
    TooManyCollections,
    TooManySchemaDocs,
    UnexpectedBody,
    UsageLogNotFound,
    VersionNotFound,
)

# Every request header the API reads, as clients spell them (CORS allows exactly these).
# Content-Type belongs to the routes that take a body, X-Master-Key to every route; the
# others are each route's ``headers``.
REQUEST_HEADERS = (
    "Content-Type",
    "X-Master-Key",
    "X-Access-Key",
    "X-Key-Name",
    "X-JSON-Path",
    "X-Bin-Private",
    "X-Bin-Name",
    "X-Bin-Versioning",
    "X-Bin-Meta",
    "X-Preserve-Latest",
    "If-Match",
    "Idempotency-Key",
    "X-Collection-Id",
    "X-Collection-Name",
    "X-Schema-Doc-Id",
    "X-Schema-Doc-Name",
    "X-Sort-Order",
)

# An error a route can answer: an exception class (its message is fixed, or a template
# filled from configuration), or an instance when the class is parametrised per route
# (``InvalidFlag("X-Bin-Meta")``).
Error = type[BinvaultError] | BinvaultError

# What every route can answer once the request is well formed: the key checks, the quota,
# API Gateway's throttling and a transient fault that outlasted the retries.
AUTHENTICATED: tuple[Error, ...] = (
    MissingMasterKey,
    InvalidMasterKey,
    QuotaExhausted,
    Throttled,
    ServiceUnavailable,
)


def with_access_key(permission: str) -> tuple[Error, ...]:
    """AUTHENTICATED for a bin route that also takes an X-Access-Key carrying ``permission``
    (checked before the quota is charged, so its 403 comes first)."""
    return (
        MissingMasterKey,
        InvalidMasterKey,
        InvalidAccessKey,
        AccessKeyForbidden(permission),
        QuotaExhausted,
        Throttled,
        ServiceUnavailable,
    )


# The Access Keys API is master key only; two of its routes have their own missing-key text.
def master_only(missing: type[MissingMasterKey]) -> tuple[Error, ...]:
    return (missing, *AUTHENTICATED[1:])


RECORD: tuple[Error, ...] = (MissingContentType, BlankBin, InvalidJson, NotARecord)
# Writes that take a record and an Idempotency-Key.
WRITE: tuple[Error, ...] = (
    IdempotencyInProgress,
    PayloadTooLarge,
    ResponseTooLarge,
    GatewayPayloadTooLarge,
    IdempotencyKeyReused,
)
READ: tuple[Error, ...] = (UnexpectedBody, InvalidFlag("X-Bin-Meta"), InvalidFlag("meta"), InvalidJsonPath)
READ_HEADERS = ("X-Bin-Meta", "X-JSON-Path", "X-Access-Key")
# A record filed in a collection whose schema doc refuses it (the message names the first error).
MISMATCH = SchemaDocValidationMismatch
COLLECTION_NAME: tuple[Error, ...] = (
    MissingCollectionName,
    BlankCollectionName,
    CollectionNameTooLong,
    InvalidCollectionName,
)
SCHEMA_DOC_NAME: tuple[Error, ...] = (
    MissingSchemaDocName,
    BlankSchemaDocName,
    SchemaDocNameTooLong,
    InvalidSchemaDocName,
)
SCHEMA_DOC_BODY: tuple[Error, ...] = (MissingContentType, BlankSchemaDoc, InvalidJson, InvalidSchemaDoc)
LISTING: tuple[Error, ...] = (InvalidSortOrder, UnexpectedBody)


def _camel(name: str) -> str:
    return re.sub(r"_(\w)", lambda found: found[1].upper(), name)


class Route(NamedTuple):
    """One operation of the API.

    ``rule`` is the resolver's (``/b/<bin_id>``); ``headers`` and ``query`` are the
    parameters the route reads besides X-Master-Key and Content-Type; ``errors`` are every
    error it can answer, in the order the documentation lists them within a status.
    ``access`` is the permission an X-Access-Key needs on this route (None: master key
    only); ``body`` is what the JSON body is (None: no body; the meta routes ignore one).
    ``served_by`` marks an entry that is documented as its own operation but answered by
    another route (``GET /b/<bin_id>/latest`` is the version route with ``latest``).
    """

    operation_id: str
    method: str
    rule: str
    summary: str
    tag: Literal["Bins", "Versions", "Access Keys", "Collections", "Schema Docs", "Usage Logs"]
    answer: str  # what the 200 means
    description: str = ""
    key: Literal["required", "optional"] = "required"  # optional: public bins are readable without one
    body: Literal["record", "permissions", "schema"] | None = None
    headers: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    errors: tuple[Error, ...] = ()
    etag: bool = True  # the 200 carries the bin's ETag
    served_by: str | None = None
    access: Literal["create", "read", "update", "delete"] | None = None

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"<(\w+)>", self.rule))

    @property
    def template(self) -> str:
        """``/b/<bin_id>`` -> ``/b/{binId}``: the path as the OpenAPI document and the usage log name it."""
        return re.sub(r"<(\w+)>", lambda found: "{" + _camel(found[1]) + "}", self.rule)

    @property
    def shape(self) -> re.Pattern[str]:
        """The paths this route could serve if every parameter were valid (any characters
        but a slash in each parameter; a trailing slash allowed)."""
        return re.compile(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", self.rule) + "/?")


ROUTES: tuple[Route, ...] = (
    Route(
        "createBin",
        "POST",
        "/b",
        "Create a bin",
        "Bins",
        "The bin was created.",
        description=(
            "Stores the request body as a new bin owned by the key's account. `X-Collection-Id` files it in "
            "one of the account's collections; when the collection has a schema doc, the record must pass it."
        ),
        body="record",
        headers=("X-Bin-Private", "X-Bin-Name", "X-Collection-Id", "Idempotency-Key", "X-Access-Key"),
        errors=(
            *RECORD,
            InvalidFlag("X-Bin-Private"),
            InvalidBinName,
            InvalidIdempotencyKey,
            InvalidCollectionId,
            MISMATCH,
            *with_access_key("create"),
            *WRITE,
        ),
        access="create",
    ),
    Route(
        "updateBin",
        "PUT",
        "/b/<bin_id>",
        "Update a bin",
        "Bins",
        "The record was stored.",
        description=(
            "With `X-Bin-Versioning: true`, appends the record as version n+1 and makes it the latest. "
            "Otherwise replaces the current latest record in place (the newest version, or the base "
            "record when there is none). At MAX_VERSIONS (default 1000) a versioned update is stored "
            "in place and `metadata.versioning` is `false`. A bin filed in a collection with a schema doc "
            "must pass it."
        ),
        body="record",
        headers=("X-Bin-Versioning", "If-Match", "Idempotency-Key", "X-Access-Key"),
        errors=(
            InvalidBinId,
            *RECORD,
            InvalidFlag("X-Bin-Versioning"),
            InvalidIdempotencyKey,
            InvalidIfMatch,
            MISMATCH,
            *with_access_key("update"),
            BinNotFound,
            PreconditionFailed,
            *WRITE,
        ),
        access="update",
    ),
    Route(
        "readBin",
        "GET",
        "/b/<bin_id>",
        "Read the base record",
        "Bins",
        "The record.",
        description=(
            "The bin's base record (what was created, or the last unversioned update before any version). "
            "With `X-JSON-Path`, the record is the array of the expression's matches."
        ),
        key="optional",
        headers=READ_HEADERS,
        query=("meta",),
        errors=(InvalidBinId, *READ, *with_access_key("read"), BinNotFound),
        access="read",
    ),
    Route(
        "readLatest",
        "GET",
        "/b/<bin_id>/latest",
        "Read the latest version",
        "Versions",
        "The record.",
        description=(
            "The newest version, or the base record when there is none; `metadata.version` is its number (0 = base). "
            "With `X-JSON-Path`, the record is the array of the expression's matches."
        ),
        key="optional",
        headers=READ_HEADERS,
        query=("meta",),
        errors=(InvalidBinId, *READ, *with_access_key("read"), BinNotFound),
        served_by="readVersion",
        access="read",
    ),
    Route(
        "listVersions",
        "GET",
        "/b/<bin_id>/versions",
        "List the versions",
        "Versions",
        "Up to 100 versions (number, time, stored size; never the record), newest first.",
        description=(
            "**binvault extension** (JSONBin has no such route). `versions` lists the bin's versions "
            "newest first, each with `version`, `createdAt` and `storedBytes` (the size of its stored form, "
            "compressed when that is smaller; `null` for a large record stored before binvault kept it). "
            "`next` is the `before` of the next page, `null` on the last one: `?before=n` lists the "
            "versions below `n`. The base record (version 0) is `GET /b/{binId}`. Costs one request "
            "of the quota a page, like any read."
        ),
        key="optional",
        headers=("X-Access-Key",),
        query=("before",),
        errors=(InvalidBinId, InvalidVersionCursor, UnexpectedBody, *with_access_key("read"), BinNotFound),
        access="read",
    ),
    Route(
        "readVersion",
        "GET",
        "/b/<bin_id>/<version>",
        "Read one version",
        "Versions",
        "The record.",
        description=(
            "Version `n` (n >= 1). `latest` is served by `/b/{binId}/latest`. "
            "With `X-JSON-Path`, the record is the array of the expression's matches."
        ),
        key="optional",
        headers=READ_HEADERS,
        query=("meta",),
        errors=(InvalidBinId, InvalidVersion, *READ, *with_access_key("read"), BinNotFound, VersionNotFound),
        access="read",
    ),
    Route(
        "countVersions",
        "GET",
        "/b/<bin_id>/versions/count",
        "Count the versions",
        "Versions",
        "The number of versions.",
        key="optional",
        headers=("X-Access-Key",),
        errors=(InvalidBinId, UnexpectedBody, *with_access_key("read"), BinNotFound),
        access="read",
    ),
    Route(
        "deleteVersions",
        "DELETE",
        "/b/<bin_id>/versions",
        "Delete all versions",
        "Versions",
        "The versions were deleted (or there were none).",
        description=(
            "Deletes every version in one atomic step, whatever their number. `versionsDeleted` is the "
            "number of versions at the moment of the cut-over; a bin without versions, or a repeat of "
            "the call, answers 200 with 0. Without `X-Preserve-Latest: true` the base record is left as "
            "it was; with it, the latest version's record becomes the base record in the same step."
        ),
        headers=("X-Preserve-Latest", "If-Match", "X-Access-Key"),
        errors=(
            InvalidBinId,
            InvalidFlag("X-Preserve-Latest"),
            UnexpectedBody,
            InvalidIfMatch,
            *with_access_key("delete"),
            BinNotFound,
            PreconditionFailed,
        ),
        access="delete",
    ),
    Route(
        "deleteBin",
        "DELETE",
        "/b/<bin_id>",
        "Delete a bin",
        "Bins",
        "The bin was deleted.",
        description="Deletes the bin and all its versions.",
        headers=("If-Match", "X-Access-Key"),
        errors=(
            InvalidBinId,
            UnexpectedBody,
            InvalidIfMatch,
            *with_access_key("delete"),
            BinNotFound,
            PreconditionFailed,
        ),
        etag=False,
        access="delete",
    ),
    Route(
        "renameBin",
        "PUT",
        "/b/<bin_id>/meta/name",
        "Rename a bin",
        "Bins",
        "The bin was renamed.",
        description=(
            "Sets the bin's name (`X-Bin-Name`, 1 to 128 characters). Creates no version; the ETag "
            "changes. Master key only; any request body is ignored (JSONBin's samples send `{}`)."
        ),
        headers=("X-Bin-Name", "If-Match"),
        errors=(
            InvalidBinId,
            MissingBinNameToRename,
            InvalidBinNameToRename,
            InvalidIfMatch,
            *AUTHENTICATED,
            BinNotFound,
            PreconditionFailed,
        ),
    ),
    Route(
        "setBinPrivacy",
        "PUT",
        "/b/<bin_id>/meta/privacy",
        "Make a bin private or public",
        "Bins",
        "The bin's privacy was set.",
        description=(
            "`X-Bin-Private: false` makes the bin readable without a key, `true` private again. Creates "
            "no version; the ETag changes. Master key only; any request body is ignored (JSONBin's "
            "samples send `{}`)."
        ),
        headers=("X-Bin-Private", "If-Match"),
        errors=(
            InvalidBinId,
            MissingBinPrivacy,
            InvalidFlag("X-Bin-Private"),
            InvalidIfMatch,
            *AUTHENTICATED,
            BinNotFound,
            PreconditionFailed,
        ),
    ),
    Route(
        "createAccessKey",
        "POST",
        "/a",
        "Create an access key",
        "Access Keys",
        "The access key was created; `accessKey` is shown only in this answer.",
        description=(
            "The body sets the key's permissions on the Bins API, "
            '`{"bins": {"create": true, "read": true, "update": false, "delete": false}}` '
            "(a missing permission is `false`). At most MAX_ACCESS_KEYS (default 4) per account."
        ),
        body="permissions",
        headers=("X-Key-Name",),
        errors=(
            MissingContentType,
            MissingAccessKeyName,
            AccessKeyNameTooLong,
            InvalidAccessKeyName,
            InvalidAccessKeyPermissions,
            *AUTHENTICATED[:2],
            TooManyAccessKeys,
            *AUTHENTICATED[2:],
        ),
        etag=False,
    ),
    Route(
        "listAccessKeys",
        "GET",
        "/a",
        "List the access keys",
        "Access Keys",
        "The account's access keys, each `accessKey` masked to its last 4 characters.",
        errors=(UnexpectedBody, *master_only(MissingMasterKeyToListAccessKeys)),
        etag=False,
    ),
    Route(
        "deleteAccessKey",
        "DELETE",
        "/a/<access_key_id>",
        "Delete an access key",
        "Access Keys",
        "The access key was deleted; its next request answers 401.",
        errors=(InvalidAccessKeyId, UnexpectedBody, *master_only(MissingMasterKeyToDeleteAccessKey), AccessKeyNotFound),
        etag=False,
    ),
    Route(
        "createCollection",
        "POST",
        "/c",
        "Create a collection",
        "Collections",
        "The collection was created; `record` is its id.",
        description=(
            "`X-Collection-Name` (1 to 32 characters) names it. At most MAX_COLLECTIONS (default 10) per "
            "account. Any request body is ignored (JSONBin's samples send `{}`)."
        ),
        headers=("X-Collection-Name",),
        errors=(*COLLECTION_NAME, *AUTHENTICATED[:2], TooManyCollections, *AUTHENTICATED[2:]),
        etag=False,
    ),
    Route(
        "listCollections",
        "GET",
        "/c",
        "List the collections",
        "Collections",
        "The account's collections, oldest first.",
        errors=(UnexpectedBody, *AUTHENTICATED),
        etag=False,
    ),
    Route(
        "renameCollection",
        "PUT",
        "/c/<collection_id>/meta/name",
        "Rename a collection",
        "Collections",
        "The collection was renamed.",
        description="Any request body is ignored (JSONBin's samples send `{}`).",
        headers=("X-Collection-Name",),
        errors=(InvalidCollectionId, *COLLECTION_NAME, *AUTHENTICATED, CollectionNotFound),
        etag=False,
    ),
    Route(
        "attachSchemaDoc",
        "PUT",
        "/c/<collection_id>/schemadoc/add",
        "Attach a schema doc to a collection",
        "Collections",
        "The schema doc was attached (replacing any other).",
        description=(
            "From now on every bin created in the collection, and every update of one, must pass the schema "
            "doc. Bins already stored are not validated. Any request body is ignored."
        ),
        headers=("X-Schema-Doc-Id",),
        errors=(InvalidCollectionId, MissingSchemaDocId, InvalidSchemaDocId, *AUTHENTICATED, CollectionNotFound),
        etag=False,
    ),
    Route(
        "detachSchemaDoc",
        "PUT",
        "/c/<collection_id>/schemadoc/remove",
        "Detach the schema doc of a collection",
        "Collections",
        "The schema doc was detached; `schemaDocId` is the one detached (`null` when none was attached).",
        description=(
            "`X-Schema-Doc-Id` is optional; when sent it must be the attached schema doc. Any request body is ignored."
        ),
        headers=("X-Schema-Doc-Id",),
        errors=(InvalidCollectionId, InvalidSchemaDocId, *AUTHENTICATED, CollectionNotFound),
        etag=False,
    ),
    Route(
        "listCollectionBins",
        "GET",
        "/c/<collection_id>/bins",
        "List a collection's bins (first page)",
        "Collections",
        "Up to 10 bins (metadata only), newest first unless `X-Sort-Order: ascending`; `[]` when there are none.",
        description=(
            "`uncategorized` in place of the id lists the bins in no collection "
            "(`/c/uncategorized/bins`). The next page is `/c/{collectionId}/bins/{lastBinId}`."
        ),
        headers=("X-Sort-Order",),
        errors=(InvalidCollectionId, *LISTING, *AUTHENTICATED, CollectionNotFound),
        etag=False,
    ),
    Route(
        "listCollectionBinsAfter",
        "GET",
        "/c/<collection_id>/bins/<last_bin_id>",
        "List a collection's bins (next page)",
        "Collections",
        "Up to 10 bins strictly after `lastBinId` in the requested order; `[]` at the end.",
        description=(
            "`lastBinId` is the last bin of the previous page; a bin that is not in this listing (another "
            "collection's, deleted since, another account's) answers 400."
        ),
        headers=("X-Sort-Order",),
        errors=(InvalidCollectionId, InvalidBinId, *LISTING, *AUTHENTICATED, CollectionNotFound),
        etag=False,
    ),
    Route(
        "listUncategorizedBins",
        "GET",
        "/c/uncategorized/bins",
        "List the bins in no collection (first page)",
        "Collections",
        "Up to 10 bins (metadata only), newest first unless `X-Sort-Order: ascending`; `[]` when there are none.",
        headers=("X-Sort-Order",),
        errors=(*LISTING, *AUTHENTICATED),
        etag=False,
        served_by="listCollectionBins",
    ),
    Route(
        "listUncategorizedBinsAfter",
        "GET",
        "/c/uncategorized/bins/<last_bin_id>",
        "List the bins in no collection (next page)",
        "Collections",
        "Up to 10 bins strictly after `lastBinId` in the requested order; `[]` at the end.",
        headers=("X-Sort-Order",),
        errors=(InvalidBinId, *LISTING, *AUTHENTICATED),
        etag=False,
        served_by="listCollectionBinsAfter",
    ),
    Route(
        "createSchemaDoc",
        "POST",
        "/s",
        "Create a schema doc",
        "Schema Docs",
        "The schema doc was created; `metadata.id` is its id.",
        description=(
            "The body is a JSON Schema (draft 4, 6, 7, 2019-09 or 2020-12 by its `$schema`; Draft 6 without "
            "one), at most 102400 bytes. `X-Schema-Doc-Name` (1 to 32 characters) names it. At most "
            "MAX_SCHEMA_DOCS (default 100) per account."
        ),
        body="schema",
        headers=("X-Schema-Doc-Name",),
        errors=(
            *SCHEMA_DOC_BODY,
            *SCHEMA_DOC_NAME,
            *AUTHENTICATED[:2],
            TooManySchemaDocs,
            *AUTHENTICATED[2:],
            SchemaDocTooLarge,
            GatewayPayloadTooLarge,
        ),
        etag=False,
    ),
    Route(
        "readSchemaDoc",
        "GET",
        "/s/<schema_doc_id>",
        "Read a schema doc",
        "Schema Docs",
        "The schema doc.",
        errors=(InvalidSchemaDocId, UnexpectedBody, *AUTHENTICATED, SchemaDocNotFound),
        etag=False,
    ),
    Route(
        "updateSchemaDoc",
        "PUT",
        "/s/<schema_doc_id>",
        "Update a schema doc",
        "Schema Docs",
        "The schema doc as it is now.",
        description=(
            "Replaces the schema; an `X-Schema-Doc-Name` renames it too. A body of exactly `{}` with "
            "`X-Schema-Doc-Name` only renames (JSONBin's rename samples send that), keeping the schema. "
            "Bins already stored are not validated again."
        ),
        body="schema",
        headers=("X-Schema-Doc-Name",),
        errors=(
            InvalidSchemaDocId,
            *SCHEMA_DOC_BODY,
            *SCHEMA_DOC_NAME[1:],
            *AUTHENTICATED,
            SchemaDocNotFound,
            SchemaDocTooLarge,
            GatewayPayloadTooLarge,
        ),
        etag=False,
    ),
    Route(
        "renameSchemaDoc",
        "PUT",
        "/s/<schema_doc_id>/meta/name",
        "Rename a schema doc",
        "Schema Docs",
        "The schema doc as it is now.",
        description="Any request body is ignored.",
        headers=("X-Schema-Doc-Name",),
        errors=(InvalidSchemaDocId, *SCHEMA_DOC_NAME, *AUTHENTICATED, SchemaDocNotFound),
        etag=False,
    ),
    Route(
        "listUsageLogs",
        "GET",
        "/l",
        "List the days with usage logs",
        "Usage Logs",
        'The days (`DD-MM-YYYY`, oldest first) the account has usage logs for: `{"logs": ["03-12-2026"]}`.',
        description=(
            "A day's log holds one line per request made with the account's master key or one of its "
            "access keys, refused ones included (docs/usage-logs.md). Lines arrive a few seconds after "
            "their requests; days older than UsageLogRetentionDays (default 30) are gone."
        ),
        errors=(UnexpectedBody, *AUTHENTICATED[:2], NoUsageLogs, *AUTHENTICATED[2:]),
        etag=False,
    ),
    Route(
        "downloadUsageLog",
        "GET",
        "/l/<date>",
        "Download a day's usage log",
        "Usage Logs",
        "A zip (`application/zip`, `<DD-MM-YYYY>.zip`) holding `<DD-MM-YYYY>.jsonl`, one JSON line per "
        "request, oldest first; a zip too big for a Lambda response is answered as JSON "
        '`{"url": ..., "expiresInSeconds": 300}` instead, a presigned URL to fetch it from.',
        description=(
            "`date` is `DD-MM-YYYY` (UTC days). Each line: `time`, `method`, `route` (the template, "
            "`/b/{binId}`), the ids in the path (`binId`, `collectionId`, `schemaDocId`, `accessKeyId`), "
            "`status`, `ip`, `userAgent`, `key` (`master` or the access key's id), `requestId`, `accountId`."
        ),
        errors=(InvalidLogDate, UnexpectedBody, *AUTHENTICATED[:2], UsageLogNotFound, *AUTHENTICATED[2:]),
        etag=False,
    ),
)

BY_OPERATION = {route.operation_id: route for route in ROUTES}
# The routes the resolver serves (the others are documentation of a special case of one).
SERVED = tuple(route for route in ROUTES if route.served_by is None)


def matching(path: str) -> list[Route]:
    """The served routes whose shape the path has, whatever the method and the parameters."""
    return [route for route in SERVED if route.shape.fullmatch(path)]


def path_values(route: Route, path: str) -> list[str]:
    """The values of the route's path parameters in a path of its shape, in rule order."""
    match = route.shape.fullmatch(path)
    assert match is not None, f"{path} is not a path of {route.rule}"
    return [match[name] for name in route.path_params]
