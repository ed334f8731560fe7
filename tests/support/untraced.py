"""moto's emulator run outside coverage's tracer, binvault's own code inside it traced.

Why: on Python 3.11 coverage's C tracer gets a line event for every line of every frame,
measured or not (its pure-Python tracer turns line events off for unmeasured frames; the C
one cannot). The api tests spend most of their lines in moto's in-process emulator, which
coverage does not measure (``[tool.coverage.run] source`` is binvault's code), so under
``--cov`` they ran ~1.6 times as long as without it (``tests/api`` on 2 workers, 2026-12-04:
92 s without coverage, 151 s with it; 106 s with this module; the whole suite 267 -> 246 s).

What: while tracing (``sys.gettrace()`` is set, so only under coverage or a debugger), and
only in this test process:

1. every botocore call (``BaseClient._make_api_call``: botocore's request handling and moto's
   in-process mock beneath it, up to the parsed response) runs with the thread's tracer taken
   off, binvault's own botocore event handlers excepted (registered traced);
2. every function of ``binvault.local.moto_fixes`` that moto calls (what ``install`` put on
   moto's classes and modules, and the methods of its own classes) puts the tracer back for
   its own length, so its lines and branches are measured as before;
3. and the moto functions those hold (their closures' ``original``, ``method``, ``parse``...)
   and the serializer's ``_serialize`` that item 6 calls per member run untraced again.

The coverage this measures is the same, line for line and branch for branch:
``tests/api/test_untraced.py`` runs one workload under ``coverage run`` with and without
this and compares every file's lines and arcs. With the tracer off nothing is recorded, so
nothing measured could be missed but binvault's code called from inside moto, which is
exactly ``moto_fixes`` (2 puts the tracer back there). Nothing changes without a tracer:
each wrapper then only calls through.
"""

from __future__ import annotations

import functools
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import binvault

_saved = threading.local()  # each thread's own tracer (coverage runs one per thread)
_installed = False


def _untraced(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def untraced(*args: Any, **kwargs: Any) -> Any:
        tracer = sys.gettrace()
        if tracer is None:
            return function(*args, **kwargs)
        previous = getattr(_saved, "tracer", None)
        _saved.tracer = tracer
        sys.settrace(None)
        try:
            return function(*args, **kwargs)
        finally:
            sys.settrace(tracer)
            _saved.tracer = previous

    untraced._binvault_untraced = True  # type: ignore[attr-defined]
    return untraced


def _traced(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def traced(*args: Any, **kwargs: Any) -> Any:
        tracer = getattr(_saved, "tracer", None)
        if tracer is None or sys.gettrace() is not None:
            return function(*args, **kwargs)
        sys.settrace(tracer)
        try:
            return function(*args, **kwargs)
        finally:
            sys.settrace(None)

    return traced


def _ours(member: Any, filename: str) -> bool:
    return isinstance(member, types.FunctionType) and member.__code__.co_filename == filename


def _rewrapped(member: Any, filename: str) -> Any:
    """``member`` traced if it is moto_fixes' (a function, classmethod or staticmethod), else None."""
    if isinstance(member, classmethod | staticmethod) and _ours(member.__func__, filename):
        return type(member)(_traced(_untraced_closure(member.__func__, filename)))
    if _ours(member, filename):
        return _traced(_untraced_closure(member, filename))
    return None


def _untraced_closure(function: types.FunctionType, filename: str) -> types.FunctionType:
    """The moto functions ``function`` closes over (moto's originals it calls) made untraced."""
    for cell in function.__closure__ or ():
        held = cell.cell_contents
        if isinstance(held, types.FunctionType) and not hasattr(held, "_binvault_untraced"):
            if held.__code__.co_filename == filename:
                _untraced_closure(held, filename)  # members_of, a locked backend method...
            else:
                cell.cell_contents = _untraced(held)
    return function


def _binvault_handlers(verify_and_register: Callable[..., Any], unregister: Callable[..., Any]) -> tuple[Any, Any]:
    """botocore's event registration, a handler of binvault's own (``dal.client``'s deadline
    check) registered traced: botocore calls it from inside an untraced API call."""
    source = str(Path(binvault.__file__).parent)
    wrappers: dict[Any, Any] = {}

    def register(self: Any, event_name: str, handler: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(handler, types.FunctionType) and handler.__code__.co_filename.startswith(source):
            handler = wrappers.setdefault(handler, _traced(handler))
        return verify_and_register(self, event_name, handler, *args, **kwargs)

    def unregister_ours(self: Any, event_name: str, handler: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(handler, types.FunctionType):
            handler = wrappers.get(handler, handler)
        return unregister(self, event_name, handler, *args, **kwargs)

    return register, unregister_ours


def install() -> None:
    """``moto_fixes.install()``, then the wrappers above (once a process)."""
    global _installed
    from binvault.local import moto_fixes

    moto_fixes.install()
    if _installed:
        return
    import botocore.client
    import botocore.hooks
    from moto.core import serialize

    hooks = botocore.hooks.HierarchicalEmitter  # (an EventAliaser hands its registrations to one)
    hooks._verify_and_register, hooks.unregister = _binvault_handlers(  # type: ignore[method-assign]
        hooks._verify_and_register, hooks.unregister
    )
    client = botocore.client.BaseClient
    client._make_api_call = _untraced(client._make_api_call)  # type: ignore[method-assign]
    serialize.ResponseSerializer._serialize = _untraced(serialize.ResponseSerializer._serialize)  # type: ignore[method-assign]
    filename = moto_fixes.__file__
    owners: list[Any] = [
        value
        for value in vars(moto_fixes).values()
        if isinstance(value, type) and value.__module__ == moto_fixes.__name__
    ]
    for name, module in list(sys.modules.items()):
        if name == "moto" or name.startswith("moto."):
            owners.append(module)
            owners += [value for value in vars(module).values() if isinstance(value, type) and value.__module__ == name]
    for owner in owners:
        for attribute, member in list(vars(owner).items()):
            replacement = _rewrapped(member, filename)
            if replacement is not None:
                setattr(owner, attribute, replacement)
    _installed = True
