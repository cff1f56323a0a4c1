"""Documents published with a call: guidelines, form and budget templates, annexes.

Programme managers add and remove them, each act audited (the call named in it). A file is
stored like an application's attachment: judged by its content (a PDF named
``.docx`` is refused), size-limited, kept outside the static files under a random
name, with its SHA-256. Anyone may download the documents of a call whose page is
public; a draft call's documents exist only for programme managers (404 for
anyone else).
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from flask import current_app
from sqlalchemy import func, select

from .. import policy
from ..clock import now
from ..extensions import db
from ..models import Call, Country, User
from ..models.calls import CALL_DOCUMENT_KINDS, CALL_DOCUMENT_LANGUAGES, CallDocument
from . import audit
from .actors import Actor
from .attachments import (
    ACCEPTED_EXTENSIONS,
    TYPES,
    StoredFile,
    UploadRefused,
    check_content,
    safe_display_name,
    upload_folder,
)
from .errors import N_, NotFound, PermissionDenied
from .listings import PUBLIC_CALL_STATES

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
TITLE_LIMIT = 200

KIND_LABELS = {
    "guidelines": N_("Guidelines for applicants"),
    "application_form": N_("Application form template"),
    "budget_template": N_("Budget template"),
    "annex": N_("Annex"),
}
LANGUAGE_LABELS = {"en": N_("English"), "fr": N_("French")}


def max_bytes() -> int:
    return int(current_app.config.get("CALL_DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _require_manager(actor: Actor) -> User:
    if not isinstance(actor, User) or not policy.is_manager(actor):
        raise PermissionDenied(N_("programme managers only"))
    return actor


def is_public(call: Call) -> bool:
    """The call's page is public, so are its documents (a draft call's are not)."""
    return call.state in PUBLIC_CALL_STATES


def _audit(actor: User, call: Call, event: str, document: CallDocument) -> None:
    # The document is the object: a call's own trail holds its states only.
    audit.record(
        actor, "call_documents", document.id, event, comment=document.title,
        data={
            "call_id": call.id,
            "call": call.code,
            "title": document.title,
            "language": document.language,
            "kind": document.kind,
            "filename": document.filename,
            "size_bytes": document.size_bytes,
            "sha256": document.sha256,
        },
    )


def _check_fields(title: str, language: str, kind: str) -> str:
    title = (title or "").strip()
    fields: dict[str, list[str]] = {}
    if not title:
        fields["title"] = ["required"]
    elif len(title) > TITLE_LIMIT:
        fields["title"] = [f"at most {TITLE_LIMIT} characters"]
    if language not in CALL_DOCUMENT_LANGUAGES:
        fields["language"] = ["English or French"]
    if kind not in CALL_DOCUMENT_KINDS:
        fields["kind"] = ["choose a listed kind"]
    if fields:
        raise UploadRefused(N_("the document cannot be added"), fields)
    return title


def _store(filename: str, stream: IO[bytes]) -> tuple[str, str, int, str, str]:
    """Write the stream under a random name: (stored name, digest, size, MIME type, name)."""
    name = safe_display_name(filename)
    extension = os.path.splitext(name)[1].lower()
    if extension not in ACCEPTED_EXTENSIONS:
        raise UploadRefused(
            N_("files of type '%(extension)s' are not accepted; accepted: %(accepted)s"),
            {"file": ["type not accepted"]},
            params={"extension": extension or "none", "accepted": ", ".join(ACCEPTED_EXTENSIONS)},
        )
    limit = max_bytes()
    folder = upload_folder()
    stored_name = secrets.token_hex(32)
    target = folder / stored_name
    partial = folder / f"{stored_name}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(partial, "xb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(
                        N_("the file is larger than the limit of %(mb)s MB"),
                        {"file": ["too large"]},
                        params={"mb": limit // (1024 * 1024)},
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(N_("the file is empty"), {"file": ["empty file"]})
        # The attachments' checks: type by content, name against content, zip bombs,
        # PDFs with scripts or other active content.
        found = check_content(partial, extension)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return stored_name, digest.hexdigest(), size, TYPES[found][1], name


def add_document(
    actor: Actor,
    call: Call,
    *,
    title: str,
    language: str,
    kind: str,
    filename: str,
    stream: IO[bytes],
) -> CallDocument:
    """Publish one document with the call (managers); nothing is stored if it is refused."""
    manager = _require_manager(actor)
    clean_title = _check_fields(title, language, kind)
    stored_name, sha256, size, content_type, name = _store(filename, stream)
    last = db.session.scalar(
        select(func.max(CallDocument.position)).where(CallDocument.call_id == call.id)
    )
    document = CallDocument(
        call_id=call.id,
        title=clean_title,
        language=language,
        kind=kind,
        filename=name,
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=size,
        sha256=sha256,
        position=(last or 0) + 1,
        uploaded_by_id=manager.id,
        uploaded_at=now(),
    )
    try:
        db.session.add(document)
        db.session.flush()
        _audit(manager, call, "document_added", document)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        (upload_folder() / stored_name).unlink(missing_ok=True)
        raise
    return document


def _document_of(call: Call, document_id: int) -> CallDocument:
    found = db.session.get(CallDocument, document_id)
    if found is None or found.call_id != call.id:
        raise NotFound(N_("no such document"))
    return found


def remove_document(actor: Actor, call: Call, document_id: int) -> None:
    """Withdraw a document from the call (managers); the file goes once the removal commits."""
    manager = _require_manager(actor)
    found = _document_of(call, document_id)
    path = upload_folder() / found.stored_name
    _audit(manager, call, "document_removed", found)
    db.session.delete(found)
    db.session.commit()
    path.unlink(missing_ok=True)


def documents(call: Call) -> list[CallDocument]:
    """The call's documents in their order (position, then as added)."""
    return list(
        db.session.scalars(
            select(CallDocument)
            .where(CallDocument.call_id == call.id)
            .order_by(CallDocument.position, CallDocument.id)
        )
    )


