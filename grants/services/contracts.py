"""The grant contract as a document: special conditions and annexes, rendered to PDF.

The contract follows the structure of the EU standard grant contract for
external actions (PRAG): special conditions naming the parties, the action,
its implementation period and the financing, then the annexes (I description
of the action with the logframe, II budget, III payment schedule, IV reporting
schedule). It is written in the language of the application (English or
French).

Each ContractVersion renders to the same bytes for the same data: the document
dates come from the version's ``created_at``, never from the clock. The
version records the SHA-256 of those bytes so that a signature can name the
exact document signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app

from reports.pdf import render_pdf

from ..models import BUDGET_HEADINGS, Application, ContractVersion, Grant
from ..rules.payments import amount_in_words, plan_payments
from .effects import add_months, final_report_months
from .errors import DomainError

TEMPLATE = "contract.html"
DEFAULT_IMPLEMENTER = "the International Centre for Migration Policy Development (ICMPD)"


class ContractDocumentChanged(DomainError):
    """A signed contract version would now render to a different document."""

    code = "contract_document_changed"
    status = 409


LABELS: dict[str, dict[str, str]] = {
    "en": {
        "contract": "Grant contract",
        "special_conditions": "Special conditions",
        "grant_number": "Grant No.",
        "version": "Contract version",
        "issued": "Issued on",
        "between": "Between",
        "as_authority": "hereinafter “the Contracting Authority”",
        "funded_by": "funded by the European Union and implemented by",
        "of_one_part": "of the one part, and",
        "as_grantee": "hereinafter “the Grantee”",
        "registration": "Legal registration number",
        "address": "Address",
        "country": "Country",
        "of_other_part": "of the other part,",
        "agreed": "have agreed as follows:",
        "art1": "Article 1 — Purpose",
        "art1_1": "The purpose of this contract is the award of a grant by the Contracting "
        "Authority for the implementation of the action entitled:",
        "art1_ref": "Application reference",
        "art1_2": "The action is described in Annex I. The Grantee shall implement it under "
        "its own responsibility and in accordance with that description.",
        "art1_3": "The action contributes to the following domains of the Joint Valletta "
        "Action Plan (JVAP):",
        "primary": "primary domain",
        "art1_4": "The action supports the following dialogues:",
        "art1_5": "Countries of implementation:",
        "art2": "Article 2 — Entry into force and implementation period",
        "art2_1": "This contract enters into force on the date of the last signature by the "
        "parties.",
        "art2_2": "The implementation period of the action starts on",
        "and_ends_on": "and ends on",
        "months": "months",
        "art3": "Article 3 — Financing the action",
        "art3_1": "The total estimated eligible cost of the action is",
        "as_annex2": "as set out in Annex II.",
        "art3_2": "The Contracting Authority undertakes to finance a maximum of",
        "in_words": "in words:",
        "equivalent_to": "equivalent to",
        "of_costs": "of the total estimated eligible costs.",
        "art3_3_co": "The Grantee shall co-finance the action with",
        "art3_3_co_end": "from its own or other resources.",
        "art3_3_full": "The grant covers the total estimated eligible costs: no "
        "co-financing is required.",
        "art4": "Article 4 — Reporting and payment arrangements",
        "art4_1": "Payments shall be made in accordance with the payment schedule of Annex III, "
        "on the conditions stated there.",
        "art4_2": "The Grantee shall submit the narrative and financial reports listed in Annex "
        "IV; the final report is due within {months} months of the end of the implementation "
        "period.",
        "art5": "Article 5 — Contact addresses",
        "art5_1": "All communications concerning this contract shall be in writing, state the "
        "grant number and the title of the action, and be sent to:",
        "for_grantee": "For the Grantee",
        "for_authority": "For the Contracting Authority",
        "art6": "Article 6 — Annexes",
        "art6_1": "The following documents are annexed to these special conditions and form "
        "an integral part of the contract:",
        "art6_2": "In the event of a conflict between the annexes and these special conditions, "
        "the special conditions take precedence.",
        "signatures": "Done in two originals, one for each party.",
        "name": "Name",
        "position": "Position",
        "signature": "Signature",
        "date": "Date",
        "annex": "Annex",
        "annex1": "Description of the action",
        "annex2": "Budget of the action",
        "annex3": "Payment schedule",
        "annex4": "Reporting schedule",
        "summary": "Summary of the action",
        "description": "Description",
        "target_groups": "Target groups",
        "logframe": "Logical framework",
        "objective": "Objective",
        "result": "Result",
        "indicator": "Indicator",
        "baseline": "Baseline",
        "target": "Target",
        "workplan": "Work plan",
        "activity": "Activity",
        "months_of_action": "Months of the action",
        "heading": "Heading",
        "item": "Item",
        "unit": "Unit",
        "quantity": "Quantity",
        "unit_cost": "Unit cost",
        "total": "Total",
        "subtotal": "Subtotal",
        "total_costs": "Total eligible costs",
        "grant": "Grant requested from the Contracting Authority",
        "cofinancing": "Co-financing by the Grantee",
        "number": "No.",
        "payment": "Payment",
        "when": "When due",
        "amount": "Amount",
        "share": "Share of the grant",
        "schedule_planned": "Payment schedule as planned at signature; the balance depends "
        "on the eligible costs accepted with the final report.",
        "report": "Report",
        "period": "Period covered",
        "due_date": "Due date",
        "reporting_note": "Each interim report opens the next pre-financing payment; the final "
        "report covers the whole implementation period.",
        "none": "None stated.",
        "art7": "Article 7 — Amendments",
        "art7_1": "This version of the contract incorporates the following amendments:",
        "amended_budget": "Budget per heading as amended",
        "bank_account": "Bank account",
        "to": "to",
        "page": "Page",
        "of": "of",
    },
    "fr": {
        "contract": "Contrat de subvention",
        "special_conditions": "Conditions particulières",
        "grant_number": "Subvention n°",
        "version": "Version du contrat",
        "issued": "Établi le",
        "between": "Entre",
        "as_authority": "ci-après «\u00a0l'Autorité contractante\u00a0»",
        "funded_by": "financé par l'Union européenne et mis en œuvre par",
        "of_one_part": "d'une part, et",
        "as_grantee": "ci-après «\u00a0le Bénéficiaire\u00a0»",
        "registration": "Numéro d'enregistrement légal",
        "address": "Adresse",
        "country": "Pays",
        "of_other_part": "d'autre part,",
        "agreed": "sont convenus de ce qui suit :",
        "art1": "Article 1 — Objet",
        "art1_1": "Le présent contrat a pour objet l'octroi par l'Autorité contractante d'une "
        "subvention pour la mise en œuvre de l'action intitulée :",
        "art1_ref": "Référence de la demande",
        "art1_2": "L'action est décrite à l'annexe I. Le Bénéficiaire la met en œuvre sous sa "
        "propre responsabilité et conformément à cette description.",
        "art1_3": "L'action contribue aux domaines suivants du Plan d'action conjoint de La "
        "Valette (PACV) :",
        "primary": "domaine principal",
        "art1_4": "L'action soutient les dialogues suivants :",
        "art1_5": "Pays de mise en œuvre :",
        "art2": "Article 2 — Entrée en vigueur et période de mise en œuvre",
        "art2_1": "Le présent contrat entre en vigueur à la date de la dernière signature des "
        "parties.",
        "art2_2": "La période de mise en œuvre de l'action commence le",
        "and_ends_on": "et se termine le",
        "months": "mois",
        "art3": "Article 3 — Financement de l'action",
        "art3_1": "Le coût total éligible de l'action est estimé à",
        "as_annex2": "conformément à l'annexe II.",
        "art3_2": "L'Autorité contractante s'engage à financer un montant maximal de",
        "in_words": "en toutes lettres\u00a0:",
        "equivalent_to": "soit",
        "of_costs": "du coût total éligible estimé.",
        "art3_3_co": "Le Bénéficiaire cofinance l'action à hauteur de",
        "art3_3_co_end": "sur ses ressources propres ou d'autres ressources.",
        "art3_3_full": "La subvention couvre la totalité du coût éligible estimé : aucun "
        "cofinancement n'est requis.",
        "art4": "Article 4 — Rapports et modalités de paiement",
        "art4_1": "Les paiements sont effectués selon le calendrier de paiement de l'annexe III, "
        "aux conditions qui y sont prévues.",
        "art4_2": "Le Bénéficiaire remet les rapports narratifs et financiers énumérés à "
        "l'annexe IV ; le rapport final est dû dans les {months} mois suivant la fin de la "
        "période de mise en œuvre.",
        "art5": "Article 5 — Adresses de correspondance",
        "art5_1": "Toute communication relative au présent contrat est faite par écrit, "
        "mentionne le numéro de la subvention et le titre de l'action, et est adressée :",
        "for_grantee": "Pour le Bénéficiaire",
        "for_authority": "Pour l'Autorité contractante",
        "art6": "Article 6 — Annexes",
        "art6_1": "Les documents suivants sont annexés aux présentes conditions particulières "
        "et font partie intégrante du contrat :",
        "art6_2": "En cas de contradiction entre les annexes et les présentes conditions "
        "particulières, ces dernières prévalent.",
        "signatures": "Fait en deux originaux, un pour chaque partie.",
        "name": "Nom",
        "position": "Fonction",
        "signature": "Signature",
        "date": "Date",
        "annex": "Annexe",
        "annex1": "Description de l'action",
        "annex2": "Budget de l'action",
        "annex3": "Calendrier de paiement",
        "annex4": "Calendrier des rapports",
        "summary": "Résumé de l'action",
        "description": "Description",
        "target_groups": "Groupes cibles",
        "logframe": "Cadre logique",
        "objective": "Objectif",
        "result": "Résultat",
        "indicator": "Indicateur",
        "baseline": "Valeur de référence",
        "target": "Valeur cible",
        "workplan": "Plan de travail",
        "activity": "Activité",
        "months_of_action": "Mois de l'action",
        "heading": "Rubrique",
        "item": "Poste",
        "unit": "Unité",
        "quantity": "Quantité",
        "unit_cost": "Coût unitaire",
        "total": "Total",
        "subtotal": "Sous-total",
        "total_costs": "Total des coûts éligibles",
        "grant": "Subvention demandée à l'Autorité contractante",
        "cofinancing": "Cofinancement du Bénéficiaire",
        "number": "N°",
        "payment": "Paiement",
        "when": "Échéance",
        "amount": "Montant",
        "share": "Part de la subvention",
        "schedule_planned": "Calendrier de paiement prévu à la signature ; le solde dépend "
        "des coûts éligibles acceptés avec le rapport final.",
        "report": "Rapport",
        "period": "Période couverte",
        "due_date": "Date limite",
        "reporting_note": "Chaque rapport intermédiaire ouvre le paiement de préfinancement "
        "suivant ; le rapport final couvre toute la période de mise en œuvre.",
        "none": "Non précisé.",
        "art7": "Article 7 — Avenants et modifications",
        "art7_1": "La présente version du contrat intègre les modifications suivantes :",
        "amended_budget": "Budget par rubrique tel que modifié",
        "bank_account": "Compte bancaire",
        "to": "au",
        "page": "Page",
        "of": "sur",
    },
}

HEADINGS: dict[str, dict[str, str]] = {
    "en": {
        "human_resources": "1. Human resources",
        "travel": "2. Travel",
        "equipment": "3. Equipment and supplies",
        "local_office": "4. Local office",
        "other_services": "5. Other costs, services",
        "other": "6. Other",
    },
    "fr": {
        "human_resources": "1. Ressources humaines",
        "travel": "2. Voyages",
        "equipment": "3. Équipements et fournitures",
        "local_office": "4. Bureau local",
        "other_services": "5. Autres coûts, services",
        "other": "6. Autres",
    },
}

PAYMENT_KINDS = {
    "en": {
        "prefinancing": "Initial pre-financing",
        "further_prefinancing": "Further pre-financing",
        "balance": "Payment of the balance",
    },
    "fr": {
        "prefinancing": "Préfinancement initial",
        "further_prefinancing": "Nouveau préfinancement",
        "balance": "Paiement du solde",
    },
}

# The Joint Valletta Action Plan and the dialogues under their official French names;
# the reference data holds the English ones.
JVAP_FR = {
    "development": "Avantages des migrations en termes de développement et lutte contre les "
    "causes profondes de la migration irrégulière et du phénomène des personnes déplacées",
    "legal_migration": "Migration légale et mobilité",
    "protection": "Protection et asile",
    "irregular_migration": "Prévention de la migration irrégulière, du trafic de migrants et de "
    "la traite des êtres humains, et lutte contre ces phénomènes",
    "return": "Retour, réadmission et réintégration",
}
DIALOGUES_FR = {
    "rabat": ("Processus de Rabat", "Dialogue euro-africain sur la migration et le développement"),
    "khartoum": (
        "Processus de Khartoum",
        "Initiative sur la route migratoire UE-Corne de l'Afrique",
    ),
    "c2cmmd": (
        "C2CMMD",
        "Dialogue continent-à-continent UA-UE sur la migration et la mobilité",
    ),
}


@dataclass(frozen=True)
class ScheduledPayment:
    sequence: int
    kind: str
    when: str
    amount: Decimal
    share: Decimal


@dataclass(frozen=True)
class ScheduledReport:
    label: str
    period_start: date
    period_end: date
    due_date: date


@dataclass(frozen=True)
class GrantTerms:
    """The grant as a given contract version states it (amount and end date as amended)."""

    number: str
    currency: str
    start_date: date
    end_date: date
    amount: Decimal
    funding_rate: Decimal


def terms_as_of(grant: Grant, version: ContractVersion) -> dict[str, Any]:
    """The terms recorded by the versions up to ``version`` (the first holds the original)."""
    terms: dict[str, Any] = {}
    for earlier in grant.contracts:
        if earlier.number <= version.number:
            terms.update(earlier.terms or {})
    return terms


def _grant_terms(grant: Grant, terms: dict[str, Any]) -> GrantTerms:
    return GrantTerms(
        number=grant.number,
        currency=grant.currency,
        start_date=grant.start_date,
        end_date=date.fromisoformat(terms["end_date"]) if "end_date" in terms else grant.end_date,
        amount=Decimal(terms["amount"]) if "amount" in terms else grant.amount,
        funding_rate=grant.funding_rate,
    )


@dataclass(frozen=True)
class BudgetHeading:
    title: str
    lines: list[dict[str, Any]]
    subtotal: Decimal


def contract_context(grant: Grant, version: ContractVersion | None = None) -> dict[str, Any]:
    """Everything the contract template needs, in the application's language."""
    version = version or _current_version(grant)
    app = grant.application
    language = app.language if app.language in LABELS else "en"
    terms = terms_as_of(grant, version)
    stated = _grant_terms(grant, terms)
    total_cost = app.total_cost or stated.amount
    issued = _utc(version.created_at)
    config = current_app.config
    return {
        "language": language,
        "labels": _labels(language),
        "document": {
            "title": f"{LABELS[language]['contract']} {grant.number}",
            "author": config["PROGRAMME_NAME"],
            # Dates from the version, so the same version always renders the same bytes.
            "created": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "modified": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "header": f"{LABELS[language]['grant_number']} {grant.number}",
        },
        "programme": {
            "name": config["PROGRAMME_NAME"],
            "implementer": config.get("PROGRAMME_IMPLEMENTER", DEFAULT_IMPLEMENTER),
        },
        "grant": stated,
        "version": version,
        "amendments": [
            {"number": v.number, "reason": v.reason}
            for v in grant.contracts
            if 1 < v.number <= version.number
        ],
        "grantee_address": terms.get("address") or app.organisation.address,
        "bank_account": terms.get("bank_account", ""),
        "amended_budget": _amended_budget(terms, language) if version.number > 1 else [],
        "issued": issued.date(),
        "application": app,
        "organisation": app.organisation,
        "currency": grant.currency,
        "amount_in_words": amount_in_words(stated.amount, language),
        "total_cost": total_cost,
        "cofinancing": max(total_cost - stated.amount, Decimal("0.00")),
        "duration_months": _months(stated.start_date, stated.end_date),
        "jvap_domains": _jvap_domains(app, language),
        "dialogues": _dialogues(app, language),
        "countries": sorted(c.name for c in app.countries),
        "summary": str(app.section_data("summary").get("text", "")),
        "description": app.section_data("description"),
        "objectives": _objectives(app),
        "activities": _activities(app),
        "budget": _budget(app, language),
        "budget_total": app.budget_total,
        "payments": _payment_schedule(grant, language),
        "reports": _reporting_schedule(grant, language),
    }


