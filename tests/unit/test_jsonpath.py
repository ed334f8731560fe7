"""X-JSON-Path: JSONBin's documented example expressions, filters, no match, bad expressions."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from binvault.exceptions import InvalidJsonPath
from binvault.logic import jsonpath

USERS = [
    {"firstName": "Ada", "age": 36, "country": "UK"},
    {"firstName": "Grace", "age": 85, "country": "US"},
    {"firstName": "Linus", "age": 21, "country": "FI"},
]
RECORD = {"moduleAccess": {"users": USERS, "userPermissions": {"admin": True, "country": "SE"}}}


def select(expression: str, record: Any = RECORD) -> list[Any]:
    normalised = jsonpath.expression(expression)
    assert normalised is not None
    return jsonpath.select(record, normalised)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$.moduleAccess.users[*].firstName", ["Ada", "Grace", "Linus"]),
        ("$..country", ["UK", "US", "FI", "SE"]),
        ("$.moduleAccess.*", [USERS, {"admin": True, "country": "SE"}]),
        ("$.moduleAccess..age", [36, 85, 21]),
        ("$..users[2]", [USERS[2]]),
        ("$..users[(@.length-1)]", [USERS[2]]),
        ("$..users[-1:]", [USERS[2]]),
        ("$..users[0,1]", USERS[:2]),
        ("$..users[:2]", USERS[:2]),
        ("moduleAccess.users[0].firstName", ["Ada"]),  # JSONBin's read-page example: no $
        ("$..users[?(@.age > 30)].firstName", ["Ada", "Grace"]),
        ("$..users[?(@.age > 30 && @.country == 'US')].firstName", ["Grace"]),
        ("$..users[?(@.age < 25 || @.country == 'UK')].firstName", ["Ada", "Linus"]),
        ("$.nothing.here", []),
        ("$..users[?(@.age > 100)]", []),
    ],
)
def test_documented_expressions(expression: str, expected: list[Any]) -> None:
    assert select(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "$..[",
        "$.a[?(@.x ==)]",
        "__import__('os').system('true')",
        "$..users[?(@.c =~ '(a+)+$')]",
        "x" * 2000,
    ],
)
def test_bad_expressions_are_400(expression: str) -> None:
    with pytest.raises(InvalidJsonPath) as refused:
        select(expression)
    assert (refused.value.status, refused.value.message) == (400, "Invalid X-JSON-Path expression passed")


def test_absent_header_is_none() -> None:
    assert jsonpath.expression(None) is None


def test_the_library_is_not_imported_by_a_plain_read() -> None:
    code = (
        "import sys; from binvault.handlers import api; "
        "assert 'jsonpath_ng' not in sys.modules, sorted(m for m in sys.modules if 'jsonpath' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
