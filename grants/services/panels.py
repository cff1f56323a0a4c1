"""Evaluation panels: who sits on a call's panel and who evaluates which application.

Assignment rules (PRAG practice, DESIGN.md "Evaluation and selection"):
at least two evaluators per application (the call's `evaluators_per_application`),
never one who declared a conflict on the application, never a member of the
applicant or a co-applicant organisation, never one from the applicant's country
where the call excludes it; the load is balanced across the panel (fewest live
assignments at the stage first, then the lowest id, so the choice is repeatable).

Creating an assignment writes an `assign` audit row; removing one goes through
the assignment workflow's `remove` transition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import policy
from ..clock import now
from ..extensions import db
from ..models import (
    Application,
    ApplicationPartner,
    Assignment,
    Call,
    ConflictDeclaration,
    Membership,
    Organisation,
    PanelMember,
    StaffRole,
    User,
)
from . import audit
from .actors import Actor
from .errors import PermissionDenied, ValidationFailed
from .transitions import transition

# Assignments that still count: the evaluator is (or was) evaluating.
LIVE_STATES = ("invited", "accepted", "submitted", "reopened")
PENDING_STATES = ("invited", "accepted", "reopened")
MINIMUM_EVALUATORS = 2


def evaluating_states(call: Call, stage: str) -> tuple[str, ...]:
    """The application states in which the stage's evaluation happens."""
    if stage == "full_application" and call.is_two_stage:
        return ("fa_in_evaluation",)
    return ("in_evaluation",)


def _require_manager(actor: Actor) -> None:
    if not policy.is_manager(actor):
        raise PermissionDenied("programme managers only")


def _audit(
    actor: Actor,
    obj: Assignment | PanelMember,
    event: str,
    comment: str | None,
    to_state: str | None,
    data: dict[str, object],
) -> None:
    audit.record(actor, obj.__tablename__, obj.id, event, comment=comment, data=data,
                 to_state=to_state)


# --------------------------------------------------------------------------
# The panel
# --------------------------------------------------------------------------


def panel(call: Call) -> list[User]:
    """The call's evaluators, by name."""
    return list(
        db.session.scalars(
            select(User)
            .join(PanelMember, PanelMember.evaluator_id == User.id)
            .where(PanelMember.call_id == call.id)
            .order_by(User.name, User.id)
        )
    )


def candidate_evaluators(call: Call) -> list[User]:
    """Active evaluators not yet on the call's panel."""
    on_panel = select(PanelMember.evaluator_id).where(PanelMember.call_id == call.id)
    return list(
        db.session.scalars(
            select(User)
            .join(StaffRole, StaffRole.user_id == User.id)
            .where(StaffRole.role == "evaluator", User.active.is_(True), User.id.not_in(on_panel))
            .order_by(User.name, User.id)
        )
    )


def add_to_panel(call: Call, evaluator: User, actor: Actor) -> PanelMember:
    """Attach an evaluator to the call's panel (audited)."""
    _require_manager(actor)
    if not evaluator.has_role("evaluator"):
        raise ValidationFailed(f"{evaluator.name} is not an evaluator")
    existing = db.session.scalar(
        select(PanelMember).where(
            PanelMember.call_id == call.id, PanelMember.evaluator_id == evaluator.id
        )
    )
    if existing is not None:
        raise ValidationFailed(f"{evaluator.name} is already on the panel of {call.code}")
    member = PanelMember(
        call_id=call.id, evaluator_id=evaluator.id, added_by_id=actor.id, added_at=now()
    )
    db.session.add(member)
    db.session.flush()
    _audit(
        actor, member, "add_to_panel", None, None, {"call": call.code, "evaluator_id": evaluator.id}
    )
    db.session.commit()
    return member


def remove_from_panel(call: Call, evaluator: User, actor: Actor) -> None:
    """Take an evaluator off the panel; refused while they have unfinished assignments."""
    _require_manager(actor)
    member = db.session.scalar(
        select(PanelMember).where(
            PanelMember.call_id == call.id, PanelMember.evaluator_id == evaluator.id
        )
    )
    if member is None:
        raise ValidationFailed(f"{evaluator.name} is not on the panel of {call.code}")
    pending = db.session.scalar(
        select(func.count(Assignment.id))
        .join(Application, Application.id == Assignment.application_id)
        .where(
            Application.call_id == call.id,
            Assignment.evaluator_id == evaluator.id,
            Assignment.state.in_(PENDING_STATES),
        )
    )
    if pending:
        raise ValidationFailed(
            f"{evaluator.name} has {pending} unfinished assignment(s); remove those first"
        )
    _audit(
        actor,
        member,
        "remove_from_panel",
        None,
        None,
        {"call": call.code, "evaluator_id": evaluator.id},
    )
    db.session.delete(member)
    db.session.commit()


# --------------------------------------------------------------------------
# Who may evaluate what
# --------------------------------------------------------------------------


