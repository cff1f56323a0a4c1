"""The one transition pipeline: policy, guards, state change, effects, audit, outbox, commit."""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grants.extensions import db
from grants.models import (
    Application,
    Assignment,
    AuditEvent,
    Call,
    ConflictDeclaration,
    EvaluationResult,
    Grant,
    OutboxMessage,
    Payment,
    ReferenceCounter,
    Report,
    Submission,
)
from grants.services import effects, evaluation
from grants.services.actors import SYSTEM
from grants.services.errors import (
    ConcurrentChange,
    GuardFailed,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from grants.services.transitions import ENGINES, allowed_transitions, history, transition
from tests.factories import (
    DEADLINE,
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    EvaluationResultFactory,
    EvaluatorFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
    SingleStageCallFactory,
    UserFactory,
    admin_checks,
    audit_rows,
    member,
    sign_as_grantee,
)
from workflows import ALL

FULL_DEADLINE = DEADLINE + timedelta(days=45)  # 2027-01-15 17:00 Brussels


def reasons(fn, *args, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    """Every reason a GuardFailed gives (pytest's match= sees only the summary line)."""
    with pytest.raises(GuardFailed) as caught:
        fn(*args, **kwargs)
    return caught.value.reasons


def count(model, *where) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def reload(obj):  # type: ignore[no-untyped-def]
    """The object as the database has it now."""
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


@pytest.fixture
def draft(app, frozen_clock):  # type: ignore[no-untyped-def]
    """A complete draft in an open two-stage call, before the deadline."""
    return ApplicationFactory()


def submitted(app_: Application) -> Application:
    return transition(app_, "submit", app_.created_by)


def scored(app_: Application, total: str = "80.00", passes: bool = True) -> EvaluationResult:
    return EvaluationResultFactory(
        application=app_, stage=app_.stage, total=Decimal(total), passes=passes
    )


# --- 1. policy ---


def test_an_applicant_of_another_organisation_gets_not_found(draft):
    stranger = member(OrganisationFactory(), "owner")
    outsider = UserFactory()
    for actor in (stranger, outsider):
        for event in ("submit", "withdraw", "award"):
            with pytest.raises(NotFound):
                transition(draft, event, actor)
    assert reload(draft).state == "draft"
    assert audit_rows() == []


def test_a_viewer_member_may_see_but_not_submit(draft):
    viewer = member(draft.organisation, "viewer")
    with pytest.raises(PermissionDenied, match="owners and editors"):
        transition(draft, "submit", viewer)
    with pytest.raises(PermissionDenied, match="owners of the organisation only"):
        transition(draft, "withdraw", viewer)
    assert reload(draft).state == "draft" and audit_rows() == []


def test_an_editor_may_submit_but_only_an_owner_may_withdraw(draft):
    editor = member(draft.organisation, "editor")
    transition(draft, "submit", editor)
    assert draft.state == "submitted"
    with pytest.raises(PermissionDenied):
        transition(draft, "withdraw", editor)
    transition(draft, "withdraw", draft.created_by)
    assert reload(draft).state == "withdrawn"


def test_a_manager_may_not_act_for_the_applicant(draft, manager):
    with pytest.raises(PermissionDenied, match="owners and editors"):
        transition(draft, "submit", manager)
    assert reload(draft).state == "draft"


def test_an_evaluator_acts_only_on_their_own_assignment(app, frozen_clock, manager):
    mine = AssignmentFactory()
    someone_else = EvaluatorFactory()

    with pytest.raises(NotFound):
        transition(mine, "accept", someone_else)
    with pytest.raises(PermissionDenied, match="the assigned evaluator only"):
        transition(mine, "accept", manager)
    assert reload(mine).state == "invited"

    transition(mine, "accept", mine.evaluator)
    assert reload(mine).state == "accepted"

    # Assigned to the application: may see it, but never decide on it.
    with pytest.raises(PermissionDenied):
        transition(mine.application, "reject", mine.evaluator)
    # Not assigned: may not even know it exists.
    with pytest.raises(NotFound):
        transition(mine.application, "reject", someone_else)


def test_the_system_acts_only_where_the_definition_allows_it(app, frozen_clock, manager):
    call = CallFactory()
    draft = ApplicationFactory(call=call)
    with pytest.raises(PermissionDenied, match="the system does not act as applicant_editor"):
        transition(draft, "submit", SYSTEM)
    with pytest.raises(PermissionDenied):
        transition(call, "cancel", SYSTEM, comment="no")

    invited = ApplicationFactory(call=call, state="invited")
    frozen_clock.set(FULL_DEADLINE + timedelta(seconds=1))
    with pytest.raises(PermissionDenied, match="only the system"):
        transition(invited, "lapse", manager)
    transition(invited, "lapse", SYSTEM)
    assert reload(invited).state == "lapsed"

    frozen_clock.set(DEADLINE + timedelta(seconds=1))
    transition(call, "close", SYSTEM)
    assert reload(call).state == "closed"
    rows = audit_rows(call)
    assert [(r.actor_id, r.actor_label, r.event) for r in rows] == [(None, SYSTEM.label, "close")]


# --- 2. guards: every reason at once ---


def test_all_guard_reasons_come_together(app, frozen_clock):
    late = ApplicationFactory(complete=False)
    frozen_clock.set(DEADLINE + timedelta(minutes=5))

    with pytest.raises(GuardFailed) as caught:
        transition(late, "submit", late.created_by)

    reasons = caught.value.reasons
    assert "the deadline passed at 2026-12-01 17:00:00 Europe/Brussels" in reasons
    assert {
        "incomplete: the summary",
        "incomplete: the description of the action",
        "incomplete: the primary JVAP domain",
    } <= set(reasons)
    # ... and the eligibility reasons too, in the same answer
    assert "No country of implementation is given." in reasons
    assert any("registration certificate is missing" in r for r in reasons)
    assert len(reasons) >= 8
    assert reload(late).state == "draft" and audit_rows() == []


def test_a_closed_call_and_a_passed_deadline_are_both_reported(app, frozen_clock):
    call = CallFactory(state="closed")
    draft = ApplicationFactory(call=call)
    frozen_clock.set(DEADLINE + timedelta(days=1))
    with pytest.raises(GuardFailed) as caught:
        transition(draft, "submit", draft.created_by)
    assert caught.value.reasons == [
        f"call {call.code} is closed, not open for submissions",
        "the deadline passed at 2026-12-01 17:00:00 Europe/Brussels",
    ]


# --- 3. illegal events and required comments ---


def test_an_illegal_event_changes_nothing_and_writes_no_audit(draft, manager):
    version = draft.version
    with pytest.raises(InvalidTransition) as caught:
        transition(draft, "award", manager, data={"documents_verified": True})
    message = str(caught.value)
    assert "'draft'" in message and "'award'" in message
    assert "allowed: submit, withdraw" in message
    assert caught.value.status == 409

    fresh = reload(draft)
    assert (fresh.state, fresh.version) == ("draft", version)
    assert count(AuditEvent) == 0 and count(OutboxMessage) == 0 and count(Grant) == 0


def test_an_unknown_event_is_an_invalid_transition(draft):
    with pytest.raises(InvalidTransition, match="allowed: submit, withdraw"):
        transition(draft, "teleport", draft.created_by)


def test_a_required_comment_is_enforced(draft, manager):
    submitted(draft)
    before = count(AuditEvent)
    for comment in (None, "", "   \n\t"):
        with pytest.raises(ValidationFailed) as caught:
            transition(draft, "reject_admin", manager, comment=comment)
        assert caught.value.fields == {"comment": ["a reason is required"]}
        assert caught.value.status == 422
    fresh = reload(draft)
    assert fresh.state == "submitted" and fresh.decision_reason is None
    assert count(AuditEvent) == before
    transition(fresh, "reject_admin", manager, comment="  Declaration not signed. ")
    assert reload(draft).decision_reason == "Declaration not signed."


# --- 4. a successful transition: one audit row, outbox rows, one commit ---


def test_a_transition_writes_one_audit_row_and_the_outbox_in_one_commit(
    app, draft, manager, frozen_clock
):
    owner = draft.created_by
    editor = member(draft.organisation, "editor")
    viewer = member(draft.organisation, "viewer")
    member(OrganisationFactory(), "owner")  # another organisation hears nothing
    version = draft.version

    transition(draft, "submit", owner, comment="  Our concept note.  ", commit=False)

    # Nothing is visible outside the transaction before the commit ...
    with Session(db.engine) as other:
        assert other.get(Application, draft.id).state == "draft"
        assert other.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert other.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    db.session.commit()
    # ... and everything at once after it.
    with Session(db.engine) as other:
        assert other.get(Application, draft.id).state == "submitted"
        assert other.scalar(select(func.count()).select_from(AuditEvent)) == 1
        assert other.scalar(select(func.count()).select_from(OutboxMessage)) == 3

    fresh = reload(draft)
    assert fresh.version == version + 1
    [row] = audit_rows()
    assert row.actor_id == owner.id and row.actor_label == owner.label
    assert (row.object_type, row.object_id) == ("applications", draft.id)
    assert (row.event, row.from_state, row.to_state) == ("submit", "draft", "submitted")
    assert row.comment == "Our concept note."
    assert row.occurred_at == frozen_clock.current
    assert row.occurred_at.utcoffset() == timedelta(0)
    assert history(fresh) == [row]

    messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    # The submitter keeps the receipt too (`notify_actor`); the members hear of it.
    assert sorted(m.recipient_id for m in messages) == sorted([owner.id, editor.id, viewer.id])
    assert manager.id not in {m.recipient_id for m in messages}
    assert {m.kind for m in messages} == {"application_two_stage.submit"}
    assert {(m.object_type, m.object_id) for m in messages} == {("applications", draft.id)}


def test_a_rolled_back_transition_leaves_no_trace(draft):
    member(draft.organisation, "editor")
    transition(draft, "submit", draft.created_by, commit=False)
    db.session.rollback()
    fresh = reload(draft)
    assert fresh.state == "draft" and fresh.reference is None
    assert count(AuditEvent) == 0 and count(OutboxMessage) == 0 and count(Submission) == 0


def test_withdrawal_notifies_the_applicant_and_every_manager_but_not_the_actor(draft, manager):
    other_manager = ManagerFactory()
    editor = member(draft.organisation, "editor")
    submitted(draft)
    before = {m.id for m in db.session.scalars(select(OutboxMessage))}

    transition(draft, "withdraw", draft.created_by, comment="Partner left.")

    new = [m for m in db.session.scalars(select(OutboxMessage)) if m.id not in before]
    assert sorted(m.recipient_id for m in new) == sorted([editor.id, manager.id, other_manager.id])
    assert {m.kind for m in new} == {"application_two_stage.withdraw"}


# --- 5. concurrent changes ---


def test_a_concurrent_change_is_a_conflict_and_is_never_overwritten(draft):
    owner = draft.created_by
    assert draft.state == "draft"  # loaded in this session, version 1

    with Session(db.engine) as other:
        row = other.get(Application, draft.id)
        row.title = "Changed in another session"
        other.commit()

    with pytest.raises(ConcurrentChange) as caught:
        transition(draft, "submit", owner)
    assert caught.value.status == 409

    fresh = reload(draft)
    assert fresh.title == "Changed in another session"
    assert fresh.state == "draft" and fresh.reference is None
    assert count(AuditEvent) == 0 and count(OutboxMessage) == 0 and count(Submission) == 0

    # Reloaded, the same change goes through and keeps the other one.
    transition(fresh, "submit", owner)
    fresh = reload(draft)
    assert fresh.state == "submitted" and fresh.title == "Changed in another session"
    assert fresh.submissions[0].snapshot["title"] == "Changed in another session"


def test_two_pipelines_racing_on_one_application_give_exactly_one_conflict(app, draft, manager):
    submitted(draft)
    admin_checks(draft, manager)
    outcomes = []

    stale = reload(draft)  # read by the first person
    with app.app_context():  # a second request, with its own session
        mine = db.session.get(Application, draft.id)
        transition(mine, "admit", manager)
        outcomes.append("admitted")
        db.session.remove()
    try:
        transition(stale, "reject_admin", manager, comment="Declaration missing.")
        outcomes.append("rejected")
    except ConcurrentChange:
        outcomes.append("conflict")

    assert outcomes == ["admitted", "conflict"]
    fresh = reload(draft)
    assert fresh.state == "in_evaluation" and fresh.decision_reason is None
    assert [r.event for r in audit_rows(fresh)] == ["submit", "admit"]


# --- 6. an effect that fails rolls everything back ---


def test_a_failing_effect_rolls_back_state_audit_outbox_and_submission(draft, monkeypatch):
    member(draft.organisation, "editor")
    real = effects.EFFECTS["freeze_submission"]

    def freeze_then_fail(obj, ctx):  # type: ignore[no-untyped-def]
        real(obj, ctx)  # the submission row and the reference are made ...
        raise RuntimeError("storage unavailable")  # ... then something breaks

    monkeypatch.setitem(effects.EFFECTS, "freeze_submission", freeze_then_fail)
    with pytest.raises(RuntimeError, match="storage unavailable"):
        transition(draft, "submit", draft.created_by)

    fresh = reload(draft)
    assert fresh.state == "draft" and fresh.reference is None and fresh.submitted_at is None
    assert fresh.version == 1
    assert count(AuditEvent) == 0
    assert count(OutboxMessage) == 0
    assert count(Submission) == 0
    assert db.session.scalar(select(func.coalesce(func.max(ReferenceCounter.last), 0))) == 0

    monkeypatch.setitem(effects.EFFECTS, "freeze_submission", real)
    transition(fresh, "submit", fresh.created_by)
    assert fresh.reference.endswith("-0001")  # the number was never given out


def test_a_failing_second_effect_undoes_the_first(app, frozen_clock, manager, monkeypatch):
    selected = ApplicationFactory(state="provisionally_selected")
    selected_on = selected.decided_at

    def fail(obj, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("reserve list unavailable")

    monkeypatch.setitem(effects.EFFECTS, "promote_from_reserve", fail)
    with pytest.raises(RuntimeError):
        transition(selected, "declare_ineligible", manager, comment="Certificate expired.")
    fresh = reload(selected)
    assert fresh.state == "provisionally_selected"
    # record_decision undone: no reason, the selection's own date kept
    assert fresh.decision_reason is None and fresh.decided_at == selected_on
    assert count(AuditEvent) == 0 and count(OutboxMessage) == 0


# --- 7. deadlines, to the second, in the call's time zone ---


@pytest.mark.parametrize(("offset", "passes"), [(-1, True), (1, False)])
def test_the_deadline_is_enforced_to_the_second(app, frozen_clock, offset, passes):
    draft = ApplicationFactory()
    frozen_clock.set(DEADLINE + timedelta(seconds=offset))
    if passes:
        transition(draft, "submit", draft.created_by)
        assert draft.state == "submitted"
    else:
        with pytest.raises(GuardFailed) as caught:
            transition(draft, "submit", draft.created_by)
        assert caught.value.reasons == [
            "the deadline passed at 2026-12-01 17:00:00 Europe/Brussels"
        ]
        assert reload(draft).state == "draft"


@pytest.mark.parametrize(
    ("utc_moment", "passes"),
    [
        # 17:00 in Brussels on 25 October 2026 is 16:00 UTC: clocks went back at 03:00 (CET).
        (datetime(2026, 10, 25, 15, 0, 1, tzinfo=UTC), True),  # would be late under CEST
        (datetime(2026, 10, 25, 15, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 10, 25, 16, 0, 1, tzinfo=UTC), False),
    ],
)
def test_the_deadline_holds_across_a_daylight_saving_change(app, frozen_clock, utc_moment, passes):
    local = datetime(2026, 10, 25, 17, 0, tzinfo=ZoneInfo("Europe/Brussels"))
    call = CallFactory(deadline=local)
    draft = ApplicationFactory(call=call)
    assert reload(call).deadline_at == datetime(2026, 10, 25, 16, 0, tzinfo=UTC)

    frozen_clock.set(utc_moment)
    if passes:
        transition(draft, "submit", draft.created_by)
        assert reload(draft).state == "submitted"
    else:
        with pytest.raises(GuardFailed) as caught:
            transition(draft, "submit", draft.created_by)
        assert caught.value.reasons == [
            "the deadline passed at 2026-10-25 17:00:00 Europe/Brussels"
        ]


def test_the_deadline_reason_is_in_the_calls_own_zone(app, frozen_clock):
    # 17:00 in Addis Ababa (UTC+3) is 14:00 UTC
    call = CallFactory(
        time_zone="Africa/Addis_Ababa", deadline=datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    )
    draft = ApplicationFactory(call=call)
    frozen_clock.set(datetime(2026, 12, 1, 14, 0, 1, tzinfo=UTC))
    with pytest.raises(GuardFailed) as caught:
        transition(draft, "submit", draft.created_by)
    assert caught.value.reasons == ["the deadline passed at 2026-12-01 17:00:00 Africa/Addis_Ababa"]


@pytest.mark.parametrize(("offset", "passes"), [(-1, True), (1, False)])
def test_the_full_application_deadline_is_enforced_to_the_second(app, frozen_clock, offset, passes):
    invited = ApplicationFactory(state="invited")
    frozen_clock.set(FULL_DEADLINE + timedelta(seconds=offset))
    if passes:
        transition(invited, "submit_full", invited.created_by)
        assert reload(invited).state == "fa_submitted"
        with pytest.raises(InvalidTransition):
            transition(invited, "lapse", SYSTEM)
    else:
        with pytest.raises(GuardFailed) as caught:
            transition(invited, "submit_full", invited.created_by)
        assert caught.value.reasons == [
            "the full-application deadline passed at 2027-01-15 17:00:00 Europe/Brussels"
        ]
        transition(invited, "lapse", SYSTEM)
        assert reload(invited).state == "lapsed"


def test_an_invitation_does_not_lapse_before_the_full_deadline(app, frozen_clock):
    invited = ApplicationFactory(state="invited")
    frozen_clock.set(FULL_DEADLINE)
    assert reasons(transition, invited, "lapse", SYSTEM) == [
        "the full-application deadline is still ahead (2027-01-15 17:00:00 Europe/Brussels)"
    ]


# --- 8. reference numbers ---

REFERENCE = re.compile(r"^MMD-(?P<year>\d{4})-(?P<call>[A-Z0-9]+)-(?P<seq>\d{4})$")


def test_reference_numbers_follow_the_format_and_are_never_reused(app, frozen_clock):
    call = CallFactory(code="C02")
    other_call = CallFactory(code="C03")
    first, second, third = (ApplicationFactory(call=call) for _ in range(3))
    for application in (first, second):
        submitted(application)
    assert first.reference == "MMD-2026-C02-0001"
    assert second.reference == "MMD-2026-C02-0002"
    assert REFERENCE.match(first.reference)

    transition(second, "withdraw", second.created_by)
    assert reload(second).reference == "MMD-2026-C02-0002"  # kept by the withdrawn one
    submitted(third)
    assert third.reference == "MMD-2026-C02-0003"

    elsewhere = ApplicationFactory(call=other_call)
    submitted(elsewhere)
    assert elsewhere.reference == "MMD-2026-C03-0001"

    references = list(db.session.scalars(select(Application.reference)))
    references = [r for r in references if r]
    assert len(references) == len(set(references)) == 4


def test_the_full_application_keeps_the_concept_note_reference(app, frozen_clock, manager):
    call = CallFactory(code="C09")
    draft = ApplicationFactory(call=call)
    submitted(draft)
    reference = draft.reference
    admin_checks(draft, manager)
    transition(draft, "admit", manager)
    scored(draft)
    transition(draft, "invite", manager)
    transition(draft, "submit_full", draft.created_by)
    fresh = reload(draft)
    assert fresh.reference == reference == "MMD-2026-C09-0001"
    assert [s.stage for s in fresh.submissions] == ["concept_note", "full_application"]
    assert all(s.snapshot["reference"] == reference for s in fresh.submissions[1:])


# --- 9. allowed_transitions ---


def _events(obj, actor):  # type: ignore[no-untyped-def]
    return {a.event: a for a in allowed_transitions(obj, actor)}


def test_allowed_transitions_lists_only_what_the_actor_may_fire(draft, manager):
    owner = draft.created_by
    editor = member(draft.organisation, "editor")
    viewer = member(draft.organisation, "viewer")
    stranger = member(OrganisationFactory(), "owner")

    assert set(_events(draft, owner)) == {"submit", "withdraw"}
    assert set(_events(draft, editor)) == {"submit"}
    assert _events(draft, viewer) == {}
    assert _events(draft, manager) == {}
    assert _events(draft, stranger) == {}
    assert _events(draft, SYSTEM) == {}
    assert _events(draft, owner)["submit"].blocked_by == ()

    submitted(draft)
    for_manager = _events(draft, manager)
    assert set(for_manager) == {"admit", "reject_admin"}
    assert for_manager["reject_admin"].comment_required is True
    assert for_manager["reject_admin"].blocked_by == ()
    assert for_manager["admit"].dest == "in_evaluation"
    assert set(for_manager["admit"].blocked_by) == {
        "administrative check 'submitted_before_deadline' not done",
        "administrative check 'form_complete' not done",
        "administrative check 'language_correct' not done",
        "administrative check 'declaration_signed' not done",
    }
    assert set(_events(draft, owner)) == {"withdraw"}

    admin_checks(draft, manager, failing="declaration_signed")
    assert _events(draft, manager)["admit"].blocked_by == (
        "administrative check 'declaration_signed' failed: The declaration is not signed.",
    )
    assert count(AuditEvent) == 1  # listing fires nothing


def test_allowed_transitions_shows_every_blocking_reason(app, frozen_clock):
    late = ApplicationFactory(complete=False)
    frozen_clock.set(DEADLINE + timedelta(seconds=1))
    submit = _events(late, late.created_by)["submit"]
    assert "the deadline passed at 2026-12-01 17:00:00 Europe/Brussels" in submit.blocked_by
    assert "incomplete: the summary" in submit.blocked_by
    assert _events(late, late.created_by)["withdraw"].blocked_by == ()


def test_allowed_transitions_for_the_system(app, frozen_clock, manager):
    invited = ApplicationFactory(state="invited")
    assert set(_events(invited, SYSTEM)) == {"lapse"}
    assert _events(invited, SYSTEM)["lapse"].blocked_by != ()
    assert set(_events(invited, invited.created_by)) == {"submit_full", "withdraw"}
    assert _events(invited, manager) == {}
    frozen_clock.set(FULL_DEADLINE + timedelta(seconds=1))
    assert _events(invited, SYSTEM)["lapse"].blocked_by == ()


# --- 10. promotion from the reserve list ---


def _ranked(call: Call, state: str, requested: str, total: str) -> Application:
    amount = Decimal(requested)
    application = ApplicationFactory(
        call=call, state=state, requested_amount=amount, total_cost=amount
    )
    EvaluationResultFactory(
        application=application,
        stage="full_application",
        total=Decimal(total),
        section_scores={"capacity": "16.00", "relevance": "25.00"},
    )
    return application


@pytest.fixture
def reserve_list(app, frozen_clock):  # type: ignore[no-untyped-def]
    """Budget 280,000: two selected take it all; three reserves, the best one too big."""
    call = SingleStageCallFactory(budget=Decimal("280000.00"), state="evaluation")
    return {
        "call": call,
        "a": _ranked(call, "provisionally_selected", "140000.00", "92.00"),
        "b": _ranked(call, "provisionally_selected", "140000.00", "91.00"),
        "r1": _ranked(call, "reserve", "150000.00", "90.00"),
        "r2": _ranked(call, "reserve", "130000.00", "85.00"),
        "r3": _ranked(call, "reserve", "100000.00", "80.00"),
    }


def test_an_ineligible_selection_promotes_the_next_reserve_that_fits(reserve_list, manager):
    a, r1, r2, r3 = (reserve_list[k] for k in ("a", "r1", "r2", "r3"))
    r2_owner = r2.created_by

    transition(a, "declare_ineligible", manager, comment="Registration certificate expired.")

    assert reload(a).state == "ineligible"
    assert reload(a).decision_reason == "Registration certificate expired."
    # 140,000 freed: r1 (150,000) is too big and skipped, r2 (130,000) fits.
    assert reload(r1).state == "reserve"
    assert reload(r2).state == "provisionally_selected"
    assert reload(r3).state == "reserve"
    [promotion] = audit_rows(r2)
    assert (promotion.event, promotion.from_state, promotion.to_state) == (
        "select",
        "reserve",
        "provisionally_selected",
    )
    assert promotion.actor_id is None and promotion.actor_label == SYSTEM.label
    assert a.label in promotion.comment
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.object_id == r2.id, OutboxMessage.recipient_id == r2_owner.id)
        )
        == 1
    )


