"""Fixes to moto's DynamoDB emulator, for the local stack and the unit tests only.

1. Atomicity under concurrency. DynamoDB applies each request atomically; moto checks a
   condition and then writes in plain Python, so two threads (the local server is
   threaded) could both pass the same condition. Every backend operation is serialised
   with one lock, which makes the emulator linearizable like the real service, and so is
   each request's response: moto serialises the live item a read returned, which a
   concurrent update could change under it.

2. Transaction cost. moto implements TransactWriteItems' all-or-nothing by deep-copying every table a
transaction touches, before each transaction. That costs O(table size) per write (the
copy includes the table's whole stream history), so a bin with 1000 versions made the
local stack quadratic and used gigabytes. This replaces the whole-table copy with an
undo log of just the items the transaction names (and the stream length), which gives
the same all-or-nothing result: on cancellation every named item and the stream are put
back exactly as they were.

3. Query cost. moto's ``Table.query`` builds its candidates from ``all_items()``, which
sorts every item of the table, before it keeps the one partition asked for: 6.8 ms at
100 items, 96 ms at 10k. A table query (no index) here reads only the partition's items.
And it deep-copies every item it returns before applying a ProjectionExpression, which
builds new items anyway: the purge's key query of a 1000-version bin deep-copied 1000
whole records (the largest cost of the local stack's purge, and a pile of objects for
the collector, issue 23). A projected table query skips that copy (a FilterExpression
only reads the items it keeps).

4. Memory. moto's ``BaseModel`` appends every instance it ever creates to its class's
``instances_tracked`` (for its /moto-api data dump): every item version, stream record
and shard iterator of a long-running emulator stayed alive. The DynamoDB models here
track nothing. moto also keeps every stream record (``StreamShard.items``) and every shard
iterator it ever handed out. ``release_stream_records`` drops the records a consumer
has read (advancing the shard's starting sequence number, so sequence numbers do not
change), and a consumed iterator is forgotten once ``GetRecords`` has used it.

5. Idempotent transactions. moto ignores TransactWriteItems' ``ClientRequestToken``; DynamoDB
   answers a call whose token it has seen succeed in the last ten minutes with success and
   applies nothing, and refuses the same token with other parameters
   (IdempotentParameterMismatchException). botocore resends a call unchanged after a lost
   response, so that is what keeps a retried quota charge from charging twice
   (dal/accounts.py); here it is emulated, for the unit tests' lost responses
   (tests/support/faults.py) and the local stack alike. A cancelled transaction records
   nothing (its retry runs again, as on AWS).

6. Response cost. moto serialises every response by walking the botocore output shape, and
   for each member of each structure asks six "alias providers" where the value might be
   kept (a ``Meta``, the shape's name, the key, prefixes...), built anew for every member
   of every value. Every attribute value of an item is a structure of ten members, so a
   Query of 100 small items took 73 ms (GetItem 3.1 ms), and serialising was half of an api
   test's time. When the value is a plain dict (every DynamoDB and Streams result is one),
   what the providers say of a member depends only on its key and shape and the parent
   structure, so each structure's members and the keys to try are worked out once and
   kept on the shape; each member's value is then picked by the picker's own rule (the
   first of its keys present; None skipped). Query of 100 items 20 ms, GetItem 2.0 ms. The
   bytes are moto's (``tests/api/test_moto_fixes.py`` serialises every kind of response
   the service reads both ways and compares them).

7. Expression parsing. moto parses an update expression twice for every item it updates
   (once to check the request's placeholders, once to apply it) and a condition expression
   up to three times (a transaction checks it, then its update or put checks it again):
   ~1 ms an item, so the 34-item transaction that mirrors an access key onto 32 quota
   shards spent most of its 95 ms parsing the same few strings. A parsed update expression
   depends only on its text and moto only reads it (its validator deep-copies it before
   resolving anything), so it is parsed once per text; a parsed condition depends on its
   text, the names and the values it refers to, and evaluating it changes nothing, so it is
   parsed once per those (from a private copy of the values, which a later write cannot
   reach). A text moto refuses is refused every time (nothing is kept); each cache holds at
   most ``PARSED_LIMIT`` entries. The 34-item transaction: 65 ms.

Items 3, 4, 6 and 7 (and 2) are worth reporting upstream to moto. Nothing of this runs in AWS.
``tests/api/test_moto_fixes.py`` fences them: canaries fail when an upgrade moves the
internals each item touches, and a behaviour test per item proves it still works.

What upstream change would let us drop each item:

1. backend operations taken under one lock (or a per-table lock) in moto's server, and
   reads answering with a copy of the item;
2. ``transact_write_items`` rolling back the named items instead of deep-copying tables;
3. ``Table.query`` reading ``self.items[hash_key]`` for a table (non-index) query, and
   projecting before it copies;
4. an option to turn ``instances_tracked`` off (it only feeds the /moto-api dashboard),
   and ``StreamShard`` trimming records older than 24 h, as DynamoDB Streams does;
5. ``ClientRequestToken`` honoured by ``transact_write_items``;
6. the serializer remembering a structure's member keys per shape (or DynamoDB's results
   serialised without the alias search: they are plain dicts already);
7. an update or condition expression parsed once per request (or memoised per text).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import threading
import time
import types
from collections.abc import Callable
from typing import Any

_installed = False
_lock = threading.RLock()
# DynamoDB's idempotency window for a transaction's ClientRequestToken.
TOKEN_SECONDS = 600
_token_clock = time.monotonic  # tests move it
_tokens: dict[str, tuple[str, float, Any]] = {}  # token -> (request, when, result), oldest first
# Item 7: parsed expressions kept, per cache (emptied when full; a test suite writes a few
# hundred distinct texts).
PARSED_LIMIT = 4096
# A condition's value placeholders: moto's own operand characters (ConditionExpressionParser._lex_one_node).
_VALUE_PLACEHOLDER = re.compile(r":[A-z0-9\-_]+")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    return locked


class _NoTableCopy(types.SimpleNamespace):
    """Stands in for the ``copy`` module inside moto's DynamoDB backend."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table):
            return value  # rollback is done item by item below
        return copy.deepcopy(value, memo)


