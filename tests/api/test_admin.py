"""binvault-admin: accounts and keys, printed as JSON; a key is printed once, never stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from binvault import admin
from tests.conftest import TABLE, Api, table_items


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    capsys.readouterr()  # what came before the command (the handler's log lines) is not its output
    code = admin.main(["--table", TABLE, *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_account_lifecycle(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, created, _ = run(capsys, "create-account", "--requests", "5")
    assert code == 0 and set(created) == {"accountId", "masterKey"}
    key, account_id = created["masterKey"], created["accountId"]
    assert len(key) >= 43  # 32 random bytes, url-safe base64
    assert Api(key).create().status == 200

    code, shown, _ = run(capsys, "show-account", account_id)
    assert shown == {"accountId": account_id, "requestsRemaining": 4, "createdAt": shown["createdAt"]}
    assert key not in json.dumps(shown)

    code, shown, _ = run(capsys, "set-quota", account_id, "--requests", "100")
    assert shown["requestsRemaining"] == 100

    code, rotated, _ = run(capsys, "rotate-key", account_id)
    assert rotated["accountId"] == account_id and rotated["masterKey"] != key
    assert Api(key).create().status == 401
    assert Api(rotated["masterKey"]).create().status == 200
    assert key not in str(table_items(ddb)) and rotated["masterKey"] not in str(table_items(ddb))


@pytest.mark.parametrize(
    "command", [["show-account", "nope"], ["rotate-key", "nope"], ["set-quota", "nope", "--requests", "1"]]
)
def test_unknown_account_is_a_clean_error(ddb: Any, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, err = run(capsys, *command)
    assert code == 1 and out is None
    assert "error" in json.loads(err)
    assert "Traceback" not in err


@pytest.mark.parametrize("requests", ["-1", "abc", "10000000000000"])
def test_quota_must_be_a_sane_number(ddb: Any, requests: str) -> None:
    with pytest.raises(SystemExit):
        admin.main(["--table", TABLE, "create-account", "--requests", requests])


def test_endpoint_and_table_come_from_flags(
    monkeypatch: pytest.MonkeyPatch, ddb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from binvault.models.settings import get_settings

    monkeypatch.delenv("TABLE_NAME")
    assert admin.main(["--table", TABLE, "create-account", "--requests", "1"]) == 0
    assert get_settings().table_name == TABLE
    capsys.readouterr()


def test_list_and_revoke_access_keys(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an account with an access key
    _, created, _ = run(capsys, "create-account", "--requests", "100")
    account_id, master = created["accountId"], created["masterKey"]
    made = Api(master)("POST", "/a", headers={"X-Key-Name": "leaked"}, body={"bins": {"read": True}}).body
    secret = made["accessKey"]
    bin_id = Api(master).create().body["metadata"]["id"]
    assert Api(None)("GET", f"/b/{bin_id}", headers={"X-Access-Key": secret}).status == 200

    # When the operator lists the account's keys
    code, listed, _ = run(capsys, "list-access-keys", account_id)
    # Then each is shown masked, never the secret
    assert code == 0
    assert listed == {
        "accountId": account_id,
        "accessKeys": [
            {
                "keyPermissions": {"bins": {"create": False, "read": True, "update": False, "delete": False}},
                "accessKeyId": made["accessKeyId"],
                "accessKey": "********" + secret[-4:],
                "metadata": made["metadata"],
            }
        ],
    }

    # When the operator revokes it, its next request is refused
    code, revoked, _ = run(capsys, "revoke-access-key", account_id, made["accessKeyId"])
    assert (code, revoked) == (
        0,
        {"accountId": account_id, "accessKeyId": made["accessKeyId"], "name": "leaked", "revoked": True},
    )
    refused = Api(None)("GET", f"/b/{bin_id}", headers={"X-Access-Key": secret})
    assert (refused.status, refused.body) == (401, {"message": "Invalid X-Access-Key provided"})
    assert run(capsys, "list-access-keys", account_id)[1]["accessKeys"] == []
    assert secret not in str(table_items(ddb))


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (["list-access-keys", "nope"], "account not found"),
        (["revoke-access-key", "nope", "0123456789abcdef01234567"], "account not found"),
        (["revoke-access-key", "nope", "not-an-id"], "Invalid Access Key Id provided"),
    ],
)
def test_access_key_commands_fail_cleanly(
    ddb: Any, capsys: pytest.CaptureFixture[str], command: list[str], error: str
) -> None:
    code, out, err = run(capsys, *command)
    assert (code, out, json.loads(err)) == (1, None, {"error": error})


def test_revoking_an_unknown_access_key_is_a_clean_error(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, created, _ = run(capsys, "create-account", "--requests", "1")
    code, out, err = run(capsys, "revoke-access-key", created["accountId"], "0123456789abcdef01234567")
    assert (code, out) == (1, None)
    assert json.loads(err) == {"error": "Access Key not found or it doesn't belong to your account"}