def test_a_withdrawn_selection_promotes_the_next_reserve_that_fits(reserve_list, manager):
    a, b, r1, r2, r3 = (reserve_list[k] for k in ("a", "b", "r1", "r2", "r3"))
    transition(a, "declare_ineligible", manager, comment="Certificate expired.")
    assert reload(r2).state == "provisionally_selected"  # 10,000 left

    transition(b, "withdraw", b.created_by, comment="We could not secure the partner.")

    # b's 140,000 frees 150,000 in all: now r1 fits and is the best ranked.
    assert reload(b).state == "withdrawn"
    assert reload(r1).state == "provisionally_selected"
    assert reload(r3).state == "reserve"


def test_withdrawing_a_reserve_application_promotes_nobody(reserve_list):
    r1, r2, r3 = (reserve_list[k] for k in ("r1", "r2", "r3"))
    transition(r1, "withdraw", r1.created_by)
    assert (reload(r2).state, reload(r3).state) == ("reserve", "reserve")
    assert [r.event for r in audit_rows()] == ["withdraw"]


def test_nobody_is_promoted_when_no_reserve_fits(app, frozen_clock, manager):
    call = SingleStageCallFactory(budget=Decimal("260000.00"), state="evaluation")
    a = _ranked(call, "provisionally_selected", "110000.00", "92.00")
    _ranked(call, "provisionally_selected", "150000.00", "91.00")
    big = _ranked(call, "reserve", "120000.00", "90.00")
    transition(a, "declare_ineligible", manager, comment="Not registered.")
    assert reload(big).state == "reserve"  # 110,000 freed, 120,000 asked
    assert [r.event for r in audit_rows()] == ["declare_ineligible"]


