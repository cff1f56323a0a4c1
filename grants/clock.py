"""The one clock of the application, replaceable so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return _source()


# When the request being served reached the app (set by the web layer, unset elsewhere).
_arrival: ContextVar[datetime | None] = ContextVar("arrival", default=None)


def moment() -> datetime:
    """When an act happens: for a request, the moment it reached the app.

    In the last minute before a deadline a submission may wait its turn for the
    database; it counts from when it arrived, not from when its turn came.
    """
    current = now()
    arrived = _arrival.get()
    return min(current, arrived) if arrived is not None else current


def mark_arrival() -> None:
    """A request arrived now (the web layer calls this first thing)."""
    _arrival.set(now())


def forget_arrival(*_args: object) -> None:
    """The request is over: acts outside requests happen when they happen."""
    _arrival.set(None)


def set_clock(source: Callable[[], datetime]) -> None:
    """Replace the clock, e.g. with a frozen time in tests."""
    global _source
    _source = source


def reset_clock() -> None:
    set_clock(lambda: datetime.now(UTC))
