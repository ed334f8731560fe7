"""``tests.support.untraced`` measures the same coverage as tracing everything: one workload
through the real handler on moto's in-process mock runs under ``coverage run`` twice, moto
traced and untraced, and binvault's lines and arcs must match file for file, while moto's
request path must be absent from the untraced run (else the speed-up is not there)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import ROOT

WORKLOAD = """
import sys
from moto import mock_aws
from binvault.local import moto_fixes
if sys.argv[1] == "untraced":
    from tests.support import untraced
    untraced.install()
else:
    moto_fixes.install()
import json
from binvault import admin
from binvault.dal.client import dynamodb
from binvault.handlers.api import lambda_handler
from binvault.local.events import LocalContext, rest_event
from binvault.local.streams import StreamPoller
from binvault.local.template_tables import create_tables

with mock_aws():
    client = dynamodb()
    create_tables(client, "binvault-test", "binvault-test-idempotency")
    key = {"X-Master-Key": admin.create_account(1000)["masterKey"], "Content-Type": "application/json"}

    def call(method, path, body=None, **headers):
        event = rest_event(method, path, {**key, **headers}, None if body is None else json.dumps(body))
        return json.loads(lambda_handler(event, LocalContext())["body"])

    bin_id = call("POST", "/b", {"n": 0})["metadata"]["id"]
    for n in range(1, 4):
        call("PUT", f"/b/{bin_id}", {"n": n})
    call("GET", f"/b/{bin_id}/latest")
    call("GET", f"/b/{bin_id}/versions")
    call("POST", "/a", {"bins": {"read": True}}, **{"X-Key-Name": "reader"})
    call("DELETE", f"/b/{bin_id}/versions", **{"X-Preserve-Latest": "true"})
    call("GET", "/b/000000000000000000000000")
    StreamPoller("binvault-test").drain()
    try:  # a cancelled transaction: moto_fixes puts the named items back
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "binvault-test", "Item": {"pk": {"S": "x"}, "sk": {"S": "y"}}}},
            {"ConditionCheck": {"TableName": "binvault-test", "Key": {"pk": {"S": "no"}, "sk": {"S": "no"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    except client.exceptions.TransactionCanceledException:
        pass
    else:
        raise SystemExit("the transaction was not cancelled")
"""


def covered(tmp_path: Path, mode: str) -> dict[str, tuple[set[int], set[tuple[int, int]]]]:
    import moto
    from coverage import CoverageData

    script, data = tmp_path / "workload.py", tmp_path / f".coverage.{mode}"
    script.write_text(WORKLOAD)
    sources = f"{ROOT / 'src' / 'binvault'},{Path(moto.__file__).parent}"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("COV_", "COVERAGE"))},
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, "-m", "coverage", "run", "--branch", f"--source={sources}", f"--data-file={data}"]
    done = subprocess.run([*command, str(script), mode], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = CoverageData(basename=str(data))
    measured.read()
    return {
        name: (set(measured.lines(name) or ()), set(measured.arcs(name) or ())) for name in measured.measured_files()
    }


def body_lines(function: object) -> set[int]:
    """The lines of ``function`` after its ``def`` (decorators and ``def`` run at import)."""
    lines, first = inspect.getsourcelines(function)  # type: ignore[arg-type]
    header = next(n for n, text in enumerate(lines) if text.lstrip().startswith("def "))
    return set(range(first + header + 1, first + len(lines)))


@pytest.mark.usefixtures("aws_env")
def test_untraced_moto_measures_the_same_coverage(tmp_path: Path) -> None:
    from moto.dynamodb.responses import DynamoHandler

    from binvault.local import moto_fixes

    traced, untraced = covered(tmp_path, "traced"), covered(tmp_path, "untraced")
    ours = sorted(name for name in traced if f"{os.sep}binvault{os.sep}" in name)
    # Then binvault's lines and arcs are the same, file for file (moto_fixes' among them)
    assert ours == sorted(name for name in untraced if f"{os.sep}binvault{os.sep}" in name)
    assert [traced[name] for name in ours] == [untraced[name] for name in ours]
    fixes = traced[moto_fixes.__file__][0]
    source = Path(moto_fixes.__file__).read_text().splitlines()
    inside_moto = ["def serialize_structure", "def transact_write_items", "def remembered_parse", "def get_records"]
    for header in inside_moto:  # the workload reaches the code moto calls back
        line = next(n for n, text in enumerate(source, 1) if text.strip().startswith(header))
        assert line + 1 in fixes or line + 2 in fixes, header
    # And moto's request path ran untraced
    handler = inspect.getsourcefile(DynamoHandler)
    assert body_lines(DynamoHandler.get_item) & traced[handler][0]
    assert not body_lines(DynamoHandler.get_item) & untraced[handler][0]