def test_a_manager_may_not_select_a_reserve_that_does_not_fit(reserve_list, manager):
    r3 = reserve_list["r3"]
    with pytest.raises(GuardFailed) as caught:
        transition(r3, "select", manager)
    assert caught.value.reasons == [
        "the requested EUR 100,000.00 does not fit the remaining budget of EUR 0.00"
    ]


# --- 11. award and grant ---


@pytest.fixture
def selected(app, frozen_clock):  # type: ignore[no-untyped-def]
    return ApplicationFactory(state="provisionally_selected")


def test_award_needs_verified_documents(selected, manager):
    assert reasons(transition, selected, "award", manager) == [
        "the supporting documents have not been confirmed as verified"
    ]
    assert reasons(transition, selected, "award", manager, data={"documents_verified": False}) == [
        "the supporting documents have not been confirmed as verified"
    ]
    assert count(Grant) == 0


def test_award_creates_a_grant_for_the_requested_amount(selected, manager, frozen_clock):
    transition(selected, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant))
    assert grant.application_id == selected.id and selected.state == "awarded"
    assert grant.amount == Decimal("120000.00") and grant.currency == "EUR"
    assert grant.funding_rate == Decimal("1.0000")
    assert grant.state == "contract_preparation"
    assert re.fullmatch(rf"MMD-2026-{selected.call.code}-G001", grant.number)
    assert grant.start_date == date(2026, 12, 1)  # first day of the next month
    assert grant.end_date == date(2027, 5, 31)  # six months
    assert [c.number for c in grant.contracts] == [1]
    assert grant.awarded_at == frozen_clock.current
    [row] = audit_rows(selected)
    assert row.data == {"documents_verified": True}


