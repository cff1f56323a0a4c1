"""English and French on the pages every signed-in user reaches: notifications, home, evaluation.

Each page is read by a French user (French text, no English left) and by an English one
(English text, no French).
"""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from grants.extensions import db
from grants.models import Assignment, Report
from grants.services import evaluation, notifications, panels
from grants.services.guards import format_moment
from tests.factories import (
    ApplicationFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
    member,
)
from tests.test_evaluation_services import build, evaluate, live
from tests.test_i18n import _fresh_locale_per_request, _login  # noqa: F401 (autouse fixture)


def _page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.get_data(as_text=True))


def _absent(page: str, *phrases: str) -> None:
    left = [phrase for phrase in phrases if phrase in page]
    assert left == [], "left in the other language"


# ------------------------------------------------------------------ notifications


def _notified(language: str):  # type: ignore[no-untyped-def]
    """An owner told of several kinds of things, one of them read already."""
    org = OrganisationFactory()
    owner = member(org, "owner", language=language)
    draft = ApplicationFactory(organisation=org, title="Mobilité des jeunes")
    submitted = ApplicationFactory(organisation=org, state="submitted")
    grant = GrantFactory(application=ApplicationFactory(organisation=org, state="awarded"))
    report = Report(grant=grant, kind="interim", sequence=1, period_start=date(2027, 1, 1),
                    period_end=date(2027, 3, 31), due_date=date(2027, 4, 30), state="due")
    db.session.add(report)
    db.session.flush()
    call = draft.call
    # The contexts the sweeps, the transitions and the letters record.
    for days in (3, 1):
        notifications.queue("reminder.draft_deadline", owner, draft, {
            "object": draft.title, "call": f"{call.code} — {call.title}",
            "deadline": format_moment(call.deadline_at, call), "days": days,
        })
    notifications.queue("application_two_stage.start_evaluation", owner, submitted, {
        "object": submitted.label, "from_state": "submitted", "to_state": "in_evaluation",
        "comment": None, "event": "start_evaluation",
    })
    notifications.queue("reminder.report_due", owner, report, {
        "object": report.label, "due": report.due_date.isoformat(), "days": 7,
    })
    letter = notifications.queue("grant.award_letter", owner, grant.application, {
        "object": grant.application.label, "reference": grant.application.reference,
    })
    db.session.commit()
    notifications.mark_read(owner, letter.id, True)
    db.session.commit()
    return owner, submitted, grant


def test_notifications_are_in_french_for_a_french_user(app, client):
    owner, submitted, grant = _notified("fr")
    _login(client, owner)
    page = _page(client, "/notifications/")
    assert '<html lang="fr"' in page
    assert "4 non lues" in page
    assert "Mobilité des jeunes : il reste 3 jours avant la clôture de l'appel (" in page
    assert "Mobilité des jeunes : il reste 1 jour avant la clôture de l'appel (" in page
    assert f"Demande {submitted.reference} : soumise → en évaluation" in page
    report = f"Rapport intermédiaire 1 de la subvention {grant.number} : à remettre le 2027-04-30"
    assert report in page
    assert f"Lettre d'attribution : Demande {grant.application.reference}" in page
    for phrase in ("Tout marquer comme lu", "N'afficher que les non lues",
                   "Préférences de courriel", "Date (UTC)", "Objet", "Statut", "Marquer comme lue",
                   "Marquer comme non lue"):
        assert phrase in page, phrase
    _absent(page, "4 unread", "days left", "day left", "is due on", "Interim report",
            "Award letter", "Application ", "Mark all as read", "Show unread only",
            "Email preferences", "When (UTC)", "Mark read", "Mark unread")


def test_notifications_stay_english_for_an_english_user(app, client):
    owner, submitted, grant = _notified("en")
    _login(client, owner)
    page = _page(client, "/notifications/")
    assert "4 unread" in page
    assert "Mobilité des jeunes: 3 days left before the call closes (" in page
    assert "Mobilité des jeunes: 1 day left before the call closes (" in page
    assert f"Application {submitted.reference}: submitted → in evaluation" in page
    assert f"Interim report 1 of Grant {grant.number} is due on 2027-04-30" in page
    assert f"Award letter: Application {grant.application.reference}" in page
    assert "Mark all as read" in page and "Mark unread" in page
    _absent(page, "non lues", "jours", "Rapport intermédiaire", "Demande ", "Tout marquer")


