"""What a cold start loads and runs (handlers/coldstart.py, dal/botocore_loader.py).

A fresh interpreter imports the API handler and serves a plain read (``GET /v3/b/{id}``)
against moto's DynamoDB server, as a Lambda execution environment would; the test then
reads the child's ``sys.modules`` and the collector's state. Timing is the benchmark's
(``bench/cold_start.py``); here only what is and is not imported, and what runs.
"""

from __future__ import annotations

import ast
import functools
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IDEMPOTENCY_TABLE, TABLE
from tests.support.inproc import reset_caches
from tests.support.stack import moto_server

ROOT = Path(__file__).resolve().parents[2]

# Heavy modules a plain read must not import: (what, module names or prefixes).
NOT_IMPORTED = {
    "asyncio (Powertools' AppSync resolvers pull it in)": ("asyncio",),
    "the other Powertools resolvers": (
        "aws_lambda_powertools.event_handler.appsync",
        "aws_lambda_powertools.event_handler.events_appsync",
        "aws_lambda_powertools.event_handler.bedrock_agent",
        "aws_lambda_powertools.event_handler.vpc_lattice",
        "aws_lambda_powertools.event_handler.lambda_function_url",
    ),
    "the data classes of other event sources": (
        "aws_lambda_powertools.utilities.data_classes.sqs_event",
        "aws_lambda_powertools.utilities.data_classes.s3_event",
        "aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event",
        "aws_lambda_powertools.utilities.data_classes.kinesis_stream_event",
        "aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event",
        "aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event",
    ),
    "X-JSON-Path's parser (only with the header)": ("jsonpath_ng",),
    "schema validation": ("jsonschema", "jsonschema_rs", "fastjsonschema"),
    "pydantic (the OpenAPI build only)": ("pydantic",),
    "the X-Ray SDK (tracing is off)": ("aws_xray_sdk", "wrapt"),
    "boto3 (botocore directly)": ("boto3",),
    "the local stack and the docs build": ("binvault.local", "binvault_docs", "moto"),
}

_CHILD = """
import gc, json, os, sys
enabled_before = gc.isenabled()
from binvault.handlers.api import lambda_handler
after_import = gc.isenabled()

class Context:
    function_name = "binvault-test"; memory_limit_in_mb = 512; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:binvault-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self): return 28000

reply = lambda_handler(json.loads(os.environ["TEST_EVENT"]), Context())
print(json.dumps({
    "status": reply["statusCode"], "body": json.loads(reply["body"]), "modules": sorted(sys.modules),
    "gc": [enabled_before, after_import, gc.isenabled()], "frozen": gc.get_freeze_count(),
}))
"""


@pytest.fixture(scope="module")
def dynamodb_server() -> Iterator[str]:
    """moto's server for the child processes (a plain read needs no records bucket)."""
    with moto_server(TABLE, IDEMPOTENCY_TABLE) as url:
        yield url


