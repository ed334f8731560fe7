"""The deployed artifact is the tested one.

- ``sam build`` (BuildMethod: makefile) runs the Makefile's build-<Function> targets: run
  them here with a fake ARTIFACTS_DIR and compare file by file with build/package, the
  artifact ``make package`` builds.
- A Lambda-runtime rehearsal: build/package run by a clean Python 3.13 (``-I -S``: no
  site-packages, no PYTHON* variables) with only the SDK the runtime provides (boto3 and
  botocore at requirements-dev.txt's pins, pip-installed into build/lambda-sdk/), driving
  every route, an Idempotency-Key replay and the purge handler against moto's DynamoDB
  server. Anything the artifact imports that is not in it fails the rehearsal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import moto_server

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "build" / "package"
DRIVER = Path(__file__).with_name("rehearsal_driver.py")
FUNCTIONS = ("ApiFunction", "PurgeFunction", "UsageLogsFunction")
# Never part of a deployment: tests, the dev environment, build leftovers. (A top-level
# __pycache__/ holds the bytecode of the top-level modules, typing_extensions.py and such.)
NOT_SHIPPED = {"tests", ".venv", ".aws-sam", "bench", "events", "docs", ".git"}
REHEARSAL_BUCKET = "binvault-rehearsal-records"
# Every test here builds or reads build/package (and build/lambda-sdk): under pytest-xdist
# (make test: --dist loadgroup) they run on one worker, so no two builds race in build/.
pytestmark = pytest.mark.xdist_group("artifact")


def tree(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root``."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """What `sam build` would put in .aws-sam/build/<Function>/, per function."""
    out = tmp_path_factory.mktemp("aws-sam-build")
    built = {}
    for function in FUNCTIONS:
        artifacts = out / function
        subprocess.run(
            ["make", "--no-print-directory", f"build-{function}", f"ARTIFACTS_DIR={artifacts}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        built[function] = tree(artifacts)
    return built


def test_sam_build_output_is_the_tested_package(sam_build: dict[str, dict[str, str]]) -> None:
    package = tree(PACKAGE)
    assert package, "build/package is empty"
    for function, files in sam_build.items():
        assert files == package, function  # same files, same bytes: the package built twice is identical


def test_the_artifact_holds_the_code_and_no_sdk_no_tests(sam_build: dict[str, dict[str, str]]) -> None:
    files = sam_build["ApiFunction"]
    top = {name.split("/")[0] for name in files}
    assert {"binvault", "aws_lambda_powertools"} <= top
    assert not top & NOT_SHIPPED, top & NOT_SHIPPED
    # The SDK is left to the runtime (scripts/package.sh): bundling one would pair a botocore
    # of ours with the runtime's boto3.
    assert not top & {"boto3", "botocore", "s3transfer", "urllib3", "dateutil"}, top
    assert "binvault/handlers/api.py" in files and "binvault/handlers/purge.py" in files
    assert "binvault/handlers/usage_logs.py" in files
    # the web console's static files ship with the API (handlers/console.py serves them)
    assert {"binvault/console/index.html", "binvault/console/app.js", "binvault/console/console.css"} <= set(files)


def test_the_artifact_ships_unchecked_python313_bytecode_for_every_module(sam_build: dict[str, dict[str, str]]) -> None:
    """scripts/package.sh: /var/task is read-only, so without .pyc files Lambda would compile
    every module on every cold start."""
    if not _python313()[1]:
        pytest.skip("no Python 3.13 here: package.sh builds the artifact without bytecode")
    files = sam_build["ApiFunction"]
    compiled = {name for name in files if name.endswith(".pyc")}
    sources = {name for name in files if name.endswith(".py")}
    assert all(re.search(r"(^|/)__pycache__/[^/]+\.cpython-313\.pyc$", name) for name in compiled), compiled
    expected = {re.sub(r"([^/]+)\.py$", r"__pycache__/\1.cpython-313.pyc", name) for name in sources}
    assert expected <= compiled, sorted(expected - compiled)[:5]
    for name in (
        "binvault/handlers/__pycache__/api.cpython-313.pyc",
        "binvault/dal/__pycache__/client.cpython-313.pyc",
    ):
        header = (PACKAGE / name).read_bytes()[:16]
        assert int.from_bytes(header[4:8], "little") == 1, name  # hash-based, source never checked


def test_template_builds_both_functions_with_the_makefile() -> None:
    from binvault.local.template_tables import load_template

    template = load_template()
    assert template["Globals"]["Function"]["CodeUri"] == "."  # the directory holding the Makefile
    makefile = (ROOT / "Makefile").read_text()
    for function in FUNCTIONS:
        resource = template["Resources"][function]
        assert resource["Metadata"] == {"BuildMethod": "makefile"}, function
        assert "CodeUri" not in resource["Properties"], function
        assert re.search(rf"^[^\n]*\bbuild-{function}\b[^\n]*:", makefile, re.MULTILINE), function


# ---- the rehearsal --------------------------------------------------------------------


def _pins() -> dict[str, str]:
    text = (ROOT / "requirements-dev.txt").read_text()
    return {name: re.search(rf"^{name}==(\S+)", text, re.MULTILINE).group(1) for name in ("boto3", "botocore")}  # type: ignore[union-attr]


def _python313() -> tuple[str, bool]:
    """(interpreter, is it 3.13) -- the runtime's version where this machine has it."""
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob("3.13*/bin/python3.13"))
    for candidate in [*map(str, pyenv), shutil.which("python3.13")]:
        if candidate and os.access(candidate, os.X_OK) and _runs(candidate):
            return candidate, True
    fallback = shutil.which("python3") or sys.executable
    return fallback, False


