"""Every workflow of the product, as data.

Roles in `by` are the policy's words: `applicant_editor` and `applicant_owner`
(members of the applying or grantee organisation), `evaluator` (the assigned
evaluator), `manager` (programme manager of the call), `system` (sweeps and
jobs). Audiences in `notify` name who hears of the change.
"""

from __future__ import annotations

from .engine import Transition as T
from .engine import Workflow

# Application states before the award, from which the applicant may withdraw.
_BEFORE_AWARD_TWO_STAGE = (
    "draft",
    "submitted",
    "in_evaluation",
    "invited",
    "fa_submitted",
    "fa_in_evaluation",
    "reserve",
    "provisionally_selected",
)
_BEFORE_AWARD_SINGLE_STAGE = (
    "draft",
    "submitted",
    "in_evaluation",
    "reserve",
    "provisionally_selected",
)

_SUBMIT_GUARDS = ("call_open", "before_deadline", "application_complete", "application_eligible")

_SUBMIT = T(
    "submit",
    ("draft",),
    "submitted",
    ("applicant_editor",),
    guards=_SUBMIT_GUARDS,
    effects=("freeze_submission",),
    notify=("applicant",),
    notify_actor=True,
)

# The administrative check on opening: admitted to evaluation, or rejected with a reason.
_OPENING = (
    T("admit", ("submitted",), "in_evaluation", ("manager",), guards=("admin_check_passed",)),
    T(
        "reject_admin",
        ("submitted",),
        "admin_rejected",
        ("manager",),
        comment_required=True,
        effects=("record_decision",),
        notify=("applicant",),
    ),
)


def _decisions_after_evaluation(source: str) -> tuple[T, ...]:
    """Select, reserve or reject an evaluated (full) application, in rank order."""
    return (
        T(
            "select",
            (source,),
            "provisionally_selected",
            ("manager",),
            guards=("scores_final", "passes_thresholds", "fits_remaining_budget"),
            effects=("record_decision",),
            notify=("applicant",),
        ),
        T(
            "reserve",
            (source,),
            "reserve",
            ("manager",),
            guards=("scores_final", "passes_thresholds"),
            effects=("record_decision",),
            notify=("applicant",),
        ),
        T(
            "reject",
            (source,),
            "rejected",
            ("manager",),
            guards=("scores_final",),
            effects=("record_decision",),
            notify=("applicant",),
        ),
    )


_FINAL_STAGE = (
    T(
        "select",
        ("reserve",),
        "provisionally_selected",
        ("manager", "system"),
        guards=("fits_remaining_budget",),
        notify=("applicant",),
    ),
    T(
        "award",
        ("provisionally_selected",),
        "awarded",
        ("manager",),
        guards=("supporting_documents_verified",),
        effects=("create_grant",),
        notify=("applicant",),
    ),
    T(
        "declare_ineligible",
        ("provisionally_selected",),
        "ineligible",
        ("manager",),
        comment_required=True,
        effects=("record_decision", "promote_from_reserve"),
        notify=("applicant",),
    ),
)

