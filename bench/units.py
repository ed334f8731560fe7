"""DynamoDB capacity arithmetic, and a meter that counts a client's calls and their units.

Sizes follow DynamoDB's documented rules (attribute names count, strings are UTF-8 bytes,
binary is raw bytes, numbers about one byte per two significant digits plus one, maps and
lists three bytes plus one per element). Units (on-demand request units):

- write: 1 WRU per started KB of the larger of the item before and after; 2x in a transaction;
  a delete is charged the size of the item it deletes;
- read: 1 RCU per started 4 KB for a strongly consistent read, half for an eventually
  consistent one; a GetItem that finds nothing still costs the minimum; a Query is charged
  the summed size of the items it reads (a projection does not reduce it), per page.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

KB = 1024
READ_UNIT_BYTES = 4 * KB


def value_size(value: dict[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":
        return len(inner)
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(*sizes: int, transactional: bool = False) -> int:
    """WRU of one item write: the larger of its sizes, per started KB (at least 1)."""
    units = max(1, math.ceil(max(sizes, default=0) / KB))
    return units * 2 if transactional else units


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def describe_key(key: dict[str, Any]) -> str:
    """Which item a key names (see dal/keys.py): account, key, base, version, or another table's."""
    if "pk" not in key or "sk" not in key:
        return "idempotency" if "id" in key else "other"
    pk, sk = key["pk"]["S"], key["sk"]["S"]
    if pk.startswith("BIN#"):
        return "base" if sk == "BIN" else "record" if sk.startswith("R#") else "version"
    return pk.split("#", 1)[0].lower()


def target(params: dict[str, Any]) -> str:
    if "Key" in params or "Item" in params:
        return describe_key(params.get("Key") or params["Item"])
    if "TransactItems" in params:
        ops = [next(iter(entry.values())) for entry in params["TransactItems"]]
        return "+".join(describe_key(op.get("Key") or op["Item"]) for op in ops)
    if "RequestItems" in params:
        return f"{sum(len(r) for r in params['RequestItems'].values())} deletes"
    if "KeyConditionExpression" in params:
        return "versions"
    return ""


@dataclass
class Call:
    operation: str
    thread: str
    started: float
    ended: float = 0.0
    target: str = ""
    rcu: float = 0.0
    wru: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


class Meter:
    """Hooks a boto3 DynamoDB client: every call, its thread, its timing and its units.

    ``reader`` is a second client on the same endpoint, without hooks: the meter uses it
    to read the items a write touches before and after it, which the write's own response
    does not return. Meant for moto in-process, where those extra reads cost nothing real.
    """

    def __init__(self, client: Any, reader: Any) -> None:
        self.client = client
        self.reader = reader
        self.calls: list[Call] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._schemas: dict[str, list[str]] = {}
        self.enabled = False
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._before_build)
        events.register("before-call.dynamodb", self._before_call)
        events.register("after-call.dynamodb", self._after_call)

    def close(self) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.dynamodb", self._before_build)
        events.unregister("before-call.dynamodb", self._before_call)
        events.unregister("after-call.dynamodb", self._after_call)

    def start(self) -> None:
        with self._lock:
            self.calls = []
        self.enabled = True

    def stop(self) -> list[Call]:
        self.enabled = False
        with self._lock:
            return list(self.calls)

    # ---- hooks ----------------------------------------------------------------------

    def _before_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        self._local.pending = (model.name, dict(params), self._state_before(model.name, params))

    def _before_call(self, model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        _, params, before = getattr(self._local, "pending", (model.name, {}, {}))
        call = Call(model.name, threading.current_thread().name, time.perf_counter(), target=target(params))
        call.detail = {"params": params, "before": before}
        self._local.call = call

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        call: Call | None = getattr(self._local, "call", None)
        if not self.enabled or call is None or call.operation != model.name:
            return
        call.ended = time.perf_counter()
        self._local.call = None
        try:
            self._charge(call, parsed)
        finally:
            call.detail = {}
            with self._lock:
                self.calls.append(call)

    # ---- state and units ------------------------------------------------------------

    def _key_names(self, table: str) -> list[str]:
        if table not in self._schemas:
            schema = self.reader.describe_table(TableName=table)["Table"]["KeySchema"]
            self._schemas[table] = [k["AttributeName"] for k in schema]
        return self._schemas[table]

    def _get(self, table: str, attributes: dict[str, Any]) -> dict[str, Any] | None:
        key = {name: attributes[name] for name in self._key_names(table)}
        response = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _state_before(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation in ("UpdateItem", "DeleteItem"):
            return {"item": self._get(params["TableName"], params["Key"])}
        if operation == "PutItem":
            return {"item": self._get(params["TableName"], params["Item"])}
        if operation == "TransactWriteItems":
            sizes = []
            for entry in params["TransactItems"]:
                op = next(iter(entry.values()))
                sizes.append(item_size(self._get(op["TableName"], op.get("Key") or op["Item"])))
            return {"sizes": sizes}
        if operation == "BatchWriteItem":
            sizes = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "DeleteRequest" in request:
                        sizes.append(item_size(self._get(table, request["DeleteRequest"]["Key"])))
            return {"sizes": sizes}
        if operation == "Query":
            # The same query without its projection: what DynamoDB reads (and charges).
            full = {k: v for k, v in params.items() if k != "ProjectionExpression"}
            if "#" not in params.get("KeyConditionExpression", "") + params.get("FilterExpression", ""):
                full.pop("ExpressionAttributeNames", None)
            sizes: dict[tuple[str, str], int] = {}
            while True:
                page = self.reader.query(**full)
                for item in page.get("Items", []):
                    sizes[(item["pk"]["S"], item["sk"]["S"])] = item_size(item)
                if "LastEvaluatedKey" not in page:
                    break
                full["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            return {"sizes": sizes}
        return {}

    def _charge(self, call: Call, parsed: dict[str, Any]) -> None:
        params, before = call.detail["params"], call.detail["before"]
        operation = call.operation
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            call.rcu = read_units(item_size(parsed.get("Item")), consistent)
        elif operation == "Query":
            items = parsed.get("Items", [])
            if all("pk" in i and "sk" in i for i in items):
                read = [before["sizes"].get((i["pk"]["S"], i["sk"]["S"]), item_size(i)) for i in items]
            else:  # a projection without the keys: the same query's first items, in its order
                read = list(before["sizes"].values())[: len(items)]
            call.rcu = read_units(sum(read), consistent)
        elif operation in ("UpdateItem", "PutItem"):
            table = params["TableName"]
            after = self._get(table, params.get("Key") or params["Item"])
            call.wru = write_units(item_size(before["item"]), item_size(after))
        elif operation == "DeleteItem":
            call.wru = write_units(item_size(before["item"]))
        elif operation == "TransactWriteItems":
            total = 0
            for entry, size_before in zip(params["TransactItems"], before["sizes"], strict=True):
                op = next(iter(entry.values()))
                after = self._get(op["TableName"], op.get("Key") or op["Item"])
                total += write_units(size_before, item_size(after), transactional=True)
            call.wru = total
        elif operation == "BatchWriteItem":
            unprocessed = sum(len(v) for v in (parsed.get("UnprocessedItems") or {}).values())
            done = before["sizes"][: len(before["sizes"]) - unprocessed]
            call.wru = sum(write_units(size) for size in done)
