"""The benchmarks run (quick) and print well-formed figures; no timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import Figure, format_value

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^[a-z0-9_]+ -?[0-9.]+ [a-z_%/]+$")

ENGINE_FIGURES = {
    "engine_triggers_per_s",
    "direct_sets_per_s",
    "engine_vs_direct_ratio",
    "memory_retained_per_object_bytes",
    "machine_models",
    "target_met_memory",
}


def backend_figures(backend: str) -> set[str]:
    return {
        f"pipeline_transitions_per_s_{backend}",
        f"core_writes_per_s_{backend}",
        f"pipeline_vs_core_ratio_{backend}",
        f"pipeline_p95_ms_{backend}",
        f"errors_{backend}",
        f"target_met_{backend}",
    }


def test_transitions_quick_prints_well_formed_figures() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "transitions", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    malformed = [line for line in lines if not LINE.match(line)]
    assert not malformed, malformed

    figures = {line.split()[0]: line.split()[1] for line in lines}
    expected = ENGINE_FIGURES | backend_figures("sqlite")
    expected |= {"target_pipeline_vs_core_max", "postgresql_available", "target_met"}
    if figures.get("postgresql_available") == "1":
        expected |= backend_figures("postgresql")
    assert expected <= figures.keys(), sorted(expected - figures.keys())
    assert lines[-1].startswith("target_met ")
    # Correctness, not speed: every operation wrote its rows, the machine holds no models.
    assert figures["errors_sqlite"] == "0"
    assert figures["machine_models"] == "0"


def test_unknown_benchmark_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "no_such_benchmark"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no_such_benchmark" in result.stderr


@pytest.mark.parametrize(
    ("value", "text"),
    [(812345.0, "812345"), (1.4, "1.4"), (0.0032, "0.0032"), (84.27, "84.3"), (-2.5, "-2.5")],
)
def test_values_are_printed_in_plain_decimal(value: float, text: str) -> None:
    assert format_value(value) == text
    assert LINE.match(Figure("some_figure", value, "ms").line())


def test_figures_refuse_names_the_format_cannot_carry() -> None:
    with pytest.raises(ValueError):
        Figure("Bad Name", 1, "ms")
    with pytest.raises(ValueError):
        Figure("fine", float("nan"), "ms")
