"""The whole local stack (`make run`) in a subprocess, reached over loopback HTTP
(tests/support/stack.py): one for the session, ``service``; tests that restart or kill a
stack start their own with ``start_stack``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, start_stack


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("binvault-data"))
    try:
        yield stack
    finally:
        stack.stop()
