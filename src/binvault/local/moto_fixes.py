"""Two fixes to moto's DynamoDB emulator, for the local stack and the unit tests only.

1. Atomicity under concurrency. DynamoDB applies each request atomically; moto checks a
   condition and then writes in plain Python, so two threads (the local server is
   threaded) could both pass the same condition. Every backend operation is serialised
   with one lock, which makes the emulator linearizable like the real service.

2. Transaction cost. moto implements TransactWriteItems' all-or-nothing by deep-copying every table a
transaction touches, before each transaction. That costs O(table size) per write (the
copy includes the table's whole stream history), so a bin with 1000 versions made the
local stack quadratic and used gigabytes. This replaces the whole-table copy with an
undo log of just the items the transaction names (and the stream length), which gives
the same all-or-nothing result: on cancellation every named item and the stream are put
back exactly as they were. Nothing of this runs in AWS.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from collections.abc import Callable
from typing import Any

_installed = False
_lock = threading.RLock()


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
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    for backend in (models.DynamoDBBackend, DynamoDBStreamsBackend):
        for name, member in list(vars(backend).items()):
            if callable(member) and not name.startswith("_"):
                setattr(backend, name, _serialised(member))
    _installed = True
