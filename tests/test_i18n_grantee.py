"""English and French on the grantee's pages: the grants index, a grant, a report.

A member of the grantee organisation reads them in the language of their account:
French text and no English left for a French member, English and no French for an
English one.
"""

from __future__ import annotations

import re

import pytest

from grants.extensions import db
from grants.services import awards
from tests.factories import ApplicationFactory, ManagerFactory, sign_as_grantee
from tests.test_i18n import _fresh_locale_per_request, _login  # noqa: F401 (autouse fixture)
from tests.test_i18n_pages import _absent, _page


def _grantee(language: str):  # type: ignore[no-untyped-def]
    """An active grant (contract signed by both sides, payments and reports scheduled)
    whose owner reads `language`."""
    selected = ApplicationFactory(state="provisionally_selected")
    manager = ManagerFactory()
    grant = awards.award(selected, manager, documents_verified=True)
    awards.send_for_signature(grant, manager)
    owner = selected.created_by
    sign_as_grantee(grant, owner)
    awards.countersign(grant, manager, address="192.0.2.9")
    owner.language = language
    db.session.commit()
    return owner, grant


@pytest.fixture
def french(app, frozen_clock):  # type: ignore[no-untyped-def]
    return _grantee("fr")


@pytest.fixture
def english(app, frozen_clock):  # type: ignore[no-untyped-def]
    return _grantee("en")


def test_a_french_member_reads_the_grant_page_in_french(client, french):
    owner, grant = french
    _login(client, owner)
    page = _page(client, f"/grants/{grant.id}")
    assert '<html lang="fr"' in page
    for phrase in (f"Subvention {grant.number}", "Mes subventions", "Subvention maximale",
                   "Mise en œuvre", "Contrat", "Version 1 (Contrat initial)",
                   "Lire le contrat (PDF)", "Bénéficiaire : ", "signé en ligne", "Paiements",
                   "Préfinancement", "Solde", "Demander", "Rapports", "Rapport final",
                   "Période", "Échéance", "Modifications du contrat", "Compte bancaire :",
                   "Modification par notification", "Type de modification",
                   "Transfert entre rubriques budgétaires", "1. Ressources humaines",
                   "jusqu'à 25 % de la rubrique d'origine", "Notifier la modification",
                   "Demander un avenant", "Demander l'avenant", "en cours", "cofinancement :"):
        assert phrase in page, phrase
    assert re.search(r"EUR 120\s000,00 \(cofinancement : EUR 0,00\)", page)
    assert re.search(r"EUR 0,00 ; en attente de paiement : EUR 0,00", page)
    # The balance waits for the final report, named as French says it inside a sentence.
    assert (f"Exigible une fois le rapport final 1 de la subvention {grant.number} approuvé."
            in page)
    _absent(page, "My grants", "Maximum grant", "Implementation", "Read the contract",
            "Initial contract", "signed online", "Payments", "Pre-financing", "Balance",
            "Final report", "Grantee:", "is not approved yet", "Due once", "Period",
            "Amendments", "Bank account", "Change by notification",
            "Transfer between budget headings", "Human resources", "25%", "Notify the change",
            "Request an addendum", "co-financing", "awaiting payment")


def test_a_french_member_reads_a_report_and_the_index_in_french(client, french):
    owner, grant = french
    report = grant.reports[-1]
    _login(client, owner)
    page = _page(client, f"/grants/reports/{report.id}")
    for phrase in (f"Rapport final 1 de la subvention {grant.number}",
                   "à remettre le", "Dépenses par rapport au budget", "Rubrique", "Cumulé",
                   "Écart", "Consommé", "Rapport narratif", "Synthèse de l'avancement",
                   "Rapport financier", "1. Ressources humaines", "Enregistrer le rapport",
                   "Soumettre pour examen", "attendu"):
        assert phrase in page, phrase
    _absent(page, "Final report", "Spending against the budget", "Cumulative", "Variance",
            "Narrative report", "Summary of progress", "Financial report", "Human resources",
            "Save the report", "Submit for review", "due ")

    saved = client.post(f"/grants/reports/{report.id}", data={
        "summary": "Tout avance.", "spent_human_resources": "1000", "spent_travel": "0",
        "spent_equipment": "0", "spent_local_office": "0", "spent_other_services": "0",
        "spent_other": "0",
    }, follow_redirects=True)
    assert "Rapport enregistré." in saved.get_data(as_text=True)

    index = _page(client, "/grants/")
    for phrase in ("Mes subventions", "Subvention", "État", "Montant", "Payé", "À faire",
                   f"Rapport final 1 de la subvention {grant.number} : à remettre le",
                   "en cours", "Lettres de décision"):
        assert phrase in index, phrase
    _absent(index, "My grants", "To do", "Paid", "Final report", "is due", ": due",
            "Decision letters", ">active<")


def test_an_english_member_reads_the_same_pages_in_english(client, english):
    owner, grant = english
    report = grant.reports[-1]
    _login(client, owner)
    page = _page(client, f"/grants/{grant.id}")
    for phrase in (f"Grant {grant.number}", "Maximum grant", "Version 1 (Initial contract)",
                   "Read the contract (PDF)", "Grantee: ", "signed online", "Payments",
                   "Pre-financing", "Balance", "Final report", "Kind of change",
                   "Transfer between budget headings", "1. Human resources",
                   "up to 25% of the original heading", "Request an addendum", "co-financing: ",
                   "awaiting payment: ",
                   f"Due once final report 1 of grant {grant.number} is approved."):
        assert phrase in page, phrase
    _absent(page, "Subvention", "Contrat initial", "Paiements", "Préfinancement", "Rapport",
            "Ressources humaines", "Demander", "cofinancement", "en cours")

    page = _page(client, f"/grants/reports/{report.id}")
    for phrase in (f"Final report 1 of Grant {grant.number}", "Spending against the budget",
                   "Narrative report", "Financial report", "Save the report",
                   "Submit for review", "due "):
        assert phrase in page, phrase
    _absent(page, "Rapport", "Dépenses", "Enregistrer", "Soumettre", "à remettre")

    index = _page(client, "/grants/")
    assert "My grants" in index and "To do" in index
    assert f"Final report 1 of Grant {grant.number}: due " in index
    _absent(index, "Mes subventions", "À faire", "Rapport final", "à remettre")
