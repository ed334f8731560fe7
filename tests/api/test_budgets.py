"""Time budgets that add up: the API answers before Lambda and API Gateway give up, and the
purge finishes any allowed version count across its retries.

The arithmetic is read from the settings (models/settings.py), the client's budgets
(dal/client.py) and template.yaml; the behaviour is checked with a fake clock, never the
wall clock.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from binvault.dal import client, keys
from binvault.dal import purge as dal_purge
from binvault.local.events import LocalContext
from binvault.local.template_tables import load_template
from binvault.models.settings import Settings
from tests.conftest import TABLE, Api, bin_items, seed_versions

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
API_GATEWAY_INTEGRATION_TIMEOUT = 29  # seconds, REST API maximum
# A floor for the purge's pace, far below what one BatchWriteItem per ~50 ms gives: one
# 25-item batch per second (a throttled, large-item bin).
PURGE_FLOOR_ITEMS_PER_SECOND = 25


def _timeout(function: str) -> int:
    properties = RESOURCES[function]["Properties"]
    return int(properties.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]))


def _stream() -> dict[str, Any]:
    (event,) = [e for e in RESOURCES["PurgeFunction"]["Properties"]["Events"].values() if e["Type"] == "DynamoDB"]
    return dict(event["Properties"])


def default_settings(**env: str) -> Settings:
    return Settings.from_env({"TABLE_NAME": "t", **env})


def test_the_api_worst_case_fits_the_function_and_api_gateway() -> None:
    settings = default_settings()
    timeout = _timeout("ApiFunction")
    assert timeout + 1 <= API_GATEWAY_INTEGRATION_TIMEOUT
    reserve = client.reserve_seconds(settings)
    deadline = timeout - reserve
    # The last attempt the deadline allows starts by deadline - ATTEMPT_SECONDS and ends by the
    # deadline; then at most one sleep (botocore's backoff or binvault's own) before the next
    # call is refused with 503, then the answer.
    longest_sleep = max(client.longest_backoff(settings.dynamodb_max_attempts), client.APP_SLEEP_CEILING_SECONDS)
    assert deadline + longest_sleep + client.ANSWER_SECONDS <= timeout
    # and that leaves most of the invocation for work: 3 attempts of 1 s + 3 s, sleeps of up
    # to 1 s and 2 s (+ 5 s each when DynamoDB sends x-amz-retry-after), the answer 1 s
    assert (settings.dynamodb_max_attempts, client.ATTEMPT_SECONDS, reserve) == (3, 4.0, 8.0)
    assert deadline >= 20
    # one call with no deadline at all (the admin CLI) still ends
    assert client.call_seconds(settings.dynamodb_max_attempts) == 3 * 4.0 + (1 + 5) + (2 + 5)


def test_what_the_old_budget_added_up_to() -> None:
    # 5 attempts of 2 s + 5 s and their backoffs: one call alone could outlast the function,
    # and WRITE_ATTEMPTS (10) retries of a write multiplied it
    assert client.call_seconds(5, attempt_seconds=2 + 5) == 35 + (1 + 2 + 4 + 8) + 4 * 5 == 70
    assert client.call_seconds(5, attempt_seconds=2 + 5) > _timeout("ApiFunction")


@pytest.mark.parametrize("attempts", range(1, 7))
def test_every_allowed_attempt_count_leaves_room_for_an_attempt(attempts: int) -> None:
    settings = default_settings(DYNAMODB_MAX_ATTEMPTS=str(attempts))
    assert _timeout("ApiFunction") - client.reserve_seconds(settings) >= client.ATTEMPT_SECONDS


def test_binvaults_own_sleeps_are_inside_the_reserve() -> None:
    assert dal_purge.MAX_BACKOFF_SECONDS <= client.APP_SLEEP_CEILING_SECONDS


def test_more_attempts_than_the_budget_allows_are_refused() -> None:
    from binvault.models.settings import SettingsError

    with pytest.raises(SettingsError):
        default_settings(DYNAMODB_MAX_ATTEMPTS="7")
    assert _timeout("ApiFunction") - client.reserve_seconds(default_settings(DYNAMODB_MAX_ATTEMPTS="6")) >= (
        client.ATTEMPT_SECONDS
    )


def test_the_purge_finishes_max_versions_within_its_retries() -> None:
    timeout = _timeout("PurgeFunction")
    usable = timeout - client.reserve_seconds(default_settings())
    max_versions = int(TEMPLATE["Parameters"]["MaxVersions"]["MaxValue"])
    assert max_versions == 999_999
    invocations = math.ceil(max_versions / (usable * PURGE_FLOOR_ITEMS_PER_SECOND))
    assert invocations <= int(_stream()["MaximumRetryAttempts"]) + 1  # 1 try + retries


# ---- behaviour --------------------------------------------------------------------------


class FakeClock:
    """time.monotonic for dal.client: each reading advances ``step`` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_an_invocation_near_its_deadline_answers_503_before_lambda_times_out(api: Api, new_bin: str) -> None:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import rest_event

    # Given an invocation with less time left than the reserve plus one attempt
    context = LocalContext()
    context.get_remaining_time_in_millis = lambda: 3_500  # type: ignore[method-assign]
    # When it needs DynamoDB
    reply = lambda_handler(rest_event("GET", f"/b/{new_bin}", [("X-Master-Key", api.key or "")]), context)
    # Then it answers the contract's 503 at once
    assert reply["statusCode"] == 503
    assert "retry" in reply["body"]
    headers = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    headers.update({k.lower(): ", ".join(v) for k, v in (reply.get("multiValueHeaders") or {}).items()})
    assert headers.get("retry-after") == "1"
    # and the deadline ends with the invocation: the next one (28 s left) is served
    assert api("GET", f"/b/{new_bin}").status == 200