def test_a_grant_never_exceeds_the_requested_amount(selected, manager):
    for amount in ("120000.01", "0", "-5"):
        with pytest.raises(ValidationFailed, match=r"at most EUR 120,000\.00"):
            transition(
                selected, "award", manager, data={"documents_verified": True, "amount": amount}
            )
    assert reload(selected).state == "provisionally_selected"
    assert count(Grant) == 0 and count(AuditEvent) == 0


def test_a_grant_never_exceeds_the_call_maximum(app, frozen_clock, manager):
    # Requested above the call's maximum (150,000): the grant is capped at the maximum.
    too_much = ApplicationFactory(
        state="provisionally_selected",
        requested_amount=Decimal("180000.00"),
        total_cost=Decimal("200000.00"),
    )
    with pytest.raises(ValidationFailed, match=r"at most EUR 150,000\.00"):
        transition(
            too_much, "award", manager, data={"documents_verified": True, "amount": "150000.01"}
        )
    transition(too_much, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant))
    assert grant.amount == Decimal("150000.00")
    assert grant.funding_rate == Decimal("0.7500")


def test_a_smaller_grant_may_be_awarded(selected, manager):
    transition(selected, "award", manager, data={"documents_verified": True, "amount": "100000"})
    grant = db.session.scalar(select(Grant))
    assert grant.amount == Decimal("100000.00")
    assert reload(grant).funding_rate == Decimal("0.8333")


