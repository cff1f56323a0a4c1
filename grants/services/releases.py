"""What an applicant organisation receives once a decision is out: letters and summaries.

Released means the decision is recorded and the applicant notified (the
transition that decided it wrote the notification in the same commit):

- the decision letter, once the application is awarded, rejected, found
  ineligible or rejected at the administrative check, with its decision date;
- the evaluation summary of a stage, once that stage's decision is out
  (`grants.policy_evaluation.summary_released`) and the stage has a result.

Both are served to the members of the applicant organisation only: anyone else,
programme staff included, gets a 404 here (staff have their own screens). The
summary gives scores and comments, never the evaluators' names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from reports.evaluation import SUMMARY_LABELS, evaluation_summary_pdf

from ..extensions import db
from ..models import Application, EvaluationResult, User
from ..policy import membership_role
from ..policy_evaluation import summary_released
from . import letters
from .actors import Actor
from .errors import N_, NotFound

STAGES = ("concept_note", "full_application")


@dataclass(frozen=True)
class Released:
    """What the organisation may download for one application."""

    letter: bool
    summaries: tuple[str, ...]  # stages, in order


def letter_released(application: Application) -> bool:
    return (
        application.decided_at is not None
        and application.state in (*letters.AWARDED, *letters.REJECTED)
    )


def _stages(application: Application) -> tuple[str, ...]:
    return STAGES if application.call.is_two_stage else ("full_application",)


def released(applications: list[Application]) -> dict[int, Released]:
    """Per application id, its released documents (one query for the results of all)."""
    decided = [a for a in applications if a.decided_at is not None]
    with_results: set[tuple[int, str]] = set()
    if decided:
        with_results = {
            (row.application_id, row.stage)
            for row in db.session.execute(
                select(EvaluationResult.application_id, EvaluationResult.stage).where(
                    EvaluationResult.application_id.in_([a.id for a in decided])
                )
            )
        }
    found = {}
    for application in applications:
        summaries = tuple(
            stage
            for stage in _stages(application)
            if (application.id, stage) in with_results and summary_released(application, stage)
        )
        found[application.id] = Released(letter_released(application), summaries)
    return found


def _members_application(actor: Actor, application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if (
        application is None
        or not isinstance(actor, User)
        or membership_role(actor, application) is None
    ):
        raise NotFound(N_("no such application"))
    return application


def decision_letter(actor: Actor, application_id: int, language: str) -> tuple[str, bytes]:
    """The released decision letter, in `language`, for a member: (file name, PDF)."""
    application = _members_application(actor, application_id)
    if not letter_released(application):
        raise NotFound(N_("the decision letter is released with the decision"))
    kind = letters.letter_kind(application)
    name = f"{application.reference or application.id}-{kind}-letter-{language}.pdf"
    return name, letters.letter_pdf(application, language)


def evaluation_summary(
    actor: Actor, application_id: int, stage: str, language: str | None = None
) -> tuple[str, bytes]:
    """A stage's released evaluation summary, for a member: (file name, PDF), in `language`
    (the reader's; the application's when none is given)."""
    application = _members_application(actor, application_id)
    if stage not in released([application])[application.id].summaries:
        raise NotFound(N_("the evaluation summary is released with the decision"))
    language = (language or application.language)[:2]
    language = language if language in SUMMARY_LABELS else "en"
    name = f"{application.reference}-evaluation-summary-{stage}-{language}.pdf"
    return name, evaluation_summary_pdf(application, stage, actor, language)
