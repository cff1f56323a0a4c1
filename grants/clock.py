"""The one clock of the application, replaceable so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return _source()


def set_clock(source: Callable[[], datetime]) -> None:
    """Replace the clock, e.g. with a frozen time in tests."""
    global _source
    _source = source


def reset_clock() -> None:
    set_clock(lambda: datetime.now(UTC))