def evaluator_countries(evaluator_ids: Iterable[int]) -> dict[int, set[str]]:
    """Each evaluator's countries: those of the organisations they belong to."""
    ids = list(evaluator_ids)
    countries: dict[int, set[str]] = {i: set() for i in ids}
    if not ids:
        return countries
    rows = db.session.execute(
        select(Membership.user_id, Organisation.country_iso2)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id.in_(ids))
    )
    for user_id, iso2 in rows:
        countries[user_id].add(iso2)
    return countries


@dataclass
class _Context:
    """What the rules need about a set of applications, read in a few queries."""

    organisations: dict[int, set[int]]  # application -> lead and co-applicant organisations
    countries: dict[int, str]  # application -> lead applicant's country
    members: dict[int, set[int]]  # evaluator -> organisations
    evaluator_countries: dict[int, set[str]]
    conflicts: set[tuple[int, int]]  # (evaluator, application) declared conflicts
    taken: set[tuple[int, int]]  # (evaluator, application) any assignment at the stage


def _context(applications: list[Application], evaluator_ids: list[int], stage: str) -> _Context:
    app_ids = [a.id for a in applications]
    organisations = {a.id: {a.organisation_id} for a in applications}
    countries: dict[int, str] = {}
    if app_ids:
        for app_id, org_id in db.session.execute(
            select(ApplicationPartner.application_id, ApplicationPartner.organisation_id).where(
                ApplicationPartner.application_id.in_(app_ids),
                ApplicationPartner.role == "co_applicant",
            )
        ):
            organisations[app_id].add(org_id)
        for app_id, iso2 in db.session.execute(
            select(Application.id, Organisation.country_iso2)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Application.id.in_(app_ids))
        ):
            countries[app_id] = iso2
    members: dict[int, set[int]] = {e: set() for e in evaluator_ids}
    if evaluator_ids:
        for user_id, org_id in db.session.execute(
            select(Membership.user_id, Membership.organisation_id).where(
                Membership.user_id.in_(evaluator_ids)
            )
        ):
            members[user_id].add(org_id)
    conflicts: set[tuple[int, int]] = set()
    taken: set[tuple[int, int]] = set()
    if app_ids:
        conflicts = {
            (e, a)
            for e, a in db.session.execute(
                select(ConflictDeclaration.evaluator_id, ConflictDeclaration.application_id).where(
                    ConflictDeclaration.application_id.in_(app_ids),
                    ConflictDeclaration.has_conflict.is_(True),
                )
            )
        }
        taken = {
            (e, a)
            for e, a in db.session.execute(
                select(Assignment.evaluator_id, Assignment.application_id).where(
                    Assignment.application_id.in_(app_ids), Assignment.stage == stage
                )
            )
        }
    return _Context(
        organisations, countries, members, evaluator_countries(evaluator_ids), conflicts, taken
    )


def _exclusions(call: Call, app_id: int, evaluator_id: int, ctx: _Context) -> list[str]:
    reasons = []
    if (evaluator_id, app_id) in ctx.conflicts:
        reasons.append("declared a conflict of interest on this application")
    if (evaluator_id, app_id) in ctx.taken:
        reasons.append("already assigned to this application at this stage")
    if ctx.members.get(evaluator_id, set()) & ctx.organisations.get(app_id, set()):
        reasons.append("belongs to the applicant (or a co-applicant) organisation")
    if call.exclude_same_country_evaluators and ctx.countries.get(app_id) in (
        ctx.evaluator_countries.get(evaluator_id, set())
    ):
        reasons.append("comes from the applicant's country, which this call excludes")
    return reasons


def _loads(call: Call, stage: str) -> Counter[int]:
    """Live assignments per panel evaluator at the stage of the call."""
    rows = db.session.execute(
        select(Assignment.evaluator_id, func.count(Assignment.id))
        .join(Application, Application.id == Assignment.application_id)
        .where(
            Application.call_id == call.id,
            Assignment.stage == stage,
            Assignment.state.in_(LIVE_STATES),
        )
        .group_by(Assignment.evaluator_id)
    )
    return Counter(dict(rows.all()))


def _live_counts(app_ids: list[int], stage: str) -> Counter[int]:
    if not app_ids:
        return Counter()
    rows = db.session.execute(
        select(Assignment.application_id, func.count(Assignment.id))
        .where(
            Assignment.application_id.in_(app_ids),
            Assignment.stage == stage,
            Assignment.state.in_(LIVE_STATES),
        )
        .group_by(Assignment.application_id)
    )
    return Counter(dict(rows.all()))


def _create(
    application: Application,
    evaluator_id: int,
    stage: str,
    actor: Actor,
    due_at: datetime | None,
    comment: str | None,
    automatic: bool,
) -> Assignment:
    assignment = Assignment(
        application_id=application.id,
        evaluator_id=evaluator_id,
        stage=stage,
        state="invited",
        assigned_by_id=actor.id,
        assigned_at=now(),
        due_at=due_at,
    )
    db.session.add(assignment)
    db.session.flush()
    _audit(
        actor,
        assignment,
        "assign",
        comment,
        "invited",
        {
            "automatic": automatic,
            "evaluator_id": evaluator_id,
            "application_id": application.id,
            "stage": stage,
        },
    )
    return assignment


