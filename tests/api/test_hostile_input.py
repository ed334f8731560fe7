"""Hostile and malformed requests on every route: each gets the contract's 4xx
``{"message"}`` answer, never a 5xx, and leaves every stored item as it was.

Validation runs before authentication, so a malformed request consumes no quota either;
the few cases refused after step 4 of the check order (a missing version, a stale
If-Match) are marked ``charged`` and must have cost exactly one request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import (
    IDEMPOTENCY_TABLE,
    TABLE,
    Account,
    Api,
    add_versions,
    make_account,
    module_moto_world,
    table_items,
)

KEY = object()  # stands for the account's real master key in a header list
ACCESS = object()  # stands for the stored read-only access key in a header list
ID = "{bid}"  # replaced by the stored bin's id
KID = "{kid}"  # replaced by the stored access key's id
LIMIT = 1_048_576  # MAX_BIN_BYTES default
JSON = [("Content-Type", "application/json")]

BAD_ID = "Invalid Bin Id provided"
BAD_VERSION = "Invalid Bin Version provided"
NO_ROUTE = "Route not found"
NO_KEY = "You need to pass X-Master-Key in the header"
BAD_KEY = "Invalid X-Master-Key provided"
NO_VERSION = "Bin version not found"
STALE = "Precondition Failed"
BAD_JSON = "Invalid JSON body"
BLANK = "Bin cannot be blank"
NOT_CONTAINER = "Bin must be a JSON object or array"
CONTENT_TYPE = "You need to pass Content-Type set to application/json"
NO_BODY = "This route does not take a request body"
TOO_LARGE = f"Bin size exceeds the limit of {LIMIT} bytes"
BAD_NAME = "X-Bin-Name must be 1 to 128 printable characters"
BAD_IF_MATCH = "If-Match must be an entity tag or *"
BAD_ACCESS_KEY = "Invalid X-Access-Key provided"
BAD_JSON_PATH = "Invalid X-JSON-Path expression passed"
NO_KEY_NAME = "You need to pass X-Key-Name header to set a name for the Access Key"
LONG_KEY_NAME = "Name of the Access Key cannot be above 32 characters"
BAD_KEY_NAME = "X-Key-Name must be printable characters"
BAD_PERMISSIONS = 'Access Key permissions must be {"bins": {"create", "read", "update", "delete": true or false}}'
BAD_KEY_ID = "Invalid Access Key Id provided"
NO_ACCESS_KEY = "Access Key not found or it doesn't belong to your account"
NO_RENAME = "You need to pass X-Bin-Name header to Update the Bin Name"
BAD_RENAME = "X-Bin-Name cannot be blank or over 128 characters"
NO_PRIVACY = "You need to provide X-Bin-Private header to change the Bin privacy"

ROUTES_WITH_ID = [
    ("GET", "/b/{bid}"),
    ("GET", "/b/{bid}/latest"),
    ("GET", "/b/{bid}/1"),
    ("GET", "/b/{bid}/versions/count"),
    ("PUT", "/b/{bid}"),
    ("DELETE", "/b/{bid}"),
    ("DELETE", "/b/{bid}/versions"),
]


def route_label(route: str) -> str:
    """``/b/{bid}/versions/count`` -> ``versions-count``, for readable test ids."""
    return "-".join(route.split("/")[3:]) or ("bin" if ID in route else "b")


def flag_message(name: str) -> str:
    return f"{name} must be true or false"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    message: str
    headers: tuple[tuple[str, Any], ...] = ()
    body: str | bytes | None = None
    query: tuple[tuple[str, str], ...] = ()
    key: Any = KEY  # KEY: the account's key is appended; None: no X-Master-Key; str: that value
    charged: bool = False  # refused after authentication: costs exactly one request


def valid_body(method: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    return (tuple(JSON), '{"ok": true}') if method in ("PUT", "POST") else ((), None)


def _cases() -> list[Case]:
    cases: list[Case] = []

    # ---- ids: traversal, unicode, wrong length or case -> 400 before anything else ----
    bad_ids = [
        ("dotdot", ".."),
        ("encoded-traversal", "..%2F..%2Fetc%2Fpasswd"),
        ("encoded-dots", "%2e%2e%2f"),
        ("nul", "\x00"),
        ("23-chars", "0123456789abcdef0123456"),
        ("25-chars", "0123456789abcdef012345678"),
        ("one-uppercase", "0123456789abcdeF01234567"),
        ("fullwidth-digits", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17" * 3),
        ("emoji", "\U0001f600" * 24),
        ("combining-mark", "0123456789abcdef0123456\u0301"),
        ("leading-space", " 0123456789abcdef0123456"),
        ("percent-nul-suffix", "0123456789abcdef01234567%00"),
        ("hex-prefix", "0x23456789abcdef01234567"),
        ("real-id-plus-one", ID + "a"),
    ]
    for index, (label, bad) in enumerate(bad_ids):
        method, route = ROUTES_WITH_ID[index % len(ROUTES_WITH_ID)]
        headers, body = valid_body(method)
        cases.append(Case(f"id-{label}-{method}", method, route.replace(ID, bad), 400, BAD_ID, headers, body))
    for label, path in [
        ("traversal-out-of-b", "/b/../../etc/passwd"),
        ("traversal-after-id", "/b/{bid}/../../../x"),
        ("extra-segments", "/b/{bid}/1/2"),
        ("double-slash", "/b//{bid}/latest/x"),
    ]:
        cases.append(Case(f"route-{label}", "GET", path, 404, NO_ROUTE))

    # ---- the version segment --------------------------------------------------------------
    for label, version in [
        ("negative", "-1"),
        ("fraction", "1.5"),
        ("exponent", "1e3"),
        ("fullwidth", "\uff11"),
        ("uppercase-latest", "LATEST"),
        ("latest-nul", "latest%00"),
        # /b/{id}/versions is the version list (test_list_versions.py); other spellings are not
        ("versions-uppercase", "VERSIONS"),
        ("version-singular", "version"),
    ]:
        cases.append(Case(f"version-{label}", "GET", f"/b/{ID}/{version}", 400, BAD_VERSION))
    for label, version in [("zero", "0"), ("beyond-count", "3"), ("12-digits", "9" * 12)]:
        cases.append(Case(f"version-{label}", "GET", f"/b/{ID}/{version}", 404, NO_VERSION, charged=True))

    # ---- X-Master-Key: huge, odd, duplicated --------------------------------------------
    huge = "k" * 65_536
    for method, route in [("GET", "/b/{bid}"), ("PUT", "/b/{bid}"), ("DELETE", "/b/{bid}/versions")]:
        headers, body = valid_body(method)
        cases.append(Case(f"key-64kb-{method}", method, route, 401, BAD_KEY, headers, body, key=huge))
        duplicate = (*headers, ("X-Master-Key", KEY), ("X-Master-Key", "someone-else"))
        cases.append(Case(f"key-duplicate-conflict-{method}", method, route, 401, BAD_KEY, duplicate, body, key=None))
    for label, value, message in [
        ("513-chars", "k" * 513, BAD_KEY),
        ("whitespace", "   ", NO_KEY),
        ("nul", "\x00", BAD_KEY),
        ("unicode", "\u043a\u043b\u044e\u0447\U0001f511", BAD_KEY),
        ("lone-surrogate", "\ud800", BAD_KEY),
    ]:
        cases.append(Case(f"key-{label}", "GET", "/b/{bid}/latest", 401, message, key=value))
    cases.append(
        Case(
            "key-duplicate-conflict-differing-case",
            "GET",
            "/b/{bid}",
            401,
            BAD_KEY,
            (("X-Master-Key", "someone-else"), ("x-master-key", KEY)),
            key=None,
        )
    )

    # ---- true/false headers with odd values and conflicting duplicates -------------------
    flags = [
        ("X-Preserve-Latest", "DELETE", "/b/{bid}/versions"),
        ("X-Bin-Versioning", "PUT", "/b/{bid}"),
        ("X-Bin-Private", "POST", "/b"),
        ("X-Bin-Meta", "GET", "/b/{bid}/latest"),
    ]
    odd_values = ["maybe", "1", "", "yes", "true,false", "t r u e", "\x00", "t" * 65_536]
    for index, value in enumerate(odd_values):
        for name, method, route in flags[index % 2 :: 2]:
            headers, body = valid_body(method)
            label = repr(value[:12])
            cases.append(
                Case(f"{name}-{label}", method, route, 400, flag_message(name), (*headers, (name, value)), body)
            )
    for name, method, route in flags:
        headers, body = valid_body(method)
        same_case = (*headers, (name, "true"), (name, "false"))
        cases.append(Case(f"{name}-duplicate-conflict", method, route, 400, flag_message(name), same_case, body))
        mixed_case = (*headers, (name, "true"), (name.lower(), "false"))
        cases.append(
            Case(
                f"{name}-duplicate-conflict-differing-case",
                method,
                route,
                400,
                flag_message(name),
                mixed_case,
                body,
            )
        )
    cases.append(Case("meta-query-odd", "GET", "/b/{bid}", 400, flag_message("meta"), query=(("meta", "nope"),)))
    cases.append(
        Case(
            "meta-query-conflict",
            "GET",
            "/b/{bid}/1",
            400,
            flag_message("meta"),
            query=(("meta", "false"), ("meta", "true")),
        )
    )

    # ---- X-Bin-Name ---------------------------------------------------------------------
    for label, value in [
        ("64kb", "n" * 65_536),
        ("empty", ""),
        ("129-chars", "n" * 129),
        ("newline", "a\nb"),
        ("only-spaces", "   "),
        ("lone-surrogate", "name\udc00"),
    ]:
        cases.append(Case(f"name-{label}", "POST", "/b", 400, BAD_NAME, (*JSON, ("X-Bin-Name", value)), "[1]"))
    cases.append(
        Case(
            "name-duplicate-conflict",
            "POST",
            "/b",
            400,
            BAD_NAME,
            (*JSON, ("X-Bin-Name", "a"), ("X-Bin-Name", "b")),
            "[1]",
        )
    )

    # ---- If-Match -------------------------------------------------------------------------
    for method, route in [("PUT", "/b/{bid}"), ("DELETE", "/b/{bid}"), ("DELETE", "/b/{bid}/versions")]:
        headers, body = valid_body(method)
        cases.append(
            Case(
                f"if-match-empty-{method}-{route_label(route)}",
                method,
                route,
                400,
                BAD_IF_MATCH,
                (*headers, ("If-Match", "")),
                body,
            )
        )
        cases.append(
            Case(
                f"if-match-64kb-{method}-{route_label(route)}",
                method,
                route,
                412,
                STALE,
                (*headers, ("If-Match", "e" * 65_536)),
                body,
                charged=True,
            )
        )
    cases.append(Case("if-match-commas", "PUT", "/b/{bid}", 400, BAD_IF_MATCH, (*JSON, ("If-Match", " , ,")), "[1]"))

    # ---- Content-Type on the two routes that take a body ---------------------------------
    content_types = [
        ("missing", None),
        ("empty", ""),
        ("text-plain", "text/plain"),
        ("form", "application/x-www-form-urlencoded"),
        ("json-patch", "application/json-patch+json"),
        ("jsonp", "application/jsonp"),
        ("multipart", "multipart/form-data; boundary=x"),
        ("nul-suffix", "application/json\x00"),
        ("64kb", "x" * 65_536),
    ]
    for index, (label, value) in enumerate(content_types):
        method, route = ("POST", "/b") if index % 2 else ("PUT", "/b/{bid}")
        headers = () if value is None else (("Content-Type", value),)
        cases.append(Case(f"content-type-{label}-{method}", method, route, 400, CONTENT_TYPE, headers, '{"a": 1}'))
    cases.append(
        Case(
            "content-type-duplicate-conflict",
            "POST",
            "/b",
            400,
            CONTENT_TYPE,
            (("Content-Type", "application/json"), ("Content-Type", "text/plain")),
            '{"a": 1}',
        )
    )

    # ---- bodies: invalid, deep, huge, not a container, odd numbers, bad encodings -------------
    deep_arrays = "[" * 10_000 + "]" * 10_000
    deep_objects = '{"a":' * 10_000 + "1" + "}" * 10_000
    bodies: list[tuple[str, str | bytes, int, str]] = [
        ("unclosed", "{", 400, BAD_JSON),
        ("single-quotes", "{'a': 1}", 400, BAD_JSON),
        ("trailing-comma", '{"a": 1,}', 400, BAD_JSON),
        ("trailing-garbage", '{"a": 1} x', 400, BAD_JSON),
        ("two-documents", '{"a": 1}{"b": 2}', 400, BAD_JSON),
        ("nul", "\x00", 400, BAD_JSON),
        ("deep-arrays-10000", deep_arrays, 400, BAD_JSON),
        ("deep-objects-10000", deep_objects, 400, BAD_JSON),
        ("deep-arrays-940", "[" * 940 + "]" * 940, 400, BAD_JSON),
        ("deep-arrays-600", "[" * 600 + "]" * 600, 400, BAD_JSON),
        ("oversized-ascii", '{"a": "' + "x" * LIMIT + '"}', 413, TOO_LARGE),
        ("oversized-multibyte", '{"a": "' + "\u20ac" * 400_000 + '"}', 413, TOO_LARGE),
        ("oversized-5mb", "[" + "1," * 2_500_000 + "1]", 413, TOO_LARGE),
        ("number", "1", 400, NOT_CONTAINER),
        ("string", '"text"', 400, NOT_CONTAINER),
        ("null", "null", 400, NOT_CONTAINER),
        ("true", "true", 400, NOT_CONTAINER),
        ("false", "false", 400, NOT_CONTAINER),
        ("negative-float", "-0.5", 400, NOT_CONTAINER),
        ("float-overflow", '{"n": 1e400}', 400, BAD_JSON),
        ("negative-float-overflow", "[-1e400]", 400, BAD_JSON),
        ("int-5001-digits", '{"n": ' + "9" * 5_001 + "}", 400, BAD_JSON),
        ("int-10000-digits", "[" + "1" * 10_000 + "]", 400, BAD_JSON),
        ("nan", '{"n": NaN}', 400, BAD_JSON),
        ("infinity", "[Infinity]", 400, BAD_JSON),
        ("minus-infinity", '{"n": -Infinity}', 400, BAD_JSON),
        ("invalid-utf8", b'{"a": "\xff\xfe"}', 400, BAD_JSON),
        ("overlong-utf8", b'{"a": "\xc0\xaf"}', 400, BAD_JSON),
        ("utf8-encoded-surrogate", b'{"a": "\xed\xa0\x80"}', 400, BAD_JSON),
        ("utf16", '{"a": 1}'.encode("utf-16"), 400, BAD_JSON),
        ("utf8-bom", b'\xef\xbb\xbf{"a": 1}', 400, BAD_JSON),
        ("escaped-lone-surrogate", '{"a": "\\ud800"}', 400, BAD_JSON),
        ("escaped-lone-surrogate-key", '{"\\udfff": 1}', 400, BAD_JSON),
        ("raw-lone-surrogate", '{"a": "\ud800"}', 400, BAD_JSON),
        ("empty-object", "{}", 400, BLANK),
        ("padded-empty-object", " \n{ }\t", 400, BLANK),
        ("whitespace", "  \r\n ", 400, BLANK),
    ]
    for index, (label, body, status, message) in enumerate(bodies):
        method, route = ("POST", "/b") if index % 2 else ("PUT", "/b/{bid}")
        cases.append(Case(f"body-{label}-{method}", method, route, status, message, tuple(JSON), body))
    for method, route in [("POST", "/b"), ("PUT", "/b/{bid}")]:
        cases.append(Case(f"body-empty-{method}", method, route, 400, BLANK, tuple(JSON), ""))
        cases.append(Case(f"body-deep-10000-{method}", method, route, 400, BAD_JSON, tuple(JSON), deep_arrays))

    # ---- a body where none belongs --------------------------------------------------------
    for method, route in [r for r in ROUTES_WITH_ID if r[0] != "PUT"]:
        name = f"unexpected-body-{method}-{route_label(route)}"
        cases.append(Case(name, method, route, 400, NO_BODY, tuple(JSON), '{"a": 1}'))
    cases.append(Case("unexpected-binary-body", "DELETE", "/b/{bid}/versions", 400, NO_BODY, (), b"\xff\x00\xfe"))
    cases.append(Case("unexpected-body-GET-a", "GET", "/a", 400, NO_BODY, tuple(JSON), '{"a": 1}'))
    cases.append(Case("unexpected-body-DELETE-a", "DELETE", f"/a/{KID}", 400, NO_BODY, tuple(JSON), "{}"))
    cases += _issue_14_cases()
    return cases


def _issue_14_cases() -> list[Case]:
    """X-Access-Key, X-JSON-Path, the Access Keys API and the meta routes."""
    cases: list[Case] = []

    # ---- X-Access-Key (no X-Master-Key): huge, odd, duplicated; a permission it lacks ------
    for label, value, message in [
        ("64kb", "k" * 65_536, BAD_ACCESS_KEY),
        ("513-chars", "k" * 513, BAD_ACCESS_KEY),
        ("whitespace", "   ", NO_KEY),
        ("nul", "\x00", BAD_ACCESS_KEY),
        ("unicode", "\u043a\u043b\u044e\u0447\U0001f511", BAD_ACCESS_KEY),
        ("lone-surrogate", "\ud800", BAD_ACCESS_KEY),
        ("the-master-key", KEY, BAD_ACCESS_KEY),
    ]:
        cases.append(
            Case(f"access-key-{label}", "GET", "/b/{bid}/latest", 401, message, (("X-Access-Key", value),), key=None)
        )
    conflict = (("X-Access-Key", ACCESS), ("x-access-key", "someone-else"))
    cases.append(Case("access-key-duplicate-conflict", "GET", "/b/{bid}", 401, BAD_ACCESS_KEY, conflict, key=None))
    cases.append(
        Case("access-key-with-bad-master-key", "GET", "/b/{bid}", 401, BAD_KEY, (("X-Access-Key", ACCESS),), key="bad")
    )
    for method, route, permission in [
        ("POST", "/b", "create"),
        ("PUT", "/b/{bid}", "update"),
        ("DELETE", "/b/{bid}", "delete"),
        ("DELETE", "/b/{bid}/versions", "delete"),
    ]:
        headers, body = valid_body(method)
        message = f"X-Access-Key does not have the permission to {permission} bins"
        with_key = (*headers, ("X-Access-Key", ACCESS))
        cases.append(
            Case(
                f"access-key-forbidden-{method}-{route_label(route)}",
                method,
                route,
                403,
                message,
                with_key,
                body,
                key=None,
            )
        )
    for method, route in [("PUT", "/b/{bid}/meta/name"), ("PUT", "/b/{bid}/meta/privacy"), ("GET", "/a")]:
        headers = (("X-Access-Key", ACCESS), ("X-Bin-Name", "n"), ("X-Bin-Private", "false"))
        message = (
            NO_KEY
            if "/meta/" in route
            else "You need to pass X-Master-Key in the header to fetch a list of Access Keys."
        )
        cases.append(
            Case(f"access-key-master-only-{route_label(route)}", method, route, 401, message, headers, key=None)
        )

    # ---- X-JSON-Path ------------------------------------------------------------------------
    for index, (label, value) in enumerate(
        [
            ("unclosed", "$["),
            ("empty", ""),
            ("only-spaces", "   "),
            ("regex-filter", "$[?(@.v =~ '.*')]"),
            ("dangling-operator", "$[?(@.v +)]"),
            ("python-code", "__import__('os').system('true')"),
            ("nul", "$.\x00"),
            ("64kb", "$" + ".a" * 32_768),
            ("1025-chars", "$." + "a" * 1023),
            ("lone-surrogate", "$.\ud800"),
        ]
    ):
        route = ["/b/{bid}", "/b/{bid}/latest", "/b/{bid}/1"][index % 3]
        cases.append(Case(f"json-path-{label}", "GET", route, 400, BAD_JSON_PATH, (("X-JSON-Path", value),)))
    conflict = (("X-JSON-Path", "$.v"), ("x-json-path", "$..v"))
    cases.append(Case("json-path-duplicate-conflict", "GET", "/b/{bid}", 400, BAD_JSON_PATH, conflict))

    # ---- POST /a: X-Key-Name, Content-Type, the permissions body ---------------------------
    valid = '{"bins": {"read": true}}'
    for label, name, message in [
        ("missing", None, NO_KEY_NAME),
        ("empty", "", NO_KEY_NAME),
        ("only-spaces", "   ", NO_KEY_NAME),
        ("33-chars", "n" * 33, LONG_KEY_NAME),
        ("64kb", "n" * 65_536, LONG_KEY_NAME),
        ("newline", "a\nb", BAD_KEY_NAME),
        ("nul", "a\x00", BAD_KEY_NAME),
        ("lone-surrogate", "key\udc00", BAD_KEY_NAME),
    ]:
        headers = (*JSON, *([] if name is None else [("X-Key-Name", name)]))
        cases.append(Case(f"key-name-{label}", "POST", "/a", 400, message, headers, valid))
    conflict = (*JSON, ("X-Key-Name", "a"), ("X-Key-Name", "b"))
    cases.append(Case("key-name-duplicate-conflict", "POST", "/a", 400, BAD_KEY_NAME, conflict, valid))
    for label, value in [
        ("missing", None),
        ("text-plain", "text/plain"),
        ("form", "application/x-www-form-urlencoded"),
    ]:
        headers = (("X-Key-Name", "k"), *([] if value is None else [("Content-Type", value)]))
        cases.append(Case(f"key-content-type-{label}", "POST", "/a", 400, CONTENT_TYPE, headers, valid))
    for label, body in [
        ("unclosed", "{"),
        ("array", "[]"),
        ("null", "null"),
        ("string", '"read"'),
        ("bins-array", '{"bins": ["read"]}'),
        ("string-value", '{"bins": {"read": "true"}}'),
        ("number-value", '{"bins": {"read": 1}}'),
        ("null-value", '{"bins": {"read": null}}'),
        ("unknown-permission", '{"bins": {"admin": true}}'),
        ("unknown-group", '{"bins": {}, "collections": {"read": true}}'),
        ("js-style-keys", "{bins: {read: true}}"),
        ("deep-10000", "[" * 10_000 + "]" * 10_000),
        ("nested-bins-10000", '{"bins": ' * 10_000 + "{}" + "}" * 10_000),
        ("invalid-utf8", b'{"bins": {"\xff": true}}'),
        ("oversized", '{"bins": {"read": true}, "pad": "' + "x" * 2048 + '"}'),
    ]:
        cases.append(
            Case(f"permissions-{label}", "POST", "/a", 400, BAD_PERMISSIONS, (*JSON, ("X-Key-Name", "k")), body)
        )

    # ---- access key ids ---------------------------------------------------------------------
    for label, bad in [
        ("dotdot", ".."),
        ("23-chars", "0123456789abcdef0123456"),
        ("25-chars", "0123456789abcdef012345678"),
        ("uppercase", "0123456789ABCDEF01234567"),
        ("emoji", "\U0001f600" * 24),
        ("percent-nul", "0123456789abcdef01234567%00"),
        ("real-id-plus-one", KID + "a"),
    ]:
        cases.append(Case(f"key-id-{label}", "DELETE", f"/a/{bad}", 400, BAD_KEY_ID))
    cases.append(Case("key-id-unknown", "DELETE", "/a/0123456789abcdef01234567", 404, NO_ACCESS_KEY, charged=True))
    cases.append(Case("key-id-traversal", "DELETE", "/a/../b", 404, NO_ROUTE))

    # ---- the meta routes' headers -----------------------------------------------------------
    name_route, privacy_route = "/b/{bid}/meta/name", "/b/{bid}/meta/privacy"
    cases.append(Case("rename-missing", "PUT", name_route, 400, NO_RENAME, (), "{}"))
    for label, value in [
        ("empty", ""),
        ("only-spaces", "   "),
        ("129-chars", "n" * 129),
        ("64kb", "n" * 65_536),
        ("newline", "a\nb"),
        ("lone-surrogate", "name\udc00"),
    ]:
        cases.append(Case(f"rename-{label}", "PUT", name_route, 400, BAD_RENAME, (("X-Bin-Name", value),), "{}"))
    conflict = (("X-Bin-Name", "a"), ("X-Bin-Name", "b"))
    cases.append(Case("rename-duplicate-conflict", "PUT", name_route, 400, BAD_RENAME, conflict))
    cases.append(Case("privacy-missing", "PUT", privacy_route, 400, NO_PRIVACY, (), "{}"))
    for label, value in [("maybe", "maybe"), ("empty", ""), ("one", "1"), ("nul", "\x00"), ("64kb", "f" * 65_536)]:
        headers = (("X-Bin-Private", value),)
        cases.append(Case(f"privacy-{label}", "PUT", privacy_route, 400, flag_message("X-Bin-Private"), headers))
    conflict = (("X-Bin-Private", "true"), ("x-bin-private", "false"))
    cases.append(Case("privacy-duplicate-conflict", "PUT", privacy_route, 400, flag_message("X-Bin-Private"), conflict))
    for route, header in [(name_route, ("X-Bin-Name", "n")), (privacy_route, ("X-Bin-Private", "true"))]:
        stale = (header, ("If-Match", '"stale"'))
        cases.append(Case(f"stale-if-match-{route_label(route)}", "PUT", route, 412, STALE, stale, charged=True))
        cases.append(
            Case(f"bad-if-match-{route_label(route)}", "PUT", route, 400, BAD_IF_MATCH, (header, ("If-Match", "")))
        )
    return cases


CASES = _cases()


def snapshot(
    ddb: Any, stored: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every stored item (``stored``, both tables' items, when already read), with each
    account's quota as one total (its shards' counters summed into a ``QUOTA`` pseudo-item:
    which shard a charge takes from is random) and less the charge tokens of accounts from
    before shards."""
    bins, idempotency = stored or (table_items(ddb), table_items(ddb, IDEMPOTENCY_TABLE))
    items, totals = [], {}
    for item in bins:
        item = {k: v for k, v in item.items() if k != "charges"}
        if item["sk"]["S"].startswith("QUOTA#"):
            pk = item["pk"]["S"]
            totals[pk] = totals.get(pk, 0) + int(item.pop("requestsRemaining")["N"])
        items.append(item)
    items += [{"pk": {"S": pk}, "sk": {"S": "QUOTA"}, "requestsRemaining": {"N": str(n)}} for pk, n in totals.items()]
    return items, idempotency


