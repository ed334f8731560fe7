"""Accounts, master-key hashes and the request quota, split over counter shards.

An account's remaining requests live in ``shards`` quota items (``QUOTA_SHARDS``, default
32; keys ``QUOTA#00``...), each holding a part of the quota and a copy of what the key check
needs (the master key's hash, the access key ids). The account item holds no counter, so
it stays the same size whatever the traffic (docs/quota.md).

A charge is one conditional decrement of one shard picked at random, and it is also the key
check: it is conditional on the shard's copy of the *current* key hash (or access key id),
which a rotation or revocation changes in every shard in the same transaction as the
account item, so a rotated key is refused by the very write that would charge it, and a
warm container may cache "hash -> account id" without delaying revocation.

Exactly once: the decrement is a one-item TransactWriteItems with a ClientRequestToken,
which botocore sends again unchanged on its retries and which DynamoDB answers, within ten
minutes, with the first attempt's success without applying it again. Nothing is recorded
in any item for it, and the call returns nothing (a failed condition returns the shard's
old image, which says whether the key or the quota refused).

When the picked shard is empty (or missing: an account with fewer shards than the
setting), one consistent Query reads every shard and the charge takes from one that has
requests left, picked at random weighted by what each has (so that containers meeting dry
shards at once do not all pick the same one), moving half of what is left there into the
empty one in the same transaction, so quota moves between shards only when one runs dry.
Only when every shard is empty is the request refused (QuotaExhausted): the refusal's
failed write and Query change nothing. The sum of the shards never goes below zero and
never exceeds the quota: exact at lease size 1.

An account from before shards keeps its counter (and ``charges``/``leases`` maps) on the
account item until its first charge or set-quota spreads it over shards, once.

Quota leases (``QUOTA_LEASE_SIZE`` > 1, see ``logic/quota.py``) take several requests in
one conditional write of one shard: ``requestsRemaining -= n`` with the lease recorded in
that shard's ``leases`` map (id -> size, expiry), exactly once because the write is
conditional on the lease id being absent and a retry's failure shows it present. The same
write settles the container's previous lease on that shard (its unused part goes back) and
refunds in full the leases of containers that died holding one (expired for
``LEASE_SWEEP_SECONDS``); each settled or swept entry is removed in that write and is
conditional on still being there, so a lease is refunded at most once. A shard with less
than the lease's size is topped up from the fullest ones in the same (then transactional)
write.

Creating an account, rotating a key and setting the quota are transactions with a
ClientRequestToken (and a retry that fails its condition against our own first attempt
sees our new key hash).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any, NamedTuple

from binvault.dal import keys
from binvault.dal.client import call_or_unavailable, cancellation_codes, dynamodb, error_code, get_item, table
from binvault.exceptions import BinvaultError, InvalidAccessKey, InvalidMasterKey, QuotaExhausted, ServiceUnavailable
from binvault.models.bins import PERMISSIONS, Account, Charging, Grant
from binvault.models.settings import get_settings

# The maps an account item carries (older accounts get them on first use).
MAPS = frozenset({"accessKeys"})
# What a charge reads of the shards when its own is empty: never the leases (they may be many).
SHARD_PROJECTION = "sk, requestsRemaining, keyHash, accessKeys"
# A charge's tries at another shard (its own was in another transaction, or emptied under it).
CHARGE_ATTEMPTS = 5
# Reads of the shards when the charge's own is dry, each after another charge emptied or
# drained the shard this one picked (that charge progressed); at the quota's last requests,
# with many containers at once, a charge may lose several such races before it wins or
# finds every shard empty.
CONTENDED_ATTEMPTS = 32
# A transaction that met another one on the same shard: nothing was applied, try another.
CONFLICTS = frozenset({"TransactionConflict"})
# The bookkeeping an account from before shards carries, dropped when its quota is spread.
LEGACY_ATTRIBUTES = ("requestsRemaining", "charges", "leases", "adminToken")
# A lease this long past its expiry belongs to a container that will never settle it.
LEASE_SWEEP_SECONDS = 60
MAX_LEASES_SWEPT = 8
LEASE_WRITE_ATTEMPTS = 5

_clock = time.time  # lease times; tests move it, never the wall clock
_lock = threading.Lock()


class AccountNotFound(LookupError):
    pass


def _remaining(item: dict[str, Any]) -> int:
    return int(item.get("requestsRemaining", {}).get("N", "0"))


def _shard_count(item: dict[str, Any]) -> int:
    return int(item.get("shards", {}).get("N", "0"))


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
    """The account, with its requests left summed over its shards (one consistent Query)."""
    item = _account_item(account_id)
    if not item:
        raise AccountNotFound(account_id)
    left = _remaining(item) + sum(_remaining(shard) for shard in shard_items(account_id).values())
    return Account(
        id=account_id,
        key_hash=item["keyHash"]["S"],
        requests_remaining=left,
        created_at=item["createdAt"]["S"],
        shards=_shard_count(item),
    )


def _account_item(account_id: str) -> dict[str, Any]:
    return get_item(keys.account_key(account_id)) or {}


def shard_items(account_id: str, projection: str = SHARD_PROJECTION) -> dict[int, dict[str, Any]]:
    """The account's quota shards by index (at most 64 small items: one page)."""
    response = call_or_unavailable(
        dynamodb().query,
        TableName=table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": keys.ACCOUNT_PREFIX + account_id},
            ":prefix": {"S": keys.QUOTA_SHARD_PREFIX},
        },
        ConsistentRead=True,
        ProjectionExpression=projection,
    )
    return {keys.quota_shard_index(item["sk"]["S"]): item for item in response.get("Items", [])}


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
    """The 401 to answer when ``item`` (a shard's or the account's image) no longer accepts the key."""
    if not item:
        return InvalidAccessKey() if charging.access_key_id is not None else InvalidMasterKey()
    if charging.master_hash is not None and item.get("keyHash", {}).get("S") != charging.master_hash:
        return InvalidMasterKey()
    if charging.access_key_id is not None and charging.access_key_id not in item.get("accessKeys", {}).get("M", {}):
        return InvalidAccessKey()
    return None


