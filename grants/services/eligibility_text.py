"""Eligibility failures in the applicant's language.

The rules (``grants.rules.eligibility``) explain each failure in English and give
it a stable ``code`` with the figures involved in ``params``. This module renders
the same explanation in French from the code and the figures, so the rules stay
free of any web or language concern. English keeps the rules' own wording; a code
this module does not know falls back to it too, so a new rule is never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency, format_decimal

from ..rules.eligibility import CO_APPLICANT, LEAD, Failure

FRENCH_TYPES = {
    "cso": "organisation de la société civile",
    "local_authority": "autorité locale",
    "diaspora": "organisation de la diaspora",
}

FRENCH_ATTACHMENT_KINDS = {
    "registration_certificate": "certificat d'enregistrement",
    "budget_annex": "annexe budgétaire",
    "other": "autre document",
}


@dataclass(frozen=True)
class LocalisedFailure:
    """A failure as shown to a person: the rule's code and the text in their language."""

    code: str
    params: dict[str, Any]
    message: str
    fix: str


def failure_text(failure: Failure, language: str) -> tuple[str, str]:
    """The failure's message and suggested fix in ``language`` ("en", "fr", "fr_FR"...)."""
    if not language.lower().startswith("fr"):
        return failure.message, failure.fix
    render = _FRENCH.get(failure.code)
    if render is None:
        return failure.message, failure.fix
    try:
        return render(failure.params)
    except (KeyError, TypeError, ValueError, InvalidOperation):
        # Figures the renderer cannot read: the rules' own words are still right.
        return failure.message, failure.fix


def localise(failures: Iterable[Failure], language: str) -> list[LocalisedFailure]:
    """Every failure with its text in ``language``, in the rules' order."""
    result = []
    for failure in failures:
        message, fix = failure_text(failure, language)
        result.append(LocalisedFailure(failure.code, dict(failure.params), message, fix))
    return result


# ------------------------------------------------------------------ French wording


def _eur(value: Any) -> str:
    return format_currency(Decimal(str(value)), "EUR", locale="fr_FR")


def _percent(rate: Any) -> str:
    return f"{format_decimal(Decimal(str(rate)) * 100, format='#,##0.##', locale='fr_FR')} %"


def _months(count: int) -> str:
    return f"{count} mois"


def _who(params: dict[str, Any]) -> str:
    role = params.get("role")
    if role == LEAD:
        subject = "Le candidat principal"
    elif role == CO_APPLICANT:
        subject = "Le co-demandeur"
    else:
        subject = "Le demandeur"
    name = str(params.get("applicant") or "").strip()
    return f"{subject} {name}" if name else subject


def _types(codes: Iterable[str]) -> str:
    return ", ".join(FRENCH_TYPES.get(code, code) for code in codes)


def _kind(kind: str) -> str:
    return FRENCH_ATTACHMENT_KINDS.get(kind, kind.replace("_", " "))


def _missing_applicant_type(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"{_who(p)} n'a pas de type d'organisation.",
        f"Choisissez le type d'organisation ; types éligibles : {_types(p['eligible_types'])}.",
    )


def _applicant_type_not_eligible(p: dict[str, Any]) -> tuple[str, str]:
    kind = FRENCH_TYPES.get(p["organisation_type"], p["organisation_type"])
    return (
        f"{_who(p)} est enregistré comme « {kind} », type d'organisation non éligible "
        "au titre de cet appel.",
        f"Postulez en tant qu'organisation éligible ou avec une telle organisation : "
        f"{_types(p['eligible_types'])}.",
    )


def _missing_applicant_country(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"{_who(p)} n'indique pas de pays d'établissement.",
        "Indiquez le pays où l'organisation est légalement enregistrée.",
    )


def _applicant_country_not_eligible(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"{_who(p)} est établi en {p['country']}, pays non éligible pour les demandeurs "
        "au titre de cet appel.",
        "Postulez en tant qu'organisation établie dans l'un des pays éligibles, ou avec "
        f"une telle organisation : {', '.join(p['eligible_countries'])}.",
    )