def test_preferences_page_in_french_then_english(app, client):
    org = OrganisationFactory()
    owner = member(org, "owner", language="fr")
    _login(client, owner)
    page = _page(client, "/notifications/preferences")
    for phrase in ("Préférences de courriel", "Comment souhaitez-vous recevoir nos courriels ?",
                   "Immédiatement, un courriel par notification",
                   "Une fois par jour, dans un récapitulatif unique",
                   "M'envoyer des rappels (dates limites, notation, rapports à remettre)",
                   "Enregistrer les préférences", "Les avis à valeur juridique",
                   "Retour aux notifications"):
        assert phrase in page, phrase
    _absent(page, "How should we email you?", "At once", "Send me reminders", "Save preferences",
            "Legal notices", "Back to notifications")
    saved = client.post("/notifications/preferences", data={"delivery": "daily_digest"},
                        follow_redirects=True)
    assert "Vos préférences de notification sont enregistrées." in html.unescape(
        saved.get_data(as_text=True))

    client.post("/account/language", data={"language": "en"})
    page = _page(client, "/notifications/preferences")
    assert "How should we email you?" in page and "Save preferences" in page
    _absent(page, "Comment souhaitez-vous", "Enregistrer les préférences", "courriel")


# ------------------------------------------------------------------ home


def test_home_page_of_a_french_applicant(app, client):
    org = OrganisationFactory()
    owner = member(org, "owner", language="fr", name="Awa Diop")
    ApplicationFactory(organisation=org, title="Mobilité des jeunes")
    _login(client, owner)
    page = _page(client, "/home/")
    assert "Bienvenue, Awa Diop" in page and "Rôles : demandeur" in page
    assert f"{org.name} (propriétaire)" in page
    for phrase in ("Les demandes de mes organisations", "Référence", "Titre", "Montant demandé",
                   ">brouillon<"):
        assert phrase in page, phrase
    assert re.search(r"EUR 120\s000,00", page), "the amount in the French format"
    _absent(page, "Welcome", "Roles:", "owner of", "My organisations' applications", "Requested",
            ">draft<")


