"""Evaluation grids: the PRAG-style defaults and building a call's grid from a spec."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..extensions import db
from ..models import Call, Criterion, Grid, GridSection
from .errors import ValidationFailed

# (code, title, minimum, carried_over, [(criterion code, title, weight)])
CONCEPT_NOTE_GRID: dict[str, Any] = {
    "total_threshold": "30",
    "sections": [
        (
            "relevance",
            "Relevance of the action",
            None,
            False,
            [
                ("1.1", "Relevance to the objectives and priorities of the call", 2),
                ("1.2", "Relevance to the needs and constraints of the countries concerned", 2),
                ("1.3", "Target groups and final beneficiaries clearly defined", 1),
                ("1.4", "Added value: gender, migrants' rights, dialogue links", 1),
            ],
        ),
        (
            "design",
            "Design of the action",
            None,
            False,
            [
                ("2.1", "Coherence of the overall design", 2),
                ("2.2", "Feasibility and consistency of activities with outputs", 2),
            ],
        ),
    ],
}

FULL_APPLICATION_GRID: dict[str, Any] = {
    "total_threshold": "60",
    "sections": [
        (
            "capacity",
            "Financial and operational capacity",
            "12",
            False,
            [
                ("1.1", "Experience of project management", 1),
                ("1.2", "Technical expertise in migration and mobility", 1),
                ("1.3", "Management capacity, staff, equipment", 1),
                ("1.4", "Stable and sufficient sources of finance", 1),
            ],
        ),
        (
            "relevance",
            "Relevance of the action (from the concept note)",
            None,
            True,
            [
                ("2.1", "Relevance to the objectives and priorities of the call", 2),
                ("2.2", "Relevance to the needs and constraints of the countries concerned", 2),
                ("2.3", "Target groups and final beneficiaries clearly defined", 1),
                ("2.4", "Added value: gender, migrants' rights, dialogue links", 1),
            ],
        ),
        (
            "effectiveness",
            "Effectiveness and feasibility of the action",
            None,
            False,
            [
                ("3.1", "Activities appropriate, practical and consistent with outcomes", 1),
                ("3.2", "Action plan clear and feasible", 1),
                ("3.3", "Objectively verifiable indicators in the logframe", 1),
                ("3.4", "Involvement of co-applicants and stakeholders", 1),
            ],
        ),
        (
            "sustainability",
            "Sustainability of the action",
            None,
            False,
            [
                ("4.1", "Tangible impact on target groups", 1),
                ("4.2", "Multiplier effects", 1),
                ("4.3", "Financial, institutional and policy sustainability", 1),
            ],
        ),
        (
            "budget",
            "Budget and cost-effectiveness",
            None,
            False,
            [
                ("5.1", "Ratio between costs and expected results", 2),
                ("5.2", "Expenditure necessary for implementation", 1),
            ],
        ),
    ],
}

DEFAULT_GRIDS = {"concept_note": CONCEPT_NOTE_GRID, "full_application": FULL_APPLICATION_GRID}


def build_grid(call: Call, stage: str, spec: dict[str, Any] | None = None) -> Grid:
    """Attach a grid to the call from a spec (the stage's default when none is given)."""
    if call.grid_for(stage) is not None:
        existing = call.grid_for(stage)
        if existing is not None and existing.locked_at is not None:
            raise ValidationFailed(f"the {stage} grid is locked: scoring has started")
        call.grids.remove(existing)
        # Deleted before the new one is inserted: (call, stage) is unique.
        db.session.flush()
    spec = spec or DEFAULT_GRIDS[stage]
    grid = Grid(stage=stage, total_threshold=Decimal(spec["total_threshold"]))
    for position, (code, title, minimum, carried, criteria) in enumerate(spec["sections"]):
        section = GridSection(
            code=code,
            title=title,
            position=position,
            minimum=Decimal(minimum) if minimum else None,
            carried_over=carried,
        )
        for c_position, (c_code, c_title, weight) in enumerate(criteria):
            section.criteria.append(
                Criterion(code=c_code, title=c_title, weight=weight, position=c_position)
            )
        grid.sections.append(section)
    call.grids.append(grid)
    return grid