def _allowed_co_applicants(maximum: int) -> str:
    if maximum == 0:
        return "aucun co-demandeur"
    if maximum == 1:
        return "au plus 1 co-demandeur"
    return f"au plus {maximum} co-demandeurs"


def _too_many_co_applicants(p: dict[str, Any]) -> tuple[str, str]:
    maximum = int(p["maximum"])
    if maximum == 0:
        return (
            f"La proposition compte {p['co_applicants']} co-demandeur(s) ; l'appel n'autorise "
            "aucun co-demandeur.",
            "Retirez tous les co-demandeurs.",
        )
    allowed = _allowed_co_applicants(maximum)
    return (
        f"La proposition compte {p['co_applicants']} co-demandeurs ; l'appel autorise {allowed}.",
        f"Retirez des co-demandeurs afin d'en avoir {allowed}.",
    )


def _eu_lead_without_au_co_applicant(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Le candidat principal est établi dans un État membre de l'UE ({p['lead_country']}) "
        "et n'a aucun co-demandeur établi dans un État membre de l'Union africaine.",
        "Ajoutez un co-demandeur établi dans un État membre de l'Union africaine, ou confiez "
        "la direction de la proposition à une organisation établie dans un État membre de "
        "l'Union africaine. Les organisations de la diaspora établies dans l'UE peuvent être "
        "candidat principal sans co-demandeur.",
    )


def _range(p: dict[str, Any]) -> str:
    return f"entre {_eur(p['minimum'])} et {_eur(p['maximum'])}"


def _missing_amount(p: dict[str, Any]) -> tuple[str, str]:
    return ("Le montant demandé est manquant.", f"Indiquez le montant demandé, {_range(p)}.")


def _invalid_amount(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Le montant demandé ({p['amount']}) n'est pas un montant valide.",
        f"Indiquez le montant demandé en euros, {_range(p)}.",
    )


def _amount_out_of_range(p: dict[str, Any]) -> tuple[str, str]:
    amount = Decimal(str(p["amount"]))
    if amount < Decimal(str(p["minimum"])):
        return (
            f"Le montant demandé de {_eur(amount)} est inférieur au minimum de "
            f"{_eur(p['minimum'])}.",
            f"Portez le montant demandé à au moins {_eur(p['minimum'])}, ou élargissez "
            "l'action afin qu'elle justifie une subvention de cet ordre.",
        )
    return (
        f"Le montant demandé de {_eur(amount)} est supérieur au maximum de {_eur(p['maximum'])}.",
        f"Ramenez le montant demandé à au plus {_eur(p['maximum'])}, en couvrant le reste "
        "du coût par d'autres sources ou en réduisant l'action.",
    )


def _missing_total_cost(p: dict[str, Any]) -> tuple[str, str]:
    return (
        "Le coût total éligible de l'action est manquant.",
        "Indiquez le coût total éligible figurant au budget.",
    )


def _invalid_total_cost(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Le coût total éligible ({p['total_cost']}) doit être un montant positif.",
        "Indiquez le coût total éligible figurant au budget, en euros.",
    )


def _funding_rate_exceeded(p: dict[str, Any]) -> tuple[str, str]:
    amount = Decimal(str(p["requested_amount"]))
    total = Decimal(str(p["total_cost"]))
    rate = Decimal(str(p["max_funding_rate"]))
    max_amount = _eur(p["max_amount"])
    if rate == 1:
        return (
            f"Le montant demandé de {_eur(amount)} dépasse le coût total éligible de "
            f"{_eur(total)}.",
            f"Ramenez le montant demandé à au plus {max_amount}, ou corrigez le coût total "
            "éligible.",
        )
    needed_total = (amount / rate).quantize(Decimal("0.01"), rounding=ROUND_UP)
    return (
        f"Le montant demandé de {_eur(amount)} représente {_percent(p['funding_rate'])} du "
        f"coût total éligible de {_eur(total)} ; la subvention peut en couvrir au plus "
        f"{_percent(rate)} ({max_amount}).",
        f"Ramenez le montant demandé à au plus {max_amount}, ou ajoutez un cofinancement "
        f"afin que le coût total éligible atteigne au moins {_eur(needed_total)}.",
    )