@pytest.fixture
def stored_bin(dynamodb_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An account, its key and one private bin, stored on the server."""
    from binvault import admin
    from binvault.logic import bins

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_server)
    reset_caches()
    key = admin.create_account(100)["masterKey"]
    bin_id = bins.create_bin(key, {"greeting": "hello"}, True, None).body["metadata"]["id"]
    reset_caches()
    return {"key": key, "bin": bin_id, "endpoint": dynamodb_server}


def cold_request(path: str, endpoint: str, key: str | None = None, in_lambda: bool = True) -> dict[str, Any]:
    """A fresh interpreter: import the API handler, serve one GET, report what it loaded."""
    from binvault.local.events import rest_event

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "binvault",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "TEST_EVENT": json.dumps(rest_event("GET", path, {"X-Master-Key": key} if key else {})),
    }
    if in_lambda:
        env["AWS_LAMBDA_FUNCTION_NAME"] = "binvault-test"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def imported(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == name or m.startswith(f"{name}.") for name in names)]


# ---- what a plain read imports ---------------------------------------------------------


def test_a_plain_read_imports_none_of_the_heavy_modules(stored_bin: dict[str, str]) -> None:
    # Given a stored private bin / When a fresh interpreter serves GET /v3/b/{id} with its key
    result = cold_request(f"/b/{stored_bin['bin']}", stored_bin["endpoint"], stored_bin["key"])
    # Then the read was served
    assert result["status"] == 200, result["body"]
    assert result["body"]["record"] == {"greeting": "hello"}
    # And none of the heavy modules was imported
    modules = result["modules"]
    for what, names in NOT_IMPORTED.items():
        assert not imported(modules, names), what
    # And no S3 code of any kind (s3transfer, an S3 data layer, botocore's S3 customisations)
    assert not [m for m in modules if any(part.startswith("s3") for part in m.split("."))]
    # And of the all-events data classes package, only what the REST resolver uses
    data_classes = imported(modules, ("aws_lambda_powertools.utilities.data_classes",))
    assert "aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event" in data_classes
    assert len(data_classes) < 10, data_classes
    # And the botocore client it built knows DynamoDB's model only
    assert "botocore.session" in modules


def test_a_malformed_request_needs_no_botocore_outside_lambda(stored_bin: dict[str, str]) -> None:
    # Given a cold start outside Lambda (the local stack's workers, tests) / When the id is malformed
    result = cold_request("/b/not-a-bin-id", stored_bin["endpoint"], stored_bin["key"], in_lambda=False)
    # Then it is answered without a DynamoDB client, so without botocore's session and client
    # (Powertools imports the bare botocore package, to add its user agent to clients)
    assert (result["status"], result["body"]) == (400, {"message": "Invalid Bin Id provided"})
    assert not imported(result["modules"], ("botocore.session", "botocore.client", "boto3", "urllib3"))


# ---- the garbage collector -------------------------------------------------------------


def test_in_lambda_the_collector_waits_for_the_first_answer_then_runs_again(stored_bin: dict[str, str]) -> None:
    # Given a Lambda execution environment / When the handler is imported and serves a read
    result = cold_request(f"/b/{stored_bin['bin']}", stored_bin["endpoint"], stored_bin["key"])
    # Then the collector was paused by the import and is running again after the answer
    assert result["status"] == 200
    assert result["gc"] == [True, False, True]
    # And what init allocated is frozen out of later collections
    assert result["frozen"] > 10_000


def test_in_lambda_the_collector_runs_again_after_a_refused_first_request(stored_bin: dict[str, str]) -> None:
    result = cold_request("/b/not-a-bin-id", stored_bin["endpoint"], stored_bin["key"])
    assert result["status"] == 400
    assert result["gc"] == [True, False, True]


def test_outside_lambda_the_collector_is_left_alone(stored_bin: dict[str, str]) -> None:
    result = cold_request(f"/b/{stored_bin['bin']}", stored_bin["endpoint"], stored_bin["key"], in_lambda=False)
    assert result["status"] == 200
    assert result["gc"] == [True, True, True]
    assert result["frozen"] == 0


@pytest.fixture
def paused_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's collector paused as in Lambda, and put back afterwards."""
    from binvault.handlers import coldstart

    was_enabled = gc.isenabled()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "binvault-test")
    gc.enable()
    coldstart.pause_gc()
    try:
        yield
    finally:
        monkeypatch.setattr(coldstart, "_gc_paused", False)
        gc.unfreeze()
        (gc.enable if was_enabled else gc.disable)()


def test_the_collector_runs_again_when_the_first_invocation_raises(paused_collector: None) -> None:
    from binvault.handlers import coldstart

    # Given a handler whose first invocation raises
    @coldstart.first_invocation()
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        raise RuntimeError("boom")

    assert not gc.isenabled()
    # When it is invoked / Then the error goes out as it was and the collector runs again
    with pytest.raises(RuntimeError, match="boom"):
        handler({}, None)
    assert gc.isenabled()


def test_a_failed_prepare_leaves_the_request_to_meet_the_failure_where_it_is_handled(paused_collector: None) -> None:
    from binvault.handlers import coldstart

    calls: list[str] = []

    def prepare() -> None:
        calls.append("prepare")
        raise ConnectionError("no DynamoDB yet")

    # Given a first invocation whose preparation (building the client) fails
    @coldstart.first_invocation(prepare=prepare)
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        calls.append("handler")
        return {"statusCode": 503}

    # When it is invoked twice / Then the handler answers both (no hang, no error of its own),
    # the preparation ran on the first invocation only, and the collector runs again
    assert handler({}, None) == {"statusCode": 503}
    assert handler({}, None) == {"statusCode": 503}
    assert calls == ["prepare", "handler", "handler"]
    assert gc.isenabled()