APPLICATION_TWO_STAGE = Workflow(
    name="application_two_stage",
    description="Restricted call: a concept note first, then a full application on invitation.",
    states=(
        "draft",
        "submitted",
        "in_evaluation",
        "admin_rejected",
        "invited",
        "rejected",
        "fa_submitted",
        "lapsed",
        "fa_in_evaluation",
        "provisionally_selected",
        "reserve",
        "awarded",
        "ineligible",
        "withdrawn",
    ),
    initial="draft",
    final=frozenset({"admin_rejected", "rejected", "lapsed", "awarded", "ineligible", "withdrawn"}),
    transitions=(
        _SUBMIT,
        *_OPENING,
        T(
            "invite",
            ("in_evaluation",),
            "invited",
            ("manager",),
            guards=("scores_final", "passes_thresholds", "within_preselection_envelope"),
            effects=("record_decision",),
            notify=("applicant",),
        ),
        T(
            "reject",
            ("in_evaluation",),
            "rejected",
            ("manager",),
            guards=("scores_final",),
            effects=("record_decision",),
            notify=("applicant",),
        ),
        T(
            "submit_full",
            ("invited",),
            "fa_submitted",
            ("applicant_editor",),
            guards=("before_full_deadline", "application_complete", "application_eligible"),
            effects=("freeze_submission",),
            notify=("applicant",),
            notify_actor=True,
        ),
        T(
            "lapse",
            ("invited",),
            "lapsed",
            ("system",),
            guards=("full_deadline_passed",),
            effects=("record_decision",),
            notify=("applicant",),
        ),
        T(
            "admit_full",
            ("fa_submitted",),
            "fa_in_evaluation",
            ("manager",),
            guards=("admin_check_passed",),
        ),
        T(
            "reject_admin_full",
            ("fa_submitted",),
            "admin_rejected",
            ("manager",),
            comment_required=True,
            effects=("record_decision",),
            notify=("applicant",),
        ),
        *_decisions_after_evaluation("fa_in_evaluation"),
        *_FINAL_STAGE,
        T(
            "withdraw",
            _BEFORE_AWARD_TWO_STAGE,
            "withdrawn",
            ("applicant_owner",),
            effects=("promote_from_reserve",),
            notify=("applicant", "managers"),
        ),
    ),
)

APPLICATION_SINGLE_STAGE = Workflow(
    name="application_single_stage",
    description="Open call: the full application is submitted and evaluated once.",
    states=(
        "draft",
        "submitted",
        "in_evaluation",
        "admin_rejected",
        "rejected",
        "provisionally_selected",
        "reserve",
        "awarded",
        "ineligible",
        "withdrawn",
    ),
    initial="draft",
    final=frozenset({"admin_rejected", "rejected", "awarded", "ineligible", "withdrawn"}),
    transitions=(
        _SUBMIT,
        *_OPENING,
        *_decisions_after_evaluation("in_evaluation"),
        *_FINAL_STAGE,
        T(
            "withdraw",
            _BEFORE_AWARD_SINGLE_STAGE,
            "withdrawn",
            ("applicant_owner",),
            effects=("promote_from_reserve",),
            notify=("applicant", "managers"),
        ),
    ),
)

CALL = Workflow(
    name="call",
    description="A call for proposals, from drafting to archive.",
    states=("draft", "open", "closed", "evaluation", "decided", "archived", "cancelled"),
    initial="draft",
    final=frozenset({"archived", "cancelled"}),
    transitions=(
        T(
            "publish",
            ("draft",),
            "open",
            ("manager",),
            guards=("call_has_grid", "call_has_budget", "deadline_in_future"),
            effects=("publish_call",),
        ),
        T("close", ("open",), "closed", ("manager", "system"), guards=("deadline_passed",)),
        T("start_evaluation", ("closed",), "evaluation", ("manager",)),
        T("decide", ("evaluation",), "decided", ("manager",), guards=("all_applications_decided",)),
        T("archive", ("decided",), "archived", ("manager",)),
        T("cancel", ("draft", "open"), "cancelled", ("manager",), comment_required=True),
    ),
)

ASSIGNMENT = Workflow(
    name="assignment",
    description="An evaluator's assignment to one application at one stage.",
    states=("invited", "accepted", "recused", "submitted", "reopened", "removed"),
    initial="invited",
    final=frozenset({"recused", "removed"}),
    transitions=(
        T("accept", ("invited",), "accepted", ("evaluator",), effects=("record_no_conflict",)),
        T(
            "recuse",
            ("invited",),
            "recused",
            ("evaluator",),
            comment_required=True,
            effects=("record_conflict", "assign_replacement"),
            notify=("managers",),
        ),
        T(
            "submit",
            ("accepted", "reopened"),
            "submitted",
            ("evaluator",),
            guards=("all_criteria_scored",),
            effects=("stamp_assignment_submitted", "check_divergence"),
        ),
        T(
            "reopen",
            ("submitted",),
            "reopened",
            ("manager",),
            comment_required=True,
            notify=("evaluator",),
        ),
        T(
            "remove",
            ("invited", "accepted", "reopened"),
            "removed",
            ("manager",),
            comment_required=True,
            notify=("evaluator",),
        ),
    ),
)

