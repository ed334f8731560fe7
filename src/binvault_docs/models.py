"""The API's request and response bodies as pydantic models, for the OpenAPI document only.

The request path never imports this module (nor pydantic): the routes build plain dicts,
because importing pydantic costs ~0.2 s of cold start. ``binvault_docs.openapi`` turns these
models into ``docs/openapi.json`` at build time, and the contract fuzz test
(tests/integration/test_fuzz.py) checks every real response against that document, so a
body that drifts from these models fails a test instead of surprising a client.

Response models forbid extra fields (``additionalProperties: false``): a field the API
starts sending without documenting it here is a failure too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

BIN_ID_PATTERN = r"^[0-9a-f]{24}$"
EXAMPLE_BIN_ID = "6650c0ffee0123456789abcd"
EXAMPLE_TIME = "2026-01-01T12:00:00.000Z"

BinId = Annotated[
    str,
    Field(
        pattern=BIN_ID_PATTERN,
        description="24 lowercase hexadecimal characters (the JSONBin / ObjectId shape).",
        examples=[EXAMPLE_BIN_ID],
    ),
]
Timestamp = Annotated[
    str,
    Field(description="UTC, ISO 8601 with milliseconds.", examples=[EXAMPLE_TIME]),
]
BinName = Annotated[str, Field(min_length=1, max_length=128, description="The name given at creation.")]
# Omitted when absent, never null: SkipJsonSchema keeps `null` out of the schema.
OptionalName = BinName | SkipJsonSchema[None]
FiledIn = Annotated[
    str, Field(pattern=BIN_ID_PATTERN, description="The collection the bin is filed in (absent: uncategorized).")
]
OptionalCollection = FiledIn | SkipJsonSchema[None]

_ANY_RECORD = {
    "description": "The bin's content: any JSON object or array.",
    "anyOf": [{"type": "object"}, {"type": "array"}],
}


class Record(RootModel[dict[str, Any] | list[Any]]):
    """A stored record, as the API returns it."""

    root: Annotated[dict[str, Any] | list[Any], WithJsonSchema(_ANY_RECORD)]


class RecordInput(RootModel[dict[str, Any] | list[Any]]):
    """A record to store: a non-empty JSON object, or an array."""

    root: Annotated[
        dict[str, Any] | list[Any],
        WithJsonSchema(
            {
                "description": (
                    "The record to store: a non-empty JSON object or any JSON array. `{}` or an empty "
                    "body answers 400 `Bin cannot be blank`; a record above MAX_BIN_BYTES (default "
                    "1048576 bytes) answers 413."
                ),
                "anyOf": [{"type": "object", "minProperties": 1}, {"type": "array"}],
                "examples": [{"greeting": "hello"}],
            }
        ),
    ]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Body):
    """Every error answer: one human-readable message, never a stack trace (a schema doc
    mismatch also names the schema doc)."""

    message: str
    schemaDocId: (
        Annotated[
            str, Field(description="`Schema Doc Validation Mismatch` only: the schema doc that refused the record.")
        ]
        | SkipJsonSchema[None]
    ) = None
    schemaDocName: (
        Annotated[str, Field(description="`Schema Doc Validation Mismatch` only: that schema doc's name.")]
        | SkipJsonSchema[None]
    ) = None


class CreatedMetadata(_Body):
    id: BinId
    createdAt: Timestamp
    private: bool
    name: OptionalName = None
    collectionId: OptionalCollection = None


class CreateResponse(_Body):
    record: Record
    metadata: CreatedMetadata


NewVersion = Annotated[int, Field(ge=1, description="The new version's number (versioned updates only).")]
AtCap = Annotated[
    Literal[False],
    Field(
        description=(
            "Present (false) when a versioned update found the bin at MAX_VERSIONS: the record "
            "replaced the latest one in place and no version was added, as JSONBin does."
        )
    ),
]
ReadVersion = Annotated[
    int, Field(ge=0, description="The version read (0 = the base record); absent for GET /b/{binId}.")
]


class UpdatedMetadata(_Body):
    parentId: BinId
    private: bool
    version: NewVersion | SkipJsonSchema[None] = None
    versioning: AtCap | SkipJsonSchema[None] = None


class UpdateResponse(_Body):
    record: Record
    metadata: UpdatedMetadata


class ReadMetadata(_Body):
    id: BinId
    private: bool
    createdAt: Timestamp
    name: OptionalName = None
    collectionId: OptionalCollection = None
    version: ReadVersion | SkipJsonSchema[None] = None


class ReadResponse(_Body):
    record: Record
    metadata: ReadMetadata


class ReadBody(RootModel[ReadResponse | Record]):
    """`{record, metadata}`, or only the bare record (object or array) when the request sent
    `X-Bin-Meta: false` or `?meta=false`. With `X-JSON-Path` the record is the array of the
    expression's matches (`[]` when nothing matches)."""

    root: ReadResponse | Record