def test_the_first_request_builds_the_client_before_it_fans_out(
    paused_collector: None, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client is built on the invocation's own thread, not on the I/O pool's."""
    import threading

    from binvault.dal import client
    from binvault.handlers import api
    from binvault.local.events import LocalContext, rest_event

    builders: list[str] = []
    build = client._create_client.__wrapped__

    def recording_build() -> Any:
        builders.append(threading.current_thread().name)
        return build()

    monkeypatch.setattr(client, "_create_client", functools.lru_cache(maxsize=1)(recording_build))
    event = rest_event("GET", "/b/0123456789abcdef01234567", {"X-Master-Key": "x" * 43})
    reply = api.lambda_handler(event, LocalContext())
    assert reply["statusCode"] == 401
    assert builders == [threading.current_thread().name]


# ---- lazy package __init__ -------------------------------------------------------------

_LAZY_CHILD = """
import json, sys
from binvault.handlers import coldstart
import aws_lambda_powertools.event_handler as handler_package
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
steps = {"lazy": "__getattr__" in vars(handler_package), "asyncio_after_rest": "asyncio" in sys.modules}
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.event_handler.appsync import AppSyncResolver as Real
steps["appsync_is_the_real_one"] = AppSyncResolver is Real
steps["submodule_attribute"] = handler_package.bedrock_agent.__name__
namespace = {}
exec("from aws_lambda_powertools.utilities.data_classes import *", namespace)
import aws_lambda_powertools.utilities.data_classes as data_classes
steps["star_import_complete"] = sorted(data_classes.__all__) == sorted(n for n in namespace if n != "__builtins__")
try:
    handler_package.NoSuchThing
    steps["unknown_name"] = "found"
except AttributeError as error:
    steps["unknown_name"] = str(error)
steps["doc"] = handler_package.__doc__
print(json.dumps(steps))
"""


def test_a_lazy_package_resolves_every_name_its_init_exports() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _LAZY_CHILD], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    assert steps == {
        "lazy": True,
        "asyncio_after_rest": False,  # the REST resolver alone pulled in no AppSync
        "appsync_is_the_real_one": True,  # any other name still resolves, to the same object
        "submodule_attribute": "aws_lambda_powertools.event_handler.bedrock_agent",
        "star_import_complete": True,
        "unknown_name": "module 'aws_lambda_powertools.event_handler' has no attribute 'NoSuchThing'",
        "doc": "Event handler decorators for common Lambda events",
    }


@pytest.mark.parametrize(
    "source",
    [
        "import os\nfrom .a import b",  # an import of something else
        "from .a import b\nb.configure()",  # a side effect
        "from .a import *",  # names it cannot know
        "from other.package import b",  # another package's names
        "from .a import b\nVERSION = '1'",  # an assignment other than __all__
    ],
)
def test_an_init_that_does_more_than_reexport_is_imported_as_usual(source: str) -> None:
    from binvault.handlers.coldstart import reexports

    assert reexports("pkg", ast.parse(source)) is None


def test_an_init_that_only_reexports_is_read_name_by_name() -> None:
    from binvault.handlers.coldstart import reexports

    source = '"""Doc."""\nfrom .a import B, C as D\nfrom pkg.sub.e import F\n__all__ = ["B", "D", "F"]\n'
    assert reexports("pkg", ast.parse(source)) == (
        {"B": ("pkg.a", "B"), "D": ("pkg.a", "C"), "F": ("pkg.sub.e", "F")},
        ["B", "D", "F"],
    )


# ---- botocore's loader -----------------------------------------------------------------


def test_the_loader_finds_a_service_without_listing_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session
    from botocore.loaders import Loader

    from binvault.dal.botocore_loader import loader_for

    listed: list[str] = []
    real_listdir = os.listdir

    def counting_listdir(path: Any = ".") -> list[str]:
        listed.append(str(path))
        return real_listdir(path)

    loader = loader_for(botocore.session.Session())
    monkeypatch.setattr(os, "listdir", counting_listdir)
    # When a client's models are looked up
    assert "dynamodb" in loader.list_available_services("service-2")
    assert "dynamodb" in loader.list_available_services("endpoint-rule-set-1")
    assert "no-such-service" not in loader.list_available_services("service-2")
    # Then only those services' own directories were listed (botocore lists 400+)
    assert listed and all(path.endswith(("dynamodb", "no-such-service")) for path in listed), listed
    assert loader.load_service_model("dynamodb", "service-2")  # the model loads
    monkeypatch.setattr(os, "listdir", real_listdir)
    # And the model is botocore's own, and the full list (iterated) is botocore's answer
    assert loader.load_service_model("dynamodb", "service-2") == Loader().load_service_model("dynamodb", "service-2")
    assert list(loader.list_available_services("service-2")) == Loader().list_available_services("service-2")


def test_a_session_with_the_loader_still_creates_any_client() -> None:
    """A session shared by other clients (the test harness, say) keeps working for every service."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    from binvault.dal import botocore_loader

    session = botocore.session.Session()
    botocore_loader.install(session)
    loader = session.get_component("data_loader")
    botocore_loader.install(session)  # once: a second install keeps the loader and its cache
    assert session.get_component("data_loader") is loader
    for service in ("dynamodb", "dynamodbstreams", "s3"):
        assert session.create_client(service, region_name="us-east-1").meta.service_model.service_name == service
    with pytest.raises(UnknownServiceError, match=r"Valid service names are: .*dynamodb"):
        session.create_client("no-such-service", region_name="us-east-1")


def test_the_loader_honours_aws_data_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    from binvault.dal.botocore_loader import loader_for

    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = loader_for(botocore.session.Session())
    assert loader.search_paths[0] == str(tmp_path)
