"""X-JSON-Path: a slice of a record, selected by a JSONPath expression (Goessner syntax).

Evaluated by jsonpath-ng's extended parser (filters ``?()``, slices, unions, recursive
descent, ``@.length``-style script subscripts translated below): it parses the expression
into its own tree and walks the record, so no expression ever reaches ``eval``. The
library is imported only when a request carries the header, so a plain read's cold start
never pays for it.

Decisions where JSONBin's docs are silent: a leading ``$`` is optional; the answer is always
the array of matches (``[]`` when nothing matches); regular-expression filters (``=~``) are
refused, because a pathological pattern could run for minutes on a large record.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from binvault.exceptions import InvalidJsonPath

MAX_EXPRESSION_CHARS = 1024
# JSONBin's documented "script expression": the last n items, e.g. users[(@.length-1)]
_FROM_END = re.compile(r"\[\(\s*@\.length\s*-\s*([0-9]+)\s*\)\]")


def expression(raw: str | None) -> str | None:
    """The header, checked and normalised before any I/O; None when absent."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or len(text) > MAX_EXPRESSION_CHARS or "=~" in text:
        raise InvalidJsonPath()
    text = _FROM_END.sub(lambda m: f"[-{m.group(1)}]", text)
    if not text.startswith("$"):
        text = "$." + text.lstrip(".")
    _compiled(text)  # a malformed expression is a 400 before anything is read or charged
    return text


@lru_cache(maxsize=256)
def _compiled(text: str) -> Any:
    from jsonpath_ng.ext.parser import parse

    try:
        return parse(text)
    except Exception as error:  # the parser raises several kinds for malformed input
        raise InvalidJsonPath() from error


def select(record: Any, text: str) -> list[Any]:
    try:
        return [match.value for match in _compiled(text).find(record)]
    except InvalidJsonPath:
        raise
    except Exception as error:  # e.g. a filter comparing a string with a number
        raise InvalidJsonPath() from error
