"""Schema docs (master key only): create, read, update, rename; and validating a bin's record
against the schema doc of its collection.

Validation uses ``jsonschema-rs`` (Rust; docs/schema-validation.md), imported only when a
schema applies (creating or checking a schema doc, or writing a bin filed in a collection
that has one): the plain bin routes never pay its import. The draft is chosen by the
schema's ``$schema`` (drafts 4, 6, 7, 2019-09 and 2020-12); without one, Draft 6, as JSONBin
documents. Compiled validators are cached per container by (account, schema doc id, rev):
an update or rename moves the rev, so a stale validator is never used.

Decisions (docs/api.md, "Schema docs"): the schema is a JSON object of at most
MAX_SCHEMA_BYTES; ``{}`` or an empty body is blank; ``$ref`` is resolved only within the
schema (never over the network); ``format`` is not asserted; ``pattern`` runs on a
linear-time regex engine (no lookaround, no backreferences: no catastrophic backtracking,
so a hostile pattern cannot burn the account's time). A failed validation answers 400
``Schema Doc Validation Mismatch: <first error>`` with ``schemaDocId`` and
``schemaDocName``, in jsonschema's words for the common keywords (the messages binvault gave
before it moved to jsonschema-rs); the request has authenticated and is charged, like any
other refusal after the key check, and stores nothing.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
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
# A mismatch's text quotes the record: keep it short.
MAX_ERROR_CHARS = 300
VALIDATORS_CACHED = 64
_ID = re.compile(r"[0-9a-f]{24}")
DRAFT_6 = "http://json-schema.org/draft-06/schema#"
# The drafts' meta-schema ids (as ``_normal_uri`` leaves them) -> jsonschema-rs's validator.
_DRAFTS = {
    "json-schema.org/draft-04/schema": "Draft4Validator",
    "json-schema.org/draft-06/schema": "Draft6Validator",
    "json-schema.org/draft-07/schema": "Draft7Validator",
    "json-schema.org/draft/2019-09/schema": "Draft201909Validator",
    "json-schema.org/draft/2020-12/schema": "Draft202012Validator",
}
_PROPERTY = re.compile("^[a-zA-Z][a-zA-Z0-9_]*$")  # a key jsonschema's json_path writes as .key
_WEAK = frozenset({"anyOf", "oneOf"})
# A failing record's errors ranked for the most relevant one: a bound on a hostile record's cost.
MAX_ERRORS_RANKED = 100
_META: dict[str, Any] = {}  # a meta-schema error's keyword value is not looked up

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


# ---- jsonschema-rs: imported here only ------------------------------------------------------


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _normal_uri(uri: str) -> str:
    return re.sub(r"^https?://", "", uri.strip()).rstrip("#")


def _validator_class(schema: dict[str, Any]) -> Any:
    """The draft ``$schema`` names (Draft 6 without one); anything else is refused."""
    import jsonschema_rs

    declared = schema.get("$schema", DRAFT_6)
    name = _DRAFTS.get(_normal_uri(declared)) if isinstance(declared, str) else None
    if name is None:
        raise InvalidSchemaDoc("$schema must name draft 4, 6, 7, 2019-09 or 2020-12 of JSON Schema")
    return getattr(jsonschema_rs, name)


def _no_network(uri: str) -> Any:
    """jsonschema-rs would fetch a remote ``$ref`` over HTTP: a schema resolves only within itself."""
    raise ValueError(f"{uri} is not fetched: a $ref resolves only within the Schema Doc")


def _repr(value: Any, limit: int = MAX_ERROR_CHARS) -> str:
    """``repr(value)``, stopped once past ``limit`` characters: a message is cut there anyway,
    and a refused 1 MB record must not pay for its whole repr."""
    out: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack and size <= limit:
        node = stack.pop()
        if isinstance(node, _Text):
            piece = node.text
        elif isinstance(node, dict):
            parts: list[Any] = [_Text("{")]
            for index, (key, child) in enumerate(node.items()):
                parts += [_Text(", ")] if index else []
                parts += [_Text(repr(key) + ": "), child]
            stack.extend(reversed([*parts, _Text("}")]))
            continue
        elif isinstance(node, list):
            parts = [_Text("[")]
            for index, child in enumerate(node):
                parts += [_Text(", "), child] if index else [child]
            stack.extend(reversed([*parts, _Text("]")]))
            continue
        else:
            piece = repr(node)
        out.append(piece)
        size += len(piece)
    return "".join(out)


class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _lookup(schema: Any, path: list[str | int]) -> Any:
    for step in path:
        try:
            schema = schema[step]
        except (KeyError, IndexError, TypeError):
            return None
    return schema


def _message(error: Any, schema: dict[str, Any]) -> str:
    """jsonschema's wording for the common keywords (what binvault answered before it moved
    to jsonschema-rs, and what clients may match on); jsonschema-rs's own for the rest."""
    keyword, detail, instance = error.kind.name, error.kind.as_dict(), error.instance
    limit = detail.get("limit")
    if keyword == "required":
        return f"{detail['property']!r} is a required property"
    if keyword == "type":
        # the schema's own order (jsonschema-rs sorts them), when the path finds the same types
        declared = _lookup(schema, list(error.schema_path))
        declared = declared if isinstance(declared, list) else [declared]
        types = declared if sorted(map(str, declared)) == sorted(detail["types"]) else detail["types"]
        return f"{_repr(instance)} is not of type {', '.join(repr(t) for t in types)}"
    if keyword == "enum":
        return f"{_repr(instance)} is not one of {_repr(detail['options'])}"
    if keyword == "const":
        return f"{_repr(detail['expected_value'])} was expected"
    bounds = {
        "minimum": "is less than the minimum of",
        "maximum": "is greater than the maximum of",
        "exclusiveMinimum": "is less than or equal to the minimum of",
        "exclusiveMaximum": "is greater than or equal to the maximum of",
    }
    if keyword in bounds:
        return f"{_repr(instance)} {bounds[keyword]} {limit!r}"
    sizes = {
        "minLength": ("should be non-empty", 1, "is too short"),
        "minItems": ("should be non-empty", 1, "is too short"),
        "minProperties": ("should be non-empty", 1, "does not have enough properties"),
        "maxLength": ("is expected to be empty", 0, "is too long"),
        "maxItems": ("is expected to be empty", 0, "is too long"),
        "maxProperties": ("is expected to be empty", 0, "has too many properties"),
    }
    if keyword in sizes:
        at_edge, edge, beyond = sizes[keyword]
        return f"{_repr(instance)} {at_edge if limit == edge else beyond}"
    simple: dict[str, Callable[[], str]] = {
        "pattern": lambda: f"does not match {detail['pattern']!r}",
        "format": lambda: f"is not a {detail['format']!r}",
        "uniqueItems": lambda: "has non-unique elements",
        "multipleOf": lambda: f"is not a multiple of {detail['multiple_of']}",
        "anyOf": lambda: "is not valid under any of the given schemas",
        "oneOf": lambda: "is not valid under any of the given schemas",
    }
    if keyword in simple and (keyword != "oneOf" or _none_valid(error)):
        return f"{_repr(instance)} {simple[keyword]()}"
    if keyword == "additionalProperties" and "unexpected" in detail:
        extras = detail["unexpected"]
        return (
            f"Additional properties are not allowed ({', '.join(repr(e) for e in extras)} "
            f"{'was' if len(extras) == 1 else 'were'} unexpected)"
        )
    if keyword == "not":
        return f"{_repr(instance)} should not be valid under {_repr(detail['schema'])}"
    if keyword == "falseSchema":
        return f"False schema does not allow {_repr(instance)}"
    return str(error.message)


