"""The service in this process: its caches, and the local stack's parts started here
(``binvault.local.stack.running``) for the tests that need to reach inside it (the soak
injects faults into the handler's own DynamoDB client; the journal tests restart it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.stack import free_port


def reset_caches() -> None:
    """Forget the settings, the DynamoDB client and the key cache (a new environment)."""
    from binvault.dal.client import dynamodb
    from binvault.logic import auth
    from binvault.models.settings import get_settings

    get_settings.cache_clear()
    dynamodb.cache_clear()
    auth.clear_cache()


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