def _transact(items: list[dict[str, Any]]) -> None:
    """A transaction botocore's retries cannot apply twice: its ClientRequestToken makes
    DynamoDB answer a retry within ten minutes with the first attempt's success."""
    dynamodb().transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))


def _failed_images(error: Exception) -> list[dict[str, Any]]:
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    return [reason.get("Item") or {} for reason in reasons]


def _take(account_id: str, index: int, requests: int, charging: Charging) -> dict[str, Any]:
    """The transaction item taking ``requests`` from shard ``index`` while the key is valid."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":n": {"N": str(requests)}}
    update: dict[str, Any] = {
        "TableName": table(),
        "Key": keys.quota_shard_key(account_id, index),
        "UpdateExpression": "SET requestsRemaining = requestsRemaining - :n",
        "ConditionExpression": "requestsRemaining >= :n" + _key_condition(charging, names, values),
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


def _give(account_id: str, index: int, requests: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table(),
            "Key": keys.quota_shard_key(account_id, index),
            "UpdateExpression": "SET requestsRemaining = requestsRemaining + :n",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":n": {"N": str(requests)}},
        }
    }


def consume_request(account_id: str, charging: Charging) -> None:
    """Atomically take one request from the quota, exactly once.

    ``charging`` names the key that must still be valid (none: a public bin's owner).
    Raises InvalidMasterKey / InvalidAccessKey when the key is no longer the account's,
    QuotaExhausted when every shard is empty; a refused request consumes nothing.
    One call when the picked shard has requests left (the common case).
    """
    from botocore.exceptions import ClientError

    count = get_settings().quota_shards
    index = random.randrange(count)
    for _ in range(CHARGE_ATTEMPTS):
        try:
            call_or_conflict(_transact, [_take(account_id, index, 1, charging)])
            return
        except _Conflict:
            index = random.randrange(count)  # nothing applied: another shard is as good
            continue
        except ClientError as error:
            if cancellation_codes(error) != ["ConditionalCheckFailed"]:
                raise
            old = _failed_images(error)[0]
        if old:
            revoked = _key_revoked(charging, old)
            if revoked is not None:
                raise revoked
        _charge_from_another(account_id, charging, index)
        return
    raise ServiceUnavailable()


class _Conflict(Exception):
    """The transaction met another on the same item and was cancelled: nothing applied."""


def call_or_conflict(operation: Any, items: list[dict[str, Any]]) -> None:
    from botocore.exceptions import ClientError

    try:
        call_or_unavailable(operation, items=items)
    except ServiceUnavailable as unavailable:
        cause = unavailable.__cause__
        reasons = set(cancellation_codes(cause)) - {"None"} if isinstance(cause, ClientError) else set()
        if reasons and reasons <= CONFLICTS:
            raise _Conflict() from cause
        raise


def _charge_from_another(account_id: str, charging: Charging, dry: int) -> None:
    """Charge a shard with requests left, moving half of what it has left into the empty ``dry`` one
    in the same transaction; QuotaExhausted when every shard is empty."""
    from botocore.exceptions import ClientError

    conflicts = 0
    for _ in range(CONTENDED_ATTEMPTS):
        shards = shard_items(account_id)
        if not shards:
            _spread_legacy(account_id, charging)
            continue
        revoked = _key_revoked(charging, next(iter(shards.values())))
        if revoked is not None:
            raise revoked
        stocked = [index for index in shards if _remaining(shards[index]) >= 1]
        if not stocked:
            raise QuotaExhausted(get_settings().purchase_url)
        # Weighted by what each shard has left, not always the fullest: the containers that
        # found their own shards dry at the same moment would all pick the same fullest one,
        # and all but one fail its condition; spread, most of them succeed at once.
        picked = random.choices(stocked, weights=[_remaining(shards[index]) for index in stocked])[0]
        left = _remaining(shards[picked])
        moved = (left - 1) // 2 if dry in shards and dry != picked else 0
        items = [_take(account_id, picked, 1 + moved, charging)]
        if moved:
            items.append(_give(account_id, dry, moved))
        try:
            call_or_conflict(_transact, items)
            return
        except _Conflict:
            conflicts += 1
            if conflicts == CHARGE_ATTEMPTS:
                break
        except ClientError as error:
            if "ConditionalCheckFailed" not in cancellation_codes(error):
                raise
            # another charge took from that shard first: it progressed, look again
    raise ServiceUnavailable()


def _spread_legacy(account_id: str, charging: Charging) -> None:
    """Spread the counter of an account from before shards over shards, once (its leases'
    unspent parts are unknowable: they come back in full, as a dead container's would)."""
    from botocore.exceptions import ClientError

    item = _account_item(account_id)
    revoked = _key_revoked(charging, item)
    if revoked is not None:
        raise revoked
    if "shards" in item:
        return  # spread meanwhile: the next Query finds its shards
    held = sum(int(entry["M"]["n"]["N"]) for entry in item.get("leases", {}).get("M", {}).values())
    try:
        call_or_unavailable(_transact, items=_spread(account_id, item, _remaining(item) + held, {}, legacy=True))
    except ClientError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise  # else charged or spread by another meanwhile: look again


def _shard_put(account_id: str, index: int, requests: int, key_hash: str, key_ids: list[str]) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table(),
            "Item": {
                **keys.quota_shard_key(account_id, index),
                "type": {"S": "quotaShard"},
                "requestsRemaining": {"N": str(requests)},
                "keyHash": {"S": key_hash},
                "accessKeys": {"M": {key_id: {"BOOL": True} for key_id in key_ids}},
                "leases": {"M": {}},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _shares(total: int, count: int) -> list[int]:
    return [total // count + (1 if index < total % count else 0) for index in range(count)]


def _spread(
    account_id: str, account: dict[str, Any], total: int, existing: dict[int, Any], legacy: bool = False
) -> list[dict[str, Any]]:
    """The transaction that sets the account's requests left to ``total`` over
    ``QUOTA_SHARDS`` shards (new ones copy the key state, extra ones go), conditional on the
    account's key state and shard count being what the copies were made from."""
    count = get_settings().quota_shards
    key_ids = sorted(account.get("accessKeys", {}).get("M", {}))
    names = {f"#k{i}": key_id for i, key_id in enumerate(key_ids)}
    values: dict[str, Any] = {
        ":hash": account["keyHash"],
        ":count": {"N": str(count)},
        ":keys": {"N": str(len(key_ids))},
        ":empty": {"M": {}},
    }
    condition = "keyHash = :hash AND " + (
        "size(accessKeys) = :keys" if key_ids else "(attribute_not_exists(accessKeys) OR size(accessKeys) = :keys)"
    )
    condition += "".join(f" AND attribute_exists(accessKeys.#k{i})" for i in range(len(key_ids)))
    if "shards" in account:
        values[":was"] = account["shards"]
        condition += " AND shards = :was"
    else:
        condition += " AND attribute_not_exists(shards)"
    if legacy:  # not lose a charge made meanwhile by a container of the previous release
        values[":left"] = account.get("requestsRemaining", {"N": "0"})
        condition += " AND requestsRemaining = :left"
    update: dict[str, Any] = {
        "TableName": table(),
        "Key": keys.account_key(account_id),
        "UpdateExpression": "SET shards = :count, accessKeys = if_not_exists(accessKeys, :empty) REMOVE "
        + ", ".join(LEGACY_ATTRIBUTES),
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    items: list[dict[str, Any]] = [{"Update": update}]
    for index, share in enumerate(_shares(total, count)):
        if index in existing:
            items.append(
                {
                    "Update": {
                        "TableName": table(),
                        "Key": keys.quota_shard_key(account_id, index),
                        "UpdateExpression": "SET requestsRemaining = :n",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":n": {"N": str(share)}},
                    }
                }
            )
        else:
            items.append(_shard_put(account_id, index, share, account["keyHash"]["S"], key_ids))
    items += [
        {"Delete": {"TableName": table(), "Key": keys.quota_shard_key(account_id, index)}}
        for index in sorted(existing)
        if index >= count
    ]
    return items


def mirror(account_id: str, shards: int, update: str, names: dict[str, str], values: dict[str, Any]) -> list[Any]:
    """The transaction items that apply ``update`` (a key state change) to every shard."""
    item: dict[str, Any] = {"UpdateExpression": update, "ConditionExpression": "attribute_exists(pk)"}
    if names:
        item["ExpressionAttributeNames"] = names
    if values:
        item["ExpressionAttributeValues"] = values
    return [
        {"Update": {"TableName": table(), "Key": keys.quota_shard_key(account_id, index), **item}}
        for index in range(shards)
    ]


def shards_condition(shards: int, values: dict[str, Any]) -> str:
    """The account item's condition that it has exactly the ``shards`` a mirror writes."""
    if not shards:
        return "attribute_not_exists(shards)"
    values[":shards"] = {"N": str(shards)}
    return "shards = :shards"


def add_maps(account_id: str) -> None:
    """Give an account created before access keys were tracked their map."""
    call_or_unavailable(
        dynamodb().update_item,
        TableName=table(),
        Key=keys.account_key(account_id),
        UpdateExpression="SET " + ", ".join(f"{name} = if_not_exists({name}, :empty)" for name in sorted(MAPS)),
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":empty": {"M": {}}},
    )


class Lease(NamedTuple):
    """Requests taken from one shard of an account's quota at once, to spend until ``until`` (epoch s)."""

    id: str
    size: int
    until: int
    shard: int = 0


_dead_leases: dict[tuple[str, int], dict[str, int]] = {}  # (account, shard) -> {lease id: size} long expired


def _note_dead_leases(account_id: str, index: int, item: dict[str, Any] | None, now: int) -> None:
    leases = (item or {}).get("leases", {}).get("M", {})
    dead = {
        lease_id: int(entry["M"]["n"]["N"])
        for lease_id, entry in leases.items()
        if int(entry["M"]["until"]["N"]) + LEASE_SWEEP_SECONDS < now
    }
    with _lock:
        if dead:
            _dead_leases[account_id, index] = dead
        else:
            _dead_leases.pop((account_id, index), None)


def _lease_write(
    account_id: str,
    index: int,
    charging: Charging,
    lease: Lease,
    gone: list[str],
    returned: int,
) -> dict[str, Any]:
    """One conditional write of shard ``index``: take ``lease.size``, give back ``returned``
    and remove the ``gone`` leases. Returns the new image; a failed condition raises with
    the old one."""
    names = {"#new": lease.id, **{f"#old{i}": lease_id for i, lease_id in enumerate(gone)}}
    values: dict[str, Any] = {
        ":delta": {"N": str(returned - lease.size)},
        ":need": {"N": str(lease.size - returned)},
        ":lease": {"M": {"n": {"N": str(lease.size)}, "until": {"N": str(lease.until)}}},
    }
    condition = "requestsRemaining >= :need AND attribute_not_exists(leases.#new)"
    update = "SET requestsRemaining = requestsRemaining + :delta, leases.#new = :lease"
    condition += "".join(f" AND attribute_exists(leases.#old{i})" for i in range(len(gone)))
    condition += _key_condition(charging, names, values)
    if gone:
        update += " REMOVE " + ", ".join(f"leases.#old{i}" for i in range(len(gone)))
    response = call_or_unavailable(
        dynamodb().update_item,
        TableName=table(),
        Key=keys.quota_shard_key(account_id, index),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    new_image: dict[str, Any] = response.get("Attributes") or {}
    return new_image


def _fullest(account_id: str, charging: Charging) -> tuple[int, int]:
    """The shard with the most requests left and how many (spreading a legacy counter first)."""
    for _ in range(2):
        shards = shard_items(account_id)
        if shards:
            revoked = _key_revoked(charging, next(iter(shards.values())))
            if revoked is not None:
                raise revoked
            fullest = max(shards, key=lambda index: _remaining(shards[index]))
            return fullest, _remaining(shards[fullest])
        _spread_legacy(account_id, charging)
    raise ServiceUnavailable()


def take_lease(
    account_id: str, charging: Charging, size: int, seconds: int, settle: tuple[Lease, int] | None = None
) -> Lease:
    """Take up to ``size`` requests from one shard of the quota (fewer when fewer are left),
    settling ``settle`` = (this container's previous lease, its unused requests) in the same
    write when it can (the previous lease's shard).

    Raises InvalidMasterKey / InvalidAccessKey when the key is no longer the account's,
    QuotaExhausted when every shard is empty (nothing is taken).
    """
    from botocore.exceptions import ClientError

    index = settle[0].shard if settle else random.randrange(get_settings().quota_shards)
    refunds = {settle[0].id: settle[1]} if settle else {}
    with _lock:
        swept = dict(list(_dead_leases.get((account_id, index), {}).items())[:MAX_LEASES_SWEPT])
    wanted = size
    for _ in range(LEASE_WRITE_ATTEMPTS):
        now = int(_clock())
        lease = Lease(uuid.uuid4().hex[:16], size, now + seconds, index)
        returned = sum(refunds.values()) + sum(n for lease_id, n in swept.items() if lease_id not in refunds)
        gone = sorted(set(refunds) | set(swept))
        try:
            new_image = _lease_write(account_id, index, charging, lease, gone, returned)
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item = error.response.get("Item") or {}
            held = item.get("leases", {}).get("M", {})
            if lease.id in held:
                _note_dead_leases(account_id, index, item, now)
                return lease  # our own first attempt, whose response was lost
            if item:
                revoked = _key_revoked(charging, item)
                if revoked is not None:
                    raise revoked from error
            if any(lease_id not in held for lease_id in gone):
                # settled or swept by someone else meanwhile (or the shard is gone): refund those no more
                refunds = {k: v for k, v in refunds.items() if k in held}
                swept = {k: v for k, v in swept.items() if k in held}
                continue
            available = _remaining(item) + returned
            if available >= 1:
                size = min(size, available)
                continue
            # this shard is empty: the lease comes from the fullest one (nothing left to settle here)
            index, left = _fullest(account_id, charging)
            if left < 1:
                raise QuotaExhausted(get_settings().purchase_url) from error
            refunds, swept, size = {}, {}, min(wanted, left)
            continue
        _note_dead_leases(account_id, index, new_image, now)
        return lease
    raise ServiceUnavailable()


def _transact_once(items: list[dict[str, Any]], applied: Any) -> None:
    """A transaction that a botocore retry cannot apply twice, nor report as failed when it
    was applied: its ClientRequestToken, and ``applied(old image of the first item)``
    recognises our own first attempt where the token is not honoured."""
    from botocore.exceptions import ClientError

    items[0] = {kind: {**op, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"} for kind, op in items[0].items()}
    try:
        call_or_unavailable(_transact, items=items)
    except ClientError as error:
        reasons = error.response.get("CancellationReasons") or []
        if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"] and applied(reasons[0].get("Item") or {}):
            return
        raise


def create_account(account_id: str, key_hash: str, requests: int, now: str) -> None:
    """The account item, its key's item and its quota shards, in one transaction."""
    count = get_settings().quota_shards
    _transact_once(
        [
            {
                "Put": {
                    "TableName": table(),
                    "Item": {
                        **keys.account_key(account_id),
                        "type": {"S": "account"},
                        "keyHash": {"S": key_hash},
                        "createdAt": {"S": now},
                        "shards": {"N": str(count)},
                        **{name: {"M": {}} for name in sorted(MAPS)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            _put_key(account_id, key_hash, now),
            *(_shard_put(account_id, i, share, key_hash, []) for i, share in enumerate(_shares(requests, count))),
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
    """Swap the account's key in one transaction, in the account item and every shard's
    copy: the old key stops working at once."""
    name = table()
    values: dict[str, Any] = {":new": {"S": new_hash}, ":old": {"S": account.key_hash}}
    condition = "keyHash = :old AND " + shards_condition(account.shards, values)
    _transact_once(
        [
            {
                "Update": {
                    "TableName": name,
                    "Key": keys.account_key(account.id),
                    "UpdateExpression": "SET keyHash = :new",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            },
            {"Delete": {"TableName": name, "Key": keys.master_key_key(account.key_hash)}},
            _put_key(account.id, new_hash, now),
            *mirror(account.id, account.shards, "SET keyHash = :new", {}, {":new": {"S": new_hash}}),
        ],
        applied=lambda old: old.get("keyHash", {}).get("S") == new_hash,
    )


def set_quota(account_id: str, requests: int) -> None:
    """Set the requests left, spread over ``QUOTA_SHARDS`` shards (re-sharding the account
    to the current setting) in one transaction; its ClientRequestToken keeps a retry after
    a lost response from setting it a second time (which would undo the charges made in
    between)."""
    from botocore.exceptions import ClientError

    for _ in range(CHARGE_ATTEMPTS):
        account = _account_item(account_id)
        if not account:
            raise AccountNotFound(account_id)
        existing = shard_items(account_id, projection="sk")
        try:
            call_or_unavailable(_transact, items=_spread(account_id, account, requests, existing))
            return
        except ClientError as error:
            if "ConditionalCheckFailed" not in cancellation_codes(error):
                raise  # else a key changed meanwhile: copy the new state
    raise ServiceUnavailable()
