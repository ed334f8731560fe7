"""Schema docs (master key only): create, read, update, rename; and validating a bin's record
against the schema doc of its collection.

Validation uses the ``jsonschema`` package, imported only when a schema applies (creating
or checking a schema doc, or writing a bin filed in a collection that has one): the plain
bin routes never pay its import. The draft is chosen by the schema's ``$schema`` (drafts 4,
6, 7, 2019-09 and 2020-12); without one, Draft 6, as JSONBin documents. Compiled validators
are cached per container by (account, schema doc id, rev): an update or rename moves the
rev, so a stale validator is never used.

Decisions (docs/api.md, "Schema docs"): the schema is a JSON object of at most
MAX_SCHEMA_BYTES; ``{}`` or an empty body is blank; ``$ref`` is resolved only within the
schema (never over the network); ``format`` is not asserted (jsonschema's default). A failed
validation answers 400 ``Schema Doc Validation Mismatch: <first error>`` with ``schemaDocId``
and ``schemaDocName``; the request has authenticated and is charged, like any other
refusal after the key check, and stores nothing.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from binvault.dal import collections as collections_dal
from binvault.dal import schema_docs
from binvault.exceptions import (
    BlankSchemaDoc,
    BlankSchemaDocName,
    InvalidCollectionId,
    InvalidJson,
    InvalidSchemaDoc,
    InvalidSchemaDocId,
    InvalidSchemaDocName,
    MissingMasterKey,
    MissingSchemaDocName,
    SchemaDocNameTooLong,
    SchemaDocNotFound,
    SchemaDocTooLarge,
    SchemaDocValidationMismatch,
    ServiceUnavailable,
    StaleWrite,
)
from binvault.logic.auth import authenticate
from binvault.models.bins import Credentials, Outcome, SchemaDoc
from binvault.models.clock import now_iso
from binvault.models.ids import new_id
from binvault.models.settings import get_settings

MAX_NAME_CHARS = 32
MAX_SCHEMA_BYTES = 100 * 1024
MAX_SCHEMA_DEPTH = 32
# A mismatch's text quotes jsonschema's message, which may quote the record: keep it short.
MAX_ERROR_CHARS = 300
VALIDATORS_CACHED = 64
_ID = re.compile(r"[0-9a-f]{24}")
_DRAFTS = ("Draft4Validator", "Draft6Validator", "Draft7Validator", "Draft201909Validator", "Draft202012Validator")

Check = Callable[[Any], None]


# ---- input (validated before any I/O) -----------------------------------------------------


def schema_doc_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise InvalidSchemaDocId()
    return value


def doc_name(value: str | None) -> str:
    if value is None:
        raise MissingSchemaDocName()
    name = optional_doc_name(value)
    assert name is not None
    return name


def optional_doc_name(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise BlankSchemaDocName()
    if len(value) > MAX_NAME_CHARS:
        raise SchemaDocNameTooLong()
    if not value.isprintable():
        raise InvalidSchemaDocName()
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_SCHEMA_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def schema_body(raw: bytes, blank_allowed: bool = False) -> dict[str, Any]:
    """The request body as a JSON Schema object (its draft checked later, by ``check``).
    ``blank_allowed`` lets ``{}`` through (PUT /s/{id} with X-Schema-Doc-Name: rename only)."""
    if len(raw) > MAX_SCHEMA_BYTES:
        raise SchemaDocTooLarge(MAX_SCHEMA_BYTES)
    if not raw.strip():
        raise BlankSchemaDoc()
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # lone surrogates cannot be stored
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson() from None
    if value == {} and not blank_allowed:
        raise BlankSchemaDoc()
    if not isinstance(value, dict):
        raise InvalidSchemaDoc("a Schema Doc must be a JSON object")
    if _depth(value) > MAX_SCHEMA_DEPTH:
        raise InvalidSchemaDoc(f"a Schema Doc may nest at most {MAX_SCHEMA_DEPTH} levels deep")
    return value


# ---- jsonschema: imported here only ---------------------------------------------------------


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _normal_uri(uri: str) -> str:
    return re.sub(r"^https?://", "", uri.strip()).rstrip("#")


def _validator_class(schema: dict[str, Any]) -> Any:
    """The draft ``$schema`` names (Draft 6 without one); anything else is refused."""
    from jsonschema import validators

    if "$schema" not in schema:
        return validators.Draft6Validator
    declared = schema["$schema"]
    for name in _DRAFTS:
        cls = getattr(validators, name)
        meta = cls.META_SCHEMA
        if isinstance(declared, str) and _normal_uri(declared) == _normal_uri(meta.get("$id") or meta["id"]):
            return cls
    raise InvalidSchemaDoc("$schema must name draft 4, 6, 7, 2019-09 or 2020-12 of JSON Schema")


def check(schema: dict[str, Any]) -> Any:
    """A validator for ``schema``; InvalidSchemaDoc when it is not a valid schema of its draft
    (``check_schema`` also applies the meta-schema's formats: a ``pattern`` must be a regex)."""
    from jsonschema import exceptions

    cls = _validator_class(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as refused:
        where = "" if refused.json_path == "$" else f"{refused.json_path}: "
        raise InvalidSchemaDoc(_short(where + refused.message)) from None
    except RecursionError:
        raise InvalidSchemaDoc("the schema nests too deeply") from None
    return cls(schema)


_validators: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
_validators_lock = threading.Lock()


def _validator(doc: SchemaDoc) -> Any:
    key = (doc.owner, doc.id, doc.rev)
    with _validators_lock:
        cached = _validators.get(key)
        if cached is not None:
            _validators.move_to_end(key)
            return cached
    compiled = check(json.loads(doc.schema))
    with _validators_lock:
        _validators[key] = compiled
        while len(_validators) > VALIDATORS_CACHED:
            _validators.popitem(last=False)
    return compiled


def validate(doc: SchemaDoc, record: Any) -> None:
    """SchemaDocValidationMismatch with the first (most relevant) error when ``record`` fails."""
    from jsonschema import exceptions
    from referencing.exceptions import Unresolvable

    def refuse(reason: str) -> SchemaDocValidationMismatch:
        return SchemaDocValidationMismatch(_short(reason), doc.id, doc.name)

    validator = _validator(doc)
    try:
        error = exceptions.best_match(validator.iter_errors(record))
    except Unresolvable as unresolvable:
        raise refuse(f"the Schema Doc's $ref {unresolvable.ref!r} cannot be resolved") from None
    except RecursionError:
        raise refuse("the record nests too deeply to be validated") from None
    except re.error:
        raise refuse("the Schema Doc has a pattern that is not a regular expression") from None
    if error is not None:
        where = "" if error.json_path == "$" else f"{error.json_path}: "
        raise refuse(where + error.message)


def check_for_collection(account_id: str, collection_id: str, missing: type[Exception] | None) -> Check | None:
    """How a record filed in the collection is checked (None: no schema doc is attached).

    ``missing`` is raised when the account has no such collection (None: no check, as for a
    bin whose collection is its own by construction).
    """
    collection = collections_dal.get(account_id, collection_id)
    if collection is None:
        if missing is not None:
            raise missing()
        return None
    if collection.schema_doc_id is None:
        return None
    doc = schema_docs.get(account_id, collection.schema_doc_id)
    if doc is None:  # schema docs are never deleted; an attached one always exists
        return None
    return lambda record: validate(doc, record)


def check_new_bin(account_id: str, collection_id: str) -> Check | None:
    """For POST /b with X-Collection-Id: 400 unless it is one of the caller's collections."""
    return check_for_collection(account_id, collection_id, InvalidCollectionId)


# ---- use cases ------------------------------------------------------------------------------


def master(credentials: Credentials) -> str:
    """The master key's account (every collection and schema doc route is master key only)."""
    if credentials.master_key is None:
        raise MissingMasterKey()
    return authenticate(Credentials(master_key=credentials.master_key))


def _body(doc: SchemaDoc) -> dict[str, Any]:
    return {
        "record": json.loads(doc.schema),
        "metadata": {"id": doc.id, "name": doc.name, "createdAt": doc.created_at},
    }


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def create(credentials: Credentials, name: str, schema: dict[str, Any]) -> Outcome:
    check(schema)
    account_id = master(credentials)
    for _ in range(5):
        doc = SchemaDoc(new_id(), account_id, name, now_iso(), _text(schema), rev=1)
        try:
            schema_docs.create(doc)
        except StaleWrite:  # an id collision: 64 random bits make this all but impossible
            continue
        return Outcome(_body(doc))
    raise ServiceUnavailable()


def _owned(account_id: str, doc_id: str) -> SchemaDoc:
    doc = schema_docs.get(account_id, doc_id)
    if doc is None:
        raise SchemaDocNotFound()
    return doc


def read(credentials: Credentials, doc_id: str) -> Outcome:
    return Outcome(_body(_owned(master(credentials), doc_id)))


def update(credentials: Credentials, doc_id: str, schema: dict[str, Any] | None, name: str | None) -> Outcome:
    """Replace the schema (None: keep it) and/or rename (None: keep the name). Bins already
    stored are not validated again."""
    if schema is not None:
        check(schema)
    account_id = master(credentials)
    text = None if schema is None else _text(schema)
    for _ in range(get_settings().write_attempts):
        doc = _owned(account_id, doc_id)
        try:
            schema_docs.update(doc, text, name)
        except StaleWrite:
            continue
        changed = SchemaDoc(doc.id, doc.owner, name or doc.name, doc.created_at, text or doc.schema, doc.rev + 1)
        return Outcome(_body(changed))
    raise ServiceUnavailable()
