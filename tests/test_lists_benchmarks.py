"""The dashboard and lists benchmarks run (quick) and print well-formed figures; no timing
is asserted, only what must hold whatever the machine: statement counts and page sizes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^[a-z0-9_]+ -?[0-9.]+ [a-z_%/]+$")


def run_benchmark(name: str) -> dict[str, float]:
    result = subprocess.run(  # noqa: S603 - our own benchmarks, by a fixed name
        [sys.executable, "-m", "benchmarks", name, "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and not [line for line in lines if not LINE.match(line)], result.stdout
    assert lines[-1].startswith("target_met ")
    return {line.split()[0]: float(line.split()[1]) for line in lines}


def test_lists_benchmark_quick() -> None:
    figures = run_benchmark("lists")
    for page in ("list_first", "list_last", "application", "dashboard"):
        assert figures[f"{page}_queries_sqlite"] <= 10
    assert figures["list_first_html_bytes_sqlite"] <= 60 * 1024
    assert figures["list_first_queries_sqlite"] == figures["list_last_queries_sqlite"]


def test_dashboard_benchmark_quick() -> None:
    figures = run_benchmark("dashboard")
    if figures["postgresql_available"] == 1:
        for page in ("dashboard", "list_first", "list_deep", "list_last"):
            assert figures[f"{page}_queries"] == figures[f"{page}_queries_at_tenth"]