def _pick(
    call: Call, app_id: int, panel_ids: list[int], loads: Counter[int], ctx: _Context
) -> int | None:
    eligible = [e for e in panel_ids if not _exclusions(call, app_id, e, ctx)]
    if not eligible:
        return None
    return min(eligible, key=lambda e: (loads[e], e))


@dataclass(frozen=True)
class AssignmentRound:
    created: list[Assignment]
    short: dict[str, int]  # application label -> evaluators still missing


def auto_assign(
    call: Call, stage: str, actor: Actor, *, due_at: datetime | None = None, commit: bool = True
) -> AssignmentRound:
    """Give every application under evaluation at the stage its evaluators, balancing the load.

    Applications that cannot get enough eligible evaluators get as many as there are and
    are reported in `short`; nothing is ever assigned against the rules.
    """
    _require_manager(actor)
    per_application = max(MINIMUM_EVALUATORS, call.evaluators_per_application)
    applications = list(
        db.session.scalars(
            select(Application)
            .where(
                Application.call_id == call.id,
                Application.state.in_(evaluating_states(call, stage)),
            )
            .order_by(Application.id)
        )
    )
    panel_ids = [u.id for u in panel(call)]
    if not panel_ids:
        raise ValidationFailed(f"the panel of {call.code} has no evaluators yet")
    ctx = _context(applications, panel_ids, stage)
    loads = _loads(call, stage)
    live = _live_counts([a.id for a in applications], stage)
    created: list[Assignment] = []
    short: dict[str, int] = {}
    for application in applications:
        missing = per_application - live[application.id]
        while missing > 0:
            chosen = _pick(call, application.id, panel_ids, loads, ctx)
            if chosen is None:
                short[application.label] = missing
                break
            created.append(_create(application, chosen, stage, actor, due_at, None, True))
            ctx.taken.add((chosen, application.id))
            loads[chosen] += 1
            missing -= 1
    if commit:
        db.session.commit()
    return AssignmentRound(created, short)


def add_evaluator(
    application: Application,
    stage: str,
    actor: Actor,
    *,
    due_at: datetime | None = None,
    comment: str | None = None,
) -> Assignment | None:
    """One more evaluator for the application, chosen by the rules (not committed).

    Used for a replacement after a recusal and for a further evaluator when totals
    diverge; None when no eligible panel member is left.
    """
    call = application.call
    panel_ids = [u.id for u in panel(call)]
    ctx = _context([application], panel_ids, stage)
    chosen = _pick(call, application.id, panel_ids, _loads(call, stage), ctx)
    if chosen is None:
        return None
    return _create(application, chosen, stage, actor, due_at, comment, True)


def exclusions(application: Application, evaluator: User, stage: str) -> list[str]:
    """Every reason the evaluator may not evaluate the application at the stage."""
    ctx = _context([application], [evaluator.id], stage)
    return _exclusions(application.call, application.id, evaluator.id, ctx)


def assign_manually(
    application: Application,
    evaluator: User,
    actor: Actor,
    comment: str,
    *,
    stage: str | None = None,
    due_at: datetime | None = None,
) -> Assignment:
    """A manager's own choice of evaluator, within the rules, with a reason (audited)."""
    _require_manager(actor)
    stage = stage or application.stage
    if not (comment or "").strip():
        raise ValidationFailed("say why you change the assignment", {"comment": ["required"]})
    if application.state not in evaluating_states(application.call, stage):
        raise ValidationFailed(f"{application.label} is {application.state}, not under evaluation")
    on_panel = db.session.scalar(
        select(PanelMember.id).where(
            PanelMember.call_id == application.call_id, PanelMember.evaluator_id == evaluator.id
        )
    )
    if on_panel is None:
        raise ValidationFailed(f"{evaluator.name} is not on the panel of {application.call.code}")
    reasons = exclusions(application, evaluator, stage)
    if reasons:
        raise ValidationFailed(
            f"{evaluator.name} cannot evaluate {application.label}", {"evaluator": reasons}
        )
    assignment = _create(application, evaluator.id, stage, actor, due_at, comment.strip(), False)
    db.session.commit()
    return assignment


def remove_assignment(
    assignment: Assignment, actor: Actor, comment: str, *, replace: bool = True
) -> Assignment | None:
    """Withdraw an evaluator from an application (audited); optionally assign a replacement."""
    transition(assignment, "remove", actor, comment=comment, commit=False)
    replacement = None
    if replace:
        replacement = add_evaluator(
            assignment.application,
            assignment.stage,
            actor,
            due_at=assignment.due_at,
            comment=f"replaces assignment {assignment.id}",
        )
    from .transitions import commit

    commit()
    return replacement


def assignments_of(call: Call, stage: str) -> list[Assignment]:
    """Every assignment of the call at the stage, with its evaluator and application."""
    return list(
        db.session.scalars(
            select(Assignment)
            .join(Application, Application.id == Assignment.application_id)
            .where(Application.call_id == call.id, Assignment.stage == stage)
            .options(selectinload(Assignment.evaluator), selectinload(Assignment.application))
            .order_by(Application.id, Assignment.id)
        )
    )
