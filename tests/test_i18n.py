"""English and French on the applicant pages: the catalogue, the pages, the eligibility texts."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path

import flask_babel
import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import g, request_started

from grants.extensions import db
from grants.models import User
from grants.rules import eligibility as rules
from grants.rules.eligibility import CallRules
from grants.services.eligibility import rules_json
from grants.services.eligibility_text import FRENCH_CODES, failure_text, localise
from tests.factories import PASSWORD, ApplicationFactory, CallFactory, OrganisationFactory, member

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "grants" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%")


@pytest.fixture(autouse=True)
def _fresh_locale_per_request(app):
    """The test's app context outlives requests: forget the locale each request cached."""

    def forget(*args, **kwargs):
        flask_babel.refresh()
        g.pop("_login_user", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


def _login(client, user):
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


def _french_owner():
    org = OrganisationFactory()
    return org, member(org, "owner", language="fr")


# ------------------------------------------------------------------ the catalogue


def test_every_french_message_is_translated_and_not_fuzzy():
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    messages = [m for m in catalog if m.id]
    assert len(messages) > 200
    empty = [m.id for m in messages if not all(_forms(m.string))]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert empty == [] and fuzzy == []
    # The placeholders of each message survive the translation, else formatting raises
    # (each plural form keeps those of the plural message).
    for message in messages:
        wanted = sorted(PLACEHOLDER.findall(_forms(message.id)[-1]))
        for text in _forms(message.string):
            assert sorted(PLACEHOLDER.findall(text)) == wanted, message.id


def _forms(text):  # type: ignore[no-untyped-def]
    """A message's forms: one, or the singular and plural(s) of an ngettext message."""
    return tuple(text) if isinstance(text, list | tuple) else (text,)


def test_the_compiled_catalogue_matches_the_source():
    with PO.open("rb") as handle:
        source = {_forms(m.id): _forms(m.string) for m in read_po(handle, locale="fr") if m.id}
    with MO.open("rb") as handle:
        compiled = {_forms(m.id): _forms(m.string) for m in read_mo(handle) if m.id}
    assert compiled == source, "run pybabel compile -d grants/translations"


def test_every_applicant_template_message_is_in_the_catalogue():
    with PO.open("rb") as handle:
        known = {m.id for m in read_po(handle, locale="fr") if m.id}
    pattern = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)"|_\(\s*'((?:[^'\\]|\\.)*)'""")
    unknown = []
    for folder in ("applicant", "account", "public", "home", "notifications", "evaluation"):
        for path in (ROOT / "templates" / folder).glob("*.html"):
            for double, single in pattern.findall(path.read_text()):
                text = (double or single).replace('\\"', '"').replace("\\'", "'")
                if text not in known:
                    unknown.append((path.name, text))
    assert unknown == [], "extract and translate these messages"


# ------------------------------------------------------------------ the pages


def test_dashboard_is_in_french_for_a_french_user(app, client):
    org, owner = _french_owner()
    ApplicationFactory(organisation=org, title="Mobilité des jeunes")
    _login(client, owner)
    page = client.get("/applicant/").get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert "Mes demandes" in page and "Étape suivante" in page and "Date limite" in page
    assert "brouillon" in page  # the state, through the applicant's state names
    assert "remplir le formulaire et le soumettre avant la date limite" in page
    assert "My applications" not in page and "Next step" not in page
    # The deadline in French: "1 déc. 2026", not "Dec 1, 2026".
    assert "déc. 2026" in page and "Dec 1, 2026" not in page


def test_the_same_dashboard_stays_english_for_an_english_user(app, client):
    org = OrganisationFactory()
    owner = member(org, "owner", language="en")
    ApplicationFactory(organisation=org)
    _login(client, owner)
    page = client.get("/applicant/").get_data(as_text=True)
    assert "My applications" in page and "Next step" in page and "Mes demandes" not in page


def test_application_form_is_in_french_with_french_amounts(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, complete=False)
    _login(client, owner)
    summary = client.get(f"/applicant/applications/{application.id}/sections/summary")
    text = summary.get_data(as_text=True)
    assert summary.status_code == 200
    assert "Montant demandé (EUR)" in text and "Enregistrer" in text
    assert "Parties de la demande" in text and "Aperçu et soumission" in text
    # Amounts as French readers write them: a space between thousands and a comma.
    assert re.search(r"100\s000,00\s€", text), "grant minimum in the French format"
    budget = client.get(f"/applicant/applications/{application.id}/sections/budget")
    text = budget.get_data(as_text=True)
    assert "Ressources humaines" in text and "Cofinancement" in text
    assert "Human resources" not in text


def test_call_page_is_in_french_after_choosing_french(app, client):
    call = CallFactory()
    english = client.get(f"/calls/{call.code}").get_data(as_text=True)
    assert "Who may apply" in english and "Qui peut postuler" not in english
    response = client.post(
        "/account/language", data={"language": "fr", "next": f"/calls/{call.code}"}
    )
    assert response.status_code == 302
    page = client.get(f"/calls/{call.code}").get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert "Qui peut postuler" in page and "Montant de la subvention" in page
    assert "Deux étapes : note succincte, puis demande complète sur invitation" in page
    assert "ouvert" in page  # the call's state through state_label
    assert "Who may apply" not in page


def test_the_choice_of_language_is_remembered_on_the_account(app, client):
    org = OrganisationFactory()
    owner = member(org, "owner", language="en")
    _login(client, owner)
    client.post("/account/language", data={"language": "fr", "next": "/applicant/"})
    db.session.expire_all()
    assert db.session.get(User, owner.id).language == "fr"
    client.post("/account/logout")
    fresh = app.test_client()
    _login(fresh, owner)
    assert "Mes demandes" in fresh.get("/applicant/").get_data(as_text=True)