class _Untracked(list[Any]):
    """An ``instances_tracked`` that keeps nothing (see item 4)."""

    def append(self, instance: Any) -> None:
        pass


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> tuple[Any, Any]:
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_value = attrs.get(table.hash_key_attr)
    range_value = attrs.get(table.range_key_attr) if table.range_key_attr else None
    return hash_value, range_value


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = models.DynamoDBBackend.transact_write_items
    models.copy = _NoTableCopy()  # type: ignore[assignment,attr-defined]

    @functools.wraps(original)  # inspect.unwrap finds moto's own (tests/api/test_moto_fixes.py)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[Any, Any, Any, Any]] = []
        streams: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None or op_type not in {"Put", "Delete", "Update"}:
                continue
            hash_attr, range_attr = _key_of(table, op_type, op)
            if hash_attr is None:
                continue
            hash_key = DynamoType(hash_attr)
            range_key = DynamoType(range_attr) if range_attr is not None else None
            current = table.get_item(hash_key, range_key)
            undo.append((table, hash_key, range_key, copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(undo):
                bucket = table.items[hash_key] if range_key is not None else table.items
                key = range_key if range_key is not None else hash_key
                if before is None:
                    bucket.pop(key, None)
                else:
                    bucket[key] = before
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _idempotent_transactions()
    _partition_queries()
    _remembered_member_keys()
    _remembered_expressions()
    from moto.core.model_instances import model_data
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    def untrack() -> None:
        for service in ("dynamodb", "dynamodbstreams"):
            model: Any
            for model in model_data[service].values():
                model.instances_tracked = _Untracked()

    untrack()
    # A mock_aws() that stops resets every model's list to a plain one: untrack again.
    import moto.core.models as core_models

    reset_model_data = core_models.reset_model_data  # type: ignore[attr-defined]

    def reset_and_untrack() -> None:
        reset_model_data()
        untrack()

    core_models.reset_model_data = reset_and_untrack  # type: ignore[attr-defined]

    @functools.wraps(DynamoDBStreamsBackend.get_records)
    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterator = self.shard_iterators.pop(iterator_arn)
        return iterator.get(limit)  # type: ignore[no-any-return]

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]

    for backend in (models.DynamoDBBackend, DynamoDBStreamsBackend):
        for name, member in list(vars(backend).items()):
            if callable(member) and not name.startswith("_"):
                setattr(backend, name, _serialised(member))
    # A backend call returns moto's live item, which the response then serialises: under
    # the same lock, or a concurrent update changes the item mid-read ("dictionary changed
    # size during iteration", a 500 a real table never gives).
    from moto.dynamodb.responses import DynamoHandler

    DynamoHandler.call_action = _serialised(DynamoHandler.call_action)  # type: ignore[method-assign]
    _installed = True


class _ProjectedCopy(types.SimpleNamespace):
    """Stands in for the ``copy`` module inside moto's table module: while a projected table
    query runs (``skip``; serialised by item 1's lock), its copy of the results is a plain
    list, since its filter only reads them and ``Item.project`` builds new items from them."""

    skip = False
    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if _ProjectedCopy.skip and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


def _idempotent_transactions() -> None:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                message="The request uses the same client token as a previous, but non-identical request.",
            )

    original = DynamoHandler.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        request = json.dumps(
            {k: v for k, v in self.body.items() if k != "ClientRequestToken"}, sort_keys=True, default=repr
        )
        with _lock:
            now = _token_clock()
            while _tokens and now - next(iter(_tokens.values()))[1] >= TOKEN_SECONDS:
                del _tokens[next(iter(_tokens))]
            seen = _tokens.get(token)
            if seen is not None and now - seen[1] < TOKEN_SECONDS:
                if seen[0] != request:
                    raise IdempotentParameterMismatch()
                return seen[2]  # applied already: the first attempt's answer, nothing applied
            result = original(self)
            _tokens.pop(token, None)  # a new window: the token goes last, with the newest
            _tokens[token] = (request, now, result)
            return result

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _partition_queries() -> None:
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)
    table_module.copy = _ProjectedCopy()  # type: ignore[assignment,attr-defined]

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        hash_key = bound.get("hash_key")
        if bound.get("index_name") or hash_key is None or not self.range_key_attr:
            return original_query(self, *args, **kwargs)
        # Serialised with every other backend call (item 1), so the table is ours here.
        self._binvault_partition = self.items.get(hash_key) or {}
        _ProjectedCopy.skip = bool(bound.get("projection_expressions"))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            del self._binvault_partition
            _ProjectedCopy.skip = False

    @functools.wraps(original_all_items)
    def all_items(self: Any) -> Any:
        partition = getattr(self, "_binvault_partition", None)
        if partition is not None:
            return list(partition.values())  # query sorts its candidates by range key itself
        return original_all_items(self)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _remembered_member_keys() -> None:
    from moto.core import serialize

    original = serialize.BaseJSONSerializer._serialize_type_structure
    picker = serialize.XFormedAttributePicker

    def members_of(shape: Any) -> list[tuple[str, Any, tuple[str, ...]]] | None:
        """A structure's members with the keys moto's picker tries for each, in its order, in
        a dict (what the six alias providers say of the member, its shape and this parent);
        None when a key is a dotted path, which moto's get_value would walk."""
        if "_binvault_dict_members" not in shape.__dict__:
            table = []
            for member_key, member_shape in shape.members.items():
                member_shape.parent = shape
                context = serialize.AttributePickerContext(obj={}, key=member_key, shape=member_shape)
                table.append((member_key, member_shape, tuple(picker().get_possible_keys(context))))
            dotted = any("." in key for _, _, keys in table for key in keys)
            shape.__dict__["_binvault_dict_members"] = None if dotted else table
        return shape.__dict__["_binvault_dict_members"]  # type: ignore[no-any-return]

    @functools.wraps(original)
    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        chosen = self._value_picker
        members = None
        if (
            type(self) is serialize.JSONSerializer
            and type(value) is dict
            and not shape.is_document_type
            and type(chosen) is picker
            and chosen.alias_providers is serialize.DEFAULT_ALIAS_PROVIDERS
            and not chosen.response_transformers
        ):
            members = members_of(shape)
        if members is None:
            original(self, serialized, value, shape, key)
            return
        # moto's loop (ResponseSerializer._serialize_type_structure), each member's value
        # picked as its picker does: the first of its keys present, None skipped
        wrapper = self.MAP_TYPE() if key else serialized
        for member_key, member_shape, keys in members:
            member_shape.parent = shape
            for candidate in keys:
                if candidate in value:
                    if value[candidate] is not None:
                        self._serialize(wrapper, value[candidate], member_shape, member_key)
                    break
        if key:
            self._default_serialize(serialized, wrapper, shape, key)

    serialize.BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]


