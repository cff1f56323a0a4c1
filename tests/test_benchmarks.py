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


def test_surge_and_faults_are_benchmarks_and_crowd_a_helper() -> None:
    from benchmarks import candidates, load

    assert {"surge", "faults", "crowd"} <= set(candidates())
    assert callable(load("surge")) and callable(load("faults"))
    assert load("crowd") is None


def test_surge_plans_submit_late_only_after_the_deadline() -> None:
    from benchmarks.crowd import plans

    window = 20.0
    schedule = plans(50, window, late_share=0.1, burst_share=0.7, burst_seconds=5.0, saves=2)
    late = [plan for plan in schedule if plan.late]
    assert len(late) == 5
    assert all(plan.submit_at > window for plan in late)
    assert all(plan.submit_at <= window - 2.0 for plan in schedule if not plan.late)
    # Every save comes before its own submission.
    assert all(max(plan.saves) < plan.submit_at for plan in schedule)
    in_burst = [p for p in schedule if not p.late and p.submit_at >= window - 5.0]
    assert len(in_burst) > len(schedule) / 2


def test_half_written_applications_are_told_apart() -> None:
    from benchmarks.crowd import Stored

    stored = Stored(
        submissions={2: 1, 3: 1, 4: 2},
        receipts={2: 1, 4: 2},
        states={1: "draft", 2: "submitted", 3: "submitted", 4: "submitted", 5: "draft"},
        references={2: "MMD-1", 3: "MMD-2", 4: "MMD-3", 5: "MMD-4"},
        latest_submitted_at=None,
    )
    # 1 is a clean draft, 2 whole; 3 lacks its receipt, 4 is doubled, 5 a draft with a reference.
    assert stored.half_written() == [3, 4, 5]


def test_the_mail_sink_counts_every_copy_of_a_message() -> None:
    import smtplib

    from benchmarks.faults import smtp_sink

    message = (
        "From: grants@example.org\r\nTo: someone@example.org\r\n"
        "Message-ID: <outbox-7-1700000000000@example.org>\r\nSubject: x\r\n\r\nbody\r\n"
    )
    with smtp_sink() as (sink, port):
        for _ in range(2):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.sendmail("grants@example.org", ["someone@example.org"], message)
        assert sink.received[7] == 2
        assert sink.delivered() == 1