def test_the_funding_rate_is_kept_to_four_places(selected, manager):
    transition(selected, "award", manager, data={"documents_verified": True, "amount": "100000"})
    grant = reload(db.session.scalar(select(Grant)))
    assert grant.funding_rate == Decimal("0.8333")


def test_grant_numbers_are_sequential_per_call(app, frozen_clock, manager):
    call = CallFactory(code="C05")
    for _ in range(2):
        transition(
            ApplicationFactory(call=call, state="provisionally_selected"),
            "award",
            manager,
            data={"documents_verified": True},
        )
    numbers = list(db.session.scalars(select(Grant.number).order_by(Grant.id)))
    assert numbers == ["MMD-2026-C05-G001", "MMD-2026-C05-G002"]


def _awarded_grant(manager) -> Grant:  # type: ignore[no-untyped-def]
    application = ApplicationFactory(state="provisionally_selected")
    transition(application, "award", manager, data={"documents_verified": True})
    return db.session.scalar(select(Grant).where(Grant.application_id == application.id))


def test_signature_plans_the_payments_and_reports(app, frozen_clock, manager):
    grant = _awarded_grant(manager)
    grantee = grant.application.created_by

    transition(grant, "send_for_signature", manager)
    assert grant.state == "awaiting_signature"
    assert grant.sent_for_signature_at == frozen_clock.current

    with pytest.raises(GuardFailed) as caught:
        transition(grant, "sign", manager)
    assert caught.value.reasons == ["the grantee has not signed the current contract"]
    assert count(Payment) == 0

    with pytest.raises(PermissionDenied):
        transition(grant, "sign", grantee)

    sign_as_grantee(grant, grantee)
    frozen_clock.advance(days=3)
    transition(grant, "sign", manager)
    grant = reload(grant)
    assert grant.state == "active" and grant.signed_at == frozen_clock.current

    payments = grant.payments
    assert [(p.sequence, p.kind, p.planned_amount, p.state) for p in payments] == [
        (1, "prefinancing", Decimal("96000.00"), "planned"),
        (2, "balance", Decimal("24000.00"), "planned"),
    ]
    assert sum(p.planned_amount for p in payments) == grant.amount
    [report] = grant.reports
    assert (report.kind, report.state) == ("final", "due")
    assert report.period_start == grant.start_date and report.period_end == grant.end_date
    assert report.due_date == date(2027, 8, 31)  # three months after the end


def test_an_unsigned_contract_lapses_after_the_signature_period(app, frozen_clock, manager):
    grant = _awarded_grant(manager)
    transition(grant, "send_for_signature", manager)
    sent = grant.sent_for_signature_at

    frozen_clock.set(sent + timedelta(days=30))
    assert reasons(transition, grant, "lapse", SYSTEM) == [
        "the 30-day signature period has not expired"
    ]

    frozen_clock.set(sent + timedelta(days=30, seconds=1))
    transition(grant, "lapse", SYSTEM)
    grant = reload(grant)
    assert grant.state == "lapsed" and grant.signed_at is None
    assert grant.application.decision_reason == "contract not signed in time"
    assert grant.payments == [] and grant.reports == []


def test_a_lapsed_contract_gives_its_money_to_the_reserve(app, frozen_clock, manager):
    call = SingleStageCallFactory(budget=Decimal("240000.00"), state="decided")
    winner = _ranked(call, "provisionally_selected", "120000.00", "90.00")
    _ranked(call, "provisionally_selected", "120000.00", "89.00")
    waiting = _ranked(call, "reserve", "110000.00", "70.00")
    transition(winner, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant))
    transition(grant, "send_for_signature", manager)
    assert reload(waiting).state == "reserve"

    frozen_clock.advance(days=31)
    transition(grant, "lapse", manager)
    assert reload(waiting).state == "provisionally_selected"
    assert audit_rows(waiting)[-1].actor_label == SYSTEM.label


# --- 12. every transition of every workflow, through the pipeline ---


def _actor(obj, event: str, manager):  # type: ignore[no-untyped-def]
    edge = ENGINES[obj.workflow_name].edge(obj, event)
    if "manager" in edge.by:
        return manager
    if "evaluator" in edge.by:
        return obj.evaluator
    if {"applicant_editor", "applicant_owner"} & set(edge.by):
        from grants.policy import organisation_of

        org = organisation_of(obj)
        return next(m.user for m in org.memberships if m.role == "owner")
    return SYSTEM


def fire(obj, event: str, manager, **kwargs):  # type: ignore[no-untyped-def]
    edge = ENGINES[obj.workflow_name].edge(obj, event)
    if edge.comment_required:
        kwargs.setdefault("comment", f"Reason for {event}.")
    return transition(obj, event, _actor(obj, event, manager), **kwargs)


def covered(objects) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    pairs = set()
    for obj in objects:
        rows = audit_rows(obj)
        # the trail is unbroken: each change starts where the previous one ended
        for before, after in itertools.pairwise(rows):
            assert after.from_state == before.to_state, (obj.label, before.event, after.event)
        assert rows == [] or rows[-1].to_state == reload(obj).state
        pairs |= {(r.from_state, r.event) for r in rows}
    return pairs


def every_edge(name: str) -> set[tuple[str, str]]:
    return {(s, t.event) for t in ALL[name].transitions for s in t.sources}


def evaluate(application: Application, stage: str, manager, evaluators, scores) -> None:  # type: ignore[no-untyped-def]
    """Two evaluators accept, score every criterion and submit; the result is made final."""
    for evaluator, score in zip(evaluators, scores, strict=True):
        assignment = evaluation.assign(application, evaluator, manager, stage)
        db.session.commit()
        transition(assignment, "accept", evaluator, comment="No conflict of interest.")
        grid = application.call.grid_for(stage)
        for section in grid.sections:
            for criterion in section.criteria:
                # carried over from the concept note only in a two-stage call
                if not (section.carried_over and application.call.is_two_stage):
                    evaluation.save_score(
                        assignment, criterion.id, score, f"{criterion.code}: sound.", evaluator
                    )
        db.session.commit()
        transition(assignment, "submit", evaluator)
    evaluation.compute_result(application, stage, manager)
    db.session.commit()


