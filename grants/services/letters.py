"""Award and rejection letters, in the applicant's language, with the evaluation summary.

A letter is produced for a decided application: the award letter names the
grant (number, amount, co-financing, implementation period) and the next
step, the contract sent for signature; the rejection letter gives the reason
recorded with the decision. Both carry the scores of the evaluation (section
by section, the total and the threshold). The document's dates come from the
decision, so a letter renders to the same bytes every time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from reports.pdf import render_pdf

from ..clock import now
from ..extensions import db
from ..models import Application, EvaluationResult, Grant
from ..policy import can_view
from ..rules.payments import amount_in_words
from . import notifications
from .actors import Actor
from .errors import NotFound

AWARDED = ("awarded",)
REJECTED = ("rejected", "admin_rejected", "ineligible")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "award_title": "Award letter",
        "rejection_title": "Notification of rejection",
        "dear": "Dear Sir or Madam,",
        "subject": "Subject",
        "call": "Call for proposals",
        "reference": "Application reference",
        "award_1": "We are pleased to inform you that the Contracting Authority has decided "
        "to award a grant to your organisation for the action entitled:",
        "grant_number": "Grant number",
        "amount": "Maximum grant",
        "in_words": "in words",
        "total_cost": "Total estimated eligible costs",
        "cofinancing": "Co-financing by your organisation",
        "funding_rate": "Funding rate",
        "period": "Implementation period",
        "to": "to",
        "award_2": "The grant contract will be sent to you for signature. It must be signed "
        "within {days} days of being sent; an unsigned contract lapses and the grant may be "
        "awarded to the next application on the reserve list.",
        "rejection_1": "We regret to inform you that your application for the action entitled "
        "below has not been selected for funding:",
        "reason": "Reason",
        "rejection_2": "The evaluation summary below sets out the scores your application "
        "received. You may ask for further explanations within 30 days of this letter.",
        "summary": "Evaluation summary",
        "section": "Section",
        "score": "Score",
        "minimum": "Minimum",
        "total": "Total",
        "threshold": "Threshold",
        "no_scores": "No scores were recorded at this stage.",
        "regards": "Yours faithfully,",
        "date": "Date",
    },
    "fr": {
        "award_title": "Lettre d'attribution",
        "rejection_title": "Notification de rejet",
        "dear": "Madame, Monsieur,",
        "subject": "Objet",
        "call": "Appel à propositions",
        "reference": "Référence de la demande",
        "award_1": "Nous avons le plaisir de vous informer que l'Autorité contractante a décidé "
        "d'attribuer une subvention à votre organisation pour l'action intitulée :",
        "grant_number": "Numéro de la subvention",
        "amount": "Subvention maximale",
        "in_words": "en toutes lettres",
        "total_cost": "Coût total éligible estimé",
        "cofinancing": "Cofinancement de votre organisation",
        "funding_rate": "Taux de financement",
        "period": "Période de mise en œuvre",
        "to": "au",
        "award_2": "Le contrat de subvention vous sera envoyé pour signature. Il doit être "
        "signé dans les {days} jours suivant son envoi ; à défaut, il devient caduc et la "
        "subvention peut être attribuée à la demande suivante de la liste de réserve.",
        "rejection_1": "Nous avons le regret de vous informer que votre demande pour l'action "
        "intitulée ci-dessous n'a pas été retenue pour un financement :",
        "reason": "Motif",
        "rejection_2": "Le résumé d'évaluation ci-dessous présente les notes obtenues par votre "
        "demande. Vous pouvez demander des explications complémentaires dans les 30 jours "
        "suivant la présente lettre.",
        "summary": "Résumé de l'évaluation",
        "section": "Section",
        "score": "Note",
        "minimum": "Minimum",
        "total": "Total",
        "threshold": "Seuil",
        "no_scores": "Aucune note n'a été enregistrée à ce stade.",
        "regards": "Veuillez agréer, Madame, Monsieur, l'expression de nos salutations "
        "distinguées.",
        "date": "Date",
    },
}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _scores(application: Application) -> dict[str, Any] | None:
    result = db.session.scalar(
        select(EvaluationResult)
        .where(EvaluationResult.application_id == application.id)
        .order_by(EvaluationResult.stage.desc())  # the full application's, where there is one
    )
    if result is None:
        return None
    grid = application.call.grid_for(result.stage)
    sections = []
    threshold = None
    if grid is not None:
        threshold = grid.total_threshold
        for section in sorted(grid.sections, key=lambda s: s.position):
            sections.append(
                {
                    "title": section.title,
                    "score": Decimal(str(result.section_scores.get(section.code, 0))),
                    "minimum": section.minimum,
                }
            )
    return {"sections": sections, "total": result.total, "threshold": threshold}


def letter_kind(application: Application) -> str:
    if application.state in AWARDED:
        return "award"
    if application.state in REJECTED:
        return "rejection"
    raise NotFound("no decision letter: the application is not decided")


def letter_context(application: Application, language: str | None = None) -> dict[str, Any]:
    """The letter's content, in `language` if given (the reader's), else the application's."""
    kind = letter_kind(application)
    language = language or application.language
    language = language if language in LABELS else "en"
    labels = LABELS[language]
    moment = _utc(application.decided_at or now())
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    grant = db.session.scalar(select(Grant).where(Grant.application_id == application.id))
    title = labels[f"{kind}_title"]
    context: dict[str, Any] = {
        "language": language,
        "labels": labels,
        "kind": kind,
        "document": {
            "title": f"{title} — {application.reference or application.id}",
            "author": current_app.config["PROGRAMME_NAME"],
            "created": stamp,
            "modified": stamp,
        },
        "programme": current_app.config["PROGRAMME_NAME"],
        "application": application,
        "organisation": application.organisation,
        "call": application.call,
        "issued": moment.date(),
        "reason": application.decision_reason,
        "scores": _scores(application),
        "grant": grant,
        "signature_days": application.call.signature_period_days,
    }
    if grant is not None:
        total = application.total_cost or grant.amount
        context.update(
            amount_in_words=amount_in_words(grant.amount, language),
            total_cost=total,
            cofinancing=max(total - grant.amount, Decimal("0.00")),
        )
    return context


def letter_pdf(application: Application, language: str | None = None) -> bytes:
    """The decision letter of an awarded or rejected application, as PDF."""
    return render_pdf(
        f"letter_{letter_kind(application)}.html", letter_context(application, language)
    )


def decision_letter(actor: Actor, application_id: int) -> tuple[str, bytes]:
    """The letter for someone who may see the application: (file name, PDF)."""
    application = db.session.get(Application, application_id)
    if application is None or not can_view(actor, application):
        raise NotFound("no such application")
    kind = letter_kind(application)
    name = f"{application.reference or application.id}-{kind}-letter.pdf"
    return name, letter_pdf(application)


def send_letter(application: Application) -> int:
    """Tell the applicant's members their decision letter is ready (caller commits)."""
    kind = letter_kind(application)
    sent = 0
    for user in notifications.recipients("applicant", application):
        notifications.queue(
            f"grant.{kind}_letter",
            user,
            application,
            {"object": application.label, "reference": application.reference or ""},
        )
        sent += 1
    return sent
