"""Accounts, master-key hashes and the request quota.

The quota decrement is also the key check: it is conditional on the account's *current*
key hash, so a rotated key is refused by the very write that would charge it, and a
warm container may cache "hash -> account id" without delaying revocation.

Every write here is exactly-once when DynamoDB applies it but loses the response and
botocore sends it again:

- the decrement records its own token in the account's ``charges`` map in the same write,
  and is conditional on that token being absent: the retry of an applied charge fails its
  condition, and the old image shows our token (charged once, allowed). The map stays
  small: each container removes its finished tokens with its next charge, and any charge
  removes tokens whose retry window has long closed (``CHARGE_TOKEN_SECONDS``);
- creating an account and rotating a key are transactions with a ClientRequestToken; a
  retry that fails its condition against our own first attempt sees our new key hash;
- setting the quota stamps ``adminToken``, like the decrement's token.

Quota leases (``QUOTA_LEASE_SIZE`` > 1, see ``logic/quota.py``) take several requests in
one conditional write: ``requestsRemaining -= n`` with the lease recorded in the account's
``leases`` map (id -> size, expiry), exactly once by the same token rule. The same write
settles the container's previous lease (its unused part goes back) and refunds in full the
leases of containers that died holding one (expired for ``LEASE_SWEEP_SECONDS``); each
settled or swept entry is removed in that write and is conditional on still being there,
so a lease is refunded at most once.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, NamedTuple

from binvault.dal import keys
from binvault.dal.client import call_or_unavailable, cancellation_codes, dynamodb, error_code, get_item, table
from binvault.exceptions import BinvaultError, InvalidAccessKey, InvalidMasterKey, QuotaExhausted, ServiceUnavailable
from binvault.models.bins import PERMISSIONS, Account, Charging, Grant
from binvault.models.settings import get_settings

# A charge's token must outlive every retry of its call (the API answers within 29 s).
CHARGE_TOKEN_SECONDS = 300
# Removed per charge at most: keeps the update expression (and its cost) small.
MAX_TOKENS_REMOVED = 16
# The maps an account item carries (older accounts get them on first use).
MAPS = frozenset({"charges", "leases", "accessKeys"})
# A lease this long past its expiry belongs to a container that will never settle it.
LEASE_SWEEP_SECONDS = 60
MAX_LEASES_SWEPT = 8
LEASE_WRITE_ATTEMPTS = 5

_clock = time.time  # lease times; tests move it, never the wall clock
_finished: list[str] = []  # this container's charge tokens whose calls have returned
_expired: set[str] = set()  # other containers' tokens seen past CHARGE_TOKEN_SECONDS
_tokens_lock = threading.Lock()


class AccountNotFound(LookupError):
    pass


def _account_from_item(item: dict[str, Any]) -> Account:
    return Account(
        id=item["pk"]["S"].removeprefix(keys.ACCOUNT_PREFIX),
        key_hash=item["keyHash"]["S"],
        requests_remaining=int(item["requestsRemaining"]["N"]),
        created_at=item["createdAt"]["S"],
    )


def grant_for_key(key_hash: str, consistent: bool) -> Grant | None:
    """What a key's hash stands for (a master key, or an access key with its permissions).

    Eventually consistent reads may miss a key created a moment ago once; revocation never
    depends on them: the quota write's condition, or a consistent read, decides.
    """
    item = get_item(keys.master_key_key(key_hash), consistent=consistent)
    if not item:
        return None
    account_id = item["accountId"]["S"]
    if "accessKeyId" not in item:
        return Grant(account_id)
    allowed = frozenset(p for p in PERMISSIONS if item.get("permissions", {}).get("M", {}).get(p, {}).get("BOOL"))
    return Grant(account_id, item["accessKeyId"]["S"], allowed)


def get_account(account_id: str) -> Account:
    item = get_item(keys.account_key(account_id))
    if not item:
        raise AccountNotFound(account_id)
    return _account_from_item(item)


def _tokens_to_remove() -> list[str]:
    with _tokens_lock:
        chosen = (_finished + sorted(_expired))[:MAX_TOKENS_REMOVED]
        del _finished[: min(len(_finished), MAX_TOKENS_REMOVED)]
        _expired.difference_update(chosen)
    return chosen


def _note_charges(item: dict[str, Any] | None, now: int) -> None:
    """Remember other containers' tokens that are past their retry window."""
    charges = (item or {}).get("charges", {}).get("M", {})
    stale = {token for token, until in charges.items() if int(until.get("N", "0")) < now}
    if stale:
        with _tokens_lock:
            _expired.update(stale)


