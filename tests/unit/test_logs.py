"""The handlers' loggers follow the process's current stdout (handlers/logs.py)."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pytest


def test_a_logger_built_under_a_redirect_still_writes_once_the_redirect_is_closed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from binvault.handlers.logs import make_logger

    gone = io.StringIO()
    with contextlib.redirect_stdout(gone):
        logger = make_logger("binvault-test-logs", level="INFO")
    gone.close()
    logger.info("after the redirect")
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["message"] == "after the redirect"
    # swapping the stream flushes the old one: no ValueError on a closed file
    (handler,) = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    before = handler.setStream(io.StringIO())
    assert handler.setStream(before) is not None


@pytest.mark.parametrize(
    ("module", "name"),
    [("api", "logger"), ("api", "usage_log"), ("purge", "logger"), ("usage_logs", "logger")],
)
def test_every_handlers_logger_writes_to_the_stdout_of_the_moment(module: str, name: str) -> None:
    import importlib

    logger = getattr(importlib.import_module(f"binvault.handlers.{module}"), name)
    now = io.StringIO()
    with contextlib.redirect_stdout(now):
        logger.warning("to the stdout of the moment")
    assert json.loads(now.getvalue())["message"] == "to the stdout of the moment"