def open_document(actor: Actor | None, code: str, document_id: int) -> StoredFile:
    """A document's file: anyone's for a public call, managers' only for a draft (else 404)."""
    call = db.session.scalar(select(Call).where(Call.code == code))
    if call is None or not (is_public(call) or policy.is_manager(actor)):
        raise NotFound(N_("no such document"))
    found = _document_of(call, document_id)
    path = upload_folder() / found.stored_name
    if not path.is_file():
        raise NotFound(N_("the file is missing"))
    return StoredFile(path, found.filename, found.content_type, found.size_bytes)


# --------------------------------------------------------------------------
# Guidelines for applicants, generated from the call itself
# --------------------------------------------------------------------------

GUIDELINE_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Guidelines for applicants",
        "file": "guidelines",
        "reference": "Call",
        "procedure": "Procedure",
        "two_stage": "Restricted: a concept note first, then a full application on invitation",
        "single_stage": "Open: a full application, evaluated once",
        "deadline": "Deadline",
        "full_deadline": "Deadline for full applications",
        "published": "Published",
        "about": "The call",
        "objectives": "Objectives",
        "money": "Budget and grants",
        "budget": "Budget of the call",
        "lot": "Lot",
        "grant_size": "Grant size",
        "from_to": "from {min} to {max}",
        "funding_rate": "Funding rate",
        "funding_rate_text": "at most {rate} of the total eligible costs",
        "duration": "Duration of the action",
        "months": "{n} months",
        "months_range": "{min} to {max} months",
        "prefinancing": "Pre-financing",
        "scope": "Thematic scope",
        "scope_text": "Each action contributes to the Joint Valletta Action Plan (JVAP) and to the "
        "migration dialogues below.",
        "jvap": "JVAP domains",
        "dialogues": "Dialogues",
        "who": "Who may apply",
        "documents": "Documents to attach",
        "documents_text": "Files are uploaded on the platform as PDF, Word, Excel, OpenDocument, "
        "PNG or JPEG; the type is checked from the content of each file.",
        "evaluation": "Evaluation and selection",
        "evaluation_text": "Each application is scored independently by at least {n} "
        "evaluators against the grid below; each criterion is scored from 1 (very poor) to "
        "5 (very good).",
        "section": "Section",
        "maximum": "Maximum",
        "minimum": "Minimum",
        "total": "Total",
        "threshold": "threshold",
        "selection_text": "Applications are ranked by total score. An application below a "
        "section minimum or the total threshold is not selected; the others are selected in "
        "rank order within the budget, the next ones forming a reserve list.",
        "how": "How to apply",
        "how_text": "Register your organisation and apply on the grants platform, in English "
        "or in French, before the deadline. The platform checks the eligibility rules "
        "before submission and issues a receipt.",
        "deadline_at": "{date}, {time} ({zone})",
        "grid_concept_note": "Concept note",
        "grid_full_application": "Full application",
    },
    "fr": {
        "title": "Lignes directrices à l'intention des demandeurs",
        "file": "lignes-directrices",
        "reference": "Appel",
        "procedure": "Procédure",
        "two_stage": "Restreinte : une note succincte d'abord, puis une demande complète sur "
        "invitation",
        "single_stage": "Ouverte : une demande complète, évaluée en une seule fois",
        "deadline": "Date limite",
        "full_deadline": "Date limite des demandes complètes",
        "published": "Publication",
        "about": "L'appel",
        "objectives": "Objectifs",
        "money": "Budget et subventions",
        "budget": "Budget de l'appel",
        "lot": "Lot",
        "grant_size": "Montant de la subvention",
        "from_to": "de {min} à {max}",
        "funding_rate": "Taux de financement",
        "funding_rate_text": "au plus {rate} du total des coûts éligibles",
        "duration": "Durée de l'action",
        "months": "{n} mois",
        "months_range": "de {min} à {max} mois",
        "prefinancing": "Préfinancement",
        "scope": "Champ thématique",
        "scope_text": "Chaque action contribue au Plan d'action conjoint de La Valette (PACV) "
        "et aux dialogues sur la migration ci-dessous.",
        "jvap": "Domaines du PACV",
        "dialogues": "Dialogues",
        "who": "Qui peut présenter une demande",
        "documents": "Documents à joindre",
        "documents_text": "Les fichiers sont téléversés sur la plateforme au format PDF, Word, "
        "Excel, OpenDocument, PNG ou JPEG ; le type de chaque fichier est vérifié à partir de "
        "son contenu.",
        "evaluation": "Évaluation et sélection",
        "evaluation_text": "Chaque demande est notée de manière indépendante par au moins {n} "
        "évaluateurs selon la grille ci-dessous ; chaque critère est noté de 1 (très "
        "insuffisant) à 5 (très bon).",
        "section": "Rubrique",
        "maximum": "Maximum",
        "minimum": "Minimum",
        "total": "Total",
        "threshold": "seuil",
        "selection_text": "Les demandes sont classées selon leur note totale. Une demande sous le "
        "minimum d'une rubrique ou sous le seuil total n'est pas retenue ; les autres sont "
        "retenues dans l'ordre du classement dans la limite du budget, les suivantes formant "
        "une liste de réserve.",
        "how": "Comment présenter une demande",
        "how_text": "Enregistrez votre organisation et présentez votre demande sur la "
        "plateforme des subventions, en français ou en anglais, avant la date limite. La "
        "plateforme vérifie les règles d'éligibilité avant la soumission et délivre un accusé "
        "de réception.",
        "deadline_at": "{date} à {time} ({zone})",
        "grid_concept_note": "Note succincte",
        "grid_full_application": "Demande complète",
    },
}
# Reference names in French (the reference data holds the English ones).
JVAP_FR = {
    1: "Avantages des migrations en termes de développement et lutte contre les causes "
    "profondes de la migration irrégulière et des déplacements forcés",
    2: "Migration légale et mobilité",
    3: "Protection et asile",
    4: "Prévention de la migration irrégulière, du trafic de migrants et de la traite des "
    "êtres humains, et lutte contre ces phénomènes",
    5: "Retour, réadmission et réintégration",
}
DIALOGUES_FR = {
    "rabat": "Processus de Rabat — Dialogue euro-africain sur la migration et le développement",
    "khartoum": "Processus de Khartoum — Initiative sur la route migratoire UE-Corne de "
    "l'Afrique",
    "c2cmmd": "C2CMMD — Dialogue continent à continent UA-UE sur la migration et la mobilité",
}
TYPES_TEXT = {
    "en": {
        "cso": "civil society organisations",
        "local_authority": "local authorities",
        "diaspora": "diaspora organisations",
    },
    "fr": {
        "cso": "organisations de la société civile",
        "local_authority": "autorités locales",
        "diaspora": "organisations de la diaspora",
    },
}
ATTACHMENTS_TEXT = {
    "en": {
        "registration_certificate": "the registration certificate of the lead applicant",
        "budget_annex": "the detailed budget (annex)",
    },
    "fr": {
        "registration_certificate": "le certificat d'enregistrement du demandeur principal",
        "budget_annex": "le budget détaillé (annexe)",
    },
}
RULES_TEXT = {
    "en": {
        "types": "Lead applicants: {types}.",
        "countries": "Based in one of these countries: {countries}.",
        "co_applicants": "At most {n} co-applicant(s).",
        "eu_lead": "A lead applicant based in the European Union needs a co-applicant based in "
        "an African Union member state, unless it is a diaspora organisation.",
        "max_countries": "The action takes place in at most {n} countries.",
        "au_country": "At least one country of implementation is an African Union member "
        "state.",
        "jvap": "The action contributes to at least one JVAP domain.",
        "dialogue": "The action contributes to at least one dialogue.",
        "no_attachment": "No document is required at submission.",
    },
    "fr": {
        "types": "Demandeurs principaux : {types}.",
        "countries": "Établis dans l'un des pays suivants : {countries}.",
        "co_applicants": "Au plus {n} co-demandeur(s).",
        "eu_lead": "Un demandeur principal établi dans l'Union européenne doit avoir un "
        "co-demandeur établi dans un État membre de l'Union africaine, sauf s'il s'agit "
        "d'une organisation de la diaspora.",
        "max_countries": "L'action se déroule dans {n} pays au plus.",
        "au_country": "Au moins un pays de mise en œuvre est un État membre de l'Union "
        "africaine.",
        "jvap": "L'action contribue à au moins un domaine du PACV.",
        "dialogue": "L'action contribue à au moins un dialogue.",
        "no_attachment": "Aucun document n'est exigé lors de la soumission.",
    },
}