MONTH_WORDS = {
    "en": ("one", "two", "three", "four", "five", "six"),
    "fr": ("un", "deux", "trois", "quatre", "cinq", "six"),
}


def _labels(language: str) -> dict[str, str]:
    """The labels, with the months allowed for the final report written out."""
    months = final_report_months()
    words = MONTH_WORDS[language]
    written = words[months - 1] if 1 <= months <= len(words) else str(months)
    labels = dict(LABELS[language])
    labels["art4_2"] = labels["art4_2"].format(months=written)
    return labels


def render_contract(grant: Grant, version: ContractVersion | None = None) -> bytes:
    """The contract PDF of ``version`` (the current one by default); records its SHA-256.

    The hash goes on ``version.document_sha256`` (the caller commits). A version
    that has been signed keeps the document it was signed on: if it would now
    render differently, ContractDocumentChanged is raised and nothing is recorded.
    """
    version = version or _current_version(grant)
    document = render_pdf(TEMPLATE, contract_context(grant, version))
    digest = hashlib.sha256(document).hexdigest()
    if version.signatures and version.document_sha256 not in (None, digest):
        raise ContractDocumentChanged(
            f"contract version {version.number} of {grant.label} was signed on document "
            f"{version.document_sha256} but now renders as {digest}"
        )
    version.document_sha256 = digest
    return document


