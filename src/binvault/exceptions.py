"""Domain exceptions. Each carries the HTTP status and the contract's exact message.

They are raised by ``logic/`` and ``dal/`` and mapped to a response in exactly one place,
the ``@app.exception_handler`` in ``handlers/api.py``.

This module is the only place an error text is written: one class per message (a class
whose text depends on configuration or on a header name has a ``template``). The route
table (``handlers/routes.py``) lists these classes per route, and the OpenAPI build and
docs/api.md read the messages from them.
"""

from __future__ import annotations


class BinvaultError(Exception):
    status: int = 500
    message: str = "Internal server error"

    def __init__(self) -> None:
        # No free text: a new message is a new class (or a ``template`` filled by its own
        # constructor), so the documentation can read every message from this module.
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        return {}

    @property
    def fields(self) -> dict[str, str]:
        """Fields the error body carries besides ``message`` (a schema doc mismatch names the doc)."""
        return {}


class BadRequest(BinvaultError):
    status = 400


class InvalidBinId(BadRequest):
    message = "Invalid Bin Id provided"


class InvalidVersion(BadRequest):
    message = "Invalid Bin Version provided"


class InvalidVersionCursor(BadRequest):
    """``GET /b/{id}/versions?before=``: the next page's cursor is a version number."""

    message = "before must be a version number of 1 or more"


class MissingContentType(BadRequest):
    message = "You need to pass Content-Type set to application/json"


class BlankBin(BadRequest):
    message = "Bin cannot be blank"


class InvalidJson(BadRequest):
    message = "Invalid JSON body"


class NotARecord(BadRequest):
    message = "Bin must be a JSON object or array"


class InvalidBinName(BadRequest):
    message = "X-Bin-Name must be 1 to 128 printable characters"


class InvalidIfMatch(BadRequest):
    message = "If-Match must be an entity tag or *"


class InvalidIdempotencyKey(BadRequest):
    message = "Idempotency-Key must be 1 to 255 printable ASCII characters"


class UnexpectedBody(BadRequest):
    message = "This route does not take a request body"


class InvalidFlag(BadRequest):
    """A true/false header or query parameter with another value."""

    template = "{name} must be true or false"

    def __init__(self, name: str) -> None:
        self.name = name
        self.message = self.template.format(name=name)
        super().__init__()


class MissingMasterKey(BinvaultError):
    status = 401
    message = "You need to pass X-Master-Key in the header"


class InvalidMasterKey(BinvaultError):
    status = 401
    message = "Invalid X-Master-Key provided"


class QuotaExhausted(BinvaultError):
    status = 403
    template = "Requests exhausted. Buy additional requests at {purchase_url}"

    def __init__(self, purchase_url: str) -> None:
        self.message = self.template.format(purchase_url=purchase_url)
        super().__init__()


class RouteNotFound(BinvaultError):
    status = 404
    message = "Route not found"


class BinNotFound(BinvaultError):
    status = 404
    message = "Bin not found or it doesn't belong to your account"


class VersionNotFound(BinvaultError):
    status = 404
    message = "Bin version not found"


class MethodNotAllowed(BinvaultError):
    status = 405
    message = "Method not allowed"


class IdempotencyInProgress(BinvaultError):
    status = 409
    message = "A request with this Idempotency-Key is still in progress; retry shortly"


class PreconditionFailed(BinvaultError):
    status = 412
    message = "Precondition Failed"


class PayloadTooLarge(BinvaultError):
    status = 413
    template = "Bin size exceeds the limit of {limit} bytes"

    def __init__(self, limit: int) -> None:
        self.message = self.template.format(limit=limit)
        super().__init__()


class ResponseTooLarge(BinvaultError):
    """A record under MAX_BIN_BYTES whose response would still not fit Lambda's 6 MB payload
    once escaped into the proxy response (quote-heavy JSON doubles): refused at write time,
    so that nothing accepted is ever unreadable (models/settings.py)."""

    status = 413
    message = "Bin is too large to be returned: its response would exceed Lambda's 6291456 bytes"