def _key_condition(charging: Charging, names: dict[str, str], values: dict[str, Any]) -> str:
    """The part of a quota write's condition that proves the key is still valid."""
    if charging.master_hash is not None:
        values[":hash"] = {"S": charging.master_hash}
        return " AND keyHash = :hash"
    if charging.access_key_id is not None:
        names["#kid"] = charging.access_key_id
        return " AND attribute_exists(accessKeys.#kid)"
    return ""


def _key_revoked(charging: Charging, item: dict[str, Any]) -> BinvaultError | None:
    """The 401 to answer when ``item`` (an account's old image) no longer accepts the key."""
    if not item:
        return InvalidAccessKey() if charging.access_key_id is not None else InvalidMasterKey()
    if charging.master_hash is not None and item.get("keyHash", {}).get("S") != charging.master_hash:
        return InvalidMasterKey()
    if charging.access_key_id is not None and charging.access_key_id not in item.get("accessKeys", {}).get("M", {}):
        return InvalidAccessKey()
    return None


def _quota_write(
    account_id: str,
    charging: Charging,
    update: str,
    map_name: str,
    removed: int,
    condition: str,
    names: dict[str, str],
    values: dict[str, Any],
) -> dict[str, Any]:
    """One conditional write of the account's quota counter: ``update`` plus the removal
    of ``removed`` entries ``#old0``... of ``map_name``, with the key's check joining the
    condition. Returns the new image; a failed condition raises with the old one."""
    condition += _key_condition(charging, names, values)
    if removed:
        update += " REMOVE " + ", ".join(f"{map_name}.#old{i}" for i in range(removed))
    response = call_or_unavailable(
        dynamodb().update_item,
        TableName=table(),
        Key=keys.account_key(account_id),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    new_image: dict[str, Any] = response.get("Attributes") or {}
    return new_image


def consume_request(account_id: str, charging: Charging) -> None:
    """Atomically take one request from the quota, exactly once.

    ``charging`` names the key that must still be valid (none: a public bin's owner).
    Raises InvalidMasterKey / InvalidAccessKey when the key is no longer the account's,
    QuotaExhausted when nothing is left; a refused request consumes nothing.
    """
    from botocore.exceptions import ClientError

    token = uuid.uuid4().hex[:16]
    now = int(time.time())
    removed = _tokens_to_remove()
    condition = "attribute_exists(pk) AND requestsRemaining >= :one AND attribute_not_exists(charges.#token)"
    values: dict[str, Any] = {":one": {"N": "1"}, ":until": {"N": str(now + CHARGE_TOKEN_SECONDS)}}
    names = {"#token": token, **{f"#old{i}": old for i, old in enumerate(removed)}}
    update = "SET requestsRemaining = requestsRemaining - :one, charges.#token = :until"
    try:
        new_image = _quota_write(account_id, charging, update, "charges", len(removed), condition, names, values)
        _note_charges(new_image, now)
    except ClientError as error:
        if error_code(error) == "ValidationException":
            # The path charges.<token> needs the map: missing on an account created before
            # charges were tracked (add it once), or on a missing account.
            old = _account_item(account_id)
            if old and not set(old) >= MAPS:
                add_maps(account_id)
                return consume_request(account_id, charging)
            if not old:
                raise InvalidMasterKey() from error
            raise
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        item = error.response.get("Item")
        if item is None:  # not every emulator returns ALL_OLD: look it up on this rare path
            item = _account_item(account_id)
        if token in item.get("charges", {}).get("M", {}):
            return  # our own first attempt was applied and its response lost: charged once
        revoked = _key_revoked(charging, item)
        if revoked is not None:
            raise revoked from error
        raise QuotaExhausted(get_settings().purchase_url) from error
    finally:
        with _tokens_lock:
            _finished.append(token)


def _account_item(account_id: str) -> dict[str, Any]:
    return get_item(keys.account_key(account_id)) or {}


def add_maps(account_id: str) -> None:
    """Give an account created before charges and leases were tracked their maps."""
    call_or_unavailable(
        dynamodb().update_item,
        TableName=table(),
        Key=keys.account_key(account_id),
        UpdateExpression="SET " + ", ".join(f"{name} = if_not_exists({name}, :empty)" for name in sorted(MAPS)),
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":empty": {"M": {}}},
    )