def charge(state: tuple[list[dict[str, Any]], ...], account_id: str, requests: int) -> tuple[list[Any], ...]:
    """``state`` with ``requests`` taken from the account's quota."""
    bins, idempotency = state
    charged = []
    for item in bins:
        if item["pk"]["S"] == f"ACCOUNT#{account_id}" and item["sk"]["S"] == "QUOTA":
            remaining = int(item["requestsRemaining"]["N"]) - requests
            item = {**item, "requestsRemaining": {"N": str(remaining)}}
        charged.append(item)
    return charged, idempotency


@dataclass
class World:
    client: Any
    account: Account
    api: Api
    bin_id: str
    access_key: str  # read permission only
    access_key_id: str


@pytest.fixture(scope="module")
def shared() -> Iterator[World]:
    """One moto world for the whole module (table setup costs ~0.4 s, a case ~10 ms)."""
    with module_moto_world() as client:
        account = make_account()
        api = Api(account.key)
        # A private, named bin with a base record and two versions
        bin_id = str(api.create({"v": 0}, X_Bin_Name="stored").body["metadata"]["id"])
        add_versions(api, bin_id, 2)
        made = api("POST", "/a", headers={"X-Key-Name": "reader"}, body={"bins": {"read": True}}).body
        yield World(client, account, api, bin_id, made["accessKey"], made["accessKeyId"])


