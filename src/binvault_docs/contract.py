"""The generated parts of docs/api.md: ``python -m binvault_docs.contract`` rewrites them in
place (``make openapi`` runs it after the OpenAPI build).

The prose of docs/api.md is written by hand; the tables between its ``<!-- generated: NAME -->``
and ``<!-- end generated -->`` markers come from the route table and the exception classes,
the same sources as docs/openapi.json, so the routes, headers and exact messages a reader
finds there are the ones the code serves. tests/api/test_openapi.py checks that the
committed file is current.
"""

import re
import sys
from collections.abc import Callable
from pathlib import Path

from binvault import exceptions as errors
from binvault.handlers.routes import ROUTES, Error, Route
from binvault_docs.openapi import TEMPLATE_FIELDS, message_of

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.DOTALL)


def public_path(route: Route) -> str:
    """``/b/<bin_id>`` -> ``/v3/b/{binId}``, as clients and the OpenAPI document spell it."""
    camel = re.sub(r"<(\w+)>", lambda m: "{" + re.sub(r"_(\w)", lambda c: c[1].upper(), m[1]) + "}", route.rule)
    return f"/v3{camel}"


def _shown(error: Error) -> str:
    """The message as the contract states it: configuration fields as placeholders."""
    template: str | None = None if isinstance(error, errors.BinvaultError) else getattr(error, "template", None)
    if template is None:
        return message_of(error)
    return template.format(**{name: f"<{name.upper()}>" for name in TEMPLATE_FIELDS})


def routes_table() -> str:
    rows = [
        "| route | operation | X-Master-Key | X-Access-Key needs | headers and query parameters | body "
        "| ETag in the 200 |",
        "|---|---|---|---|---|---|---|",
    ]
    for route in ROUTES:
        parameters = [f"`{name}`" for name in route.headers] + [f"`?{name}=`" for name in route.query]
        key = "required" if route.key == "required" else "optional (public bins)"
        if route.access:
            key += " (or X-Access-Key)"
        access = f"`{route.access}`" if route.access else "- (master key only)"
        served = f" (served by `{route.served_by}`)" if route.served_by else ""
        rows.append(
            f"| `{route.method} {public_path(route)}` | `{route.operation_id}`{served} | {key} | {access} | "
            f"{', '.join(parameters) or '-'} | {f'JSON {route.body}' if route.body else 'none'} | "
            f"{'yes' if route.etag else '-'} |"
        )
    return "\n".join(rows) + "\n"


def errors_table() -> str:
    """One row per route: the statuses every route shares once, then each route's own."""
    by_route = {route.operation_id: _by_status(route) for route in ROUTES}
    shared = {
        status: messages
        for status, messages in by_route[ROUTES[0].operation_id].items()
        if all(statuses.get(status) == messages for statuses in by_route.values())
    }
    rows = ["| route | status: messages |", "|---|---|"]
    rows.append(f"| every route | {_cell(shared)} |")
    for route in ROUTES:
        own = {status: messages for status, messages in by_route[route.operation_id].items() if status not in shared}
        rows.append(f"| `{route.method} {public_path(route)}` | {_cell(own)} |")
    return "\n".join(rows) + "\n"


def _by_status(route: Route) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for error in route.errors:
        found.setdefault(error.status, []).append(f"`{_shown(error)}`")
    return found


def _cell(by_status: dict[int, list[str]]) -> str:
    return "<br>".join(f"**{status}** {', '.join(by_status[status])}" for status in sorted(by_status))


def messages_table() -> str:
    """Every message, once, with the class that carries it (route-level answers included)."""
    listed: dict[str, tuple[int, str]] = {}
    answers: list[Error] = [errors.RouteNotFound, errors.MethodNotAllowed]
    for error in [*answers, *(e for route in ROUTES for e in route.errors)]:
        cls = error if isinstance(error, type) else type(error)
        listed.setdefault(_shown(error), (error.status, cls.__name__))
    rows = ["| status | message | exception class |", "|---|---|---|"]
    for message, (status, name) in sorted(listed.items(), key=lambda item: (item[1][0], item[1][1], item[0])):
        rows.append(f"| {status} | `{message}` | `{name}` |")
    return "\n".join(rows) + "\n"


GENERATED: dict[str, Callable[[], str]] = {
    "routes": routes_table,
    "errors": errors_table,
    "messages": messages_table,
}


def render(text: str) -> str:
    """``text`` with every generated block rewritten from the code."""
    names = [match[2] for match in _BLOCK.finditer(text)]
    assert sorted(names) == sorted(GENERATED), f"docs/api.md's generated blocks are {names}, not {sorted(GENERATED)}"
    return _BLOCK.sub(lambda m: f"{m[1]}\n{GENERATED[m[2]]()}\n{m[4]}", text)


def main() -> int:
    API_MD.write_text(render(API_MD.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
