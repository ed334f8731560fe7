"""The handlers' Powertools loggers, writing to whatever ``sys.stdout`` is when they write.

Powertools binds a logger's stream to ``sys.stdout`` when the logger is built, that is when
the handler module is first imported. In Lambda that is the same stream for ever; in one
process that imports the handler under a redirect (pytest's ``capsys``, ``invoke``'s
``redirect_stdout``) the bound stream is closed or gone once the redirect ends, and every
later line, or swapping the stream (the local stack's usage-log shipper), fails on it.
Resolving ``sys.stdout`` at each write makes the logger follow the process's current stdout.
"""

from __future__ import annotations

import io
import sys
from typing import IO, Any, cast

from aws_lambda_powertools import Logger


class CurrentStdout(io.TextIOBase):
    """A text stream that is the process's ``sys.stdout`` at the moment of each call."""

    def write(self, text: str) -> int:  # type: ignore[override]
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def writable(self) -> bool:
        return True


def make_logger(service: str, **options: Any) -> Logger:
    return Logger(service=service, stream=cast(IO[str], CurrentStdout()), **options)