@pytest.fixture
def world(shared: World) -> Iterator[World]:
    """The shared world, put back exactly as it was if a test changed it (a failing case
    must not make the next ones fail)."""
    stored = table_items(shared.client), table_items(shared.client, IDEMPOTENCY_TABLE)  # restorable as is
    before = _apart_from_quota(snapshot(shared.client, stored))
    yield shared
    # a charge is no change to undo (the account has a million requests): only the rest
    if _apart_from_quota(snapshot(shared.client)) != before:
        restore(shared.client, stored)


def _apart_from_quota(state: tuple[list[dict[str, Any]], ...]) -> tuple[list[dict[str, Any]], ...]:
    bins, *rest = state
    return ([i for i in bins if i["sk"]["S"] != "QUOTA"], *rest)


def restore(client: Any, state: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    for table, items in zip((TABLE, IDEMPOTENCY_TABLE), state, strict=True):
        key_names = ("pk", "sk") if table == TABLE else ("id",)
        for item in table_items(client, table):
            client.delete_item(TableName=table, Key={name: item[name] for name in key_names})
        for item in items:
            client.put_item(TableName=table, Item=item)


def test_corpus_is_large_and_covers_every_route() -> None:
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)
    covered = {(case.method, _route_of(case.path)) for case in CASES}
    new_routes = [("PUT", "/b/{bid}/meta/name"), ("PUT", "/b/{bid}/meta/privacy"), ("POST", "/a"), ("GET", "/a")]
    for method, route in [*ROUTES_WITH_ID, ("POST", "/b"), *new_routes, ("DELETE", "/a/{kid}")]:
        assert (method, _route_of(route)) in covered, (method, route)