def _current_version(grant: Grant) -> ContractVersion:
    version = grant.current_contract
    if version is None:
        raise DomainError(f"{grant.label} has no contract version to render")
    return version


def _utc(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; every stored moment is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _months(start: date, end: date) -> int:
    """Whole calendar months from start to end inclusive (1 Jan - 30 Jun: 6)."""
    return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)


def _jvap_domains(app: Application, language: str) -> list[dict[str, Any]]:
    links = sorted(app.jvap_links, key=lambda link: link.domain.number)
    return [
        {
            "number": link.domain.number,
            "title": JVAP_FR.get(link.domain.code, link.domain.title)
            if language == "fr"
            else link.domain.title,
            "primary": link.is_primary,
        }
        for link in links
    ]


def _dialogues(app: Application, language: str) -> list[dict[str, str]]:
    result = []
    for dialogue in sorted(app.dialogues, key=lambda d: d.code):
        name, full_name = dialogue.name, dialogue.full_name
        if language == "fr":
            name, full_name = DIALOGUES_FR.get(dialogue.code, (name, full_name))
        result.append({"name": name, "full_name": full_name})
    return result


def _objectives(app: Application) -> list[dict[str, Any]]:
    """The logframe as objective -> results -> indicators, tolerant of missing parts."""
    objectives = []
    for objective in app.section_data("logframe").get("objectives", []):
        results = []
        for result in objective.get("results", []):
            indicators = [
                {
                    "indicator": str(i.get("indicator", "")),
                    "baseline": str(i.get("baseline", "")),
                    "target": str(i.get("target", "")),
                }
                for i in result.get("indicators", [])
            ]
            results.append({"result": str(result.get("result", "")), "indicators": indicators})
        objectives.append({"objective": str(objective.get("objective", "")), "results": results})
    return objectives