def _none_valid(error: Any) -> bool:
    import jsonschema_rs

    return isinstance(error.kind, jsonschema_rs.ValidationErrorKind.OneOfNotValid)


def _where(error: Any) -> str:
    """jsonschema's ``json_path`` of the error's instance, then ': ' (nothing at the root)."""
    path = "$"
    for step in error.instance_path:
        if isinstance(step, int):
            path += f"[{step}]"
        elif _PROPERTY.match(step):
            path += "." + step
        else:
            path += "['" + step.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return "" if path == "$" else f"{path}: "


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


def _matches_type(error: Any, schema: dict[str, Any]) -> bool:
    """Whether the instance has a type its failing subschema declares (jsonschema's rule)."""
    subschema = _lookup(schema, list(error.schema_path)[:-1])
    expected = subschema.get("type") if isinstance(subschema, dict) else None
    if expected is None:
        return False
    names = [expected] if isinstance(expected, str) else expected
    return any(_TYPES.get(name, lambda _: False)(error.instance) for name in names if isinstance(name, str))


def _ranker(schema: dict[str, Any]) -> Callable[[Any], tuple[Any, ...]]:
    """jsonschema's ``relevance``: the deepest error first, then the later sibling, then one
    that is not an anyOf/oneOf, then one whose instance does not even have the right type."""

    def relevance(error: Any) -> tuple[Any, ...]:
        path = tuple((isinstance(step, str), step) for step in error.instance_path)
        return -len(path), path, error.kind.name not in _WEAK, not _matches_type(error, schema)

    return relevance