GRANT = Workflow(
    name="grant",
    description="The contract after award, from preparation to closure.",
    states=(
        "contract_preparation",
        "awaiting_signature",
        "active",
        "suspended",
        "final_reporting",
        "closed",
        "terminated",
        "lapsed",
    ),
    initial="contract_preparation",
    final=frozenset({"closed", "terminated", "lapsed"}),
    transitions=(
        T(
            "send_for_signature",
            ("contract_preparation",),
            "awaiting_signature",
            ("manager",),
            effects=("stamp_sent_for_signature",),
            notify=("applicant",),
        ),
        T(
            "sign",
            ("awaiting_signature",),
            "active",
            ("manager",),
            guards=("signed_by_grantee",),
            effects=("plan_payments_and_reports",),
            notify=("applicant",),
        ),
        T(
            "suspend",
            ("active",),
            "suspended",
            ("manager",),
            comment_required=True,
            notify=("applicant",),
        ),
        T("resume", ("suspended",), "active", ("manager",), notify=("applicant",)),
        T(
            "end_implementation",
            ("active",),
            "final_reporting",
            ("manager", "system"),
            guards=("implementation_ended",),
            notify=("applicant",),
        ),
        T(
            "close",
            ("final_reporting",),
            "closed",
            ("manager",),
            guards=("final_report_approved", "balance_settled"),
            notify=("applicant",),
        ),
        T(
            "terminate",
            ("active", "suspended"),
            "terminated",
            ("manager",),
            comment_required=True,
            effects=("record_termination",),
            notify=("applicant",),
        ),
        T(
            "lapse",
            ("awaiting_signature",),
            "lapsed",
            ("system", "manager"),
            guards=("signature_period_expired",),
            effects=("promote_after_lapse",),
            notify=("applicant", "managers"),
        ),
    ),
)

PAYMENT = Workflow(
    name="payment",
    description="One payment of a grant: pre-financing, further pre-financing or balance.",
    states=("planned", "requested", "approved", "paid", "rejected"),
    initial="planned",
    final=frozenset({"paid", "rejected"}),
    transitions=(
        T(
            "request",
            ("planned",),
            "requested",
            ("applicant_editor", "system"),
            guards=("payment_due",),
            effects=("stamp_requested",),
            notify=("managers",),
        ),
        T("approve", ("requested",), "approved", ("manager",)),
        T(
            "pay",
            ("approved",),
            "paid",
            ("manager",),
            guards=("within_prefinancing_ceiling",),
            effects=("stamp_paid",),
            notify=("applicant",),
        ),
        T(
            "reject",
            ("requested", "approved"),
            "rejected",
            ("manager",),
            comment_required=True,
            notify=("applicant",),
        ),
    ),
)

REPORT = Workflow(
    name="report",
    description="An interim or final report of a grant. Overdue is derived from the due date.",
    states=("due", "submitted", "changes_requested", "approved"),
    initial="due",
    final=frozenset({"approved"}),
    transitions=(
        T(
            "submit",
            ("due", "changes_requested"),
            "submitted",
            ("applicant_editor",),
            guards=("report_complete",),
            effects=("stamp_report_submitted",),
            notify=("managers",),
        ),
        T(
            "request_changes",
            ("submitted",),
            "changes_requested",
            ("manager",),
            comment_required=True,
            notify=("applicant",),
        ),
        T(
            "approve",
            ("submitted",),
            "approved",
            ("manager",),
            effects=("stamp_report_approved",),
            notify=("applicant",),
        ),
    ),
)

ALL: dict[str, Workflow] = {
    wf.name: wf
    for wf in (
        CALL,
        APPLICATION_TWO_STAGE,
        APPLICATION_SINGLE_STAGE,
        ASSIGNMENT,
        GRANT,
        PAYMENT,
        REPORT,
    )
}