def _activities(app: Application) -> list[dict[str, str]]:
    return [
        {
            "activity": str(a.get("activity", "")),
            "months": ", ".join(str(m) for m in a.get("months", [])),
        }
        for a in app.section_data("workplan").get("activities", [])
    ]


def _budget(app: Application, language: str) -> list[BudgetHeading]:
    headings = []
    for heading in BUDGET_HEADINGS:
        lines = [line for line in app.budget_lines if line.heading == heading]
        if not lines:
            continue
        headings.append(
            BudgetHeading(
                title=HEADINGS[language][heading],
                lines=[
                    {
                        "description": line.description,
                        "unit": line.unit,
                        "quantity": line.quantity,
                        "unit_cost": line.unit_cost,
                        "total": line.total,
                    }
                    for line in lines
                ],
                subtotal=sum((line.total for line in lines), Decimal("0.00")),
            )
        )
    return headings


def _amended_budget(terms: dict[str, Any], language: str) -> list[tuple[str, Decimal]]:
    """The budget per heading as amended (transfers notified or agreed by addendum)."""
    budget = terms.get("budget") or {}
    return [
        (HEADINGS[language][heading], Decimal(budget[heading]))
        for heading in BUDGET_HEADINGS
        if heading in budget and Decimal(budget[heading]) != 0
    ]