def _moment_text(call: Call, moment: datetime, language: str) -> str:
    from reports.pdf import format_date

    local = moment.astimezone(call.zone)
    time = f"{local:%H:%M}" if language == "en" else f"{local:%H} h {local:%M}"
    return GUIDELINE_LABELS[language]["deadline_at"].format(
        date=format_date(local.date(), language), time=time, zone=call.time_zone
    )


def guidelines_context(call: Call, language: str) -> dict[str, Any]:
    """What the guidelines say, from the call's own settings, in `language` (en or fr)."""
    from reports.pdf import format_percent

    from .eligibility import call_rules

    if language not in GUIDELINE_LABELS:
        raise UploadRefused(N_("the document cannot be added"), {"language": ["English or French"]})
    labels = GUIDELINE_LABELS[language]
    rules_text = RULES_TEXT[language]
    rules = call_rules(call)
    issued_at = call.published_at or call.opens_at or call.created_at
    stamp = issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    eligibility = [
        rules_text["types"].format(
            types=", ".join(TYPES_TEXT[language][t] for t in sorted(rules.eligible_applicant_types))
        )
    ]
    if rules.eligible_countries:
        names = db.session.scalars(
            select(Country.name).where(Country.iso2.in_(rules.eligible_countries))
            .order_by(Country.name)
        )
        eligibility.append(rules_text["countries"].format(countries=", ".join(names)))
    eligibility.append(rules_text["co_applicants"].format(n=rules.max_co_applicants))
    if rules.eu_lead_needs_au_co_applicant:
        eligibility.append(rules_text["eu_lead"])
    eligibility.append(rules_text["max_countries"].format(n=rules.max_countries))
    if rules.require_au_country:
        eligibility.append(rules_text["au_country"])
    if rules.require_jvap_domain:
        eligibility.append(rules_text["jvap"])
    if rules.require_dialogue:
        eligibility.append(rules_text["dialogue"])
    attachments = [
        ATTACHMENTS_TEXT[language].get(kind, kind.replace("_", " "))
        for kind in rules.mandatory_attachments
    ] or [rules_text["no_attachment"]]
    stages = ("concept_note", "full_application") if call.is_two_stage else ("full_application",)
    grids = []
    for stage in stages:
        grid = call.grid_for(stage)
        if grid is None:
            continue
        grids.append(
            {
                "title": labels[f"grid_{stage}"],
                "threshold": grid.total_threshold,
                "maximum": grid.max_total,
                "sections": [
                    {"title": s.title, "maximum": s.max_score, "minimum": s.minimum}
                    for s in grid.sections
                ],
            }
        )
    if call.duration_min_months == call.duration_max_months:
        duration = labels["months"].format(n=call.duration_min_months)
    else:
        duration = labels["months_range"].format(
            min=call.duration_min_months, max=call.duration_max_months
        )
    base_url = str(current_app.config.get("EXPORT_BASE_URL") or "").rstrip("/")
    return {
        "language": language,
        "labels": labels,
        "document": {
            "title": f"{labels['title']} — {call.code}",
            "author": current_app.config["PROGRAMME_NAME"],
            "created": stamp,
            "modified": stamp,
        },
        "programme": current_app.config["PROGRAMME_NAME"],
        "call": call,
        "issued": issued_at.astimezone(call.zone).date(),
        "deadline": _moment_text(call, call.deadline_at, language),
        "full_deadline": (
            _moment_text(call, call.full_deadline_at, language) if call.full_deadline_at else None
        ),
        "lots": list(call.lots),
        "duration": duration,
        "prefinancing": " + ".join(
            format_percent(Decimal(str(share)), language) for share in call.prefinancing_shares
        ),
        "domains": [
            JVAP_FR.get(d.number, d.title) if language == "fr" else d.title
            for d in call.jvap_domains
        ],
        "dialogues": [
            DIALOGUES_FR.get(d.code, f"{d.name} — {d.full_name}")
            if language == "fr"
            else f"{d.name} — {d.full_name}"
            for d in sorted(call.dialogues, key=lambda d: d.code)
        ],
        "eligibility": eligibility,
        "attachments": attachments,
        "evaluators": max(2, call.evaluators_per_application),
        "grids": grids,
        "call_url": f"{base_url}/calls/{call.code}",
    }


def guidelines_pdf(call: Call, language: str) -> bytes:
    """The call's guidelines as PDF, rendered by the documents' pipeline (same bytes each time)."""
    from reports.pdf import render_pdf

    return render_pdf("call_guidelines.html", guidelines_context(call, language))


def publish_guidelines(actor: Actor, call: Call) -> list[CallDocument]:
    """Generate the call's guidelines in English and French and publish both with the call."""
    _require_manager(actor)
    published = []
    for language in CALL_DOCUMENT_LANGUAGES:
        labels = GUIDELINE_LABELS[language]
        published.append(
            add_document(
                actor,
                call,
                title=f"{labels['title']} — {call.code}",
                language=language,
                kind="guidelines",
                filename=f"{call.code}-{labels['file']}.pdf",
                stream=io.BytesIO(guidelines_pdf(call, language)),
            )
        )
    return published
