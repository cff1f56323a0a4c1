"""Benchmarks of the grant lifecycle engine.

Every module of this package whose name does not start with an underscore and
that defines `run(quick: bool) -> Iterable[Figure]` is a benchmark, named
after the module: add `benchmarks/notifications.py` with such a function and
`python -m benchmarks notifications` runs it. Modules without `run` (such as
`common`) are helpers and are skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable

from .common import Figure

RunFn = Callable[[bool], Iterable[Figure]]

__all__ = ["Figure", "RunFn", "candidates", "load"]


def candidates() -> list[str]:
    """Names of the modules that may be benchmarks, without importing them."""
    return sorted(
        info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")
    )


def load(name: str) -> RunFn | None:
    """The `run` function of benchmark `name`, or None when the module is a helper."""
    module = importlib.import_module(f"{__name__}.{name}")
    run = getattr(module, "run", None)
    return run if callable(run) else None