def _trigger(trigger: str, language: str) -> str:
    if trigger == "signature":
        return "À la signature du contrat" if language == "fr" else "On signature of the contract"
    if trigger == "final_report":
        return (
            "Après approbation du rapport final"
            if language == "fr"
            else "After approval of the final report"
        )
    number = trigger.removeprefix("interim_report_")
    if language == "fr":
        return f"Après approbation du rapport intermédiaire {number}"
    return f"After approval of interim report {number}"


def _payment_schedule(grant: Grant, language: str) -> list[ScheduledPayment]:
    """The grant's planned payments once signed; before that, the schedule the call implies."""
    if grant.payments:
        planned = [(p.sequence, p.kind, p.trigger, p.planned_amount) for p in grant.payments]
    else:
        shares = [Decimal(str(s)) for s in grant.application.call.prefinancing_shares]
        planned = [
            (p.sequence, p.kind, p.trigger, p.amount) for p in plan_payments(grant.amount, shares)
        ]
    return [
        ScheduledPayment(
            sequence=sequence,
            kind=PAYMENT_KINDS[language][kind],
            when=_trigger(trigger, language),
            amount=amount,
            share=(amount / grant.amount).quantize(Decimal("0.0001")),
        )
        for sequence, kind, trigger, amount in planned
    ]