def test_no_deadline_outside_an_invocation(ddb: Any) -> None:
    assert client.current_deadline() is None
    with client.invocation_deadline(LocalContext()):
        assert client.current_deadline() is not None
    assert client.current_deadline() is None
    with client.invocation_deadline(object()):  # not a Lambda context: no deadline
        assert client.current_deadline() is None


def _stream_record(bin_id: str, below: int | None) -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": keys.bin_key(bin_id), "SequenceNumber": "7"}
    if below is not None:
        change["NewImage"] = {"purgeBelow": {"N": str(below)}}
    return {
        "eventID": "e1",
        "eventName": "MODIFY" if below is not None else "REMOVE",
        "eventSource": "aws:dynamodb",
        "dynamodb": change,
    }


def test_a_purge_that_runs_out_of_time_resumes_on_retry(
    api: Api, new_bin: str, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from binvault.handlers.purge import lambda_handler

    # Given a bin whose 200 versions a cut-over made unreachable
    seed_versions(new_bin, 200)
    assert api("DELETE", f"/b/{new_bin}/versions").body["metadata"]["versionsDeleted"] == 200
    # and a clock under which an invocation has time for only a few DynamoDB calls
    monkeypatch.setattr(client, "_clock", FakeClock(step=5.0))
    event = {"Records": [_stream_record(new_bin, 1)]}
    left = [len(bin_items(ddb)) - 1]
    results = []
    # When Lambda retries the record until it succeeds (a batch whose every record failed is
    # a function error for Powertools: Lambda retries that batch too)
    while len(results) < 50:
        try:
            results.append(lambda_handler(event, LocalContext()))
        except BatchProcessingError:
            results.append({"batchItemFailures": [{"itemIdentifier": "7"}]})
        left.append(len(bin_items(ddb)) - 1)
        if not results[-1]["batchItemFailures"]:
            break
    # Then each try stopped before its deadline, failed the record, and the next continued
    # where it stopped, until every orphaned version was gone
    assert len(results) > 2
    assert all(r["batchItemFailures"] for r in results[:-1])
    assert results[-1] == {"batchItemFailures": []}
    assert left[-1] == 0
    assert all(later < earlier for earlier, later in itertools.pairwise(left))


def test_admin_purge_redrives_a_cut_over_and_a_deleted_bin(
    api: Api, new_bin: str, ddb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from binvault import admin

    # Given a cut-over whose purge never ran (it ended in the dead-letter queue), and new versions after it
    seed_versions(new_bin, 30)
    api("DELETE", f"/b/{new_bin}/versions")
    api.update(new_bin, {"v": "kept"})
    assert len(bin_items(ddb)) == 1 + 30 + 1
    # When the operator re-drives it
    capsys.readouterr()  # (the handler's EMF metrics went to stdout)
    assert admin.main(["--table", TABLE, "purge", new_bin]) == 0
    # Then the old generation is gone and the current version stays
    report = json.loads(capsys.readouterr().out)
    assert report == {"binId": new_bin, "binExists": True, "belowGeneration": 1, "deleted": 30}
    assert api("GET", f"/b/{new_bin}/1").body["record"] == {"v": "kept"}
    assert len(bin_items(ddb)) == 2
    # and for a deleted bin, every version item goes
    api("DELETE", f"/b/{new_bin}")
    capsys.readouterr()
    assert admin.main(["--table", TABLE, "purge", new_bin]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"binId": new_bin, "binExists": False, "belowGeneration": None, "deleted": 1}
    assert bin_items(ddb) == []
    # and running it again is harmless
    assert admin.main(["--table", TABLE, "purge", new_bin]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] == 0


def test_admin_purge_refuses_a_malformed_bin_id(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from binvault import admin

    assert admin.main(["--table", TABLE, "purge", "not-a-bin"]) == 1
    assert "Invalid Bin Id provided" in capsys.readouterr().err