def _route_of(path: str) -> str:
    parts = path.split("/")
    if len(parts) > 2:
        return "/".join(["", parts[1], "{id}", *parts[3:]])
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_request_gets_its_4xx_and_changes_nothing(case: Case, world: World) -> None:
    api, account, stored = world.api, world.account, world.bin_id
    # Given a stored bin and the whole of both tables
    before = snapshot(world.client)
    secrets = {id(KEY): account.key, id(ACCESS): world.access_key}
    headers = [(name, secrets.get(id(value), value)) for name, value in case.headers]
    key = True if case.key is KEY else case.key
    # When the hostile request arrives (query pairs may repeat: the event factory takes pairs)
    query: Any = list(case.query) or None
    path = case.path.replace(ID, stored).replace(KID, world.access_key_id)
    reply = api(case.method, path, headers=headers, body=case.body, query=query, key=key)
    # Then it gets exactly the contract's error, as JSON
    assert (reply.status, reply.body) == (case.status, {"message": case.message}), reply.raw[:300]
    assert reply.headers.get("content-type", "").startswith("application/json")
    # And nothing stored changed; only a request refused after authentication cost quota
    expected = charge(before, account.id, 1) if case.charged else before
    assert snapshot(world.client) == expected


def test_identical_duplicate_headers_are_accepted(world: World) -> None:
    # A header repeated with the same value is not a conflict (proxies do this)
    reply = world.api(
        "GET",
        f"/b/{world.bin_id}/latest",
        headers=[
            ("X-Master-Key", world.account.key),
            ("X-Master-Key", world.account.key),
            ("X-Bin-Meta", "false"),
            ("X-Bin-Meta", "false"),
        ],
        key=None,
    )
    assert (reply.status, reply.body) == (200, {"v": 2})


