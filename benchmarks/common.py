"""Helpers shared by the benchmarks: figures, timing, apps on scratch databases."""

from __future__ import annotations

import cProfile
import io
import math
import os
import pstats
import re
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

NAME = re.compile(r"^[a-z0-9_]+$")
UNIT = re.compile(r"^[a-z_%/]+$")
LINE = re.compile(r"^[a-z0-9_]+ -?[0-9.]+ [a-z_%/]+$")

# Where the PostgreSQL benchmarks create their scratch databases (any database of the
# server will do as the administrative connection); see postgres_admin_url.
POSTGRES_URL_VARIABLE = "BENCHMARK_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Set to 1 to print a cProfile summary (standard error) of the sections benchmarks mark.
PROFILE_VARIABLE = "BENCHMARKS_PROFILE"


@dataclass(frozen=True)
class Figure:
    """One measured (or target) value, printed as `name value unit`."""

    name: str
    value: float
    unit: str

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"figure name {self.name!r} must match {NAME.pattern}")
        if not UNIT.match(self.unit):
            raise ValueError(f"figure unit {self.unit!r} must match {UNIT.pattern}")
        if not math.isfinite(self.value):
            raise ValueError(f"figure {self.name} is not a finite number: {self.value}")

    def line(self) -> str:
        return f"{self.name} {format_value(self.value)} {self.unit}"


def flag(name: str, value: bool) -> Figure:
    """A yes/no figure, e.g. `target_met 1 bool`."""
    return Figure(name, 1 if value else 0, "bool")


def format_value(value: float) -> str:
    """Plain decimal notation (never an exponent), three significant digits below 100."""
    if value == int(value):
        return str(int(value))
    size = abs(value)
    decimals = 0 if size >= 100 else min(12, 2 - math.floor(math.log10(size)))
    formatted = f"{value:.{decimals}f}"
    if "." in formatted:
        formatted = formatted.rstrip("0").rstrip(".")
    return "0" if formatted in ("-0", "") else formatted


def note(message: str) -> None:
    """A remark for the reader, on standard error so figures stay machine-readable."""
    print(f"# {message}", file=sys.stderr, flush=True)


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0..1) of the values, by the inclusive method."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


@contextmanager
def profiled(label: str, top: int = 30) -> Iterator[None]:
    """Profile the block when BENCHMARKS_PROFILE=1; the summary goes to standard error."""
    if os.environ.get(PROFILE_VARIABLE, "") not in ("1", "true", "yes"):
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        note(f"profile of {label}:\n{out.getvalue()}")


def profiling() -> bool:
    return os.environ.get(PROFILE_VARIABLE, "") in ("1", "true", "yes")


def make_app(database_url: str, folder: Path) -> Flask:
    """The application against `database_url`, configured as the tests configure it."""
    from grants import create_app

    config: dict[str, Any] = {
        "ENV_NAME": "testing",
        "TESTING": True,
        "SECRET_KEY": "benchmark-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "MAIL_SERVER": None,
        "MAIL_FOLDER": str(folder / "mail"),
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "WTF_CSRF_ENABLED": False,
        "TWO_FACTOR_REQUIRED": False,
    }
    return create_app(config)


def postgres_admin_url() -> str:
    """BENCHMARK_POSTGRES_URL, else DATABASE_URL when it names PostgreSQL, else the default."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if not url:
        database_url = os.environ.get("DATABASE_URL", "")
        url = database_url if database_url.startswith("postgres") else DEFAULT_POSTGRES_URL
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@contextmanager
def scratch_postgres(name: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database `name`, dropped afterwards; None if the server is unreachable.

    The caller must dispose of its own engines on the database before leaving the block.
    """
    admin_url = make_url(postgres_admin_url())
    admin = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        note(f"PostgreSQL unreachable at {admin_url.render_as_string()}, skipped: {exc.orig}")
        yield None
        return
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
