"""The quota at Lambda scale (issue 23, docs/quota.md): an account's quota split over counter
shards, a charge that costs the same whatever the number of containers, exactly once.

A "cold container" here is what a fresh Lambda execution environment starts with: no key
cache, no lease, nothing remembered of other charges.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from bench.units import item_size

from binvault import admin
from binvault.exceptions import InvalidMasterKey, QuotaExhausted
from binvault.logic import access_keys, auth, quota
from binvault.models.bins import Charging
from tests.conftest import TABLE, Account, Api, CallCounter, make_account
from tests.support.faults import injected_on, on_quota_shard
from tests.support.quota import concurrent_statuses, requests_left, shard_items

SHARDS = 32
LEASE = 10


@pytest.fixture(autouse=True)
def shards(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("QUOTA_SHARDS", str(SHARDS))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


def account_item(ddb: Any, account: Account) -> dict[str, Any]:
    key = {"pk": {"S": f"ACCOUNT#{account.id}"}, "sk": {"S": "ACCOUNT"}}
    return dict(ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"])


def cold_container(monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.dal import accounts

    auth.clear_cache()
    monkeypatch.setattr(quota, "BOOK", quota.LeaseBook())
    monkeypatch.setattr(accounts, "_dead_leases", {})


def master(account: Account) -> Charging:
    return Charging(master_hash=auth.hash_key(account.key))


def test_an_account_is_spread_over_the_shard_setting(ddb: Any) -> None:
    account = make_account(requests=1000)
    shards = shard_items(ddb, account.id)
    assert len(shards) == SHARDS
    assert sorted(int(s["requestsRemaining"]["N"]) for s in shards) == [31] * 24 + [32] * 8
    assert {s["keyHash"]["S"] for s in shards} == {auth.hash_key(account.key)}
    assert "requestsRemaining" not in account_item(ddb, account)
    assert admin.show_account(account.id)["requestsRemaining"] == 1000


def test_the_account_item_stays_the_same_size_after_2000_cold_containers(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an account charged once by one container
    account = make_account(requests=10_000)
    quota.charge(account.id, master(account))
    after_one = item_size(account_item(ddb, account))
    largest_shard_after_one = max(item_size(s) for s in shard_items(ddb, account.id))
    # When 1,999 more cold containers charge it once each
    for _ in range(1999):
        cold_container(monkeypatch)
        quota.charge(account.id, master(account))
    # Then the account item did not grow (within 10%: in fact not at all), no shard outgrew
    # one write unit, and exactly 2,000 requests were charged
    after_all = item_size(account_item(ddb, account))
    assert abs(after_all - after_one) <= after_one // 10
    assert after_all == after_one
    shard_sizes = [item_size(s) for s in shard_items(ddb, account.id)]
    assert max(shard_sizes) <= largest_shard_after_one + 2 and max(shard_sizes) < 1024
    assert requests_left(ddb, account.id) == 10_000 - 2000


def test_a_charge_is_one_transaction_on_one_shard(ddb: Any, dynamodb_calls: CallCounter) -> None:
    """The request path's cost per charge: one call, a one-item transaction of a small shard."""
    account = make_account()
    api = Api(account.key)
    bin_id = api.create({"v": 1}).body["metadata"]["id"]
    api("GET", f"/b/{bin_id}")  # a warm key cache
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    ddb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    dynamodb_calls.reset()
    try:
        for _ in range(20):
            assert api("GET", f"/b/{bin_id}").status == 200
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)
    assert dynamodb_calls.calls == Counter({"TransactWriteItems": 20, "GetItem": 20})
    assert all(len(params["TransactItems"]) == 1 and params["ClientRequestToken"] for params in sent)
    assert all("ReturnValues" not in params["TransactItems"][0]["Update"] for params in sent)


