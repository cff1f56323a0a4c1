"""Who may see what during evaluation: small predicates in the style of grants.policy."""

from __future__ import annotations

from .models import Application, Assignment, User
from .policy import ALLOW, Decision, deny, is_manager, membership_role
from .services.actors import Actor

CLOSED_ASSIGNMENT_STATES = ("recused", "removed")
# Application states in which a stage's evaluation is decided, so its summary may be released.
DECIDED_AFTER = {
    "concept_note": ("invited", "rejected", "fa_submitted", "lapsed", "fa_in_evaluation",
                     "provisionally_selected", "reserve", "awarded", "ineligible", "withdrawn"),
    "full_application": ("rejected", "provisionally_selected", "reserve", "awarded",
                         "ineligible", "withdrawn"),
}


def can_open_assignment(actor: Actor, assignment: Assignment) -> Decision:
    """An evaluator opens only their own live assignments; managers open any. (Else 404.)"""
    if is_manager(actor):
        return ALLOW
    if not isinstance(actor, User) or assignment.evaluator_id != actor.id:
        return deny("not your assignment")
    if assignment.state in CLOSED_ASSIGNMENT_STATES:
        return deny(f"the assignment is {assignment.state}")
    return ALLOW


def summary_released(application: Application, stage: str) -> bool:
    """The applicant's evaluation summary is released with the stage's decision."""
    if application.decided_at is None:
        return False
    if application.call.workflow == "application_single_stage":
        return application.state in DECIDED_AFTER["full_application"]
    return application.state in DECIDED_AFTER[stage]


def can_read_summary(actor: Actor, application: Application, stage: str) -> Decision:
    """Managers always; the applicant's members once the decision is out. (Else 404.)"""
    if is_manager(actor):
        return ALLOW
    if membership_role(actor, application) is None:
        return deny("not a member of the organisation")
    if not summary_released(application, stage):
        return deny("the evaluation summary is released with the decision")
    return ALLOW