def test_nesting_up_to_the_cap_round_trips_on_every_read(world: World) -> None:
    from binvault.logic.inputs import MAX_NESTING_DEPTH

    api = world.api
    # Given a record exactly as deep as the cap allows
    deep = "[" * MAX_NESTING_DEPTH + "]" * MAX_NESTING_DEPTH
    created = api("POST", "/b", headers=JSON, body=deep)
    assert created.status == 200, created.raw[:200]
    bin_id = created.body["metadata"]["id"]
    assert api("PUT", f"/b/{bin_id}", headers=[*JSON, ("X-Bin-Versioning", "true")], body=deep).status == 200
    # Then every read serves it back unchanged
    expected = json.loads(deep)
    for path in (f"/b/{bin_id}", f"/b/{bin_id}/latest", f"/b/{bin_id}/1"):
        reply = api("GET", path)
        assert reply.status == 200, reply.raw[:200]
        assert reply.body["record"] == expected
    assert api("GET", f"/b/{bin_id}", headers={"X-Bin-Meta": "false"}).body == expected
    # And one level more is refused before anything is stored or charged
    before = snapshot(world.client)
    deeper = "[" * (MAX_NESTING_DEPTH + 1) + "]" * (MAX_NESTING_DEPTH + 1)
    reply = api("PUT", f"/b/{bin_id}", headers=JSON, body=deeper)
    assert (reply.status, reply.message) == (400, BAD_JSON)
    assert snapshot(world.client) == before