def _required_duration(p: dict[str, Any]) -> str:
    low, high = int(p["minimum"]), int(p["maximum"])
    return _months(low) if low == high else f"entre {low} et {high} mois"


def _missing_duration(p: dict[str, Any]) -> tuple[str, str]:
    return (
        "La durée de l'action est manquante.",
        f"Indiquez la période de mise en œuvre : {_required_duration(p)}.",
    )


def _duration_out_of_range(p: dict[str, Any]) -> tuple[str, str]:
    low, high, duration = int(p["minimum"]), int(p["maximum"]), int(p["duration"])
    if low == high:
        message = f"La durée de {_months(duration)} diffère de la durée requise de {_months(low)}."
    elif duration < low:
        message = f"La durée de {_months(duration)} est inférieure au minimum de {_months(low)}."
    else:
        message = f"La durée de {_months(duration)} est supérieure au maximum de {_months(high)}."
    return message, f"Prévoyez une période de mise en œuvre de {_required_duration(p)}."


def _missing_countries(p: dict[str, Any]) -> tuple[str, str]:
    return (
        "Aucun pays de mise en œuvre n'est indiqué.",
        f"Ajoutez les pays de mise en œuvre (au plus {p['maximum']}).",
    )


def _too_many_countries(p: dict[str, Any]) -> tuple[str, str]:
    return (
        f"L'action est mise en œuvre dans {p['count']} pays ({', '.join(p['countries'])}) ; "
        f"l'appel en autorise au plus {p['maximum']}.",
        f"Ramenez les pays de mise en œuvre à au plus {p['maximum']}.",
    )


def _no_au_country(p: dict[str, Any]) -> tuple[str, str]:
    return (
        "Aucun des pays de mise en œuvre n'est un État membre de l'Union africaine.",
        "Mettez en œuvre l'action dans au moins un État membre de l'Union africaine, en "
        "remplaçant un autre pays si la limite est atteinte.",
    )


def _no_jvap_domain(p: dict[str, Any]) -> tuple[str, str]:
    return (
        "L'action ne s'inscrit dans aucun domaine du Plan d'action conjoint de La Valette.",
        "Sélectionnez au moins un domaine du PAVC auquel l'action contribue.",
    )


def _no_dialogue(p: dict[str, Any]) -> tuple[str, str]:
    return (
        "L'action ne contribue à aucun des dialogues.",
        "Sélectionnez au moins un dialogue auquel l'action contribue : le Processus de "
        "Rabat, le Processus de Khartoum ou le C2CMMD.",
    )


def _attachment_missing(p: dict[str, Any]) -> tuple[str, str]:
    kind = _kind(str(p["kind"]))
    return f"La pièce jointe obligatoire « {kind} » est manquante.", f"Téléversez : {kind}."


_FRENCH: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "missing_applicant_type": _missing_applicant_type,
    "applicant_type_not_eligible": _applicant_type_not_eligible,
    "missing_applicant_country": _missing_applicant_country,
    "applicant_country_not_eligible": _applicant_country_not_eligible,
    "too_many_co_applicants": _too_many_co_applicants,
    "eu_lead_without_au_co_applicant": _eu_lead_without_au_co_applicant,
    "missing_amount": _missing_amount,
    "invalid_amount": _invalid_amount,
    "amount_out_of_range": _amount_out_of_range,
    "missing_total_cost": _missing_total_cost,
    "invalid_total_cost": _invalid_total_cost,
    "funding_rate_exceeded": _funding_rate_exceeded,
    "missing_duration": _missing_duration,
    "duration_out_of_range": _duration_out_of_range,
    "missing_countries": _missing_countries,
    "too_many_countries": _too_many_countries,
    "no_au_country": _no_au_country,
    "no_jvap_domain": _no_jvap_domain,
    "no_dialogue": _no_dialogue,
    "attachment_missing": _attachment_missing,
}

FRENCH_CODES: frozenset[str] = frozenset(_FRENCH)