def test_home_page_of_a_french_evaluator_and_manager(app, client, frozen_clock):
    s = build(count=1, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    evaluator = live(s.applications[0])[0].evaluator
    evaluator.language = s.manager.language = "fr"
    db.session.commit()
    _login(client, evaluator)
    page = _page(client, "/home/")
    assert "Mes missions d'évaluation" in page and "Étape" in page and "note succincte" in page
    assert ">évaluateur<" in page
    _absent(page, "My evaluation assignments", "Stage", ">evaluator<")
    client.post("/account/logout")

    _login(client, s.manager)
    page = _page(client, "/home/")
    for phrase in ("Tableau de bord du programme", "Toutes les demandes", "Journal d'audit",
                   "Demandes par état", "en évaluation : 1", ">gestionnaire de programme<"):
        assert phrase in page, phrase
    _absent(page, "Programme dashboard", "All applications", "Audit log",
            "Applications by state", "in evaluation: 1")


def test_home_page_stays_english_for_an_english_manager(app, client):
    manager = ManagerFactory()
    ApplicationFactory()
    _login(client, manager)
    page = _page(client, "/home/")
    assert "Welcome, " in page and "Programme dashboard" in page and "draft: 1" in page
    assert ">programme manager<" in page
    _absent(page, "Bienvenue", "Tableau de bord", "brouillon")


# ------------------------------------------------------------------ the evaluator's area


@pytest.fixture
def assigned(app, frozen_clock):  # type: ignore[no-untyped-def]
    s = build(count=1, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    return s


def _criteria(assignment: Assignment) -> list[str]:
    grid = assignment.application.call.grid_for(assignment.stage)
    return [c.code for section in evaluation.scored_sections(grid) for c in section.criteria]


def test_the_evaluators_pages_in_french(client, assigned):
    mine, other = live(assigned.applications[0])
    mine.evaluator.language = "fr"
    db.session.commit()
    criteria = _criteria(mine)
    _login(client, mine.evaluator)

    dashboard = _page(client, "/evaluation/")
    for phrase in ("Mes évaluations", "Échéance", "Avancement", "déclaration requise", ">invité<",
                   "note succincte"):
        assert phrase in dashboard, phrase
    _absent(dashboard, "declaration needed", "Progress", "Due<", ">invited<")

    url = f"/evaluation/assignments/{mine.id}"
    page = _page(client, url)
    for phrase in ("Déclaration préalable à la lecture",
                   "Déclaration d'impartialité et de confidentialité",
                   "Je n'ai aucun conflit d'intérêts avec cette demande",
                   "Motif (obligatoire si vous déclarez un conflit d'intérêts)",
                   "Envoyer ma déclaration", "Retour"):
        assert phrase in page, phrase
    _absent(page, "Declaration before reading", "no conflict of interest", "Send my declaration")

    # A conflict declared without saying why is refused, in French.
    refused = client.post(f"{url}/declaration", data={"conflict": "yes", "statement": ""},
                          follow_redirects=True)
    assert "indiquez le motif : il est obligatoire" in html.unescape(
        refused.get_data(as_text=True))
    accepted = client.post(f"{url}/declaration", data={"conflict": "no"}, follow_redirects=True)
    page = html.unescape(accepted.get_data(as_text=True))
    assert "Déclaration enregistrée. Vous pouvez maintenant lire et noter la demande." in page
    for phrase in ("La demande", "Candidat principal", "Organisation de la société civile",
                   "Montant demandé", "6 mois", "Résumé", "Texte :", "Mes notes",
                   f"Critères notés et commentés : 0 sur {len(criteria)}.", "(note maximale : ",
                   "1 très insuffisant", "5 très bon", "Commentaire", "Enregistrer le brouillon",
                   "Soumettre mon évaluation"):
        assert phrase in page, phrase
    assert re.search(r"EUR 120\s000,00 sur EUR 120\s000,00", page), "French amounts"
    _absent(page, "The application", "Lead applicant", "My scores", "criteria scored",
            "very poor", "Save draft", "Submit my evaluation", ", 6 months")
    assert f"0/{len(criteria)} critères" in _page(client, "/evaluation/")

    # Submitting an empty sheet says which criteria are missing.
    refused = client.post(f"{url}/scores", data={"submit_sheet": "1"}, follow_redirects=True)
    text = html.unescape(refused.get_data(as_text=True))
    assert f"Évaluation non soumise : le critère {criteria[0]} n'est pas noté" in text
    _absent(text, "Not submitted", "is not scored")

    # Once submitted, the others' scores are shown under French names.
    evaluate(other, 4)
    form = {"submit_sheet": "1"}
    grid = mine.application.call.grid_for(mine.stage)
    for section in evaluation.scored_sections(grid):
        for criterion in section.criteria:
            form[f"score_{criterion.id}"] = "4"
            form[f"comment_{criterion.id}"] = "Argumenté."
    done = client.post(f"{url}/scores", data=form, follow_redirects=True)
    page = html.unescape(done.get_data(as_text=True))
    for phrase in ("Votre évaluation est soumise.", "Les autres évaluations", "Évaluateur A",
                   "Moi", "Note :", "4 bon"):
        assert phrase in page, phrase
    _absent(page, "The other evaluations", "Evaluator A", "Score:", "4 good")


def test_the_evaluators_pages_stay_english(client, assigned):
    mine = live(assigned.applications[0])[0]
    criteria = _criteria(mine)
    _login(client, mine.evaluator)
    dashboard = _page(client, "/evaluation/")
    assert "My evaluations" in dashboard and "declaration needed" in dashboard
    _absent(dashboard, "Mes évaluations", "déclaration requise", "Échéance")
    url = f"/evaluation/assignments/{mine.id}"
    page = _page(client, url)
    assert "Declaration before reading" in page and "Send my declaration" in page
    _absent(page, "Déclaration", "Envoyer")
    accepted = client.post(f"{url}/declaration", data={"conflict": "no"}, follow_redirects=True)
    page = html.unescape(accepted.get_data(as_text=True))
    assert "Declaration recorded." in page and "My scores" in page
    assert f"0 of {len(criteria)} criteria scored with a comment." in page
    assert "1 very poor" in page and "Save draft" in page and "6 months" in page
    _absent(page, "Mes notes", "très insuffisant", "Enregistrer", "6 mois")


def test_a_french_manager_reads_an_assignment_in_french(client, assigned):
    mine = live(assigned.applications[0])[0]
    assigned.manager.language = "fr"
    db.session.commit()
    _login(client, assigned.manager)
    page = _page(client, f"/evaluation/assignments/{mine.id}")
    assert f"Évaluateur désigné : {mine.evaluator.name}." in page and "Retour" in page
    _absent(page, "Assigned to", "Back<")
