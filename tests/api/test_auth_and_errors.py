"""The contract's check order, its messages, quotas and cross-account isolation."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import Account, Api, add_versions, bin_items, make_account

VALID_ID = "0123456789abcdef01234567"
ROUTES = [
    ("GET", "/b/{id}"),
    ("GET", "/b/{id}/latest"),
    ("GET", "/b/{id}/1"),
    ("GET", "/b/{id}/versions/count"),
    ("PUT", "/b/{id}"),
    ("DELETE", "/b/{id}"),
    ("DELETE", "/b/{id}/versions"),
]


def _body_for(method: str) -> dict[str, str] | None:
    return {"x": "y"} if method in ("PUT", "POST") else None


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/"), ("POST", "/b/x/y/z"), ("GET", "/c/1")])
def test_unknown_route_is_404(api: Api, method: str, path: str) -> None:
    reply = api(method, path)
    assert (reply.status, reply.body) == (404, {"message": "Route not found"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/b/{id}"),
        ("POST", "/b/{id}"),
        ("GET", "/b"),
        ("PUT", "/b/{id}/versions"),
        ("DELETE", "/b/{id}/3"),
    ],
)
def test_known_route_other_method_is_405(api: Api, method: str, path: str) -> None:
    reply = api(method, path.format(id=VALID_ID))
    assert (reply.status, reply.body) == (405, {"message": "Method not allowed"})


@pytest.mark.parametrize("bad_id", ["123", "0123456789ABCDEF01234567", "0123456789abcdef0123456z", "%2e%2e", "é" * 24])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_malformed_bin_id_is_400_before_auth(api: Api, method: str, path: str, bad_id: str) -> None:
    reply = api(method, path.format(id=bad_id), body=_body_for(method), key=None)
    assert (reply.status, reply.body) == (400, {"message": "Invalid Bin Id provided"})


@pytest.mark.parametrize(("method", "path"), [*ROUTES, ("POST", "/b")])
@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_401(api: Api, new_bin: str, method: str, path: str, key: str | None) -> None:
    headers = [("X-Master-Key", key)] if key is not None else []
    reply = api(method, path.format(id=new_bin), headers=headers, body=_body_for(method), key=None)
    assert (reply.status, reply.body) == (401, {"message": "You need to pass X-Master-Key in the header"})


@pytest.mark.parametrize(("method", "path"), [*ROUTES, ("POST", "/b")])
def test_unknown_key_is_401(api: Api, new_bin: str, method: str, path: str) -> None:
    reply = api(method, path.format(id=new_bin), body=_body_for(method), key="not-a-key")
    assert (reply.status, reply.body) == (401, {"message": "Invalid X-Master-Key provided"})


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_other_accounts_bin_is_404_and_unchanged(
    api: Api, new_bin: str, other_account: Account, method: str, path: str, ddb: object
) -> None:
    add_versions(api, new_bin, 2)
    before = bin_items(ddb)
    reply = Api(other_account.key)(method, path.format(id=new_bin), body=_body_for(method))
    assert (reply.status, reply.body) == (
        404,
        {"message": "Bin not found or it doesn't belong to your account"},
    )
    assert bin_items(ddb) == before


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_missing_bin_is_the_same_404(api: Api, method: str, path: str) -> None:
    reply = api(method, path.format(id=VALID_ID), body=_body_for(method))
    assert (reply.status, reply.body) == (
        404,
        {"message": "Bin not found or it doesn't belong to your account"},
    )


def test_quota_is_consumed_once_per_request_and_exhaustion_is_403(ddb: object) -> None:
    from binvault import admin

    account = make_account(requests=3)
    api = Api(account.key)
    bin_id = api.create().body["metadata"]["id"]  # 1
    assert api("GET", f"/b/{bin_id}").status == 200  # 2
    assert api("GET", f"/b/{'0' * 24}").status == 404  # 3: a 404 still counts
    refused = api("GET", f"/b/{bin_id}")
    assert refused.status == 403
    assert refused.body == {
        "message": "Requests exhausted. Buy additional requests at https://binvault.example/pricing"
    }
    # a refused request consumes nothing
    assert admin.show_account(account.id)["requestsRemaining"] == 0
    admin.set_quota(account.id, 1)
    assert api("GET", f"/b/{bin_id}").status == 200


def test_invalid_key_is_reported_before_exhausted_quota(ddb: object) -> None:
    account = make_account(requests=0)
    assert Api("wrong")("GET", f"/b/{VALID_ID}").status == 401
    assert Api(account.key)("GET", f"/b/{VALID_ID}").status == 403


def test_rotated_key_stops_at_once_even_when_cached(ddb: object) -> None:
    from binvault import admin

    account = make_account()
    api = Api(account.key)
    bin_id = api.create().body["metadata"]["id"]  # caches hash -> account
    new_key = admin.rotate_key(account.id)["masterKey"]
    assert api("GET", f"/b/{bin_id}").message == "Invalid X-Master-Key provided"
    assert Api(new_key)("GET", f"/b/{bin_id}").status == 200


def test_public_bin_read_without_key_is_charged_to_the_owner(ddb: object) -> None:
    from binvault import admin

    owner = make_account(requests=10)
    bin_id = Api(owner.key).create({"public": True}, X_Bin_Private="false").body["metadata"]["id"]
    anonymous = Api(None)
    for path in (f"/b/{bin_id}", f"/b/{bin_id}/latest", f"/b/{bin_id}/versions/count"):
        assert anonymous("GET", path).status == 200
    assert admin.show_account(owner.id)["requestsRemaining"] == 10 - 1 - 3
    # another account may read it with its own key; writes stay the owner's
    stranger = Api(make_account().key)
    assert stranger("GET", f"/b/{bin_id}").body["record"] == {"public": True}
    assert stranger.update(bin_id, {"x": 1}).status == 404
    assert anonymous("PUT", f"/b/{bin_id}", body={"x": 1}).status == 401


def test_keyless_read_of_private_or_missing_bin_is_401(api: Api, new_bin: str) -> None:
    for bin_id in (new_bin, VALID_ID):
        reply = Api(None)("GET", f"/b/{bin_id}")
        assert (reply.status, reply.message) == (401, "You need to pass X-Master-Key in the header")


def test_master_key_never_logged_or_echoed(
    api: Api,
    account: Account,
    new_bin: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    replies = [
        api("GET", f"/b/{new_bin}"),
        api("GET", f"/b/{new_bin}", key=account.key + "x"),
        api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "maybe"}),
        api("PATCH", f"/b/{new_bin}"),
    ]
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text + "".join(r.raw + str(r.headers) for r in replies)
    assert account.key not in everything
    assert account.key[:12] not in everything


def test_key_is_stored_only_as_a_hash(account: Account, ddb: object) -> None:
    from tests.conftest import table_items

    dump = str(table_items(ddb))
    assert account.key not in dump
    import hashlib

    assert hashlib.sha256(account.key.encode()).hexdigest() in dump