class GatewayPayloadTooLarge(BinvaultError):
    """API Gateway's own answer above its 10 MB payload limit (template.yaml's
    GatewayResponses; the local server imitates it). The Lambda never raises it."""

    status = 413
    message = "Request body too large"


class Throttled(BinvaultError):
    """API Gateway's own answer when it throttles (template.yaml's GatewayResponses, deployed
    stage only). The Lambda never raises it."""

    status = 429
    message = "Too many requests, please retry"


class IdempotencyKeyReused(BinvaultError):
    status = 422
    message = "Idempotency-Key was already used with a different request body"


class ServiceUnavailable(BinvaultError):
    """A transient fault (throttling, conflicts, network) outlasted our retries."""

    status = 503
    message = "Service temporarily unavailable, please retry"
    retry_after_seconds = 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class StaleWrite(Exception):
    """A conditional write lost a race: the bin changed since it was read (internal, retried)."""


class WriteConflict(Exception):
    """DynamoDB cancelled a transaction because of a concurrent one (internal, retried)."""


class CompanionConditionFailed(Exception):
    """A transaction was cancelled by the condition of an item written alongside the bin (an
    idempotency record taken over by another attempt): internal, the caller decides."""


# ---- access keys (X-Access-Key) ---------------------------------------------------------


class InvalidAccessKey(BinvaultError):
    status = 401
    message = "Invalid X-Access-Key provided"


class AccessKeyForbidden(BinvaultError):
    """A valid access key whose permission for this route is off."""

    status = 403
    template = "X-Access-Key does not have the permission to {permission} bins"

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.message = self.template.format(permission=permission)
        super().__init__()


class _CreateLimit(BinvaultError):
    """Creating one more of what an account may have at most ``limit`` of: ``template``
    has one field, ``field``."""

    template: str
    field: str

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.message = self.template.format(**{self.field: limit})
        super().__init__()


class TooManyAccessKeys(_CreateLimit, BadRequest):
    template, field = "You can create up to {max_access_keys} Access Keys", "max_access_keys"


class AccessKeyNotFound(BinvaultError):
    status = 404
    message = "Access Key not found or it doesn't belong to your account"


class MissingMasterKeyToListAccessKeys(MissingMasterKey):
    message = "You need to pass X-Master-Key in the header to fetch a list of Access Keys."


class MissingMasterKeyToDeleteAccessKey(MissingMasterKey):
    message = "You need to pass X-Master-Key in the header to delete the access key."


class MissingAccessKeyName(BadRequest):
    message = "You need to pass X-Key-Name header to set a name for the Access Key"


class AccessKeyNameTooLong(BadRequest):
    message = "Name of the Access Key cannot be above 32 characters"


class InvalidAccessKeyName(BadRequest):
    message = "X-Key-Name must be printable characters"


class InvalidAccessKeyPermissions(BadRequest):
    message = 'Access Key permissions must be {"bins": {"create", "read", "update", "delete": true or false}}'


class InvalidAccessKeyId(BadRequest):
    message = "Invalid Access Key Id provided"


class InvalidJsonPath(BadRequest):
    message = "Invalid X-JSON-Path expression passed"


class MissingBinNameToRename(BadRequest):
    message = "You need to pass X-Bin-Name header to Update the Bin Name"


class InvalidBinNameToRename(BadRequest):
    message = "X-Bin-Name cannot be blank or over 128 characters"


class MissingBinPrivacy(BadRequest):
    message = "You need to provide X-Bin-Private header to change the Bin privacy"


# ---- collections, schema docs and listing bins (JSONBIN-PARITY.md sections 4 and 5) ----------


class InvalidCollectionId(BadRequest):
    """A malformed collection id (path), or an X-Collection-Id on POST /b that is not one of
    the caller's collections."""

    message = "Invalid Collection Id provided"