# ------------------------------------------------------------------ eligibility texts


def test_preview_shows_the_eligibility_failures_in_french(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(
        organisation=org, requested_amount=Decimal("90000.00"), duration_months=9
    )
    _login(client, owner)
    page = client.get(f"/applicant/applications/{application.id}/preview").get_data(as_text=True)
    assert 'data-rule="amount_out_of_range"' in page
    assert "est inférieur au minimum de" in page and "Comment y remédier" in page
    assert 'data-rule="duration_out_of_range"' in page
    assert "La durée de 9 mois diffère de la durée requise de 6 mois." in page
    assert "is below the minimum" not in page and "differs from the required" not in page


def test_failed_submission_gives_its_reasons_in_french(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, duration_months=9)
    _login(client, owner)
    response = client.post(f"/applicant/applications/{application.id}/submit", data={})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "La durée de 9 mois diffère de la durée requise de 6 mois." in page
    assert "The duration of 9 months" not in page


def test_visitor_eligibility_check_in_french(app, client):
    base = CallRules.mmd_second_call()
    call = CallFactory(
        eligibility_rules=rules_json(
            CallRules(
                **{
                    **base.__dict__,
                    "eligible_applicant_types": frozenset({"cso"}),
                    "eligible_countries": frozenset({"SN", "ML"}),
                }
            )
        )
    )
    client.post("/account/language", data={"language": "fr"})
    page = html.unescape(
        client.post(
            f"/calls/{call.code}/eligibility", data={"org_type": "diaspora", "country_iso2": "NG"}
        ).get_data(as_text=True)
    )
    assert "« organisation de la diaspora », type d'organisation non éligible" in page
    assert "est établi en NG, pays non éligible" in page and "ML, SN" in page
    assert "which is not eligible" not in page


RULES = CallRules.mmd_second_call()
FRANCE = rules.Country("FR", au_member=False, eu_member=True)
SENEGAL = rules.Country("SN", au_member=True, eu_member=False)


def _failures(**proposal):
    fields = {"lead": rules.Applicant("cso", FRANCE, "Asso"), **proposal}
    return rules.check_proposal(RULES, rules.Proposal(**fields))


def test_every_rule_code_has_a_french_text():
    source = (ROOT / "grants" / "rules" / "eligibility.py").read_text()
    codes = set(re.findall(r'code="(\w+)"', source))
    assert codes and codes <= FRENCH_CODES


@pytest.mark.parametrize(
    ("proposal", "code", "expected"),
    [
        (
            {"requested_amount": Decimal("160000")},
            "amount_out_of_range",
            "supérieur au maximum de 150\u202f000,00\xa0€",
        ),
        (
            {"requested_amount": Decimal("120000"), "total_cost": Decimal("100000")},
            "funding_rate_exceeded",
            "dépasse le coût total éligible de 100\u202f000,00\xa0€",
        ),
        (
            {"countries": (FRANCE, rules.Country("DE", False, True))},
            "no_au_country",
            "Aucun des pays de mise en œuvre",
        ),
        ({}, "eu_lead_without_au_co_applicant", "établi dans un État membre de l'UE (FR)"),
        ({}, "attachment_missing", "« certificat d'enregistrement »"),
    ],
)
def test_french_failure_texts_carry_the_figures(proposal, code, expected):
    failure = next(f for f in _failures(**proposal) if f.code == code)
    message, fix = failure_text(failure, "fr")
    assert expected in message + fix
    assert (message, fix) != (failure.message, failure.fix)
    assert failure_text(failure, "en") == (failure.message, failure.fix)


def test_co_financing_fix_names_the_total_needed():
    capped = CallRules(**{**RULES.__dict__, "max_funding_rate": Decimal("0.8")})
    proposal = rules.Proposal(
        lead=rules.Applicant("cso", SENEGAL, ""),
        requested_amount=Decimal("120000"),
        total_cost=Decimal("125000"),
    )
    failure = next(
        f for f in rules.check_proposal(capped, proposal) if f.code == "funding_rate_exceeded"
    )
    message, fix = failure_text(failure, "fr_FR")
    assert "représente 96 % du coût total" in message and "au plus 80 %" in message
    assert "au moins 150\u202f000,00\xa0€" in fix  # 120 000 / 0.8


def test_unknown_codes_and_unreadable_figures_fall_back_to_the_rules_text():
    odd = rules.Failure(code="a_new_rule", params={}, message="New rule.", fix="Do it.")
    broken = rules.Failure(code="amount_out_of_range", params={}, message="M.", fix="F.")
    assert failure_text(odd, "fr") == ("New rule.", "Do it.")
    assert failure_text(broken, "fr") == ("M.", "F.")
    shown = localise([odd, broken], "fr")
    assert [f.code for f in shown] == ["a_new_rule", "amount_out_of_range"]


def test_field_errors_of_a_section_are_in_french(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, complete=False)
    _login(client, owner)
    response = client.post(
        f"/applicant/applications/{application.id}/sections/summary",
        data={
            "title": "x" * 301,
            "text": "Résumé",
            "requested_amount": "beaucoup",
            "total_cost": "130000",
            "duration_months": "99",
        },
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code in (200, 422)
    assert "au plus 300 caractères (301 saisis)" in page
    assert "ce n'est pas un nombre" in page
    assert "not a number" not in page and "typed)" not in page


def test_organisation_members_and_roles_in_french(app, client):
    org, owner = _french_owner()
    member(org, "editor", name="Moussa Keita")
    _login(client, owner)
    page = html.unescape(client.get(f"/applicant/organisations/{org.id}").get_data(as_text=True))
    assert "Moussa Keita — rédacteur" in page and "Inviter un membre" in page
    assert "— editor" not in page