# Paths from draft; None waits a step. Together they take every edge of the workflow.
TWO_STAGE_PATHS = [
    ["submit", "admit", "invite", "submit_full", "admit_full", "select", "award"],
    ["submit", "reject_admin"],
    ["submit", "admit", "reject"],
    ["submit", "admit", "invite", None, "lapse"],
    ["submit", "admit", "invite", "submit_full", "reject_admin_full"],
    [
        "submit",
        "admit",
        "invite",
        "submit_full",
        "admit_full",
        "reserve",
        "select",
        "declare_ineligible",
    ],
    ["submit", "admit", "invite", "submit_full", "admit_full", "reject"],
    ["withdraw"],
    ["submit", "withdraw"],
    ["submit", "admit", "withdraw"],
    ["submit", "admit", "invite", "withdraw"],
    ["submit", "admit", "invite", "submit_full", "withdraw"],
    ["submit", "admit", "invite", "submit_full", "admit_full", "withdraw"],
    ["submit", "admit", "invite", "submit_full", "admit_full", "reserve", "withdraw"],
    ["submit", "admit", "invite", "submit_full", "admit_full", "select", "withdraw"],
]
TWO_STAGE_STEPS = [
    datetime(2026, 11, 2, 9, 0, tzinfo=UTC),  # concept notes, before the deadline
    datetime(2026, 12, 2, 9, 0, tzinfo=UTC),  # opening: administrative check
    datetime(2026, 12, 20, 9, 0, tzinfo=UTC),  # concept notes evaluated
    datetime(2027, 1, 10, 9, 0, tzinfo=UTC),  # full applications, before their deadline
    datetime(2027, 1, 16, 9, 0, tzinfo=UTC),  # after the full deadline
    datetime(2027, 2, 10, 9, 0, tzinfo=UTC),  # full applications evaluated
    datetime(2027, 2, 20, 9, 0, tzinfo=UTC),
    datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
]
SINGLE_STAGE_PATHS = [
    ["submit", "admit", "select", "award"],
    ["submit", "reject_admin"],
    ["submit", "admit", "reject"],
    ["submit", "admit", "reserve", "select", "declare_ineligible"],
    ["withdraw"],
    ["submit", "withdraw"],
    ["submit", "admit", "withdraw"],
    ["submit", "admit", "reserve", "withdraw"],
    ["submit", "admit", "select", "withdraw"],
]
SINGLE_STAGE_STEPS = TWO_STAGE_STEPS[:3] + TWO_STAGE_STEPS[5:]


def run_paths(call, paths, steps, manager, frozen_clock, evaluators):  # type: ignore[no-untyped-def]
    applications = [ApplicationFactory(call=call) for _ in paths]
    main = applications[0]
    for step, moment in enumerate(steps):
        frozen_clock.set(moment)
        for application, path in zip(applications, paths, strict=True):
            if step >= len(path) or path[step] is None:
                continue
            event = path[step]
            kwargs = {}
            if event in ("admit", "admit_full"):
                admin_checks(application, manager)
            if event in ("invite", "reserve", "reject") or (
                event == "select" and application.state != "reserve"
            ):
                if application is main:
                    evaluate(application, application.stage, manager, evaluators, (5, 4))
                else:
                    scored(application)
            if event == "award":
                kwargs["data"] = {"documents_verified": True}
            fire(application, event, manager, **kwargs)
            assert (
                application.state
                == ENGINES[call.workflow]
                .workflow.find(audit_rows(application)[-1].from_state, event)
                .dest
            )
    return applications


@pytest.mark.parametrize(
    ("factory", "paths", "steps"),
    [
        (CallFactory, TWO_STAGE_PATHS, TWO_STAGE_STEPS),
        (SingleStageCallFactory, SINGLE_STAGE_PATHS, SINGLE_STAGE_STEPS),
    ],
    ids=["two_stage", "single_stage"],
)
def test_every_application_transition_through_the_pipeline(
    app, frozen_clock, manager, factory, paths, steps
):
    call = factory()
    evaluators = [EvaluatorFactory(), EvaluatorFactory()]
    applications = run_paths(call, paths, steps, manager, frozen_clock, evaluators)

    assert covered(applications) == every_edge(call.workflow)
    main = reload(applications[0])
    assert main.state == "awarded"
    assert REFERENCE.match(main.reference)
    expected_stages = (
        ["concept_note", "full_application"] if call.is_two_stage else ["full_application"]
    )
    assert [s.stage for s in main.submissions] == expected_stages
    assert db.session.scalar(select(Grant.application_id)) == main.id
    assert [a.state for a in main_assignments(main)] == ["submitted"] * len(expected_stages) * 2
    assert all(engine.machine.models == [] for engine in ENGINES.values())


def main_assignments(application: Application) -> list[Assignment]:
    return list(
        db.session.scalars(select(Assignment).where(Assignment.application_id == application.id))
    )