def _kept(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= PARSED_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _remembered_expressions() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    updates: dict[tuple[type, str], Any] = {}

    @functools.wraps(make)
    def remembered_make(cls: type, expression_str: str) -> Any:
        parsed = updates.get((cls, expression_str))
        if parsed is None:
            parsed = _kept(updates, (cls, expression_str), make(cls, expression_str))
        return parsed

    UpdateExpressionParser.make = classmethod(remembered_make)  # type: ignore[method-assign,assignment]

    parse = ConditionExpressionParser.parse
    conditions: dict[str, tuple[Any, list[str], list[str]]] = {}

    @functools.wraps(parse)
    def remembered_parse(self: Any) -> Any:
        expression = self.condition_expression
        values = self.expression_attribute_values or {}
        used = sorted(set(_VALUE_PLACEHOLDER.findall(expression or "")))
        if not expression or any(name not in values for name in used):
            return parse(self)  # moto's answer, or its error
        key = json.dumps([expression, self.expression_attribute_names, [[n, values[n]] for n in used]], default=repr)
        kept = conditions.get(key)
        if kept is None:
            names_before, values_before = len(self.expr_attr_names_found), len(self.expr_attr_values_found)
            self.expression_attribute_values = {**values, **copy.deepcopy({n: values[n] for n in used})}
            try:
                op = parse(self)
            finally:
                self.expression_attribute_values = values
            found = self.expr_attr_names_found[names_before:], self.expr_attr_values_found[values_before:]
            return _kept(conditions, key, (op, *found))[0]
        op, names_found, values_found = kept
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return op

    ConditionExpressionParser.parse = remembered_parse  # type: ignore[method-assign]


def release_stream_records(table_name: str, up_to_sequence: int) -> int:
    """Forget the in-process stream records of ``table_name`` up to a sequence number
    (inclusive) that its consumer has read; returns how many were dropped."""
    from moto.dynamodb.models import dynamodb_backends

    dropped = 0
    with _lock:
        for regions in list(dynamodb_backends.values()):
            for backend in list(regions.values()):
                table = backend.tables.get(table_name)
                shard = getattr(table, "stream_shard", None)
                if shard is None:
                    continue
                count = min(len(shard.items), up_to_sequence + 1 - shard.starting_sequence_number)
                if count > 0:
                    del shard.items[:count]
                    shard.starting_sequence_number += count
                    dropped += count
    return dropped


def reset_dynamodb() -> None:
    """Empty every in-process DynamoDB table and stream (moto's state is per process)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    with _lock:
        _tokens.clear()
        for backends in (dynamodb_backends, dynamodbstreams_backends):
            account: Any
            for account in list(backends.values()):
                account.reset()