def _reporting_schedule(grant: Grant, language: str) -> list[ScheduledReport]:
    """The grant's reports once signed; before that, the same periods signature will create.

    One reporting period per pre-financing instalment: an interim report closes
    each period but the last, due a month after it; the final report covers the
    whole action and is due final_report_months() after the end.
    """
    rows: list[tuple[str, int, date, date, date]]
    if grant.reports:
        rows = [
            (r.kind, r.sequence, r.period_start, r.period_end, r.due_date) for r in grant.reports
        ]
    else:
        periods = max(1, len(grant.application.call.prefinancing_shares))
        months = _months(grant.start_date, grant.end_date)
        rows = []
        start = grant.start_date
        for n in range(1, periods):
            end = add_months(grant.start_date, months * n // periods) - timedelta(days=1)
            rows.append(("interim", n, start, end, add_months(end, 1)))
            start = end + timedelta(days=1)
        rows.append(
            (
                "final",
                1,
                grant.start_date,
                grant.end_date,
                add_months(grant.end_date, final_report_months()),
            )
        )
    interim, final = (
        ("Rapport intermédiaire", "Rapport final")
        if language == "fr"
        else ("Interim report", "Final report")
    )
    rows.sort(key=lambda row: (row[0] == "final", row[4], row[1]))
    return [
        ScheduledReport(
            label=f"{interim} {sequence}" if kind == "interim" else final,
            period_start=start,
            period_end=end,
            due_date=due,
        )
        for kind, sequence, start, end, due in rows
    ]
