"""Issue 14 over real HTTP (the local stack, `make run`): a JSONBin client that sends
X-Access-Key works by changing only its base URL; each permission on each route (allowed,
refused with the exact 403, nothing changed, nothing charged); revocation on the next
request; no table item holds an access key; X-JSON-Path and the meta routes.

Requests are raw HTTP shaped like JSONBin's documented samples: the exact headers the
samples send, JSON bodies, nothing the local test helpers add.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.client import Reply
from tests.support.quota import is_quota_shard
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

TABLE = "binvault-local"
PERMISSIONS = ("create", "read", "update", "delete")


def send(service: Stack, method: str, path: str, headers: dict[str, str], body: Any = None) -> Reply:
    """One request with exactly these headers (and a JSON body when given), like
    ``requests.request(method, url, json=body, headers=headers)`` in JSONBin's samples."""
    return service.request(method, path, body, headers, key=False)


def create_key(service: Stack, name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    # JSONBin's sample: Content-Type, X-Master-Key, X-Key-Name and the permissions as JSON
    reply = send(
        service,
        "POST",
        "/a",
        {"Content-Type": "application/json", "X-Master-Key": service.key, "X-Key-Name": name},
        {"bins": {p: p in allowed for p in PERMISSIONS}},
    )
    assert reply.status == 200, reply.body
    return dict(reply.body)


def delete_key(service: Stack, key_id: str) -> Reply:
    return send(service, "DELETE", f"/a/{key_id}", {"X-Master-Key": service.key})


@pytest.fixture
def keys(service: Stack) -> Iterator[list[str]]:
    """Ids of the keys a test made, deleted afterwards (an account holds at most 4)."""
    made: list[str] = []
    yield made
    for key_id in made:
        delete_key(service, key_id)


def scan(service: Stack) -> list[dict[str, Any]]:
    table, items, start = service.dynamodb(), [], None
    while True:
        kwargs: dict[str, Any] = {"TableName": TABLE, "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = table.scan(**kwargs)
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def snapshot(service: Stack, bin_id: str) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the bin's items, every account and its
    quota shards, and how many bins exist."""
    items = scan(service)
    return (
        sorted(json.dumps(i, sort_keys=True) for i in items if i["pk"]["S"] == f"BIN#{bin_id}"),
        sorted(json.dumps(i, sort_keys=True) for i in items if i["sk"]["S"] == "ACCOUNT" or is_quota_shard(i)),
        sum(1 for i in items if i["sk"]["S"] == "BIN"),
    )


def new_bin(service: Stack) -> str:
    reply = send(service, "POST", "/b", {"Content-Type": "application/json", "X-Master-Key": service.key}, {"v": 0})
    bin_id = str(reply.body["metadata"]["id"])
    versioned = {"Content-Type": "application/json", "X-Master-Key": service.key, "X-Bin-Versioning": "true"}
    assert send(service, "PUT", f"/b/{bin_id}", versioned, {"v": 1}).status == 200
    return bin_id


# (permission, method, path with {id}, body) for every bin route that takes an access key
ROUTES = [
    ("create", "POST", "/b", {"made": "by a key"}),
    ("read", "GET", "/b/{id}", None),
    ("read", "GET", "/b/{id}/latest", None),
    ("read", "GET", "/b/{id}/1", None),
    ("read", "GET", "/b/{id}/versions/count", None),
    ("update", "PUT", "/b/{id}", {"v": "updated by a key"}),
    ("delete", "DELETE", "/b/{id}/versions", None),
    ("delete", "DELETE", "/b/{id}", None),
]


def test_a_jsonbin_client_with_an_access_key_changes_only_its_base_url(service: Stack, keys: list[str]) -> None:
    # Given an access key made as JSONBin's sample makes one
    created = create_key(service, "My Access Key", ("create", "read", "update"))
    keys.append(created["accessKeyId"])
    access = created["accessKey"]
    assert created["keyPermissions"] == {"bins": {"create": True, "read": True, "update": True, "delete": False}}
    assert created["metadata"]["name"] == "My Access Key"

    # When a client creates, reads and updates a bin with only X-Access-Key
    record = {"moduleAccess": {"users": [{"firstName": "Ada", "age": 36}, {"firstName": "Alan", "age": 41}]}}
    made = send(service, "POST", "/b", {"Content-Type": "application/json", "X-Access-Key": access}, record)
    assert made.status == 200, made.body
    bin_id = made.body["metadata"]["id"]
    assert made.body["record"] == record and made.body["metadata"]["private"] is True

    read = send(service, "GET", f"/b/{bin_id}/latest", {"X-Access-Key": access})
    assert (read.status, read.body["record"]) == (200, record)
    record["moduleAccess"]["users"].append({"firstName": "Grace", "age": 85})
    updated = send(service, "PUT", f"/b/{bin_id}", {"Content-Type": "application/json", "X-Access-Key": access}, record)
    assert (updated.status, updated.body["record"]) == (200, record)

    # and reads a slice with X-JSON-Path (the read page's own example has no leading $)
    names = send(
        service, "GET", f"/b/{bin_id}/latest", {"X-Access-Key": access, "X-JSON-Path": "$..users[*].firstName"}
    )
    assert names.status == 200
    assert names.body["record"] == ["Ada", "Alan", "Grace"]
    assert names.body["metadata"]["id"] == bin_id
    first = send(
        service, "GET", f"/b/{bin_id}?meta=false", {"X-Access-Key": access, "X-JSON-Path": "moduleAccess.users[0]"}
    )
    assert (first.status, first.body) == (200, [{"firstName": "Ada", "age": 36}])

    # and the owner renames the bin as JSONBin's sample does (master key, X-Bin-Name, body {})
    renamed = send(
        service,
        "PUT",
        f"/b/{bin_id}/meta/name",
        {"Content-Type": "application/json", "X-Master-Key": service.key, "X-Bin-Name": "Renamed"},
        {},
    )
    assert (renamed.status, renamed.body) == (200, {"record": bin_id, "metadata": {"name": "Renamed"}})
    assert send(service, "GET", f"/b/{bin_id}", {"X-Access-Key": access}).body["metadata"]["name"] == "Renamed"

    # Then the list shows the key masked, and deleting it refuses its very next request
    listed = send(service, "GET", "/a", {"X-Master-Key": service.key})
    mine = [k for k in listed.body if k["accessKeyId"] == created["accessKeyId"]]
    assert mine == [
        {
            "keyPermissions": created["keyPermissions"],
            "accessKeyId": created["accessKeyId"],
            "accessKey": "********" + access[-4:],
            "metadata": created["metadata"],
        }
    ]
    deleted = delete_key(service, created["accessKeyId"])
    assert (deleted.status, deleted.body) == (
        200,
        {
            "metadata": {"id": created["accessKeyId"], "name": "My Access Key"},
            "message": "Access Key deleted successfully",
        },
    )
    keys.clear()
    refused = send(service, "GET", f"/b/{bin_id}", {"X-Access-Key": access})
    assert (refused.status, refused.body) == (401, {"message": "Invalid X-Access-Key provided"})


@pytest.mark.parametrize(("permission", "method", "path", "body"), ROUTES, ids=lambda v: str(v))
def test_each_permission_on_each_route(
    service: Stack, keys: list[str], permission: str, method: str, path: str, body: Any
) -> None:
    # Given a bin, a key with every permission but this route's, and one with only it
    bin_id = new_bin(service)
    without = create_key(service, "without", tuple(p for p in PERMISSIONS if p != permission))
    only = create_key(service, "only", (permission,))
    keys += [without["accessKeyId"], only["accessKeyId"]]
    target = path.format(id=bin_id)
    headers = {"Content-Type": "application/json"} if body is not None else {}

    # When the key without the permission calls the route
    before = snapshot(service, bin_id)
    refused = send(service, method, target, {**headers, "X-Access-Key": without["accessKey"]}, body)

    # Then the exact 403, and nothing changed or charged
    assert (refused.status, refused.body) == (
        403,
        {"message": f"X-Access-Key does not have the permission to {permission} bins"},
    )
    assert snapshot(service, bin_id) == before

    # and the key with only that permission is served (and charged one request)
    allowed = send(service, method, target, {**headers, "X-Access-Key": only["accessKey"]}, body)
    assert allowed.status == 200, allowed.body
    assert snapshot(service, bin_id)[1] != before[1]


def test_the_meta_routes_and_the_access_keys_api_take_only_the_master_key(service: Stack, keys: list[str]) -> None:
    created = create_key(service, "everything", PERMISSIONS)
    keys.append(created["accessKeyId"])
    access = {"X-Access-Key": created["accessKey"]}
    bin_id = new_bin(service)
    before = snapshot(service, bin_id)
    no_key = "You need to pass X-Master-Key in the header"
    for method, path, headers, message in [
        ("PUT", f"/b/{bin_id}/meta/name", {"X-Bin-Name": "x"}, no_key),
        ("PUT", f"/b/{bin_id}/meta/privacy", {"X-Bin-Private": "false"}, no_key),
        ("POST", "/a", {"X-Key-Name": "x", "Content-Type": "application/json"}, no_key),
        ("GET", "/a", {}, "You need to pass X-Master-Key in the header to fetch a list of Access Keys."),
        (
            "DELETE",
            f"/a/{created['accessKeyId']}",
            {},
            "You need to pass X-Master-Key in the header to delete the access key.",
        ),
    ]:
        body = {} if method != "GET" and method != "DELETE" else None
        reply = send(service, method, path, {**headers, **access}, body)
        assert (reply.status, reply.body) == (401, {"message": message}), (method, path)
    assert snapshot(service, bin_id) == before


def test_privacy_route_makes_a_bin_public_without_a_version(service: Stack) -> None:
    bin_id = new_bin(service)
    assert send(service, "GET", f"/b/{bin_id}", {}).status == 401
    master = {"X-Master-Key": service.key}
    made_public = send(service, "PUT", f"/b/{bin_id}/meta/privacy", {**master, "X-Bin-Private": "false"})
    assert (made_public.status, made_public.body) == (200, {"record": bin_id, "metadata": {"private": False}})
    public = send(service, "GET", f"/b/{bin_id}/latest", {})
    assert (public.status, public.body["record"], public.headers["etag"]) == (
        200,
        {"v": 1},
        made_public.headers["etag"],
    )
    count = send(service, "GET", f"/b/{bin_id}/versions/count", master)
    assert count.body["metadata"] == {"id": bin_id, "versionCount": 1, "private": False}
    stale = send(service, "PUT", f"/b/{bin_id}/meta/name", {**master, "X-Bin-Name": "n", "If-Match": '"stale"'})
    assert (stale.status, stale.body) == (412, {"message": "Precondition Failed"})
    missing = send(service, "PUT", f"/b/{bin_id}/meta/privacy", master)
    assert (missing.status, missing.body) == (
        400,
        {"message": "You need to provide X-Bin-Private header to change the Bin privacy"},
    )


def test_no_table_item_holds_an_access_key(service: Stack, keys: list[str]) -> None:
    created = create_key(service, "secret", PERMISSIONS)
    keys.append(created["accessKeyId"])
    access = created["accessKey"]
    bin_id = new_bin(service)
    headers = {"Content-Type": "application/json", "X-Access-Key": access}
    assert send(service, "PUT", f"/b/{bin_id}", {**headers, "Idempotency-Key": "k-1"}, {"v": 2}).status == 200
    assert send(service, "GET", f"/b/{bin_id}", {"X-Access-Key": access}).status == 200
    stored = json.dumps(scan(service))
    idempotency = service.dynamodb().scan(TableName=f"{TABLE}-idempotency")["Items"]
    assert access not in stored
    assert access not in json.dumps(idempotency)
    assert access not in service.text()


# ---- X-JSON-Path over HTTP ------------------------------------------------------------------

SAMPLE = {
    "moduleAccess": {
        "users": [
            {"firstName": "Ada", "age": 36, "country": "UK"},
            {"firstName": "Alan", "age": 41, "country": "UK"},
            {"firstName": "Grace", "age": 85, "country": "US"},
        ],
        "userPermissions": {"admin": True, "age": 1},
    }
}
USERS = SAMPLE["moduleAccess"]["users"]


@pytest.fixture(scope="module")
def sample_bin(service: Stack) -> str:
    reply = send(service, "POST", "/b", {"Content-Type": "application/json", "X-Master-Key": service.key}, SAMPLE)
    return str(reply.body["metadata"]["id"])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # JSONBin's JSON Path page, its documented examples
        ("$.moduleAccess.users[*].firstName", ["Ada", "Alan", "Grace"]),
        ("$..country", ["UK", "UK", "US"]),
        ("$.moduleAccess.*", [USERS, SAMPLE["moduleAccess"]["userPermissions"]]),
        ("$.moduleAccess..age", [36, 41, 85, 1]),
        ("$..users[2]", [USERS[2]]),
        ("$..users[(@.length-1)]", [USERS[2]]),
        ("$..users[-1:]", [USERS[2]]),
        ("$..users[0,1]", USERS[:2]),
        ("$..users[:2]", USERS[:2]),
        # without the leading $, as on the read page
        ("moduleAccess.users[0].firstName", ["Ada"]),
        # filters
        ("$..users[?(@.age > 40)].firstName", ["Alan", "Grace"]),
        ("$..users[?(@.country == 'UK' && @.age < 40)].firstName", ["Ada"]),
        ("$..users[?(@.age < 37 || @.age > 80)].firstName", ["Ada", "Grace"]),
        # no match
        ("$..users[?(@.age > 100)]", []),
        ("$.nothing.here", []),
    ],
)
def test_json_path_over_http(service: Stack, sample_bin: str, expression: str, expected: Any) -> None:
    master = {"X-Master-Key": service.key, "X-JSON-Path": expression}
    with_meta = send(service, "GET", f"/b/{sample_bin}", master)
    assert with_meta.status == 200, with_meta.body
    assert with_meta.body["record"] == expected
    assert with_meta.body["metadata"]["id"] == sample_bin
    bare = send(service, "GET", f"/b/{sample_bin}/latest", {**master, "X-Bin-Meta": "false"})
    assert (bare.status, bare.body) == (200, expected)


@pytest.mark.parametrize("expression", ["$[", "$..users[?(@.firstName =~ 'A.*')]", "$..[", "$" + "." * 2000])
def test_a_bad_json_path_answers_400(service: Stack, sample_bin: str, expression: str) -> None:
    reply = send(service, "GET", f"/b/{sample_bin}", {"X-Master-Key": service.key, "X-JSON-Path": expression})
    assert (reply.status, reply.body) == (400, {"message": "Invalid X-JSON-Path expression passed"})