def _best(errors: Iterable[Any], schema: dict[str, Any]) -> Any:
    """The most relevant error (jsonschema's ``best_match``), descending into an anyOf's or
    oneOf's branches while one of their errors stands out."""
    relevance = _ranker(schema)
    best = max(itertools.islice(errors, MAX_ERRORS_RANKED), key=relevance)
    while best.kind.name in _WEAK:
        branches = [e for branch in best.kind.as_dict().get("context") or [] for e in branch]
        smallest = heapq.nsmallest(2, branches, key=relevance)
        if not smallest or (len(smallest) == 2 and relevance(smallest[0]) == relevance(smallest[1])):
            break
        best = smallest[0]
    return best


class _Unresolvable:
    """A schema whose ``$ref`` resolves nowhere: accepted as a Schema Doc (as before), but
    every record checked against it is refused."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def check(schema: dict[str, Any]) -> Any:
    """A compiled validator for ``schema``; InvalidSchemaDoc when it is not a valid schema of
    its draft (the meta-schema's formats apply: a ``pattern`` must be a regex the linear-time
    engine takes, so no lookaround and no backreference)."""
    import jsonschema_rs

    cls = _validator_class(schema)
    try:
        return _Compiled(
            cls(
                schema,
                validate_formats=False,
                retriever=_no_network,
                pattern_options=jsonschema_rs.RegexOptions(),
            ),
            schema,
        )
    except jsonschema_rs.ValidationError as refused:
        if isinstance(refused.kind, jsonschema_rs.ValidationErrorKind.Referencing):
            return _Unresolvable(str(refused.message).splitlines()[0])
        raise InvalidSchemaDoc(_short(_where(refused) + _message(refused, _META))) from None


class _Compiled:
    __slots__ = ("schema", "validator")

    def __init__(self, validator: Any, schema: dict[str, Any]) -> None:
        self.validator, self.schema = validator, schema


_validators: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
_validators_lock = threading.Lock()


def _validator(doc: SchemaDoc) -> Any:
    key = (doc.owner, doc.id, doc.rev)
    with _validators_lock:
        cached = _validators.get(key)
        if cached is not None:
            _validators.move_to_end(key)
            return cached
    try:
        compiled = check(json.loads(doc.schema))
    except InvalidSchemaDoc as stale:  # stored before a rule tightened (a pattern with lookaround)
        compiled = _Unusable(stale.reason)
    with _validators_lock:
        _validators[key] = compiled
        while len(_validators) > VALIDATORS_CACHED:
            _validators.popitem(last=False)
    return compiled


class _Unusable:
    """A stored Schema Doc that no longer compiles: every record checked against it is refused."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def validate(doc: SchemaDoc, record: Any) -> None:
    """SchemaDocValidationMismatch with the first (most relevant) error when ``record`` fails."""

    def refuse(reason: str) -> SchemaDocValidationMismatch:
        return SchemaDocValidationMismatch(_short(reason), doc.id, doc.name)

    compiled = _validator(doc)
    if isinstance(compiled, _Unresolvable):
        raise refuse(f"the Schema Doc has a $ref that cannot be resolved: {compiled.reason}")
    if isinstance(compiled, _Unusable):
        raise refuse(f"the Schema Doc is no longer a valid JSON Schema: {compiled.reason}")
    if compiled.validator.is_valid(record):  # the common case: no error objects at all
        return
    error = _best(compiled.validator.iter_errors(record), compiled.schema)
    raise refuse(_where(error) + _message(error, compiled.schema))


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
            schema_docs.create(doc, get_settings().max_schema_docs)
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