class Lease(NamedTuple):
    """Requests taken from an account's quota at once, to spend until ``until`` (epoch s)."""

    id: str
    size: int
    until: int


_dead_leases: dict[str, dict[str, int]] = {}  # account -> {lease id: size} seen long expired


def _note_dead_leases(account_id: str, item: dict[str, Any] | None, now: int) -> None:
    leases = (item or {}).get("leases", {}).get("M", {})
    dead = {
        lease_id: int(entry["M"]["n"]["N"])
        for lease_id, entry in leases.items()
        if int(entry["M"]["until"]["N"]) + LEASE_SWEEP_SECONDS < now
    }
    with _tokens_lock:
        if dead:
            _dead_leases[account_id] = dead
        else:
            _dead_leases.pop(account_id, None)


def take_lease(
    account_id: str, charging: Charging, size: int, seconds: int, settle: tuple[Lease, int] | None = None
) -> Lease:
    """Take up to ``size`` requests from the quota (fewer when fewer are left), settling
    ``settle`` = (this container's previous lease, its unused requests) in the same write.

    Raises InvalidMasterKey / InvalidAccessKey when the key is no longer the account's,
    QuotaExhausted when nothing is left (nothing is taken).
    """
    from botocore.exceptions import ClientError

    refunds = {settle[0].id: settle[1]} if settle else {}
    with _tokens_lock:
        swept = dict(list(_dead_leases.get(account_id, {}).items())[:MAX_LEASES_SWEPT])
    for _ in range(LEASE_WRITE_ATTEMPTS):
        now = int(_clock())
        lease = Lease(uuid.uuid4().hex[:16], size, now + seconds)
        returned = sum(refunds.values()) + sum(n for lease_id, n in swept.items() if lease_id not in refunds)
        gone = sorted(set(refunds) | set(swept))
        names = {"#new": lease.id, **{f"#old{i}": lease_id for i, lease_id in enumerate(gone)}}
        values: dict[str, Any] = {
            ":delta": {"N": str(returned - size)},
            ":need": {"N": str(size - returned)},
            ":lease": {"M": {"n": {"N": str(size)}, "until": {"N": str(lease.until)}}},
        }
        condition = "attribute_exists(pk) AND requestsRemaining >= :need AND attribute_not_exists(leases.#new)"
        condition += "".join(f" AND attribute_exists(leases.#old{i})" for i in range(len(gone)))
        update = "SET requestsRemaining = requestsRemaining + :delta, leases.#new = :lease"
        try:
            new_image = _quota_write(account_id, charging, update, "leases", len(gone), condition, names, values)
        except ClientError as error:
            if error_code(error) == "ValidationException":
                old = _account_item(account_id)
                if not old:
                    raise InvalidMasterKey() from error
                if set(old) >= MAPS:
                    raise
                add_maps(account_id)
                continue
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item = error.response.get("Item") or _account_item(account_id)
            held = item.get("leases", {}).get("M", {})
            if lease.id in held:
                _note_dead_leases(account_id, item, now)
                return lease  # our own first attempt, whose response was lost
            revoked = _key_revoked(charging, item)
            if revoked is not None:
                raise revoked from error
            if any(lease_id not in held for lease_id in gone):
                # settled or swept by someone else meanwhile: refund those no more
                refunds = {k: v for k, v in refunds.items() if k in held}
                swept = {k: v for k, v in swept.items() if k in held}
                continue
            available = int(item["requestsRemaining"]["N"]) + returned
            if available < 1:
                raise QuotaExhausted(get_settings().purchase_url) from error
            size = min(size, available)
            continue
        _note_dead_leases(account_id, new_image, now)
        return lease
    raise ServiceUnavailable()