class CollectionNotFound(BinvaultError):
    """A well-formed collection id of no collection of the caller's (another account's
    answers the same)."""

    status = 404
    message = "Collection not found"


class MissingCollectionName(BadRequest):
    # JSONBin's documented text, "Schema Doc" slip included (docs/api.md, "Collections").
    message = "You need to pass X-Collection-Name header to set a name for the Schema Doc"


class BlankCollectionName(BadRequest):
    message = "X-Collection-Name cannot be blank"


class CollectionNameTooLong(BadRequest):
    message = "Name of the Collection cannot be above 32 characters"


class InvalidCollectionName(BadRequest):
    message = "X-Collection-Name must be printable characters"


class TooManyCollections(_CreateLimit):
    status = 403
    template, field = "You can create up to {max_collections} Collections", "max_collections"


class TooManySchemaDocs(_CreateLimit):
    status = 403
    template, field = "You can create up to {max_schema_docs} Schema Docs", "max_schema_docs"


class InvalidSortOrder(BadRequest):
    message = "X-Sort-Order must be ascending or descending"


class InvalidSchemaDocId(BadRequest):
    """A malformed schema doc id, or an X-Schema-Doc-Id that is not one of the caller's
    schema docs (attach) or not the attached one (detach)."""

    message = "Invalid Schema Id provided"


class SchemaDocNotFound(BinvaultError):
    status = 404
    message = "Schema Doc not found"


class MissingSchemaDocId(BadRequest):
    message = "You need to pass X-Schema-Doc-Id in the header"


class MissingSchemaDocName(BadRequest):
    message = "You need to pass X-Schema-Doc-Name header to set a name for the Schema Doc"


class BlankSchemaDocName(BadRequest):
    message = "X-Schema-Doc-Name cannot be blank"


class SchemaDocNameTooLong(BadRequest):
    message = "Name of the Schema Doc cannot be above 32 characters"


class InvalidSchemaDocName(BadRequest):
    message = "X-Schema-Doc-Name must be printable characters"


class BlankSchemaDoc(BadRequest):
    message = "Schema Doc cannot be blank"


class InvalidSchemaDoc(BadRequest):
    """The body is JSON but not a JSON Schema this API can apply (its draft's meta-schema, logic/schema_docs)."""

    template = "Schema Doc is not a valid JSON Schema: {reason}"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = self.template.format(reason=reason)
        super().__init__()


class SchemaDocTooLarge(BinvaultError):
    status = 413
    template = "Schema Doc size exceeds the limit of {limit} bytes"

    def __init__(self, limit: int) -> None:
        self.message = self.template.format(limit=limit)
        super().__init__()


class SchemaDocValidationMismatch(BadRequest):
    """A record the collection's schema doc refuses; the body also names the schema doc."""

    template = "Schema Doc Validation Mismatch: {error}"

    def __init__(self, error: str, schema_doc_id: str, schema_doc_name: str) -> None:
        self.error = error
        self.message = self.template.format(error=error)
        self.schema_doc_id = schema_doc_id
        self.schema_doc_name = schema_doc_name
        super().__init__()

    @property
    def fields(self) -> dict[str, str]:
        return {"schemaDocId": self.schema_doc_id, "schemaDocName": self.schema_doc_name}


# ---- usage logs (GET /l, GET /l/{date}) ----------------------------------------------------


class InvalidLogDate(BadRequest):
    message = "Invalid date: use DD-MM-YYYY, e.g. 31-12-2026"


class NoUsageLogs(BinvaultError):
    """The account has no usage log for any day kept (JSONBin's text)."""

    status = 404
    message = "No logs found"


class UsageLogNotFound(BinvaultError):
    """No usage log for that day (JSONBin's text; its docs write the date as { DD-MM-YYYY })."""

    status = 404
    template = "Backup not found for {date}"

    def __init__(self, date: str) -> None:
        self.message = self.template.format(date=date)
        super().__init__()
