"""Evaluation use cases: grids, opening check, panels, conflicts, scoring, divergence, results."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from grants.extensions import db
from grants.models import (
    Application,
    Assignment,
    AuditEvent,
    Call,
    ConflictDeclaration,
    EvaluationResult,
    Membership,
    User,
)
from grants.services import admin_check, evaluation, panels
from grants.services.errors import (
    GuardFailed,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from grants.services.guards import ADMIN_CHECK_ITEMS
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    EvaluatorFactory,
    ManagerFactory,
    OrganisationFactory,
    audit_rows,
)

ALL_PASS = {item: admin_check.ItemResult(True) for item in ADMIN_CHECK_ITEMS}


@dataclass
class Setup:
    call: Call
    manager: User
    evaluators: list[User]
    applications: list[Application]


def submitted_application(call: Call, **kwargs: object) -> Application:
    """A complete draft, submitted through the pipeline (so its submission is frozen)."""
    app = ApplicationFactory(call=call, **kwargs)
    transition(app, "submit", app.created_by)
    return app


def admitted(call: Call, manager: User, count: int, **kwargs: object) -> list[Application]:
    apps = [submitted_application(call, **kwargs) for _ in range(count)]
    for app in apps:
        admin_check.record(app, ALL_PASS, manager)
    return apps


def build(count: int = 3, evaluators: int = 4, **call_fields: object) -> Setup:
    call = CallFactory(**call_fields)
    manager = ManagerFactory()
    panel = [EvaluatorFactory() for _ in range(evaluators)]
    apps = admitted(call, manager, count)
    for evaluator in panel:
        panels.add_to_panel(call, evaluator, manager)
    return Setup(call, manager, panel, apps)


def score_all(
    assignment: Assignment, value: int | dict[str, int], comment: str = "Argued."
) -> None:
    grid = assignment.application.call.grid_for(assignment.stage)
    entries = {}
    for section in evaluation.scored_sections(grid):
        for criterion in section.criteria:
            v = value if isinstance(value, int) else value[section.code]
            entries[criterion.id] = (v, comment)
    evaluation.save_scores(assignment, entries, assignment.evaluator)


def evaluate(assignment: Assignment, value: int | dict[str, int]) -> None:
    evaluation.declare(assignment, assignment.evaluator, has_conflict=False)
    score_all(assignment, value)
    evaluation.submit(assignment, assignment.evaluator)


def live(app: Application) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.application_id == app.id, Assignment.state.in_(panels.LIVE_STATES))
            .order_by(Assignment.id)
        )
    )


# --------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------


def test_default_grids_follow_the_design(app, frozen_clock):
    call = CallFactory(grids=False)
    manager = ManagerFactory()
    cn = evaluation.use_default_grid(call, "concept_note", manager)
    fa = evaluation.use_default_grid(call, "full_application", manager)
    assert cn.max_total == 50
    assert {s.code: s.max_score for s in cn.sections} == {"relevance": 30, "design": 20}
    assert [c.weight for c in cn.sections[0].criteria] == [2, 2, 1, 1]
    assert fa.max_total == 100
    assert {s.code: s.max_score for s in fa.sections} == {
        "capacity": 20, "relevance": 30, "effectiveness": 20, "sustainability": 15, "budget": 15
    }
    assert next(s for s in fa.sections if s.code == "capacity").minimum == Decimal(12)


def test_manager_edits_the_grid_until_scoring_starts(app, frozen_clock):
    s = build(count=1)
    call, manager = s.call, s.manager
    grid = evaluation.update_grid(call, "concept_note", manager, "32", {"relevance": "18"})
    assert grid.total_threshold == Decimal("32.00")
    section = grid.sections[0]
    criterion = evaluation.save_criterion(
        call, "concept_note", manager, section_id=section.id, code="1.5",
        title="Local ownership", guidance="Who decides, who benefits.", weight=2,
    )
    assert criterion.guidance == "Who decides, who benefits."
    assert call.grid_for("concept_note").max_total == 60
    with pytest.raises(ValidationFailed):
        evaluation.update_grid(call, "concept_note", manager, "61", {})
    with pytest.raises(PermissionDenied):
        evaluation.update_grid(call, "concept_note", s.evaluators[0], "30", {})

    round_ = panels.auto_assign(call, "concept_note", manager)
    first = round_.created[0]
    evaluation.declare(first, first.evaluator, has_conflict=False)
    score_all(first, 3)
    assert call.grid_for("concept_note").locked_at is not None
    with pytest.raises(ValidationFailed, match="locked"):
        evaluation.update_grid(call, "concept_note", manager, "30", {})
    with pytest.raises(ValidationFailed, match="locked"):
        evaluation.delete_criterion(call, "concept_note", manager, criterion.id)
    with pytest.raises(ValidationFailed, match="locked"):
        evaluation.use_default_grid(call, "concept_note", manager)


# --------------------------------------------------------------------------
# Administrative check
# --------------------------------------------------------------------------


def test_admin_check_admits_when_every_item_passes(app, frozen_clock):
    call, manager = CallFactory(), ManagerFactory()
    application = submitted_application(call)
    assert admin_check.record(application, ALL_PASS, manager) == "admit"
    assert application.state == "in_evaluation"
    assert len(admin_check.checklist(application, manager)) == len(ADMIN_CHECK_ITEMS)


def test_admin_check_failure_rejects_with_the_reason_kept(app, frozen_clock):
    call, manager = CallFactory(), ManagerFactory()
    application = submitted_application(call)
    results = dict(ALL_PASS)
    results["declaration_signed"] = admin_check.ItemResult(False, "Not signed by the lead.")
    assert admin_check.record(application, results, manager) == "reject_admin"
    db.session.expire_all()
    assert application.state == "admin_rejected"
    assert "Not signed by the lead." in application.decision_reason
    checks = admin_check.checklist(application, manager)
    assert checks["declaration_signed"].passed is False


def test_admin_check_needs_every_item_and_reasons(app, frozen_clock):
    call, manager = CallFactory(), ManagerFactory()
    application = submitted_application(call)
    partial = {ADMIN_CHECK_ITEMS[0]: admin_check.ItemResult(True)}
    with pytest.raises(ValidationFailed) as missing:
        admin_check.record(application, partial, manager)
    assert set(missing.value.fields) == set(ADMIN_CHECK_ITEMS[1:])
    no_reason = dict(ALL_PASS, form_complete=admin_check.ItemResult(False, "  "))
    with pytest.raises(ValidationFailed):
        admin_check.record(application, no_reason, manager)
    with pytest.raises(NotFound):  # an outsider may not even know it exists
        admin_check.record(application, ALL_PASS, EvaluatorFactory())
    with pytest.raises(PermissionDenied):  # the applicant knows it, but does not check it
        admin_check.record(application, ALL_PASS, application.created_by)
    assert application.state == "submitted"


# --------------------------------------------------------------------------
# Panels and assignment
# --------------------------------------------------------------------------


def test_auto_assign_gives_two_evaluators_each_and_balances_the_load(app, frozen_clock):
    s = build(count=6, evaluators=4)
    round_ = panels.auto_assign(s.call, "concept_note", s.manager)
    assert not round_.short
    for application in s.applications:
        assert len({a.evaluator_id for a in live(application)}) == 2
    loads = db.session.execute(
        select(Assignment.evaluator_id, func.count()).group_by(Assignment.evaluator_id)
    ).all()
    assert sorted(n for _e, n in loads) == [3, 3, 3, 3]
    # Running it again adds nothing: every application has its evaluators.
    assert panels.auto_assign(s.call, "concept_note", s.manager).created == []
    assigned = [r for r in audit_rows() if r.event == "assign"]
    assert len(assigned) == 12 and all(r.data["automatic"] for r in assigned)


def test_auto_assign_never_picks_a_member_of_the_applicant_or_a_conflicted_evaluator(
    app, frozen_clock
):
    s = build(count=1, evaluators=4)
    application = s.applications[0]
    insider, conflicted = s.evaluators[0], s.evaluators[1]
    db.session.add(Membership(user=insider, organisation=application.organisation, role="viewer"))
    db.session.commit()
    earlier = panels.assign_manually(application, conflicted, s.manager, "asked in person")
    evaluation.declare(earlier, conflicted, has_conflict=True, statement="I advised them.")
    chosen = {a.evaluator_id for a in live(application)}
    assert insider.id not in chosen and conflicted.id not in chosen
    panels.auto_assign(s.call, "concept_note", s.manager)
    chosen = {a.evaluator_id for a in live(application)}
    assert chosen == {s.evaluators[2].id, s.evaluators[3].id}
    assert "belongs to the applicant" in " ".join(
        panels.exclusions(application, insider, "concept_note")
    )


def test_same_country_evaluators_are_excluded_when_the_call_says_so(app, frozen_clock):
    s = build(count=1, evaluators=3, exclude_same_country_evaluators=True)
    application = s.applications[0]  # lead applicant in Senegal
    senegalese = s.evaluators[0]
    db.session.add(
        Membership(user=senegalese, organisation=OrganisationFactory(country_iso2="SN"),
                   role="viewer")
    )
    db.session.commit()
    round_ = panels.auto_assign(s.call, "concept_note", s.manager)
    assert senegalese.id not in {a.evaluator_id for a in round_.created}
    with pytest.raises(ValidationFailed):
        panels.assign_manually(application, senegalese, s.manager, "needs a francophone")
    # Where the call does not exclude them, they may evaluate.
    s.call.exclude_same_country_evaluators = False
    db.session.commit()
    assert panels.exclusions(application, senegalese, "concept_note") == []


def test_auto_assign_reports_what_it_could_not_fill(app, frozen_clock):
    s = build(count=1, evaluators=1)
    round_ = panels.auto_assign(s.call, "concept_note", s.manager)
    assert len(round_.created) == 1
    assert round_.short == {s.applications[0].label: 1}


def test_manual_changes_are_audited_and_need_a_reason(app, frozen_clock):
    s = build(count=1, evaluators=3)
    application = s.applications[0]
    with pytest.raises(ValidationFailed):
        panels.assign_manually(application, s.evaluators[0], s.manager, "  ")
    outsider = EvaluatorFactory()
    with pytest.raises(ValidationFailed, match="not on the panel"):
        panels.assign_manually(application, outsider, s.manager, "expert")
    with pytest.raises(PermissionDenied):
        panels.assign_manually(application, s.evaluators[0], s.evaluators[1], "me")
    assignment = panels.assign_manually(application, s.evaluators[0], s.manager, "expert on ML")
    row = next(r for r in audit_rows(assignment) if r.event == "assign")
    assert row.comment == "expert on ML" and row.data["automatic"] is False
    replacement = panels.remove_assignment(assignment, s.manager, "on leave")
    assert assignment.state == "removed"
    assert replacement is not None and replacement.evaluator_id != s.evaluators[0].id
    assert [r.event for r in audit_rows(assignment)] == ["assign", "remove"]


# --------------------------------------------------------------------------
# Conflicts of interest and scoring
# --------------------------------------------------------------------------


def test_declaring_a_conflict_recuses_and_assigns_a_replacement(app, frozen_clock):
    s = build(count=1, evaluators=3)
    application = s.applications[0]
    panels.auto_assign(s.call, "concept_note", s.manager)
    first = live(application)[0]
    with pytest.raises(PermissionDenied):
        evaluation.application_content(first, first.evaluator)  # not declared yet
    with pytest.raises(ValidationFailed):  # a conflict needs its statement
        evaluation.declare(first, first.evaluator, has_conflict=True)
    evaluation.declare(first, first.evaluator, has_conflict=True, statement="Former employer.")
    assert first.state == "recused"
    declaration = db.session.scalar(
        select(ConflictDeclaration).where(ConflictDeclaration.assignment_id == first.id)
    )
    assert declaration.has_conflict and declaration.statement == "Former employer."
    now_live = live(application)
    assert len(now_live) == 2 and first.evaluator_id not in {a.evaluator_id for a in now_live}
    with pytest.raises(PermissionDenied):
        evaluation.application_content(first, first.evaluator)


def test_scores_need_a_comment_each_and_peers_stay_hidden_until_submission(app, frozen_clock):
    s = build(count=1, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    mine, theirs = live(s.applications[0])
    evaluate(theirs, 4)
    evaluation.declare(mine, mine.evaluator, has_conflict=False)
    grid = s.call.grid_for("concept_note")
    criteria = [c for sec in grid.sections for c in sec.criteria]
    evaluation.save_scores(mine, {criteria[0].id: (3, "")}, mine.evaluator)
    with pytest.raises(PermissionDenied):
        evaluation.peer_evaluations(mine, mine.evaluator)
    with pytest.raises(GuardFailed) as refused:
        evaluation.submit(mine, mine.evaluator)
    reasons = refused.value.reasons
    assert f"criterion {criteria[0].code} has no comment" in reasons
    assert f"criterion {criteria[1].code} is not scored" in reasons
    with pytest.raises(PermissionDenied):
        evaluation.save_scores(mine, {criteria[0].id: (3, "x")}, theirs.evaluator)
    with pytest.raises(ValidationFailed):
        evaluation.save_scores(mine, {criteria[0].id: (6, "x")}, mine.evaluator)
    score_all(mine, 4)
    evaluation.submit(mine, mine.evaluator)
    peers = evaluation.peer_evaluations(mine, mine.evaluator)
    assert [p.total for p in peers] == [Decimal(40)]
    assert peers[0].label == "Evaluator A"
    with pytest.raises(ValidationFailed):
        evaluation.save_scores(mine, {criteria[0].id: (1, "late change")}, mine.evaluator)


def test_diverging_totals_bring_in_a_further_evaluator_once(app, frozen_clock):
    s = build(count=2, evaluators=4)
    panels.auto_assign(s.call, "concept_note", s.manager)
    close, far = s.applications
    a, b = live(close)
    evaluate(a, 4)
    evaluate(b, 3)  # 40 against 30: 10 of 50 is exactly 20%, not more
    assert len(live(close)) == 2
    a, b = live(far)
    evaluate(a, 5)
    evaluate(b, 3)  # 50 against 30: 40% of the maximum
    third = [x for x in live(far) if x.state == "invited"]
    assert len(third) == 1
    assert next(r for r in audit_rows(third[0]) if r.event == "assign").actor_label == "system"
    evaluate(third[0], 1)  # diverges again, but a further evaluator comes only once
    assert len(live(far)) == 3


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


def test_result_is_the_mean_with_minimums_and_threshold_applied(app, frozen_clock):
    s = build(count=2, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    good, weak = s.applications
    for assignment, value in zip(live(good), (4, 3), strict=True):
        evaluate(assignment, value)
    for assignment, value in zip(live(weak), ({"relevance": 2, "design": 4}, 3), strict=True):
        evaluate(assignment, value)
    round_ = evaluation.compute_results(s.call, "concept_note", s.manager)
    assert round_.computed == 2 and not round_.waiting
    results = {r.application_id: r for r in db.session.scalars(select(EvaluationResult))}
    assert results[good.id].total == Decimal("35.00")
    assert results[good.id].section_scores == {"relevance": "21.00", "design": "14.00"}
    assert results[good.id].passes
    assert results[weak.id].total == Decimal("29.00")  # (12+16 + 18+12) / 2
    assert not results[weak.id].passes


def test_results_wait_for_every_evaluation_and_consensus_needs_a_justification(
    app, frozen_clock
):
    s = build(count=1, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    application = s.applications[0]
    first, second = live(application)
    evaluate(first, 4)
    round_ = evaluation.compute_results(s.call, "concept_note", s.manager)
    assert round_.computed == 0 and application.label in round_.waiting
    with pytest.raises(ValidationFailed):
        evaluation.record_consensus(application, "concept_note", s.manager,
                                    {"relevance": "20", "design": "15"}, " ")
    with pytest.raises(ValidationFailed):
        evaluation.record_consensus(application, "concept_note", s.manager,
                                    {"relevance": "31", "design": "15"}, "agreed")
    result = evaluation.record_consensus(
        application, "concept_note", s.manager, {"relevance": "20", "design": "15"},
        "The committee agreed after discussing the second evaluator's absence.",
    )
    assert result.method == "consensus" and result.total == Decimal("35.00") and result.final
    evaluate(second, 1)
    evaluation.compute_results(s.call, "concept_note", s.manager)
    assert result.method == "consensus" and result.total == Decimal("35.00")


def test_assignment_for_hides_other_evaluators_assignments(app, frozen_clock):
    s = build(count=1, evaluators=3)
    panels.auto_assign(s.call, "concept_note", s.manager)
    mine = live(s.applications[0])[0]
    stranger = next(e for e in s.evaluators if e.id not in {a.evaluator_id for a in
                                                              live(s.applications[0])})
    assert evaluation.assignment_for(mine.id, mine.evaluator) is mine
    assert evaluation.assignment_for(mine.id, s.manager) is mine
    with pytest.raises(NotFound):
        evaluation.assignment_for(mine.id, stranger)


def test_panel_figures_flag_harsh_and_lenient_evaluators(app, frozen_clock):
    s = build(count=4, evaluators=3, evaluators_per_application=3)
    panels.auto_assign(s.call, "concept_note", s.manager)
    values = {s.evaluators[0].id: 1, s.evaluators[1].id: 3, s.evaluators[2].id: 5}
    s.call.divergence_share = Decimal("1.00")  # no further evaluators in this test
    db.session.commit()
    for application in s.applications:
        for assignment in live(application):
            evaluate(assignment, values[assignment.evaluator_id])
    figures = evaluation.panel_figures(s.call, "concept_note")
    by_id = {f.evaluator.id: f for f in figures.evaluators}
    assert figures.panel_mean == Decimal("0.6000")
    assert by_id[s.evaluators[0].id].leaning == "harsh"
    assert by_id[s.evaluators[1].id].leaning == ""
    assert by_id[s.evaluators[2].id].leaning == "lenient"
    assert by_id[s.evaluators[0].id].submitted == 4
    assert figures.totals == {"submitted": 12}


def test_only_the_manager_adds_to_the_panel(app, frozen_clock):
    call = CallFactory()
    evaluator = EvaluatorFactory()
    with pytest.raises(PermissionDenied):
        panels.add_to_panel(call, evaluator, evaluator)
    manager = ManagerFactory()
    panels.add_to_panel(call, evaluator, manager)
    with pytest.raises(ValidationFailed):
        panels.add_to_panel(call, evaluator, manager)
    assert panels.panel(call) == [evaluator]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 1