def test_every_call_transition_through_the_pipeline(app, frozen_clock, manager):
    frozen_clock.set(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    main = CallFactory(state="draft")
    cancelled_draft = CallFactory(state="draft")
    cancelled_open = CallFactory(state="draft")
    bare = CallFactory(state="draft", grids=False, deadline=datetime(2026, 9, 1, tzinfo=UTC))

    with pytest.raises(GuardFailed) as caught:
        fire(bare, "publish", manager)
    assert set(caught.value.reasons) == {
        "the concept note evaluation grid has no criteria",
        "the full application evaluation grid has no criteria",
        "the deadline 2026-09-01 02:00:00 Europe/Brussels is not in the future",
    }

    for call in (main, cancelled_open):
        fire(call, "publish", manager)
        assert call.state == "open" and call.published_at == frozen_clock.current
    fire(cancelled_draft, "cancel", manager)
    assert cancelled_draft.published_at is None
    fire(cancelled_open, "cancel", manager)

    assert reasons(fire, main, "close", manager) == [
        "the deadline 2026-12-01 17:00:00 Europe/Brussels has not passed yet"
    ]
    pending = ApplicationFactory(call=main)
    frozen_clock.set(datetime(2026, 11, 2, tzinfo=UTC))
    submitted(pending)
    frozen_clock.set(DEADLINE + timedelta(seconds=1))
    transition(main, "close", SYSTEM)
    fire(main, "start_evaluation", manager)
    with pytest.raises(GuardFailed) as caught:
        fire(main, "decide", manager)
    assert caught.value.reasons == ["1 application(s) still submitted"]
    fire(pending, "reject_admin", manager)
    fire(main, "decide", manager)
    fire(main, "archive", manager)

    calls = [main, cancelled_draft, cancelled_open]
    assert covered(calls) == every_edge("call")
    assert [reload(c).state for c in calls] == ["archived", "cancelled", "cancelled"]


def test_a_draft_call_can_be_cancelled(app, frozen_clock, manager):
    call = CallFactory(state="draft")
    transition(call, "cancel", manager, comment="The budget was withdrawn.")
    assert reload(call).state == "cancelled"
    assert [r.event for r in audit_rows(call)] == ["cancel"]


def test_every_assignment_transition_through_the_pipeline(app, frozen_clock, manager):
    application = ApplicationFactory(state="in_evaluation")
    evaluators = [EvaluatorFactory() for _ in range(5)]
    a1, a2, a3, a4, a5 = (
        AssignmentFactory(application=application, evaluator=e) for e in evaluators
    )

    def score_all(assignment: Assignment, comment: str = "Clear.") -> None:
        grid = application.call.grid_for(assignment.stage)
        for section in grid.sections:
            for criterion in section.criteria:
                evaluation.save_score(assignment, criterion.id, 4, comment, assignment.evaluator)
        db.session.commit()

    fire(a1, "accept", manager)
    with pytest.raises(GuardFailed) as caught:
        fire(a1, "submit", manager)
    assert caught.value.reasons == [
        f"criterion {c} is not scored" for c in ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2")
    ]
    score_all(a1, comment="  ")
    assert reasons(fire, a1, "submit", manager) == [
        f"criterion {c} has no comment" for c in ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2")
    ]
    score_all(a1)
    fire(a1, "submit", manager)
    assert a1.total == Decimal(4 * 10) and a1.submitted_at == frozen_clock.current
    fire(a1, "reopen", manager)
    fire(a1, "submit", manager)

    fire(a2, "recuse", manager)
    fire(a3, "remove", manager)
    fire(a4, "accept", manager)
    fire(a4, "remove", manager)
    fire(a5, "accept", manager)
    score_all(a5)
    fire(a5, "submit", manager)
    fire(a5, "reopen", manager)
    fire(a5, "remove", manager)

    assert covered([a1, a2, a3, a4, a5]) == every_edge("assignment")
    assert [reload(a).state for a in (a1, a2, a3, a4, a5)] == [
        "submitted",
        "recused",
        "removed",
        "removed",
        "removed",
    ]
    declarations = {
        d.assignment_id: d.has_conflict for d in db.session.scalars(select(ConflictDeclaration))
    }
    assert declarations == {a1.id: False, a2.id: True, a4.id: False, a5.id: False}


def test_every_grant_payment_and_report_transition_through_the_pipeline(app, frozen_clock, manager):
    call = CallFactory(prefinancing_shares=["0.40", "0.40"])

    def contracted() -> Grant:
        application = ApplicationFactory(call=call, state="provisionally_selected")
        fire(application, "award", manager, data={"documents_verified": True})
        grant = db.session.scalar(select(Grant).where(Grant.application_id == application.id))
        fire(grant, "send_for_signature", manager)
        return grant

    def signed() -> Grant:
        grant = contracted()
        sign_as_grantee(grant, grant.application.created_by)
        fire(grant, "sign", manager)
        return grant

    main = signed()
    assert [p.kind for p in main.payments] == ["prefinancing", "further_prefinancing", "balance"]
    assert [r.kind for r in main.reports] == ["interim", "final"]
    terminated_active, terminated_suspended = signed(), signed()
    lapsing = contracted()

    fire(main, "suspend", manager)
    fire(main, "resume", manager)
    first, second, balance = main.payments
    interim, final = main.reports

    fire(first, "request", manager)
    fire(first, "approve", manager)
    fire(first, "pay", manager)
    assert first.amount == first.planned_amount and first.paid_at == frozen_clock.current

    with pytest.raises(GuardFailed) as caught:
        fire(interim, "submit", manager)
    assert caught.value.reasons == [
        "the narrative report is empty",
        "the financial report is empty",
    ]
    interim.narrative, interim.financial = {"text": "Done."}, {"spent": "40000.00"}
    db.session.commit()
    fire(interim, "submit", manager)
    fire(interim, "request_changes", manager)
    fire(interim, "submit", manager)
    fire(interim, "approve", manager)

    transition(second, "request", SYSTEM)
    fire(second, "reject", manager)

    assert reasons(fire, main, "end_implementation", manager) == [
        f"implementation runs until {main.end_date:%Y-%m-%d}"
    ]
    frozen_clock.set(
        datetime.combine(main.end_date + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    )
    transition(main, "end_implementation", SYSTEM)

    final.narrative, final.financial = {"text": "Final."}, {"spent": "120000.00"}
    db.session.commit()
    fire(final, "submit", manager)
    with pytest.raises(GuardFailed) as caught:
        fire(main, "close", manager)
    assert caught.value.reasons == [
        "the final report is not approved",
        "payment 3 (balance) is still planned",
    ]
    fire(final, "approve", manager)
    fire(balance, "request", manager)
    fire(balance, "approve", manager)
    fire(balance, "reject", manager)
    fire(main, "close", manager)

    fire(terminated_active, "terminate", manager)
    fire(terminated_suspended, "suspend", manager)
    fire(terminated_suspended, "terminate", manager)
    assert reload(terminated_suspended).termination_reason == "Reason for terminate."
    frozen_clock.advance(days=31)
    transition(lapsing, "lapse", SYSTEM)

    grants = [main, terminated_active, terminated_suspended, lapsing]
    assert covered(grants) == every_edge("grant")
    assert [reload(g).state for g in grants] == ["closed", "terminated", "terminated", "lapsed"]
    assert covered(main.payments) == every_edge("payment")
    assert [reload(p).state for p in main.payments] == ["paid", "rejected", "rejected"]
    assert covered(main.reports) == every_edge("report")
    assert {reload(r).state for r in main.reports} == {"approved"}
    assert all(engine.machine.models == [] for engine in ENGINES.values())


def test_payments_and_reports_are_moved_by_the_grantee_where_the_definition_says(
    app, frozen_clock, manager
):
    grant = GrantFactory(state="contract_preparation")
    fire(grant, "send_for_signature", manager)
    sign_as_grantee(grant, grant.application.created_by)
    fire(grant, "sign", manager)
    grantee = grant.application.created_by
    viewer = member(grant.application.organisation, "viewer")
    payment = grant.payments[0]
    report = grant.reports[0]

    with pytest.raises(PermissionDenied):
        transition(payment, "request", viewer)
    with pytest.raises(NotFound):
        transition(payment, "request", member(OrganisationFactory()))
    transition(payment, "request", grantee)
    assert reload(payment).requested_at == frozen_clock.current
    with pytest.raises(PermissionDenied):
        transition(payment, "approve", grantee)

    report.narrative, report.financial = {"text": "x"}, {"total": "1"}
    db.session.commit()
    transition(report, "submit", grantee)
    assert isinstance(reload(report), Report) and report.submitted_at == frozen_clock.current
    with pytest.raises(PermissionDenied):
        transition(report, "approve", grantee)


# --- 13. reference numbers under concurrency (PostgreSQL: real row locks) ---


def _wait_for_a_lock_wait(timeout: float = 10.0) -> bool:
    """True once another connection waits on a row or key lock in this database."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return True
            connection.rollback()  # statistics views keep one snapshot per transaction
            time.sleep(0.02)
    return False


def _diagnosis(thread: threading.Thread) -> str:
    """Where the other request is, when it is not waiting where expected."""
    import sys
    import traceback

    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 200)"
                " FROM pg_stat_activity WHERE datname = current_database()"
            )
        ).all()
    frame = sys._current_frames().get(thread.ident or 0)
    stack = "".join(traceback.format_stack(frame)) if frame else "(finished)"
    return "\n".join(map(str, rows)) + "\n" + stack


def _submit_in_another_request(flask_app, application_id: int, outcome: dict) -> None:  # type: ignore[no-untyped-def]
    with flask_app.app_context():
        try:
            application = db.session.get(Application, application_id)
            transition(application, "submit", application.created_by)
            outcome["reference"] = application.reference
        except Exception as exc:  # recorded for the assertion in the test
            outcome["error"] = repr(exc)
        finally:
            db.session.remove()


@pytest.mark.postgres
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL's row locks (SQLite serialises all writers)",
)
@pytest.mark.parametrize(
    "counter_exists",
    [
        pytest.param(True, id="later"),
        pytest.param(False, id="first_of_a_call"),
    ],
)
def test_two_simultaneous_submissions_get_two_numbers(app, frozen_clock, counter_exists):
    call = CallFactory(code="C77")
    first, second = ApplicationFactory(call=call), ApplicationFactory(call=call)
    if counter_exists:
        db.session.add(ReferenceCounter(series="MMD-2026-C77", last=0))
        db.session.commit()
    outcome: dict = {}

    transition(first, "submit", first.created_by, commit=False)  # holds the counter
    other = threading.Thread(target=_submit_in_another_request, args=(app, second.id, outcome))
    other.start()
    waited = _wait_for_a_lock_wait()
    diagnosis = "" if waited else _diagnosis(other)
    db.session.commit()  # whatever happened, let the second one go on
    other.join(timeout=15)
    assert not other.is_alive(), "the second submission is stuck"
    assert waited, f"the second submission never waited for the first:\n{diagnosis}"
    assert outcome == {"reference": "MMD-2026-C77-0002"}
    assert reload(first).reference == "MMD-2026-C77-0001"
    assert reload(second).state == "submitted"


# --- 14. selection rules the design puts on the decisions themselves ---


def test_an_application_below_the_thresholds_cannot_be_selected(app, frozen_clock, manager):
    weak = ApplicationFactory(state="fa_in_evaluation")
    EvaluationResultFactory(
        application=weak,
        stage="full_application",
        total=Decimal("48.00"),
        section_scores={"capacity": "10.00", "relevance": "20.00", "rest": "18.00"},
        passes=False,
    )
    for event in ("select", "reserve"):
        found = reasons(transition, weak, event, manager)
        assert any("below the threshold" in r and "48" in r for r in found), found
        assert any("capacity" in r and "minimum" in r for r in found), found
    assert reload(weak).state == "fa_in_evaluation"
    transition(weak, "reject", manager, comment="Below the thresholds.")  # still possible
    assert reload(weak).state == "rejected"


def test_a_selection_beyond_the_budget_is_refused(app, frozen_clock, manager):
    call = CallFactory(budget=Decimal("200000.00"), state="evaluation")
    _ranked(call, "provisionally_selected", "120000.00", "90.00")
    late = _ranked(call, "fa_in_evaluation", "120000.00", "85.00")
    assert reasons(transition, late, "select", manager) == [
        "the requested EUR 120,000.00 does not fit the remaining budget of EUR 80,000.00"
    ]
    assert reload(late).state == "fa_in_evaluation"
    transition(late, "reserve", manager)  # it may wait on the reserve list instead
    assert reload(late).state == "reserve"


def test_invitations_stop_at_twice_the_call_budget(app, frozen_clock, manager):
    call = CallFactory(budget=Decimal("240000.00"), state="evaluation")  # 200%: 480,000
    notes = [ApplicationFactory(call=call, state="in_evaluation") for _ in range(5)]
    for note in notes:
        EvaluationResultFactory(
            application=note,
            stage="concept_note",
            total=Decimal("40.00"),
            section_scores={"relevance": "24.00", "design": "16.00"},
        )
    for note in notes[:4]:  # 4 x 120,000 = 480,000: exactly 200%
        transition(note, "invite", manager)
    [reason] = reasons(transition, notes[4], "invite", manager)
    assert "200% of the budget" in reason and "600,000.00" in reason
    assert reload(notes[4]).state == "in_evaluation"
    transition(notes[4], "reject", manager)  # rejecting it stays possible
    assert reload(notes[4]).state == "rejected"


# --- 15. what a state implies, the database holds too ---


def _refused(model, row_id: int, **values) -> bool:  # type: ignore[no-untyped-def]
    """Does the database refuse this row change? (Written around the ORM, as a bug would.)"""
    try:
        db.session.execute(update(model).where(model.id == row_id).values(**values))
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return True
    db.session.rollback()
    return False


def test_the_database_refuses_a_state_without_the_columns_it_implies(app, frozen_clock):
    draft = ApplicationFactory()
    referenced = ApplicationFactory(state="submitted")
    call = CallFactory(state="draft")
    grant = GrantFactory()
    payment = Payment(
        grant=grant,
        sequence=1,
        kind="prefinancing",
        trigger="signature",
        planned_amount=Decimal("1000.00"),
        state="planned",
    )
    report = Report(
        grant=grant,
        kind="final",
        sequence=1,
        period_start=date(2027, 1, 1),
        period_end=date(2027, 6, 30),
        due_date=date(2027, 9, 30),
        state="due",
    )
    db.session.add_all([payment, report])
    db.session.commit()
    assignment = AssignmentFactory()

    assert _refused(Application, draft.id, state="submitted")  # no reference number
    assert _refused(Application, referenced.id, state="admin_rejected")  # no reason
    assert _refused(Application, referenced.id, state="ineligible")  # no reason
    assert _refused(Call, call.id, state="open")  # never published
    assert _refused(Grant, grant.id, state="active")  # never signed
    assert _refused(Grant, grant.id, state="terminated", signed_at=frozen_clock.current)
    assert _refused(Payment, payment.id, state="paid")  # no date, no amount
    assert _refused(Report, report.id, state="submitted")  # no submission date
    assert _refused(Assignment, assignment.id, state="submitted")  # no submission date
    assert _refused(Application, draft.id, state="teleported")  # not a state at all

    # ... and lets the complete rows through
    assert not _refused(
        Application,
        referenced.id,
        state="admin_rejected",
        decision_reason="Declaration missing.",
        decided_at=frozen_clock.current,
    )
    assert not _refused(Call, call.id, state="open", published_at=frozen_clock.current)


@pytest.mark.parametrize("state", ["rejected", "awarded"])
def test_the_database_refuses_a_decision_without_its_date(app, frozen_clock, state):
    decided = ApplicationFactory(state="in_evaluation")
    assert _refused(Application, decided.id, state=state)


def test_services_never_read_the_actor_from_the_request():
    """The actor is passed in, so the same code runs in a view, a CLI command and a job."""
    import ast
    from pathlib import Path

    import grants

    package = Path(grants.__file__).parent
    offenders = []
    for path in [*(package / "services").glob("*.py"), package / "policy.py"]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask_login"):
                names = {alias.name for alias in node.names}
                if names & {"request", "session", "g", "current_user"}:
                    offenders.append(f"{path.name}: from {node.module} import {sorted(names)}")
            if isinstance(node, ast.Attribute) and node.attr == "current_user":
                offenders.append(f"{path.name}: .current_user")
    assert offenders == []