def test_invalid_base64_body_is_invalid_json(world: World) -> None:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event

    before = snapshot(world.client)
    event = rest_event("PUT", f"/b/{world.bin_id}", [*JSON, ("X-Master-Key", world.account.key)])
    event.update(body="!!! not base64 !!!", isBase64Encoded=True)
    result = lambda_handler(event, LocalContext())
    assert (result["statusCode"], json.loads(result["body"])) == (400, {"message": BAD_JSON})
    assert snapshot(world.client) == before


def test_event_without_any_headers_is_a_4xx(world: World) -> None:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event

    before = snapshot(world.client)
    for method, path, status, message in [
        ("POST", "/b", 400, CONTENT_TYPE),
        ("GET", f"/b/{world.bin_id}", 401, NO_KEY),
        ("DELETE", f"/b/{world.bin_id}/versions", 401, NO_KEY),
    ]:
        event = rest_event(method, path)
        assert event["headers"] is None
        assert event["multiValueHeaders"] is None
        result = lambda_handler(event, LocalContext())
        assert (result["statusCode"], json.loads(result["body"])) == (status, {"message": message})
    assert snapshot(world.client) == before


def test_valid_unusual_input_survives_unchanged(world: World) -> None:
    # The mirror image of the corpus: odd but valid input is stored and served back as sent
    api = world.api
    record = {
        "\u00e9\u20ac\U0001f600": ["\u0000", "\u2028", "\ufeff", "\U0010ffff"],
        "big": 10**300,
        "tiny": 1e-300,
        "nested": [[[{"a": []}]]],
    }
    for body in (json.dumps(record), json.dumps(record, ensure_ascii=False).encode("utf-8")):
        created = api("POST", "/b", headers=[("Content-Type", "application/json; charset=UTF-8")], body=body)
        assert created.status == 200, created.raw[:200]
        assert api("GET", f"/b/{created.body['metadata']['id']}").body["record"] == record
