"""What a cold start pays for before its first answer, kept to what that answer needs.

Run by ``handlers/__init__.py`` before either handler imports Powertools; each measure is
measured by ``bench/cold_start.py`` (README "Cold start"):

- **The garbage collector waits for the first answer.** A cold start allocates hundreds of
  thousands of long-lived objects (modules, botocore's service model, Powertools' resolver)
  and CPython's collector scans the growing heap again and again while they pile up. In a
  Lambda execution environment (``AWS_LAMBDA_FUNCTION_NAME`` set) the collector is paused
  from the handler's import until the first invocation has answered, then everything
  allocated so far is frozen (``gc.freeze()``: later collections never rescan it) and the
  collector is enabled again, even when that invocation failed. Elsewhere (tests, the
  local stack's workers) nothing changes.
- **The DynamoDB client is built before the first request fans out** (``first_invocation``).
- **Powertools' package ``__init__`` files, made lazy.** ``import
  aws_lambda_powertools.event_handler.api_gateway`` runs ``event_handler/__init__.py``,
  which imports every resolver Powertools has (AppSync and through it ``asyncio``, Bedrock,
  VPC Lattice, ...), and ``api_gateway.py`` imports ``utilities.data_classes``, whose
  ``__init__`` imports the data class of every event source AWS has. ``lazy_package``
  registers such a package without running its ``__init__`` and resolves each name the
  ``__init__`` re-exports (``from .api_gateway import Response``) from its own submodule
  when it is first asked for (PEP 562's module ``__getattr__``), the fix that belongs
  upstream (docs/upstream/). It applies only to an ``__init__`` that does nothing but
  re-export names of its own submodules (checked on its syntax tree): any other
  ``__init__`` is imported as usual.
"""

from __future__ import annotations

import ast
import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

# The Powertools packages whose __init__ imports far more than binvault uses.
LAZY_PACKAGES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
)

Handler = TypeVar("Handler", bound=Callable[..., Any])


# ---- the garbage collector ------------------------------------------------------------

_gc_paused = False


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def pause_gc() -> None:
    """Pause the collector until the first invocation has answered (in Lambda only)."""
    global _gc_paused
    if in_lambda() and gc.isenabled() and not _gc_paused:
        gc.disable()
        _gc_paused = True


def resume_gc() -> None:
    """Freeze what init allocated and enable the collector again (once; a no-op otherwise)."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.freeze()
        gc.enable()


def first_invocation(prepare: Callable[[], object] | None = None) -> Callable[[Handler], Handler]:
    """Wraps a Lambda handler: its first invocation in Lambda runs ``prepare`` first (the
    DynamoDB client, on the invocation's own thread), and every invocation resumes the
    collector once it ends (only the first one finds it paused).

    Why ``prepare``: a first read fans out (the base read runs on a pool thread beside the
    key lookup), and whichever thread gets there first builds the client. Built on a pool
    thread it cost 20-40 ms more CPU than on the thread that did the imports (measured,
    README "Cold start"). A failed ``prepare`` changes nothing: the request builds the
    client again when it needs it and answers as it always would.
    """

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        def invoke(*args: Any, **kwargs: Any) -> Any:
            try:
                if _gc_paused and prepare is not None:
                    _prepare(prepare)
                return handler(*args, **kwargs)
            finally:
                resume_gc()

        return invoke  # type: ignore[return-value]

    return wrap


def _prepare(prepare: Callable[[], object]) -> None:
    with suppress(Exception):  # the request meets the same failure where failures are handled
        prepare()


# ---- lazy package __init__ ------------------------------------------------------------


def reexports(package: str, init: ast.Module) -> tuple[dict[str, tuple[str, str]], list[str] | None] | None:
    """What a package ``__init__`` does, when all it does is re-export its submodules' names:
    ({exported name: (submodule, name in it)}, ``__all__``); None for anything else."""
    exports: dict[str, tuple[str, str]] = {}
    names: list[str] | None = None
    for statement in init.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        if isinstance(statement, ast.ImportFrom) and statement.module:
            if statement.level == 1:
                submodule = f"{package}.{statement.module}"
            elif statement.level == 0 and statement.module.startswith(f"{package}."):
                submodule = statement.module
            else:
                return None
            for alias in statement.names:
                if alias.name == "*":
                    return None
                exports[alias.asname or alias.name] = (submodule, alias.name)
            continue
        if (
            isinstance(statement, ast.Assign)
            and [getattr(target, "id", None) for target in statement.targets] == ["__all__"]
            and isinstance(statement.value, (ast.List, ast.Tuple))
            and all(isinstance(item, ast.Constant) and isinstance(item.value, str) for item in statement.value.elts)
        ):
            names = [str(item.value) for item in statement.value.elts if isinstance(item, ast.Constant)]
            continue
        return None
    return exports, names


def lazy_package(package: str) -> bool:
    """Register ``package`` without running its ``__init__``; True if it is now lazy.

    Its submodules import as usual (its ``__path__`` is the real one); a name its
    ``__init__`` re-exports is imported from its submodule when first asked for
    (``from package import Name``, ``package.Name``); so is one of its submodules that the
    ``__init__`` would have imported on the way (``package.submodule``). Nothing happens
    when the package is imported already, is not installed, or its ``__init__`` does more.
    """
    if package in sys.modules:
        return False
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return False
    init = ast.parse(Path(spec.origin).read_bytes())
    found = reexports(package, init)
    if found is None:
        return False
    exports, names = found
    submodules = {submodule.removeprefix(f"{package}.").split(".")[0] for submodule, _ in exports.values()}
    module = importlib.util.module_from_spec(spec)
    module.__doc__ = ast.get_docstring(init)
    if names is not None:
        module.__all__ = names  # type: ignore[attr-defined]

    def __getattr__(name: str) -> Any:
        if name in exports:
            submodule, original = exports[name]
            value = getattr(importlib.import_module(submodule), original)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[package] = module
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return True


def install_lazy_packages() -> list[str]:
    """Make ``LAZY_PACKAGES`` lazy where possible; the ones that are."""
    return [package for package in LAZY_PACKAGES if lazy_package(package)]
