"""What an account has left of its quota, read from the table as a test sees it: the sum of
its quota shards (and of the account item's own counter, for an account from before shards)."""

from __future__ import annotations

from typing import Any

TABLE = "binvault-test"


def shard_items(ddb: Any, account_id: str, table: str = TABLE) -> list[dict[str, Any]]:
    response = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"ACCOUNT#{account_id}"}, ":prefix": {"S": "QUOTA#"}},
        ConsistentRead=True,
    )
    return list(response["Items"])


def requests_left(ddb: Any, account_id: str, table: str = TABLE) -> int:
    account = ddb.get_item(TableName=table, Key={"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": "ACCOUNT"}})
    own = int(account.get("Item", {}).get("requestsRemaining", {}).get("N", "0"))
    return own + sum(int(item["requestsRemaining"]["N"]) for item in shard_items(ddb, account_id, table))


def is_quota_shard(item: dict[str, Any]) -> bool:
    return str(item["sk"]["S"]).startswith("QUOTA#")


def apart_from_quota(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` less the account items and their quota shards: what a request must leave
    unchanged when all it may do is take its charge."""
    return [i for i in items if i["sk"]["S"] != "ACCOUNT" and not is_quota_shard(i)]


def concurrent_statuses(api: Any, requests: int) -> list[int]:
    """The sorted statuses of ``requests`` reads of a missing bin sent at once through ``api``
    (separate containers, as threads): 404 for each served (authenticated and charged), 403
    for each the quota refused."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(requests, timeout=30)

    def request(_: int) -> int:
        barrier.wait()
        return int(api("GET", "/b/" + "0" * 24).status)

    with ThreadPoolExecutor(requests) as pool:
        return sorted(pool.map(request, range(requests)))