class CountMetadata(_Body):
    id: BinId
    versionCount: Annotated[int, Field(ge=0)]
    private: bool


class CountResponse(_Body):
    metadata: CountMetadata


class ListedVersion(_Body):
    version: Annotated[int, Field(ge=1)]
    createdAt: Timestamp
    storedBytes: Annotated[
        int | None,
        Field(
            ge=0,
            description=(
                "The size of the version's stored form in bytes (compressed when that is smaller); `null` "
                "for a large record stored before binvault kept its size."
            ),
        ),
    ]


class VersionList(_Body):
    """binvault extension: a page of a bin's versions, newest first."""

    metadata: CountMetadata
    versions: Annotated[list[ListedVersion], Field(max_length=100)]
    next: Annotated[
        int | None,
        Field(ge=2, description="`?before=` for the next page (the last version listed); `null` on the last page."),
    ]


class DeletedMetadata(_Body):
    id: BinId
    versionsDeleted: Annotated[
        int,
        Field(ge=0, description="How many versions existed at the moment of the cut-over (0 on a repeat)."),
    ]


class DeleteBinResponse(_Body):
    metadata: DeletedMetadata
    message: Literal["Bin deleted successfully"]


class DeleteVersionsResponse(_Body):
    metadata: DeletedMetadata
    message: Literal["Versions for the Bin are deleted successfully"]


# ---- the bin meta routes ------------------------------------------------------------------


class RenamedMetadata(_Body):
    name: BinName


class RenameResponse(_Body):
    record: BinId
    metadata: RenamedMetadata


class PrivacyMetadata(_Body):
    private: bool


class PrivacyResponse(_Body):
    record: BinId
    metadata: PrivacyMetadata


# ---- the Access Keys API ------------------------------------------------------------------

AccessKeyId = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{24}$", description="24 lowercase hexadecimal characters.", examples=[EXAMPLE_BIN_ID]),
]
KeyName = Annotated[str, Field(min_length=1, max_length=32, description="The X-Key-Name given at creation.")]


class BinPermissions(_Body):
    create: bool
    read: bool
    update: bool
    delete: bool


class KeyPermissions(_Body):
    bins: BinPermissions


class BinPermissionsInput(_Body):
    """Each permission on the Bins API; a missing one is `false`."""

    create: bool = False
    read: bool = False
    update: bool = False
    delete: bool = False


class PermissionsInput(_Body):
    """The new key's permissions (JSONBin's shape); anything else answers 400."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"bins": {"create": True, "read": True, "update": False, "delete": False}}]},
    )
    bins: BinPermissionsInput = BinPermissionsInput()


class AccessKeyMetadata(_Body):
    name: KeyName
    createdAt: Timestamp


class CreateAccessKeyResponse(_Body):
    accessKey: Annotated[
        str, Field(min_length=43, description="The secret to send as X-Access-Key: shown only in this answer.")
    ]
    accessKeyId: AccessKeyId
    keyPermissions: KeyPermissions
    metadata: AccessKeyMetadata


class ListedAccessKey(_Body):
    keyPermissions: KeyPermissions
    accessKeyId: AccessKeyId
    accessKey: Annotated[
        str,
        Field(
            pattern=r"^\*{8}.{4}$",
            description=(
                "**Deviation from JSONBin**, whose list answers the secret itself: masked to its last 4 "
                "characters (binvault stores only a hash of it)."
            ),
            examples=["********awPw"],
        ),
    ]
    metadata: AccessKeyMetadata


class AccessKeyList(RootModel[list[ListedAccessKey]]):
    """The account's access keys, oldest first."""

    root: list[ListedAccessKey]