def _runs(python: str) -> bool:
    # a pyenv shim exists even where it cannot run the version
    return subprocess.run([python, "-I", "-S", "-c", "pass"], capture_output=True).returncode == 0


def _version(python: str) -> str:
    out = subprocess.run(
        [python, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def runtime_sdk(python: str) -> Path:
    """boto3 + botocore (and their dependencies) as the runtime provides them, cached under build/."""
    pins, version = _pins(), _version(python)
    target = ROOT / "build" / "lambda-sdk" / f"py{version}-boto3-{pins['boto3']}-botocore-{pins['botocore']}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--only-binary=:all:", "--python-version", version, "--target", str(target),
            f"boto3=={pins['boto3']}", f"botocore=={pins['botocore']}",
        ],
        check=True,
    )  # fmt: skip
    (target / ".complete").write_text("")
    return target


@pytest.fixture(scope="module")
def dynamodb_endpoint() -> Iterator[tuple[str, str, str]]:
    """moto's server with template.yaml's tables and the records bucket (the purge lists and
    deletes in it, and the rehearsal stores a large record)."""
    tables = ("binvault-rehearsal", "binvault-rehearsal-idempotency")
    with moto_server(*tables, bucket=REHEARSAL_BUCKET) as url:
        yield url, *tables


def rehearse(package: Path, endpoint: tuple[str, str, str]) -> subprocess.CompletedProcess[str]:
    python, is_313 = _python313()
    if not is_313:
        warnings.warn(f"no Python 3.13 here: the rehearsal ran on {python} ({_version(python)})", stacklevel=2)
    sdk = runtime_sdk(python)
    url, table, idempotency_table = endpoint
    # What the Lambda runtime and template.yaml's Globals put in the environment; nothing else.
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(package),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": "binvault-rehearsal",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "rehearsal",
        "AWS_SECRET_ACCESS_KEY": "rehearsal",
        "AWS_ENDPOINT_URL_DYNAMODB": url,
        "TABLE_NAME": table,
        "IDEMPOTENCY_TABLE_NAME": idempotency_table,
        "BUCKET_NAME": REHEARSAL_BUCKET,
        "AWS_ENDPOINT_URL_S3": url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "binvault",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [python, "-I", "-S", "-B", str(DRIVER), str(package), str(sdk)],
        env=env,
        cwd=package,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lambda_runtime_rehearsal(sam_build: Any, dynamodb_endpoint: tuple[str, str, str]) -> None:
    result = rehearse(PACKAGE, dynamodb_endpoint)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["checks"] >= 25, summary
    assert summary["python"].startswith("3.13.") or not _python313()[1], summary
    assert "botocore" in summary["sdk_modules"], summary  # the runtime's SDK served the calls


def test_the_rehearsal_fails_when_the_artifact_needs_what_it_lacks(
    sam_build: Any, dynamodb_endpoint: tuple[str, str, str], tmp_path: Path
) -> None:
    # Given an artifact whose handler imports a dev-only package (installed in .venv, not shipped)
    leaky = tmp_path / "package"
    shutil.copytree(PACKAGE, leaky)
    handler = leaky / "binvault" / "handlers" / "api.py"
    handler.write_text(handler.read_text() + "\nimport pydantic  # noqa\n")
    # (its shipped bytecode is never checked against the source: a changed source needs a rebuild)
    for stale in handler.parent.glob("__pycache__/api.*.pyc"):
        stale.unlink()
    # When it is rehearsed / Then it fails
    result = rehearse(leaky, dynamodb_endpoint)
    assert result.returncode != 0
    assert "No module named 'pydantic'" in result.stderr