def _transact_once(items: list[dict[str, Any]], applied: Any) -> None:
    """A transaction that a botocore retry cannot apply twice, nor report as failed when it
    was applied: ``applied(old image of the first item)`` recognises our own first attempt."""
    from botocore.exceptions import ClientError

    items[0] = {kind: {**op, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"} for kind, op in items[0].items()}
    try:
        call_or_unavailable(dynamodb().transact_write_items, TransactItems=items, ClientRequestToken=str(uuid.uuid4()))
    except ClientError as error:
        reasons = error.response.get("CancellationReasons") or []
        if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"] and applied(reasons[0].get("Item") or {}):
            return
        raise


def create_account(account_id: str, key_hash: str, requests: int, now: str) -> None:
    _transact_once(
        [
            {
                "Put": {
                    "TableName": table(),
                    "Item": {
                        **keys.account_key(account_id),
                        "type": {"S": "account"},
                        "keyHash": {"S": key_hash},
                        "requestsRemaining": {"N": str(requests)},
                        "createdAt": {"S": now},
                        **{name: {"M": {}} for name in sorted(MAPS)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            _put_key(account_id, key_hash, now),
        ],
        applied=lambda old: old.get("keyHash", {}).get("S") == key_hash,
    )


def _put_key(account_id: str, key_hash: str, now: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table(),
            "Item": {
                **keys.master_key_key(key_hash),
                "type": {"S": "key"},
                "accountId": {"S": account_id},
                "createdAt": {"S": now},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def replace_key(account: Account, new_hash: str, now: str) -> None:
    """Swap the account's key in one transaction: the old key stops working at once."""
    name = table()
    _transact_once(
        [
            {
                "Update": {
                    "TableName": name,
                    "Key": keys.account_key(account.id),
                    "UpdateExpression": "SET keyHash = :new",
                    "ConditionExpression": "keyHash = :old",
                    "ExpressionAttributeValues": {
                        ":new": {"S": new_hash},
                        ":old": {"S": account.key_hash},
                    },
                }
            },
            {"Delete": {"TableName": name, "Key": keys.master_key_key(account.key_hash)}},
            _put_key(account.id, new_hash, now),
        ],
        applied=lambda old: old.get("keyHash", {}).get("S") == new_hash,
    )


def set_quota(account_id: str, requests: int) -> None:
    """Set the requests left; a retry after a lost response does not set it a second time
    (which would undo the charges made in between)."""
    from botocore.exceptions import ClientError

    token = uuid.uuid4().hex
    try:
        call_or_unavailable(
            dynamodb().update_item,
            TableName=table(),
            Key=keys.account_key(account_id),
            UpdateExpression="SET requestsRemaining = :n, adminToken = :token",
            ConditionExpression="attribute_exists(pk) AND NOT adminToken = :token",
            ExpressionAttributeValues={":n": {"N": str(requests)}, ":token": {"S": token}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        item = error.response.get("Item") or {}
        if error_code(error) == "ConditionalCheckFailedException" and item.get("adminToken", {}).get("S") == token:
            return
        if error_code(error) == "ConditionalCheckFailedException" and not item:
            raise AccountNotFound(account_id) from error
        raise
