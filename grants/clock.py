"""The one clock of the application, replaceable so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return _source()


# When the request being served reached the app; the web layer installs the source.
_arrival: Callable[[], datetime | None] = lambda: None  # noqa: E731


def moment() -> datetime:
    """When an act happens: for a request, the moment it reached the app.

    In the last minute before a deadline a submission may wait its turn for the
    database; it counts from when it arrived, not from when its turn came.
    """
    current = now()
    arrived = _arrival()
    return min(current, arrived) if arrived is not None else current


def set_arrival_source(source: Callable[[], datetime | None]) -> None:
    """How `moment()` learns when the current request arrived (None outside requests)."""
    global _arrival
    _arrival = source


def set_clock(source: Callable[[], datetime]) -> None:
    """Replace the clock, e.g. with a frozen time in tests."""
    global _source
    _source = source


def reset_clock() -> None:
    set_clock(lambda: datetime.now(UTC))