class DeletedAccessKeyMetadata(_Body):
    id: AccessKeyId
    name: KeyName


class DeleteAccessKeyResponse(_Body):
    metadata: DeletedAccessKeyMetadata
    message: Literal["Access Key deleted successfully"]


# ---- collections and listing bins ----------------------------------------------------------

CollectionName = Annotated[str, Field(min_length=1, max_length=32, description="The X-Collection-Name given.")]
SchemaDocName = Annotated[str, Field(min_length=1, max_length=32, description="The X-Schema-Doc-Name given.")]


class CollectionMetadata(_Body):
    createdAt: Timestamp
    name: CollectionName


class CreateCollectionResponse(_Body):
    record: Annotated[str, Field(pattern=BIN_ID_PATTERN, description="The new collection's id.")]
    metadata: CollectionMetadata


class NamedCollection(_Body):
    name: CollectionName


class RenameCollectionResponse(_Body):
    record: BinId
    metadata: NamedCollection


class ListedCollection(_Body):
    record: BinId
    collectionMeta: NamedCollection
    schemaDocId: Annotated[str | None, Field(description="The attached schema doc's id, `null` when none.")]
    createdAt: Timestamp


class CollectionList(RootModel[list[ListedCollection]]):
    """The account's collections, oldest first."""

    root: list[ListedCollection]


class CollectionIdentity(_Body):
    id: BinId
    createdAt: Timestamp


class SchemaDocAttachment(_Body):
    collectionName: CollectionName
    schemaDocId: Annotated[
        str | None, Field(description="The schema doc attached, or detached (`null`: none was attached).")
    ]
    metadata: CollectionIdentity


class SnippetMeta(_Body):
    name: OptionalName = None


class ListedBin(_Body):
    snippetMeta: Annotated[SnippetMeta, Field(description='`{"name"}` when the bin is named, else `{}`.')]
    private: bool
    record: Annotated[str, Field(pattern=BIN_ID_PATTERN, description="The bin's id (never its content).")]
    createdAt: Timestamp


class BinPage(RootModel[list[ListedBin]]):
    """Up to 10 bins in creation order; `[]` past the end."""

    root: Annotated[list[ListedBin], Field(max_length=10)]


# ---- schema docs ----------------------------------------------------------------------------


class SchemaInput(RootModel[dict[str, Any]]):
    """A JSON Schema."""

    root: Annotated[
        dict[str, Any],
        WithJsonSchema(
            {
                "description": (
                    "A JSON Schema object (draft 4, 6, 7, 2019-09 or 2020-12 by `$schema`; Draft 6 without one), "
                    "at most 102400 bytes. `{}` or an empty body answers 400 `Schema Doc cannot be blank` "
                    "(on `PUT /s/{schemaDocId}` with X-Schema-Doc-Name, `{}` renames only)."
                ),
                "type": "object",
                "examples": [{"type": "object", "required": ["username"]}],
            }
        ),
    ]


class SchemaDocMetadata(_Body):
    id: BinId
    name: SchemaDocName
    createdAt: Timestamp


class SchemaDocResponse(_Body):
    record: Annotated[dict[str, Any], Field(description="The JSON Schema.")]
    metadata: SchemaDocMetadata


LogDay = Annotated[str, Field(pattern=r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$", examples=["03-12-2026"])]


class UsageLogDays(_Body):
    logs: Annotated[list[LogDay], Field(description="The days (DD-MM-YYYY, UTC) with usage logs, oldest first.")]


class UsageLogUrl(_Body):
    """A day's zip too big for a Lambda response: fetch it from S3 (no key needed) in time."""

    url: Annotated[str, Field(description="A presigned S3 URL of the zip.")]
    expiresInSeconds: Annotated[int, Field(description="How long the URL works.", examples=[300])]