def _variant(variant: str, account: Account, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A request of the charge variant: master key, access key, public read, lease."""
    from binvault.models.settings import get_settings

    api = Api(account.key)
    if variant == "public":
        bin_id = api.create({"v": 1}, X_Bin_Private="false").body["metadata"]["id"]
        return lambda: Api()("GET", f"/b/{bin_id}", key=None)
    bin_id = api.create({"v": 1}).body["metadata"]["id"]
    if variant == "access":
        secret = access_keys.create(account.key, "reader", frozenset({"read"})).body["accessKey"]
        return lambda: Api()("GET", f"/b/{bin_id}", headers={"X-Access-Key": secret}, key=None)
    if variant == "lease":
        monkeypatch.setenv("QUOTA_LEASE_SIZE", str(LEASE))
        get_settings.cache_clear()
        monkeypatch.setattr(quota, "BOOK", quota.LeaseBook())
    return lambda: api("GET", f"/b/{bin_id}")


@pytest.mark.parametrize("variant", ["master", "access", "public", "lease"])
def test_a_lost_charge_response_charges_once(
    ddb: Any, monkeypatch: pytest.MonkeyPatch, no_backoff: None, variant: str
) -> None:
    # Given an account and a request of each charge variant, its key cache warm
    account = make_account(requests=1000)
    send = _variant(variant, account, monkeypatch)
    assert send().status == 200
    monkeypatch.setattr(quota, "BOOK", quota.LeaseBook())  # the lease variant's next request writes its lease
    before = requests_left(ddb, account.id)
    # When the charge is applied and its response lost, and botocore sends it again
    with injected_on(ddb) as faults:
        fault = faults.inject("write", times=1, raises="read", after_applying=True, when=on_quota_shard)
        reply = send()
    # Then the request is served and charged once (a lease: one lease taken, one request of it spent)
    assert fault.injected == 1
    assert faults.calls["TransactWriteItems" if variant != "lease" else "UpdateItem"] == 2
    assert reply.status == 200
    taken = LEASE if variant == "lease" else 1
    assert before - requests_left(ddb, account.id) == taken
    assert quota.BOOK.holding(account.id) == (LEASE - 1 if variant == "lease" else 0)


def test_30_concurrent_requests_at_quota_10_take_exactly_10(ddb: Any) -> None:
    # Given an account with 10 requests spread over 32 shards (22 of them empty)
    account = make_account(requests=10)
    # When 30 requests arrive at once (separate containers, as threads)
    statuses = concurrent_statuses(Api(account.key), 30)
    # Then exactly 10 are served (404: authenticated, no such bin) and 20 refused
    assert statuses == [403] * 20 + [404] * 10
    assert requests_left(ddb, account.id) == 0
    assert all(int(s["requestsRemaining"]["N"]) == 0 for s in shard_items(ddb, account.id))


def test_quota_exhausted_on_every_shard_is_the_contracts_403_and_charges_nothing(
    ddb: Any, dynamodb_calls: CallCounter
) -> None:
    account = make_account(requests=3)
    api = Api(account.key)
    for _ in range(3):
        assert api("GET", "/b/" + "0" * 24).status == 404
    before = sorted((s["sk"]["S"], s["requestsRemaining"]["N"]) for s in shard_items(ddb, account.id))
    item_before = account_item(ddb, account)
    dynamodb_calls.reset()
    reply = api("GET", "/b/" + "0" * 24)
    assert reply.status == 403
    assert reply.body == {"message": "Requests exhausted. Buy additional requests at https://binvault.example/pricing"}
    # a refusal: the failed charge of one shard and one Query of them all, nothing written
    # (and the bin's read, which the API makes while it authenticates)
    assert dynamodb_calls.calls == Counter({"TransactWriteItems": 1, "Query": 1, "GetItem": 1})
    assert sorted((s["sk"]["S"], s["requestsRemaining"]["N"]) for s in shard_items(ddb, account.id)) == before
    assert account_item(ddb, account) == item_before


def test_an_empty_shard_is_refilled_from_a_stocked_one(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.dal import accounts

    account = make_account(requests=SHARDS * 4)  # 4 in each shard
    monkeypatch.setattr(accounts.random, "randrange", lambda count: 5)
    offered: list[tuple[list[int], list[int]]] = []

    def choices(population: list[int], weights: list[int]) -> list[int]:
        offered.append((population, weights))
        return [0]

    monkeypatch.setattr(accounts.random, "choices", choices)
    for _ in range(5):  # shard 05 runs dry on its fifth charge: taken from 00, which gives it half
        accounts.consume_request(account.id, master(account))
    # the shards with requests left were offered, weighted by what each has (05 is dry)
    assert offered == [([i for i in range(SHARDS) if i != 5], [4] * (SHARDS - 1))]
    left = {s["sk"]["S"]: int(s["requestsRemaining"]["N"]) for s in shard_items(ddb, account.id)}
    assert (left["QUOTA#00"], left["QUOTA#05"]) == (4 - 1 - 1, 1)
    assert requests_left(ddb, account.id) == SHARDS * 4 - 5


def test_set_quota_respreads_and_reshards(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.models.settings import get_settings

    account = make_account(requests=100)
    monkeypatch.setenv("QUOTA_SHARDS", "4")
    get_settings.cache_clear()
    assert admin.set_quota(account.id, 10)["requestsRemaining"] == 10
    assert sorted(int(s["requestsRemaining"]["N"]) for s in shard_items(ddb, account.id)) == [2, 2, 3, 3]
    assert account_item(ddb, account)["shards"] == {"N": "4"}
    monkeypatch.setenv("QUOTA_SHARDS", "6")
    get_settings.cache_clear()
    assert admin.set_quota(account.id, 12)["requestsRemaining"] == 12
    assert len(shard_items(ddb, account.id)) == 6
    assert Api(account.key)("GET", "/b/" + "0" * 24).status == 404
    assert admin.show_account(account.id)["requestsRemaining"] == 11


def test_rotation_and_revocation_reach_every_shard(ddb: Any) -> None:
    account = make_account(requests=100)
    secret = access_keys.create(account.key, "k", frozenset({"read"})).body["accessKey"]
    [key_id] = {kid for s in shard_items(ddb, account.id) for kid in s["accessKeys"]["M"]}
    rotated = admin.rotate_key(account.id)
    shards = shard_items(ddb, account.id)
    assert {s["keyHash"]["S"] for s in shards} == {auth.hash_key(rotated["masterKey"])}
    for _ in range(40):  # whatever shard a charge picks, the old key is refused
        with pytest.raises(InvalidMasterKey):
            quota.charge(account.id, master(account))
    access = Api()
    assert access("GET", "/b/" + "0" * 24, headers={"X-Access-Key": secret}, key=None).status == 404
    importlib.import_module("binvault.admin.accounts").revoke_access_key(account.id, key_id)
    assert all(key_id not in s["accessKeys"]["M"] for s in shard_items(ddb, account.id))
    assert access("GET", "/b/" + "0" * 24, headers={"X-Access-Key": secret}, key=None).status == 401
    assert requests_left(ddb, account.id) == 100 - 2  # creating the access key, and its one served request


def test_an_account_from_before_shards_is_spread_on_its_first_charge(ddb: Any) -> None:
    from binvault.dal import accounts

    # Given an account item as the previous release wrote it: its counter, its maps
    account = make_account(requests=5)
    for shard in shard_items(ddb, account.id):
        ddb.delete_item(TableName=TABLE, Key={"pk": shard["pk"], "sk": shard["sk"]})
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"ACCOUNT#{account.id}"}, "sk": {"S": "ACCOUNT"}},
        UpdateExpression="SET requestsRemaining = :n, charges = :c, leases = :l REMOVE shards",
        ExpressionAttributeValues={
            ":n": {"N": "50"},
            ":c": {"M": {"abc": {"N": "1"}}},
            ":l": {"M": {"dead": {"M": {"n": {"N": "7"}, "until": {"N": "1"}}}}},
        },
    )
    # When it is charged
    accounts.consume_request(account.id, master(account))
    # Then its counter (and its dead lease's part) moved to shards, its bookkeeping went
    item = account_item(ddb, account)
    assert not {"requestsRemaining", "charges", "leases"} & set(item)
    assert item["shards"] == {"N": str(SHARDS)}
    assert requests_left(ddb, account.id) == 50 + 7 - 1


def test_a_lease_larger_than_its_shard_takes_what_the_fullest_has(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("QUOTA_LEASE_SIZE", str(LEASE))
    get_settings.cache_clear()
    account = make_account(requests=25)  # 1 in most shards: never a full lease
    books = [quota.LeaseBook() for _ in range(3)]
    served, refused = 0, set()
    while len(refused) < len(books):
        for number, book in enumerate(books):
            try:
                book.spend(account.id, master(account))
                served += 1
            except QuotaExhausted:
                refused.add(number)
    assert served == 25
    assert requests_left(ddb, account.id) == 0


class TestClientRequestToken:
    """moto_fixes' emulation of DynamoDB's idempotent transactions (the unit tests and the
    local stack both run on it)."""

    @staticmethod
    def _add(ddb: Any, token: str, amount: int = 1) -> None:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "T#token"}, "sk": {"S": "T"}},
                        "UpdateExpression": "ADD n :n",
                        "ExpressionAttributeValues": {":n": {"N": str(amount)}},
                    }
                }
            ],
            ClientRequestToken=token,
        )

    @staticmethod
    def _n(ddb: Any) -> int:
        item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "T#token"}, "sk": {"S": "T"}})["Item"]
        return int(item["n"]["N"])

    def test_the_same_request_again_succeeds_without_applying(self, ddb: Any) -> None:
        self._add(ddb, "a" * 36)
        self._add(ddb, "a" * 36)
        assert self._n(ddb) == 1
        self._add(ddb, "b" * 36)
        assert self._n(ddb) == 2

    def test_the_same_token_with_other_parameters_is_refused(self, ddb: Any) -> None:
        from botocore.exceptions import ClientError

        self._add(ddb, "c" * 36)
        with pytest.raises(ClientError) as raised:
            self._add(ddb, "c" * 36, amount=5)
        assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
        assert self._n(ddb) == 1

    def test_after_ten_minutes_a_token_is_new_again(self, ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        from binvault.local import moto_fixes

        now = [1000.0]
        monkeypatch.setattr(moto_fixes, "_token_clock", lambda: now[0])
        self._add(ddb, "d" * 36)
        now[0] += moto_fixes.TOKEN_SECONDS - 1
        self._add(ddb, "d" * 36)
        assert self._n(ddb) == 1
        now[0] += 2
        self._add(ddb, "d" * 36)
        assert self._n(ddb) == 2

    def test_a_cancelled_transaction_runs_again_on_retry(self, ddb: Any) -> None:
        from botocore.exceptions import ClientError

        item = {"pk": {"S": "T#cancel"}, "sk": {"S": "T"}}
        put = {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": "attribute_exists(pk)"}}
        with pytest.raises(ClientError):
            ddb.transact_write_items(TransactItems=[put], ClientRequestToken="e" * 36)
        ddb.put_item(TableName=TABLE, Item=item)
        ddb.transact_write_items(TransactItems=[put], ClientRequestToken="e" * 36)


def test_the_local_stacks_dynamodb_honours_client_request_tokens() -> None:
    """The same emulation behind binvault's own DynamoDB server (``make run``), over HTTP."""
    import boto3

    from binvault.local import moto_fixes
    from binvault.local.dynamodb_server import DynamoDBServer, moto_app
    from binvault.local.template_tables import create_table
    from tests.support.stack import free_port

    moto_fixes.install()
    server = DynamoDBServer("127.0.0.1", free_port(), moto_app())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        table = "binvault-tokens-" + uuid.uuid4().hex[:8]
        create_table(client, "BinsTable", table)
        key = {"pk": {"S": "T#http"}, "sk": {"S": "T"}}
        add = {"Update": {"TableName": table, "Key": key, "UpdateExpression": "ADD n :one"}}
        add["Update"]["ExpressionAttributeValues"] = {":one": {"N": "1"}}
        for _ in range(3):  # a first attempt and two retries of it
            client.transact_write_items(TransactItems=[add], ClientRequestToken="f" * 36)
        assert client.get_item(TableName=table, Key=key)["Item"]["n"] == {"N": "1"}
    finally:
        server.shutdown()
        server.server_close()
