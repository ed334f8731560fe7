"""The service in this process: its caches; the real lambda_handler called with API
Gateway events (``Api``) on moto's in-process DynamoDB with the template's tables
(``moto_tables``), for the api tests and the benchmarks that count calls and units; and
the local stack's parts started here (``in_process``) for the tests that reach inside it
(the soak injects faults into the handler's own DynamoDB client; the journal tests
restart it)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.stack import free_port


def reset_caches() -> None:
    """Forget the settings, the DynamoDB and S3 clients and the key cache (a new environment)."""
    from binvault.dal.blobs import s3
    from binvault.dal.client import dynamodb
    from binvault.logic import auth
    from binvault.models.settings import get_settings

    get_settings.cache_clear()
    dynamodb.cache_clear()
    s3.cache_clear()
    auth.clear_cache()


@contextmanager
def shared_botocore_models() -> Iterator[None]:
    """Every botocore session made meanwhile in this process (``dal.client.new_client``'s,
    boto3's) gets one data loader, binvault's own (``dal.botocore_loader``), which keeps the
    JSON models it has read: the tests build fresh clients for every test (``reset_caches``),
    and parsing the same DynamoDB, S3 and endpoint models again each time was most of a
    test's setup. What a client is built from is unchanged: the same loader, the same files
    (one loader per ``AWS_DATA_PATH``); sessions made with ``botocore.session.Session()``
    directly, as the loader's own tests do, keep theirs."""
    import botocore.session

    from binvault.dal import botocore_loader

    real = botocore.session.get_session
    loaders: dict[str | None, Any] = {}

    def get_session(env_vars: Any = None) -> Any:
        session = real(env_vars)
        data_path = session.get_config_variable("data_path")
        if data_path not in loaders:
            loaders[data_path] = botocore_loader.loader_for(session)
        session.register_component("data_loader", loaders[data_path])
        return session

    botocore.session.get_session = get_session
    try:
        yield
    finally:
        botocore.session.get_session = real


@contextmanager
def restored_environment() -> Iterator[None]:
    """Put this process's environment, the service's caches and Powertools' metrics buffer
    back as they were (``running`` sets the local stack's environment)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_caches()
        # Metrics recorded while the stack had them disabled stay in Powertools' shared
        # buffer; the next handler call in this process would print them.
        from binvault.handlers import api, purge

        api.metrics.clear_metrics()
        purge.metrics.clear_metrics()


@contextmanager
def in_process(**options: Any) -> Iterator[Any]:
    """``binvault.local.stack.running`` on free ports (``options``: its keyword arguments),
    with the environment restored afterwards; yields its ``LocalStack``."""
    from binvault.local.stack import running

    with restored_environment(), running(free_port(), free_port(), **options) as stack:
        yield stack


def _once_a_botocore_session(register: Any) -> Any:
    """boto3's ``Session._register_default_handlers`` (``register``), skipped on a botocore
    session that has them already."""

    def register_once(self: Any) -> None:
        if not getattr(self._session, "_binvault_boto3_handlers", False):
            register(self)
            self._session._binvault_boto3_handlers = True

    return register_once


@contextmanager
def moto_tables(env: dict[str, str]) -> Iterator[Any]:
    """Both tables (TABLE_NAME and IDEMPOTENCY_TABLE_NAME of ``env``) in one moto world, in
    this process's environment set to ``env`` (the caller's AWS and Powertools settings
    dropped) until the end; yields a DynamoDB client.

    A client from a fresh botocore session reloads the service model (~0.5 s), and the
    tests drop the cached client before every test: one shared session avoids that (moto is
    imported first, so the session carries moto's hook).
    """
    import boto3
    import botocore.session
    import pytest
    from moto import mock_aws

    from binvault.local import moto_fixes
    from binvault.local.template_tables import create_tables

    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "POWERTOOLS_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        session = botocore.session.get_session()
        patch.setattr(botocore.session, "get_session", lambda env_vars=None: session)
        patch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3.client() here: this session, then undone
        # Every boto3.Session() made meanwhile (boto3.client()'s after moto resets boto3's
        # default session, moto's own, a world's inside another's) wraps this one botocore
        # session, and each would register boto3's S3 handlers on it again: an S3 client
        # built after two of them fails ("Cannot inject class attribute upload_file").
        register = _once_a_botocore_session(boto3.session.Session._register_default_handlers)
        patch.setattr(boto3.session.Session, "_register_default_handlers", register)
        reset_caches()
        moto_fixes.install()
        try:
            with mock_aws():
                client = session.create_client("dynamodb")
                create_tables(client, env["TABLE_NAME"], env["IDEMPOTENCY_TABLE_NAME"])
                yield client
        finally:
            reset_caches()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: str

    @property
    def message(self) -> str | None:
        return self.body.get("message") if isinstance(self.body, dict) else None


_ENVIRONMENT = threading.Lock()


class Api:
    """Calls the real lambda_handler with API Gateway REST proxy events.

    One call at a time, like one Lambda execution environment (Powertools keeps the current
    event on the resolver): tests of concurrent clients call ``logic/`` from threads, which
    is what separate execution environments sharing one table amount to.
    """

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def __call__(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        key: str | bool | None = True,
    ) -> Reply:
        from binvault.handlers.api import lambda_handler
        from binvault.local.events import LocalContext, rest_event

        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        chosen = self.key if key is True else key
        if chosen:
            pairs.append(("X-Master-Key", chosen))
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
            if not any(name.lower() == "content-type" for name, _ in pairs):
                pairs.append(("Content-Type", "application/json"))
        with _ENVIRONMENT:
            result = lambda_handler(rest_event(method, path, pairs, body, query), LocalContext())
        raw = result.get("body") or ""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        headers_out = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = ", ".join(values)
        return Reply(result["statusCode"], headers_out, parsed, raw)

    # conveniences for the common calls
    def create(self, record: Any = None, **headers: str) -> Reply:
        return self("POST", "/b", headers=_headers(headers), body=record or {"hello": "world"})

    def update(self, bin_id: str, record: Any, versioning: bool = True, **headers: str) -> Reply:
        extra = {"X-Bin-Versioning": "true" if versioning else "false", **_headers(headers)}
        return self("PUT", f"/b/{bin_id}", headers=extra, body=record)


def _headers(kwargs: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in kwargs.items()}


FRESH_PROCESS = """
import json, os, sys
from moto import mock_aws
from binvault.local import moto_fixes
from binvault.local.template_tables import create_tables
from binvault.dal.client import dynamodb
from binvault import admin
from binvault.handlers.api import lambda_handler
from binvault.local.events import LocalContext, rest_event

moto_fixes.install()
statuses, report = [], {}
def call(method, path, headers=None, body=None):
    reply = lambda_handler(rest_event(method, path, headers, body), LocalContext())
    statuses.append(reply["statusCode"])
    return json.loads(reply["body"])

with mock_aws():
    create_tables(dynamodb(), os.environ["TABLE_NAME"], os.environ["IDEMPOTENCY_TABLE_NAME"])
    key = {"X-Master-Key": admin.create_account(100)["masterKey"], "Content-Type": "application/json"}
%s
print(json.dumps({"statuses": statuses, "modules": sorted(sys.modules), **report}))
"""


def in_fresh_process(steps: str) -> dict[str, Any]:
    """Run ``steps`` (statements using ``call(method, path, headers, body)`` and ``key``, a
    new account's headers; they may fill ``report``) in a fresh interpreter on moto's
    in-process mock; returns each call's status, every module loaded, and ``report``."""
    import subprocess
    import sys
    import textwrap

    script = FRESH_PROCESS % textwrap.indent(textwrap.dedent(steps).strip(), "    ")
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
