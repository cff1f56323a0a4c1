"""Ranking and selection through the service: proposal, confirmation in one transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from grants.extensions import db
from grants.models import Application, Call
from grants.services import selection
from grants.services.errors import ConcurrentChange, PermissionDenied, ValidationFailed
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    EvaluationResultFactory,
    EvaluatorFactory,
    ManagerFactory,
    audit_rows,
)


def full_application(call: Call, total: str, requested: str = "250000.00") -> Application:
    app = ApplicationFactory(call=call, state="fa_in_evaluation",
                             requested_amount=Decimal(requested))
    total_d = Decimal(total)
    EvaluationResultFactory(
        application=app,
        stage="full_application",
        total=total_d,
        section_scores={"capacity": "16.00", "relevance": "25.00", "rest": str(total_d - 41)},
        passes=total_d >= 60,
    )
    return app


def concept_note(call: Call, total: str, requested: str) -> Application:
    app = ApplicationFactory(call=call, state="in_evaluation",
                             requested_amount=Decimal(requested))
    EvaluationResultFactory(
        application=app,
        stage="concept_note",
        total=Decimal(total),
        section_scores={"relevance": str(Decimal(total) - 10), "design": "10.00"},
    )
    return app


def test_full_applications_are_selected_within_budget_with_an_ordered_reserve(app, frozen_clock):
    call = CallFactory(budget=Decimal("600000.00"))
    manager = ManagerFactory()
    a90, a85, a80, a70, a50 = (full_application(call, t) for t in ("90", "85", "80", "70", "50"))
    proposal = selection.build_proposal(call, "full_application")
    assert proposal.ready
    assert [ln.row.application_id for ln in proposal.lines] == [a.id for a in
                                                                 (a90, a85, a80, a70, a50)]
    assert [ln.outcome for ln in proposal.lines] == [
        "selected", "selected", "reserve", "reserve", "rejected"
    ]
    assert selection.summary(proposal)["selected_amount"] == Decimal("500000.00")

    counts = selection.confirm(call, "full_application", manager, proposal.fingerprint)
    assert counts == {"selected": 2, "reserve": 2, "rejected": 1}
    db.session.expire_all()
    assert [a.state for a in (a90, a85, a80, a70, a50)] == [
        "provisionally_selected", "provisionally_selected", "reserve", "reserve", "rejected"
    ]
    assert a80.decision_reason == "reserve list, position 1"
    assert a70.decision_reason == "reserve list, position 2"
    assert "below the threshold of 60" in a50.decision_reason
    assert [r.event for r in audit_rows(a90)] == ["select"]


def test_a_changed_ranking_is_not_confirmed(app, frozen_clock):
    call = CallFactory()
    manager = ManagerFactory()
    first = full_application(call, "90")
    full_application(call, "70")
    reviewed = selection.build_proposal(call, "full_application")
    late = full_application(call, "95")  # a result recorded after the manager looked
    with pytest.raises(ConcurrentChange):
        selection.confirm(call, "full_application", manager, reviewed.fingerprint)
    db.session.expire_all()
    assert first.state == late.state == "fa_in_evaluation"


def test_confirmation_is_all_or_nothing(app, frozen_clock, monkeypatch):
    call = CallFactory()
    manager = ManagerFactory()
    apps = [full_application(call, t) for t in ("90", "80", "70")]
    proposal = selection.build_proposal(call, "full_application")
    real = selection.transition
    fired: list[str] = []

    def failing_third(obj, event_name, actor, **kwargs):  # type: ignore[no-untyped-def]
        fired.append(event_name)
        if len(fired) == 3:
            raise RuntimeError("the database went away")
        return real(obj, event_name, actor, **kwargs)

    monkeypatch.setattr(selection, "transition", failing_third)
    with pytest.raises(RuntimeError):
        selection.confirm(call, "full_application", manager, proposal.fingerprint)
    db.session.rollback()
    db.session.expire_all()
    assert [a.state for a in apps] == ["fa_in_evaluation"] * 3
    assert audit_rows() == []


def test_nothing_is_confirmed_while_a_result_is_missing_or_by_a_non_manager(app, frozen_clock):
    call = CallFactory()
    full_application(call, "90")
    ApplicationFactory(call=call, state="fa_in_evaluation")  # not scored yet
    proposal = selection.build_proposal(call, "full_application")
    assert not proposal.ready and len(proposal.missing) == 1
    with pytest.raises(ValidationFailed):
        selection.confirm(call, "full_application", ManagerFactory(), proposal.fingerprint)
    with pytest.raises(PermissionDenied):
        selection.confirm(call, "full_application", EvaluatorFactory(), proposal.fingerprint)


def test_concept_notes_are_preselected_up_to_twice_the_budget(app, frozen_clock):
    call = CallFactory(budget=Decimal("200000.00"))
    manager = ManagerFactory()
    best, second, third, weak = (
        concept_note(call, "45", "150000.00"),
        concept_note(call, "40", "150000.00"),
        concept_note(call, "38", "150000.00"),
        concept_note(call, "25", "60000.00"),
    )
    proposal = selection.build_proposal(call, "concept_note")
    selection.confirm(call, "concept_note", manager, proposal.fingerprint)
    db.session.expire_all()
    assert [a.state for a in (best, second, third, weak)] == [
        "invited", "invited", "rejected", "rejected"
    ]
    assert "200% envelope" in third.decision_reason
    assert "below the threshold of 30" in weak.decision_reason


def test_the_proposal_takes_the_same_number_of_queries_whatever_the_size(app, frozen_clock):
    small, large = CallFactory(), CallFactory()
    for n in range(3):
        full_application(small, str(60 + n))
    for n in range(30):
        full_application(large, str(60 + n))
    db.session.expire_all()

    def statements(call: Call) -> int:
        count = 0

        def counter(*_args: object) -> None:
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            proposal = selection.build_proposal(call, "full_application")
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert proposal.ready
        return count

    statements(small)  # warm the call's grid and lots into the session alike
    statements(large)
    assert statements(small) == statements(large)
